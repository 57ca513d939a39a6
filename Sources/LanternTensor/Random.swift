// The seeded random numbers everything in Lantern shares: one small generator whose whole state
// is one UInt64 (so a checkpoint stores it and a resumed run continues the same stream), and a
// stateless mixing function for values that must be pure functions of (seed, position).
//
// SplitMix64 (Steele, Lea, Flood 2014, "Fast splittable pseudorandom number generators"): not
// cryptographic, statistically sound for initialisation, sampling and shuffling. Normal variates use
// Box–Muller in Double, so they are identical on every machine. Left out: other distributions.

import Foundation

/// A seeded SplitMix64 generator; `state` is everything needed to resume the stream.
public struct SeededRandom: RandomNumberGenerator, Sendable, Equatable, Codable {
  /// The whole generator state.
  public var state: UInt64

  /// A generator whose stream is a pure function of `seed`.
  public init(seed: UInt64) { state = seed }

  /// A generator resumed from a saved `state`.
  public init(state: UInt64) { self.state = state }

  /// The next 64 random bits.
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    return SeededRandom.finalize(state)
  }

  /// Uniform in [0, 1) with 24 random bits (every value exactly representable).
  public mutating func nextFloat() -> Float { Float(next() >> 40) * 0x1p-24 }

  /// Uniform in [0, 1) with 53 random bits.
  public mutating func nextDouble() -> Double { Double(next() >> 11) * 0x1p-53 }

  /// Uniform integer in 0..<bound (Lemire's multiply-shift; tiny bias below 2⁻³² for bounds < 2³²).
  public mutating func nextIndex(below bound: Int) -> Int {
    precondition(bound > 0, "bound must be positive")
    return Int((UInt64(bound).multipliedFullWidth(by: next())).high)
  }

  /// A standard normal variate (Box–Muller in Double, one variate per call).
  public mutating func nextNormal() -> Float {
    let u1 = max(nextDouble(), 0x1p-53)
    let u2 = nextDouble()
    return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
  }

  /// SplitMix64's output function: a bijective 64-bit mixer.
  @inline(__always)
  public static func finalize(_ x: UInt64) -> UInt64 {
    var z = x
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A stateless hash of (seed, a, b): for random choices that must be pure functions of a
  /// position (shuffles, held-out splits) without any stored generator state.
  @inline(__always)
  public static func mix(seed: UInt64, _ a: UInt64, _ b: UInt64 = 0) -> UInt64 {
    finalize(finalize(seed &+ 0x9E37_79B9_7F4A_7C15 &* (a &+ 1)) ^ (b &* 0xD6E8_FEB8_6659_FD93))
  }

  /// A uniformly random permutation of 0..<n (Fisher–Yates), a pure function of `seed`.
  public static func permutation(_ n: Int, seed: UInt64) -> [Int] {
    var rng = SeededRandom(seed: seed)
    var p = Array(0..<n)
    if n > 1 {
      for i in stride(from: n - 1, to: 0, by: -1) {
        p.swapAt(i, rng.nextIndex(below: i + 1))
      }
    }
    return p
  }
}
