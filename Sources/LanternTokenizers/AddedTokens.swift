// Added tokens: special tokens such as "<|endoftext|>" and user-added ones, found in the text before
// pre-tokenization and passed through whole. Mirrors huggingface/tokenizers
// tokenizers/src/tokenizer/added_vocabulary.rs (`find_matches`, `extract_and_normalize`).
//
// Two passes, as in the reference: tokens with `normalized: false` are matched in the raw text; the
// rest of the text is normalized and then searched for tokens with `normalized: true` (matched by
// their normalized content). Matching is leftmost-longest and non-overlapping (Aho-Corasick in Rust,
// a byte trie here). `single_word` drops a match touching a word character (Rust regex `\w`), `lstrip`
// and `rstrip` swallow the whitespace on that side. Left out: `encode_special_tokens` (always off).

/// A token matched whole in the input text, as listed in tokenizer.json's `added_tokens`.
public struct AddedToken: Sendable, Equatable {
  /// The token id.
  public var id: Int
  /// The text it matches.
  public var content: String
  /// Special tokens (BOS, EOS, chat markers) are dropped by `decode(_:skipSpecialTokens: true)`.
  public var special: Bool
  /// Only match when not touching a word character on either side.
  public var singleWord: Bool
  /// Also swallow the whitespace on the left.
  public var lstrip: Bool
  /// Also swallow the whitespace on the right.
  public var rstrip: Bool
  /// Match in the normalized text (true) or the raw text (false).
  public var normalized: Bool

  /// An added token; the defaults are those of a special token.
  public init(
    id: Int, content: String, special: Bool = true, singleWord: Bool = false, lstrip: Bool = false,
    rstrip: Bool = false, normalized: Bool = false
  ) {
    self.id = id
    self.content = content
    self.special = special
    self.singleWord = singleWord
    self.lstrip = lstrip
    self.rstrip = rstrip
    self.normalized = normalized
  }
}

/// A part of the input after splitting out added tokens.
enum Segment: Equatable {
  /// Ordinary text: a byte range of the searched text.
  case text(Range<Int>)
  /// An added token's id.
  case token(Int)
}

/// Finds added tokens in text: a byte trie of their contents, leftmost-longest.
struct AddedTokenMatcher: Sendable {
  private var children: [[UInt8: Int32]] = [[:]]
  private var terminal: [Int32] = [-1]
  private var startsToken = [Bool](repeating: false, count: 256)
  private var tokens: [AddedToken] = []

  /// A matcher for `tokens`, each found by `pattern(token)` (its content, or its normalized content).
  init?(_ tokens: [AddedToken], pattern: (AddedToken) -> String) {
    guard !tokens.isEmpty else { return nil }
    self.tokens = tokens
    for (index, token) in tokens.enumerated() {
      let bytes = Array(pattern(token).utf8)
      guard let first = bytes.first else { continue }
      startsToken[Int(first)] = true
      var node = 0
      for byte in bytes {
        if let child = children[node][byte] {
          node = Int(child)
        } else {
          children.append([:])
          terminal.append(-1)
          children[node][byte] = Int32(children.count - 1)
          node = children.count - 1
        }
      }
      terminal[node] = Int32(index)
    }
  }

  /// Splits `text` into text ranges and added tokens, exactly as `find_matches` does.
  func split(_ text: [UInt8]) -> [Segment] {
    var segments: [Segment] = []
    var consumed = 0
    var position = 0
    let count = text.count
    while position < count {
      guard startsToken[Int(text[position])], let (length, index) = longestMatch(text, at: position) else {
        position += 1
        continue
      }
      let token = tokens[index]
      var start = position
      var stop = position + length
      position = stop
      if token.singleWord {
        let spaceBefore = start == 0 || !WordBoundary.endsWithWord(text, before: start)
        let spaceAfter = stop == count || !WordBoundary.startsWithWord(text, at: stop)
        if !spaceBefore || !spaceAfter { continue }
      }
      if token.lstrip { start = max(WordBoundary.trailingSpaceStart(text, before: start), consumed) }
      if token.rstrip { stop = WordBoundary.leadingSpaceEnd(text, from: stop) }
      if consumed < start { segments.append(.text(consumed..<start)) }
      segments.append(.token(token.id))
      consumed = stop
    }
    if consumed < count { segments.append(.text(consumed..<count)) }
    return segments
  }

  private func longestMatch(_ text: [UInt8], at start: Int) -> (length: Int, index: Int)? {
    var node = 0
    var best: (Int, Int)?
    var i = start
    while i < text.count, let child = children[node][text[i]] {
      node = Int(child)
      i += 1
      if terminal[node] >= 0 { best = (i - start, Int(terminal[node])) }
    }
    return best
  }
}

/// The `\w`, `\w$`, `^\s*` and `\s*$` tests of added_vocabulary.rs, over UTF-8 bytes.
enum WordBoundary {
  /// The scalar starting at byte `i` and its length.
  static func scalar(_ text: [UInt8], at i: Int) -> (value: UInt32, length: Int) {
    let b0 = UInt32(text[i])
    if b0 < 0x80 { return (b0, 1) }
    let length = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : 2
    guard i + length <= text.count else { return (0xFFFD, 1) }
    var value = b0 & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
    for k in 1..<length { value = value << 6 | UInt32(text[i + k] & 0x3F) }
    return (value, length)
  }

  /// The start of the scalar ending just before byte `end`.
  static func scalarStart(_ text: [UInt8], before end: Int) -> Int {
    var i = end - 1
    while i > 0 && text[i] & 0xC0 == 0x80 { i -= 1 }
    return i
  }

  static func endsWithWord(_ text: [UInt8], before end: Int) -> Bool {
    end > 0 && ScalarClass.of(scalar(text, at: scalarStart(text, before: end)).value) & ScalarClass.word != 0
  }

  static func startsWithWord(_ text: [UInt8], at start: Int) -> Bool {
    start < text.count && ScalarClass.of(scalar(text, at: start).value) & ScalarClass.word != 0
  }

  /// Where the whitespace run ending at `end` begins (`end` if none).
  static func trailingSpaceStart(_ text: [UInt8], before end: Int) -> Int {
    var i = end
    while i > 0 {
      let start = scalarStart(text, before: i)
      guard ScalarClass.of(scalar(text, at: start).value) & ScalarClass.whitespace != 0 else { break }
      i = start
    }
    return i
  }

  /// Where the whitespace run starting at `start` ends.
  static func leadingSpaceEnd(_ text: [UInt8], from start: Int) -> Int {
    var i = start
    while i < text.count {
      let (value, length) = scalar(text, at: i)
      guard ScalarClass.of(value) & ScalarClass.whitespace != 0 else { break }
      i += length
    }
    return i
  }
}
