// Seeded whole-cluster simulations: thousands of worker state machines and one coordinator over
// simulated links, with deaths, restarts, pauses past the lease, stalled and duplicated messages,
// coordinator crashes with torn journals, and poison units. Every run must commit every unit exactly
// once (the simulation checks each manifest append) and end. Also: the capacity driver's counts.

import Testing

@testable import LanternWire

@Test func faultFreeClusterCommitsEveryUnitOnce() {
  let report = SimulationReport.run(SimulationConfig(workers: 50, units: 400, seed: 1))
  #expect(report.violations.isEmpty, "\(report.violations)")
  #expect(report.finished && report.manifestEntries == 400)
  #expect(report.assignments == 400)
}

@Test func thousandsOfFaultyWorkersStillCommitEveryUnitExactlyOnce() {
  var config = SimulationConfig(workers: 2000, units: 5000, seed: 20_240_611)
  config.unitMs = 3000...9000
  config.deathProbability = 0.01
  config.pauseProbability = 0.01
  config.pauseMs = 4000...45_000
  config.duplicateProbability = 0.01
  config.stallProbability = 0.001
  config.coordinatorCrashes = 2
  config.maxEvents = 2_000_000  // about 0.5 M are needed; a runaway run fails fast
  let report = SimulationReport.run(config)
  #expect(report.violations.isEmpty, "\(report.violations)")
  #expect(report.finished, "ended: \(report.ended), failed: \(report.failedUnits.map(\.unit))")
  #expect(report.manifestEntries == 5000)
  #expect(report.workerDeaths > 0 && report.workerPauses > 0 && report.duplicates > 0)
  #expect(report.coordinatorRestarts == 2)
  #expect(report.assignments > 5000)  // some units were attempted more than once
  #expect(report.workersRejected == 0)  // random faults never look like a broken worker
}

@Test(arguments: [1, 2, 3] as [UInt64])
func severeFaultsAcrossSeeds(seed: UInt64) {
  var config = SimulationConfig(workers: 60, units: 300, seed: seed)
  config.unitMs = 1000...4000
  config.deathProbability = 0.05
  config.pauseProbability = 0.05
  config.duplicateProbability = 0.05
  config.stallProbability = 0.01
  config.coordinatorCrashes = 3
  config.coordinator.retryBudget = 8
  config.coordinator.exclusionThreshold = 6
  let report = SimulationReport.run(config)
  #expect(report.violations.isEmpty, "\(report.violations)")
  #expect(report.finished && report.manifestEntries == 300, "seed \(seed): \(report.failedUnits.map(\.unit))")
}

@Test func poisonUnitsFailTheJobWhileEveryOtherUnitCommits() {
  var config = SimulationConfig(workers: 40, units: 200, seed: 9)
  config.poisonUnits = 3
  config.unitMs = 1000...3000
  let report = SimulationReport.run(config)
  #expect(report.violations.isEmpty, "\(report.violations)")
  #expect(report.ended && !report.finished)
  #expect(report.failedUnits.map(\.unit) == ["u0", "u1", "u2"])
  #expect(report.failedUnits.allSatisfy { $0.reasons.count == 4 })
  #expect(report.manifestEntries == 197)
  #expect(report.workerDeaths == 12)
  #expect(report.workersRejected == 0)
}

@Test func capacityDriverReportsCounts() {
  let report = CoordinatorLoad.run(workers: 200, messages: 20_000, seed: 3)
  #expect(report.messages == 20_000)
  #expect(report.ticks == 20_000 / 50)
  #expect(report.commits > 2000 && report.commits == report.confirmations)
  #expect(report.assignments >= report.commits)
  #expect(report.events == report.messages + report.ticks + report.confirmations)
  #expect(report.simulatedMs > 99_000)
  #expect(CoordinatorLoad.run(workers: 200, messages: 20_000, seed: 3) == report)
}

@Test func simulationsReplayExactlyFromTheirSeed() {
  var config = SimulationConfig(workers: 30, units: 120, seed: 77)
  config.deathProbability = 0.05
  config.duplicateProbability = 0.05
  config.coordinatorCrashes = 1
  let first = SimulationReport.run(config)
  #expect(SimulationReport.run(config) == first)
  config.seed = 78
  #expect(SimulationReport.run(config) != first)
}
