// Constants of the .lshard format and the codecs of its fixed-size records: the preamble, block
// index entries (i1–i11) and the trailer (t1–t8). The byte layout itself is specified at the
// top of ShardReader.swift and in docs/shard-format.md.

/// Format constants and limits shared by the writer and the reader.
enum ShardFormat {
  /// "\x89LSHARD\n": a non-ASCII first byte and a newline catch text-mode copies.
  static let magic: [UInt8] = [0x89, 0x4C, 0x53, 0x48, 0x41, 0x52, 0x44, 0x0A]
  /// The last eight bytes of every complete shard.
  static let endMagic: [UInt8] = Array("LSHDEND\n".utf8)
  static let version: UInt32 = 1
  /// Magic, version, header length, header CRC.
  static let preambleSize = 20
  static let indexEntrySize = 64
  static let trailerSize = 48
  /// Bytes of per-row side data: document id (8), token id (4), position (4), norm (4).
  static let sideBytesPerRow = 20
  /// Raw block size the default rows-per-block aims at (LZ4's largest frame block).
  static let targetBlockBytes = 256 << 10
  /// The smallest LZ4 frame with a content size and checksums: header 15, end mark 4, content checksum 4.
  static let minimumFrameSize = 23

  // Sanity limits: a reader never allocates more than these from a size read out of a file.
  static let maxHeaderLength = 1 << 20
  static let maxWidth = 1 << 20
  static let maxBlockBytes = 64 << 20
  static let maxRows: UInt64 = 1 << 40

  /// Rows per block so a raw block stays at or under 256 KB (at least one row).
  static func defaultRowsPerBlock(d: Int, dtype: ShardDType) -> Int {
    max(1, targetBlockBytes / max(1, d * dtype.elementSize))
  }
}

/// Where one block of rows lives in a shard, as its index entry records it.
public struct ShardBlock: Sendable, Equatable {
  /// The first row of the block (rows are numbered from 0 across the shard).
  public var firstRow: Int
  /// Rows in the block.
  public var rowCount: Int
  /// File offset and stored (compressed) size of the activations frame.
  public var dataOffset: UInt64
  public var dataSize: Int
  /// Decompressed size of the activations frame (rowCount × d × element size).
  public var dataRawSize: Int
  /// CRC-32 of the stored activations frame.
  public var dataChecksum: UInt32
  /// File offset and stored size of the side-data frame.
  public var sideOffset: UInt64
  public var sideSize: Int
  /// Decompressed size of the side-data frame (rowCount × 20).
  public var sideRawSize: Int
  /// CRC-32 of the stored side-data frame.
  public var sideChecksum: UInt32

  /// The rows the block holds.
  public var rows: Range<Int> { firstRow..<(firstRow + rowCount) }

  /// The 64-byte index entry.
  func encoded() -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(ShardFormat.indexEntrySize)
    func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { out += $0 } }
    put(UInt64(firstRow))
    put(UInt32(rowCount))
    put(dataChecksum)
    put(dataOffset)
    put(UInt64(dataSize))
    put(UInt64(dataRawSize))
    put(sideOffset)
    put(UInt32(sideSize))
    put(UInt32(sideRawSize))
    put(sideChecksum)
    put(UInt32(0))
    return out
  }
}

/// The fixed-size record at the end of every shard.
struct ShardTrailer: Equatable {
  var indexOffset: UInt64
  var blockCount: UInt64
  var rowCount: UInt64
  var indexChecksum: UInt32
  /// CRC-32 of every byte before the trailer.
  var bodyChecksum: UInt32

  /// The 48 trailer bytes: t1–t6, their CRC (t7), the end magic (t8).
  func encoded() -> [UInt8] {
    var out: [UInt8] = []
    func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { out += $0 } }
    put(indexOffset)
    put(blockCount)
    put(rowCount)
    put(indexChecksum)
    put(bodyChecksum)
    put(UInt32(0))
    put(CRC32.checksum(out))
    return out + ShardFormat.endMagic
  }
}

/// Little-endian loads from a buffer whose bounds the caller has checked.
extension UnsafeRawBufferPointer {
  @inline(__always)
  func littleEndian<T: FixedWidthInteger>(at offset: Int, as: T.Type) -> T {
    T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
  }
}

/// Overflow-checked arithmetic on file offsets and sizes; nil on overflow.
@inline(__always)
func checkedAdd(_ a: UInt64, _ b: UInt64) -> UInt64? {
  let (sum, overflow) = a.addingReportingOverflow(b)
  return overflow ? nil : sum
}

@inline(__always)
func checkedMultiply(_ a: UInt64, _ b: UInt64) -> UInt64? {
  let (product, overflow) = a.multipliedReportingOverflow(by: b)
  return overflow ? nil : product
}

extension Array where Element == UInt8 {
  /// `withUnsafeBytes` / `withUnsafeMutableBytes` for bodies that throw `ShardError` (the standard
  /// library's versions are `rethrows`, which loses the error type).
  func withShardBytes<R>(_ body: (UnsafeRawBufferPointer) throws(ShardError) -> R) throws(ShardError) -> R {
    try withUnsafeBytes { bytes in Result { () throws(ShardError) in try body(bytes) } }.get()
  }

  mutating func withMutableShardBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws(ShardError) -> R)
    throws(ShardError) -> R
  {
    try withUnsafeMutableBytes { bytes in Result { () throws(ShardError) in try body(bytes) } }.get()
  }
}
