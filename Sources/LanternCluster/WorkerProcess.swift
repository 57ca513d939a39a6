// The worker process: the LWP/1 worker state machine (LanternWire.WorkerState) driven by a thin I/O
// loop over a ZeroMQ DEALER socket, with extraction running on its own thread so heartbeats and
// progress keep flowing while a unit computes.
//
// Fault injection for the fault tests (never set in production): LANTERN_FAULT_CRASH_UNIT=<unit>
// aborts the process when that unit starts (a poison unit); LANTERN_FAULT_EXIT_AFTER_RENAME=1 exits
// right after renaming a unit's files, before COMMITTED is sent.

import CZeroMQ
import Foundation
import LanternExtraction
import LanternShards
import LanternTransport
import LanternWire
import Synchronization

/// A worker connected to one coordinator.
public final class WorkerProcess: @unchecked Sendable {
  private let endpoint: String
  private let context = ZMQContext()
  private var socket: ZMQSocket?
  private var state: WorkerState
  private let log: @Sendable (String) -> Void
  private let workerID: String
  private let curve: (serverKey: String, keys: CurveKeyPair)?
  private let drainRequested = Atomic<Bool>(false)
  private let inbox = Inbox()
  private var jobs: [String: ExtractionJob] = [:]
  private var current: (unit: String, attempt: Attempt, output: UnitOutput?, cancel: CancelFlag)?
  /// The job of the unit being worked on (jobs are cached per job directory).
  private var currentJob: ExtractionJob?
  /// How long a draining worker may spend finishing its unit before handing it back.
  public var drainGraceMs: Int64 = 60_000

  /// - Parameters:
  ///   - workerID: the routing id (default: host name + pid).
  ///   - curve: the coordinator's public key and this worker's key pair, when CURVE is required.
  public init(
    connect endpoint: String, workerID: String? = nil, curve: (serverKey: String, keys: CurveKeyPair)? = nil,
    log: @escaping @Sendable (String) -> Void
  ) throws {
    self.endpoint = endpoint
    self.log = log
    self.curve = curve
    let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "worker"
    self.workerID = workerID ?? "\(host)-\(getpid())"
    let cores = UInt32(ProcessInfo.processInfo.activeProcessorCount)
    let memory = ProcessInfo.processInfo.physicalMemory
    var config = WorkerConfig(
      workerID: self.workerID,
      capabilities: Capabilities(cores: cores, memoryBytes: memory, kinds: ["extract"]),
      incarnation: UInt64(Date().timeIntervalSince1970 * 1000))
    config.heartbeatMs = 1000
    state = try WorkerState(config: config)
  }

  /// Asks the worker to drain: finish or hand back its unit, then leave (SIGTERM).
  public func requestDrain() { drainRequested.store(true, ordering: .relaxed) }

  /// Runs until the coordinator ends the job, rejects us, or a drain completes.
  public func run() throws -> WorkerExit {
    var exit: WorkerExit?
    var drainSent = false
    exit = try perform(state.handle(.start(now: now())))
    while exit == nil {
      if drainRequested.load(ordering: .relaxed) && !drainSent {
        drainSent = true
        // The state machine lets a running unit finish within the grace period, then hands it
        // back (a `.cancelUnit` action stops the extraction).
        exit = try perform(state.handle(.drain(graceMs: drainGraceMs, now: now())))
        if exit != nil { break }
      }
      for event in inbox.takeAll() {
        exit = try perform(state.handle(event))
        if exit != nil { break }
      }
      if exit != nil { break }
      let wake = state.nextWakeup.map { max(0, $0 - now()) } ?? 100
      let timeout = Int32(min(100, wake))
      if let socket, try poll([socket], timeoutMs: timeout).first == true {
        while let received = try socket.receive(timeoutMs: 0) {
          guard case .message(let frames) = received else {
            log("coordinator sent an oversized message; ignored")
            continue
          }
          exit = try perform(state.handle(.received(frames: frames, now: now())))
          if exit != nil { break }
        }
      } else if socket == nil {
        usleep(useconds_t(timeout) * 1000)
      }
      if exit == nil { exit = try perform(state.handle(.tick(now: now()))) }
    }
    current?.cancel.set()
    socket?.close()
    return exit!
  }

  private func perform(_ actions: [WorkerAction]) throws -> WorkerExit? {
    for action in actions {
      switch action {
      case .connect:
        socket?.close()
        let s = try ZMQSocket(context, .dealer)
        try s.set(ZMQ_ROUTING_ID, bytes: Array(workerID.utf8))
        try s.set64(ZMQ_MAXMSGSIZE, Int64(Limits.workerMaxFrameBytes))
        try s.set(ZMQ_RECONNECT_IVL_MAX, 32_000)
        s.maxMessageBytes = (Limits.maxFrames + 1) * Limits.workerMaxFrameBytes
        s.maxFrames = Limits.maxFrames + 1
        if let curve { try s.makeCurveClient(serverKey: curve.serverKey, keys: curve.keys) }
        try s.connect(endpoint)
        socket = s
      case .closeConnection:
        socket?.close()
        socket = nil
      case .send(let message):
        _ = try socket?.send(message.encode())
      case .startUnit(let assignment):
        start(assignment)
      case .cancelUnit(let unit, let attempt):
        if let c = current, c.unit == unit, c.attempt == attempt { c.cancel.set() }
      case .discardOutputs(let unit, let attempt):
        discard(unit: unit, attempt: attempt)
      case .publishOutputs(let unit, let attempt):
        publish(unit: unit, attempt: attempt)
      case .unitCommitted(let unit, _):
        if current?.unit == unit { current = nil }
      case .log(let line):
        log(line)
      case .exit(let reason):
        return reason
      }
    }
    return nil
  }

  /// Extracts the assigned unit on a background thread; results come back through the inbox.
  private func start(_ a: Assignment) {
    let cancel = CancelFlag()
    current = (a.unit, a.attempt, nil, cancel)
    if let poison = ProcessInfo.processInfo.environment["LANTERN_FAULT_CRASH_UNIT"], poison == a.unit {
      log("fault injection: crashing on unit \(a.unit)")
      abort()
    }
    let job: ExtractionJob
    do {
      job = try openJob(a.spec)
      currentJob = job
    } catch {
      inbox.put(.unitFailed(reason: Limits.clip("\(error)"), now: now()))
      return
    }
    guard let unit = job.plan.unit(id: a.unit) else {
      inbox.put(.unitFailed(reason: "unit \(a.unit) is not in the plan", now: now()))
      return
    }
    let inbox = self.inbox
    let total = UInt64(unit.windowCount)
    let box = Unchecked(job)
    let thread = Thread { [self] in
      do {
        let output = try box.value.extract(unit: unit, attempt: a.attempt.rawValue) { windows in
          if cancel.isSet { return false }
          inbox.put(.progress(completed: UInt64(windows), total: total, now: self.now()))
          return true
        }
        inbox.putOutput(output)
        inbox.put(.outputsWritten(now: self.now()))
      } catch is CancelledError {
        // Revoked or draining: the state machine already knows; temporaries are gone.
      } catch {
        inbox.put(.unitFailed(reason: Limits.clip("\(error)"), now: self.now()))
      }
    }
    thread.stackSize = 16 << 20
    thread.start()
  }

  private func openJob(_ spec: [UInt8]) throws -> ExtractionJob {
    let task = try TaskSpec.decode(spec)
    if let job = jobs[task.jobDirectory] { return job }
    let url = URL(fileURLWithPath: task.jobDirectory)
    let shared = try SharedJobSettings.read(from: url)
    let job = try ExtractionJob(
      settings: shared.settings, seed: shared.seed, directory: url, role: .worker, log: log)
    jobs[task.jobDirectory] = job
    return job
  }

  /// Renames the attempt's temporaries to their final names (the commit is authorized).
  private func publish(unit: String, attempt: Attempt) {
    guard let output = inbox.output(unit: unit, attempt: attempt.rawValue) else {
      inbox.put(.publishFailed(reason: "no outputs for \(unit) attempt \(attempt)", now: now()))
      return
    }
    do {
      guard let job = currentJob else { throw ClusterError("no job is open", hint: "a bug") }
      let records = try job.directory.publish(unit: unit, files: output.files).map {
        OutputRecord(path: $0.path, size: UInt64($0.bytes), checksum: $0.checksum)
      }
      if ProcessInfo.processInfo.environment["LANTERN_FAULT_EXIT_AFTER_RENAME"] == "1" {
        log("fault injection: exiting after the rename of \(unit), before COMMITTED")
        Foundation.exit(70)
      }
      inbox.put(.published(outputs: records, now: now()))
    } catch {
      inbox.put(.publishFailed(reason: Limits.clip("\(error)"), now: now()))
    }
  }

  private func discard(unit: String, attempt: Attempt) {
    if let output = inbox.output(unit: unit, attempt: attempt.rawValue) {
      for f in output.files { try? FileManager.default.removeItem(at: f.temporary) }
    }
    inbox.forget(unit: unit, attempt: attempt.rawValue)
  }

  fileprivate func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}

/// Events from the extraction thread to the I/O loop, and the finished unit's outputs.
final class Inbox: @unchecked Sendable {
  private let lock = NSLock()
  private var events: [WorkerEvent] = []
  private var outputs: [String: UnitOutput] = [:]

  func put(_ e: WorkerEvent) { lock.withLock { events.append(e) } }
  func takeAll() -> [WorkerEvent] {
    lock.withLock {
      defer { events.removeAll() }
      return events
    }
  }
  func putOutput(_ o: UnitOutput) { lock.withLock { outputs["\(o.unit)/\(o.attempt)"] = o } }
  func output(unit: String, attempt: UInt64) -> UnitOutput? {
    lock.withLock { outputs["\(unit)/\(attempt)"] }
  }
  func forget(unit: String, attempt: UInt64) { lock.withLock { outputs["\(unit)/\(attempt)"] = nil } }
}

/// A one-way flag the I/O loop sets to stop an extraction.
final class CancelFlag: @unchecked Sendable {
  private let flag = Atomic<Bool>(false)
  func set() { flag.store(true, ordering: .relaxed) }
  var isSet: Bool { flag.load(ordering: .relaxed) }
}

/// Hands a non-Sendable value to another thread whose use of it does not overlap ours.
final class Unchecked<Value>: @unchecked Sendable {
  let value: Value
  init(_ value: Value) { self.value = value }
}
