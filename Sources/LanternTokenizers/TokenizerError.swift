// The one error type of LanternTokenizers: every failure names the file (or metadata source), the
// JSON key path or metadata key, and says what to do next. Loading never crashes on bad input.

/// A tokenizer file or metadata array that cannot be used, with where and why.
public struct TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
  /// What went wrong, coarsely; `description` has the details.
  public enum Kind: Sendable, Equatable {
    /// The file could not be read from disk.
    case unreadableFile
    /// The bytes are not valid JSON (or not UTF-8 text).
    case malformedJSON
    /// A required key is absent.
    case missingKey
    /// A key holds a value of the wrong type or out of range.
    case invalidValue
    /// A well-formed setting this module does not implement (another model type, an unknown regex).
    case unsupported
    /// A merge or special token names a token that is not in the vocabulary.
    case unknownToken
  }

  /// The category of the failure.
  public let kind: Kind
  /// The file path, or a label such as `GGUF metadata` for in-memory sources.
  public let source: String
  /// The JSON key path (`model.merges[12]`) or metadata key, when one is to blame.
  public let key: String?
  /// What is wrong.
  public let message: String
  /// What to do about it.
  public let hint: String?

  /// Makes an error; `key` and `hint` are optional.
  public init(_ kind: Kind, source: String, key: String? = nil, _ message: String, hint: String? = nil) {
    self.kind = kind
    self.source = source
    self.key = key
    self.message = message
    self.hint = hint
  }

  /// "source: key 'key': message ---> HINT: hint".
  public var description: String {
    var text = source
    if let key { text += ": key '\(key)'" }
    text += ": \(message)"
    if let hint { text += " ---> HINT: \(hint)" }
    return text
  }
}
