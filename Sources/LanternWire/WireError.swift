// WireError: the one error type of LanternWire, for garbled messages and damaged journals.
// Messages name the command (or journal record), the field, and the byte offset where one applies,
// and end with a hint. Protocol *violations* by a well-formed message (a COMMITTED nobody authorized)
// are not errors here: the state machines turn them into disconnect actions.

/// A message or journal record that breaks docs/protocol.md.
public struct WireError: Error, Equatable, Sendable, CustomStringConvertible {
  /// What went wrong, coarsely, so tests and callers can match on it.
  public enum Kind: String, Equatable, Sendable {
    /// The message had no frames, or more than `Limits.maxFrames`.
    case frameCount
    /// Frame 0 was not `LWP` + version.
    case signature
    /// A version this implementation does not speak.
    case version
    /// An unknown command code.
    case command
    /// A field's frame had the wrong size.
    case fieldSize
    /// A field's value is out of range, not UTF-8, or otherwise invalid.
    case fieldValue
    /// The journal's header is not `LNTJRNL` + version 1.
    case journalHeader
    /// A journal record is damaged and is not the torn tail of the file.
    case journalCorrupt
    /// A work unit, configuration or replay input that the state machine cannot accept.
    case invalidInput
  }

  /// The coarse kind, for matching.
  public let kind: Kind
  /// The command or journal record concerned (`"READY"`, `"journal record leased"`), if known.
  public let command: String?
  /// The field concerned (`"cores"`, `"output 3 path"`), if any.
  public let field: String?
  /// A byte offset (journal) if one applies.
  public let offset: Int?
  /// A precise, human-readable account of the problem.
  public let detail: String

  /// Makes an error; `detail` says what was found and what was expected.
  public init(
    _ kind: Kind, command: String? = nil, field: String? = nil, offset: Int? = nil, _ detail: String
  ) {
    self.kind = kind
    self.command = command
    self.field = field
    self.offset = offset
    self.detail = detail
  }

  public var description: String {
    var text = "LWP: "
    if let command { text += command }
    if let field { text += command == nil ? "field '\(field)'" : " field '\(field)'" }
    if let offset { text += " at byte \(offset)" }
    if command != nil || field != nil || offset != nil { text += ": " }
    text += detail
    text += " ---> HINT: " + hint
    return text
  }

  /// What to do next.
  public var hint: String {
    switch kind {
    case .frameCount, .signature, .command, .fieldSize, .fieldValue:
      return "the peer does not speak LWP/1 correctly (see docs/protocol.md); it was disconnected"
    case .version:
      return "upgrade the older side so both speak a common LWP version"
    case .journalHeader:
      return "journal.lwj is not a Lantern journal; restore it or start a new job directory"
    case .journalCorrupt:
      return "journal.lwj is damaged before its end; restore it from a backup or start a new job directory"
    case .invalidInput:
      return "fix the job's unit list or configuration"
    }
  }
}
