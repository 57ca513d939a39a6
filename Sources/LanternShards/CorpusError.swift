// Errors of the corpus side of LanternShards: corpus readers, context windows and the plan.
//
// Every case names the file and, where one exists, the line (text, JSON lines) or the byte offset
// (binaries, gzip streams), and `hint` says what to do next. A malformed record (one line, one
// token document) is a `BadRecord`: it is an error by default and only counted when the corpus
// is opened with `skipBadRecords`. Damage that makes the rest of a file unreadable (a corrupt
// gzip stream, a bad .npy header) is never skipped. The shard format has its own errors.

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Why one record of a corpus could not be used.
public enum BadRecordReason: String, Codable, CaseIterable, Hashable, Sendable {
  /// A JSON line that does not parse.
  case invalidJSON
  /// A JSON line that parses but is not an object.
  case notAnObject
  /// A JSON object without the configured text field.
  case missingField
  /// A JSON object whose text field is not a string.
  case nonStringField
  /// Text that is not valid UTF-8.
  case invalidUTF8
  /// A token id that is negative or not below the vocabulary size.
  case tokenOutOfRange
  /// A line or document larger than `CorpusOptions.maxRecordBytes` / `maxDocumentTokens`.
  case tooLarge
  /// The tokenizer threw on the document's text.
  case tokenizerFailed

  /// What to do about it.
  public var hint: String {
    switch self {
    case .invalidJSON, .notAnObject:
      return
        "every non-blank line of a .jsonl file must be one JSON object; fix the line or pass skipBadRecords"
    case .missingField, .nonStringField:
      return "set the text field (CorpusOptions.textField) to the key that holds the document text"
    case .invalidUTF8:
      return "re-encode the file as UTF-8 (iconv -f <encoding> -t UTF-8) or pass skipBadRecords"
    case .tokenOutOfRange:
      return "the token file was made with another tokenizer or has the wrong dtype (binaryTokenType)"
    case .tooLarge:
      return "raise CorpusOptions.maxRecordBytes / maxDocumentTokens, or split the document"
    case .tokenizerFailed:
      return "check that the tokenizer matches the model; pass skipBadRecords to skip such documents"
    }
  }
}

/// One malformed record: where it is and what is wrong with it.
public struct BadRecord: Hashable, Sendable, CustomStringConvertible {
  /// What is wrong.
  public var reason: BadRecordReason
  /// The file, as given to the corpus.
  public var path: String
  /// 1-based line number (text and JSON lines files); nil in token files.
  public var line: Int?
  /// Byte offset of the record (or of the bad token) in the file; uncompressed for .gz.
  public var byteOffset: Int64
  /// Details (the parser's message, the bad value).
  public var detail: String

  public var description: String {
    let place = line.map { "\(path):\($0) (byte \(byteOffset))" } ?? "\(path) at byte \(byteOffset)"
    return "\(place): \(reason.rawValue): \(detail)"
  }
}

/// Errors from corpus readers, the window packer and the planner.
public enum CorpusError: Error, Hashable, Sendable, CustomStringConvertible {
  /// An operating-system call failed (open, read, stat).
  case io(path: String, operation: String, reason: String)
  /// A file that is not a corpus file, or a corpus that mixes text and token files.
  case unsupportedFile(path: String, reason: String, hint: String)
  /// A malformed record (an error unless `skipBadRecords`).
  case badRecord(BadRecord)
  /// Damage that makes the rest of a file unreadable (gzip, .npy header, .bin length).
  case corruptFile(path: String, byteOffset: Int64, reason: String, hint: String)
  /// Window, corpus or plan settings that cannot work.
  case invalidSettings(reason: String, hint: String)
  /// A corpus file differs from the one the plan was made from.
  case corpusChanged(path: String, reason: String)
  /// Re-reading a work unit did not reproduce what the plan recorded.
  case unitMismatch(unit: String, reason: String)
  /// A stored plan that does not decode, has the wrong version or a wrong content hash.
  case invalidPlan(reason: String)

  /// What to do about it, one sentence.
  public var hint: String {
    switch self {
    case .io:
      return "check that the path exists and is readable"
    case .unsupportedFile(_, _, let hint), .corruptFile(_, _, _, let hint), .invalidSettings(_, let hint):
      return hint
    case .badRecord(let record):
      return record.reason.hint
    case .corpusChanged:
      return "the corpus changed since the job was planned; restore it or start a new job directory"
    case .unitMismatch:
      return "the corpus or the tokenizer changed since the plan was made; start a new job directory"
    case .invalidPlan:
      return "the stored plan is damaged or from another version; start a new job directory"
    }
  }

  /// The message without the hint.
  public var message: String {
    switch self {
    case .io(let path, let operation, let reason):
      return "\(path): cannot \(operation): \(reason)"
    case .unsupportedFile(let path, let reason, _):
      return "\(path): \(reason)"
    case .badRecord(let record):
      return record.description
    case .corruptFile(let path, let offset, let reason, _):
      return "\(path) at byte \(offset): \(reason)"
    case .invalidSettings(let reason, _):
      return reason
    case .corpusChanged(let path, let reason):
      return "\(path): \(reason)"
    case .unitMismatch(let unit, let reason):
      return "work unit \(unit): \(reason)"
    case .invalidPlan(let reason):
      return "plan: \(reason)"
    }
  }

  public var description: String { "\(message)\n---> HINT: \(hint)" }
}

/// The current `errno` as text.
func corpusErrnoText() -> String { String(cString: strerror(errno)) }
