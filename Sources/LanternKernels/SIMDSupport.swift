// Eight-lane loads, stores and exp for the element-wise kernels.
//
// Measured pitfalls (perf, release build): `SIMD8<Int32>(_:rounding:)` and
// `SIMD8<Float>.rounded(_:)` compile to per-lane generic conversions (~25% of a forward pass when
// used in exp), and raw `loadUnaligned` / `storeBytes` of a SIMD8 can go through byte-wise memcpy
// witnesses. Here rounding uses the 1.5·2²³ magic-number trick and loads/stores are spelled
// lane by lane, which LLVM turns into single vector instructions.

/// Loads p[0..<8].
@inline(__always)
public func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
  SIMD8(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7])
}

/// Stores v into p[0..<8].
@inline(__always)
public func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
  p[0] = v[0]
  p[1] = v[1]
  p[2] = v[2]
  p[3] = v[3]
  p[4] = v[4]
  p[5] = v[5]
  p[6] = v[6]
  p[7] = v[7]
}

/// Lane-wise min(max(v, lo), hi), spelled per lane: `SIMD.clamped` is a generic call here.
@inline(__always)
public func clamp8(_ v: SIMD8<Float>, _ lo: Float, _ hi: Float) -> SIMD8<Float> {
  @inline(__always) func c(_ x: Float) -> Float { x < lo ? lo : (x > hi ? hi : x) }
  return SIMD8(c(v[0]), c(v[1]), c(v[2]), c(v[3]), c(v[4]), c(v[5]), c(v[6]), c(v[7]))
}

/// exp(x) for eight lanes: Cephes-style range reduction and a degree-6 polynomial (≈1–2 ulp).
/// Inputs are clamped to [-87.3, 88.3], so exp(-∞) gives ~1e-38, not 0: callers that need exact
/// zeros (masked softmax) skip those lanes.
@inline(__always)
public func exp8(_ input: SIMD8<Float>) -> SIMD8<Float> {
  let x = clamp8(input, -87.3, 88.3)
  // Adding 1.5·2²³ (+127, the exponent bias) rounds x·log2(e) to the nearest integer n (ties to
  // even) and leaves n + 127 in the low mantissa bits of the sum.
  let magic = SIMD8<Float>(repeating: 12_582_912 + 127)
  let shifted = x.addingProduct(x, SIMD8(repeating: 0.442_695_04)) + magic  // x·log2(e) + magic
  let n = shifted - magic
  var r = x.addingProduct(n, SIMD8(repeating: -0.693_359_375))
  r = r.addingProduct(n, SIMD8(repeating: 2.121_944_4e-4))
  var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
  p = SIMD8(repeating: 1.398_199_95e-3).addingProduct(p, r)
  p = SIMD8(repeating: 8.333_451_9e-3).addingProduct(p, r)
  p = SIMD8(repeating: 4.166_579_59e-2).addingProduct(p, r)
  p = SIMD8(repeating: 1.666_666_55e-1).addingProduct(p, r)
  p = SIMD8(repeating: 5.000_000_12e-1).addingProduct(p, r)
  p = (r + 1).addingProduct(p, r * r)
  let bits = unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &<< 23
  return p * unsafeBitCast(bits, to: SIMD8<Float>.self)
}
