// Hand-written scanners for the pre-tokenizer regexes of GPT-2, Llama 3 and Qwen2.
//
// Each scanner returns, at a position, the end of the match the reference regex engine (Oniguruma,
// a backtracking engine: alternatives are tried left to right, quantifiers are greedy) finds there.
// The patterns are recognised by their exact text; any other regex is rejected, since getting a
// general regex engine to agree with Oniguruma on every corner is out of scope. Mirrors the
// `SplitDelimiterBehavior::Isolated` split of huggingface/tokenizers
// (tokenizers/src/pre_tokenizers/split.rs, byte_level.rs): every match is a piece, and so is every gap.
//
// The three patterns cover every character, so gaps never occur in practice; the split loop still
// handles them. Lookahead semantics: in `\s+(?!\S)` a whitespace run followed by a non-space leaves its
// last character for the next piece (" ?\p{L}+" then takes it as the leading space of a word).

/// A pre-tokenizer regex this module implements exactly.
enum SplitPattern: Sendable, Equatable {
  /// GPT-2's pattern (ByteLevel's built-in regex).
  case gpt2
  /// Llama 3 (also GPT-4's cl100k): case-insensitive contractions, numbers in groups of up to three.
  case llama3
  /// Qwen2: as Llama 3 but one digit per piece.
  case qwen2

  /// The GPT-2 regex, verbatim.
  static let gpt2Regex = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
  /// The Llama 3 regex, verbatim.
  static let llama3Regex =
    #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
  /// The Qwen2 regex, verbatim.
  static let qwen2Regex =
    #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

  /// The pattern whose regex text is exactly `regex`, or nil.
  init?(regex: String) {
    switch regex {
    case Self.gpt2Regex: self = .gpt2
    case Self.llama3Regex: self = .llama3
    case Self.qwen2Regex: self = .qwen2
    default: return nil
    }
  }

  /// Splits `range` of `text` into matches (and gaps), appending them to `pieces`.
  func split(_ text: ScalarText, _ range: Range<Int>, into pieces: inout [Range<Int>]) {
    text.scalars.withUnsafeBufferPointer { scalars in
      text.classes.withUnsafeBufferPointer { classes in
        let scanner = Scanner(scalars: scalars, classes: classes, end: range.upperBound)
        var position = range.lowerBound
        var gapStart = position
        while position < range.upperBound {
          let end: Int
          switch self {
          case .gpt2: end = scanner.gpt2(at: position)
          case .llama3: end = scanner.llama3(at: position, maxDigits: 3)
          case .qwen2: end = scanner.llama3(at: position, maxDigits: 1)
          }
          if end > position {
            if gapStart < position { pieces.append(gapStart..<position) }
            pieces.append(position..<end)
            position = end
            gapStart = end
          } else {
            position &+= 1
          }
        }
        if gapStart < range.upperBound { pieces.append(gapStart..<range.upperBound) }
      }
    }
  }
}

/// Matching primitives over one piece; `end` bounds every look (the regex sees only the piece).
private struct Scanner {
  let scalars: UnsafeBufferPointer<UInt32>
  let classes: UnsafeBufferPointer<UInt8>
  let end: Int

  static let space: UInt32 = 0x20
  static let apostrophe: UInt32 = 0x27
  static let lineFeed: UInt32 = 0x0A
  static let carriageReturn: UInt32 = 0x0D

  @inline(__always) func isLetter(_ i: Int) -> Bool { classes[i] & ScalarClass.letter != 0 }
  @inline(__always) func isNumber(_ i: Int) -> Bool { classes[i] & ScalarClass.number != 0 }
  @inline(__always) func isSpace(_ i: Int) -> Bool { classes[i] & ScalarClass.whitespace != 0 }
  /// `[^\s\p{L}\p{N}]`.
  @inline(__always) func isOther(_ i: Int) -> Bool {
    classes[i] & (ScalarClass.letter | ScalarClass.number | ScalarClass.whitespace) == 0
  }
  @inline(__always) func isLineBreak(_ i: Int) -> Bool {
    scalars[i] == Self.lineFeed || scalars[i] == Self.carriageReturn
  }

  /// End of the run starting at `i` of scalars with any of `flags` (`i` itself if none).
  @inline(__always) func run(from i: Int, _ flags: UInt8) -> Int {
    var j = i
    while j < end && classes[j] & flags != 0 { j &+= 1 }
    return j
  }

  /// End of the run of `[^\s\p{L}\p{N}]` starting at `i`.
  @inline(__always) func otherRun(from i: Int) -> Int {
    var j = i
    while j < end && isOther(j) { j &+= 1 }
    return j
  }

  /// `'s|'t|'re|'ve|'m|'ll|'d` at `i`, case-sensitive or (Oniguruma `(?i:...)`) by simple case folding,
  /// under which `ſ` (U+017F) folds to `s`. Returns the match end or `i`.
  func contraction(at i: Int, ignoringCase: Bool) -> Int {
    guard scalars[i] == Self.apostrophe, i &+ 1 < end else { return i }
    func folded(_ k: Int) -> UInt32 {
      let value = scalars[k]
      guard ignoringCase else { return value }
      if value >= 0x41 && value <= 0x5A { return value | 0x20 }
      return value == 0x17F ? 0x73 : value
    }
    let first = folded(i &+ 1)
    switch first {
    case 0x73, 0x74, 0x6D, 0x64: return i &+ 2  // s t m d
    case 0x72, 0x76:  // r v, then e
      return i &+ 2 < end && folded(i &+ 2) == 0x65 ? i &+ 3 : i
    case 0x6C:  // l, then l
      return i &+ 2 < end && folded(i &+ 2) == 0x6C ? i &+ 3 : i
    default: return i
    }
  }

  /// Whitespace at `i`: `\s+(?!\S)` (the run, less its last character if a non-space follows and the
  /// run is longer than one), else `\s+`.
  @inline(__always) func whitespace(at i: Int) -> Int {
    let j = run(from: i, ScalarClass.whitespace)
    if j == end || j &- i < 2 { return j }
    return j &- 1
  }

  /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
  func gpt2(at i: Int) -> Int {
    let contracted = contraction(at: i, ignoringCase: false)
    if contracted > i { return contracted }
    if scalars[i] == Self.space && i &+ 1 < end {
      if isLetter(i &+ 1) { return run(from: i &+ 1, ScalarClass.letter) }
      if isNumber(i &+ 1) { return run(from: i &+ 1, ScalarClass.number) }
      if isOther(i &+ 1) { return otherRun(from: i &+ 1) }
    }
    if isLetter(i) { return run(from: i, ScalarClass.letter) }
    if isNumber(i) { return run(from: i, ScalarClass.number) }
    if isOther(i) { return otherRun(from: i) }
    return whitespace(at: i)
  }

  /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}`
  /// `| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
  func llama3(at i: Int, maxDigits: Int) -> Int {
    let contracted = contraction(at: i, ignoringCase: true)
    if contracted > i { return contracted }
    // An optional leading character that is not a line break, letter or number, then letters.
    if !isLineBreak(i) && !isLetter(i) && !isNumber(i) && i &+ 1 < end && isLetter(i &+ 1) {
      return run(from: i &+ 1, ScalarClass.letter)
    }
    if isLetter(i) { return run(from: i, ScalarClass.letter) }
    if isNumber(i) { return min(run(from: i, ScalarClass.number), i &+ maxDigits) }
    // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    var start = i
    if scalars[i] == Self.space && i &+ 1 < end && isOther(i &+ 1) { start = i &+ 1 }
    if isOther(start) {
      var j = otherRun(from: start)
      while j < end && isLineBreak(j) { j &+= 1 }
      return j
    }
    // `\s*[\r\n]+`: the whitespace run up to and including its last line break.
    let j = run(from: i, ScalarClass.whitespace)
    var k = j
    while k > i {
      k &-= 1
      if isLineBreak(k) { return k &+ 1 }
    }
    return whitespace(at: i)
  }
}
