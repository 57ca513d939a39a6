// The worker state machine as values: the unit dialog, heartbeats, reconnection with backoff
// (1 s doubling to 32 s, jitter under 25 %), resending COMMIT/COMMITTED after a reconnect, DISCONNECT
// codes, drain (idle, finishing in time, handing back at the deadline) and busy/duplicate ASSIGNs.

import Testing

@testable import LanternWire

struct WorkerBench {
  var worker: WorkerState
  var now: Int64 = 0

  init(id: String = "w0") throws {
    worker = try WorkerState(config: WorkerConfig(workerID: id, capabilities: extract, incarnation: 7))
  }

  mutating func on(_ event: WorkerEvent) -> [WorkerAction] { worker.handle(event) }

  mutating func receive(_ message: Message, at time: Int64? = nil) -> [WorkerAction] {
    if let time { now = time }
    return worker.handle(.received(frames: message.encode(), now: now))
  }

  mutating func tick(at time: Int64) -> [WorkerAction] {
    now = time
    return worker.handle(.tick(now: time))
  }

  /// Starts, is welcomed (H = 1 s) and assigned `unit`.
  mutating func assigned(_ unit: String = "u0", attempt: Attempt = Attempt(epoch: 1, sequence: 1))
    -> Assignment
  {
    _ = on(.start(now: now))
    _ = receive(.welcome(Welcome(heartbeatMs: 1000, jobID: "job")))
    let assignment = Assignment(unit: unit, attempt: attempt, leaseMs: 60_000, kind: "extract", spec: [1])
    _ = receive(.assign(assignment))
    return assignment
  }
}

func sent(_ actions: [WorkerAction]) -> [Message] {
  actions.compactMap { if case .send(let message) = $0 { return message } else { return nil } }
}

func readyHolding(_ actions: [WorkerAction]) -> (Holding?, UInt32)? {
  for message in sent(actions) {
    if case .ready(let ready) = message { return (ready.holding, ready.sequence) }
  }
  return nil
}

@Test func workerRunsTheWholeUnitDialog() throws {
  var bench = try WorkerBench()
  let start = bench.on(.start(now: 0))
  #expect(start.first == .connect)
  #expect(sent(start) == [ready(holding: nil, incarnation: 7, sequence: 1)])
  #expect(bench.receive(.welcome(Welcome(heartbeatMs: 500, jobID: "job"))).isEmpty)
  let assignment = Assignment(
    unit: "u0", attempt: Attempt(epoch: 1, sequence: 1), leaseMs: 60_000, kind: "extract", spec: [1])
  #expect(bench.receive(.assign(assignment)) == [.startUnit(assignment)])
  #expect(
    sent(bench.on(.progress(completed: 3, total: 2, now: 100))) == [
      .progress(unit: "u0", attempt: assignment.attempt, completed: 2, total: 2)
    ])
  #expect(sent(bench.on(.outputsWritten(now: 200))) == [.commit(unit: "u0", attempt: assignment.attempt)])
  #expect(
    bench.receive(.authorize(unit: "u0", attempt: assignment.attempt, commitLeaseMs: 1000)) == [
      .publishOutputs(unit: "u0", attempt: assignment.attempt)
    ])
  #expect(
    sent(bench.on(.published(outputs: output("u0"), now: 300))) == [
      .committed(unit: "u0", attempt: assignment.attempt, outputs: output("u0"))
    ])
  #expect(
    bench.receive(.ack(unit: "u0", attempt: assignment.attempt)) == [
      .unitCommitted(unit: "u0", attempt: assignment.attempt)
    ])
  #expect(bench.worker.heldUnit == nil)
  // H = 500 ms from WELCOME: a heartbeat once nothing has been sent for 500 ms.
  #expect(bench.tick(at: 700).isEmpty)
  #expect(sent(bench.tick(at: 800)) == [.heartbeat])
}

@Test func refusalsAndRevocationsDropTheUnitUnlessAlreadyAuthorized() throws {
  var bench = try WorkerBench()
  let held = bench.assigned()
  _ = bench.on(.outputsWritten(now: 0))
  let refused = bench.receive(.refuse(unit: "u0", attempt: held.attempt, reason: "lease expired"))
  #expect(refused.contains(.cancelUnit(unit: "u0", attempt: held.attempt)))
  #expect(refused.contains(.discardOutputs(unit: "u0", attempt: held.attempt)))
  let next = Assignment(
    unit: "u1", attempt: Attempt(epoch: 1, sequence: 2), leaseMs: 1, kind: "extract", spec: [])
  #expect(bench.receive(.assign(next)) == [.startUnit(next)])
  #expect(bench.receive(.revoke(unit: "u0", attempt: held.attempt, reason: "stale")).isEmpty)  // not held
  _ = bench.on(.outputsWritten(now: 0))
  _ = bench.receive(.authorize(unit: "u1", attempt: next.attempt, commitLeaseMs: 1))
  // Renaming: the worker finishes first.
  #expect(bench.receive(.revoke(unit: "u1", attempt: next.attempt, reason: "late")).isEmpty)
  _ = bench.on(.published(outputs: [], now: 0))
  let refusedAfter = bench.receive(
    .refuse(unit: "u1", attempt: next.attempt, reason: "attempt 1.3 is committing"))
  #expect(!refusedAfter.contains(.discardOutputs(unit: "u1", attempt: next.attempt)))
  #expect(bench.worker.heldUnit == nil)
}

@Test func silenceTriggersReconnectionWithDoublingBackoff() throws {
  var bench = try WorkerBench()
  _ = bench.on(.start(now: 0))
  _ = bench.receive(.welcome(Welcome(heartbeatMs: 1000, jobID: "job")))
  #expect(!bench.tick(at: 3000).contains(.closeConnection))
  var time: Int64 = 3001
  #expect(bench.tick(at: time).first == .closeConnection)
  var delays: [Int64] = []
  for round in 0..<8 {
    let until = try #require(bench.worker.nextWakeup)
    delays.append(until - time)
    let reconnect = bench.tick(at: until)
    #expect(reconnect.first == .connect)
    #expect(readyHolding(reconnect)?.1 == UInt32(round + 2))
    time = until + 3001  // no WELCOME within liveness × H
    #expect(bench.tick(at: time).first == .closeConnection)
  }
  let bases: [Int64] = [1000, 2000, 4000, 8000, 16_000, 32_000, 32_000, 32_000]
  for (delay, base) in zip(delays, bases) { #expect(delay >= base && delay < base + base / 4) }
  // A WELCOME resets the backoff.
  let until = try #require(bench.worker.nextWakeup)
  _ = bench.tick(at: until)
  _ = bench.receive(.welcome(Welcome(heartbeatMs: 1000, jobID: "job")), at: until)
  _ = bench.tick(at: until + 3001)
  let again = try #require(bench.worker.nextWakeup)
  #expect(again - (until + 3001) < 1250)
}

@Test func reconnectingWorkerReportsAndResendsWhatItHolds() throws {
  var bench = try WorkerBench()
  let held = bench.assigned()
  _ = bench.on(.outputsWritten(now: 0))
  let lost = bench.receive(.disconnect(code: .reconnect, reason: "unknown worker"))
  #expect(readyHolding(lost)?.0 == Holding(unit: "u0", attempt: held.attempt, phase: .working))
  #expect(
    sent(bench.receive(.welcome(Welcome(heartbeatMs: 1000, jobID: "job")))) == [
      .commit(unit: "u0", attempt: held.attempt)
    ])
  _ = bench.receive(.authorize(unit: "u0", attempt: held.attempt, commitLeaseMs: 1))
  _ = bench.on(.published(outputs: output("u0"), now: 0))
  // The coordinator dies before the ACK: the worker reconnects and sends COMMITTED again.
  #expect(bench.tick(at: 3001).first == .closeConnection)
  let until = try #require(bench.worker.nextWakeup)
  let reconnect = bench.tick(at: until)
  #expect(readyHolding(reconnect)?.0 == Holding(unit: "u0", attempt: held.attempt, phase: .published))
  let welcome = bench.receive(.welcome(Welcome(heartbeatMs: 1000, jobID: "job")), at: until)
  #expect(sent(welcome) == [.committed(unit: "u0", attempt: held.attempt, outputs: output("u0"))])
}

@Test func repeatedReconnectRequestsWhileRegisteringSendOneReady() throws {
  var bench = try WorkerBench()
  _ = bench.assigned()
  // The worker sent a HEARTBEAT and a PROGRESS to a restarted coordinator: two "reconnect"s come back.
  let first = bench.receive(.disconnect(code: .reconnect, reason: "unknown worker"))
  #expect(readyHolding(first)?.1 == 2)
  #expect(bench.receive(.disconnect(code: .reconnect, reason: "unknown worker")).isEmpty)
  #expect(sent(bench.receive(.welcome(Welcome(heartbeatMs: 1000, jobID: "job")))).isEmpty)
  #expect(bench.worker.isConnected)
}

@Test func aWelcomeFromAnotherJobDropsTheHeldUnit() throws {
  var bench = try WorkerBench()
  let held = bench.assigned()
  _ = bench.receive(.disconnect(code: .reconnect, reason: "restarted"))
  let welcome = bench.receive(.welcome(Welcome(heartbeatMs: 1000, jobID: "other-job")))
  #expect(welcome.contains(.discardOutputs(unit: "u0", attempt: held.attempt)))
  #expect(bench.worker.heldUnit == nil)
}

@Test func garbledOrMisdirectedMessagesMeanABrokenCoordinator() throws {
  var bench = try WorkerBench()
  _ = bench.assigned()
  #expect(bench.on(.received(frames: [[1, 2, 3]], now: 0)).first == .closeConnection)
  var other = try WorkerBench()
  _ = other.assigned()
  #expect(
    other.receive(.commit(unit: "u0", attempt: Attempt(epoch: 1, sequence: 1))).first == .closeConnection)
  #expect(other.worker.heldUnit != nil)  // it keeps its unit across the reconnection
}

@Test func disconnectCodesEndOrRestartTheSession() throws {
  var bench = try WorkerBench()
  let held = bench.assigned()
  let over = bench.receive(.disconnect(code: .jobOver, reason: "job finished"))
  #expect(over.contains(.cancelUnit(unit: "u0", attempt: held.attempt)))
  #expect(over.last == .exit(.jobOver("job finished")))
  #expect(bench.worker.hasExited && bench.tick(at: 10_000).isEmpty)
  var rejected = try WorkerBench()
  _ = rejected.on(.start(now: 0))
  #expect(
    rejected.receive(.disconnect(code: .rejected, reason: "excluded")).last == .exit(.rejected("excluded")))
}

@Test func drainingIdleWorkerLeavesAtOnce() throws {
  var bench = try WorkerBench()
  _ = bench.on(.start(now: 0))
  _ = bench.receive(.welcome(Welcome(heartbeatMs: 1000, jobID: "job")))
  let drained = bench.on(.drain(graceMs: 30_000, now: 10))
  #expect(sent(drained) == [.draining, .disconnect(code: .leaving, reason: "draining")])
  #expect(drained.suffix(2) == [.closeConnection, .exit(.drained)])
}

@Test func drainingWorkerFinishesInTimeOrHandsBack() throws {
  var finishing = try WorkerBench()
  let held = finishing.assigned()
  #expect(sent(finishing.on(.drain(graceMs: 30_000, now: 0))) == [.draining])
  _ = finishing.on(.outputsWritten(now: 1000))
  _ = finishing.receive(.authorize(unit: "u0", attempt: held.attempt, commitLeaseMs: 1), at: 1000)
  _ = finishing.on(.published(outputs: [], now: 1000))
  let done = finishing.receive(.ack(unit: "u0", attempt: held.attempt))
  #expect(sent(done) == [.disconnect(code: .leaving, reason: "draining")])
  #expect(done.last == .exit(.drained))

  var late = try WorkerBench()
  let unit = late.assigned()
  _ = late.on(.drain(graceMs: 5000, now: 0))
  for time in stride(from: Int64(1000), to: 5000, by: 1000) {
    _ = late.receive(.heartbeat, at: time)
    #expect(!late.tick(at: time).contains(.exit(.drained)))
  }
  let handBack = late.tick(at: 5000)
  #expect(handBack.contains(.cancelUnit(unit: "u0", attempt: unit.attempt)))
  #expect(sent(handBack).contains(.disconnect(code: .leaving, reason: "draining")))
  #expect(handBack.last == .exit(.drained))
}

@Test func anAuthorizedWorkerFinishesItsCommitEvenPastTheDrainDeadline() throws {
  var bench = try WorkerBench()
  let held = bench.assigned()
  _ = bench.on(.outputsWritten(now: 0))
  _ = bench.receive(.authorize(unit: "u0", attempt: held.attempt, commitLeaseMs: 1))
  _ = bench.on(.drain(graceMs: 100, now: 0))
  #expect(!bench.tick(at: 500).contains(.exit(.drained)))
  _ = bench.on(.published(outputs: [], now: 600))
  #expect(bench.receive(.ack(unit: "u0", attempt: held.attempt), at: 700).last == .exit(.drained))
}

@Test func busyWorkerFailsANewAssignmentButIgnoresARepeat() throws {
  var bench = try WorkerBench()
  let held = bench.assigned()
  #expect(bench.receive(.assign(held)).isEmpty)
  let other = Assignment(
    unit: "u1", attempt: Attempt(epoch: 1, sequence: 2), leaseMs: 1, kind: "extract", spec: [])
  #expect(
    sent(bench.receive(.assign(other))) == [.failed(unit: "u1", attempt: other.attempt, reason: "busy")])
  let failed = bench.on(.unitFailed(reason: "CUDA error", now: 0))
  #expect(sent(failed) == [.failed(unit: "u0", attempt: held.attempt, reason: "CUDA error")])
  #expect(failed.contains(.discardOutputs(unit: "u0", attempt: held.attempt)))
}

@Test func invalidWorkerConfigurationsThrow() {
  for id in ["", "has space", String(repeating: "x", count: 256)] {
    #expect(throws: WireError.self) {
      try WorkerState(config: WorkerConfig(workerID: id, capabilities: extract, incarnation: 1))
    }
  }
  let noKinds = Capabilities(cores: 1, memoryBytes: 1, kinds: [])
  #expect(throws: WireError.self) {
    try WorkerState(config: WorkerConfig(workerID: "w", capabilities: noKinds, incarnation: 1))
  }
  #expect(throws: WireError.self) {
    try WorkerState(config: WorkerConfig(workerID: "w", capabilities: extract, incarnation: 0))
  }
}
