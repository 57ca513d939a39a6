// Exact agreement with Hugging Face `tokenizers` on the trained fixture tokenizers: ids with and
// without special tokens, both decodings, lossy decoding of cut byte sequences, vocabulary size.

import Foundation
import LanternTestSupport
import Testing

@testable import LanternTokenizers

@Suite("Golden ids from Hugging Face tokenizers")
struct GoldenTests {
  @Test("pre-tokenizer pieces match the reference", arguments: variants)
  func preTokensMatch(variant: String) throws {
    let tokenizer = try fixtureTokenizer(variant)
    for item in try GoldenFile.load(variant).cases {
      #expect(tokenizer.preTokenize(item.text) == item.pre_tokens, "\(variant) \(show(item.text))")
    }
  }

  @Test("encode matches the reference", arguments: variants)
  func encodeMatches(variant: String) throws {
    let tokenizer = try fixtureTokenizer(variant)
    let golden = try GoldenFile.load(variant)
    #expect(golden.cases.count > 40)
    for item in golden.cases {
      let ids = try tokenizer.encode(item.text, addSpecialTokens: false)
      #expect(ids == item.ids, "\(variant) \(show(item.text))")
      let withSpecial = try tokenizer.encode(item.text, addSpecialTokens: true)
      #expect(withSpecial == item.ids_with_special, "\(variant) \(show(item.text)) with special tokens")
    }
  }

  @Test("decode matches the reference", arguments: variants)
  func decodeMatches(variant: String) throws {
    let tokenizer = try fixtureTokenizer(variant)
    let golden = try GoldenFile.load(variant)
    for item in golden.cases {
      #expect(
        tokenizer.decode(item.ids_with_special, skipSpecialTokens: false) == item.decoded,
        "\(variant) \(show(item.text))")
      #expect(
        tokenizer.decode(item.ids_with_special, skipSpecialTokens: true) == item.decoded_skip_special,
        "\(variant) \(show(item.text)) skipping special tokens")
    }
    #expect(golden.partial_decodes.count > 20)
    for item in golden.partial_decodes {
      #expect(tokenizer.decode(item.ids) == item.decoded, "\(variant) \(item.ids)")
    }
  }

  @Test("vocabulary size matches the reference", arguments: variants)
  func vocabularySize(variant: String) throws {
    #expect(try fixtureTokenizer(variant).vocabularySize == GoldenFile.load(variant).vocab_size)
  }

  @Test("round trip: decode(encode(text)) is the text", arguments: ["gpt2", "smollm", "llama3", "qwen2"])
  func roundTrip(variant: String) throws {
    let tokenizer = try fixtureTokenizer(variant)
    for line in try mixedLines() {
      let decoded = tokenizer.decode(try tokenizer.encode(line, addSpecialTokens: false))
      // qwen2 normalizes to NFC. (extras adds a space before every piece; unk loses bytes.)
      let expected = variant == "qwen2" ? line.precomposedStringWithCanonicalMapping : line
      #expect(decoded == expected, "\(variant) \(show(line))")
    }
  }

  @Test("token lookups and special tokens")
  func lookups() throws {
    let tokenizer = try fixtureTokenizer("llama3")
    let bos = try #require(tokenizer.tokenID(for: "<|begin_of_text|>"))
    #expect(tokenizer.bosTokenID == bos)
    #expect(tokenizer.addsBOS)
    #expect(tokenizer.isSpecial(bos))
    #expect(tokenizer.token(for: bos) == "<|begin_of_text|>")
    let space = try #require(tokenizer.tokenID(for: "\u{120}"))  // "Ġ", a space
    #expect(tokenizer.token(for: space) == "\u{120}")
    #expect(!tokenizer.isSpecial(space))
    #expect(tokenizer.tokenID(for: "no such token") == nil)
    #expect(tokenizer.token(for: -1) == nil && tokenizer.token(for: 1 << 20) == nil)
    #expect(tokenizer.decode([-5, 1 << 30]) == "")

    let gpt2 = try fixtureTokenizer("gpt2")
    #expect(!gpt2.addsBOS)
    #expect(try gpt2.encode("hi", addSpecialTokens: true) == gpt2.encode("hi", addSpecialTokens: false))

    let extras = try fixtureTokenizer("extras")
    #expect(extras.bosTokenID == extras.tokenID(for: "<|endoftext|>"))
    #expect(extras.eosTokenID == extras.tokenID(for: "<|im_end|>"))
    #expect(extras.addedTokens.map(\.content) == ["<|endoftext|>", "<tool>", "[MASK]", "café", "<|im_end|>"])
  }
}
