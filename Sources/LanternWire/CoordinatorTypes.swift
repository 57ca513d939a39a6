// The coordinator's public vocabulary (configuration, units, events, actions, counters, status) and
// the records it keeps per unit, per peer session and per worker id. The state machine that uses them is
// CoordinatorState (Coordinator.swift and its extensions).

/// Timings and budgets of a coordinator (docs/protocol.md defaults).
public struct CoordinatorConfig: Equatable, Sendable {
  /// The job's id (1–128 bytes, no control characters); journals and WELCOMEs carry it.
  public var jobID: String
  /// Heartbeat interval H, milliseconds.
  public var heartbeatMs: Int64 = 1000
  /// A peer silent for `liveness` × H is dead.
  public var liveness: Int64 = 3
  /// Progress lease L: a leased unit must report growing progress this often, milliseconds.
  public var progressLeaseMs: Int64 = 120_000
  /// Commit lease C: an authorized attempt must send COMMITTED within this, milliseconds.
  public var commitLeaseMs: Int64 = 60_000
  /// A unit is given up at this many failed attempts.
  public var retryBudget = 4
  /// A worker is excluded after failing this many distinct units with no commit in between.
  public var exclusionThreshold = 3
  /// After a restart, units leased before the crash wait this long for their workers, milliseconds.
  public var reclaimGraceMs: Int64 = 40_000
  /// A peer disconnected for a protocol error is ignored this long, milliseconds.
  public var quarantineMs: Int64 = 60_000
  /// At most this many peer ids are quarantined at once (the oldest are forgotten first).
  public var maxQuarantined = 4096

  /// A configuration with the protocol's defaults.
  public init(jobID: String) { self.jobID = jobID }
}

/// One unit of work: an id, a job kind, and an opaque spec the worker interprets.
public struct WorkUnit: Equatable, Sendable {
  /// Unique id (1–256 bytes of UTF-8, no control characters).
  public var id: String
  /// Job kind; only workers announcing it get the unit.
  public var kind: String
  /// Opaque task spec (at most 65,536 bytes), sent in ASSIGN.
  public var spec: [UInt8]

  /// Makes a unit; `CoordinatorState.init` validates it.
  public init(id: String, kind: String, spec: [UInt8]) {
    self.id = id
    self.kind = kind
    self.spec = spec
  }
}

/// One manifest line: a committed unit and its outputs.
public struct ManifestEntry: Equatable, Sendable {
  /// The unit id.
  public var unit: String
  /// The committing attempt.
  public var attempt: Attempt
  /// The committing worker's id.
  public var worker: String
  /// The outputs, as the worker reported them.
  public var outputs: [OutputRecord]

  /// Makes a manifest entry.
  public init(unit: String, attempt: Attempt, worker: String, outputs: [OutputRecord]) {
    self.unit = unit
    self.attempt = attempt
    self.worker = worker
    self.outputs = outputs
  }
}

/// A given-up unit and the reasons of each of its failed attempts.
public struct UnitFailure: Equatable, Sendable {
  /// The unit id.
  public var unit: String
  /// One line per failed attempt: `attempt 1.3 on node07/2: <reason>`.
  public var reasons: [String]

  /// Makes a failure report.
  public init(unit: String, reasons: [String]) {
    self.unit = unit
    self.reasons = reasons
  }
}

/// What happens to a coordinator.
public enum CoordinatorEvent: Equatable, Sendable {
  /// Start (or restart): the journal's records and the manifest's entries. Must come first.
  case start(journal: [JournalRecord], manifest: [ManifestEntry], now: Int64)
  /// A message arrived from `peer` (its routing id), frames after the routing id.
  case received(peer: PeerID, frames: [[UInt8]], now: Int64)
  /// Time passed; tick every H/4 or faster.
  case tick(now: Int64)
  /// The manifest writer made an `appendManifest` entry durable.
  case manifestAppended(unit: String, attempt: Attempt, now: Int64)
  /// The manifest writer refused an entry (missing file, size or checksum mismatch, I/O error).
  case manifestRejected(unit: String, attempt: Attempt, reason: String, now: Int64)
}

/// What a coordinator asks its I/O loop to do, in order.
public enum CoordinatorAction: Equatable, Sendable {
  /// Send a message to a peer (drop it if it cannot be queued).
  case send(PeerID, Message)
  /// Send DISCONNECT best-effort and log the reason; the state machine has already forgotten the peer.
  case disconnect(PeerID, code: DisconnectCode, reason: String)
  /// Append a record to the journal; if `record.requiresSync`, fsync before any later send.
  case appendJournal(JournalRecord)
  /// Append a manifest line and fsync, then answer `manifestAppended` (or `manifestRejected`).
  case appendManifest(ManifestEntry)
  /// A line for the coordinator's log.
  case log(String)
  /// Every unit is committed.
  case jobFinished
  /// Every unit is committed or given up, and these were given up.
  case jobFailed([UnitFailure])
  /// The journal or manifest does not belong to this job; the coordinator stops.
  case halt(String)
}

/// Counts for `lantern status` and benchmarks.
public struct CoordinatorCounters: Equatable, Sendable {
  /// Messages handed to `handle`, garbled ones included.
  public var messagesReceived = 0
  /// Messages and DISCONNECTs the coordinator asked to send.
  public var messagesSent = 0
  /// ASSIGNs sent.
  public var assignments = 0
  /// Leases re-adopted from a reconnecting worker's READY.
  public var readoptions = 0
  /// Units made durable in the manifest.
  public var commits = 0
  /// COMMITTEDs for units already done (answered with ACK, not recorded).
  public var duplicateCommits = 0
  /// REFUSEs sent.
  public var refusals = 0
  /// REVOKEs sent.
  public var revocations = 0
  /// Failed attempts counted against units.
  public var failures = 0
  /// Leases that expired (progress, commit or liveness).
  public var expiries = 0
  /// Workers excluded.
  public var exclusions = 0
  /// Protocol errors (each answered with DISCONNECT rejected).
  public var protocolErrors = 0
  /// Messages dropped because their peer was quarantined.
  public var quarantineDrops = 0
  /// Stale or duplicated READYs ignored.
  public var staleReadies = 0
}

/// A snapshot for `lantern status`.
public struct CoordinatorStatus: Equatable, Sendable {
  /// Units in the job.
  public var units = 0
  /// Units committed.
  public var done = 0
  /// Units queued.
  public var pending = 0
  /// Units leased, authorized or being recorded.
  public var leased = 0
  /// Units leased before a restart, held back for their workers' return.
  public var reclaimable = 0
  /// Units given up after exhausting their retry budget.
  public var givenUp = 0
  /// Workers with a session.
  public var workers = 0
  /// Workers with a session that hold nothing and are not draining.
  public var idleWorkers = 0
  /// Worker ids excluded for the rest of the job.
  public var excludedWorkers = 0
  /// The coordinator's epoch.
  public var epoch: UInt32 = 0
  /// Whether the job has ended (finished or failed).
  public var finished = false
}

enum UnitPhase: Equatable {
  case pending
  case reclaimable(until: Int64, attempt: Attempt)
  case leased(PeerID, Attempt, deadline: Int64)
  case authorized(PeerID, Attempt, deadline: Int64)
  case recording(PeerID, Attempt)
  case done(Attempt)
  case givenUp

  var isPending: Bool { if case .pending = self { return true } else { return false } }
}

struct UnitRecord {
  let id: String
  let kind: Int
  let spec: [UInt8]
  var phase = UnitPhase.pending
  var queued = false
  var failures: [String] = []
  var failedBy: [String] = []
  var lastAttempt: Attempt?
  var authorized: [Attempt] = []
  var completed: UInt64 = 0
  var total: UInt64 = 0
}

struct AwaitedCommit: Equatable {
  var unit: Int
  var attempt: Attempt
  var until: Int64
}

struct Session {
  let peer: PeerID
  let worker: String
  let incarnation: UInt64
  var capabilities: Capabilities
  var kinds: [Int]
  var lastHeard: Int64
  var lastSent: Int64
  var unit: Int?
  var awaiting: AwaitedCommit?
  var draining = false
  var inIdleQueue = false

  var isIdle: Bool { unit == nil && awaiting == nil && !draining }
}

struct WorkerRecord {
  var failedUnits: Set<Int> = []
  var excluded: String?
  var lastIncarnation: UInt64 = 0
  var lastSequence: UInt32 = 0
}

/// A FIFO with O(1) pops from the front and indexed access (for a short look-ahead).
struct Deque<Element: Sendable>: Sendable {
  private var items: [Element] = []
  private var head = 0

  var count: Int { items.count - head }
  var first: Element? { head < items.count ? items[head] : nil }

  mutating func append(_ element: Element) { items.append(element) }

  mutating func popFirst() -> Element? {
    guard head < items.count else { return nil }
    let element = items[head]
    head += 1
    if head >= 1024 && head * 2 >= items.count {
      items.removeFirst(head)
      head = 0
    }
    return element
  }

  subscript(offset: Int) -> Element {
    get { items[head + offset] }
    set { items[head + offset] = newValue }
  }
}
