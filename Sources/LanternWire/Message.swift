// The LWP/1 commands of docs/protocol.md section 4 as Swift values. Encoding and decoding live in
// Message+Codec.swift; this file holds only the types, so it reads as the spec's frame tables do.
// Leaves out: the ROUTER routing-id frame (the socket layer adds and strips it).

/// A fencing token: the high 32 bits are the coordinator's epoch, the low 32 bits a sequence.
///
/// Every ASSIGN carries an attempt never issued before; a restarted coordinator starts a new epoch,
/// so attempts stay unique across restarts (docs/protocol.md section 6).
public struct Attempt: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
  /// The 64-bit wire value.
  public let rawValue: UInt64

  /// Wraps a wire value.
  public init(rawValue: UInt64) { self.rawValue = rawValue }

  /// The attempt `sequence` of coordinator epoch `epoch`.
  public init(epoch: UInt32, sequence: UInt32) {
    rawValue = UInt64(epoch) << 32 | UInt64(sequence)
  }

  /// The coordinator epoch that issued this attempt.
  public var epoch: UInt32 { UInt32(truncatingIfNeeded: rawValue >> 32) }
  /// The sequence number within the epoch.
  public var sequence: UInt32 { UInt32(truncatingIfNeeded: rawValue) }
  /// `epoch.sequence`, as logs print it.
  public var description: String { "\(epoch).\(sequence)" }
  /// 16 lower-case hex digits, as temporary file names carry it (`final.tmp-<hex>`).
  public var hex: String {
    let digits = String(rawValue, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
  }

  public static func < (lhs: Attempt, rhs: Attempt) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A peer's ZeroMQ routing id, which LWP uses as the worker id.
public struct PeerID: Hashable, Sendable, CustomStringConvertible {
  /// The raw routing-id bytes.
  public let bytes: [UInt8]

  /// Wraps raw routing-id bytes (not validated; see `problem`).
  public init(_ bytes: [UInt8]) { self.bytes = bytes }

  /// The routing id of a worker id string.
  public init(_ string: String) { bytes = Array(string.utf8) }

  /// Why these bytes are not a valid worker id (docs/protocol.md section 2), or nil.
  public var problem: String? { FieldRule.workerID(bytes) }

  /// The id as text; bytes outside printable ASCII are shown as `\xNN`.
  public var description: String {
    var text = ""
    for byte in bytes.prefix(Limits.maxWorkerID) {
      if byte >= 0x21 && byte <= 0x7E {
        text.unicodeScalars.append(Unicode.Scalar(byte))
      } else {
        let hex = String(byte, radix: 16)
        text += "\\x" + (hex.count == 1 ? "0" + hex : hex)
      }
    }
    return text.isEmpty ? "<empty id>" : text
  }
}

/// What a worker offers (READY frames 3–5).
public struct Capabilities: Equatable, Sendable {
  /// Cores the worker will use inside a unit, 1–65,536.
  public var cores: UInt32
  /// Bytes of memory the worker may use.
  public var memoryBytes: UInt64
  /// Job kinds the worker can run (`extract`, `train`), 1–16 of them.
  public var kinds: [String]

  /// Makes a capability set; `Message.decode` and `WorkerState.init` validate it.
  public init(cores: UInt32, memoryBytes: UInt64, kinds: [String]) {
    self.cores = cores
    self.memoryBytes = memoryBytes
    self.kinds = kinds
  }
}

/// How far a worker got with the unit it reports in READY.
public enum HoldingPhase: UInt8, Sendable {
  /// Running or finished writing temporaries, not yet authorized.
  case working = 0
  /// Authorized: renaming or renamed; a COMMITTED follows WELCOME.
  case published = 1
}

/// The unit a (re)connecting worker still holds (READY frame 6).
public struct Holding: Equatable, Sendable {
  /// The unit id.
  public var unit: String
  /// The attempt the worker was running.
  public var attempt: Attempt
  /// How far it got.
  public var phase: HoldingPhase

  /// Makes a holding report.
  public init(unit: String, attempt: Attempt, phase: HoldingPhase) {
    self.unit = unit
    self.attempt = attempt
    self.phase = phase
  }
}

/// READY: a worker announces itself.
public struct Ready: Equatable, Sendable {
  /// Lowest protocol version spoken.
  public var minVersion: UInt8
  /// Highest protocol version spoken.
  public var maxVersion: UInt8
  /// Cores, memory, job kinds.
  public var capabilities: Capabilities
  /// A unit still held from an earlier session, if any.
  public var holding: Holding?
  /// The worker process's incarnation, larger for every restart (≥ 1).
  public var incarnation: UInt64
  /// The number of this READY among those the process sent (≥ 1).
  public var sequence: UInt32

  /// Makes a READY.
  public init(
    minVersion: UInt8 = 1, maxVersion: UInt8 = 1, capabilities: Capabilities, holding: Holding?,
    incarnation: UInt64, sequence: UInt32
  ) {
    self.minVersion = minVersion
    self.maxVersion = maxVersion
    self.capabilities = capabilities
    self.holding = holding
    self.incarnation = incarnation
    self.sequence = sequence
  }
}

/// WELCOME: the coordinator accepts a READY.
public struct Welcome: Equatable, Sendable {
  /// The version both sides now speak.
  public var version: UInt8
  /// The heartbeat interval H, milliseconds.
  public var heartbeatMs: UInt32
  /// The job's id.
  public var jobID: String

  /// Makes a WELCOME.
  public init(version: UInt8 = 1, heartbeatMs: UInt32, jobID: String) {
    self.version = version
    self.heartbeatMs = heartbeatMs
    self.jobID = jobID
  }
}

/// ASSIGN: a lease on one unit.
public struct Assignment: Equatable, Sendable {
  /// The unit id.
  public var unit: String
  /// The fencing token.
  public var attempt: Attempt
  /// The progress lease L, milliseconds.
  public var leaseMs: UInt32
  /// The unit's job kind.
  public var kind: String
  /// The opaque task spec (the job layer's JSON), at most 65,536 bytes.
  public var spec: [UInt8]

  /// Makes an ASSIGN.
  public init(unit: String, attempt: Attempt, leaseMs: UInt32, kind: String, spec: [UInt8]) {
    self.unit = unit
    self.attempt = attempt
    self.leaseMs = leaseMs
    self.kind = kind
    self.spec = spec
  }
}

/// One committed output file: where it is, how big, its checksum.
public struct OutputRecord: Hashable, Sendable {
  /// Path relative to the job directory.
  public var path: String
  /// Length in bytes.
  public var size: UInt64
  /// Checksum text such as `crc32:1c291ca3`.
  public var checksum: String

  /// Makes an output record.
  public init(path: String, size: UInt64, checksum: String) {
    self.path = path
    self.size = size
    self.checksum = checksum
  }
}

/// DISCONNECT's code.
public enum DisconnectCode: UInt8, Sendable {
  /// "I do not know you; send READY."
  case reconnect = 0
  /// The job finished or failed; exit.
  case jobOver = 1
  /// Protocol error, no common version, or excluded; do not come back with this id.
  case rejected = 2
  /// The worker leaves; whatever it holds is handed back.
  case leaving = 3
}

/// Command codes (frame 1).
public enum Command: UInt8, CaseIterable, Sendable {
  case ready = 0x01
  case welcome = 0x02
  case assign = 0x03
  case heartbeat = 0x04
  case progress = 0x05
  case commit = 0x06
  case authorize = 0x07
  case refuse = 0x08
  case committed = 0x09
  case ack = 0x0A
  case failed = 0x0B
  case revoke = 0x0C
  case draining = 0x0D
  case disconnect = 0x0E

  /// The spec's upper-case name.
  public var name: String { String(describing: self).uppercased() }

  /// Whether a worker may send this command.
  public var sentByWorker: Bool {
    switch self {
    case .ready, .heartbeat, .progress, .commit, .committed, .failed, .draining, .disconnect: return true
    case .welcome, .assign, .authorize, .refuse, .ack, .revoke: return false
    }
  }

  /// Whether the coordinator may send this command.
  public var sentByCoordinator: Bool { !sentByWorker || self == .heartbeat || self == .disconnect }
}

/// One LWP/1 message.
public enum Message: Equatable, Sendable {
  case ready(Ready)
  case welcome(Welcome)
  case assign(Assignment)
  case heartbeat
  case progress(unit: String, attempt: Attempt, completed: UInt64, total: UInt64)
  case commit(unit: String, attempt: Attempt)
  case authorize(unit: String, attempt: Attempt, commitLeaseMs: UInt32)
  case refuse(unit: String, attempt: Attempt, reason: String)
  case committed(unit: String, attempt: Attempt, outputs: [OutputRecord])
  case ack(unit: String, attempt: Attempt)
  case failed(unit: String, attempt: Attempt, reason: String)
  case revoke(unit: String, attempt: Attempt, reason: String)
  case draining
  case disconnect(code: DisconnectCode, reason: String)

  /// The command code of this message.
  public var command: Command {
    switch self {
    case .ready: return .ready
    case .welcome: return .welcome
    case .assign: return .assign
    case .heartbeat: return .heartbeat
    case .progress: return .progress
    case .commit: return .commit
    case .authorize: return .authorize
    case .refuse: return .refuse
    case .committed: return .committed
    case .ack: return .ack
    case .failed: return .failed
    case .revoke: return .revoke
    case .draining: return .draining
    case .disconnect: return .disconnect
    }
  }
}
