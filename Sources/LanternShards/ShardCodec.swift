// The element path of a block: Float32 rows → stored dtype → layout (before LZ4), and back,
// plus the row norms recorded as side data. Conversions use LanternTensor.HalfPrecision
// (round to nearest-even on the way down); the bf16 byte-shuffle decode is fused into one pass.

import LanternTensor

/// Converts blocks between Float32 rows and their stored, rearranged bytes.
enum ShardCodec {
  /// Writes `count` Float32 values as `dtype` elements at `dst`.
  static func store(
    _ src: UnsafePointer<Float>, count: Int, dtype: ShardDType, into dst: UnsafeMutableRawPointer
  ) {
    switch dtype {
    case .float32:
      dst.copyMemory(from: src, byteCount: count &* 4)
    case .float16:
      HalfPrecision.float32ToFloat16(src, dst.assumingMemoryBound(to: UInt16.self), count: count)
    case .bfloat16:
      HalfPrecision.float32ToBFloat16(src, dst.assumingMemoryBound(to: UInt16.self), count: count)
    }
  }

  /// Applies `layout` to `count` stored elements (`src` → `dst`); plain copies.
  static func arrange(
    _ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, count: Int, dtype: ShardDType,
    layout: ShardLayout
  ) {
    let size = dtype.elementSize
    switch layout {
    case .plain: dst.copyMemory(from: src, byteCount: count &* size)
    case .byteShuffle: ByteShuffle.shuffleBytes(src, dst, count: count, size: size)
    case .bitShuffle: ByteShuffle.shuffleBits(src, dst, count: count, size: size)
    }
  }

  /// Undoes `layout` and converts `count` elements to Float32 in `out`. `scratch` holds at least
  /// `count × elementSize` bytes and may be overwritten.
  static func restore(
    _ raw: UnsafeRawPointer, count: Int, dtype: ShardDType, layout: ShardLayout,
    scratch: UnsafeMutableRawPointer, into out: UnsafeMutablePointer<Float>
  ) {
    let size = dtype.elementSize
    let stored: UnsafeRawPointer
    switch (layout, dtype) {
    case (.plain, _):
      stored = raw
    case (.byteShuffle, .bfloat16):
      ByteShuffle.unshuffleBFloat16ToFloat32(raw, out, count: count)
      return
    case (.byteShuffle, .float32):
      ByteShuffle.unshuffleBytes(raw, out, count: count, size: 4)
      return
    case (.bitShuffle, .float32):
      ByteShuffle.unshuffleBits(raw, out, count: count, size: 4)
      return
    case (.byteShuffle, _):
      ByteShuffle.unshuffleBytes(raw, scratch, count: count, size: size)
      stored = UnsafeRawPointer(scratch)
    case (.bitShuffle, _):
      ByteShuffle.unshuffleBits(raw, scratch, count: count, size: size)
      stored = UnsafeRawPointer(scratch)
    }
    switch dtype {
    case .float32:
      UnsafeMutableRawPointer(out).copyMemory(from: stored, byteCount: count &* 4)
    case .float16:
      HalfPrecision.float16ToFloat32(stored.assumingMemoryBound(to: UInt16.self), out, count: count)
    case .bfloat16:
      HalfPrecision.bfloat16ToFloat32(stored.assumingMemoryBound(to: UInt16.self), out, count: count)
    }
  }

  /// The L2 norm of a Float32 row (8 running sums of squares, then a square root).
  static func norm(_ row: UnsafePointer<Float>, count: Int) -> Float {
    var acc = SIMD8<Float>()
    var i = 0
    let raw = UnsafeRawPointer(row)
    while i &+ 8 <= count {
      let v = raw.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
      acc.addProduct(v, v)
      i &+= 8
    }
    var sum = acc.sum()
    while i < count {
      sum += row[i] * row[i]
      i &+= 1
    }
    return sum.squareRoot()
  }
}
