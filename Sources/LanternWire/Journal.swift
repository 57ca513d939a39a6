// The coordinator journal (docs/protocol.md section 11): record values, their checksummed framing,
// and a replay that tolerates a torn last record. Byte layout, integers big-endian:
//
//   1. 8 bytes: magic "LNTJRNL" then version 0x01.
//   2. Records, each: u32 payload length n (1–65,536); u32 CRC-32 of the 4 length bytes followed by
//      the payload; n bytes of payload.
//   3. Payload: record type u8, then the record's fields: strings as u16 length + UTF-8, attempts as
//      u64, counts as u32. Bytes after the last field are an error.
//
// Leaves out the file itself (open, append, fsync, truncate): the socket layer does that, truncating
// to `JournalReplay.validLength` before its first append.

/// One journal record.
public enum JournalRecord: Equatable, Sendable {
  /// A coordinator epoch began (written, and made durable, before any ASSIGN of the epoch).
  case started(epoch: UInt32, jobID: String, unitCount: UInt32, fingerprint: UInt32)
  /// A unit was leased (or re-adopted) under an attempt.
  case leased(unit: String, attempt: Attempt, worker: String)
  /// An attempt failed; counts against the unit's retry budget and the worker's record.
  case failed(unit: String, attempt: Attempt, worker: String, reason: String)
  /// A lease ended without counting a failure (hand-back, protocol error, commit by another attempt).
  case released(unit: String, attempt: Attempt, worker: String, reason: String)
  /// A unit's manifest line was made durable (informational; the manifest is the truth).
  case committed(unit: String, attempt: Attempt, worker: String)
  /// A worker id was excluded for the rest of the job.
  case excluded(worker: String, reason: String)

  /// Whether the append must be durable before any later send (docs/protocol.md section 11 table).
  public var requiresSync: Bool {
    switch self {
    case .started, .failed, .excluded: return true
    case .leased, .released, .committed: return false
    }
  }

  var typeCode: UInt8 {
    switch self {
    case .started: return 1
    case .leased: return 2
    case .failed: return 3
    case .released: return 4
    case .committed: return 5
    case .excluded: return 6
    }
  }
}

/// What `Journal.replay` recovered from a journal file's bytes.
public struct JournalReplay: Equatable, Sendable {
  /// The intact records, in order.
  public var records: [JournalRecord]
  /// Bytes of the file that hold the header and intact records; truncate to this before appending.
  /// Zero means the header itself is missing or torn: write `Journal.header` first.
  public var validLength: Int
  /// Whether bytes after `validLength` (a torn last record) were dropped.
  public var tornTail: Bool
}

/// Encoding and replay of journal records.
public enum Journal {
  /// The 8-byte file header.
  public static let header: [UInt8] = Array("LNTJRNL".utf8) + [1]

  /// One framed record (length, CRC-32, payload), ready to append.
  public static func encode(_ record: JournalRecord) -> [UInt8] {
    var payload = ByteWriter(capacity: 64)
    payload.u8(record.typeCode)
    switch record {
    case .started(let epoch, let jobID, let unitCount, let fingerprint):
      payload.u32(epoch)
      payload.string(jobID)
      payload.u32(unitCount)
      payload.u32(fingerprint)
    case .leased(let unit, let attempt, let worker), .committed(let unit, let attempt, let worker):
      payload.string(unit)
      payload.u64(attempt.rawValue)
      payload.string(worker)
    case .failed(let unit, let attempt, let worker, let reason),
      .released(let unit, let attempt, let worker, let reason):
      payload.string(unit)
      payload.u64(attempt.rawValue)
      payload.string(worker)
      payload.string(reason)
    case .excluded(let worker, let reason):
      payload.string(worker)
      payload.string(reason)
    }
    let length = BigEndian.bytes(UInt32(truncatingIfNeeded: payload.bytes.count))
    let crc = CRC32.update(CRC32.checksum(length), payload.bytes)
    return length + BigEndian.bytes(crc) + payload.bytes
  }

  /// Replays a journal file's bytes.
  ///
  /// - Returns: the intact records; a torn tail (a crash mid-append) is dropped and reported.
  /// - Throws: `WireError.journalHeader` for a foreign file, `.journalCorrupt` (naming the offset)
  ///   for damage before the end of the file.
  public static func replay(_ bytes: [UInt8]) throws -> JournalReplay {
    if bytes.count < header.count {
      if Array(header.prefix(bytes.count)) == bytes {
        return JournalReplay(records: [], validLength: 0, tornTail: !bytes.isEmpty)
      }
      throw WireError(.journalHeader, offset: 0, "\(bytes.count) bytes that are not a journal header")
    }
    if Array(bytes[0..<header.count]) != header {
      throw WireError(.journalHeader, offset: 0, "the file does not start with LNTJRNL version 1")
    }
    var records: [JournalRecord] = []
    var offset = header.count
    while offset < bytes.count {
      let remaining = bytes.count - offset
      func torn() -> JournalReplay { JournalReplay(records: records, validLength: offset, tornTail: true) }
      if bytes[offset...].allSatisfy({ $0 == 0 }) { return torn() }
      if remaining < 8 { return torn() }
      let length = Int(BigEndian.u32(bytes[offset..<offset + 4]))
      let stored = BigEndian.u32(bytes[offset + 4..<offset + 8])
      let (end, overflow) = (offset + 8).addingReportingOverflow(length)
      if overflow || end > bytes.count { return torn() }
      if length < 1 || length > Limits.maxJournalRecord {
        throw WireError(
          .journalCorrupt, offset: offset, "record length \(length) is outside 1–\(Limits.maxJournalRecord)")
      }
      let crc = CRC32.update(CRC32.checksum(bytes[offset..<offset + 4]), bytes[offset + 8..<end])
      if crc != stored {
        if end == bytes.count { return torn() }
        throw WireError(.journalCorrupt, offset: offset, "record checksum mismatch, and more records follow")
      }
      records.append(try decodePayload(bytes[offset + 8..<end], offset: offset))
      offset = end
    }
    return JournalReplay(records: records, validLength: offset, tornTail: false)
  }

  /// Decodes one record's payload; `offset` is the record's position, for error messages.
  static func decodePayload(_ payload: ArraySlice<UInt8>, offset: Int) throws -> JournalRecord {
    var reader = PayloadReader(bytes: payload, recordOffset: offset)
    let type = try reader.u8()
    let record: JournalRecord
    switch type {
    case 1:
      reader.name = "started"
      let epoch = try reader.u32("epoch")
      if epoch == 0 { throw reader.error("epoch", "epoch 0") }
      let jobID = try reader.string("job id", rule: FieldRule.jobID)
      record = .started(
        epoch: epoch, jobID: jobID, unitCount: try reader.u32("unit count"),
        fingerprint: try reader.u32("fingerprint"))
    case 2, 5:
      reader.name = type == 2 ? "leased" : "committed"
      let unit = try reader.string("unit", rule: FieldRule.unitID)
      let attempt = try reader.attempt()
      let worker = try reader.worker()
      record =
        type == 2
        ? .leased(unit: unit, attempt: attempt, worker: worker)
        : .committed(unit: unit, attempt: attempt, worker: worker)
    case 3, 4:
      reader.name = type == 3 ? "failed" : "released"
      let unit = try reader.string("unit", rule: FieldRule.unitID)
      let attempt = try reader.attempt()
      let worker = try reader.worker()
      let reason = try reader.string("reason", rule: FieldRule.reason)
      record =
        type == 3
        ? .failed(unit: unit, attempt: attempt, worker: worker, reason: reason)
        : .released(unit: unit, attempt: attempt, worker: worker, reason: reason)
    case 6:
      reader.name = "excluded"
      record = .excluded(
        worker: try reader.worker(), reason: try reader.string("reason", rule: FieldRule.reason))
    default:
      throw WireError(
        .journalCorrupt, command: "journal record", offset: offset, "unknown record type \(type)")
    }
    if !reader.atEnd {
      throw reader.error(nil, "\(reader.bytes.count - reader.position) bytes after the last field")
    }
    return record
  }
}

/// Bounds-checked reads from one record's payload.
private struct PayloadReader {
  let bytes: ArraySlice<UInt8>
  let recordOffset: Int
  var position = 0
  var name = "?"

  init(bytes: ArraySlice<UInt8>, recordOffset: Int) {
    self.bytes = bytes
    self.recordOffset = recordOffset
  }

  var atEnd: Bool { position == bytes.count }

  func error(_ field: String?, _ detail: String) -> WireError {
    WireError(.journalCorrupt, command: "journal record \(name)", field: field, offset: recordOffset, detail)
  }

  mutating func take(_ count: Int, _ field: String) throws -> ArraySlice<UInt8> {
    if count > bytes.count - position {
      throw error(field, "needs \(count) bytes, \(bytes.count - position) left")
    }
    let start = bytes.startIndex + position
    position += count
    return bytes[start..<start + count]
  }

  mutating func u8() throws -> UInt8 { try take(1, "type").first! }
  mutating func u32(_ field: String) throws -> UInt32 { BigEndian.u32(try take(4, field)) }

  mutating func attempt() throws -> Attempt {
    let attempt = Attempt(rawValue: BigEndian.u64(try take(8, "attempt")))
    if attempt.epoch == 0 || attempt.sequence == 0 { throw error("attempt", "attempt \(attempt) is zero") }
    return attempt
  }

  mutating func string(_ field: String, rule: (String) -> String?) throws -> String {
    let raw = try take(2, field)
    let length = Int(raw[raw.startIndex]) << 8 | Int(raw[raw.startIndex + 1])
    guard let text = FieldRule.utf8(try take(length, field)) else { throw error(field, "not valid UTF-8") }
    if let problem = rule(text) { throw error(field, problem) }
    return text
  }

  mutating func worker() throws -> String {
    let text = try string("worker", rule: { _ in nil })
    if let problem = FieldRule.workerID(Array(text.utf8)) { throw error("worker", problem) }
    return text
  }
}
