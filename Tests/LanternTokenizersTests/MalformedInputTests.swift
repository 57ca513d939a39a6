// Bad tokenizer files and metadata: each must throw a TokenizerError of the right kind that names the
// file and the key, never crash. Cases are made by editing the trained GPT-2 fixture.

import Foundation
import LanternTestSupport
import Testing

@testable import LanternTokenizers

@Suite("Malformed inputs")
struct MalformedInputTests {
  /// The GPT-2 fixture's tokenizer.json as a mutable JSON object.
  func fixtureJSON() throws -> [String: Any] {
    let data = try Data(contentsOf: Fixtures.url("tokenizers/gpt2/tokenizer.json"))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
  }

  /// Writes `contents` to a temporary tokenizer.json, loads it and returns the error.
  func loadError(_ contents: Data) throws -> TokenizerError {
    let directory = try Fixtures.temporaryDirectory("lantern-tokenizer")
    defer { try? FileManager.default.removeItem(at: directory) }
    let url = directory.appendingPathComponent("tokenizer.json")
    try contents.write(to: url)
    let error = try #require(throws: TokenizerError.self) { try Tokenizer(tokenizerJSON: url) }
    #expect(error.source == url.path)
    #expect(error.description.contains(url.path))
    return error
  }

  func loadError(editing edit: (inout [String: Any]) throws -> Void) throws -> TokenizerError {
    var json = try fixtureJSON()
    try edit(&json)
    return try loadError(try JSONSerialization.data(withJSONObject: json))
  }

  func editModel(_ json: inout [String: Any], _ edit: (inout [String: Any]) -> Void) throws {
    var model = try #require(json["model"] as? [String: Any])
    edit(&model)
    json["model"] = model
  }

  @Test("bad JSON")
  func badJSON() throws {
    let error = try loadError(Data(#"{"model": {"type": "BPE", "vocab": {"a": 0}"#.utf8))
    #expect(error.kind == .malformedJSON)
    #expect(try loadError(Data([0xFF, 0xFE, 0x00])).kind == .malformedJSON)
    #expect(try loadError(Data("[1, 2]".utf8)).kind == .invalidValue)
  }

  @Test("missing model")
  func missingModel() throws {
    let error = try loadError { $0["model"] = nil }
    #expect(error.kind == .missingKey && error.key == "model")
    #expect(error.description.contains("'model'"))
  }

  @Test("missing vocab, wrong model type, bad vocab id")
  func badModel() throws {
    let noVocab = try loadError { try editModel(&$0) { $0["vocab"] = nil } }
    #expect(noVocab.kind == .missingKey && noVocab.key == "model.vocab")
    let wordPiece = try loadError { try editModel(&$0) { $0["type"] = "WordPiece" } }
    #expect(wordPiece.kind == .unsupported && wordPiece.key == "model.type")
    let badID = try loadError {
      try editModel(&$0) { $0["vocab"] = ["a": "zero"] as [String: Any] }
    }
    #expect(badID.kind == .invalidValue && badID.key == "model.vocab.a")
    let hugeID = try loadError {
      try editModel(&$0) {
        $0["vocab"] = ["a": 2_000_000_000]
        $0["merges"] = []
      }
    }
    #expect(hugeID.kind == .invalidValue && hugeID.key == "model.vocab")
    let fallback = try loadError { try editModel(&$0) { $0["byte_fallback"] = true } }
    #expect(fallback.kind == .unsupported && fallback.key == "model.byte_fallback")
  }

  @Test("merge naming an unknown token")
  func unknownMergeToken() throws {
    let error = try loadError {
      try editModel(&$0) { model in
        var merges = model["merges"] as! [Any]
        merges[7] = ["Ġ", "no-such-token"]
        model["merges"] = merges
      }
    }
    #expect(error.kind == .unknownToken && error.key == "model.merges[7]")
    #expect(error.description.contains("no-such-token"))
    let legacy = try loadError { try editModel(&$0) { $0["merges"] = ["#version: 0.2", "Ġ t", "a b c"] } }
    #expect(legacy.kind == .invalidValue && legacy.key == "model.merges[2]")
  }

  @Test("unknown pre-tokenizer type and unknown Split regex")
  func unknownPreTokenizer() throws {
    let error = try loadError { $0["pre_tokenizer"] = ["type": "Whitespace"] }
    #expect(error.kind == .unsupported && error.key == "pre_tokenizer.type")
    #expect(error.description.contains("Whitespace"))
    let nested = try loadError {
      $0["pre_tokenizer"] = [
        "type": "Sequence",
        "pretokenizers": [
          ["type": "Split", "pattern": ["Regex": "\\w+"], "behavior": "Isolated", "invert": false],
          ["type": "ByteLevel", "add_prefix_space": false, "use_regex": false],
        ],
      ]
    }
    #expect(nested.kind == .unsupported && nested.key == "pre_tokenizer.pretokenizers[0].pattern.Regex")
    #expect(nested.description.contains("\\\\w+"))
    let noByteLevel = try loadError { $0["pre_tokenizer"] = ["type": "Digits", "individual_digits": true] }
    #expect(noByteLevel.kind == .unsupported && noByteLevel.key == "pre_tokenizer")
    let decoder = try loadError { $0["decoder"] = ["type": "WordPiece"] }
    #expect(decoder.kind == .unsupported && decoder.key == "decoder.type")
    let normalizer = try loadError { $0["normalizer"] = ["type": "Lowercase"] }
    #expect(normalizer.kind == .unsupported && normalizer.key == "normalizer.type")
  }

  @Test("template naming an undefined special token")
  func badTemplate() throws {
    let error = try loadError {
      $0["post_processor"] = [
        "type": "TemplateProcessing", "single": [["SpecialToken": ["id": "<s>", "type_id": 0]]],
        "special_tokens": [String: Any](),
      ]
    }
    #expect(error.kind == .missingKey && error.key == "post_processor.special_tokens")
  }

  @Test("missing file and bad merges.txt")
  func files() throws {
    let missing = Fixtures.url("tokenizers/no-such-dir/tokenizer.json")
    let error = try #require(throws: TokenizerError.self) { try Tokenizer(tokenizerJSON: missing) }
    #expect(error.kind == .unreadableFile && error.description.contains(missing.path))

    let directory = try Fixtures.temporaryDirectory("lantern-tokenizer")
    defer { try? FileManager.default.removeItem(at: directory) }
    let merges = directory.appendingPathComponent("merges.txt")
    try Data("#version: 0.2\nĠ t\n\nĠ a\n".utf8).write(to: merges)
    let bad = try #require(throws: TokenizerError.self) {
      try Tokenizer(vocabJSON: Fixtures.url("tokenizers/gpt2/vocab.json"), mergesTXT: merges)
    }
    #expect(bad.kind == .invalidValue && bad.key == "line 3" && bad.source == merges.path)
  }

  @Test("GGUF metadata errors name the key")
  func ggufErrors() throws {
    let arrays = try ggufArrays("gpt2")
    func error(
      model: String = "gpt2", tokens: [String]? = nil, merges: [String]? = nil, types: [Int32]? = nil,
      pre: String? = "gpt-2", bos: Int? = 0, addBOS: Bool? = nil
    ) throws -> TokenizerError {
      try #require(throws: TokenizerError.self) {
        try Tokenizer(
          ggufModel: model, tokens: tokens ?? arrays.tokens, merges: merges ?? arrays.merges,
          tokenTypes: types ?? arrays.types, pre: pre, bosTokenID: bos, eosTokenID: nil, addBOS: addBOS)
      }
    }
    #expect(try error(model: "llama").key == "tokenizer.ggml.model")
    let pre = try error(pre: "falcon")
    #expect(pre.kind == .unsupported && pre.key == "tokenizer.ggml.pre" && pre.description.contains("falcon"))
    #expect(try error(types: [1, 1]).key == "tokenizer.ggml.token_type")
    #expect(try error(merges: ["Ġ t", "Ġ"]).key == "tokenizer.ggml.merges[1]")
    #expect(try error(merges: ["Ġ zzz"]).kind == .unknownToken)
    #expect(try error(bos: 1 << 20).key == "tokenizer.ggml.bos_token_id")
    #expect(try error(bos: nil, addBOS: true).kind == .missingKey)
  }
}

extension MalformedInputTests {
  @Test("template adding an id beyond the vocabulary")
  func templateIDOutOfRange() throws {
    let error = try loadError {
      $0["post_processor"] = [
        "type": "TemplateProcessing",
        "single": [["SpecialToken": ["id": "<s>", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]],
        "special_tokens": ["<s>": ["id": "<s>", "ids": [99_999], "tokens": ["<s>"]]],
      ]
    }
    #expect(error.kind == .invalidValue && error.key == "post_processor")
  }
}
