// Opening a shard: the structural checks run before any block is decoded (layout in
// ShardReader.swift). Order: preamble, header, trailer, index, then every index entry; each
// failure throws its own ShardError case naming the field's offset.

extension ShardReader {
  typealias Opened = (
    header: ShardHeader, blocks: [ShardBlock], prefix: [UInt8], index: [UInt8], trailerBytes: [UInt8],
    trailer: ShardTrailer
  )

  static func validate(_ file: ShardFile) throws(ShardError) -> Opened {
    let path = file.path
    let size = file.size
    let preambleSize = UInt64(ShardFormat.preambleSize)

    // 1–4: magic, version, header length and CRC.
    let head = try file.read(Int(min(size, preambleSize)), at: 0, section: "preamble")
    let magicSeen = Array(head.prefix(ShardFormat.magic.count))
    guard magicSeen == Array(ShardFormat.magic.prefix(magicSeen.count)) else {
      throw .badMagic(path: path, found: magicSeen)
    }
    guard size >= preambleSize else {
      throw .truncated(path: path, section: "preamble", offset: 0, needed: preambleSize, fileSize: size)
    }
    let version = head.withUnsafeBytes { $0.littleEndian(at: 8, as: UInt32.self) }
    guard version == ShardFormat.version else {
      throw .unsupportedVersion(path: path, version: version, supported: ShardFormat.version)
    }
    let headerLength = head.withUnsafeBytes { $0.littleEndian(at: 12, as: UInt32.self) }
    let storedHeaderCRC = head.withUnsafeBytes { $0.littleEndian(at: 16, as: UInt32.self) }
    guard headerLength <= ShardFormat.maxHeaderLength else {
      throw .lengthTooLarge(
        path: path, field: "header length", offset: 12, value: UInt64(headerLength),
        limit: UInt64(ShardFormat.maxHeaderLength))
    }

    // 5: the header.
    let headerBytes = try file.read(Int(headerLength), at: preambleSize, section: "header")
    let headerCRC = CRC32.checksum(headerBytes)
    guard headerCRC == storedHeaderCRC else {
      throw .checksumMismatch(
        path: path, section: "header", block: nil, offset: preambleSize, stored: storedHeaderCRC,
        computed: headerCRC)
    }
    let header = try headerBytes.withShardBytes { bytes throws(ShardError) in
      try ShardHeader.decode(bytes, base: preambleSize, path: path)
    }
    let headerEnd = preambleSize + UInt64(headerLength)

    // 8: the trailer.
    let trailerSize = UInt64(ShardFormat.trailerSize)
    guard size >= headerEnd + trailerSize else {
      throw .truncated(path: path, section: "trailer", offset: size, needed: trailerSize, fileSize: size)
    }
    let trailerOffset = size - trailerSize
    let trailerBytes = try file.read(ShardFormat.trailerSize, at: trailerOffset, section: "trailer")
    guard Array(trailerBytes.suffix(8)) == ShardFormat.endMagic else {
      // Every complete shard ends with the end magic; without it the writer never finished.
      throw .truncated(path: path, section: "trailer", offset: size, needed: trailerSize, fileSize: size)
    }
    let trailer = trailerBytes.withUnsafeBytes { t in
      ShardTrailer(
        indexOffset: t.littleEndian(at: 0, as: UInt64.self),
        blockCount: t.littleEndian(at: 8, as: UInt64.self),
        rowCount: t.littleEndian(at: 16, as: UInt64.self),
        indexChecksum: t.littleEndian(at: 24, as: UInt32.self),
        bodyChecksum: t.littleEndian(at: 28, as: UInt32.self))
    }
    let (reserved, storedTrailerCRC) = trailerBytes.withUnsafeBytes {
      ($0.littleEndian(at: 32, as: UInt32.self), $0.littleEndian(at: 36, as: UInt32.self))
    }
    let trailerCRC = CRC32.checksum(Array(trailerBytes.prefix(36)))
    guard trailerCRC == storedTrailerCRC else {
      throw .checksumMismatch(
        path: path, section: "trailer", block: nil, offset: trailerOffset, stored: storedTrailerCRC,
        computed: trailerCRC)
    }
    func badTrailer(_ reason: String) -> ShardError {
      .invalidTrailer(path: path, offset: trailerOffset, reason: reason)
    }
    guard reserved == 0 else { throw badTrailer("the reserved field is \(reserved), not 0") }
    guard trailer.rowCount == UInt64(header.rowCount) else {
      throw badTrailer("row count \(trailer.rowCount) differs from the header's \(header.rowCount)")
    }
    let rowsPerBlock = UInt64(header.rowsPerBlock)
    let expectedBlocks = (UInt64(header.rowCount) + rowsPerBlock - 1) / rowsPerBlock
    guard trailer.blockCount == expectedBlocks else {
      throw badTrailer(
        "block count \(trailer.blockCount), but \(header.rowCount) rows need \(expectedBlocks)")
    }
    let entrySize = UInt64(ShardFormat.indexEntrySize)
    guard let indexLength = checkedMultiply(trailer.blockCount, entrySize),
      let indexEnd = checkedAdd(trailer.indexOffset, indexLength),
      trailer.indexOffset >= headerEnd, indexEnd == trailerOffset
    else {
      throw badTrailer(
        "an index of \(trailer.blockCount) entries at offset \(trailer.indexOffset) does not end at the trailer"
          + " (offset \(trailerOffset)) after the header (offset \(headerEnd))")
    }

    // 7: the index.
    let index = try file.read(Int(indexLength), at: trailer.indexOffset, section: "index")
    let indexCRC = CRC32.checksum(index)
    guard indexCRC == trailer.indexChecksum else {
      throw .checksumMismatch(
        path: path, section: "index", block: nil, offset: trailer.indexOffset, stored: trailer.indexChecksum,
        computed: indexCRC)
    }
    let blocks = try index.withShardBytes { bytes throws(ShardError) in
      try parseIndex(bytes, header: header, start: headerEnd, trailer: trailer, path: path)
    }
    return (header, blocks, head + headerBytes, index, trailerBytes, trailer)
  }

  /// Decodes and checks every index entry: rows contiguous from 0, frames back to back.
  private static func parseIndex(
    _ bytes: UnsafeRawBufferPointer, header: ShardHeader, start: UInt64, trailer: ShardTrailer, path: String
  ) throws(ShardError) -> [ShardBlock] {
    let d = header.info.d
    let elementSize = header.info.dtype.elementSize
    let count = Int(trailer.blockCount)
    var blocks: [ShardBlock] = []
    blocks.reserveCapacity(count)
    var cursor = start
    for i in 0..<count {
      let at = i * ShardFormat.indexEntrySize
      let entryOffset = trailer.indexOffset + UInt64(at)
      func bad(_ reason: String) -> ShardError {
        .invalidIndex(path: path, block: i, offset: entryOffset, reason: reason)
      }
      let firstRow = bytes.littleEndian(at: at, as: UInt64.self)
      let rows = Int(bytes.littleEndian(at: at + 8, as: UInt32.self))
      let dataCRC = bytes.littleEndian(at: at + 12, as: UInt32.self)
      let dataOffset = bytes.littleEndian(at: at + 16, as: UInt64.self)
      let dataSize = bytes.littleEndian(at: at + 24, as: UInt64.self)
      let dataRaw = bytes.littleEndian(at: at + 32, as: UInt64.self)
      let sideOffset = bytes.littleEndian(at: at + 40, as: UInt64.self)
      let sideSize = UInt64(bytes.littleEndian(at: at + 48, as: UInt32.self))
      let sideRaw = UInt64(bytes.littleEndian(at: at + 52, as: UInt32.self))
      let sideCRC = bytes.littleEndian(at: at + 56, as: UInt32.self)
      let reserved = bytes.littleEndian(at: at + 60, as: UInt32.self)

      let expectedFirst = i * header.rowsPerBlock
      let expectedRows = min(header.rowsPerBlock, header.rowCount - expectedFirst)
      guard firstRow == UInt64(expectedFirst), rows == expectedRows else {
        throw bad("rows \(firstRow) + \(rows), expected \(expectedFirst) + \(expectedRows)")
      }
      guard reserved == 0 else { throw bad("the reserved field is \(reserved), not 0") }
      let wantData = UInt64(rows * d * elementSize)
      let wantSide = UInt64(rows * ShardFormat.sideBytesPerRow)
      guard dataRaw == wantData, sideRaw == wantSide else {
        throw bad(
          "raw sizes \(dataRaw) and \(sideRaw), but \(rows) rows of \(d) × \(header.info.dtype) need \(wantData) and \(wantSide)"
        )
      }
      let minimum = UInt64(ShardFormat.minimumFrameSize)
      guard dataSize >= minimum, dataSize <= UInt64(LZ4FrameEncoder.bound(contentSize: Int(wantData))),
        sideSize >= minimum, sideSize <= UInt64(LZ4FrameEncoder.bound(contentSize: Int(wantSide)))
      else {
        throw bad(
          "stored sizes \(dataSize) and \(sideSize) are impossible for LZ4 frames of \(wantData) and \(wantSide) bytes"
        )
      }
      guard dataOffset == cursor, let dataEnd = checkedAdd(dataOffset, dataSize), sideOffset == dataEnd,
        let sideEnd = checkedAdd(sideOffset, sideSize), sideEnd <= trailer.indexOffset
      else {
        throw bad(
          "frames at offsets \(dataOffset) (+\(dataSize)) and \(sideOffset) (+\(sideSize)) do not follow the"
            + " previous block's end \(cursor) or run into the index at \(trailer.indexOffset)")
      }
      cursor = sideEnd
      blocks.append(
        ShardBlock(
          firstRow: expectedFirst, rowCount: rows, dataOffset: dataOffset, dataSize: Int(dataSize),
          dataRawSize: Int(dataRaw), dataChecksum: dataCRC, sideOffset: sideOffset, sideSize: Int(sideSize),
          sideRawSize: Int(sideRaw), sideChecksum: sideCRC))
    }
    guard cursor == trailer.indexOffset else {
      throw .invalidTrailer(
        path: path, offset: trailer.indexOffset,
        reason:
          "\(trailer.indexOffset - cursor) bytes between the last block (ending at \(cursor)) and the index")
    }
    return blocks
  }
}
