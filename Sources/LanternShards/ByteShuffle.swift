// Block layouts applied before LZ4: byte shuffle (Blosc's) and bit shuffle (Masui's bitshuffle
// arrangement), with their inverses and a naive twin of each for the tests.
//
// A block is `count` elements of `size` bytes (2 or 4), in row-major order.
//  - byte shuffle: byte plane p (p = 0 ..< size) holds byte p of every element, planes one after
//    another: out[p * count + i] = in[i * size + p]. Grouping the sign/exponent bytes lets LZ4 find
//    repeats that interleaving hides.
//  - bit shuffle: the elements are cut into chunks of 4,096 (the last chunk: the largest multiple
//    of 8 that remains; fewer than 8 leftover elements are copied unchanged at the end). A chunk of
//    c elements becomes 8 × size bit planes of c / 8 bytes each; plane (8 × b + k) holds bit k of
//    byte b of every element, element j at bit (j mod 8) of byte (j / 8) — numpy's
//    `unpackbits`/`packbits` with bitorder='little'.
// Both are exact permutations of the bytes, so decoding needs no element type. Left out: the
// transposed (column-major) variants, measured at +1–3% over these (docs/shard-format.md).

/// Byte and bit shuffles over raw buffers (`src` and `dst` must not overlap).
enum ByteShuffle {
  /// Elements per bit-shuffle chunk.
  static let bitChunk = 4096

  // MARK: Byte shuffle

  /// out[p * count + i] = in[i * size + p].
  static func shuffleBytes(_ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, count: Int, size: Int) {
    let s = src.assumingMemoryBound(to: UInt8.self)
    let d = dst.assumingMemoryBound(to: UInt8.self)
    switch size {
    case 2:
      let hi = d + count
      var i = 0
      while i < count {
        let v = UnsafeRawPointer(s + i &* 2).loadUnaligned(as: UInt16.self)
        d[i] = UInt8(truncatingIfNeeded: v)
        hi[i] = UInt8(truncatingIfNeeded: v &>> 8)
        i &+= 1
      }
    case 4:
      let p1 = d + count
      let p2 = p1 + count
      let p3 = p2 + count
      var i = 0
      while i < count {
        let v = UnsafeRawPointer(s + i &* 4).loadUnaligned(as: UInt32.self)
        d[i] = UInt8(truncatingIfNeeded: v)
        p1[i] = UInt8(truncatingIfNeeded: v &>> 8)
        p2[i] = UInt8(truncatingIfNeeded: v &>> 16)
        p3[i] = UInt8(truncatingIfNeeded: v &>> 24)
        i &+= 1
      }
    default:
      naiveShuffleBytes(src, dst, count: count, size: size)
    }
  }

  /// The inverse of `shuffleBytes`: out[i * size + p] = in[p * count + i].
  static func unshuffleBytes(_ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, count: Int, size: Int) {
    let s = src.assumingMemoryBound(to: UInt8.self)
    switch size {
    case 2:
      let out = dst.assumingMemoryBound(to: UInt16.self)
      let hi = s + count
      var i = 0
      while i < count {
        out[i] = UInt16(s[i]) | UInt16(hi[i]) &<< 8
        i &+= 1
      }
    case 4:
      let out = dst.assumingMemoryBound(to: UInt32.self)
      let p1 = s + count
      let p2 = p1 + count
      let p3 = p2 + count
      var i = 0
      while i < count {
        out[i] = UInt32(s[i]) | UInt32(p1[i]) &<< 8 | UInt32(p2[i]) &<< 16 | UInt32(p3[i]) &<< 24
        i &+= 1
      }
    default:
      naiveUnshuffleBytes(src, dst, count: count, size: size)
    }
  }

  /// Byte-unshuffles bf16 planes straight into Float32 (bf16 is the top half of a float).
  static func unshuffleBFloat16ToFloat32(
    _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int
  ) {
    let lo = src.assumingMemoryBound(to: UInt8.self)
    let hi = lo + count
    let out = UnsafeMutableRawPointer(dst).assumingMemoryBound(to: UInt32.self)
    var i = 0
    while i < count {
      out[i] = UInt32(lo[i]) &<< 16 | UInt32(hi[i]) &<< 24
      i &+= 1
    }
  }

  static func naiveShuffleBytes(
    _ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, count: Int, size: Int
  ) {
    for i in 0..<count {
      for p in 0..<size {
        dst.storeBytes(
          of: src.load(fromByteOffset: i * size + p, as: UInt8.self), toByteOffset: p * count + i,
          as: UInt8.self)
      }
    }
  }

  static func naiveUnshuffleBytes(
    _ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, count: Int, size: Int
  ) {
    for i in 0..<count {
      for p in 0..<size {
        dst.storeBytes(
          of: src.load(fromByteOffset: p * count + i, as: UInt8.self), toByteOffset: i * size + p,
          as: UInt8.self)
      }
    }
  }

  // MARK: Bit shuffle

  /// Transposes the 8×8 bit matrix whose row r is byte r: bit (8r + c) moves to bit (8c + r)
  /// (Hacker's Delight, `transpose8`). It is its own inverse.
  @inline(__always)
  static func transpose8x8(_ value: UInt64) -> UInt64 {
    var x = value
    var t = (x ^ (x &>> 7)) & 0x00AA_00AA_00AA_00AA
    x = x ^ t ^ (t &<< 7)
    t = (x ^ (x &>> 14)) & 0x0000_CCCC_0000_CCCC
    x = x ^ t ^ (t &<< 14)
    t = (x ^ (x &>> 28)) & 0x0000_0000_F0F0_F0F0
    x = x ^ t ^ (t &<< 28)
    return x
  }

  /// Bit-shuffles `count` elements of `size` bytes (see the file comment for the layout).
  static func shuffleBits(_ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, count: Int, size: Int) {
    switch size {
    case 2: bitChunks(src, dst, count: count, size: 2, forward: true)
    case 4: bitChunks(src, dst, count: count, size: 4, forward: true)
    default: bitChunks(src, dst, count: count, size: size, forward: true)
    }
  }

  /// The inverse of `shuffleBits`.
  static func unshuffleBits(_ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, count: Int, size: Int) {
    switch size {
    case 2: bitChunks(src, dst, count: count, size: 2, forward: false)
    case 4: bitChunks(src, dst, count: count, size: 4, forward: false)
    default: bitChunks(src, dst, count: count, size: size, forward: false)
    }
  }

  /// Walks the chunks; `forward` shuffles (elements → planes), otherwise unshuffles.
  @inline(__always)
  private static func bitChunks(
    _ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, count: Int, size: Int, forward: Bool
  ) {
    let input = UnsafeMutablePointer(mutating: src.assumingMemoryBound(to: UInt8.self))
    let output = dst.assumingMemoryBound(to: UInt8.self)
    var start = 0
    while count &- start >= 8 {
      let chunk = min(bitChunk, (count &- start) & ~7)
      let groups = chunk &>> 3
      let elements = (forward ? input : output) + start &* size
      let planes = (forward ? output : input) + start &* size
      var g = 0
      while g < groups {
        let group = elements + g &* 8 &* size
        for b in 0..<size {
          if forward {
            var x: UInt64 = 0
            for e in 0..<8 { x |= UInt64(group[e &* size &+ b]) &<< UInt64(e &* 8) }
            x = transpose8x8(x)
            for k in 0..<8 {
              planes[(b &* 8 &+ k) &* groups &+ g] = UInt8(truncatingIfNeeded: x &>> UInt64(k &* 8))
            }
          } else {
            var x: UInt64 = 0
            for k in 0..<8 { x |= UInt64(planes[(b &* 8 &+ k) &* groups &+ g]) &<< UInt64(k &* 8) }
            x = transpose8x8(x)
            for e in 0..<8 { group[e &* size &+ b] = UInt8(truncatingIfNeeded: x &>> UInt64(e &* 8)) }
          }
        }
        g &+= 1
      }
      start &+= chunk
    }
    let rest = (count &- start) &* size
    if rest > 0 {
      UnsafeMutableRawPointer(output + start &* size).copyMemory(from: input + start &* size, byteCount: rest)
    }
  }

  /// Bit by bit, straight from the definition (the tests' twin of `shuffleBits`).
  static func naiveShuffleBits(_ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, count: Int, size: Int)
  {
    let input = src.assumingMemoryBound(to: UInt8.self)
    let output = dst.assumingMemoryBound(to: UInt8.self)
    output.update(repeating: 0, count: count * size)
    var start = 0
    while count - start >= 8 {
      let chunk = min(bitChunk, (count - start) / 8 * 8)
      let base = start * size
      for j in 0..<chunk {
        for b in 0..<size {
          for k in 0..<8 where input[base + j * size + b] & (1 << k) != 0 {
            output[base + (b * 8 + k) * (chunk / 8) + j / 8] |= UInt8(1 << (j % 8))
          }
        }
      }
      start += chunk
    }
    for i in (start * size)..<(count * size) { output[i] = input[i] }
  }
}
