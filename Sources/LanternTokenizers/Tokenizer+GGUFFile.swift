// Glue between LanternFormats' GGUF reader and the GGUF-metadata initializer: reads the
// `tokenizer.ggml.*` keys of an open GGUFFile. Keys read: model, tokens, merges (absent: none),
// token_type (absent: all normal), pre, bos_token_id, eos_token_id, add_bos_token.

import LanternFormats

extension Tokenizer {
  /// The tokenizer stored in a GGUF file's metadata (byte-level BPE files only).
  public convenience init(gguf: GGUFFile) throws {
    let source = gguf.path
    func value<T>(_ key: String, _ expected: String, _ get: (GGUFValue) -> T?) throws -> T? {
      guard let value = gguf.metadata[key] else { return nil }
      guard let typed = get(value) else {
        throw TokenizerError(
          .invalidValue, source: source, key: key, "expected \(expected), found \(value.typeName)")
      }
      return typed
    }
    func required<T>(_ key: String, _ expected: String, _ get: (GGUFValue) -> T?) throws -> T {
      guard let typed = try value(key, expected, get) else {
        throw TokenizerError(
          .missingKey, source: source, key: key, "missing", hint: "the GGUF file carries no tokenizer")
      }
      return typed
    }
    let types = try value("tokenizer.ggml.token_type", "an array of integers") { $0.intArray } ?? []
    if let bad = types.first(where: { Int32(exactly: $0) == nil }) {
      throw TokenizerError(
        .invalidValue, source: source, key: "tokenizer.ggml.token_type", "token type \(bad) is out of range")
    }
    try self.init(
      ggufModel: try required("tokenizer.ggml.model", "a string") { $0.string },
      tokens: try required("tokenizer.ggml.tokens", "an array of strings") { $0.stringArray },
      merges: try value("tokenizer.ggml.merges", "an array of strings") { $0.stringArray } ?? [],
      tokenTypes: types.map { Int32(truncatingIfNeeded: $0) },
      pre: try value("tokenizer.ggml.pre", "a string") { $0.string },
      bosTokenID: try value("tokenizer.ggml.bos_token_id", "an integer") { $0.int },
      eosTokenID: try value("tokenizer.ggml.eos_token_id", "an integer") { $0.int },
      addBOS: try value("tokenizer.ggml.add_bos_token", "a bool") { $0.bool }, source: source)
  }
}
