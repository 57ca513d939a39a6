// Byte-level helpers shared by the message codec and the journal: big-endian integers, the field
// rules of docs/protocol.md section 3 (unit ids, reasons, kinds, paths), and CRC-32 (IEEE 802.3,
// the polynomial zlib uses) in pure Swift. No I/O, no allocation sized by untrusted input.

/// Sizes and counts fixed by docs/protocol.md.
public enum Limits {
  /// Frames in the largest message (COMMITTED with 128 outputs), not counting the routing id.
  public static let maxFrames = 132
  /// Bytes in a unit id.
  public static let maxUnitID = 256
  /// Bytes in a reason text.
  public static let maxReason = 1024
  /// Bytes in an ASSIGN spec.
  public static let maxSpec = 65_536
  /// Bytes in a job id.
  public static let maxJobID = 128
  /// Bytes in a job kind.
  public static let maxKind = 32
  /// Job kinds one worker may announce.
  public static let maxKinds = 16
  /// Outputs in one COMMITTED.
  public static let maxOutputs = 128
  /// Bytes in an output path.
  public static let maxPath = 1024
  /// Bytes in an output checksum.
  public static let maxChecksum = 128
  /// Bytes in a worker id (a ZeroMQ routing id).
  public static let maxWorkerID = 255
  /// Cores a worker may announce.
  public static let maxCores: UInt32 = 65_536
  /// Bytes in one journal record's payload.
  public static let maxJournalRecord = 65_536
  /// Largest duration on the wire, in milliseconds.
  public static let maxDurationMs: UInt32 = 0x7FFF_FFFF
  /// Frame size a coordinator's `ZMQ_MAXMSGSIZE` should allow.
  public static let coordinatorMaxFrameBytes = 4096
  /// Frame size a worker's `ZMQ_MAXMSGSIZE` should allow.
  public static let workerMaxFrameBytes = 70_000

  /// `text` cut to at most `maxBytes` bytes of UTF-8 at a character boundary, NULs replaced by spaces.
  public static func clip(_ text: String, to maxBytes: Int = maxReason) -> String {
    var clean = text.contains("\0") ? String(text.map { $0 == "\0" ? " " : $0 }) : text
    if clean.utf8.count <= maxBytes { return clean }
    var used = 0
    var end = clean.startIndex
    for index in clean.indices {
      let size = clean[index].utf8.count
      if used + size > maxBytes { break }
      used += size
      end = clean.index(after: index)
    }
    clean = String(clean[..<end])
    return clean
  }
}

/// Appends big-endian integers and length-prefixed strings to a byte array.
struct ByteWriter {
  var bytes: [UInt8] = []

  init(capacity: Int = 16) { bytes.reserveCapacity(capacity) }

  mutating func u8(_ value: UInt8) { bytes.append(value) }

  mutating func u16(_ value: UInt16) {
    bytes.append(UInt8(truncatingIfNeeded: value >> 8))
    bytes.append(UInt8(truncatingIfNeeded: value))
  }

  mutating func u32(_ value: UInt32) {
    for shift in stride(from: 24, through: 0, by: -8) {
      bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
    }
  }

  mutating func u64(_ value: UInt64) {
    for shift in stride(from: 56, through: 0, by: -8) {
      bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
    }
  }

  /// A `u16` byte count then the UTF-8 bytes; callers keep strings under 65,536 bytes.
  mutating func string(_ value: String) {
    let utf8 = Array(value.utf8)
    u16(UInt16(truncatingIfNeeded: utf8.count))
    bytes.append(contentsOf: utf8)
  }
}

/// Big-endian decoding of fixed-size fields; every read is bounds-checked by the caller's size test.
enum BigEndian {
  static func u32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var value: UInt32 = 0
    for byte in bytes { value = value << 8 | UInt32(byte) }
    return value
  }

  static func u64(_ bytes: ArraySlice<UInt8>) -> UInt64 {
    var value: UInt64 = 0
    for byte in bytes { value = value << 8 | UInt64(byte) }
    return value
  }

  static func bytes(_ value: UInt32) -> [UInt8] {
    var writer = ByteWriter(capacity: 4)
    writer.u32(value)
    return writer.bytes
  }

  static func bytes(_ value: UInt64) -> [UInt8] {
    var writer = ByteWriter(capacity: 8)
    writer.u64(value)
    return writer.bytes
  }
}

/// The field rules of docs/protocol.md section 3; each returns nil when valid, else the problem.
enum FieldRule {
  /// Decodes strict UTF-8 (no replacement characters allowed in), or nil.
  static func utf8(_ bytes: ArraySlice<UInt8>) -> String? {
    var iterator = bytes.makeIterator()
    var decoder = UTF8()
    var scalars = String.UnicodeScalarView()
    while true {
      switch decoder.decode(&iterator) {
      case .scalarValue(let scalar): scalars.append(scalar)
      case .emptyInput: return String(scalars)
      case .error: return nil
      }
    }
  }

  static func hasControl(_ text: String) -> Bool {
    text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
  }

  static func unitID(_ text: String) -> String? {
    let count = text.utf8.count
    if count < 1 || count > Limits.maxUnitID { return "must be 1–\(Limits.maxUnitID) bytes, got \(count)" }
    if hasControl(text) { return "contains a control character" }
    return nil
  }

  static func kind(_ text: String) -> String? {
    let count = text.utf8.count
    if count < 1 || count > Limits.maxKind { return "'\(text)' must be 1–\(Limits.maxKind) bytes" }
    for byte in text.utf8 {
      let ok =
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2E
        || byte == 0x5F || byte == 0x2D
      if !ok { return "'\(text)' may hold only a-z 0-9 . _ -" }
    }
    return nil
  }

  static func workerID(_ bytes: [UInt8]) -> String? {
    if bytes.isEmpty || bytes.count > Limits.maxWorkerID {
      return "must be 1–\(Limits.maxWorkerID) bytes, got \(bytes.count)"
    }
    if bytes[0] == 0 { return "starts with a zero byte (a generated id): set ZMQ_ROUTING_ID" }
    if bytes.contains(where: { $0 < 0x21 || $0 > 0x7E }) { return "must be printable ASCII without spaces" }
    return nil
  }

  static func checksum(_ bytes: ArraySlice<UInt8>) -> String? {
    if bytes.isEmpty || bytes.count > Limits.maxChecksum {
      return "must be 1–\(Limits.maxChecksum) bytes, got \(bytes.count)"
    }
    if bytes.contains(where: { $0 < 0x21 || $0 > 0x7E }) { return "must be printable ASCII without spaces" }
    return nil
  }

  static func path(_ text: String) -> String? {
    let count = text.utf8.count
    if count < 1 || count > Limits.maxPath { return "must be 1–\(Limits.maxPath) bytes, got \(count)" }
    if hasControl(text) { return "contains a control character" }
    if text.hasPrefix("/") { return "'\(text)' is absolute; paths are relative to the job directory" }
    for component in text.split(separator: "/", omittingEmptySubsequences: false) {
      if component.isEmpty || component == "." || component == ".." {
        return "'\(text)' has an empty, '.' or '..' component"
      }
    }
    return nil
  }

  static func reason(_ text: String) -> String? {
    let count = text.utf8.count
    if count > Limits.maxReason { return "must be at most \(Limits.maxReason) bytes, got \(count)" }
    if text.contains("\0") { return "contains NUL" }
    return nil
  }

  static func jobID(_ text: String) -> String? {
    let count = text.utf8.count
    if count < 1 || count > Limits.maxJobID { return "must be 1–\(Limits.maxJobID) bytes, got \(count)" }
    if hasControl(text) { return "contains a control character" }
    return nil
  }
}

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), equal to zlib's `crc32`.
public enum CRC32 {
  private static let table: [UInt32] = (0..<256).map { index in
    var crc = UInt32(index)
    for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    return crc
  }

  /// Continues `crc` (start with 0) over `bytes`.
  public static func update<Bytes: Sequence>(_ crc: UInt32, _ bytes: Bytes) -> UInt32
  where Bytes.Element == UInt8 {
    var value = ~crc
    table.withUnsafeBufferPointer { table in
      for byte in bytes {
        value = table[Int((value ^ UInt32(byte)) & 0xFF)] ^ (value >> 8)
      }
    }
    return ~value
  }

  /// The CRC-32 of `bytes`.
  public static func checksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
    update(0, bytes)
  }
}
