// Post-processing: the special tokens `encode(_:addSpecialTokens: true)` wraps around a sequence.
// Mirrors huggingface/tokenizers tokenizers/src/processors/{template.rs, sequence.rs, byte_level.rs}.
//
// Implemented: TemplateProcessing's `single` template (special tokens before and after `$A`, e.g.
// Llama 3's "<|begin_of_text|> $A"), ByteLevel (offsets only, so nothing for ids), Sequence of these,
// and null. Left out: pair templates, type ids, offsets, RobertaProcessing, BertProcessing.

/// The tokenizer.json `"type"` strings of the post-processors this module implements.
enum PostProcessorType: String, CaseIterable {
  case templateProcessing = "TemplateProcessing"
  case byteLevel = "ByteLevel"
  case sequence = "Sequence"
}

/// Ids added around a single sequence.
struct PostProcessor: Sendable, Equatable {
  /// Ids before the sequence (e.g. BOS).
  var prefix: [Int] = []
  /// Ids after the sequence (e.g. EOS).
  var suffix: [Int] = []

  /// `ids` wrapped in the prefix and suffix.
  func process(_ ids: [Int]) -> [Int] {
    prefix.isEmpty && suffix.isEmpty ? ids : prefix + ids + suffix
  }

  /// Parses a tokenizer.json `post_processor` value.
  static func parse(_ node: JSONNode) throws -> PostProcessor {
    guard !node.isNull else { return PostProcessor() }
    let typeName = try node.string("type")
    guard let type = PostProcessorType(rawValue: typeName) else {
      throw node["type"].error(
        .unsupported, "unknown post-processor type '\(typeName)'",
        hint: "supported: null, \(PostProcessorType.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    switch type {
    case .byteLevel:
      return PostProcessor()
    case .sequence:
      var combined = PostProcessor()
      for child in try node["processors"].array() {
        let processor = try parse(child)
        // Each processor wraps the output of the previous one.
        combined.prefix = processor.prefix + combined.prefix
        combined.suffix += processor.suffix
      }
      return combined
    case .templateProcessing:
      return try parseTemplate(node)
    }
  }

  private static func parseTemplate(_ node: JSONNode) throws -> PostProcessor {
    var result = PostProcessor()
    var sawSequence = false
    for item in try node["single"].array() {
      if !item["Sequence"].isNull {
        let name = try item["Sequence"].string("id")
        guard name == "A", !sawSequence else {
          throw item["Sequence"].error(
            .invalidValue, "a single-sequence template must contain $A exactly once, found '\(name)'")
        }
        sawSequence = true
      } else if !item["SpecialToken"].isNull {
        let name = try item["SpecialToken"].string("id")
        let entry = node["special_tokens"][name]
        guard !entry.isNull else {
          throw node["special_tokens"].error(
            .missingKey, "the template uses special token '\(name)', which special_tokens does not define")
        }
        let ids = try entry["ids"].array().map { try $0.index() }
        if sawSequence { result.suffix += ids } else { result.prefix += ids }
      } else {
        throw item.error(.invalidValue, "expected a {\"Sequence\": ...} or {\"SpecialToken\": ...} item")
      }
    }
    guard sawSequence else { throw node["single"].error(.invalidValue, "the template has no $A") }
    return result
  }
}
