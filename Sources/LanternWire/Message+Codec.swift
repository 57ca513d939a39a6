// Encoding and strict decoding of LWP/1 messages (docs/protocol.md sections 3–4).
// `encode` is total: it writes whatever the value holds. `decode` checks the frame count first (before
// touching any frame), then every frame's size, then every value, and throws a WireError naming the
// command and field. It never allocates more than the frames it was given.

/// The protocol version this implementation speaks.
public let protocolVersion: UInt8 = 1

/// Frame 0 of every LWP/1 message.
public let protocolSignature: [UInt8] = [0x4C, 0x57, 0x50, protocolVersion]

extension Message {
  /// The multipart frames of this message, without the routing id.
  public func encode() -> [[UInt8]] {
    var frames: [[UInt8]] = [protocolSignature, [command.rawValue]]
    func unitAttempt(_ unit: String, _ attempt: Attempt) {
      frames.append(Array(unit.utf8))
      frames.append(BigEndian.bytes(attempt.rawValue))
    }
    switch self {
    case .ready(let ready):
      frames.append([ready.minVersion, ready.maxVersion])
      frames.append(BigEndian.bytes(ready.capabilities.cores))
      frames.append(BigEndian.bytes(ready.capabilities.memoryBytes))
      frames.append(Array(ready.capabilities.kinds.joined(separator: ",").utf8))
      if let holding = ready.holding {
        frames.append(
          BigEndian.bytes(holding.attempt.rawValue) + [holding.phase.rawValue] + Array(holding.unit.utf8))
      } else {
        frames.append([])
      }
      frames.append(BigEndian.bytes(ready.incarnation) + BigEndian.bytes(ready.sequence))
    case .welcome(let welcome):
      frames.append([welcome.version])
      frames.append(BigEndian.bytes(welcome.heartbeatMs))
      frames.append(Array(welcome.jobID.utf8))
    case .assign(let assignment):
      unitAttempt(assignment.unit, assignment.attempt)
      frames.append(BigEndian.bytes(assignment.leaseMs))
      frames.append(Array(assignment.kind.utf8))
      frames.append(assignment.spec)
    case .heartbeat, .draining:
      break
    case .progress(let unit, let attempt, let completed, let total):
      unitAttempt(unit, attempt)
      frames.append(BigEndian.bytes(completed))
      frames.append(BigEndian.bytes(total))
    case .commit(let unit, let attempt), .ack(let unit, let attempt):
      unitAttempt(unit, attempt)
    case .authorize(let unit, let attempt, let commitLeaseMs):
      unitAttempt(unit, attempt)
      frames.append(BigEndian.bytes(commitLeaseMs))
    case .refuse(let unit, let attempt, let reason), .failed(let unit, let attempt, let reason),
      .revoke(let unit, let attempt, let reason):
      unitAttempt(unit, attempt)
      frames.append(Array(reason.utf8))
    case .committed(let unit, let attempt, let outputs):
      unitAttempt(unit, attempt)
      for output in outputs {
        let checksum = Array(output.checksum.utf8)
        var frame = BigEndian.bytes(output.size)
        frame.append(UInt8(truncatingIfNeeded: checksum.count))
        frame += checksum
        frame += Array(output.path.utf8)
        frames.append(frame)
      }
    case .disconnect(let code, let reason):
      frames.append([code.rawValue])
      frames.append(Array(reason.utf8))
    }
    return frames
  }

  /// Decodes and validates one message (frames after the routing id).
  ///
  /// - Throws: `WireError` naming the command and field of the first problem found.
  public static func decode(_ frames: [[UInt8]]) throws -> Message {
    if frames.isEmpty { throw WireError(.frameCount, "empty message (no frames)") }
    if frames.count > Limits.maxFrames {
      throw WireError(.frameCount, "\(frames.count) frames, at most \(Limits.maxFrames) allowed")
    }
    let signature = frames[0]
    if signature.count != 4 || signature[0] != 0x4C || signature[1] != 0x57 || signature[2] != 0x50 {
      throw WireError(
        .signature, field: "signature", "frame 0 is \(signature.count) bytes, not 'LWP' + version")
    }
    if signature[3] != protocolVersion {
      throw WireError(
        .version, field: "signature", "version \(signature[3]), this side speaks \(protocolVersion)")
    }
    if frames.count < 2 { throw WireError(.frameCount, "no command frame") }
    if frames[1].count != 1 {
      throw WireError(.fieldSize, field: "command", "command frame is \(frames[1].count) bytes, expected 1")
    }
    guard let command = Command(rawValue: frames[1][0]) else {
      throw WireError(.command, field: "command", "unknown command code 0x\(String(frames[1][0], radix: 16))")
    }
    let reader = FrameReader(frames: frames, command: command)
    return try reader.message()
  }
}

/// Reads the fields of one message, frame by frame, each checked before use.
private struct FrameReader {
  let frames: [[UInt8]]
  let command: Command

  func error(_ kind: WireError.Kind, _ field: String, _ detail: String) -> WireError {
    WireError(kind, command: command.name, field: field, detail)
  }

  func expectFrames(_ count: Int) throws {
    if frames.count != count {
      throw WireError(
        .frameCount, command: command.name, "\(frames.count) frames, expected \(count)")
    }
  }

  func fixed(_ index: Int, _ field: String, _ size: Int) throws -> ArraySlice<UInt8> {
    let frame = frames[index]
    if frame.count != size {
      throw error(.fieldSize, field, "\(frame.count) bytes, expected \(size)")
    }
    return frame[...]
  }

  func u32(_ index: Int, _ field: String) throws -> UInt32 { BigEndian.u32(try fixed(index, field, 4)) }

  func u64(_ index: Int, _ field: String) throws -> UInt64 { BigEndian.u64(try fixed(index, field, 8)) }

  func duration(_ index: Int, _ field: String) throws -> UInt32 {
    let value = try u32(index, field)
    if value < 1 || value > Limits.maxDurationMs {
      throw error(.fieldValue, field, "\(value) ms is outside 1–\(Limits.maxDurationMs)")
    }
    return value
  }

  func text(_ bytes: ArraySlice<UInt8>, _ field: String, maxBytes: Int) throws -> String {
    if bytes.count > maxBytes { throw error(.fieldSize, field, "\(bytes.count) bytes, at most \(maxBytes)") }
    guard let text = FieldRule.utf8(bytes) else { throw error(.fieldValue, field, "not valid UTF-8") }
    return text
  }

  func unit(_ bytes: ArraySlice<UInt8>, _ field: String = "unit") throws -> String {
    let text = try text(bytes, field, maxBytes: Limits.maxUnitID)
    if let problem = FieldRule.unitID(text) { throw error(.fieldValue, field, problem) }
    return text
  }

  func attempt(_ value: UInt64, _ field: String = "attempt") throws -> Attempt {
    let attempt = Attempt(rawValue: value)
    if attempt.epoch == 0 || attempt.sequence == 0 {
      throw error(.fieldValue, field, "attempt \(attempt) has a zero epoch or sequence")
    }
    return attempt
  }

  func unitAttempt() throws -> (String, Attempt) {
    (try unit(frames[2][...]), try attempt(try u64(3, "attempt")))
  }

  func reason(_ index: Int, _ field: String = "reason") throws -> String {
    let text = try text(frames[index][...], field, maxBytes: Limits.maxReason)
    if let problem = FieldRule.reason(text) { throw error(.fieldValue, field, problem) }
    return text
  }

  func message() throws -> Message {
    switch command {
    case .ready: return try ready()
    case .welcome:
      try expectFrames(5)
      let version = try fixed(2, "version", 1).first!
      if version != protocolVersion {
        throw error(
          .version, "version", "coordinator chose version \(version), this side speaks \(protocolVersion)")
      }
      let heartbeat = try duration(3, "heartbeat")
      let job = try text(frames[4][...], "job", maxBytes: Limits.maxJobID)
      if let problem = FieldRule.jobID(job) { throw error(.fieldValue, "job", problem) }
      return .welcome(Welcome(version: version, heartbeatMs: heartbeat, jobID: job))
    case .assign:
      try expectFrames(7)
      let (unit, attempt) = try unitAttempt()
      let lease = try duration(4, "lease")
      let kind = try text(frames[5][...], "kind", maxBytes: Limits.maxKind)
      if let problem = FieldRule.kind(kind) { throw error(.fieldValue, "kind", problem) }
      if frames[6].count > Limits.maxSpec {
        throw error(.fieldSize, "spec", "\(frames[6].count) bytes, at most \(Limits.maxSpec)")
      }
      return .assign(Assignment(unit: unit, attempt: attempt, leaseMs: lease, kind: kind, spec: frames[6]))
    case .heartbeat:
      try expectFrames(2)
      return .heartbeat
    case .draining:
      try expectFrames(2)
      return .draining
    case .progress:
      try expectFrames(6)
      let (unit, attempt) = try unitAttempt()
      let completed = try u64(4, "completed")
      let total = try u64(5, "total")
      if total != 0 && completed > total {
        throw error(.fieldValue, "completed", "\(completed) exceeds total \(total)")
      }
      return .progress(unit: unit, attempt: attempt, completed: completed, total: total)
    case .commit, .ack:
      try expectFrames(4)
      let (unit, attempt) = try unitAttempt()
      return command == .commit ? .commit(unit: unit, attempt: attempt) : .ack(unit: unit, attempt: attempt)
    case .authorize:
      try expectFrames(5)
      let (unit, attempt) = try unitAttempt()
      return .authorize(unit: unit, attempt: attempt, commitLeaseMs: try duration(4, "commit lease"))
    case .refuse, .failed, .revoke:
      try expectFrames(5)
      let (unit, attempt) = try unitAttempt()
      let reason = try reason(4)
      switch command {
      case .refuse: return .refuse(unit: unit, attempt: attempt, reason: reason)
      case .failed: return .failed(unit: unit, attempt: attempt, reason: reason)
      default: return .revoke(unit: unit, attempt: attempt, reason: reason)
      }
    case .committed: return try committed()
    case .disconnect:
      try expectFrames(4)
      let raw = try fixed(2, "code", 1).first!
      guard let code = DisconnectCode(rawValue: raw) else {
        throw error(.fieldValue, "code", "unknown disconnect code \(raw)")
      }
      return .disconnect(code: code, reason: try reason(3))
    }
  }

  func ready() throws -> Message {
    try expectFrames(8)
    let versions = try fixed(2, "versions", 2)
    let low = versions[versions.startIndex]
    let high = versions[versions.startIndex + 1]
    if low == 0 || low > high {
      throw error(.fieldValue, "versions", "range \(low)...\(high) is empty or starts at 0")
    }
    let cores = try u32(3, "cores")
    if cores < 1 || cores > Limits.maxCores {
      throw error(.fieldValue, "cores", "\(cores) is outside 1–\(Limits.maxCores)")
    }
    let memory = try u64(4, "memory")
    if memory == 0 { throw error(.fieldValue, "memory", "0 bytes") }
    let kindsText = try text(frames[5][...], "kinds", maxBytes: Limits.maxKinds * (Limits.maxKind + 1))
    let kinds = kindsText.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    if kinds.count > Limits.maxKinds {
      throw error(.fieldValue, "kinds", "\(kinds.count) kinds, at most \(Limits.maxKinds)")
    }
    for kind in kinds {
      if let problem = FieldRule.kind(kind) { throw error(.fieldValue, "kinds", problem) }
    }
    if Set(kinds).count != kinds.count { throw error(.fieldValue, "kinds", "'\(kindsText)' repeats a kind") }
    var holding: Holding?
    let held = frames[6]
    if !held.isEmpty {
      if held.count < 10 {
        throw error(.fieldSize, "holding", "\(held.count) bytes, expected 0 or at least 10")
      }
      let attempt = try attempt(BigEndian.u64(held[0..<8]), "holding attempt")
      guard let phase = HoldingPhase(rawValue: held[8]) else {
        throw error(.fieldValue, "holding phase", "unknown phase \(held[8])")
      }
      let unit = try unit(held[9...], "holding unit")
      holding = Holding(unit: unit, attempt: attempt, phase: phase)
    }
    let session = try fixed(7, "session", 12)
    let incarnation = BigEndian.u64(session.prefix(8))
    let sequence = BigEndian.u32(session.suffix(4))
    if incarnation == 0 || sequence == 0 {
      throw error(
        .fieldValue, "session", "incarnation \(incarnation) and sequence \(sequence) must be at least 1")
    }
    let capabilities = Capabilities(cores: cores, memoryBytes: memory, kinds: kinds)
    return .ready(
      Ready(
        minVersion: low, maxVersion: high, capabilities: capabilities, holding: holding,
        incarnation: incarnation,
        sequence: sequence))
  }

  func committed() throws -> Message {
    if frames.count < 4 {
      throw WireError(.frameCount, command: command.name, "\(frames.count) frames, expected at least 4")
    }
    let (unit, attempt) = try unitAttempt()
    var outputs: [OutputRecord] = []
    outputs.reserveCapacity(frames.count - 4)
    var paths = Set<String>()
    for index in 4..<frames.count {
      let field = "output \(index - 4)"
      let frame = frames[index][...]
      if frame.count < 11 { throw error(.fieldSize, field, "\(frame.count) bytes, expected at least 11") }
      let size = BigEndian.u64(frame.prefix(8))
      let checksumLength = Int(frame[frame.startIndex + 8])
      let checksumStart = frame.startIndex + 9
      if checksumLength < 1 || checksumLength > Limits.maxChecksum
        || checksumStart + checksumLength >= frame.endIndex
      {
        throw error(
          .fieldSize, field + " checksum", "length \(checksumLength) does not fit a \(frame.count)-byte frame"
        )
      }
      let checksumBytes = frame[checksumStart..<checksumStart + checksumLength]
      if let problem = FieldRule.checksum(checksumBytes) {
        throw error(.fieldValue, field + " checksum", problem)
      }
      let path = try text(
        frame[(checksumStart + checksumLength)...], field + " path", maxBytes: Limits.maxPath)
      if let problem = FieldRule.path(path) { throw error(.fieldValue, field + " path", problem) }
      if !paths.insert(path).inserted {
        throw error(.fieldValue, field + " path", "'\(path)' is listed twice")
      }
      outputs.append(
        OutputRecord(path: path, size: size, checksum: String(decoding: checksumBytes, as: UTF8.self)))
    }
    return .committed(unit: unit, attempt: attempt, outputs: outputs)
  }
}
