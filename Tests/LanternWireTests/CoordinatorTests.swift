// The coordinator state machine as values: the happy path, lease expiry and reassignment, fencing of
// zombies, exactly-once under duplicate COMMITTEDs, the retry budget, worker exclusion, job kinds,
// drain and hand-back. Each test reads the actions the coordinator returned, nothing internal.

import Testing

@testable import LanternWire

@Test func happyPathCommitsEveryUnitOnceThenEndsTheJob() throws {
  var bench = try Bench(units: units(2))
  #expect(
    bench.journal == [
      .started(epoch: 1, jobID: "test", unitCount: 2, fingerprint: bench.coordinator.fingerprint)
    ])
  let welcome = bench.from("w0", ready())
  #expect(messages(welcome, to: "w0").first == .welcome(Welcome(heartbeatMs: 1000, jobID: "test")))
  let first = try #require(assignment(welcome, to: "w0"))
  #expect(first.unit == "u0" && first.attempt == Attempt(epoch: 1, sequence: 1) && first.leaseMs == 120_000)
  #expect(first.kind == "extract" && first.spec == Array("{\"n\":0}".utf8))
  #expect(
    bench.from("w0", .progress(unit: "u0", attempt: first.attempt, completed: 1, total: 2), at: 500).isEmpty)
  let authorize = bench.from("w0", .commit(unit: "u0", attempt: first.attempt), at: 900)
  #expect(
    messages(authorize, to: "w0") == [.authorize(unit: "u0", attempt: first.attempt, commitLeaseMs: 60_000)])
  let recorded = bench.from("w0", .committed(unit: "u0", attempt: first.attempt, outputs: output("u0")))
  #expect(
    manifestRequests(recorded) == [
      ManifestEntry(unit: "u0", attempt: first.attempt, worker: "w0", outputs: output("u0"))
    ])
  #expect(messages(recorded, to: "w0").isEmpty)  // no ACK before the manifest is durable
  let acked = bench.confirmManifest()
  #expect(messages(acked, to: "w0").first == .ack(unit: "u0", attempt: first.attempt))
  let second = try #require(assignment(acked, to: "w0"))
  #expect(second.unit == "u1" && second.attempt > first.attempt)
  let end = bench.commitHeld("w0", second)
  #expect(messages(end, to: "w0").prefix(1) == [.ack(unit: "u1", attempt: second.attempt)])
  #expect(disconnectCode(end, to: "w0") == .jobOver)
  #expect(bench.finished == [.jobFinished])
  #expect(bench.manifest.map(\.unit) == ["u0", "u1"])
  let kinds = bench.journal.map { record -> String in
    switch record {
    case .started: return "started"
    case .leased: return "leased"
    case .committed: return "committed"
    default: return "other"
    }
  }
  #expect(kinds == ["started", "leased", "committed", "leased", "committed"])
  #expect(bench.coordinator.status.finished)
}

@Test func expiredProgressLeaseIsReassignedWithAHigherAttempt() throws {
  var bench = try Bench(units: units(1))
  let first = try #require(assignment(bench.from("w0", ready()), to: "w0"))
  bench.from("w1", ready())
  // Heartbeats keep both alive; progress without growth renews nothing.
  var time: Int64 = 0
  while time < 120_000 {
    time += 1000
    bench.from("w0", .progress(unit: "u0", attempt: first.attempt, completed: 0, total: 0), at: time)
    bench.from("w1", .heartbeat)
    let actions = bench.tick(at: time)
    #expect(assignment(actions, to: "w1") == nil)
  }
  let expiry = bench.tick(at: 121_000)
  #expect(messages(expiry, to: "w0").contains { $0.isRevoke })
  let second = try #require(assignment(expiry, to: "w1"))
  #expect(second.unit == "u0" && second.attempt > first.attempt)
  #expect(
    bench.journal.contains(
      .failed(unit: "u0", attempt: first.attempt, worker: "w0", reason: "no progress for 120000 ms")))
}

@Test func growingProgressRenewsTheLease() throws {
  var bench = try Bench(units: units(1))
  let held = try #require(assignment(bench.from("w0", ready()), to: "w0"))
  for step in 1...300 {
    let time = Int64(step) * 1000
    bench.from(
      "w0", .progress(unit: "u0", attempt: held.attempt, completed: UInt64(step / 60 + 1), total: 10),
      at: time)
    #expect(!messages(bench.tick(at: time), to: "w0").contains { $0.isRevoke })
  }
  #expect(
    messages(bench.from("w0", .commit(unit: "u0", attempt: held.attempt)), to: "w0").first?.isAuthorize
      == true)
}

@Test func zombieCommitIsRefusedAndTheCurrentAttemptWins() throws {
  var bench = try Bench(units: units(1))
  let zombie = try #require(assignment(bench.from("w0", ready()), to: "w0"))
  bench.from("w1", ready())
  // w0 stays connected (heartbeats) but stops making progress: its lease expires.
  for time in stride(from: Int64(1000), through: 121_000, by: 1000) {
    bench.from("w0", .heartbeat, at: time)
    bench.from("w1", .heartbeat)
    bench.tick(at: time)
  }
  let fresh = try #require(assignment(bench.lastActions, to: "w1"))
  let refused = bench.from("w0", .commit(unit: "u0", attempt: zombie.attempt))
  #expect(messages(refused, to: "w0").first?.isRefuse == true)
  #expect(
    messages(bench.from("w1", .commit(unit: "u0", attempt: fresh.attempt)), to: "w1").first?.isAuthorize
      == true)
  bench.from("w1", .committed(unit: "u0", attempt: fresh.attempt, outputs: output("u0")))
  bench.confirmManifest()
  #expect(bench.manifest.map(\.attempt) == [fresh.attempt])
  #expect(bench.coordinator.counters.refusals == 1)
}

@Test func zombieThatWasAuthorizedStillCommitsFirstAndTheNewLeaseIsRevoked() throws {
  var config = CoordinatorConfig(jobID: "test")
  config.commitLeaseMs = 5000
  var bench = try Bench(units: units(2), config: config)
  let first = try #require(assignment(bench.from("w0", ready()), to: "w0"))
  bench.from("w2", ready())  // holds u1 throughout, so the job stays open
  bench.from("w1", ready())
  bench.from("w0", .commit(unit: "u0", attempt: first.attempt), at: 100)
  // w0 pauses mid-rename past its commit lease; the unit goes to w1.
  for time: Int64 in [2000, 4000] {
    for worker in ["w0", "w1", "w2"] { bench.from(worker, .heartbeat, at: time) }
    bench.tick(at: time)
  }
  let expiry = bench.tick(at: 5200)
  let second = try #require(assignment(expiry, to: "w1"))
  // w0 wakes and reports its renamed outputs: first committer wins.
  let late = bench.from("w0", .committed(unit: "u0", attempt: first.attempt, outputs: output("u0")), at: 5300)
  #expect(messages(late, to: "w1").contains { $0.isRevoke })
  #expect(manifestRequests(late).map(\.attempt) == [first.attempt])
  bench.confirmManifest()
  #expect(
    messages(bench.from("w1", .commit(unit: "u0", attempt: second.attempt)), to: "w1").first?.isRefuse == true
  )
  #expect(bench.manifest.count == 1 && bench.finished.isEmpty)
}

@Test func duplicateCommittedIsRecordedOnce() throws {
  var bench = try Bench(units: units(2))
  let held = try #require(assignment(bench.from("w0", ready()), to: "w0"))
  bench.from("w0", .commit(unit: held.unit, attempt: held.attempt))
  let committed = Message.committed(unit: held.unit, attempt: held.attempt, outputs: output(held.unit))
  #expect(manifestRequests(bench.from("w0", committed)).count == 1)
  #expect(bench.from("w0", committed).isEmpty)  // while recording: ignored
  let acked = bench.confirmManifest()
  let next = try #require(assignment(acked, to: "w0"))
  let again = bench.from("w0", committed)  // after done: ACK again, no second manifest line
  #expect(messages(again, to: "w0") == [.ack(unit: held.unit, attempt: held.attempt)])
  #expect(manifestRequests(again).isEmpty)
  #expect(bench.coordinator.counters.duplicateCommits == 1)
  bench.commitHeld("w0", next)
  #expect(bench.manifest.map(\.unit) == ["u0", "u1"])
}

@Test func poisonUnitExhaustsItsBudgetWhileOthersFinish() throws {
  var bench = try Bench(units: units(4))
  var assignments: [String: Assignment] = [:]
  for worker in ["w0", "w1", "w2"] {
    assignments[worker] = assignment(bench.from(worker, ready()), to: worker)
  }
  var poisonFailures = 0
  var steps = 0
  while bench.finished.isEmpty && steps < 100 {
    steps += 1
    for worker in ["w0", "w1", "w2"] {
      guard let held = assignments[worker] else { continue }
      let actions: [CoordinatorAction]
      assignments[worker] = nil
      if held.unit == "u0" {
        poisonFailures += 1
        actions = bench.from(
          worker, .failed(unit: "u0", attempt: held.attempt, reason: "segfault #\(poisonFailures)"))
      } else {
        actions = bench.commitHeld(worker, held)
      }
      for other in ["w0", "w1", "w2"] {
        if let next = assignment(actions, to: other) { assignments[other] = next }
      }
    }
  }
  #expect(poisonFailures == 4)
  #expect(Set(bench.manifest.map(\.unit)) == ["u1", "u2", "u3"])
  let failure = try #require(bench.finished.first)
  guard case .jobFailed(let failures) = failure else {
    Issue.record("expected jobFailed, got \(failure)")
    return
  }
  #expect(failures.map(\.unit) == ["u0"])
  #expect(failures[0].reasons.count == 4)
  #expect(failures[0].reasons[0].hasPrefix("attempt 1.1 on w0: segfault #1"))
  #expect(bench.coordinator.counters.exclusions == 0)
}

@Test func workerThatKeepsFailingIsExcludedAndItsUnitsFinishElsewhere() throws {
  var bench = try Bench(units: units(4))
  var bad = try #require(assignment(bench.from("bad", ready()), to: "bad"))
  for round in 1...3 {
    let actions = bench.from("bad", .failed(unit: bad.unit, attempt: bad.attempt, reason: "disk full"))
    if round < 3 {
      bad = try #require(assignment(actions, to: "bad"))
    } else {
      #expect(disconnectCode(actions, to: "bad") == .rejected)
      #expect(
        bench.journal.contains {
          if case .excluded(let worker, _) = $0 { return worker == "bad" } else { return false }
        })
    }
  }
  // Coming back under the same id, even as a new process, is refused.
  #expect(disconnectCode(bench.from("bad", ready(incarnation: 2)), to: "bad") == .rejected)
  var good = try #require(assignment(bench.from("good", ready()), to: "good"))
  for _ in 0..<3 { good = try #require(assignment(bench.commitHeld("good", good), to: "good")) }
  bench.commitHeld("good", good)
  #expect(bench.finished == [.jobFinished] && bench.manifest.count == 4)
  #expect(bench.coordinator.status.excludedWorkers == 1)
}

@Test func repeatedFailuresOfOneUnitDoNotExcludeAWorker() throws {
  var config = CoordinatorConfig(jobID: "test")
  config.retryBudget = 10
  var bench = try Bench(units: units(1), config: config)
  var held = try #require(assignment(bench.from("w0", ready()), to: "w0"))
  for _ in 0..<5 {
    held = try #require(
      assignment(bench.from("w0", .failed(unit: "u0", attempt: held.attempt, reason: "flaky")), to: "w0"))
  }
  #expect(bench.coordinator.counters.exclusions == 0)
}

@Test func unitsGoOnlyToWorkersOfTheirKind() throws {
  var bench = try Bench(units: units(1, kind: "train"))
  let first = bench.from("w0", ready())
  #expect(assignment(first, to: "w0") == nil)
  #expect(
    first.contains {
      if case .log(let line) = $0 { return line.contains("none of this job's kinds") } else { return false }
    })
  let trainer = Capabilities(cores: 1, memoryBytes: 1, kinds: ["extract", "train"])
  #expect(assignment(bench.from("w1", ready(kinds: trainer)), to: "w1")?.kind == "train")
}

@Test func drainingWorkerGetsNoNewWorkAndLeavingHandsBackWithoutAFailure() throws {
  var bench = try Bench(units: units(2))
  let held = try #require(assignment(bench.from("w0", ready()), to: "w0"))
  bench.from("w0", .draining)
  let after = bench.commitHeld("w0", held)
  #expect(assignment(after, to: "w0") == nil)
  let other = try #require(assignment(bench.from("w1", ready()), to: "w1"))
  let left = bench.from("w1", .disconnect(code: .leaving, reason: "SIGTERM"))
  #expect(
    left.contains(
      .appendJournal(
        .released(unit: other.unit, attempt: other.attempt, worker: "w1", reason: "worker left: SIGTERM"))))
  #expect(bench.coordinator.counters.failures == 0)
  let retaken = try #require(assignment(bench.from("w2", ready()), to: "w2"))
  #expect(retaken.unit == other.unit && retaken.attempt > other.attempt)
}

@Test func silentWorkerLosesItsUnitToLiveness() throws {
  var bench = try Bench(units: units(1))
  let held = try #require(assignment(bench.from("w0", ready()), to: "w0"))
  bench.from("w1", ready())
  for time in stride(from: Int64(250), through: 3000, by: 250) {
    bench.from("w1", .heartbeat, at: time)
    #expect(assignment(bench.tick(at: time), to: "w1") == nil)
  }
  let lost = bench.tick(at: 3250)
  #expect(disconnectCode(lost, to: "w0") == .reconnect)
  #expect(assignment(lost, to: "w1")?.attempt ?? held.attempt > held.attempt)
  // The coordinator heartbeats w1 when it has sent it nothing for H.
  #expect(messages(bench.tick(at: 4500), to: "w1") == [.heartbeat])
}

@Test func rejectedManifestEntryIsRefusedCountedAndRetried() throws {
  var bench = try Bench(units: units(1))
  let held = try #require(assignment(bench.from("w0", ready()), to: "w0"))
  bench.from("w0", .commit(unit: "u0", attempt: held.attempt))
  bench.from("w0", .committed(unit: "u0", attempt: held.attempt, outputs: output("u0")))
  let rejected = bench.coordinator.handle(
    .manifestRejected(unit: "u0", attempt: held.attempt, reason: "checksum mismatch", now: 0))
  #expect(messages(rejected, to: "w0").first?.isRefuse == true)
  #expect(
    rejected.contains(
      .appendJournal(
        .failed(
          unit: "u0", attempt: held.attempt, worker: "w0", reason: "outputs rejected: checksum mismatch"))))
  // w0 failed u0 but it is the only worker, so it gets the unit again under a new attempt.
  #expect(assignment(rejected, to: "w0").map { $0.attempt > held.attempt } == true)
}

@Test func commitAfterTheLeaseRanOutIsRefusedBeforeAnyTick() throws {
  var bench = try Bench(units: units(2))
  let held = try #require(assignment(bench.from("w0", ready()), to: "w0"))
  let late = bench.from("w0", .commit(unit: "u0", attempt: held.attempt), at: 120_001)
  #expect(
    messages(late, to: "w0").first == .refuse(unit: "u0", attempt: held.attempt, reason: "lease expired"))
  #expect(bench.coordinator.counters.failures == 1)
  #expect(assignment(late, to: "w0")?.unit == "u1")
}

@Test func aPublishedHolderThatNeverResendsIsIdleAfterTheCommitLease() throws {
  var bench = try Bench(units: units(2))
  let holding = Holding(unit: "u0", attempt: Attempt(epoch: 9, sequence: 1), phase: .published)
  let welcome = bench.from("w0", ready(holding: holding))
  #expect(assignment(welcome, to: "w0") == nil)
  for time in stride(from: Int64(1000), through: 60_000, by: 1000) {
    bench.from("w0", .heartbeat, at: time)
    #expect(assignment(bench.tick(at: time), to: "w0") == nil)
  }
  bench.from("w0", .heartbeat, at: 60_001)
  #expect(assignment(bench.tick(at: 60_001), to: "w0") != nil)
}

@Test func liveAttemptsAreExactlyThoseThatCanStillCommit() throws {
  var bench = try Bench(units: units(2))
  // A queued unit that was never leased: any attempt could still be re-adopted.
  #expect(bench.coordinator.attemptIsLive(unit: "u0", attempt: Attempt(epoch: 1, sequence: 5)))
  let held = try #require(assignment(bench.from("w0", ready()), to: "w0"))
  let other = Attempt(epoch: 1, sequence: 99)
  #expect(bench.coordinator.attemptIsLive(unit: "u0", attempt: held.attempt))
  #expect(!bench.coordinator.attemptIsLive(unit: "u0", attempt: other))
  #expect(!bench.coordinator.attemptIsLive(unit: "nope", attempt: held.attempt))
  bench.from("w0", .commit(unit: "u0", attempt: held.attempt))
  #expect(bench.coordinator.attemptIsLive(unit: "u0", attempt: held.attempt))
  bench.from("w0", .committed(unit: "u0", attempt: held.attempt, outputs: []))
  #expect(bench.coordinator.attemptIsLive(unit: "u0", attempt: held.attempt))
  bench.confirmManifest()
  #expect(!bench.coordinator.attemptIsLive(unit: "u0", attempt: held.attempt))
}

@Test func anEmptyJobFinishesAtStart() throws {
  let bench = try Bench(units: [])
  #expect(bench.finished == [.jobFinished])
}
