// Bad input reaching the coordinator: garbled, oversized and out-of-order messages, invalid routing
// ids, wrong versions, stale and duplicated READYs. Each ends in a disconnect action (or is ignored),
// never a crash; a held unit is handed back without counting against it.

import Testing

@testable import LanternWire

@Test func garbledMessagesDisconnectAndQuarantineThePeer() throws {
  var bench = try Bench(units: units(1))
  var random = SplitMix64(seed: 7)
  for round in 0..<200 {
    let frames = (0...(random.next() % 5)).map { _ in
      (0..<(random.next() % 40)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }
    let id = "noise\(round)"
    let actions = bench.raw(id, frames)
    #expect(disconnectCode(actions, to: id) == .rejected)
    #expect(bench.raw(id, ready().encode()).isEmpty)  // quarantined: dropped silently
  }
  #expect(bench.coordinator.counters.protocolErrors == 200)
  #expect(bench.coordinator.counters.quarantineDrops == 200)
  // After the quarantine a well-behaved READY is welcomed.
  bench.tick(at: 60_001)
  #expect(messages(bench.raw("noise0", ready().encode()), to: "noise0").first?.isWelcome == true)
}

@Test func oversizedMessagesAreRejected() throws {
  var bench = try Bench(units: units(1))
  let tooMany = Array(repeating: [UInt8](repeating: 0x41, count: 4), count: 10_000)
  #expect(disconnectCode(bench.raw("w0", tooMany), to: "w0") == .rejected)
  var hugeReason = Message.failed(unit: "u0", attempt: Attempt(epoch: 1, sequence: 1), reason: "").encode()
  hugeReason[4] = Array(repeating: 0x61, count: 1 << 20)
  #expect(disconnectCode(bench.raw("w1", hugeReason), to: "w1") == .rejected)
  let rejection = bench.lastActions.compactMap { action -> String? in
    if case .disconnect(_, _, let reason) = action { return reason } else { return nil }
  }
  #expect(rejection.first?.contains("FAILED field 'reason'") == true)
  #expect(rejection.first.map { $0.utf8.count <= Limits.maxReason } == true)
}

@Test func aGarbledMessageFromAWorkerHandsItsUnitBackUncounted() throws {
  var bench = try Bench(units: units(1))
  let held = try #require(assignment(bench.from("w0", ready()), to: "w0"))
  let actions = bench.raw("w0", [signature, [0x05], [0x75]])
  #expect(disconnectCode(actions, to: "w0") == .rejected)
  #expect(
    actions.contains(
      .appendJournal(.released(unit: "u0", attempt: held.attempt, worker: "w0", reason: "protocol error"))))
  #expect(bench.coordinator.counters.failures == 0)
  #expect(assignment(bench.from("w1", ready()), to: "w1")?.unit == "u0")
}

@Test func outOfOrderMessagesAreAnsweredOrRejected() throws {
  var bench = try Bench(units: units(2))
  // Before READY: told to re-register, not quarantined.
  #expect(disconnectCode(bench.from("w0", .heartbeat), to: "w0") == .reconnect)
  let held = try #require(assignment(bench.from("w0", ready()), to: "w0"))
  // A coordinator's command from a worker is a protocol error.
  let assign = Message.assign(
    Assignment(unit: "u1", attempt: held.attempt, leaseMs: 1, kind: "extract", spec: []))
  #expect(disconnectCode(bench.from("w1", assign), to: "w1") == .rejected)
  // COMMITTED for an attempt of this epoch that was never authorized is a protocol error.
  let early = bench.from("w0", .committed(unit: held.unit, attempt: held.attempt, outputs: []))
  #expect(disconnectCode(early, to: "w0") == .rejected)
  #expect(manifestRequests(early).isEmpty)
  // Unknown units are refused, not fatal.
  let other = try #require(assignment(bench.from("w2", ready()), to: "w2"))
  #expect(
    messages(bench.from("w2", .commit(unit: "nope", attempt: other.attempt)), to: "w2").first?.isRefuse
      == true)
  // Progress for an attempt the worker does not hold is answered with REVOKE.
  let stale = bench.from(
    "w2", .progress(unit: "u1", attempt: Attempt(epoch: 1, sequence: 999), completed: 1, total: 0))
  #expect(messages(stale, to: "w2").first?.isRevoke == true)
  // A repeated COMMIT of an authorized attempt is authorized again.
  bench.from("w2", .commit(unit: other.unit, attempt: other.attempt))
  #expect(
    messages(bench.from("w2", .commit(unit: other.unit, attempt: other.attempt)), to: "w2").first?.isAuthorize
      == true)
  // A stale FAILED changes nothing.
  #expect(
    bench.from("w2", .failed(unit: other.unit, attempt: Attempt(epoch: 1, sequence: 999), reason: "x"))
      .isEmpty)
}

@Test func invalidRoutingIDsAndVersionsAreRejected() throws {
  var bench = try Bench(units: units(1))
  for id: [UInt8] in [[0, 1, 2, 3, 4], [], Array("has space".utf8), Array(repeating: 0x41, count: 256)] {
    let actions = bench.coordinator.handle(.received(peer: PeerID(id), frames: ready().encode(), now: 0))
    #expect(
      actions.contains { if case .disconnect(_, .rejected, _) = $0 { return true } else { return false } })
  }
  let future = Message.ready(
    Ready(minVersion: 2, maxVersion: 3, capabilities: extract, holding: nil, incarnation: 1, sequence: 1))
  let refused = bench.from("w9", future)
  #expect(disconnectCode(refused, to: "w9") == .rejected)
  #expect(
    refused.contains {
      if case .disconnect(_, _, let reason) = $0 {
        return reason.contains("no common protocol version")
      } else {
        return false
      }
    })
  // A range that includes version 1 is welcomed.
  let mixed = Message.ready(
    Ready(minVersion: 1, maxVersion: 4, capabilities: extract, holding: nil, incarnation: 1, sequence: 1))
  #expect(
    messages(bench.from("w8", mixed), to: "w8").first
      == .welcome(Welcome(version: 1, heartbeatMs: 1000, jobID: "test")))
}

@Test func staleAndDuplicateReadiesAreIgnored() throws {
  var bench = try Bench(units: units(2))
  let held = try #require(assignment(bench.from("w0", ready(incarnation: 5, sequence: 3)), to: "w0"))
  #expect(bench.from("w0", ready(incarnation: 5, sequence: 3)).isEmpty)  // duplicate
  #expect(bench.from("w0", ready(incarnation: 4, sequence: 9)).isEmpty)  // a dead process, late
  #expect(bench.coordinator.counters.staleReadies == 2)
  // Same process reconnecting and still holding its unit: the lease carries over.
  let holding = Holding(unit: held.unit, attempt: held.attempt, phase: .working)
  let reconnect = bench.from("w0", ready(holding: holding, incarnation: 5, sequence: 4))
  #expect(messages(reconnect, to: "w0").map(\.isWelcome) == [true])
  #expect(bench.coordinator.counters.failures == 0)
  #expect(
    messages(bench.from("w0", .commit(unit: held.unit, attempt: held.attempt)), to: "w0").first?.isAuthorize
      == true)
}

@Test func aReconnectWithoutTheUnitReleasesItUncounted() throws {
  var bench = try Bench(units: units(2))
  let held = try #require(assignment(bench.from("w0", ready(incarnation: 3, sequence: 1)), to: "w0"))
  // The ASSIGN was lost with the worker's old socket; the same process says it holds nothing.
  let again = bench.from("w0", ready(incarnation: 3, sequence: 2))
  #expect(
    again.contains(
      .appendJournal(
        .released(
          unit: held.unit, attempt: held.attempt, worker: "w0", reason: "worker reconnected without the unit")
      )))
  #expect(bench.coordinator.counters.failures == 0)
  #expect(assignment(again, to: "w0") != nil)
}

@Test func aRestartedWorkerFailsTheUnitItNoLongerHolds() throws {
  var bench = try Bench(units: units(2))
  let held = try #require(assignment(bench.from("w0", ready(incarnation: 1)), to: "w0"))
  let restarted = bench.from("w0", ready(incarnation: 2))
  #expect(
    restarted.contains(
      .appendJournal(
        .failed(
          unit: held.unit, attempt: held.attempt, worker: "w0",
          reason: "worker restarted while holding the unit"))))
  #expect(assignment(restarted, to: "w0")?.unit == "u1")  // prefers the unit it has not failed
}

@Test func messagesAfterTheJobEndAreAnsweredWithJobOver() throws {
  var bench = try Bench(units: units(1))
  let held = try #require(assignment(bench.from("w0", ready()), to: "w0"))
  bench.commitHeld("w0", held)
  #expect(disconnectCode(bench.from("w1", ready()), to: "w1") == .jobOver)
  #expect(disconnectCode(bench.from("w0", .heartbeat), to: "w0") == .jobOver)
  #expect(bench.from("w0", .disconnect(code: .leaving, reason: "bye")).isEmpty)
}

@Test func invalidUnitsAndConfigurationsThrow() {
  let config = CoordinatorConfig(jobID: "j")
  #expect(throws: WireError.self) { try CoordinatorState(units: units(1) + units(1), config: config) }
  #expect(throws: WireError.self) {
    try CoordinatorState(units: [WorkUnit(id: "", kind: "k", spec: [])], config: config)
  }
  #expect(throws: WireError.self) {
    try CoordinatorState(units: [WorkUnit(id: "a", kind: "K", spec: [])], config: config)
  }
  let big = WorkUnit(id: "a", kind: "k", spec: Array(repeating: 0, count: 65_537))
  #expect(throws: WireError.self) { try CoordinatorState(units: [big], config: config) }
  var bad = config
  bad.retryBudget = 0
  #expect(throws: WireError.self) { try CoordinatorState(units: units(1), config: bad) }
  bad = config
  bad.jobID = ""
  #expect(throws: WireError.self) { try CoordinatorState(units: units(1), config: bad) }
}

@Test func theQuarantineTableIsBounded() throws {
  var config = CoordinatorConfig(jobID: "test")
  config.maxQuarantined = 3
  var bench = try Bench(units: units(1), config: config)
  for index in 0..<5 { bench.raw("bad\(index)", [[0xFF]]) }
  #expect(bench.coordinator.quarantine.count == 3)
  // The oldest were forgotten first: bad0 may speak again, bad4 may not.
  #expect(messages(bench.from("bad0", ready()), to: "bad0").first?.isWelcome == true)
  #expect(bench.from("bad4", ready()).isEmpty)
}
