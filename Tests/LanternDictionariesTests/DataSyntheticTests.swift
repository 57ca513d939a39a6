// The ground-truth source (pure function of (seed, row), power-law frequencies, rows = sums of
// active features) and the recovery metric on cases whose answer is known in closed form.

import Foundation
import LanternFormats
import LanternTestSupport
import Testing

@testable import LanternDictionaries

@Test func dataSyntheticRowsArePureFunctionsOfSeedAndRow() throws {
  let config = SyntheticConfig(
    features: 64, d: 16, rows: 2000, exponent: 0.8, meanActive: 3, noise: 0.01, seed: 5, blockRows: 100)
  let one = try SyntheticSource(config)
  let two = try SyntheticSource(config)
  #expect(one.directions == two.directions)
  // Directions: unit norm, F > d.
  for f in 0..<64 {
    let norm = (0..<16).map { one.directions[f * 16 + $0] * one.directions[f * 16 + $0] }.reduce(0, +)
    #expect(abs(norm - 1) < 1e-5)
  }
  var x = [Float](repeating: 0, count: 16)
  var y = [Float](repeating: 0, count: 16)
  for i in [1999, 0, 737, 5] {
    one.row(i, into: &x)
    two.row(i, into: &y)
    #expect(x == y)
  }
  var other = config
  other.seed = 6
  var z = [Float](repeating: 0, count: 16)
  try SyntheticSource(other).row(737, into: &z)
  one.row(737, into: &x)
  #expect(x != z)
  // Streams like any source: the same batches twice.
  let plan = try DataPlan(
    source: one, split: HeldOutSplit(oneIn: 10),
    shuffle: ShuffleConfig(seed: 1, pieceRows: 50, groupPieces: 4), filter: .keepAll)
  let first = try drain(try plan.trainingStream(batchSize: 64), batches: 10)
  let again = try drain(try plan.trainingStream(batchSize: 64), batches: 10)
  #expect(first.map(\.inputs) == again.map(\.inputs))
}

@Test func dataSyntheticRowsAreSumsOfActiveFeaturesWithPowerLawFrequencies() throws {
  let config = SyntheticConfig(
    features: 40, d: 8, rows: 20_000, exponent: 1, meanActive: 2, magnitude: .uniform(low: 0.5, high: 1.5),
    seed: 3)
  let source = try SyntheticSource(config)
  // p_f ∝ (f+1)^-1, summing to the mean active count.
  let harmonic = (1...40).map { 1 / Double($0) }.reduce(0, +)
  for f in 0..<40 { #expect(abs(Double(source.frequencies[f]) - 2 / harmonic / Double(f + 1)) < 1e-6) }
  var counts = [Int](repeating: 0, count: 40)
  var row = [Float](repeating: 0, count: 8)
  for i in 0..<20_000 {
    let active = source.activations(row: i)
    var sum = [Float](repeating: 0, count: 8)
    for (f, m) in active {
      counts[f] += 1
      #expect(m >= 0.5 && m < 1.5)
      for j in 0..<8 { sum[j] += m * source.directions[f * 8 + j] }
    }
    if i < 200 {
      source.row(i, into: &row)
      #expect(zip(row, sum).allSatisfy { abs($0 - $1) < 1e-6 })
    }
  }
  // Empirical frequencies within 5 binomial standard deviations of p_f.
  for f in 0..<40 {
    let p = Double(source.frequencies[f])
    let sd = (p * (1 - p) / 20_000).squareRoot()
    #expect(abs(Double(counts[f]) / 20_000 - p) < 5 * sd)
  }
  #expect(throws: DataError.self) { try SyntheticSource(SyntheticConfig(features: 0, d: 8, rows: 10)) }
}

@Test func dataSyntheticFrequenciesAndMagnitudesOfAWideDictionary() throws {
  // 500 features, α = 0.5, 8 active on average, exponential magnitudes of mean 2.
  let source = try SyntheticSource(
    SyntheticConfig(
      features: 500, d: 32, rows: 10, exponent: 0.5, meanActive: 8, magnitude: .exponential(mean: 2), seed: 9)
  )
  let n = 10_000
  var counts = [Int](repeating: 0, count: 500)
  var magnitudes: [Double] = []
  for i in 0..<n {
    for (f, m) in source.activations(row: i) {
      counts[f] += 1
      magnitudes.append(Double(m))
    }
  }
  #expect(abs(Double(magnitudes.count) / Double(n) - 8) < 0.1)
  let mean = magnitudes.reduce(0, +) / Double(magnitudes.count)
  #expect(abs(mean - 2) < 5 * 2 / Double(magnitudes.count).squareRoot())
  #expect(magnitudes.allSatisfy { $0 >= 0 })
  // Binned by tenths of the features, the counts follow Σ p_f within 5 standard deviations.
  for bin in 0..<10 {
    let features = (bin * 50)..<((bin + 1) * 50)
    let p = features.map { Double(source.frequencies[$0]) }
    let expected = p.reduce(0, +) * Double(n)
    let sd = (p.map { $0 * (1 - $0) }.reduce(0, +) * Double(n)).squareRoot()
    #expect(abs(Double(features.map { counts[$0] }.reduce(0, +)) - expected) < 5 * sd)
  }
}

/// Writes the ground-truth source's rows and directions as .npy (LANTERN_SYNTHETIC_DUMP=dir), so
/// that a PyTorch SAE can be trained on exactly these rows for comparison.
private let syntheticDump = ProcessInfo.processInfo.environment["LANTERN_SYNTHETIC_DUMP"]

@Test(.enabled(if: syntheticDump != nil, "set LANTERN_SYNTHETIC_DUMP to a directory to write the rows"))
func dataSyntheticDumpForAReferenceTrainer() throws {
  let config = SyntheticConfig(features: 256, d: 64, rows: 100_000, exponent: 0.5, meanActive: 4, seed: 0)
  let source = try SyntheticSource(config)
  var rows = [Float](repeating: 0, count: config.rows * config.d)
  rows.withUnsafeMutableBufferPointer { buffer in
    for i in 0..<config.rows { source.row(i, into: buffer.baseAddress! + i * config.d) }
  }
  let dir = URL(fileURLWithPath: syntheticDump!)
  try NPY.writeFloat32(rows, shape: [config.rows, config.d], to: dir.appendingPathComponent("rows.npy"))
  try NPY.writeFloat32(
    source.directions, shape: [config.features, config.d], to: dir.appendingPathComponent("directions.npy"))
  // The metric on the truth itself, for the reference script to compare against.
  #expect(
    abs(
      FeatureRecovery.meanMaxCosine(trueDirections: source.directions, decoderRows: source.directions, d: 64)
        - 1)
      < 1e-5)
}
