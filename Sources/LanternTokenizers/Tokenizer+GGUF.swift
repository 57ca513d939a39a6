// A tokenizer from GGUF metadata (llama.cpp's `tokenizer.ggml.*` keys), given as plain values so this
// module needs no GGUF reader. Only byte-level BPE (`tokenizer.ggml.model` = "gpt2") is supported.
//
// `tokenizer.ggml.pre` names the pre-tokenizer; the mapping mirrors llama.cpp (src/llama-vocab.cpp)
// and each model's published tokenizer.json:
//   nil, "default", "gpt-2", "gpt2"         ByteLevel with the GPT-2 regex
//   "smollm"                                Digits(individual) then ByteLevel (SmolLM/SmolLM2)
//   "llama-bpe", "llama3", "llama-v3"       Split(Llama 3 regex) then ByteLevel, ignore_merges
//   "qwen2"                                 NFC, Split(Qwen2 regex) then ByteLevel
// transformers 5's GGUF loader differs on two of these: it uses plain GPT-2 splitting for "smollm"
// (so "  1" splits as " ", " 1" instead of "  ", "1") and no NFC for "qwen2"; we follow the models'
// own tokenizer.json, which is also what llama.cpp reproduces. Token types (llama.cpp's enum): 1
// normal, 2 unknown, 3 control (→ special added token), 4 user-defined (→ added token, not special),
// 5 unused, 6 byte. As in transformers, a vocabulary entry not spelled in the byte alphabet is
// re-spelled from its UTF-8, and a control token using characters outside it is not matched in text.

extension Tokenizer {
  /// The `tokenizer.ggml.pre` values this module implements.
  public static let supportedGGUFPreTokenizers = [
    "default", "gpt-2", "gpt2", "smollm", "llama-bpe", "llama3", "llama-v3", "qwen2",
  ]

  /// Builds a tokenizer from GGUF tokenizer metadata.
  /// - Parameters:
  ///   - ggufModel: `tokenizer.ggml.model`; must be "gpt2" (byte-level BPE).
  ///   - tokens: `tokenizer.ggml.tokens`, indexed by id.
  ///   - merges: `tokenizer.ggml.merges`, "left right" strings in rank order.
  ///   - tokenTypes: `tokenizer.ggml.token_type`, one per token (or empty: all normal).
  ///   - pre: `tokenizer.ggml.pre`, the pre-tokenizer name.
  ///   - bosTokenID, eosTokenID: `tokenizer.ggml.bos_token_id` / `eos_token_id`.
  ///   - addBOS: `tokenizer.ggml.add_bos_token`; nil means false.
  public convenience init(
    ggufModel: String, tokens: [String], merges: [String], tokenTypes: [Int32], pre: String?,
    bosTokenID: Int?, eosTokenID: Int?, addBOS: Bool?
  ) throws {
    try self.init(
      ggufModel: ggufModel, tokens: tokens, merges: merges, tokenTypes: tokenTypes, pre: pre,
      bosTokenID: bosTokenID, eosTokenID: eosTokenID, addBOS: addBOS, source: "GGUF metadata")
  }

  /// The GGUF initializer with the file (or label) that errors should name.
  convenience init(
    ggufModel: String, tokens: [String], merges: [String], tokenTypes: [Int32], pre: String?,
    bosTokenID: Int?, eosTokenID: Int?, addBOS: Bool?, source: String
  ) throws {
    guard ggufModel == "gpt2" else {
      throw TokenizerError(
        .unsupported, source: source, key: "tokenizer.ggml.model",
        "tokenizer model '\(ggufModel)'", hint: "only byte-level BPE ('gpt2') is supported")
    }
    guard tokenTypes.isEmpty || tokenTypes.count == tokens.count else {
      throw TokenizerError(
        .invalidValue, source: source, key: "tokenizer.ggml.token_type",
        "\(tokenTypes.count) token types for \(tokens.count) tokens")
    }

    var vocabulary: [String: Int] = [:]
    vocabulary.reserveCapacity(tokens.count)
    for (id, token) in tokens.enumerated() {
      let spelling = ByteAlphabet.bytes(ofSpelled: token) != nil ? token : ByteAlphabet.spell(token.utf8)
      vocabulary[spelling] = id
    }
    var pairs: [(String, String)] = []
    pairs.reserveCapacity(merges.count)
    for (index, merge) in merges.enumerated() {
      let parts = merge.split(separator: " ", omittingEmptySubsequences: false)
      guard parts.count == 2 else {
        throw TokenizerError(
          .invalidValue, source: source, key: "tokenizer.ggml.merges[\(index)]",
          "merge \(merge.debugDescription) is not two tokens separated by a space")
      }
      pairs.append((String(parts[0]), String(parts[1])))
    }

    let name = pre ?? "default"
    let normalizer: (any Normalizer)?
    let stages: [any PreTokenizer]
    var ignoreMerges = false
    switch name {
    case "default", "gpt-2", "gpt2":
      normalizer = nil
      stages = [ByteLevelPreTokenizer(addPrefixSpace: false, useRegex: true)]
    case "smollm":
      normalizer = nil
      stages = [
        DigitsPreTokenizer(individualDigits: true),
        ByteLevelPreTokenizer(addPrefixSpace: false, useRegex: true),
      ]
    case "llama-bpe", "llama3", "llama-v3":
      normalizer = nil
      ignoreMerges = true
      stages = [
        SplitPreTokenizer(pattern: .llama3), ByteLevelPreTokenizer(addPrefixSpace: false, useRegex: false),
      ]
    case "qwen2":
      normalizer = NFCNormalizer()
      stages = [
        SplitPreTokenizer(pattern: .qwen2), ByteLevelPreTokenizer(addPrefixSpace: false, useRegex: false),
      ]
    default:
      throw TokenizerError(
        .unsupported, source: source, key: "tokenizer.ggml.pre", "pre-tokenizer '\(name)'",
        hint: "supported: \(Self.supportedGGUFPreTokenizers.joined(separator: ", "))")
    }

    let model = try BPEModel(
      vocabulary: vocabulary, merges: pairs, unknownToken: nil, fuseUnknown: false,
      ignoreMerges: ignoreMerges,
      source: source, vocabularyKey: "tokenizer.ggml.tokens", mergeKey: { "tokenizer.ggml.merges[\($0)]" })

    var added: [AddedToken] = []
    for (id, type) in tokenTypes.enumerated() where type == 3 || type == 4 {
      let token = tokens[id]
      if type == 3 && ByteAlphabet.bytes(ofSpelled: token) == nil { continue }
      guard vocabulary[token] == id else { continue }  // a duplicate spelling; the later id owns it
      added.append(AddedToken(id: id, content: token, special: type == 3))
    }

    for (key, id) in [
      ("tokenizer.ggml.bos_token_id", bosTokenID), ("tokenizer.ggml.eos_token_id", eosTokenID),
    ] {
      if let id, id < 0 || id >= tokens.count {
        throw TokenizerError(
          .invalidValue, source: source, key: key, "token id \(id) is outside the \(tokens.count) tokens")
      }
    }
    var postProcessor = PostProcessor()
    if addBOS == true {
      guard let bosTokenID else {
        throw TokenizerError(
          .missingKey, source: source, key: "tokenizer.ggml.bos_token_id",
          "add_bos_token is set but there is no BOS token id")
      }
      postProcessor.prefix = [bosTokenID]
    }
    self.init(
      model: model, normalizer: normalizer, preTokenizer: SequencePreTokenizer(stages: stages),
      addedTokens: added, postProcessor: postProcessor, bosTokenID: bosTokenID, eosTokenID: eosTokenID)
  }
}
