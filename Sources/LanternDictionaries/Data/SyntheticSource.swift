// The ground-truth source: sparse features in superposition, and the recovery metric.
//
// F true features are random unit directions in d dimensions (F > d: superposition; entries
// standard normal, then normalised). Feature f fires independently in each row with probability
// p_f = min(1, c·(f+1)^(−α)) — a power law of exponent α, with c set so that the expected number of
// active features per row is `meanActive`. An active feature has a non-negative magnitude drawn
// from the stated distribution; a row is the sum of magnitude × direction over its active features,
// plus optional Gaussian noise. Row i is a pure function of (seed, i) (a generator seeded with
// mix(seed, i)), so the source streams, shuffles and resumes like any other.
// Recovery metric: the mean over true features of the largest cosine similarity to any decoder row
// (Sharkey et al. 2022, "Taking features out of superposition with sparse autoencoders"; the
// "mean max cosine similarity" of their toy-data experiments).

import Foundation
import LanternTensor

/// The distribution of an active feature's magnitude (all non-negative).
public enum SyntheticMagnitude: Sendable, Hashable {
  /// Always `value`.
  case constant(Float)
  /// Uniform in [low, high).
  case uniform(low: Float, high: Float)
  /// Exponential with this mean.
  case exponential(mean: Float)
}

/// Settings of the ground-truth generator.
public struct SyntheticConfig: Sendable, Hashable {
  /// True features F.
  public var features: Int
  /// Row width d.
  public var d: Int
  /// Rows the source holds (positions per epoch before the held-out split).
  public var rows: Int
  /// Power-law exponent α of the firing probabilities.
  public var exponent: Float
  /// Expected active features per row.
  public var meanActive: Float
  public var magnitude: SyntheticMagnitude
  /// Standard deviation of Gaussian noise added to every coordinate (0: none).
  public var noise: Float
  public var seed: UInt64
  /// Rows per unit (for the held-out split and the shuffle).
  public var blockRows: Int

  public init(
    features: Int, d: Int, rows: Int, exponent: Float = 0.5, meanActive: Float = 4,
    magnitude: SyntheticMagnitude = .uniform(low: 0.5, high: 1.5), noise: Float = 0, seed: UInt64 = 0,
    blockRows: Int = 4096
  ) {
    self.features = features
    self.d = d
    self.rows = rows
    self.exponent = exponent
    self.meanActive = meanActive
    self.magnitude = magnitude
    self.noise = noise
    self.seed = seed
    self.blockRows = blockRows
  }
}

/// Rows made of sparse true features in superposition.
public final class SyntheticSource: ActivationSource {
  public let config: SyntheticConfig
  /// True feature directions [F, d], unit norm, row-major.
  public let directions: [Float]
  /// Firing probability of each feature [F].
  public let frequencies: [Float]
  private let blocks: [(features: Range<Int>, bound: Float)]
  public let inputHooks: [HookColumns]
  public let targetHooks: [HookColumns] = []
  public let units: [DataUnit]
  public let defaultExcludedTokenIDs: [Int32] = []
  public var name: String { "synthetic (F \(config.features), d \(config.d), seed \(config.seed))" }

  public init(_ config: SyntheticConfig) throws {
    guard config.features >= 1, config.d >= 1, config.rows >= 1, config.blockRows >= 1 else {
      throw DataError.invalidSetting(name: "synthetic", reason: "features, d, rows and blockRows must be ≥ 1")
    }
    guard config.meanActive > 0, config.exponent >= 0, config.noise >= 0 else {
      throw DataError.invalidSetting(name: "synthetic", reason: "meanActive > 0, exponent ≥ 0 and noise ≥ 0")
    }
    self.config = config
    var rng = SeededRandom(seed: SeededRandom.mix(seed: config.seed, 0x4449_5253))
    var directions = [Float](repeating: 0, count: config.features * config.d)
    for f in 0..<config.features {
      var norm: Float = 0
      for j in 0..<config.d {
        let v = rng.nextNormal()
        directions[f * config.d + j] = v
        norm += v * v
      }
      let inverse = 1 / max(norm.squareRoot(), .leastNormalMagnitude)
      for j in 0..<config.d { directions[f * config.d + j] *= inverse }
    }
    self.directions = directions
    let weights = (0..<config.features).map { Float(Double($0 + 1).pow(-Double(config.exponent))) }
    let c = config.meanActive / weights.reduce(0, +)
    frequencies = weights.map { min(1, c * $0) }
    blocks = SyntheticSource.blocks(frequencies)
    inputHooks = [HookColumns(name: "synthetic", width: config.d, offset: 0)]
    units = rowBlocks(rowCount: config.rows, blockRows: config.blockRows)
  }

  /// The active features of row `i` and their magnitudes, ascending feature index.
  ///
  /// Feature f is active with probability p_f. Probabilities fall with f, so features are taken
  /// in blocks whose p_f lie in (q/2, q]: in a block with q < 1/2 the next candidate is a geometric
  /// skip of parameter q away and is accepted with probability p_f / q (thinning), which costs
  /// about two draws per active feature instead of one draw per feature.
  public func activations(row i: Int) -> [(feature: Int, magnitude: Float)] {
    var rng = SeededRandom(seed: SeededRandom.mix(seed: config.seed, 0x524F_5753, UInt64(i)))
    var out: [(Int, Float)] = []
    func magnitude() -> Float {
      switch config.magnitude {
      case .constant(let v): return max(0, v)
      case .uniform(let low, let high): return max(0, low + (high - low) * rng.nextFloat())
      case .exponential(let mean): return max(0, -mean * Float(Double(1 - rng.nextDouble()).logarithm))
      }
    }
    for block in blocks {
      if block.bound >= 0.5 {
        for f in block.features where rng.nextDouble() < Double(frequencies[f]) {
          out.append((f, magnitude()))
        }
        continue
      }
      let logMiss = Double(1 - block.bound).logarithm
      var f = block.features.lowerBound - 1
      while true {
        let skip = (Double(1 - rng.nextDouble()).logarithm / logMiss).rounded(.down)
        guard skip < Double(block.features.count) else { break }
        f += 1 + Int(skip)
        guard f < block.features.upperBound else { break }
        if rng.nextDouble() * Double(block.bound) < Double(frequencies[f]) { out.append((f, magnitude())) }
      }
    }
    return out
  }

  /// Runs of features whose probabilities lie in (bound/2, bound].
  private static func blocks(_ p: [Float]) -> [(features: Range<Int>, bound: Float)] {
    var out: [(Range<Int>, Float)] = []
    var start = 0
    while start < p.count, p[start] > 0 {
      var end = start + 1
      while end < p.count, p[end] > p[start] / 2 { end += 1 }
      out.append((start..<end, p[start]))
      start = end
    }
    return out
  }

  /// Writes row `i` [d] to `out`: the active features' sum plus noise.
  public func row(_ i: Int, into out: UnsafeMutablePointer<Float>) {
    let d = config.d
    out.initialize(repeating: 0, count: d)
    directions.withUnsafeBufferPointer { dirs in
      for (f, magnitude) in activations(row: i) {
        let dir = dirs.baseAddress! + f &* d
        for j in 0..<d { out[j] += magnitude * dir[j] }
      }
    }
    if config.noise > 0 {
      var rng = SeededRandom(seed: SeededRandom.mix(seed: config.seed, 0x4E4F_4953, UInt64(i)))
      for j in 0..<d { out[j] += config.noise * rng.nextNormal() }
    }
  }

  public func read(
    unit: DataUnit, rows: Range<Int>, inputs: UnsafeMutablePointer<Float>,
    targets: UnsafeMutablePointer<Float>?
  ) throws -> RowSide {
    let first = unit.index * config.blockRows + rows.lowerBound
    for r in 0..<rows.count { row(first + r, into: inputs + r &* config.d) }
    return RowSide(
      tokenIDs: nil,
      norms: [rowNorms(inputs, count: rows.count, stride: config.d, offset: 0, width: config.d)])
  }

  public func readSide(unit: DataUnit, rows: Range<Int>) throws -> RowSide {
    var x = [Float](repeating: 0, count: rows.count * config.d)
    return try x.withUnsafeMutableBufferPointer {
      try read(unit: unit, rows: rows, inputs: $0.baseAddress!, targets: nil)
    }
  }
}

extension Double {
  fileprivate func pow(_ y: Double) -> Double { Foundation.pow(self, y) }
  fileprivate var logarithm: Double { Foundation.log(self) }
}

/// How well a dictionary recovers known features.
public enum FeatureRecovery {
  /// Mean over the true features [F, d] of the largest cosine similarity to any decoder row
  /// [S, d] (a zero row has cosine 0 with everything).
  public static func meanMaxCosine(trueDirections: [Float], decoderRows: [Float], d: Int) -> Float {
    maxCosines(trueDirections: trueDirections, decoderRows: decoderRows, d: d).reduce(0, +)
      / Float(max(1, trueDirections.count / max(1, d)))
  }

  /// For each true feature, the largest cosine similarity to any decoder row.
  public static func maxCosines(trueDirections: [Float], decoderRows: [Float], d: Int) -> [Float] {
    guard d >= 1 else { return [] }
    let f = trueDirections.count / d
    let s = decoderRows.count / d
    guard f > 0 else { return [] }
    guard s > 0 else { return [Float](repeating: 0, count: f) }
    let t = normalized(trueDirections, d: d)
    let w = normalized(decoderRows, d: d)
    var best = [Float](repeating: -1, count: f)
    let chunk = 256
    var sims = [Float](repeating: 0, count: min(chunk, f) * s)
    for f0 in stride(from: 0, to: f, by: chunk) {
      let m = min(chunk, f - f0)
      t.withUnsafeBufferPointer { tb in
        w.withUnsafeBufferPointer { wb in
          sims.withUnsafeMutableBufferPointer { cb in
            // sims [m, S] = T[f0..<f0+m] [m, d] · Wᵀ [d, S]
            BLAS.sgemm(
              transA: false, transB: true, m: m, n: s, k: d, a: tb.baseAddress! + f0 * d, lda: d,
              b: wb.baseAddress!, ldb: d, c: cb.baseAddress!, ldc: s)
          }
        }
      }
      for i in 0..<m { best[f0 + i] = sims[(i * s)..<((i + 1) * s)].max() ?? 0 }
    }
    return best
  }

  /// Rows scaled to unit norm (zero rows stay zero).
  static func normalized(_ rows: [Float], d: Int) -> [Float] {
    var out = rows
    for r in 0..<(rows.count / d) {
      var norm: Float = 0
      for j in 0..<d { norm += rows[r * d + j] * rows[r * d + j] }
      let inverse: Float = norm > 0 ? 1 / norm.squareRoot() : 0
      for j in 0..<d { out[r * d + j] *= inverse }
    }
    return out
  }
}
