// Float16 / BFloat16 ⇄ Float32 conversion at memory bandwidth.
//
// Float16 uses the hardware F16C instructions (the package builds with -target-cpu haswell);
// bf16 is the top half of a Float32, rounded to nearest-even on the way down, written as
// plain loops over UInt32 bits so LLVM vectorizes them (SIMDMask ops run per lane).

/// Half-precision conversions over raw buffers.
public enum HalfPrecision {
  /// dst[i] = Float(src[i]) for IEEE binary16 bit patterns.
  public static func float16ToFloat32(
    _ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int
  ) {
    var i = 0
    let raw = UnsafeRawPointer(src)
    while i &+ 8 <= count {
      let h = raw.loadUnaligned(fromByteOffset: i &* 2, as: SIMD8<Float16>.self)
      UnsafeMutableRawPointer(dst + i).storeBytes(of: SIMD8<Float>(h), as: SIMD8<Float>.self)
      i &+= 8
    }
    while i < count {
      dst[i] = Float(Float16(bitPattern: src[i]))
      i &+= 1
    }
  }

  /// dst[i] = binary16 bit pattern of src[i], rounded to nearest-even.
  public static func float32ToFloat16(
    _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int
  ) {
    var i = 0
    let raw = UnsafeRawPointer(src)
    while i &+ 8 <= count {
      let f = raw.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
      UnsafeMutableRawPointer(dst + i).storeBytes(of: SIMD8<Float16>(f), as: SIMD8<Float16>.self)
      i &+= 8
    }
    while i < count {
      dst[i] = Float16(src[i]).bitPattern
      i &+= 1
    }
  }

  /// dst[i] = Float(bf16 src[i]) (a 16-bit shift).
  public static func bfloat16ToFloat32(
    _ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int
  ) {
    let out = UnsafeMutableRawPointer(dst).assumingMemoryBound(to: UInt32.self)
    for i in 0..<count { out[i] = UInt32(src[i]) &<< 16 }
  }

  /// dst[i] = bf16 bits of src[i], rounded to nearest-even; NaN stays NaN (quiet).
  public static func float32ToBFloat16(
    _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int
  ) {
    let bits = UnsafeRawPointer(src).assumingMemoryBound(to: UInt32.self)
    for i in 0..<count {
      let b = bits[i]
      let isNaN = (b & 0x7FFF_FFFF) > 0x7F80_0000
      let rounded = (b &+ 0x7FFF &+ ((b &>> 16) & 1)) &>> 16
      dst[i] = isNaN ? UInt16(truncatingIfNeeded: (b &>> 16) | 0x40) : UInt16(truncatingIfNeeded: rounded)
    }
  }
}
