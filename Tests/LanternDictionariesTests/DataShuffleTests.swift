// The held-out split and the shuffle: pure functions of (seed, unit index) and (seed, position);
// every epoch a bijection onto the training rows; groups mix pieces of different units.

import Foundation
import LanternShards
import LanternTensor
import LanternTestSupport
import Testing

@testable import LanternDictionaries

private func units(_ rows: [Int]) -> [DataUnit] {
  rows.enumerated().map { DataUnit(id: "u\($0.offset)", index: $0.offset, rowCount: $0.element) }
}

private struct Key: Hashable {
  var unit: Int
  var row: Int
}

@Test func dataShuffleEveryEpochIsABijectionOntoTheTrainingRows() throws {
  let list = units([37, 50, 23, 64, 41, 9, 30])
  let plan = try ShufflePlan(units: list, config: ShuffleConfig(seed: 5, pieceRows: 20, groupPieces: 3))
  let n = plan.rowsPerEpoch
  #expect(n == 254)
  let all = Set(list.flatMap { u in (0..<u.rowCount).map { Key(unit: u.index, row: $0) } })
  var orders: [[Key]] = []
  for epoch in 0..<3 {
    let locations = plan.locations((epoch * n)..<((epoch + 1) * n))
    #expect(locations.allSatisfy { $0.epoch == epoch })
    let keys = locations.map { Key(unit: $0.unit.index, row: $0.row) }
    #expect(keys.count == n && Set(keys) == all)
    orders.append(keys)
  }
  #expect(orders[0] != orders[1] && orders[1] != orders[2])
  // Rows of different units interleave within a group (the first group holds 3 pieces).
  let firstGroup = orders[0].prefix(40).map(\.unit)
  #expect(Set(firstGroup).count >= 2)
  var switches = 0
  for i in 1..<firstGroup.count where firstGroup[i] != firstGroup[i - 1] { switches += 1 }
  #expect(switches >= 10)
}

@Test func dataShuffleRowAtAPositionIsAPureFunctionOfSeedAndPosition() throws {
  let list = units([37, 50, 23, 64, 41])
  let config = ShuffleConfig(seed: 11, pieceRows: 16, groupPieces: 2)
  let bulk = try ShufflePlan(units: list, config: config).locations(0..<600)
  // A fresh plan, asked position by position in a scrambled order, agrees everywhere.
  let fresh = try ShufflePlan(units: list, config: config)
  var rng = SeededRandom(seed: 3)
  for p in (0..<600).shuffled(using: &rng) {
    #expect(fresh.location(ofPosition: p) == bulk[p])
  }
  let other = try ShufflePlan(units: list, config: ShuffleConfig(seed: 12, pieceRows: 16, groupPieces: 2))
  #expect(other.locations(0..<600) != bulk)
}

@Test func dataSplitHoldsOutOneUnitInEveryBlockAsAPureFunction() throws {
  let split = HeldOutSplit(oneIn: 20, seed: 4)
  for block in 0..<50 {
    let held = (0..<20).filter { split.isHeldOut(unitIndex: block * 20 + $0) }
    #expect(held.count == 1)
  }
  // Depends on the seed, and on nothing but (seed, index).
  let a = (0..<400).filter { split.isHeldOut(unitIndex: $0) }
  let b = (0..<400).filter { HeldOutSplit(oneIn: 20, seed: 5).isHeldOut(unitIndex: $0) }
  #expect(a != b)
  #expect(a == (0..<400).filter { HeldOutSplit(oneIn: 20, seed: 4).isHeldOut(unitIndex: $0) })
  #expect(!(0..<100).contains { HeldOutSplit.none.isHeldOut(unitIndex: $0) })
  #expect(throws: DataError.self) { try HeldOutSplit(oneIn: 1).validate() }
}

@Test func dataSplitTrainingNeverYieldsAHeldOutRowAndEvaluationYieldsOnlyThem() throws {
  // 30 units of 12 rows; one in 5 held out.
  let job = try TestJob(hooks: [("blocks.0.hook_resid_post", 3)], rows: [Int](repeating: 12, count: 30))
  defer { job.remove() }
  let split = HeldOutSplit(oneIn: 5, seed: 9)
  let plan = try DataPlan(
    source: try JobSource(url: job.url, hooks: ["blocks.0.hook_resid_post"]), split: split,
    shuffle: ShuffleConfig(seed: 1, pieceRows: 5, groupPieces: 4), filter: .keepAll)
  let heldIDs = Set((0..<30).filter { split.isHeldOut(unitIndex: $0) }.map { WorkUnit.id(index: $0) })
  #expect(heldIDs.count == 6)
  #expect(Set(plan.heldOutUnits.map(\.id)) == heldIDs)
  #expect(plan.trainingUnits.count == 24 && plan.shuffle.rowsPerEpoch == 24 * 12)
  // Two epochs of training: every row's unit (column 0 = unit·1000 + row) is a training unit.
  let training = try drain(try plan.trainingStream(batchSize: 16, epochs: 2))
  let seen = training.flatMap { batch in (0..<batch.rowCount).map { Int(batch.inputs[$0 * 3]) } }
  #expect(seen.count == 2 * 24 * 12)
  #expect(!seen.contains { heldIDs.contains(WorkUnit.id(index: $0 / 1000)) })
  // Evaluation: exactly the held-out rows, in plan order, the last batch short.
  let evaluation = try drain(try plan.evaluationStream(batchSize: 16))
  let evaluated = evaluation.flatMap { batch in (0..<batch.rowCount).map { Int(batch.inputs[$0 * 3]) } }
  let expected = plan.heldOutUnits.flatMap { u in (0..<12).map { TestJob.number(u.id) * 1000 + $0 } }
  #expect(evaluated == expected)
  #expect(evaluation.last!.rowCount == 72 % 16)
}

@Test func dataPlanFingerprintNamesEverythingThatDecidesTheRows() throws {
  let job = try TestJob(hooks: [("blocks.0.hook_resid_post", 3)], rows: [20, 30, 25])
  defer { job.remove() }
  let open = { (shuffle: ShuffleConfig, source: any ActivationSource) in
    try DataPlan(
      source: source, split: HeldOutSplit(oneIn: 2), shuffle: shuffle,
      filter: FilterConfig(excludedTokenIDs: [7]))
  }
  let source = try openActivationSource(path: job.url.path, hooks: ["blocks.0.hook_resid_post"])
  #expect(source is JobSource)
  let base = try open(ShuffleConfig(seed: 1), source).fingerprint
  #expect(try open(ShuffleConfig(seed: 1), source).fingerprint == base)
  #expect(try open(ShuffleConfig(seed: 2), source).fingerprint != base)
  #expect(try open(ShuffleConfig(seed: 1, pieceRows: 10), source).fingerprint != base)
  let npy = try openActivationSource(path: Fixtures.url("dictionaries-data/x_f32.npy").path, hooks: [])
  #expect(try open(ShuffleConfig(seed: 1), npy).fingerprint != base)
  #expect(throws: DataError.self) {
    try openActivationSource(path: job.url.path, hooks: ["blocks.0.hook_resid_post"], targetData: "y.npy")
  }
  #expect(throws: DataError.self) {
    try openActivationSource(path: "x.npy", hooks: [], targetHooks: ["blocks.0.hook_mlp_out"])
  }
}

@Test func dataShuffleConfigFitsAMemoryBudget() {
  // d = 576 Float32 rows in 512 MiB: pieces of 8,192 rows, as many as fit.
  let narrow = ShuffleConfig(memoryBudget: 512 << 20, rowBytes: 576 * 4)
  #expect(narrow.pieceRows == 8192 && narrow.groupPieces == (512 << 20) / (576 * 4) / 8192)
  // A 12-layer crosscoder (12 × 768): smaller pieces, still 16 of them, within the budget.
  let wide = ShuffleConfig(memoryBudget: 512 << 20, rowBytes: 12 * 768 * 4)
  #expect(wide.groupPieces >= 16 && wide.pieceRows * wide.groupPieces * 12 * 768 * 4 <= 512 << 20)
}
