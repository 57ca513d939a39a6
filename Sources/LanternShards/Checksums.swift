// CRC-32 (zlib's polynomial, the one Python's `zlib.crc32` computes) over raw bytes, and the
// combination of two CRCs of adjacent byte ranges (so the writer can checksum a header it patches
// at the end without reading the file back).
//
// Left out: xxHash. LZ4 frames carry their own xxh32 block and content checksums; CRC-32 is the
// shard's own checksum because every language's standard library computes it.

import CZlib

/// CRC-32 checksums as used by the shard format.
enum CRC32 {
  /// The CRC-32 of `bytes`, continuing from `initial` (0 for a fresh checksum).
  static func checksum(_ bytes: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return initial }
    let value = crc32_z(UInt(initial), base.assumingMemoryBound(to: UInt8.self), bytes.count)
    return UInt32(truncatingIfNeeded: value)
  }

  /// The CRC-32 of `bytes`.
  static func checksum(_ bytes: [UInt8], initial: UInt32 = 0) -> UInt32 {
    bytes.withUnsafeBytes { checksum($0, initial: initial) }
  }

  /// The CRC-32 of A followed by B, from crc(A), crc(B) and the length of B.
  static func combine(_ first: UInt32, _ second: UInt32, secondLength: UInt64) -> UInt32 {
    UInt32(truncatingIfNeeded: crc32_combine(UInt(first), UInt(second), Int(secondLength)))
  }

  /// Eight lowercase hex digits, the form manifests store.
  static func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 8 - digits.count) + digits
  }
}
