// Pre-tokenizers: split normalized text into the pieces BPE sees. Mirrors huggingface/tokenizers
// tokenizers/src/pre_tokenizers/{byte_level.rs, split.rs, digits.rs, sequence.rs}.
//
// Implemented: ByteLevel (prefix space, GPT-2 regex, the byte-to-character mapping), Split with one
// of the regexes in SplitPatterns.swift and behavior Isolated, Digits, Sequence. Byte-level BPE needs
// ByteLevel as the last stage; its byte mapping is applied by the model (BPE.swift works on the UTF-8
// bytes of each piece), so the stages here only split. Left out: Whitespace, Metaspace, Punctuation,
// other Split behaviors, `invert`, literal-string Split patterns.

/// The tokenizer.json `"type"` strings of the pre-tokenizers this module implements.
enum PreTokenizerType: String, CaseIterable {
  case byteLevel = "ByteLevel"
  case split = "Split"
  case digits = "Digits"
  case sequence = "Sequence"
}

/// One pre-tokenization stage: splits each piece further.
protocol PreTokenizer: Sendable {
  /// The pieces of `pieces`, split; may append new scalars to `text` (ByteLevel's prefix space).
  func preTokenize(_ text: inout ScalarText, _ pieces: [Range<Int>]) -> [Range<Int>]
}

/// GPT-2's byte-level stage: optionally prepends a space to each piece that does not start with one,
/// then optionally splits with the GPT-2 regex.
struct ByteLevelPreTokenizer: PreTokenizer {
  /// Prepend " " to every piece not starting with a space (`add_prefix_space`).
  let addPrefixSpace: Bool
  /// Split with the GPT-2 regex (`use_regex`).
  let useRegex: Bool

  func preTokenize(_ text: inout ScalarText, _ pieces: [Range<Int>]) -> [Range<Int>] {
    var output: [Range<Int>] = []
    output.reserveCapacity(pieces.count * 4)
    for piece in pieces {
      var piece = piece
      if addPrefixSpace && text.scalars[piece.lowerBound] != 0x20 {
        piece = text.appendCopy(of: piece, prefixedWith: 0x20)
      }
      if useRegex {
        SplitPattern.gpt2.split(text, piece, into: &output)
      } else {
        output.append(piece)
      }
    }
    return output
  }
}

/// A `Split` pre-tokenizer with one of the known regexes and behavior `Isolated`.
struct SplitPreTokenizer: PreTokenizer {
  /// The regex, recognised from its text.
  let pattern: SplitPattern

  func preTokenize(_ text: inout ScalarText, _ pieces: [Range<Int>]) -> [Range<Int>] {
    var output: [Range<Int>] = []
    output.reserveCapacity(pieces.count * 4)
    for piece in pieces { pattern.split(text, piece, into: &output) }
    return output
  }
}

/// `Digits`: isolates every number character (`individual_digits`) or every run of them. Rust's
/// `char::is_numeric` is the N* general categories, the same set as `\p{N}`.
struct DigitsPreTokenizer: PreTokenizer {
  /// One piece per digit rather than per run.
  let individualDigits: Bool

  func preTokenize(_ text: inout ScalarText, _ pieces: [Range<Int>]) -> [Range<Int>] {
    var output: [Range<Int>] = []
    output.reserveCapacity(pieces.count * 2)
    text.classes.withUnsafeBufferPointer { classes in
      for piece in pieces {
        var start = piece.lowerBound
        var i = start
        while i < piece.upperBound {
          guard classes[i] & ScalarClass.number != 0 else {
            i &+= 1
            continue
          }
          if start < i { output.append(start..<i) }
          var j = i &+ 1
          if !individualDigits {
            while j < piece.upperBound && classes[j] & ScalarClass.number != 0 { j &+= 1 }
          }
          output.append(i..<j)
          i = j
          start = j
        }
        if start < piece.upperBound { output.append(start..<piece.upperBound) }
      }
    }
    return output
  }
}

/// `Sequence`: the stages in order, each applied to every piece the previous one produced.
struct SequencePreTokenizer: PreTokenizer {
  /// The stages, flattened (a nested Sequence is the same as its stages inline).
  let stages: [any PreTokenizer]

  func preTokenize(_ text: inout ScalarText, _ pieces: [Range<Int>]) -> [Range<Int>] {
    var pieces = pieces
    for stage in stages { pieces = stage.preTokenize(&text, pieces) }
    return pieces
  }
}

extension SequencePreTokenizer {
  /// Parses a tokenizer.json `pre_tokenizer` value into a flat list of stages ending with ByteLevel.
  static func parse(_ node: JSONNode) throws -> SequencePreTokenizer {
    var stages: [any PreTokenizer] = []
    try collect(node, into: &stages)
    guard let last = stages.last, last is ByteLevelPreTokenizer,
      stages.dropLast().allSatisfy({ !($0 is ByteLevelPreTokenizer) })
    else {
      throw node.error(
        .unsupported, "byte-level BPE needs exactly one ByteLevel pre-tokenizer, as the last stage",
        hint: "this module implements GPT-2-style byte-level BPE only")
    }
    return SequencePreTokenizer(stages: stages)
  }

  private static func collect(_ node: JSONNode, into stages: inout [any PreTokenizer]) throws {
    let typeName = try node.string("type")
    guard let type = PreTokenizerType(rawValue: typeName) else {
      throw node["type"].error(
        .unsupported, "unknown pre-tokenizer type '\(typeName)'",
        hint: "supported: \(PreTokenizerType.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    switch type {
    case .byteLevel:
      stages.append(
        ByteLevelPreTokenizer(
          addPrefixSpace: try node.bool("add_prefix_space", default: true),
          useRegex: try node.bool("use_regex", default: true)))
    case .digits:
      stages.append(DigitsPreTokenizer(individualDigits: try node.bool("individual_digits", default: false)))
    case .sequence:
      for child in try node["pretokenizers"].array() { try collect(child, into: &stages) }
    case .split:
      let patternNode = node["pattern"]
      guard let regex = try patternNode.optionalString("Regex") else {
        throw patternNode.error(
          .unsupported, "only {\"Regex\": ...} Split patterns are implemented",
          hint: "a literal String pattern is not supported")
      }
      guard let pattern = SplitPattern(regex: regex) else {
        throw patternNode["Regex"].error(
          .unsupported, "unknown Split regex \(regex.debugDescription)",
          hint: "implemented: the GPT-2, Llama 3 and Qwen2 pre-tokenizer regexes, verbatim")
      }
      let behavior = try node.string("behavior")
      guard behavior == "Isolated" else {
        throw node["behavior"].error(.unsupported, "Split behavior '\(behavior)'", hint: "only Isolated")
      }
      guard try !node.bool("invert", default: false) else {
        throw node["invert"].error(.unsupported, "inverted Split", hint: "only invert: false")
      }
      stages.append(SplitPreTokenizer(pattern: pattern))
    }
  }
}
