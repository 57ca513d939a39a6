// A tiny deterministic RNG for tests (SplitMix64), plus libm wrappers so test files need not
// import Foundation just for exp/log.

import Foundation

/// SplitMix64 (Steele et al. 2014): fast, seedable, good enough for test data.
public struct SplitMix64: RandomNumberGenerator {
  private var state: UInt64
  public init(seed: UInt64) { state = seed }
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  /// Uniform in [0, 1).
  public mutating func nextFloat() -> Float { Float(next() >> 40) / Float(1 << 24) }
}

public func _math_exp(_ x: Double) -> Double { Foundation.exp(x) }
public func _math_log(_ x: Double) -> Double { Foundation.log(x) }
