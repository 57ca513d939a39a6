// Dequantization of ggml blocks to Float32, bit-exact with gguf-py's `gguf.quants.dequantize`
// (which mirrors ggml's `dequantize_row_*`).
//
// Each kernel walks whole blocks with raw pointers; all multi-byte loads are unaligned-safe
// because GGUF only aligns tensor starts and blocks are 18, 20, 22, ... bytes long. The order of
// float operations follows the reference exactly (e.g. Q4_1 is `d*q` rounded, then `+ m`; Swift
// never contracts that into an FMA), which is what makes the results bitwise equal.
// Block layouts (offsets in bytes, f16 = IEEE half, QK_K = 256):
//   Q4_0 (18): d f16 @0, qs[16] @2 — element j<16 is low nibble of qs[j], j>=16 the high nibble
//   Q4_1 (20): d @0, m @2, qs[16] @4                      y = d*q + m
//   Q5_0 (22): d @0, qh u32 @2 (bit j = 5th bit of element j), qs[16] @6     y = d*(q - 16)
//   Q5_1 (24): d @0, m @2, qh u32 @4, qs[16] @8            y = d*q + m
//   Q8_0 (34): d @0, qs int8[32] @2                         y = q*d
//   Q2_K (84): scales[16] @0, qs[64] @16, d @80, dmin @82
//   Q3_K (110): hmask[32] @0, qs[64] @32, scales[12] @96, d @108
//   Q4_K (144): d @0, dmin @2, scales[12] @4, qs[128] @16
//   Q5_K (176): d @0, dmin @2, scales[12] @4, qh[32] @16, qs[128] @48
//   Q6_K (210): ql[128] @0, qh[64] @128, scales int8[16] @192, d @208
// Left out: the IQ*, TQ*, MXFP4/NVFP4, Q1_0, Q8_1 and Q8_K types (see GGMLType).

import LanternTensor

@inline(__always)
private func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
  Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
}

@inline(__always)
private func byte(_ p: UnsafeRawPointer, _ offset: Int) -> UInt8 {
  p.load(fromByteOffset: offset, as: UInt8.self)
}

enum Dequantize {
  /// Converts `blocks` consecutive blocks of `type` at `src` into `blocks * type.blockSize`
  /// floats at `dst`. The caller has checked that `type.isDequantizable` and the byte range.
  static func run(
    _ type: GGMLType, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int
  ) {
    switch type {
    case .f32: UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: blocks &* 4)
    case .f16: float16(src, dst, blocks)
    case .bf16: bfloat16(src, dst, blocks)
    case .f64: convert(src, dst, blocks, Double.self)
    case .i8: convert(src, dst, blocks, Int8.self)
    case .i16: convert(src, dst, blocks, Int16.self)
    case .i32: convert(src, dst, blocks, Int32.self)
    case .i64: convert(src, dst, blocks, Int64.self)
    case .q4_0: q4_0(src, dst, blocks)
    case .q4_1: q4_1(src, dst, blocks)
    case .q5_0: q5_0(src, dst, blocks)
    case .q5_1: q5_1(src, dst, blocks)
    case .q8_0: q8_0(src, dst, blocks)
    case .q2_K: q2_K(src, dst, blocks)
    case .q3_K: q3_K(src, dst, blocks)
    case .q4_K: q4_K(src, dst, blocks)
    case .q5_K: q5_K(src, dst, blocks)
    case .q6_K: q6_K(src, dst, blocks)
    default: break
    }
  }

  /// Dequantizes `rows` rows of `rowLength` elements, splitting rows across `pool` when the
  /// tensor is large enough to repay a fork-join.
  static func rows(
    _ type: GGMLType, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, rows: Int,
    rowLength: Int, pool: ThreadPool?
  ) {
    let blocksPerRow = rowLength / type.blockSize
    let rowBytes = blocksPerRow &* type.typeSize
    guard let pool, pool.threadCount > 1, rows > 1, rows &* rowBytes >= 1 << 16 else {
      run(type, src, dst, blocks: rows &* blocksPerRow)
      return
    }
    pool.parallelFor(rows) { range in
      run(
        type, src + range.lowerBound &* rowBytes, dst + range.lowerBound &* rowLength,
        blocks: range.count &* blocksPerRow)
    }
  }

  static func float16(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    if Int(bitPattern: src) & 1 == 0 {
      HalfPrecision.float16ToFloat32(src.assumingMemoryBound(to: UInt16.self), dst, count: n)
    } else {
      for i in 0..<n { dst[i] = half(src, i &* 2) }
    }
  }

  static func bfloat16(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    let out = UnsafeMutableRawPointer(dst).assumingMemoryBound(to: UInt32.self)
    for i in 0..<n {
      out[i] = UInt32(src.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)) &<< 16
    }
  }

  static func convert<T: BinaryInteger>(
    _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int, _: T.Type
  ) {
    let size = MemoryLayout<T>.size
    for i in 0..<n { dst[i] = Float(src.loadUnaligned(fromByteOffset: i &* size, as: T.self)) }
  }

  static func convert(
    _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int, _: Double.Type
  ) {
    for i in 0..<n { dst[i] = Float(src.loadUnaligned(fromByteOffset: i &* 8, as: Double.self)) }
  }

  static func q4_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    for b in 0..<blocks {
      let s = src + b &* 18
      let y = dst + b &* 32
      let d = half(s, 0)
      for j in 0..<16 {
        let q = byte(s, 2 &+ j)
        y[j] = d * Float(Int32(q & 0x0F) &- 8)
        y[j &+ 16] = d * Float(Int32(q &>> 4) &- 8)
      }
    }
  }

  static func q4_1(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    for b in 0..<blocks {
      let s = src + b &* 20
      let y = dst + b &* 32
      let d = half(s, 0)
      let m = half(s, 2)
      for j in 0..<16 {
        let q = byte(s, 4 &+ j)
        y[j] = d * Float(q & 0x0F) + m
        y[j &+ 16] = d * Float(q &>> 4) + m
      }
    }
  }

  static func q5_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    for b in 0..<blocks {
      let s = src + b &* 22
      let y = dst + b &* 32
      let d = half(s, 0)
      let qh = UInt32(littleEndian: s.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
      for j in 0..<16 {
        let q = UInt32(byte(s, 6 &+ j))
        let lo = (q & 0x0F) | (((qh &>> UInt32(j)) & 1) &<< 4)
        let hi = (q &>> 4) | (((qh &>> UInt32(j &+ 16)) & 1) &<< 4)
        y[j] = d * Float(Int32(lo) &- 16)
        y[j &+ 16] = d * Float(Int32(hi) &- 16)
      }
    }
  }

  static func q5_1(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    for b in 0..<blocks {
      let s = src + b &* 24
      let y = dst + b &* 32
      let d = half(s, 0)
      let m = half(s, 2)
      let qh = UInt32(littleEndian: s.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
      for j in 0..<16 {
        let q = UInt32(byte(s, 8 &+ j))
        let lo = (q & 0x0F) | (((qh &>> UInt32(j)) & 1) &<< 4)
        let hi = (q &>> 4) | (((qh &>> UInt32(j &+ 16)) & 1) &<< 4)
        y[j] = d * Float(lo) + m
        y[j &+ 16] = d * Float(hi) + m
      }
    }
  }

  static func q8_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    for b in 0..<blocks {
      let s = src + b &* 34
      let y = dst + b &* 32
      let d = half(s, 0)
      for j in 0..<32 { y[j] = Float(s.load(fromByteOffset: 2 &+ j, as: Int8.self)) * d }
    }
  }

  static func q2_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    for b in 0..<blocks {
      let s = src + b &* 84
      let y = dst + b &* 256
      let d = half(s, 80)
      let dmin = half(s, 82)
      // Element e = h*128 + shift*32 + l reads bits (2*shift) of qs[h*32 + l]; group e/16.
      for e in 0..<256 {
        let h = e &>> 7
        let shift = (e &>> 5) & 3
        let l = e & 31
        let q = (byte(s, 16 &+ h &* 32 &+ l) &>> UInt8(shift &* 2)) & 3
        let sc = byte(s, e &>> 4)
        let dl = d * Float(sc & 0x0F)
        let ml = dmin * Float(sc &>> 4)
        y[e] = dl * Float(q) - ml
      }
    }
  }

  static func q3_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { buffer in
      let scale = buffer.baseAddress!
      for b in 0..<blocks {
        let s = src + b &* 110
        let y = dst + b &* 256
        let d = half(s, 108)
        // 16 six-bit scales: low nibbles from bytes 96..103, high pairs from bytes 104..107.
        for i in 0..<16 {
          let low = (byte(s, 96 &+ (i & 7)) &>> UInt8((i &>> 3) &* 4)) & 0x0F
          let high = (byte(s, 104 &+ (i & 3)) &>> UInt8((i &>> 2) &* 2)) & 0x03
          scale[i] = d * Float(Int32(low | (high &<< 4)) &- 32)
        }
        // Element e = h*128 + shift*32 + l: 2 bits from qs[h*32 + l], the hmask bit e/32 of
        // hmask[l]; a clear hmask bit subtracts 4.
        for e in 0..<256 {
          let h = e &>> 7
          let shift = (e &>> 5) & 3
          let l = e & 31
          let low = Int32((byte(s, 32 &+ h &* 32 &+ l) &>> UInt8(shift &* 2)) & 3)
          let mask = (byte(s, l) &>> UInt8(e &>> 5)) & 1
          y[e] = scale[e &>> 4] * Float(low &- (mask == 0 ? 4 : 0))
        }
      }
    }
  }

  /// The 8 six-bit scales and mins of a Q4_K/Q5_K block packed in 12 bytes at `p`.
  @inline(__always)
  private static func scaleMin(_ p: UnsafeRawPointer, _ j: Int) -> (UInt8, UInt8) {
    if j < 4 { return (byte(p, j) & 0x3F, byte(p, j &+ 4) & 0x3F) }
    let packed = byte(p, j &+ 4)
    let sc = (packed & 0x0F) | ((byte(p, j &- 4) &>> 2) & 0x30)
    let mn = (packed &>> 4) | ((byte(p, j) &>> 2) & 0x30)
    return (sc, mn)
  }

  static func q4_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    for b in 0..<blocks {
      let s = src + b &* 144
      let y = dst + b &* 256
      let d = half(s, 0)
      let dmin = half(s, 2)
      for chunk in 0..<4 {
        let (sc1, m1) = scaleMin(s + 4, chunk &* 2)
        let (sc2, m2) = scaleMin(s + 4, chunk &* 2 &+ 1)
        let d1 = d * Float(sc1)
        let dm1 = dmin * Float(m1)
        let d2 = d * Float(sc2)
        let dm2 = dmin * Float(m2)
        let q = s + (16 &+ chunk &* 32)
        let out = y + chunk &* 64
        for l in 0..<32 {
          let v = byte(q, l)
          out[l] = d1 * Float(v & 0x0F) - dm1
          out[l &+ 32] = d2 * Float(v &>> 4) - dm2
        }
      }
    }
  }

  static func q5_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    for b in 0..<blocks {
      let s = src + b &* 176
      let y = dst + b &* 256
      let d = half(s, 0)
      let dmin = half(s, 2)
      for chunk in 0..<4 {
        let (sc1, m1) = scaleMin(s + 4, chunk &* 2)
        let (sc2, m2) = scaleMin(s + 4, chunk &* 2 &+ 1)
        let d1 = d * Float(sc1)
        let dm1 = dmin * Float(m1)
        let d2 = d * Float(sc2)
        let dm2 = dmin * Float(m2)
        let q = s + (48 &+ chunk &* 32)
        let out = y + chunk &* 64
        let bit1 = UInt8(chunk &* 2)
        for l in 0..<32 {
          let v = byte(q, l)
          let h = byte(s, 16 &+ l)
          let lo = (v & 0x0F) | (((h &>> bit1) & 1) &<< 4)
          let hi = (v &>> 4) | (((h &>> (bit1 &+ 1)) & 1) &<< 4)
          out[l] = d1 * Float(lo) - dm1
          out[l &+ 32] = d2 * Float(hi) - dm2
        }
      }
    }
  }

  static func q6_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ blocks: Int) {
    for b in 0..<blocks {
      let s = src + b &* 210
      let y = dst + b &* 256
      let d = half(s, 208)
      for h in 0..<2 {
        let ql = s + h &* 64
        let qh = s + (128 &+ h &* 32)
        let sc = s + (192 &+ h &* 8)
        let out = y + h &* 128
        for l in 0..<32 {
          let group = l &>> 4
          let a = byte(ql, l)
          let c = byte(ql, l &+ 32)
          let hb = byte(qh, l)
          let q1 = Int32((a & 0x0F) | ((hb & 3) &<< 4)) &- 32
          let q2 = Int32((c & 0x0F) | (((hb &>> 2) & 3) &<< 4)) &- 32
          let q3 = Int32((a &>> 4) | (((hb &>> 4) & 3) &<< 4)) &- 32
          let q4 = Int32((c &>> 4) | (((hb &>> 6) & 3) &<< 4)) &- 32
          out[l] = (d * Float(sc.load(fromByteOffset: group, as: Int8.self))) * Float(q1)
          out[l &+ 32] = (d * Float(sc.load(fromByteOffset: group &+ 2, as: Int8.self))) * Float(q2)
          out[l &+ 64] = (d * Float(sc.load(fromByteOffset: group &+ 4, as: Int8.self))) * Float(q3)
          out[l &+ 96] = (d * Float(sc.load(fromByteOffset: group &+ 6, as: Int8.self))) * Float(q4)
        }
      }
    }
  }
}
