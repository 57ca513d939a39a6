// Decoding blocks and verifying a whole shard. Every frame's CRC-32 (from the index) is checked
// before LZ4 sees it; LZ4 then checks its own xxh32 block and content checksums while decoding.
// `verify()` decodes every block and recomputes the CRC-32 of the whole file in the same pass.

extension ShardReader {
  /// Reads block `index`'s data frame, checks it and decodes its rows as Float32 into `out`.
  func decodeData(_ index: Int, into out: UnsafeMutablePointer<Float>) throws(ShardError) {
    let block = blocks[index]
    let stored = try readFrame(
      offset: block.dataOffset, size: block.dataSize, checksum: block.dataChecksum, block: index,
      section: "block data")
    let count = block.rowCount * d
    let info = header.info
    if info.dtype == .float32 && info.layout == .plain {
      try decompress(
        stored, into: UnsafeMutableRawBufferPointer(start: out, count: block.dataRawSize), block: index,
        offset: block.dataOffset, section: "block data")
      return
    }
    let raw = UnsafeMutableRawBufferPointer(rebasing: rawBuffer[0..<block.dataRawSize])
    try decompress(stored, into: raw, block: index, offset: block.dataOffset, section: "block data")
    ShardCodec.restore(
      UnsafeRawPointer(raw.baseAddress!), count: count, dtype: info.dtype, layout: info.layout,
      scratch: scratch.baseAddress!, into: out)
  }

  /// Reads block `index`'s side frame and returns its side arrays (rows left empty).
  func decodeSide(_ index: Int) throws(ShardError) -> ShardBatch {
    let block = blocks[index]
    let stored = try readFrame(
      offset: block.sideOffset, size: block.sideSize, checksum: block.sideChecksum, block: index,
      section: "side data")
    let raw = UnsafeMutableRawBufferPointer(rebasing: rawBuffer[0..<block.sideRawSize])
    try decompress(stored, into: raw, block: index, offset: block.sideOffset, section: "side data")
    let n = block.rowCount
    let bytes = UnsafeRawBufferPointer(raw)
    func column<T: FixedWidthInteger>(_: T.Type, at start: Int) -> [T] {
      (0..<n).map { bytes.littleEndian(at: start + $0 * MemoryLayout<T>.size, as: T.self) }
    }
    let documents = column(Int64.self, at: 0)
    let tokens = column(Int32.self, at: 8 * n)
    let positions = column(Int32.self, at: 12 * n)
    let norms = column(UInt32.self, at: 16 * n).map(Float.init(bitPattern:))
    return ShardBatch(
      firstRow: block.firstRow, d: d, rows: [], tokenIDs: tokens, documentIDs: documents,
      positions: positions,
      norms: norms)
  }

  /// Reads a stored frame into the frame buffer and checks its CRC-32.
  private func readFrame(offset: UInt64, size: Int, checksum: UInt32, block: Int, section: String)
    throws(ShardError) -> UnsafeRawBufferPointer
  {
    let buffer = UnsafeMutableRawBufferPointer(rebasing: frameBuffer[0..<size])
    try file.read(into: buffer, at: offset, section: "\(section) of block \(block)")
    let stored = UnsafeRawBufferPointer(buffer)
    let computed = CRC32.checksum(stored)
    guard computed == checksum else {
      throw .checksumMismatch(
        path: path, section: section, block: block, offset: offset, stored: checksum, computed: computed)
    }
    runningChecksum = CRC32.checksum(stored, initial: runningChecksum)
    return stored
  }

  private func decompress(
    _ stored: UnsafeRawBufferPointer, into raw: UnsafeMutableRawBufferPointer, block: Int, offset: UInt64,
    section: String
  ) throws(ShardError) {
    do {
      try decoder.decompress(stored, into: raw)
    } catch {
      throw .corruptBlock(path: path, block: block, section: section, offset: offset, reason: error.reason)
    }
  }

  /// Decodes every block (checking each frame's CRC-32 and LZ4 checksums) and the CRC-32 of
  /// everything before the trailer; returns the CRC-32 of the whole file as eight hex digits,
  /// the value `ShardSummary.checksum` reported when the shard was written.
  @discardableResult
  public func verify() throws -> String {
    let rows = UnsafeMutablePointer<Float>.allocate(capacity: max(1, header.rowsPerBlock * d))
    defer { rows.deallocate() }
    runningChecksum = CRC32.checksum(prefix)
    for i in blocks.indices {
      // Frames are back to back from the end of the header, so reading them in order feeds
      // the running CRC every byte between the header and the index.
      try decodeData(i, into: rows)
      _ = try decodeSide(i)
    }
    let body = CRC32.checksum(indexBytes, initial: runningChecksum)
    guard body == trailer.bodyChecksum else {
      throw ShardError.checksumMismatch(
        path: path, section: "file body", block: nil, offset: 0, stored: trailer.bodyChecksum, computed: body)
    }
    return CRC32.hex(CRC32.checksum(trailerBytes, initial: body))
  }
}
