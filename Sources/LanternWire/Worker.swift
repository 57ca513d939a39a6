// The worker side of docs/protocol.md as a pure state machine: connect and READY, WELCOME, one unit
// at a time through the commit dialog (COMMIT → AUTHORIZE → publish → COMMITTED → ACK), heartbeats
// and coordinator liveness, reconnection with backoff (1 s doubling to 32 s, plus jitter), and drain.
// The unit itself runs elsewhere: the executor reports progress, written temporaries, renames and
// failures as events, and receives start/cancel/discard/publish requests as actions.
// Leaves out: sockets, files, clocks, signals.

/// A worker's identity, capabilities and timings.
public struct WorkerConfig: Equatable, Sendable {
  /// The worker id, used as the ZeroMQ routing id (1–255 bytes of printable ASCII).
  public var workerID: String
  /// What READY announces.
  public var capabilities: Capabilities
  /// This process's incarnation: larger for every restart of the worker (its start time in µs will do).
  public var incarnation: UInt64
  /// Heartbeat interval until a WELCOME sets it, milliseconds.
  public var heartbeatMs: Int64 = 1000
  /// The coordinator is dead after `liveness` × H of silence.
  public var liveness: Int64 = 3
  /// First reconnection delay, milliseconds.
  public var backoffInitialMs: Int64 = 1000
  /// Longest reconnection delay, milliseconds.
  public var backoffMaxMs: Int64 = 32_000

  /// A configuration with the protocol's default timings.
  public init(workerID: String, capabilities: Capabilities, incarnation: UInt64) {
    self.workerID = workerID
    self.capabilities = capabilities
    self.incarnation = incarnation
  }
}

/// What happens to a worker.
public enum WorkerEvent: Equatable, Sendable {
  /// The process started: connect.
  case start(now: Int64)
  /// A message from the coordinator (frames after nothing: a DEALER gets no routing id).
  case received(frames: [[UInt8]], now: Int64)
  /// Time passed; tick every H/4 or faster (or at `nextWakeup`).
  case tick(now: Int64)
  /// The executor reports progress on the held unit.
  case progress(completed: UInt64, total: UInt64, now: Int64)
  /// The executor wrote and fsynced every temporary of the held unit.
  case outputsWritten(now: Int64)
  /// The executor failed the held unit.
  case unitFailed(reason: String, now: Int64)
  /// Every temporary was renamed to its final name (after `publishOutputs`).
  case published(outputs: [OutputRecord], now: Int64)
  /// Renaming failed.
  case publishFailed(reason: String, now: Int64)
  /// SIGTERM: take no new work; leave within `graceMs`.
  case drain(graceMs: Int64, now: Int64)
}

/// Why a worker exits.
public enum WorkerExit: Equatable, Sendable {
  /// The coordinator said the job is over.
  case jobOver(String)
  /// The coordinator rejected this worker (protocol error, version, exclusion).
  case rejected(String)
  /// Drain completed.
  case drained
}

/// What a worker asks its I/O loop and executor to do, in order.
public enum WorkerAction: Equatable, Sendable {
  /// Open a fresh DEALER socket with the worker id as routing id and connect it.
  case connect
  /// Close the socket with linger 0.
  case closeConnection
  /// Send a message to the coordinator.
  case send(Message)
  /// Start running a unit; write outputs under `final.tmp-<attempt hex>`.
  case startUnit(Assignment)
  /// Stop running a unit.
  case cancelUnit(unit: String, attempt: Attempt)
  /// Delete the unit's temporaries.
  case discardOutputs(unit: String, attempt: Attempt)
  /// Rename the unit's temporaries to their final names, fsync, then report `.published`.
  case publishOutputs(unit: String, attempt: Attempt)
  /// The unit was committed (for the worker's log and counters).
  case unitCommitted(unit: String, attempt: Attempt)
  /// A line for the worker's log.
  case log(String)
  /// Exit the process.
  case exit(WorkerExit)
}

/// The worker's state. Drive it with `handle(_:)`, starting with `.start`.
public struct WorkerState: Sendable {
  enum Link: Equatable {
    case notStarted
    case waiting(until: Int64)
    case registering(since: Int64)
    case welcomed
    case exited
  }

  enum Stage: Equatable {
    case running
    case written
    case authorized
    case published([OutputRecord])
  }

  struct Held: Equatable {
    var assignment: Assignment
    var jobID: String?
    var stage: Stage
  }

  /// The configuration it was made with.
  public let config: WorkerConfig
  var link = Link.notStarted
  var held: Held?
  var drainDeadline: Int64?
  var heartbeatMs: Int64
  var backoffMs: Int64
  var jitterState: UInt32
  var jobID: String?
  var readySequence: UInt32 = 0
  var lastHeard: Int64 = 0
  var lastSent: Int64 = 0
  var now: Int64 = 0
  var out: [WorkerAction] = []

  /// A worker, not yet started.
  ///
  /// - Throws: `WireError.invalidInput` for an invalid worker id, kinds, cores, memory or timings.
  public init(config: WorkerConfig) throws {
    func invalid(_ detail: String) -> WireError { WireError(.invalidInput, detail) }
    if let problem = FieldRule.workerID(Array(config.workerID.utf8)) { throw invalid("worker id \(problem)") }
    let capabilities = config.capabilities
    if capabilities.kinds.isEmpty || capabilities.kinds.count > Limits.maxKinds
      || Set(capabilities.kinds).count != capabilities.kinds.count
    {
      throw invalid("a worker announces 1–\(Limits.maxKinds) distinct kinds")
    }
    for kind in capabilities.kinds {
      if let problem = FieldRule.kind(kind) { throw invalid("kind \(problem)") }
    }
    if capabilities.cores < 1 || capabilities.cores > Limits.maxCores || capabilities.memoryBytes == 0 {
      throw invalid("cores must be 1–\(Limits.maxCores) and memory at least 1 byte")
    }
    if config.incarnation == 0 { throw invalid("incarnation must be at least 1") }
    if config.heartbeatMs < 1 || config.liveness < 1 || config.backoffInitialMs < 1
      || config.backoffMaxMs < config.backoffInitialMs
    {
      throw invalid("timings must be positive and the longest backoff at least the first")
    }
    self.config = config
    heartbeatMs = config.heartbeatMs
    backoffMs = config.backoffInitialMs
    jitterState = CRC32.checksum(Array(config.workerID.utf8)) | 1
  }

  /// Whether the worker has exited.
  public var hasExited: Bool { link == .exited }
  /// Whether the worker is welcomed by a coordinator now.
  public var isConnected: Bool { link == .welcomed }
  /// The unit and attempt the worker holds, if any.
  public var heldUnit: (unit: String, attempt: Attempt)? {
    held.map { ($0.assignment.unit, $0.assignment.attempt) }
  }

  /// The latest time by which the worker wants a `.tick`, or nil once it has exited.
  public var nextWakeup: Int64? {
    var wake: Int64
    switch link {
    case .notStarted, .exited: return nil
    case .waiting(let until): wake = until
    case .registering(let since): wake = since + heartbeatMs * config.liveness + 1
    case .welcomed: wake = min(lastHeard + heartbeatMs * config.liveness + 1, lastSent + heartbeatMs)
    }
    if let deadline = drainDeadline { wake = min(wake, deadline) }
    return wake
  }

  /// Carries out one event and returns the actions, in order.
  public mutating func handle(_ event: WorkerEvent) -> [WorkerAction] {
    if link == .exited { return [] }
    switch event {
    case .start(let time):
      advance(time)
      if link == .notStarted { connect() }
    case .received(let frames, let time):
      advance(time)
      receive(frames)
    case .tick(let time):
      advance(time)
      tick()
    case .progress(let completed, let total, let time):
      advance(time)
      if let held, held.stage == .running {
        let clamped = total != 0 && completed > total ? total : completed
        send(
          .progress(
            unit: held.assignment.unit, attempt: held.assignment.attempt, completed: clamped, total: total))
      }
    case .outputsWritten(let time):
      advance(time)
      if held?.stage == .running {
        held!.stage = .written
        send(.commit(unit: held!.assignment.unit, attempt: held!.assignment.attempt))
      }
    case .unitFailed(let reason, let time):
      advance(time)
      if let current = held, current.stage == .running || current.stage == .written {
        let unit = current.assignment.unit
        let attempt = current.assignment.attempt
        send(.failed(unit: unit, attempt: attempt, reason: Limits.clip(reason)))
        out.append(.discardOutputs(unit: unit, attempt: attempt))
        release()
      }
    case .published(let outputs, let time):
      advance(time)
      if held?.stage == .authorized {
        held!.stage = .published(outputs)
        send(.committed(unit: held!.assignment.unit, attempt: held!.assignment.attempt, outputs: outputs))
      }
    case .publishFailed(let reason, let time):
      advance(time)
      if let current = held, current.stage == .authorized {
        send(
          .failed(
            unit: current.assignment.unit, attempt: current.assignment.attempt, reason: Limits.clip(reason)))
        release()
      }
    case .drain(let grace, let time):
      advance(time)
      if drainDeadline == nil {
        drainDeadline = now + max(0, grace)
        send(.draining)
        if held == nil { leave() }
      }
    }
    let actions = out
    out = []
    return actions
  }

  mutating func advance(_ time: Int64) { if time > now { now = time } }

  // MARK: link

  mutating func connect() {
    out.append(.connect)
    link = .registering(since: now)
    lastHeard = now
    sendReady()
  }

  mutating func sendReady() {
    var holding: Holding?
    if let held {
      let phase: HoldingPhase
      switch held.stage {
      case .running, .written: phase = .working
      case .authorized, .published: phase = .published
      }
      holding = Holding(unit: held.assignment.unit, attempt: held.assignment.attempt, phase: phase)
    }
    readySequence &+= 1
    let ready = Ready(
      capabilities: config.capabilities, holding: holding, incarnation: config.incarnation,
      sequence: readySequence)
    out.append(.send(.ready(ready)))
    lastSent = now
  }

  /// The coordinator is gone or broken: close, wait with backoff, reconnect.
  mutating func lose(_ reason: String) {
    out.append(.closeConnection)
    if drainDeadline != nil && held == nil {
      out.append(.log("coordinator lost while draining (\(reason)); exiting"))
      exit(.drained)
      return
    }
    jitterState = jitterState &* 1_664_525 &+ 1_013_904_223
    let jitter = backoffMs * Int64((jitterState >> 24) % 64) / 256
    out.append(.log("coordinator lost (\(reason)); reconnecting in \(backoffMs + jitter) ms"))
    link = .waiting(until: now + backoffMs + jitter)
    backoffMs = min(backoffMs * 2, config.backoffMaxMs)
  }

  mutating func send(_ message: Message) {
    guard link == .welcomed else { return }
    out.append(.send(message))
    lastSent = now
  }

  mutating func exit(_ reason: WorkerExit) {
    if let current = held, current.stage == .running || current.stage == .written {
      out.append(.cancelUnit(unit: current.assignment.unit, attempt: current.assignment.attempt))
      out.append(.discardOutputs(unit: current.assignment.unit, attempt: current.assignment.attempt))
    }
    held = nil
    link = .exited
    out.append(.exit(reason))
  }

  /// Drain finished: say so if connected, then exit.
  mutating func leave() {
    send(.disconnect(code: .leaving, reason: "draining"))
    out.append(.closeConnection)
    exit(.drained)
  }

  /// The held unit is over (committed, failed, refused, revoked).
  mutating func release() {
    held = nil
    if drainDeadline != nil { leave() }
  }

  mutating func tick() {
    let silence = heartbeatMs * config.liveness
    switch link {
    case .notStarted, .exited: return
    case .waiting(let until):
      if now >= until { connect() }
    case .registering(let since):
      if now - since > silence { lose("no WELCOME within \(silence) ms") }
    case .welcomed:
      if now - lastHeard > silence {
        lose("silent for \(now - lastHeard) ms")
      } else if now - lastSent >= heartbeatMs {
        send(.heartbeat)
      }
    }
    if let deadline = drainDeadline, now >= deadline, link != .exited {
      if let current = held, current.stage == .running || current.stage == .written {
        out.append(.log("drain deadline reached; handing back unit \(current.assignment.unit)"))
        leave()
      } else if held == nil {
        leave()
      }
    }
  }
}
