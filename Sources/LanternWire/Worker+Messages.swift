// The worker's answers to coordinator messages (docs/protocol.md sections 5, 7, 10 and 14). Replies
// about an attempt the worker no longer holds are ignored; a garbled message, or a worker-only command,
// means the coordinator is broken, so the worker reconnects.

extension WorkerState {
  mutating func receive(_ frames: [[UInt8]]) {
    guard link == .welcomed || isRegistering else { return }
    let message: Message
    do {
      message = try Message.decode(frames)
    } catch {
      lose("garbled message from the coordinator: \(error)")
      return
    }
    if !message.command.sentByCoordinator {
      lose("the coordinator sent \(message.command.name), a worker's command")
      return
    }
    lastHeard = now
    if isRegistering {
      switch message {
      case .welcome(let welcome): welcomed(welcome)
      // A READY is already on its way: later "reconnect"s answer messages sent before it.
      case .disconnect(.reconnect, _): break
      case .disconnect(let code, let reason): disconnected(code, reason)
      case .heartbeat: break
      default: out.append(.log("\(message.command.name) before WELCOME ignored"))
      }
      return
    }
    switch message {
    case .welcome: out.append(.log("second WELCOME ignored"))
    case .heartbeat: break
    case .assign(let assignment): assigned(assignment)
    case .authorize(let unit, let attempt, _):
      if holds(unit, attempt), held!.stage == .written {
        held!.stage = .authorized
        out.append(.publishOutputs(unit: unit, attempt: attempt))
      }
    case .refuse(let unit, let attempt, let reason):
      guard holds(unit, attempt) else { return }
      switch held!.stage {
      case .running, .written:
        out.append(.log("commit of \(unit) attempt \(attempt) refused: \(reason)"))
        out.append(.cancelUnit(unit: unit, attempt: attempt))
        out.append(.discardOutputs(unit: unit, attempt: attempt))
        release()
      case .published:
        out.append(.log("COMMITTED of \(unit) attempt \(attempt) refused: \(reason)"))
        release()
      case .authorized:
        break
      }
    case .revoke(let unit, let attempt, let reason):
      guard holds(unit, attempt), held!.stage == .running || held!.stage == .written else { return }
      out.append(.log("unit \(unit) attempt \(attempt) revoked: \(reason)"))
      out.append(.cancelUnit(unit: unit, attempt: attempt))
      out.append(.discardOutputs(unit: unit, attempt: attempt))
      release()
    case .ack(let unit, let attempt):
      guard holds(unit, attempt), case .published = held!.stage else { return }
      out.append(.unitCommitted(unit: unit, attempt: attempt))
      release()
    case .disconnect(let code, let reason): disconnected(code, reason)
    default: break
    }
  }

  var isRegistering: Bool {
    if case .registering = link { return true } else { return false }
  }

  func holds(_ unit: String, _ attempt: Attempt) -> Bool {
    held?.assignment.unit == unit && held?.assignment.attempt == attempt
  }

  mutating func welcomed(_ welcome: Welcome) {
    link = .welcomed
    heartbeatMs = Int64(welcome.heartbeatMs)
    backoffMs = config.backoffInitialMs
    if let current = held, let job = current.jobID, job != welcome.jobID {
      out.append(
        .log("welcomed to job \(welcome.jobID), not \(job): dropping unit \(current.assignment.unit)"))
      out.append(.cancelUnit(unit: current.assignment.unit, attempt: current.assignment.attempt))
      out.append(.discardOutputs(unit: current.assignment.unit, attempt: current.assignment.attempt))
      held = nil
    }
    jobID = welcome.jobID
    if drainDeadline != nil { send(.draining) }
    if let current = held {
      held!.jobID = welcome.jobID
      switch current.stage {
      case .written: send(.commit(unit: current.assignment.unit, attempt: current.assignment.attempt))
      case .published(let outputs):
        send(.committed(unit: current.assignment.unit, attempt: current.assignment.attempt, outputs: outputs))
      case .running, .authorized: break
      }
    } else if drainDeadline != nil {
      leave()
    }
  }

  mutating func assigned(_ assignment: Assignment) {
    if let current = held, current.assignment == assignment { return }
    if held != nil || drainDeadline != nil {
      let reason = held != nil ? "busy" : "draining"
      send(.failed(unit: assignment.unit, attempt: assignment.attempt, reason: reason))
      return
    }
    held = Held(assignment: assignment, jobID: jobID, stage: .running)
    out.append(.startUnit(assignment))
  }

  mutating func disconnected(_ code: DisconnectCode, _ reason: String) {
    switch code {
    case .reconnect:
      out.append(.log("coordinator asks for a new READY: \(reason)"))
      link = .registering(since: now)
      sendReady()
    case .jobOver:
      out.append(.closeConnection)
      exit(.jobOver(reason))
    case .rejected:
      out.append(.closeConnection)
      exit(.rejected(reason))
    case .leaving:
      lose("the coordinator sent DISCONNECT leaving")
    }
  }
}
