// ShardReader: opens an activation shard (.lshard), validates its structure, and decodes rows.
//
// Byte layout, version 1 (all integers little-endian; CRC-32 is zlib's, as `zlib.crc32` computes):
//  1. magic: 8 bytes 89 4C 53 48 41 52 44 0A ("\x89LSHARD\n")
//  2. version: u32 = 1
//  3. header length H: u32, at most 1 MiB
//  4. header CRC-32: u32, over the H header bytes
//  5. header, H bytes (a string is a u32 byte length and that many UTF-8 bytes):
//     h1 hook: string             h2 architecture: string       h3 weights hash: string
//     h4 tokenizer hash: string   h5 dtype: u8 (0 f32, 1 f16, 2 bf16)
//     h6 layout: u8 (0 plain, 1 byte shuffle, 2 bit shuffle)     h7 reserved: u16 = 0
//     h8 d (row width): u32 ≥ 1  h9 rows per block R: u32 ≥ 1   h10 row count N: u64
//     h11 context size: u32      h12 prepend BOS: u8 (0 or 1)    h13 packing: string
//     h14 unit id: string        h15 seed: u64
//     h16 provenance: u32 count, then count × (key string, value string), keys unique and in
//         increasing byte order; nothing may follow
//  6. blocks, from offset 20 + H, back to back: block i holds rows [i·R, min((i+1)·R, N)); its
//     data frame then its side frame, each one LZ4 frame (content size, xxh32 block checksums
//     and content checksum all present):
//     - data: the rows as dtype elements, row-major, rearranged by the layout (ByteShuffle.swift)
//     - side: document ids i64[n], token ids i32[n], positions i32[n], L2 norms f32[n]
//       (the norm of the Float32 row handed to the writer, before rounding to dtype)
//  7. block index at the trailer's t1: one 64-byte entry per block, in order:
//     i1 first row: u64  i2 row count: u32  i3 data CRC-32 (of the stored frame): u32
//     i4 data offset: u64  i5 data stored size: u64  i6 data raw size: u64 (= n·d·element size)
//     i7 side offset: u64  i8 side stored size: u32  i9 side raw size: u32 (= 20·n)
//     i10 side CRC-32: u32  i11 reserved: u32 = 0
//  8. trailer, the last 48 bytes:
//     t1 index offset: u64  t2 block count: u64 (= ceil(N / R))  t3 row count: u64 (= N)
//     t4 index CRC-32: u32  t5 body CRC-32: u32 (of every byte before the trailer)
//     t6 reserved: u32 = 0  t7 trailer CRC-32: u32 (of t1–t6)  t8 end magic: "LSHDEND\n"
// The file's checksum for manifests is the CRC-32 of all its bytes (ShardSummary.checksum).
//
// Opening checks magic, version, header CRC and fields, the trailer (end magic, CRC, counts),
// the index CRC, and every entry (rows contiguous from 0, frames back to back from 20 + H up to
// the index, raw sizes matching the rows, stored sizes within LZ4's bound) with overflow-checked
// arithmetic, before any block is read. Reading a block checks its CRC-32 before decompressing.
// Files are read with pread(2) (no mmap, so a file truncated underneath throws, never SIGBUS).
// One reader serves one thread at a time; open one per thread.

import Foundation

/// One decoded run of rows with their side data.
public struct ShardBatch: Sendable, Equatable {
  /// Index of the first row in the shard.
  public var firstRow: Int
  /// Row width.
  public var d: Int
  /// rowCount × d activations, row-major, as Float32.
  public var rows: [Float]
  /// One entry per row.
  public var tokenIDs: [Int32]
  public var documentIDs: [Int64]
  /// Position of each row's token within its document.
  public var positions: [Int32]
  /// L2 norm of each row as written (computed from the Float32 row before rounding).
  public var norms: [Float]

  /// Rows in the batch.
  public var rowCount: Int { tokenIDs.count }
}

/// Reads and validates an activation shard.
public final class ShardReader {
  /// The file read.
  public let path: String
  /// The decoded header.
  public let header: ShardHeader
  /// The block index.
  public let blocks: [ShardBlock]
  /// The file's size in bytes.
  public let fileSize: UInt64

  let file: ShardFile
  let prefix: [UInt8]  // preamble + header, kept for verify()
  let indexBytes: [UInt8]
  let trailerBytes: [UInt8]
  let trailer: ShardTrailer
  let decoder: LZ4FrameDecoder
  var frameBuffer: UnsafeMutableRawBufferPointer
  var rawBuffer: UnsafeMutableRawBufferPointer
  var scratch: UnsafeMutableRawBufferPointer
  var runningChecksum: UInt32 = 0  // verify() feeds it frame by frame

  /// The shard's description.
  public var info: ShardInfo { header.info }
  /// Rows in the shard.
  public var rowCount: Int { header.rowCount }
  /// Row width.
  public var d: Int { header.info.d }

  /// Opens `url` and validates everything except the block contents.
  public convenience init(url: URL) throws { try self.init(path: url.path) }

  /// Opens `path` and validates everything except the block contents.
  public init(path: String) throws {
    self.path = path
    file = try ShardFile(path: path)
    fileSize = file.size
    let opened = try ShardReader.validate(file)
    (header, blocks, prefix, indexBytes, trailerBytes, trailer) = opened
    do {
      decoder = try LZ4FrameDecoder()
    } catch {
      throw ShardError.io(path: path, operation: "create an LZ4 decoder", offset: nil, reason: error.reason)
    }
    let maxData = blocks.map(\.dataSize).max() ?? 0
    let maxSide = blocks.map(\.sideSize).max() ?? 0
    let maxRaw = max(blocks.map(\.dataRawSize).max() ?? 0, blocks.map(\.sideRawSize).max() ?? 0)
    frameBuffer = .allocate(byteCount: max(maxData, maxSide, 1), alignment: 64)
    rawBuffer = .allocate(byteCount: max(maxRaw, 1), alignment: 64)
    scratch = .allocate(byteCount: max(maxRaw, 1), alignment: 64)
  }

  deinit {
    frameBuffer.deallocate()
    rawBuffer.deallocate()
    scratch.deallocate()
  }

  // MARK: Reading rows

  /// Decodes block `index` (rows and side data).
  public func readBlock(_ index: Int) throws -> ShardBatch {
    guard blocks.indices.contains(index) else {
      throw ShardError.invalidArgument(
        path: path, reason: "block \(index) does not exist (\(blocks.count) blocks)")
    }
    let block = blocks[index]
    var rows = [Float](repeating: 0, count: block.rowCount * d)
    try rows.withUnsafeMutableBufferPointer { try decodeData(index, into: $0.baseAddress!) }
    var batch = try decodeSide(index)
    batch.rows = rows
    return batch
  }

  /// Decodes rows `range` (any range inside 0..<rowCount) with their side data.
  public func readRows(_ range: Range<Int>) throws -> ShardBatch {
    try check(range)
    var batch = ShardBatch(
      firstRow: range.lowerBound, d: d, rows: [Float](repeating: 0, count: range.count * d), tokenIDs: [],
      documentIDs: [], positions: [], norms: [])
    try batch.rows.withUnsafeMutableBufferPointer { buffer in
      guard let base = buffer.baseAddress else { return }
      try readRows(range, into: base)
    }
    let side = try readSide(range)
    batch.tokenIDs = side.tokenIDs
    batch.documentIDs = side.documentIDs
    batch.positions = side.positions
    batch.norms = side.norms
    return batch
  }

  /// Decodes only the side data of rows `range` (`rows` is left empty): token ids, document ids,
  /// positions and norms, e.g. to skip outlier rows by norm before decoding activations.
  public func readSide(_ range: Range<Int>) throws -> ShardBatch {
    try check(range)
    var batch = ShardBatch(
      firstRow: range.lowerBound, d: d, rows: [], tokenIDs: [], documentIDs: [], positions: [], norms: [])
    for i in blockRange(range) {
      let side = try decodeSide(i)
      let lo = max(range.lowerBound, blocks[i].firstRow) - blocks[i].firstRow
      let hi = min(range.upperBound, blocks[i].rows.upperBound) - blocks[i].firstRow
      batch.tokenIDs += side.tokenIDs[lo..<hi]
      batch.documentIDs += side.documentIDs[lo..<hi]
      batch.positions += side.positions[lo..<hi]
      batch.norms += side.norms[lo..<hi]
    }
    return batch
  }

  /// Decodes the activations of rows `range` into `out` (range.count × d floats), without side data.
  public func readRows(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) throws {
    try check(range)
    for i in blockRange(range) {
      let block = blocks[i]
      let lo = max(range.lowerBound, block.firstRow)
      let hi = min(range.upperBound, block.rows.upperBound)
      let target = out + (lo - range.lowerBound) * d
      if lo == block.firstRow && hi == block.rows.upperBound {
        try decodeData(i, into: target)
      } else {
        var temporary = [Float](repeating: 0, count: block.rowCount * d)
        try temporary.withUnsafeMutableBufferPointer { buffer in
          try decodeData(i, into: buffer.baseAddress!)
          target.update(from: buffer.baseAddress! + (lo - block.firstRow) * d, count: (hi - lo) * d)
        }
      }
    }
  }

  /// Calls `body` with every block in order, decoding one at a time (bounded memory).
  public func forEachBlock(_ body: (ShardBatch) throws -> Void) throws {
    for i in blocks.indices { try body(try readBlock(i)) }
  }

  private func check(_ range: Range<Int>) throws(ShardError) {
    guard range.lowerBound >= 0, range.upperBound <= rowCount else {
      throw .invalidArgument(path: path, reason: "rows \(range) are outside the shard's \(rowCount) rows")
    }
  }

  /// The blocks that hold rows of `range`.
  private func blockRange(_ range: Range<Int>) -> Range<Int> {
    guard !range.isEmpty else { return 0..<0 }
    return (range.lowerBound / header.rowsPerBlock)..<((range.upperBound - 1) / header.rowsPerBlock + 1)
  }
}
