// The coordinator's answers to worker messages (docs/protocol.md sections 5–10 and 12): admission and
// re-adoption on READY, progress leases, the fenced commit dialog, failures, drain and leaving, and
// protocol errors (disconnect + quarantine, never a crash). The manifest writer's answers are here too.

extension CoordinatorState {
  mutating func receive(from peer: PeerID, frames: [[UInt8]]) {
    counters.messagesReceived += 1
    switch stage {
    case .notStarted:
      log("message from \(peer) before start ignored")
      return
    case .halted:
      return
    case .finished:
      if peer.problem == nil && quarantine[peer] == nil {
        if let message = try? Message.decode(frames), case .disconnect = message { return }
        disconnect(peer, .jobOver, "the job is over")
      }
      return
    case .running:
      break
    }
    if let until = quarantine[peer] {
      if until > now {
        counters.quarantineDrops += 1
        return
      }
      quarantine[peer] = nil
    }
    if let problem = peer.problem {
      protocolError(peer, "peer id \(peer) \(problem)")
      return
    }
    let message: Message
    do {
      message = try Message.decode(frames)
    } catch let error as WireError {
      protocolError(peer, error.description)
      return
    } catch {
      protocolError(peer, "undecodable message: \(error)")
      return
    }
    if !message.command.sentByWorker {
      protocolError(peer, "\(message.command.name) is a coordinator's command; a worker may not send it")
      return
    }
    if case .ready(let ready) = message {
      admit(peer, ready)
      return
    }
    guard let slot = slotOf[peer] else {
      if case .disconnect = message { return }
      disconnect(peer, .reconnect, "unknown worker \(peer): send READY")
      return
    }
    sessions[slot].lastHeard = now
    switch message {
    case .heartbeat: break
    case .progress(let unit, let attempt, let completed, let total):
      progress(peer, slot, unit, attempt, completed, total)
    case .commit(let unit, let attempt): commit(peer, slot, unit, attempt)
    case .committed(let unit, let attempt, let outputs): committed(peer, slot, unit, attempt, outputs)
    case .failed(let unit, let attempt, let reason): failed(peer, slot, unit, attempt, reason)
    case .draining: sessions[slot].draining = true
    case .disconnect(_, let reason): endSession(peer, .release("worker left: \(reason)"))
    default: break
    }
  }

  /// A garbled or out-of-order message: hand back what the peer holds, disconnect, quarantine.
  mutating func protocolError(_ peer: PeerID, _ reason: String) {
    counters.protocolErrors += 1
    endSession(peer, .release("protocol error"))
    disconnect(peer, .rejected, "protocol error: \(reason)")
    if quarantine.count >= config.maxQuarantined {
      while let oldest = quarantineOrder.popFirst() {
        if quarantine.removeValue(forKey: oldest) != nil { break }
      }
    }
    if quarantine.updateValue(now + config.quarantineMs, forKey: peer) == nil { quarantineOrder.append(peer) }
  }

  // MARK: READY

  mutating func admit(_ peer: PeerID, _ ready: Ready) {
    if ready.minVersion > protocolVersion || ready.maxVersion < protocolVersion {
      endSession(peer, .release("no common protocol version"))
      disconnect(
        peer, .rejected,
        "no common protocol version: worker speaks \(ready.minVersion)...\(ready.maxVersion), coordinator \(protocolVersion)"
      )
      return
    }
    let worker = peer.description
    var record = workers[worker] ?? WorkerRecord()
    if (ready.incarnation, ready.sequence) <= (record.lastIncarnation, record.lastSequence) {
      counters.staleReadies += 1
      return
    }
    record.lastIncarnation = ready.incarnation
    record.lastSequence = ready.sequence
    workers[worker] = record
    if let reason = record.excluded {
      endSession(peer, .release("worker excluded"))
      disconnect(peer, .rejected, "excluded: \(reason)")
      return
    }
    var carried: Int?
    if let slot = slotOf[peer] {
      // The same id again: the same process reconnecting (an ASSIGN may have been lost on the way,
      // so a unit it no longer reports is released) or a new process (the unit fails: it may have
      // crashed the old one).
      var end =
        sessions[slot].incarnation == ready.incarnation
        ? SessionEnd.release("worker reconnected without the unit")
        : SessionEnd.failure("worker restarted while holding the unit")
      if let unit = sessions[slot].unit, let holding = ready.holding, holding.unit == units[unit].id {
        switch units[unit].phase {
        case .leased(_, let attempt, _) where attempt == holding.attempt:
          carried = unit
          sessions[slot].unit = nil
        case .authorized(_, let attempt, _) where attempt == holding.attempt:
          end = .release("worker reconnected while publishing")
        default: break
        }
      }
      endSession(peer, end)
    }
    let kinds = ready.capabilities.kinds.compactMap { kindIndex[$0] }
    let session = Session(
      peer: peer, worker: worker, incarnation: ready.incarnation, capabilities: ready.capabilities,
      kinds: kinds,
      lastHeard: now, lastSent: now)
    slotOf[peer] = sessions.count
    sessions.append(session)
    send(peer, .welcome(Welcome(heartbeatMs: UInt32(config.heartbeatMs), jobID: config.jobID)))
    if kinds.isEmpty {
      log("worker \(peer) offers none of this job's kinds (\(kindNames.joined(separator: ",")))")
    }
    if let unit = carried, case .leased(_, let attempt, _) = units[unit].phase {
      units[unit].phase = .leased(peer, attempt, deadline: now + config.progressLeaseMs)
      sessions[sessions.count - 1].unit = unit
    } else if let holding = ready.holding {
      reclaim(peer, holding)
    }
    markIdle(peer)
  }

  /// A READY reporting a held unit: re-adopt a working attempt if nobody newer has it, else REVOKE.
  mutating func reclaim(_ peer: PeerID, _ holding: Holding) {
    let slot = slotOf[peer]!
    guard let unit = unitIndex[holding.unit] else {
      send(peer, .revoke(unit: holding.unit, attempt: holding.attempt, reason: "unknown unit"))
      return
    }
    if holding.phase == .published {
      sessions[slot].awaiting = AwaitedCommit(
        unit: unit, attempt: holding.attempt, until: now + config.commitLeaseMs)
      return
    }
    var refusal: String?
    switch units[unit].phase {
    case .pending, .reclaimable:
      if let last = units[unit].lastAttempt, holding.attempt < last {
        refusal = "attempt \(holding.attempt) superseded by \(last)"
      } else if !sessions[slot].kinds.contains(units[unit].kind) {
        refusal = "worker does not offer kind \(kindNames[units[unit].kind])"
      }
    case .done: refusal = "unit already committed"
    case .givenUp: refusal = "unit given up"
    case .leased(_, let attempt, _), .authorized(_, let attempt, _), .recording(_, let attempt):
      refusal = "unit reassigned to attempt \(attempt)"
    }
    if let refusal {
      send(peer, .revoke(unit: holding.unit, attempt: holding.attempt, reason: refusal))
      return
    }
    setPhase(unit, .leased(peer, holding.attempt, deadline: now + config.progressLeaseMs))
    units[unit].lastAttempt = holding.attempt
    sessions[slot].unit = unit
    counters.readoptions += 1
    journal(.leased(unit: holding.unit, attempt: holding.attempt, worker: sessions[slot].worker))
  }

  // MARK: work

  mutating func progress(
    _ peer: PeerID, _ slot: Int, _ id: String, _ attempt: Attempt, _ completed: UInt64, _ total: UInt64
  ) {
    guard let unit = unitIndex[id] else {
      send(peer, .revoke(unit: id, attempt: attempt, reason: "unknown unit"))
      return
    }
    switch units[unit].phase {
    case .leased(let holder, let held, _) where holder == peer && held == attempt:
      if completed > units[unit].completed {
        units[unit].completed = completed
        units[unit].phase = .leased(peer, attempt, deadline: now + config.progressLeaseMs)
      }
      units[unit].total = total
    case .authorized(let holder, let held, _) where holder == peer && held == attempt:
      break
    default:
      if sessions[slot].awaiting?.unit == unit { break }
      send(peer, .revoke(unit: id, attempt: attempt, reason: "attempt \(attempt) holds no lease"))
    }
  }

  mutating func commit(_ peer: PeerID, _ slot: Int, _ id: String, _ attempt: Attempt) {
    guard let unit = unitIndex[id] else {
      send(peer, .refuse(unit: id, attempt: attempt, reason: "unknown unit"))
      return
    }
    let reason: String
    switch units[unit].phase {
    case .leased(let holder, let held, let deadline) where holder == peer && held == attempt:
      if now > deadline {
        sessions[slot].unit = nil
        counters.expiries += 1
        send(peer, .refuse(unit: id, attempt: attempt, reason: "lease expired"))
        failAttempt(
          unit, attempt, worker: sessions[slot].worker, reason: "no progress for \(config.progressLeaseMs) ms"
        )
        markIdle(peer)
        return
      }
      units[unit].phase = .authorized(peer, attempt, deadline: now + config.commitLeaseMs)
      if !units[unit].authorized.contains(attempt) { units[unit].authorized.append(attempt) }
      send(peer, .authorize(unit: id, attempt: attempt, commitLeaseMs: UInt32(config.commitLeaseMs)))
      return
    case .authorized(let holder, let held, _) where holder == peer && held == attempt:
      send(peer, .authorize(unit: id, attempt: attempt, commitLeaseMs: UInt32(config.commitLeaseMs)))
      return
    case .done: reason = "unit already committed"
    case .givenUp: reason = "unit given up"
    case .pending, .reclaimable: reason = "lease of attempt \(attempt) expired"
    case .leased(_, let held, _), .authorized(_, let held, _), .recording(_, let held):
      reason = "attempt \(attempt) is not the lease; attempt \(held) is"
    }
    send(peer, .refuse(unit: id, attempt: attempt, reason: reason))
  }

  mutating func committed(
    _ peer: PeerID, _ slot: Int, _ id: String, _ attempt: Attempt, _ outputs: [OutputRecord]
  ) {
    guard let unit = unitIndex[id] else {
      send(peer, .refuse(unit: id, attempt: attempt, reason: "unknown unit"))
      return
    }
    func answered() {
      if let slot = slotOf[peer], sessions[slot].awaiting?.unit == unit {
        sessions[slot].awaiting = nil
        markIdle(peer)
      }
    }
    switch units[unit].phase {
    case .done:
      counters.duplicateCommits += 1
      send(peer, .ack(unit: id, attempt: attempt))
      answered()
    case .recording(_, let held):
      if held != attempt {
        send(peer, .refuse(unit: id, attempt: attempt, reason: "attempt \(held) is being recorded"))
        answered()
      }
    case .authorized(let holder, let held, _):
      if held == attempt && holder == peer {
        record(unit, attempt, peer, outputs)
      } else {
        send(peer, .refuse(unit: id, attempt: attempt, reason: "attempt \(held) is committing"))
        answered()
      }
    case .leased, .pending, .reclaimable, .givenUp:
      guard units[unit].authorized.contains(attempt) || attempt.epoch < epoch else {
        protocolError(peer, "COMMITTED for unit \(id) attempt \(attempt), which was never authorized")
        return
      }
      if case .leased(let holder, let held, _) = units[unit].phase {
        // First committer wins over a lease that has not reached its own COMMIT yet.
        releaseAttempt(unit, held, worker: holder.description, reason: "committed by attempt \(attempt)")
        if let other = slotOf[holder] {
          sessions[other].unit = nil
          if held != attempt {
            send(holder, .revoke(unit: id, attempt: held, reason: "committed by attempt \(attempt)"))
          }
          if holder != peer { markIdle(holder) }
        }
      }
      record(unit, attempt, peer, outputs)
    }
  }

  /// First committer wins: ask the manifest writer to make the entry durable.
  mutating func record(_ unit: Int, _ attempt: Attempt, _ peer: PeerID, _ outputs: [OutputRecord]) {
    setPhase(unit, .recording(peer, attempt))
    if let slot = slotOf[peer], sessions[slot].awaiting == nil, sessions[slot].unit == nil {
      sessions[slot].unit = unit
    }
    out.append(
      .appendManifest(
        ManifestEntry(unit: units[unit].id, attempt: attempt, worker: peer.description, outputs: outputs)))
  }

  mutating func failed(_ peer: PeerID, _ slot: Int, _ id: String, _ attempt: Attempt, _ reason: String) {
    guard let unit = unitIndex[id] else { return }
    if sessions[slot].awaiting?.unit == unit && sessions[slot].awaiting?.attempt == attempt {
      sessions[slot].awaiting = nil
      markIdle(peer)
      return
    }
    guard sessions[slot].unit == unit else { return }
    switch units[unit].phase {
    case .leased(let holder, let held, _) where holder == peer && held == attempt,
      .authorized(let holder, let held, _) where holder == peer && held == attempt:
      sessions[slot].unit = nil
      failAttempt(unit, attempt, worker: sessions[slot].worker, reason: reason)
      markIdle(peer)
    default:
      break
    }
  }

  // MARK: manifest writer

  mutating func manifestAppended(unit id: String, attempt: Attempt) {
    guard let unit = unitIndex[id], case .recording(let peer, let held) = units[unit].phase, held == attempt
    else {
      log("manifest confirmation for unit \(id) attempt \(attempt) that is not being recorded")
      return
    }
    setPhase(unit, .done(attempt))
    counters.commits += 1
    let worker = peer.description
    journal(.committed(unit: id, attempt: attempt, worker: worker))
    if workers[worker] != nil { workers[worker]!.failedUnits.removeAll() }
    if let slot = slotOf[peer] {
      if sessions[slot].unit == unit { sessions[slot].unit = nil }
      if sessions[slot].awaiting?.unit == unit { sessions[slot].awaiting = nil }
      send(peer, .ack(unit: id, attempt: attempt))
      markIdle(peer)
    }
    checkFinished()
  }

  mutating func manifestRejected(unit id: String, attempt: Attempt, reason: String) {
    guard let unit = unitIndex[id], case .recording(let peer, let held) = units[unit].phase, held == attempt
    else {
      log("manifest rejection for unit \(id) attempt \(attempt) that is not being recorded")
      return
    }
    if let slot = slotOf[peer] {
      if sessions[slot].unit == unit { sessions[slot].unit = nil }
      if sessions[slot].awaiting?.unit == unit { sessions[slot].awaiting = nil }
      send(peer, .refuse(unit: id, attempt: attempt, reason: Limits.clip("manifest writer: \(reason)")))
    }
    failAttempt(unit, attempt, worker: peer.description, reason: "outputs rejected: \(reason)")
    markIdle(peer)
  }
}
