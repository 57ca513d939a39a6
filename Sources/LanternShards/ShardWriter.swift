// ShardWriter: streams activation rows into one .lshard file (layout: ShardReader.swift).
//
// Rows arrive as Float32 batches with their side data; they are rounded to the stored dtype as
// they arrive and buffered until a block is full, then the block is rearranged (byte or bit
// shuffle), LZ4-frame-compressed and written, all on the caller's thread. Memory stays at one
// block plus its compressed frame. `finish()` writes the index and trailer, patches the row
// count into the header, fsyncs and returns the whole-file CRC-32 for the manifest.
//
// One writer is used from one thread; run several writers on several threads for parallelism.
// Left out: temporary names and renames (the caller writes to an attempt-private path), resuming
// a half-written shard (a failed unit is re-extracted from scratch).

import Foundation
import LanternTensor

/// What a finished shard is, for the job manifest.
public struct ShardSummary: Sendable, Equatable {
  /// The file written.
  public var path: String
  /// Its size in bytes.
  public var bytes: Int
  /// Rows it holds.
  public var rows: Int
  /// Blocks it holds.
  public var blocks: Int
  /// CRC-32 (zlib / Python `zlib.crc32`) of the entire file, eight lowercase hex digits.
  public var checksum: String
}

/// Writes one activation shard, streaming, with bounded memory.
public final class ShardWriter {
  /// The file being written.
  public let path: String
  /// The shard's description, as passed in.
  public let info: ShardInfo
  /// Rows per block (the last block may hold fewer).
  public let rowsPerBlock: Int
  /// Rows appended so far.
  public private(set) var rowCount = 0

  private let sink: ShardSink
  private let blockBytes: Int
  private let staged: UnsafeMutableRawPointer  // stored-dtype elements of the current block
  private let arranged: UnsafeMutableRawPointer  // the same after the layout
  private let frame: UnsafeMutableRawBufferPointer  // compressed output
  private var side: [UInt8]  // the current block's side data, column-wise on flush
  private var documentIDs: [Int64] = []
  private var tokenIDs: [Int32] = []
  private var positions: [Int32] = []
  private var norms: [Float] = []
  private var stagedRows = 0
  private var blocks: [ShardBlock] = []
  private var headerSize: Int
  private var offset: UInt64  // next byte to write
  private var bodyChecksum: UInt32 = 0  // CRC-32 of everything after the header
  private var state = State.open

  private enum State {
    case open, finished
    case failed(ShardError)
  }

  /// Creates (or truncates) the file at `url` and writes its preamble and header.
  /// - Parameter rowsPerBlock: rows per block; by default as many as fit in 256 KB of stored data.
  public convenience init(url: URL, info: ShardInfo, rowsPerBlock: Int? = nil) throws {
    try self.init(path: url.path, info: info, rowsPerBlock: rowsPerBlock)
  }

  /// Creates (or truncates) the file at `path` and writes its preamble and header.
  public convenience init(path: String, info: ShardInfo, rowsPerBlock: Int? = nil) throws {
    try Self.validate(info, rowsPerBlock: rowsPerBlock, path: path)
    try self.init(sink: FileShardSink(path: path), path: path, info: info, rowsPerBlock: rowsPerBlock)
  }

  /// Writes to any sink (tests inject failing sinks here).
  init(sink: ShardSink, path: String, info: ShardInfo, rowsPerBlock: Int?) throws {
    try Self.validate(info, rowsPerBlock: rowsPerBlock, path: path)
    self.sink = sink
    self.path = path
    self.info = info
    let rows = rowsPerBlock ?? ShardFormat.defaultRowsPerBlock(d: info.d, dtype: info.dtype)
    self.rowsPerBlock = rows
    blockBytes = rows * info.d * info.dtype.elementSize
    staged = .allocate(byteCount: blockBytes, alignment: 64)
    arranged = .allocate(byteCount: blockBytes, alignment: 64)
    let frameCapacity = max(
      LZ4FrameEncoder.bound(contentSize: blockBytes),
      LZ4FrameEncoder.bound(contentSize: rows * ShardFormat.sideBytesPerRow))
    frame = .allocate(byteCount: frameCapacity, alignment: 64)
    side = []
    side.reserveCapacity(rows * ShardFormat.sideBytesPerRow)
    let prefix = Self.preambleAndHeader(ShardHeader(info: info, rowsPerBlock: rows, rowCount: 0))
    headerSize = prefix.count
    offset = UInt64(prefix.count)
    try prefix.withShardBytes { bytes throws(ShardError) in try sink.append(bytes) }
  }

  deinit {
    staged.deallocate()
    arranged.deallocate()
    frame.deallocate()
    try? sink.close()
  }

  private static func validate(_ info: ShardInfo, rowsPerBlock: Int?, path: String) throws(ShardError) {
    func bad(_ reason: String) -> ShardError { .invalidArgument(path: path, reason: reason) }
    guard info.d >= 1, info.d <= ShardFormat.maxWidth else {
      throw bad("d is \(info.d), outside 1...\(ShardFormat.maxWidth)")
    }
    guard info.contextSize >= 0, info.contextSize <= Int(UInt32.max) else {
      throw bad("context size \(info.contextSize) does not fit 32 bits")
    }
    if let rows = rowsPerBlock {
      guard rows >= 1, rows <= Int(UInt32.max),
        rows * info.d * info.dtype.elementSize <= ShardFormat.maxBlockBytes
      else {
        throw bad(
          "rows per block \(rows) is below 1 or makes blocks larger than \(ShardFormat.maxBlockBytes) bytes")
      }
    }
    let header = ShardHeader(info: info, rowsPerBlock: rowsPerBlock ?? 1, rowCount: 0).encoded()
    guard header.count <= ShardFormat.maxHeaderLength else {
      throw bad("the header would be \(header.count) bytes, more than \(ShardFormat.maxHeaderLength)")
    }
  }

  /// Magic, version, header length, header CRC and the header itself.
  static func preambleAndHeader(_ header: ShardHeader) -> [UInt8] {
    let body = header.encoded()
    var out = ShardFormat.magic
    func put(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { out += $0 } }
    put(ShardFormat.version)
    put(UInt32(body.count))
    put(CRC32.checksum(body))
    return out + body
  }

  // MARK: Appending

  /// Appends `count` rows of `d` floats (row-major at `rows`) with one token id, document id and
  /// position per row. Rows are rounded to the shard's dtype; each row's L2 norm is computed from
  /// the Float32 values given here, before rounding.
  public func append(
    rows: UnsafePointer<Float>, count: Int, tokenIDs: UnsafePointer<Int32>,
    documentIDs: UnsafePointer<Int64>, positions: UnsafePointer<Int32>
  ) throws {
    try checkOpen()
    guard count >= 0 else {
      throw ShardError.invalidArgument(path: path, reason: "negative row count \(count)")
    }
    let d = info.d
    let size = info.dtype.elementSize
    var done = 0
    while done < count {
      let take = min(count - done, rowsPerBlock - stagedRows)
      let source = rows + done * d
      ShardCodec.store(source, count: take * d, dtype: info.dtype, into: staged + stagedRows * d * size)
      for r in 0..<take {
        self.documentIDs.append(documentIDs[done + r])
        self.tokenIDs.append(tokenIDs[done + r])
        self.positions.append(positions[done + r])
        norms.append(ShardCodec.norm(source + r * d, count: d))
      }
      stagedRows += take
      done += take
      rowCount += take
      if stagedRows == rowsPerBlock { try flushBlock() }
    }
  }

  /// Appends rows given as arrays: `rows.count` must be `tokenIDs.count × d`, and the three side
  /// arrays must have one entry per row.
  public func append(rows: [Float], tokenIDs: [Int32], documentIDs: [Int64], positions: [Int32]) throws {
    let n = tokenIDs.count
    guard rows.count == n * info.d, documentIDs.count == n, positions.count == n else {
      throw ShardError.invalidArgument(
        path: path,
        reason: "\(rows.count) floats, \(n) token ids, \(documentIDs.count) document ids and "
          + "\(positions.count) positions do not describe the same rows of width \(info.d)")
    }
    try rows.withUnsafeBufferPointer { r in
      try tokenIDs.withUnsafeBufferPointer { t in
        try documentIDs.withUnsafeBufferPointer { doc in
          try positions.withUnsafeBufferPointer { p in
            guard n > 0 else { return }
            try append(
              rows: r.baseAddress!, count: n, tokenIDs: t.baseAddress!, documentIDs: doc.baseAddress!,
              positions: p.baseAddress!)
          }
        }
      }
    }
  }

  /// Appends the rows of a (n, d) or (…, d) tensor with one token id, document id and position per row.
  public func append(rows: Tensor, tokenIDs: [Int32], documentIDs: [Int64], positions: [Int32]) throws {
    let n = tokenIDs.count
    guard rows.shape.last == info.d, rows.count == n * info.d, documentIDs.count == n, positions.count == n
    else {
      throw ShardError.invalidArgument(
        path: path,
        reason: "a tensor of shape \(rows.shape), \(n) token ids, \(documentIDs.count) document ids and "
          + "\(positions.count) positions do not describe the same rows of width \(info.d)")
    }
    guard n > 0 else { return }
    try tokenIDs.withUnsafeBufferPointer { t in
      try documentIDs.withUnsafeBufferPointer { doc in
        try positions.withUnsafeBufferPointer { p in
          try append(
            rows: UnsafePointer(rows.pointer), count: n, tokenIDs: t.baseAddress!,
            documentIDs: doc.baseAddress!,
            positions: p.baseAddress!)
        }
      }
    }
  }

  private func checkOpen() throws(ShardError) {
    switch state {
    case .open: return
    case .finished: throw .invalidArgument(path: path, reason: "the writer is already finished")
    case .failed(let error): throw error
    }
  }

  /// Runs `body`, remembering the first failure so that later calls report it again.
  private func guarded<T>(_ body: () throws(ShardError) -> T) throws(ShardError) -> T {
    do {
      return try body()
    } catch {
      state = .failed(error)
      throw error
    }
  }

  // MARK: Blocks

  /// Compresses the staged rows into one data frame and one side frame and writes both.
  private func flushBlock() throws(ShardError) {
    let rows = stagedRows
    guard rows > 0 else { return }
    let elements = rows * info.d
    let rawSize = elements * info.dtype.elementSize
    let source: UnsafeRawPointer
    if info.layout == .plain {
      source = UnsafeRawPointer(staged)
    } else {
      ShardCodec.arrange(staged, arranged, count: elements, dtype: info.dtype, layout: info.layout)
      source = UnsafeRawPointer(arranged)
    }
    try guarded { () throws(ShardError) in
      let dataOffset = offset
      let (dataSize, dataCRC) = try writeFrame(
        UnsafeRawBufferPointer(start: source, count: rawSize), "block data")
      side.removeAll(keepingCapacity: true)
      documentIDs.withUnsafeBytes { side += $0 }
      tokenIDs.withUnsafeBytes { side += $0 }
      positions.withUnsafeBytes { side += $0 }
      norms.withUnsafeBytes { side += $0 }
      let sideOffset = offset
      let (sideSize, sideCRC) = try side.withShardBytes { bytes throws(ShardError) in
        try writeFrame(bytes, "side data")
      }
      blocks.append(
        ShardBlock(
          firstRow: rowCount - rows, rowCount: rows, dataOffset: dataOffset, dataSize: dataSize,
          dataRawSize: rawSize, dataChecksum: dataCRC, sideOffset: sideOffset, sideSize: sideSize,
          sideRawSize: side.count, sideChecksum: sideCRC))
    }
    documentIDs.removeAll(keepingCapacity: true)
    tokenIDs.removeAll(keepingCapacity: true)
    positions.removeAll(keepingCapacity: true)
    norms.removeAll(keepingCapacity: true)
    stagedRows = 0
  }

  /// Compresses `raw` into one LZ4 frame, appends it, and returns its size and CRC-32.
  private func writeFrame(_ raw: UnsafeRawBufferPointer, _ section: String) throws(ShardError) -> (
    Int, UInt32
  ) {
    let size: Int
    do {
      size = try LZ4FrameEncoder.compress(raw, into: frame)
    } catch {
      throw .io(path: path, operation: "compress \(section)", offset: offset, reason: error.reason)
    }
    let bytes = UnsafeRawBufferPointer(rebasing: frame[0..<size])
    try write(bytes)
    return (size, CRC32.checksum(bytes))
  }

  private func write(_ bytes: UnsafeRawBufferPointer) throws(ShardError) {
    try sink.append(bytes)
    bodyChecksum = CRC32.checksum(bytes, initial: bodyChecksum)
    offset += UInt64(bytes.count)
  }

  // MARK: Finishing

  /// Writes the last block, the index and the trailer, records the row count in the header,
  /// fsyncs and closes the file. Throws (naming the file) if any write or the fsync fails.
  @discardableResult
  public func finish() throws -> ShardSummary {
    try checkOpen()
    try flushBlock()
    return try guarded { () throws(ShardError) in
      let indexOffset = offset
      var index: [UInt8] = []
      index.reserveCapacity(blocks.count * ShardFormat.indexEntrySize)
      for block in blocks { index += block.encoded() }
      try index.withShardBytes { bytes throws(ShardError) in try write(bytes) }
      let header = ShardHeader(info: info, rowsPerBlock: rowsPerBlock, rowCount: rowCount)
      let prefix = Self.preambleAndHeader(header)
      guard prefix.count == headerSize else {
        throw .invalidArgument(path: path, reason: "internal: the header changed size when finished")
      }
      try prefix.withShardBytes { bytes throws(ShardError) in try sink.overwrite(bytes, at: 0) }
      let body = CRC32.combine(
        CRC32.checksum(prefix), bodyChecksum, secondLength: offset - UInt64(headerSize))
      let trailer = ShardTrailer(
        indexOffset: indexOffset, blockCount: UInt64(blocks.count), rowCount: UInt64(rowCount),
        indexChecksum: CRC32.checksum(index), bodyChecksum: body
      ).encoded()
      try trailer.withShardBytes { bytes throws(ShardError) in try sink.append(bytes) }
      let fileSize = offset + UInt64(trailer.count)
      try sink.synchronize()
      try sink.close()
      state = .finished
      return ShardSummary(
        path: path, bytes: Int(fileSize), rows: rowCount, blocks: blocks.count,
        checksum: CRC32.hex(CRC32.checksum(trailer, initial: body)))
    }
  }

  /// Closes the file without finishing it and deletes it (after a failure, or to abandon a unit).
  public func discard() {
    try? sink.close()
    state = .failed(.invalidArgument(path: path, reason: "the writer was discarded"))
    if sink is FileShardSink { _ = unlink(path) }
  }
}
