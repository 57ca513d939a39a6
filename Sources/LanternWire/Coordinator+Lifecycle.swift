// The coordinator's start (journal and manifest replay, docs/protocol.md sections 10–11), its tick
// (liveness, heartbeats, lease expiry, reclaim grace, quarantine) and the end of the job.

extension CoordinatorState {
  /// Rebuilds state from the journal and the manifest, then opens a new epoch.
  mutating func start(journal records: [JournalRecord], manifest: [ManifestEntry]) {
    guard stage == .notStarted else {
      log("start ignored: the coordinator is already started")
      return
    }
    var maxEpoch: UInt32 = 0
    var open: [Int: Attempt] = [:]
    func unitNamed(_ id: String, _ record: String) -> Int? {
      if let unit = unitIndex[id] { return unit }
      halt("journal record \(record) names unit '\(id)', which is not in this job")
      return nil
    }
    for record in records {
      switch record {
      case .started(let epoch, let jobID, let count, let print):
        if jobID != config.jobID || count != UInt32(units.count) || print != fingerprint {
          halt(
            "journal belongs to job '\(jobID)' with \(count) units (fingerprint \(print)), not '\(config.jobID)' with \(units.count) (\(fingerprint)): the pipeline changed; start a new job directory"
          )
          return
        }
        maxEpoch = max(maxEpoch, epoch)
      case .leased(let id, let attempt, _):
        guard let unit = unitNamed(id, "leased") else { return }
        if units[unit].lastAttempt.map({ attempt > $0 }) ?? true { units[unit].lastAttempt = attempt }
        open[unit] = attempt
      case .failed(let id, let attempt, let worker, let reason):
        guard let unit = unitNamed(id, "failed") else { return }
        recordFailure(unit, attempt, worker: worker, reason: reason)
        if open[unit] == attempt { open[unit] = nil }
        workers[worker, default: WorkerRecord()].failedUnits.insert(unit)
      case .released(let id, let attempt, _, _):
        guard let unit = unitNamed(id, "released") else { return }
        if open[unit] == attempt { open[unit] = nil }
      case .committed(let id, let attempt, let worker):
        guard let unit = unitNamed(id, "committed") else { return }
        if open[unit] == attempt { open[unit] = nil }
        workers[worker, default: WorkerRecord()].failedUnits.removeAll()
      case .excluded(let worker, let reason):
        workers[worker, default: WorkerRecord()].excluded = reason
      }
    }
    if maxEpoch == UInt32.max {
      halt("the journal has used every epoch")
      return
    }
    var done = [Attempt?](repeating: nil, count: units.count)
    for entry in manifest {
      guard let unit = unitIndex[entry.unit] else {
        halt("manifest names unit '\(entry.unit)', which is not in this job: start a new job directory")
        return
      }
      if done[unit] != nil {
        log("manifest lists unit \(entry.unit) twice; the first entry counts")
      } else {
        done[unit] = entry.attempt
      }
    }
    epoch = maxEpoch + 1
    sequence = 0
    stage = .running
    var reclaimable = 0
    for unit in units.indices {
      if let attempt = done[unit] {
        setPhase(unit, .done(attempt))
      } else if units[unit].failures.count >= config.retryBudget {
        setPhase(unit, .givenUp)
      } else if let attempt = open[unit] {
        setPhase(unit, .reclaimable(until: now + config.reclaimGraceMs, attempt: attempt))
        reclaimable += 1
      } else {
        setPhase(unit, .pending)
      }
    }
    journal(
      .started(epoch: epoch, jobID: config.jobID, unitCount: UInt32(units.count), fingerprint: fingerprint))
    log(
      "epoch \(epoch): \(units.count) units, \(doneCount) done, \(givenUpCount) given up, \(reclaimable) held for reclaim, \(pendingTotal) queued"
    )
    checkFinished()
  }

  mutating func halt(_ reason: String) {
    stage = .halted
    out.append(.halt(reason))
  }

  /// Liveness, heartbeats, lease expiry, reclaim grace and quarantine.
  mutating func tick() {
    guard stage == .running else { return }
    while let oldest = quarantineOrder.first {
      guard let until = quarantine[oldest] else {
        _ = quarantineOrder.popFirst()
        continue
      }
      if until > now { break }
      quarantine[oldest] = nil
      _ = quarantineOrder.popFirst()
    }
    if !reclaimList.isEmpty {
      for unit in reclaimList {
        if case .reclaimable(let until, _) = units[unit].phase, until <= now { setPhase(unit, .pending) }
      }
    }
    let silence = config.heartbeatMs * config.liveness
    var slot = sessions.count - 1
    while slot >= 0 && stage == .running {
      defer { slot -= 1 }
      guard slot < sessions.count else { continue }
      let session = sessions[slot]
      if now - session.lastHeard > silence {
        counters.expiries += session.unit == nil ? 0 : 1
        endSession(session.peer, .failure("worker silent for \(now - session.lastHeard) ms"))
        disconnect(session.peer, .reconnect, "silent for \(now - session.lastHeard) ms")
        continue
      }
      if let unit = session.unit { expireLease(unit, slot) }
      guard slot < sessions.count, sessions[slot].peer == session.peer else { continue }
      if let awaited = sessions[slot].awaiting, awaited.until < now {
        sessions[slot].awaiting = nil
        markIdle(session.peer)
      }
      if now - sessions[slot].lastSent >= config.heartbeatMs { send(session.peer, .heartbeat) }
    }
  }

  /// Ends a lease whose progress or commit deadline has passed.
  mutating func expireLease(_ unit: Int, _ slot: Int) {
    let peer = sessions[slot].peer
    let reason: String
    let attempt: Attempt
    switch units[unit].phase {
    case .leased(let holder, let held, let deadline) where holder == peer && deadline < now:
      reason = "no progress for \(config.progressLeaseMs) ms"
      attempt = held
    case .authorized(let holder, let held, let deadline) where holder == peer && deadline < now:
      reason = "no COMMITTED within \(config.commitLeaseMs) ms of AUTHORIZE"
      attempt = held
    default:
      return
    }
    counters.expiries += 1
    sessions[slot].unit = nil
    send(peer, .revoke(unit: units[unit].id, attempt: attempt, reason: reason))
    failAttempt(unit, attempt, worker: sessions[slot].worker, reason: reason)
    markIdle(peer)
  }

  /// Ends the job once every unit is done or given up.
  mutating func checkFinished() {
    guard stage == .running, doneCount + givenUpCount == units.count else { return }
    stage = .finished
    let verdict: String
    if givenUpCount == 0 {
      verdict = "job finished: \(doneCount) units committed"
      out.append(.jobFinished)
    } else {
      let failures = units.filter { $0.phase == .givenUp }.map {
        UnitFailure(unit: $0.id, reasons: $0.failures)
      }
      verdict = "job failed: \(givenUpCount) of \(units.count) units given up"
      out.append(.jobFailed(failures))
    }
    for session in sessions { disconnect(session.peer, .jobOver, verdict) }
    sessions.removeAll()
    slotOf.removeAll()
  }
}
