// The coordinator of docs/protocol.md as a pure state machine: events in (a message from a peer, a
// tick, the journal replay, the manifest writer's answer), actions out (send, disconnect, append to the
// journal or the manifest, log, job over). Time enters only through events, in monotonic milliseconds.
// This file holds the state and the unit/lease bookkeeping (its types are in CoordinatorTypes.swift);
// message handling is in Coordinator+Messages.swift; start-up, ticks and the job's end are in
// Coordinator+Lifecycle.swift.
// Leaves out: sockets, files, clocks, the sweep of orphaned temporaries (see `attemptIsLive`).

/// The coordinator's state. Drive it with `handle(_:)`, starting with `.start`.
public struct CoordinatorState: Sendable {
  enum Stage { case notStarted, running, finished, halted }

  /// The configuration it was made with.
  public let config: CoordinatorConfig
  /// Running counts.
  public internal(set) var counters = CoordinatorCounters()
  /// The current epoch (0 before `.start`).
  public internal(set) var epoch: UInt32 = 0

  var stage = Stage.notStarted
  var units: [UnitRecord]
  var unitIndex: [String: Int]
  var kindNames: [String]
  var kindIndex: [String: Int]
  var queues: [Deque<Int>]
  var pendingByKind: [Int]
  var pendingTotal = 0
  var doneCount = 0
  var givenUpCount = 0
  var reclaimList: [Int] = []
  var sessions: [Session] = []
  var slotOf: [PeerID: Int] = [:]
  var idleQueue = Deque<PeerID>()
  var workers: [String: WorkerRecord] = [:]
  var quarantine: [PeerID: Int64] = [:]
  var quarantineOrder = Deque<PeerID>()
  var sequence: UInt32 = 0
  var now: Int64 = 0
  var out: [CoordinatorAction] = []
  let fingerprint: UInt32

  /// A coordinator for `units`, not yet started.
  ///
  /// - Throws: `WireError.invalidInput` for a bad configuration, a duplicate or invalid unit id, an
  ///   invalid kind or an oversized spec.
  public init(units: [WorkUnit], config: CoordinatorConfig) throws {
    func invalid(_ detail: String) -> WireError { WireError(.invalidInput, detail) }
    if let problem = FieldRule.jobID(config.jobID) { throw invalid("job id \(problem)") }
    let durations = [config.heartbeatMs, config.progressLeaseMs, config.commitLeaseMs]
    if durations.contains(where: { $0 < 1 || $0 > Int64(Limits.maxDurationMs) }) {
      throw invalid("heartbeat and leases must be 1–\(Limits.maxDurationMs) ms")
    }
    if config.liveness < 1 || config.retryBudget < 1 || config.exclusionThreshold < 1
      || config.maxQuarantined < 1
    {
      throw invalid("liveness, retry budget, exclusion threshold and quarantine size must be at least 1")
    }
    if units.count > Int(UInt32.max) {
      throw invalid("\(units.count) units is more than a journal can count")
    }
    self.config = config
    var records: [UnitRecord] = []
    records.reserveCapacity(units.count)
    var unitIndex: [String: Int] = [:]
    var kindNames: [String] = []
    var kindIndex: [String: Int] = [:]
    var crc: UInt32 = 0
    for unit in units {
      if let problem = FieldRule.unitID(unit.id) { throw invalid("unit id '\(unit.id)' \(problem)") }
      if let problem = FieldRule.kind(unit.kind) { throw invalid("unit '\(unit.id)' kind \(problem)") }
      if unit.spec.count > Limits.maxSpec {
        throw invalid("unit '\(unit.id)' spec is \(unit.spec.count) bytes")
      }
      if unitIndex[unit.id] != nil { throw invalid("unit id '\(unit.id)' appears twice") }
      unitIndex[unit.id] = records.count
      if kindIndex[unit.kind] == nil {
        kindIndex[unit.kind] = kindNames.count
        kindNames.append(unit.kind)
      }
      records.append(UnitRecord(id: unit.id, kind: kindIndex[unit.kind]!, spec: unit.spec))
      crc = CRC32.update(crc, Array(unit.kind.utf8) + [0] + Array(unit.id.utf8) + [0])
      crc = CRC32.update(CRC32.update(crc, BigEndian.bytes(UInt32(unit.spec.count))), unit.spec)
    }
    self.units = records
    self.unitIndex = unitIndex
    self.kindNames = kindNames
    self.kindIndex = kindIndex
    queues = Array(repeating: Deque<Int>(), count: kindNames.count)
    // Every unit starts out counted as pending but unqueued; `start` queues or re-phases each one.
    pendingByKind = Array(repeating: 0, count: kindNames.count)
    for record in records { pendingByKind[record.kind] += 1 }
    pendingTotal = records.count
    fingerprint = crc
  }

  /// Carries out one event and returns the actions for the I/O loop, in order.
  public mutating func handle(_ event: CoordinatorEvent) -> [CoordinatorAction] {
    switch event {
    case .start(let journal, let manifest, let time):
      advance(to: time)
      start(journal: journal, manifest: manifest)
    case .received(let peer, let frames, let time):
      advance(to: time)
      receive(from: peer, frames: frames)
    case .tick(let time):
      advance(to: time)
      tick()
    case .manifestAppended(let unit, let attempt, let time):
      advance(to: time)
      manifestAppended(unit: unit, attempt: attempt)
    case .manifestRejected(let unit, let attempt, let reason, let time):
      advance(to: time)
      manifestRejected(unit: unit, attempt: attempt, reason: reason)
    }
    if stage == .running { dispatch() }
    let actions = out
    out = []
    return actions
  }

  /// Whether files under this attempt's temporary names may still be committed, so must not be swept.
  public func attemptIsLive(unit: String, attempt: Attempt) -> Bool {
    guard let index = unitIndex[unit] else { return false }
    switch units[index].phase {
    case .leased(_, let held, _), .authorized(_, let held, _), .recording(_, let held):
      return held == attempt
    case .pending, .reclaimable:
      // Re-adoptable by a reconnecting worker unless a newer attempt is known (see `reclaim`).
      return units[index].lastAttempt.map { attempt >= $0 } ?? true
    case .done, .givenUp: return false
    }
  }

  /// A snapshot of units and workers.
  public var status: CoordinatorStatus {
    var status = CoordinatorStatus()
    status.units = units.count
    status.done = doneCount
    status.pending = pendingTotal
    status.givenUp = givenUpCount
    status.reclaimable = reclaimList.count
    status.leased = units.count - doneCount - pendingTotal - givenUpCount - reclaimList.count
    status.workers = sessions.count
    status.idleWorkers = sessions.reduce(0) { $0 + ($1.isIdle ? 1 : 0) }
    status.excludedWorkers = workers.values.reduce(0) { $0 + ($1.excluded == nil ? 0 : 1) }
    status.epoch = epoch
    status.finished = stage == .finished
    return status
  }

  mutating func advance(to time: Int64) { if time > now { now = time } }

  // MARK: unit bookkeeping

  /// Moves a unit to a phase, keeping the queues and counts in step.
  mutating func setPhase(_ unit: Int, _ phase: UnitPhase) {
    let kind = units[unit].kind
    switch units[unit].phase {
    case .pending:
      pendingByKind[kind] -= 1
      pendingTotal -= 1
    case .done: doneCount -= 1
    case .givenUp: givenUpCount -= 1
    case .reclaimable: reclaimList.removeAll { $0 == unit }
    default: break
    }
    units[unit].phase = phase
    switch phase {
    case .pending:
      pendingByKind[kind] += 1
      pendingTotal += 1
      if !units[unit].queued {
        units[unit].queued = true
        queues[kind].append(unit)
      }
    case .done: doneCount += 1
    case .givenUp: givenUpCount += 1
    case .reclaimable: reclaimList.append(unit)
    default: break
    }
  }

  mutating func nextAttempt() -> Attempt {
    if sequence == UInt32.max {
      epoch += 1
      sequence = 0
      journal(
        .started(epoch: epoch, jobID: config.jobID, unitCount: UInt32(units.count), fingerprint: fingerprint))
    }
    sequence += 1
    return Attempt(epoch: epoch, sequence: sequence)
  }

  /// Counts a failed attempt against its unit and its worker; may give the unit up or exclude the worker.
  mutating func failAttempt(_ unit: Int, _ attempt: Attempt, worker: String, reason: String) {
    let reason = Limits.clip(reason)
    journal(.failed(unit: units[unit].id, attempt: attempt, worker: worker, reason: reason))
    counters.failures += 1
    recordFailure(unit, attempt, worker: worker, reason: reason)
    if units[unit].failures.count >= config.retryBudget {
      setPhase(unit, .givenUp)
      log("unit \(units[unit].id) given up after \(units[unit].failures.count) failed attempts")
    } else {
      setPhase(unit, .pending)
    }
    var record = workers[worker] ?? WorkerRecord()
    record.failedUnits.insert(unit)
    workers[worker] = record
    if record.excluded == nil && record.failedUnits.count >= config.exclusionThreshold {
      let names = record.failedUnits.sorted().prefix(8).map { units[$0].id }.joined(separator: ", ")
      exclude(
        worker, reason: "failed \(record.failedUnits.count) distinct units since its last commit: \(names)")
    }
    checkFinished()
  }

  mutating func recordFailure(_ unit: Int, _ attempt: Attempt, worker: String, reason: String) {
    units[unit].failures.append(Limits.clip("attempt \(attempt) on \(worker): \(reason)"))
    if !units[unit].failedBy.contains(worker) { units[unit].failedBy.append(worker) }
    if units[unit].lastAttempt.map({ attempt > $0 }) ?? true { units[unit].lastAttempt = attempt }
  }

  /// Ends a lease without counting a failure.
  mutating func releaseAttempt(_ unit: Int, _ attempt: Attempt, worker: String, reason: String) {
    journal(.released(unit: units[unit].id, attempt: attempt, worker: worker, reason: Limits.clip(reason)))
    setPhase(unit, .pending)
  }

  mutating func exclude(_ worker: String, reason: String) {
    var record = workers[worker] ?? WorkerRecord()
    record.excluded = reason
    workers[worker] = record
    counters.exclusions += 1
    journal(.excluded(worker: worker, reason: Limits.clip(reason)))
    let peer = PeerID(worker)
    endSession(peer, .release("worker excluded"))
    disconnect(peer, .rejected, "excluded: \(reason)")
  }

  // MARK: peers

  enum SessionEnd {
    case failure(String)
    case release(String)
  }

  /// Forgets a peer's session; a lease it holds fails or is released.
  mutating func endSession(_ peer: PeerID, _ end: SessionEnd) {
    guard let slot = slotOf[peer] else { return }
    let session = sessions[slot]
    let last = sessions.count - 1
    if slot != last {
      sessions[slot] = sessions[last]
      slotOf[sessions[slot].peer] = slot
    }
    sessions.removeLast()
    slotOf[peer] = nil
    guard let unit = session.unit else { return }
    switch units[unit].phase {
    case .leased(let holder, let attempt, _), .authorized(let holder, let attempt, _):
      guard holder == peer else { return }
      switch end {
      case .failure(let reason): failAttempt(unit, attempt, worker: session.worker, reason: reason)
      case .release(let reason): releaseAttempt(unit, attempt, worker: session.worker, reason: reason)
      }
    default: break
    }
  }

  mutating func markIdle(_ peer: PeerID) {
    guard let slot = slotOf[peer], sessions[slot].isIdle, !sessions[slot].inIdleQueue else { return }
    sessions[slot].inIdleQueue = true
    idleQueue.append(peer)
  }

  /// Leases pending units to idle workers.
  mutating func dispatch() {
    guard pendingTotal > 0, idleQueue.count > 0 else { return }
    var unmatched: [PeerID] = []
    while pendingTotal > 0, let peer = idleQueue.popFirst() {
      guard let slot = slotOf[peer], sessions[slot].inIdleQueue else { continue }
      sessions[slot].inIdleQueue = false
      guard sessions[slot].isIdle else { continue }
      var chosen: Int?
      for kind in sessions[slot].kinds where pendingByKind[kind] > 0 {
        chosen = pickUnit(kind: kind, worker: sessions[slot].worker)
        if chosen != nil { break }
      }
      if let unit = chosen {
        assign(unit, to: slot)
      } else {
        sessions[slot].inIdleQueue = true
        unmatched.append(peer)
      }
    }
    for peer in unmatched { idleQueue.append(peer) }
  }

  /// Pops a pending unit of `kind`, preferring one `worker` has not failed before.
  mutating func pickUnit(kind: Int, worker: String) -> Int? {
    while let first = queues[kind].first, !units[first].phase.isPending {
      _ = queues[kind].popFirst()
      units[first].queued = false
    }
    guard let first = queues[kind].first else { return nil }
    if units[first].failedBy.contains(worker) {
      var offset = 1
      while offset < min(queues[kind].count, 17) {
        let candidate = queues[kind][offset]
        if units[candidate].phase.isPending && !units[candidate].failedBy.contains(worker) {
          queues[kind][offset] = first
          queues[kind][0] = candidate
          break
        }
        offset += 1
      }
    }
    let unit = queues[kind].popFirst()!
    units[unit].queued = false
    return unit
  }

  mutating func assign(_ unit: Int, to slot: Int) {
    let attempt = nextAttempt()
    let peer = sessions[slot].peer
    setPhase(unit, .leased(peer, attempt, deadline: now + config.progressLeaseMs))
    units[unit].lastAttempt = attempt
    units[unit].completed = 0
    units[unit].total = 0
    sessions[slot].unit = unit
    counters.assignments += 1
    journal(.leased(unit: units[unit].id, attempt: attempt, worker: sessions[slot].worker))
    let assignment = Assignment(
      unit: units[unit].id, attempt: attempt, leaseMs: UInt32(config.progressLeaseMs),
      kind: kindNames[units[unit].kind], spec: units[unit].spec)
    send(peer, .assign(assignment))
  }

  // MARK: output

  mutating func send(_ peer: PeerID, _ message: Message) {
    counters.messagesSent += 1
    if let slot = slotOf[peer] { sessions[slot].lastSent = now }
    switch message {
    case .refuse: counters.refusals += 1
    case .revoke: counters.revocations += 1
    default: break
    }
    out.append(.send(peer, message))
  }

  mutating func disconnect(_ peer: PeerID, _ code: DisconnectCode, _ reason: String) {
    counters.messagesSent += 1
    out.append(.disconnect(peer, code: code, reason: Limits.clip(reason)))
  }

  mutating func journal(_ record: JournalRecord) { out.append(.appendJournal(record)) }

  mutating func log(_ line: String) { out.append(.log(line)) }
}
