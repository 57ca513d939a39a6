// The batch stream: content equals a naive twin (schedule → row → filter), exact resume from a
// cursor, filter counts, paired targets, and the scaling statistics.

import Foundation
import LanternShards
import LanternTestSupport
import Testing

@testable import LanternDictionaries

private let a = "blocks.0.hook_resid_post"
private let c = "blocks.0.hook_mlp_out"
private let rows = [37, 50, 23, 64, 41, 29, 33, 45]

/// The inputs (and targets) the stream must deliver at positions `range`, by the naive twin.
private func expectedRows(
  _ plan: DataPlan, _ range: Range<Int>, filter: NaiveFilter, input: [(index: Int, d: Int)],
  target: [(index: Int, d: Int)]
) -> (inputs: [[Float]], targets: [[Float]], counts: FilterCounts) {
  var inputs: [[Float]] = []
  var targets: [[Float]] = []
  var counts = FilterCounts()
  for location in plan.shuffle.locations(range) {
    let u = TestJob.number(location.unit.id)
    counts.positions += 1
    switch filter.verdict(unit: u, row: location.row) {
    case 1: counts.specialTokens += 1
    case 2: counts.normOutliers += 1
    default:
      counts.kept += 1
      inputs.append(TestJob.row(hooks: input, unit: u, row: location.row))
      targets.append(TestJob.row(hooks: target, unit: u, row: location.row))
    }
  }
  return (inputs, targets, counts)
}

@Test func dataStreamDeliversTheNaiveTwinsRowsWithFiltersCounted() throws {
  let job = try TestJob(hooks: [(a, 4), (c, 3)], rows: rows)
  defer { job.remove() }
  let source = try JobSource(url: job.url, hooks: [a], targetHooks: [c])
  let filterConfig = FilterConfig(
    excludedTokenIDs: [Int(TestJob.bos)], maxNormMultiple: 10, medianSampleRows: 60)
  let plan = try DataPlan(
    source: source, split: HeldOutSplit(oneIn: 4, seed: 2),
    shuffle: ShuffleConfig(seed: 3, pieceRows: 20, groupPieces: 3),
    filter: filterConfig)
  #expect(plan.heldOutUnits.count == 2 && plan.trainingUnits.count == 6)
  let naive = NaiveFilter(
    excluded: [TestJob.bos], multiple: 10, hookIndices: [(0, 4), (1, 3)], trainingUnits: plan.trainingUnits,
    sampleRows: 60)
  // The writer's Float32 norms against the twin's Double ones: equal to rounding.
  #expect(zip(plan.filter.normLimits, naive.limits).allSatisfy { abs($0 / $1 - 1) < 1e-6 })
  // Two and a half epochs, batches of 24.
  let positions = plan.shuffle.rowsPerEpoch * 5 / 2
  let stream = try plan.trainingStream(batchSize: 24, prefetch: 2)
  var got: [Batch] = []
  while got.last.map({ $0.cursor < positions }) ?? true { got.append(try stream.next()!) }
  let end = got.last!.cursor
  let expected = expectedRows(plan, 0..<end, filter: naive, input: [(0, 4)], target: [(1, 3)])
  #expect(got.allSatisfy { $0.rowCount == 24 })
  #expect(got.flatMap(\.inputs) == expected.inputs.flatMap { $0 })
  #expect(got.flatMap { $0.targets! } == expected.targets.flatMap { $0 })
  // Counts: per batch, summed by the stream, and recomputed from side data alone.
  let summed = got.map(\.counts).reduce(FilterCounts(), +)
  #expect(summed == expected.counts && stream.counts == summed)
  #expect(summed.specialTokens > 0 && summed.normOutliers > 0)
  #expect(try plan.filterCounts(positions: 0..<end) == expected.counts)
  let middle = expectedRows(plan, 100..<700, filter: naive, input: [], target: []).counts
  #expect(try plan.filterCounts(positions: 100..<700) == middle)
}

@Test func dataStreamResumesExactlyFromACursor() throws {
  let job = try TestJob(hooks: [(a, 4), (c, 3)], rows: rows)
  defer { job.remove() }
  let plan = try DataPlan(
    source: try JobSource(url: job.url, hooks: [a, c].prefix(1).map { $0 }, targetHooks: [c]),
    split: HeldOutSplit(oneIn: 4, seed: 2), shuffle: ShuffleConfig(seed: 8, pieceRows: 16, groupPieces: 2),
    filter: FilterConfig(excludedTokenIDs: [Int(TestJob.bos)]))
  let full = try drain(try plan.trainingStream(batchSize: 32, prefetch: 1), batches: 40)
  for k in [1, 7, 19, 33] {
    // Another queue depth and two decode threads: the same bytes.
    let resumed = try plan.trainingStream(
      batchSize: 32, startingAt: full[k - 1].cursor, prefetch: 4, decodeThreads: 2)
    let rest = try drain(resumed, batches: 40 - k)
    #expect(rest.map(\.cursor) == full[k...].map(\.cursor))
    for (x, y) in zip(rest, full[k...]) {
      #expect(x.inputs.withUnsafeBytes { Array($0) } == y.inputs.withUnsafeBytes { Array($0) })
      #expect(x.targets! == y.targets!)
      #expect(x.counts == y.counts && x.epoch == y.epoch)
    }
  }
  // The batches run into later epochs, which continue with fresh permutations.
  #expect(full.last!.epoch >= 2)
}

@Test func dataStreamStopsAfterTheGivenEpochsAndRejectsBadSettings() throws {
  let job = try TestJob(hooks: [(a, 4)], rows: [30, 30])
  defer { job.remove() }
  let plan = try DataPlan(source: try JobSource(url: job.url, hooks: [a]), split: .none, filter: .keepAll)
  let batches = try drain(try plan.trainingStream(batchSize: 7, epochs: 1))
  #expect(batches.count == 60 / 7 && batches.last!.cursor <= 60)
  #expect(throws: DataError.self) { try plan.trainingStream(batchSize: 0) }
  #expect(throws: DataError.self) { try plan.trainingStream(batchSize: 4, startingAt: -1) }
  #expect(throws: DataError.self) { try plan.evaluationStream(batchSize: 4) }  // nothing held out
  // Every row filtered out: an error, not a hang.
  let all = try DataPlan(
    source: try JobSource(url: job.url, hooks: [a]), split: .none,
    filter: FilterConfig(excludedTokenIDs: (0..<200).map { $0 }, maxNormMultiple: nil))
  #expect(throws: DataError.self) { _ = try drain(try all.trainingStream(batchSize: 4), batches: 1) }
}

@Test func dataStatisticsFollowSAELensScalingOverTheFirstBatches() throws {
  let job = try TestJob(hooks: [(a, 4), (c, 3)], rows: rows)
  defer { job.remove() }
  let plan = try DataPlan(
    source: try JobSource(url: job.url, hooks: [a], targetHooks: [c]), split: .none,
    shuffle: ShuffleConfig(seed: 4, pieceRows: 25, groupPieces: 2),
    filter: FilterConfig(excludedTokenIDs: [7]))
  let stats = try plan.statistics(batchSize: 16, batches: 5)
  // Reference: the same 80 rows, taken from the naive twin of the stream.
  let naive = NaiveFilter(
    excluded: [7], multiple: 10, hookIndices: [(0, 4), (1, 3)], trainingUnits: plan.trainingUnits,
    sampleRows: 65_536)
  var expectedInputs: [[Float]] = []
  var expectedTargets: [[Float]] = []
  var p = 0
  while expectedInputs.count < 80 {
    let location = plan.shuffle.location(ofPosition: p)
    p += 1
    let u = TestJob.number(location.unit.id)
    guard naive.verdict(unit: u, row: location.row) == 0 else { continue }
    expectedInputs.append(TestJob.row(hooks: [(0, 4)], unit: u, row: location.row))
    expectedTargets.append(TestJob.row(hooks: [(1, 3)], unit: u, row: location.row))
  }
  func scale(_ rows: [[Float]]) -> Double {
    let meanNorm =
      rows.map { r in r.map { Double($0) * Double($0) }.reduce(0, +).squareRoot() }.reduce(0, +) / 80
    return Double(rows[0].count).squareRoot() / meanNorm
  }
  func mean(_ rows: [[Float]]) -> [Double] {
    (0..<rows[0].count).map { j in rows.map { Double($0[j]) }.reduce(0, +) / 80 }
  }
  #expect(stats.rows == 80)
  #expect(abs(Double(stats.inputScales[0]) / scale(expectedInputs) - 1) < 1e-5)
  #expect(abs(Double(stats.targetScales[0]) / scale(expectedTargets) - 1) < 1e-5)
  for (x, y) in zip(stats.inputMean, mean(expectedInputs)) { #expect(abs(Double(x) / y - 1) < 1e-6) }
  for (x, y) in zip(stats.targetMean!, mean(expectedTargets)) { #expect(abs(Double(x) / y - 1) < 1e-6) }
  // After scaling, E‖x‖ = sqrt(d) on those rows.
  let scaled = expectedInputs.map { r in r.map { Double($0) * Double(stats.inputScales[0]) } }
  let meanNorm = scaled.map { r in r.map { $0 * $0 }.reduce(0, +).squareRoot() }.reduce(0, +) / 80
  #expect(abs(meanNorm - 2) < 1e-4)
}
