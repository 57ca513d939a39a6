// The three ways to build a tokenizer agree: tokenizer.json, GPT-2's vocab.json + merges.txt, and the
// GGUF-metadata initializer fed the arrays a GGUF would hold for the same trained tokenizer.

import Foundation
import LanternTestSupport
import Testing

@testable import LanternTokenizers

@Suite("Loaders agree")
struct LoaderTests {
  /// Every golden string and every mixed.txt line.
  func sampleTexts(_ variant: String) throws -> [String] {
    try GoldenFile.load(variant).cases.map(\.text) + mixedLines()
  }

  func expectSameEncoding(_ a: Tokenizer, _ b: Tokenizer, on texts: [String], _ label: String) throws {
    for text in texts {
      for special in [false, true] {
        let ids = try a.encode(text, addSpecialTokens: special)
        #expect(ids == (try b.encode(text, addSpecialTokens: special)), "\(label) \(show(text)) \(special)")
        #expect(a.decode(ids) == b.decode(ids), "\(label) decode \(show(text))")
      }
    }
    #expect(a.vocabularySize == b.vocabularySize)
    #expect(a.bosTokenID == b.bosTokenID && a.eosTokenID == b.eosTokenID && a.addsBOS == b.addsBOS)
  }

  @Test("vocab.json + merges.txt equals tokenizer.json (GPT-2)")
  func gpt2Files() throws {
    let json = try fixtureTokenizer("gpt2")
    let files = try Tokenizer(
      vocabJSON: Fixtures.url("tokenizers/gpt2/vocab.json"),
      mergesTXT: Fixtures.url("tokenizers/gpt2/merges.txt"))
    #expect(files.bosTokenID == json.tokenID(for: "<|endoftext|>"))
    try expectSameEncoding(files, try fixtureTokenizer("gpt2"), on: try sampleTexts("gpt2"), "gpt2 files")
    // The golden ids themselves, so this path is checked against the reference directly too.
    for item in try GoldenFile.load("gpt2").cases {
      #expect(try files.encode(item.text, addSpecialTokens: false) == item.ids, "\(show(item.text))")
    }
  }

  @Test("a model directory without tokenizer.json loads vocab.json + merges.txt")
  func directoryLoader() throws {
    let directory = try Fixtures.temporaryDirectory("lantern-tokenizer")
    defer { try? FileManager.default.removeItem(at: directory) }
    for name in ["vocab.json", "merges.txt"] {
      try FileManager.default.copyItem(
        at: Fixtures.url("tokenizers/gpt2/\(name)"), to: directory.appendingPathComponent(name))
    }
    let fromFiles = try Tokenizer(directory: directory)
    try Data(#"{"bos_token": {"content": "<|im_start|>"}, "eos_token": "<|im_end|>"}"#.utf8)
      .write(to: directory.appendingPathComponent("tokenizer_config.json"))
    try FileManager.default.copyItem(
      at: Fixtures.url("tokenizers/smollm/tokenizer.json"),
      to: directory.appendingPathComponent("tokenizer.json"))
    let fromJSON = try Tokenizer(directory: directory)
    let smollm = try fixtureTokenizer("smollm")
    #expect(fromJSON.bosTokenID == smollm.tokenID(for: "<|im_start|>"))
    #expect(fromJSON.eosTokenID == smollm.tokenID(for: "<|im_end|>"))
    #expect(!fromJSON.addsBOS)
    let text = "x  1   22 it's"
    #expect(try fromJSON.encode(text) == smollm.encode(text))
    #expect(try fromFiles.encode(text) == fixtureTokenizer("gpt2").encode(text))
  }

  @Test(
    "GGUF-metadata initializer equals tokenizer.json",
    arguments: [("gpt2", "gpt-2"), ("smollm", "smollm"), ("llama3", "llama-bpe"), ("qwen2", "qwen2")])
  func ggufArraysMatchJSON(variant: String, pre: String) throws {
    let json = try fixtureTokenizer(variant)
    let arrays = try ggufArrays(variant)
    let gguf = try Tokenizer(
      ggufModel: "gpt2", tokens: arrays.tokens, merges: arrays.merges, tokenTypes: arrays.types, pre: pre,
      bosTokenID: json.bosTokenID, eosTokenID: json.eosTokenID, addBOS: json.addsBOS)
    try expectSameEncoding(gguf, json, on: try sampleTexts(variant), "\(variant) via GGUF arrays")
    #expect(gguf.addedTokens.map(\.content) == json.addedTokens.map(\.content))
  }
}
