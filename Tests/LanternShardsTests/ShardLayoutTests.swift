// Byte shuffle, bit shuffle and the LZ4 frame wrapper against naive twins and hostile frames.

import CLZ4
import LanternTensor
import LanternTestSupport
import Testing

@testable import LanternShards

@Suite struct ShardLayoutTests {
  static let counts = [0, 1, 7, 8, 9, 64, 4095, 4096, 4100, 8192 + 13]

  func randomBytes(_ n: Int, seed: UInt64) -> [UInt8] {
    var rng = SplitMix64(seed: seed)
    return (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
  }

  @Test(arguments: [2, 4])
  func byteShuffleMatchesTwinAndInverts(size: Int) {
    for count in Self.counts {
      let input = randomBytes(count * size, seed: UInt64(count))
      var fast = [UInt8](repeating: 0, count: input.count)
      var slow = fast
      var back = fast
      input.withUnsafeBytes { src in
        fast.withUnsafeMutableBytes {
          ByteShuffle.shuffleBytes(src.baseAddress!, $0.baseAddress!, count: count, size: size)
        }
        slow.withUnsafeMutableBytes {
          ByteShuffle.naiveShuffleBytes(src.baseAddress!, $0.baseAddress!, count: count, size: size)
        }
      }
      fast.withUnsafeBytes { src in
        back.withUnsafeMutableBytes {
          ByteShuffle.unshuffleBytes(src.baseAddress!, $0.baseAddress!, count: count, size: size)
        }
      }
      #expect(fast == slow, "count \(count)")
      #expect(back == input, "count \(count)")
      if count >= 2 { #expect(fast[1] == input[size], "plane 0 holds byte 0 of element 1 second") }
    }
  }

  @Test(arguments: [2, 4])
  func bitShuffleMatchesTwinAndInverts(size: Int) {
    for count in Self.counts {
      let input = randomBytes(count * size, seed: 99 &+ UInt64(count))
      var fast = [UInt8](repeating: 0, count: input.count)
      var slow = fast
      var back = fast
      input.withUnsafeBytes { src in
        fast.withUnsafeMutableBytes {
          ByteShuffle.shuffleBits(src.baseAddress!, $0.baseAddress!, count: count, size: size)
        }
        slow.withUnsafeMutableBytes {
          ByteShuffle.naiveShuffleBits(src.baseAddress!, $0.baseAddress!, count: count, size: size)
        }
      }
      fast.withUnsafeBytes { src in
        back.withUnsafeMutableBytes {
          ByteShuffle.unshuffleBits(src.baseAddress!, $0.baseAddress!, count: count, size: size)
        }
      }
      #expect(fast == slow, "count \(count)")
      #expect(back == input, "count \(count)")
    }
  }

  @Test func bitShuffleOfKnownPattern() {
    // 8 elements of 2 bytes: only element 3 has bit 1 of byte 1 set → plane 9, bit 3 of its only byte.
    var input = [UInt8](repeating: 0, count: 16)
    input[3 * 2 + 1] = 0b10
    var out = [UInt8](repeating: 0, count: 16)
    input.withUnsafeBytes { src in
      out.withUnsafeMutableBytes {
        ByteShuffle.shuffleBits(src.baseAddress!, $0.baseAddress!, count: 8, size: 2)
      }
    }
    var expected = [UInt8](repeating: 0, count: 16)
    expected[9] = 1 << 3
    #expect(out == expected)
  }

  @Test func transposeIsTheBitTranspose() {
    var rng = SplitMix64(seed: 5)
    for _ in 0..<200 {
      let x = rng.next()
      let t = ByteShuffle.transpose8x8(x)
      for r in 0..<8 {
        for c in 0..<8 { #expect((x >> UInt64(8 * r + c)) & 1 == (t >> UInt64(8 * c + r)) & 1) }
      }
      #expect(ByteShuffle.transpose8x8(t) == x)
    }
  }

  @Test func fusedBFloat16UnshuffleMatchesTwoSteps() {
    let count = 1000
    let input = randomBytes(count * 2, seed: 11)
    var fused = [Float](repeating: 0, count: count)
    var planes = [UInt16](repeating: 0, count: count)
    input.withUnsafeBytes { src in
      fused.withUnsafeMutableBufferPointer {
        ByteShuffle.unshuffleBFloat16ToFloat32(src.baseAddress!, $0.baseAddress!, count: count)
      }
      planes.withUnsafeMutableBytes {
        ByteShuffle.naiveUnshuffleBytes(src.baseAddress!, $0.baseAddress!, count: count, size: 2)
      }
    }
    let expected = planes.map { Float(bitPattern: UInt32($0) << 16) }
    #expect(sameBits(fused, expected))
  }

  // MARK: LZ4 frames

  func compress(_ input: [UInt8]) throws -> [UInt8] {
    var out = [UInt8](repeating: 0, count: LZ4FrameEncoder.bound(contentSize: input.count))
    let n = try input.withUnsafeBytes { src in
      try out.withUnsafeMutableBytes { try LZ4FrameEncoder.compress(src, into: $0) }
    }
    return Array(out[0..<n])
  }

  func decode(_ frame: [UInt8], size: Int, with decoder: LZ4FrameDecoder) throws -> [UInt8] {
    var out = [UInt8](repeating: 0, count: size)
    try frame.withUnsafeBytes { src in
      try out.withUnsafeMutableBytes { try decoder.decompress(src, into: $0) }
    }
    return out
  }

  @Test func frameRoundTripAndFlags() throws {
    let input = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 / 7) }
    let frame = try compress(input)
    #expect(frame.count < input.count / 4)
    // FLG byte: version 01, block independence, block checksum, content size, content checksum.
    #expect(frame[4] & 0b0111_1100 == 0b0111_1100)
    let decoder = try LZ4FrameDecoder()
    #expect(try decode(frame, size: input.count, with: decoder) == input)
  }

  /// A flipped bit inside an incompressible (stored) block must not decode silently: LZ4's own
  /// block and content checksums catch it even without the shard's CRC.
  @Test func flippedBitInStoredBlockIsCaughtByLZ4() throws {
    let input = randomBytes(100_000, seed: 3)
    let frame = try compress(input)
    #expect(frame.count > input.count, "random bytes are stored, not compressed")
    let decoder = try LZ4FrameDecoder()
    for position in [30, 500, 50_000, frame.count - 9] {
      var bad = frame
      bad[position] ^= 0x10
      #expect(throws: LZ4FrameError.self) { try decode(bad, size: input.count, with: decoder) }
      // The context was reset: the same decoder still decodes a good frame.
      #expect(try decode(frame, size: input.count, with: decoder) == input)
    }
  }

  @Test func framesWithoutChecksumsOrWithWrongSizesAreRefused() throws {
    let input = randomBytes(1000, seed: 4)
    var plain = [UInt8](repeating: 0, count: 4096)
    let n = input.withUnsafeBytes { src in
      plain.withUnsafeMutableBytes {
        LZ4F_compressFrame($0.baseAddress, 4096, src.baseAddress, src.count, nil)
      }
    }
    let decoder = try LZ4FrameDecoder()
    let error = #expect(throws: LZ4FrameError.self) {
      try decode(Array(plain[0..<n]), size: 1000, with: decoder)
    }
    #expect(error?.reason.contains("checksum") == true)
    let good = try compress(input)
    #expect(throws: LZ4FrameError.self) { try decode(good, size: 999, with: decoder) }
    #expect(throws: LZ4FrameError.self) { try decode(good + [0], size: 1000, with: decoder) }
    #expect(throws: LZ4FrameError.self) { try decode(Array(good.dropLast(3)), size: 1000, with: decoder) }
    #expect(try decode(good, size: 1000, with: decoder) == input)
  }

  @Test func crcMatchesBitwiseTwin() {
    let bytes = randomBytes(10_000, seed: 8)
    #expect(CRC32.checksum(bytes) == naiveCRC32(bytes))
    let a = Array(bytes[0..<3000])
    let b = Array(bytes[3000...])
    #expect(
      CRC32.combine(CRC32.checksum(a), CRC32.checksum(b), secondLength: UInt64(b.count)) == naiveCRC32(bytes))
    #expect(CRC32.hex(0x0012_ABCD) == "0012abcd")
  }
}
