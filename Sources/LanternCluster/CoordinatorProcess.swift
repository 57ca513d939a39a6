// The coordinator process: the LWP/1 state machine (LanternWire.CoordinatorState) driven by a thin
// I/O loop over a ZeroMQ ROUTER socket, the journal file and the job's manifest.
//
// The loop owns everything with side effects: it decodes nothing itself (the state machine does),
// carries out the actions in order (send, disconnect, journal append with fsync where required,
// manifest append after checking the committed files on disk), and feeds time as ticks.
// Activations never cross the socket: workers write shards into the shared job directory.

import CZeroMQ
import Foundation
import LanternExtraction
import LanternPipeline
import LanternShards
import LanternTransport
import LanternWire
import Synchronization

/// How a coordinator run ended.
public enum JobResult: Sendable, Equatable {
  case finished
  case failed([String])
  case stopped
}

/// A coordinator for one pipeline.
public final class CoordinatorProcess: @unchecked Sendable {
  public let job: ExtractionJob
  public let jobDirectory: URL
  private let context = ZMQContext()
  private let socket: ZMQSocket
  private var state: CoordinatorState
  private let journal: JournalFile
  private let log: @Sendable (String) -> Void
  private let stopRequested = Atomic<Bool>(false)
  private var authenticator: CurveAuthenticator?
  private var result: JobResult?
  private let units: [String: LanternShards.WorkUnit]
  private let started = Date()
  private var lastStatusWrite = Date.distantPast
  /// The endpoint actually bound (with the port resolved).
  public let endpoint: String

  /// Opens the job (planning it if new) and binds the control socket.
  public init(pipeline: PipelineSpec, bind: String, log: @escaping @Sendable (String) -> Void) throws {
    self.log = log
    jobDirectory = URL(fileURLWithPath: pipeline.jobDirectory)
    job = try ExtractionJob(
      settings: pipeline.extract, seed: pipeline.seed, directory: jobDirectory, role: .owner,
      loadWeights: false,
      log: log)
    try SharedJobSettings(settings: pipeline.extract, seed: pipeline.seed).write(to: jobDirectory)
    units = Dictionary(uniqueKeysWithValues: job.plan.units.map { ($0.id, $0) })
    journal = try JournalFile(path: jobDirectory.appendingPathComponent("coordinator.journal").path)
    if journal.tornTail { log("journal: dropped a torn last record (a crash mid-append)") }

    var config = CoordinatorConfig(jobID: "\(pipeline.name)-\(job.spec.hash)")
    config.heartbeatMs = Int64(pipeline.cluster.heartbeatMs)
    config.progressLeaseMs = Int64(pipeline.cluster.leaseMs)
    config.retryBudget = pipeline.cluster.maxAttempts
    let spec = TaskSpec(jobDirectory: jobDirectory.path).bytes
    state = try CoordinatorState(
      units: job.plan.units.map { LanternWire.WorkUnit(id: $0.id, kind: "extract", spec: spec) },
      config: config)

    socket = try ZMQSocket(context, .router)
    try socket.set(ZMQ_ROUTER_MANDATORY, 1)
    // A worker reconnecting under the same id takes over its old connection.
    try socket.set(ZMQ_ROUTER_HANDOVER, 1)
    // Per-frame limit in libzmq (an oversized frame drops the peer), then our own bound on the
    // whole multipart message.
    try socket.set64(ZMQ_MAXMSGSIZE, Int64(Limits.coordinatorMaxFrameBytes))
    try socket.set(ZMQ_SNDHWM, 10_000)
    try socket.set(ZMQ_RCVHWM, 10_000)
    socket.maxFrames = Limits.maxFrames + 1
    socket.maxMessageBytes = (Limits.maxFrames + 1) * Limits.coordinatorMaxFrameBytes
    if let keyFile = pipeline.cluster.curveServerKey {
      let keys = try KeyFile.read(keyFile)
      authenticator = try CurveAuthenticator(
        context: context, allowedPublicKeys: pipeline.cluster.curveAllowedKeys
      ) {
        address in log("CURVE: refused a worker from \(address) (key not allowed)")
      }
      try socket.makeCurveServer(secretKey: keys.secretKey)
    }
    try socket.bind(bind)
    endpoint = socket.lastEndpoint
  }

  /// Asks the loop to stop at its next turn (signal-safe: one atomic store).
  public func requestStop() { stopRequested.store(true, ordering: .relaxed) }

  /// Runs until the job finishes, fails or a stop is requested.
  public func run() throws -> JobResult {
    let manifest = job.directory.manifest.entries.map { e in
      LanternWire.ManifestEntry(
        unit: e.unit, attempt: Attempt(rawValue: e.attempt), worker: "",
        outputs: e.outputs.map { OutputRecord(path: $0.path, size: UInt64($0.bytes), checksum: $0.checksum) })
    }
    try perform(state.handle(.start(journal: journal.records, manifest: manifest, now: now())))
    // Temporaries of attempts that are not live any more (crashed workers, an earlier run).
    let swept = try JobDirectory.sweep(jobDirectory.appendingPathComponent("shards")) { unit, attempt in
      self.state.attemptIsLive(unit: unit, attempt: Attempt(rawValue: attempt))
    }
    if swept > 0 { log("swept \(swept) orphaned temporary file(s)") }
    let tick = Int32(max(10, min(250, state.config.heartbeatMs / 4)))
    while result == nil {
      if stopRequested.load(ordering: .relaxed) {
        result = .stopped
        break
      }
      while let received = try socket.receive(timeoutMs: 0) {
        try handle(received)
      }
      try perform(state.handle(.tick(now: now())))
      writeStatusIfDue()
      if result != nil { break }
      if try poll([socket], timeoutMs: tick).first == true, let received = try socket.receive(timeoutMs: 0) {
        try handle(received)
      }
    }
    // Give workers a moment to receive their DISCONNECT before the socket closes.
    writeStatus(final: true)
    usleep(200_000)
    authenticator?.stop()
    socket.close()
    return result ?? .stopped
  }

  private func handle(_ received: ZMQSocket.Received) throws {
    switch received {
    case .message(let frames):
      guard let id = frames.first else { return }
      try perform(state.handle(.received(peer: PeerID(id), frames: Array(frames.dropFirst()), now: now())))
    case .oversized(let frames):
      guard let id = frames.first else { return }
      log("peer \(PeerID(id)): message over the size or frame limit")
      // An empty frame list is a protocol error for the state machine: disconnect + quarantine.
      try perform(state.handle(.received(peer: PeerID(id), frames: [], now: now())))
    }
  }

  private func perform(_ actions: [CoordinatorAction]) throws {
    var queue = actions[...]
    while let action = queue.popFirst() {
      switch action {
      case .send(let peer, let message):
        _ = try socket.send([peer.bytes] + message.encode())
      case .disconnect(let peer, let code, let reason):
        log("disconnect \(peer): \(reason)")
        _ = try socket.send(
          [peer.bytes] + Message.disconnect(code: code, reason: Limits.clip(reason)).encode())
      case .appendJournal(let record):
        try journal.append(record)
      case .appendManifest(let entry):
        queue.append(contentsOf: record(entry))
      case .log(let line):
        log(line)
      case .jobFinished:
        result = .finished
      case .jobFailed(let failures):
        result = .failed(failures.map { "unit \($0.unit): \($0.reasons.joined(separator: "; "))" })
      case .halt(let reason):
        throw ClusterError("coordinator halted: \(reason)", hint: "see the log above")
      }
    }
  }

  /// Checks a committed unit's files on shared storage, then appends and fsyncs its manifest line.
  private func record(_ entry: LanternWire.ManifestEntry) -> [CoordinatorAction] {
    let t = now()
    do {
      guard let unit = units[entry.unit] else {
        throw ClusterError("unknown unit \(entry.unit)", hint: "a bug")
      }
      let expected = Set(
        job.settings.hooks.map { job.directory.relativeShardPath(hook: $0, unit: entry.unit) })
      guard Set(entry.outputs.map(\.path)) == expected else {
        throw ClusterError(
          "outputs \(entry.outputs.map(\.path)) are not the unit's shards", hint: "worker bug")
      }
      var outputs: [LanternShards.ManifestOutput] = []
      for o in entry.outputs {
        let url = jobDirectory.appendingPathComponent(o.path)
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? -1
        guard size == Int(o.size) else {
          throw ClusterError(
            "\(o.path) has \(size) bytes, the worker reported \(o.size)", hint: "shared storage?")
        }
        let reader = try ShardReader(path: url.path)
        let crc = try reader.verify()
        guard crc == o.checksum else {
          throw ClusterError(
            "\(o.path) has checksum \(crc), the worker reported \(o.checksum)", hint: "shared storage?")
        }
        outputs.append(
          ManifestOutput(
            hook: reader.info.hook, path: o.path, bytes: size, rows: reader.rowCount, checksum: crc))
      }
      try job.directory.manifest.append(
        LanternShards.ManifestEntry(
          unit: entry.unit, attempt: entry.attempt.rawValue, tokens: unit.tokenCount, outputs: outputs))
      return state.handle(.manifestAppended(unit: entry.unit, attempt: entry.attempt, now: t))
    } catch {
      log("manifest: refused unit \(entry.unit) attempt \(entry.attempt): \(error)")
      return state.handle(
        .manifestRejected(unit: entry.unit, attempt: entry.attempt, reason: "\(error)", now: t))
    }
  }

  private func writeStatusIfDue() {
    if Date().timeIntervalSince(lastStatusWrite) >= 1 { writeStatus(final: false) }
  }

  /// job_dir/status.json: what `lantern status` shows.
  private func writeStatus(final: Bool) {
    lastStatusWrite = Date()
    let s = state.status
    let done = job.directory.manifest.entries
    let tokens = done.reduce(0) { $0 + $1.tokens }
    let elapsed = Date().timeIntervalSince(started)
    let object: [String: Any] = [
      "units": s.units, "done": s.done, "pending": s.pending, "leased": s.leased, "failed": s.givenUp,
      "workers": s.workers, "idle_workers": s.idleWorkers, "excluded_workers": s.excludedWorkers,
      "epoch": Int(s.epoch), "tokens_committed": tokens, "elapsed_seconds": elapsed,
      "endpoint": endpoint, "final": final, "updated": ISO8601DateFormatter().string(from: Date()),
      "result": result.map { "\($0)" } ?? "running",
    ]
    if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
    {
      try? Durable.writeAtomically(data, to: jobDirectory.appendingPathComponent("status.json"))
    }
  }

  /// Progress for `lantern run`'s display.
  public var progress: (done: Int, units: Int, workers: Int) {
    let s = state.status
    return (s.done, s.units, s.workers)
  }

  private func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}

/// CURVE key files written by `lantern keygen`: two lines, "public: <z85>" and "secret: <z85>".
public enum KeyFile {
  public static func read(_ path: String) throws -> CurveKeyPair {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw ClusterError("\(path): cannot read the key file", hint: "create one with `lantern keygen`")
    }
    var pub: String?
    var sec: String?
    for line in text.split(separator: "\n") {
      let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
      guard parts.count == 2 else { continue }
      if parts[0] == "public" { pub = parts[1] }
      if parts[0] == "secret" { sec = parts[1] }
    }
    guard let pub, let sec, z85DecodeKey(pub) != nil, z85DecodeKey(sec) != nil else {
      throw ClusterError(
        "\(path): not a key file (needs 'public:' and 'secret:' Z85 keys)", hint: "use `lantern keygen`")
    }
    return CurveKeyPair(publicKey: pub, secretKey: sec)
  }

  public static func write(_ keys: CurveKeyPair, to path: String) throws {
    let text =
      "# Lantern CURVE key pair. Keep the secret key private.\npublic: \(keys.publicKey)\nsecret: \(keys.secretKey)\n"
    guard
      FileManager.default.createFile(
        atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
    else {
      throw ClusterError("\(path): cannot write", hint: "check the directory")
    }
  }
}
