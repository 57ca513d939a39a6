// Normalizers: text rewriting before pre-tokenization. Mirrors huggingface/tokenizers
// tokenizers/src/normalizers/{unicode.rs, utils.rs}. Implemented: none (null), NFC, and Sequence of
// those; byte-level BPE models use nothing else in practice (GPT-2, SmolLM, Llama 3: null; Qwen2: NFC).
// Left out: NFD, NFKC, NFKD, Lowercase, Strip, Replace, Prepend, BertNormalizer, Precompiled.

import Foundation

/// The tokenizer.json `"type"` strings of the normalizers this module implements.
enum NormalizerType: String, CaseIterable {
  case nfc = "NFC"
  case sequence = "Sequence"
}

/// One normalization stage.
protocol Normalizer: Sendable {
  /// `text`, normalized.
  func normalize(_ text: String) -> String
}

/// Unicode canonical composition (NFC).
struct NFCNormalizer: Normalizer {
  func normalize(_ text: String) -> String { text.precomposedStringWithCanonicalMapping }
}

/// Stages applied in order.
struct SequenceNormalizer: Normalizer {
  /// The stages.
  let stages: [any Normalizer]

  func normalize(_ text: String) -> String {
    stages.reduce(text) { $1.normalize($0) }
  }

  /// Parses a tokenizer.json `normalizer` value; null gives nil.
  static func parse(_ node: JSONNode) throws -> (any Normalizer)? {
    guard !node.isNull else { return nil }
    let typeName = try node.string("type")
    guard let type = NormalizerType(rawValue: typeName) else {
      throw node["type"].error(
        .unsupported, "unknown normalizer type '\(typeName)'",
        hint: "supported: null, \(NormalizerType.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    switch type {
    case .nfc:
      return NFCNormalizer()
    case .sequence:
      let stages = try node["normalizers"].array().compactMap { try parse($0) }
      return stages.isEmpty ? nil : SequenceNormalizer(stages: stages)
    }
  }
}
