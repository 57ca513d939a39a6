// Test helpers: a coordinator driven by hand-written worker messages, recording its journal and
// manifest as the I/O loop would, and small accessors over action lists.

@testable import LanternWire

let extract = Capabilities(cores: 4, memoryBytes: 1 << 34, kinds: ["extract"])

func units(_ count: Int, kind: String = "extract") -> [WorkUnit] {
  (0..<count).map { WorkUnit(id: "u\($0)", kind: kind, spec: Array("{\"n\":\($0)}".utf8)) }
}

func ready(
  holding: Holding? = nil, incarnation: UInt64 = 1, sequence: UInt32 = 1, kinds: Capabilities = extract
) -> Message {
  .ready(Ready(capabilities: kinds, holding: holding, incarnation: incarnation, sequence: sequence))
}

func output(_ unit: String) -> [OutputRecord] {
  [OutputRecord(path: "shards/\(unit).lshard", size: 4096, checksum: "crc32:0")]
}

/// A coordinator plus the durable state its I/O loop would keep.
struct Bench {
  var coordinator: CoordinatorState
  var now: Int64 = 0
  /// Journal records and manifest entries, in the order they became durable.
  var durable: [Durable] = []
  var lastActions: [CoordinatorAction] = []
  var finished: [CoordinatorAction] = []
  /// Manifest appends requested and not yet confirmed.
  var pendingManifest: [ManifestEntry] = []

  enum Durable: Equatable {
    case journal(JournalRecord)
    case manifest(ManifestEntry)
  }

  var journal: [JournalRecord] {
    durable.compactMap { if case .journal(let record) = $0 { return record } else { return nil } }
  }

  var manifest: [ManifestEntry] {
    durable.compactMap { if case .manifest(let entry) = $0 { return entry } else { return nil } }
  }

  init(
    units: [WorkUnit], config: CoordinatorConfig = CoordinatorConfig(jobID: "test"),
    journal: [JournalRecord] = [],
    manifest: [ManifestEntry] = [], now: Int64 = 0
  ) throws {
    coordinator = try CoordinatorState(units: units, config: config)
    self.now = now
    durable = journal.map { .journal($0) } + manifest.map { .manifest($0) }
    record(coordinator.handle(.start(journal: journal, manifest: manifest, now: now)))
  }

  mutating func record(_ actions: [CoordinatorAction]) {
    lastActions = actions
    for action in actions {
      switch action {
      case .appendJournal(let record): durable.append(.journal(record))
      case .jobFinished, .jobFailed, .halt: finished.append(action)
      case .appendManifest(let entry): pendingManifest.append(entry)
      default: break
      }
    }
  }

  /// Delivers a message from worker `id`, at `time` if given.
  @discardableResult
  mutating func from(_ id: String, _ message: Message, at time: Int64? = nil) -> [CoordinatorAction] {
    raw(id, message.encode(), at: time)
  }

  @discardableResult
  mutating func raw(_ id: String, _ frames: [[UInt8]], at time: Int64? = nil) -> [CoordinatorAction] {
    if let time { now = time }
    record(coordinator.handle(.received(peer: PeerID(id), frames: frames, now: now)))
    return lastActions
  }

  @discardableResult
  mutating func tick(at time: Int64) -> [CoordinatorAction] {
    now = time
    record(coordinator.handle(.tick(now: now)))
    return lastActions
  }

  /// Makes the pending manifest entries durable and confirms them.
  @discardableResult
  mutating func confirmManifest() -> [CoordinatorAction] {
    var all: [CoordinatorAction] = []
    while !pendingManifest.isEmpty {
      let entry = pendingManifest.removeFirst()
      durable.append(.manifest(entry))
      record(coordinator.handle(.manifestAppended(unit: entry.unit, attempt: entry.attempt, now: now)))
      all += lastActions
    }
    lastActions = all
    return all
  }

  /// Runs the whole commit dialog for whatever `id` holds; returns the actions after the ACK.
  @discardableResult
  mutating func commitHeld(_ id: String, _ assignment: Assignment) -> [CoordinatorAction] {
    from(id, .commit(unit: assignment.unit, attempt: assignment.attempt))
    from(id, .committed(unit: assignment.unit, attempt: assignment.attempt, outputs: output(assignment.unit)))
    return confirmManifest()
  }
}

func messages(_ actions: [CoordinatorAction], to id: String) -> [Message] {
  actions.compactMap { action in
    switch action {
    case .send(let peer, let message) where peer == PeerID(id): return message
    case .disconnect(let peer, let code, let reason) where peer == PeerID(id):
      return .disconnect(code: code, reason: reason)
    default: return nil
    }
  }
}

func assignment(_ actions: [CoordinatorAction], to id: String) -> Assignment? {
  for message in messages(actions, to: id) {
    if case .assign(let assignment) = message { return assignment }
  }
  return nil
}

func manifestRequests(_ actions: [CoordinatorAction]) -> [ManifestEntry] {
  actions.compactMap { if case .appendManifest(let entry) = $0 { return entry } else { return nil } }
}

func disconnectCode(_ actions: [CoordinatorAction], to id: String) -> DisconnectCode? {
  for action in actions {
    if case .disconnect(let peer, let code, _) = action, peer == PeerID(id) { return code }
  }
  return nil
}

extension Message {
  var isRefuse: Bool { if case .refuse = self { return true } else { return false } }
  var isRevoke: Bool { if case .revoke = self { return true } else { return false } }
  var isAck: Bool { if case .ack = self { return true } else { return false } }
  var isAuthorize: Bool { if case .authorize = self { return true } else { return false } }
  var isWelcome: Bool { if case .welcome = self { return true } else { return false } }
}
