// Restarting the coordinator from its journal and manifest: a crash after every durable record of a
// scripted job (nothing committed lost or redone, leased units expired but held for reclaim, failure
// counts kept, attempts of the new epoch above every earlier one), a crash at every byte of the journal,
// re-adoption of working and published attempts, the reclaim grace, and foreign journals.

import Testing

@testable import LanternWire

/// A scripted job with commits, failures, a hand-back and units left leased at the end.
func scriptedHistory() throws -> Bench {
  var config = CoordinatorConfig(jobID: "test")
  config.retryBudget = 2
  var bench = try Bench(units: units(7), config: config)
  let a0 = try #require(assignment(bench.from("w0", ready()), to: "w0"))
  let a1 = try #require(assignment(bench.from("w1", ready()), to: "w1"))
  let a2 = try #require(assignment(bench.from("w2", ready()), to: "w2"))
  let b0 = try #require(assignment(bench.commitHeld("w0", a0), to: "w0"))
  let b1 = try #require(
    assignment(bench.from("w1", .failed(unit: a1.unit, attempt: a1.attempt, reason: "oom")), to: "w1"))
  bench.from("w2", .disconnect(code: .leaving, reason: "drain"))
  let c0 = try #require(assignment(bench.commitHeld("w0", b0), to: "w0"))
  let c1 = try #require(
    assignment(bench.from("w1", .failed(unit: b1.unit, attempt: b1.attempt, reason: "oom")), to: "w1"))
  let d0 = try #require(
    assignment(bench.from("w0", .failed(unit: c0.unit, attempt: c0.attempt, reason: "segv")), to: "w0"))
  // u1 fails a second time and is given up (budget 2); w0 moves on.
  #expect(d0.unit == "u1")
  let e0 = try #require(
    assignment(bench.from("w0", .failed(unit: d0.unit, attempt: d0.attempt, reason: "oom")), to: "w0"))
  #expect(bench.coordinator.status.givenUp == 1)
  _ = (a2, c1, e0)
  return bench
}

@Test func restartAfterEveryDurableRecordLosesNothingAndRedoesNothing() throws {
  let history = try scriptedHistory()
  let units = units(7)
  for cut in 0...history.durable.count {
    let prefix = Array(history.durable.prefix(cut))
    let journal = prefix.compactMap {
      if case .journal(let record) = $0 { return record } else { return nil }
    }
    let manifest = prefix.compactMap {
      if case .manifest(let entry) = $0 { return entry } else { return nil }
    }
    var open: [String: Attempt] = [:]
    var failures: [String: Int] = [:]
    var maxEpoch: UInt32 = 0
    var maxAttempt = Attempt(rawValue: 0)
    for record in journal {
      switch record {
      case .started(let epoch, _, _, _): maxEpoch = max(maxEpoch, epoch)
      case .leased(let unit, let attempt, _):
        open[unit] = attempt
        maxAttempt = max(maxAttempt, attempt)
      case .failed(let unit, let attempt, _, _):
        failures[unit, default: 0] += 1
        if open[unit] == attempt { open[unit] = nil }
      case .released(let unit, let attempt, _, _), .committed(let unit, let attempt, _):
        if open[unit] == attempt { open[unit] = nil }
      case .excluded: break
      }
    }
    for entry in manifest { open[entry.unit] = nil }
    let givenUp = failures.filter { $0.value >= 2 && !manifest.map(\.unit).contains($0.key) }.count
    var config = CoordinatorConfig(jobID: "test")
    config.retryBudget = 2
    var bench = try Bench(units: units, config: config, journal: journal, manifest: manifest, now: 1_000_000)
    let status = bench.coordinator.status
    #expect(bench.finished.isEmpty, "cut \(cut)")
    #expect(status.done == manifest.count && status.leased == 0, "cut \(cut)")
    #expect(status.reclaimable == open.count && status.givenUp == givenUp, "cut \(cut)")
    #expect(
      bench.journal.last
        == .started(
          epoch: maxEpoch + 1, jobID: "test", unitCount: 7, fingerprint: bench.coordinator.fingerprint))
    for (unit, count) in failures {
      #expect(bench.coordinator.units[Int(unit.dropFirst())!].failures.count == count)
    }
    // Finish the job with a fresh worker; reclaimable units wait out the grace.
    var held = assignment(bench.from("r0", ready(), at: 1_000_000), to: "r0")
    var time: Int64 = 1_000_000
    var newEntries: [ManifestEntry] = []
    while bench.finished.isEmpty && time < 1_100_000 {
      time += 1000
      if let current = held {
        #expect(current.attempt.epoch == maxEpoch + 1 && current.attempt > maxAttempt)
        let actions = bench.commitHeld("r0", current)
        newEntries.append(bench.manifest.last!)
        held = assignment(actions, to: "r0")
      } else {
        bench.from("r0", .heartbeat, at: time)
        held = assignment(bench.tick(at: time), to: "r0")
      }
    }
    let committed = (manifest + newEntries).map(\.unit)
    #expect(Set(committed).count == committed.count, "cut \(cut): a unit was committed twice")
    #expect(committed.count + givenUp == 7, "cut \(cut)")
    #expect(Set(newEntries.map(\.unit)).isDisjoint(with: manifest.map(\.unit)))
  }
}

@Test func restartAfterATornJournalAtEveryByte() throws {
  let history = try scriptedHistory()
  let bytes = history.journal.reduce(Journal.header) { $0 + Journal.encode($1) }
  var config = CoordinatorConfig(jobID: "test")
  config.retryBudget = 2
  for cut in 0...bytes.count {
    let replay = try Journal.replay(Array(bytes[0..<cut]))
    let bench = try Bench(
      units: units(7), config: config, journal: replay.records, manifest: history.manifest)
    #expect(bench.finished.isEmpty)
    #expect(bench.coordinator.status.done == history.manifest.count && bench.coordinator.status.leased == 0)
  }
}

/// A coordinator that leased u0 to w0 (and authorized it if `authorize`), then crashed.
func crashedWithLease(authorize: Bool) throws -> (journal: [JournalRecord], held: Assignment) {
  var bench = try Bench(units: units(2))
  let held = try #require(assignment(bench.from("w0", ready()), to: "w0"))
  if authorize { bench.from("w0", .commit(unit: held.unit, attempt: held.attempt)) }
  return (bench.journal, held)
}

@Test func aWorkingAttemptIsReadoptedAfterRestart() throws {
  let (journal, held) = try crashedWithLease(authorize: false)
  var bench = try Bench(units: units(2), journal: journal, now: 10_000)
  #expect(bench.coordinator.status.reclaimable == 1)
  #expect(bench.coordinator.attemptIsLive(unit: "u0", attempt: held.attempt))
  // Another worker gets the other unit, not the one held back for reclaim.
  #expect(assignment(bench.from("w1", ready(), at: 11_000), to: "w1")?.unit == "u1")
  let holding = Holding(unit: "u0", attempt: held.attempt, phase: .working)
  let back = bench.from("w0", ready(holding: holding, incarnation: 1, sequence: 2))
  #expect(messages(back, to: "w0").map(\.isWelcome) == [true])
  #expect(back.contains(.appendJournal(.leased(unit: "u0", attempt: held.attempt, worker: "w0"))))
  #expect(
    messages(bench.from("w0", .commit(unit: "u0", attempt: held.attempt)), to: "w0").first?.isAuthorize
      == true)
  #expect(bench.coordinator.counters.readoptions == 1)
}

@Test func aPublishedAttemptCommitsAfterRestart() throws {
  let (journal, held) = try crashedWithLease(authorize: true)
  var bench = try Bench(units: units(2), journal: journal, now: 10_000)
  let holding = Holding(unit: "u0", attempt: held.attempt, phase: .published)
  let welcome = bench.from("w0", ready(holding: holding, incarnation: 1, sequence: 2))
  #expect(assignment(welcome, to: "w0") == nil)  // busy until its COMMITTED is answered
  let recorded = bench.from("w0", .committed(unit: "u0", attempt: held.attempt, outputs: output("u0")))
  #expect(manifestRequests(recorded).map(\.attempt) == [held.attempt])
  let acked = bench.confirmManifest()
  #expect(messages(acked, to: "w0").first?.isAck == true)
  #expect(assignment(acked, to: "w0")?.unit == "u1")
}

@Test func afterTheGraceAReclaimableUnitIsReassignedAndTheLateHolderRevoked() throws {
  let (journal, held) = try crashedWithLease(authorize: false)
  var bench = try Bench(units: units(2), journal: journal, now: 10_000)
  let first = try #require(assignment(bench.from("w1", ready(), at: 10_000), to: "w1"))
  bench.commitHeld("w1", first)
  for time in stride(from: Int64(11_000), through: 49_000, by: 1000) {
    bench.from("w1", .heartbeat, at: time)
    #expect(assignment(bench.tick(at: time), to: "w1") == nil)
  }
  bench.from("w1", .heartbeat, at: 50_001)
  let late = try #require(assignment(bench.tick(at: 50_001), to: "w1"))
  #expect(late.unit == "u0" && late.attempt.epoch == 2)
  #expect(!bench.coordinator.attemptIsLive(unit: "u0", attempt: held.attempt))
  let holding = Holding(unit: "u0", attempt: held.attempt, phase: .working)
  let back = bench.from("w0", ready(holding: holding, incarnation: 1, sequence: 2))
  #expect(
    messages(back, to: "w0").contains(
      .revoke(unit: "u0", attempt: held.attempt, reason: "unit reassigned to attempt \(late.attempt)")))
}

@Test func aForeignJournalOrManifestHaltsTheCoordinator() throws {
  let foreign: [JournalRecord] = [.started(epoch: 1, jobID: "other", unitCount: 2, fingerprint: 0)]
  var bench = try Bench(units: units(2), journal: foreign)
  #expect(bench.finished.count == 1)
  #expect(bench.from("w0", ready()).isEmpty)
  let stranger = ManifestEntry(unit: "zz", attempt: Attempt(epoch: 1, sequence: 1), worker: "w0", outputs: [])
  let halted = try Bench(units: units(2), manifest: [stranger])
  guard case .halt(let reason) = halted.finished.first else {
    Issue.record("expected a halt")
    return
  }
  #expect(reason.contains("zz"))
}

@Test func aFinishedJobResumesAsFinished() throws {
  let entries = (0..<2).map {
    ManifestEntry(unit: "u\($0)", attempt: Attempt(epoch: 1, sequence: 1), worker: "w", outputs: [])
  }
  let bench = try Bench(units: units(2), manifest: entries)
  #expect(bench.finished == [.jobFinished])
}
