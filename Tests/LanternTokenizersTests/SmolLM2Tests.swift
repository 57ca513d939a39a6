// The real SmolLM2-135M-Instruct tokenizer (49,152 tokens), built from its GGUF arrays
// (smollm2-gguf-vocab.json), against ids from Hugging Face for every line of mixed.txt.

import Foundation
import LanternFormats
import LanternTestSupport
import Synchronization
import Testing

@testable import LanternTokenizers

/// smollm2-golden.json.
struct SmolLM2Golden: Decodable {
  struct Line: Decodable {
    let text: String
    let ids: [Int]
    let transformers_gguf_ids: [Int]
    let decoded: String
  }
  struct Special: Decodable {
    let text: String
    let ids_with_special: [Int]
    let transformers_gguf_ids_with_special: [Int]
    let decoded_skip_special: String
  }
  let pre: String
  let bos_token_id: Int
  let eos_token_id: Int
  let add_bos_token: Bool
  let vocab_size: Int
  let lines: [Line]
  let with_special: [Special]

  static func load() throws -> SmolLM2Golden {
    try JSONDecoder().decode(
      Self.self, from: Data(contentsOf: Fixtures.url("tokenizers/smollm2-golden.json")))
  }
}

/// smollm2-gguf-vocab.json: the GGUF's tokenizer arrays, token types listed only where not 1.
struct SmolLM2Vocabulary: Decodable {
  let model: String
  let pre: String
  let bos_token_id: Int
  let eos_token_id: Int
  let add_bos_token: Bool
  let tokens: [String]
  let merges: [String]
  let token_types: [String: Int32]
  let token_count: Int

  static func load() throws -> SmolLM2Vocabulary {
    try JSONDecoder().decode(
      Self.self, from: Data(contentsOf: Fixtures.url("tokenizers/smollm2-gguf-vocab.json")))
  }

  func tokenizer(pre: String? = nil) throws -> Tokenizer {
    var types = [Int32](repeating: 1, count: token_count)
    for (id, type) in token_types { types[try #require(Int(id))] = type }
    return try Tokenizer(
      ggufModel: model, tokens: tokens, merges: merges, tokenTypes: types, pre: pre ?? self.pre,
      bosTokenID: bos_token_id, eosTokenID: eos_token_id, addBOS: add_bos_token)
  }
}

@Suite("SmolLM2 tokenizer")
struct SmolLM2Tests {
  @Test("GGUF arrays with pre 'smollm' give SmolLM2's ids for every line")
  func smolLM2Lines() throws {
    let golden = try SmolLM2Golden.load()
    let vocabulary = try SmolLM2Vocabulary.load()
    #expect(vocabulary.pre == "smollm" && golden.pre == "smollm")
    let tokenizer = try vocabulary.tokenizer()
    #expect(tokenizer.vocabularySize == golden.vocab_size)
    #expect(tokenizer.bosTokenID == 1 && tokenizer.eosTokenID == 2 && !tokenizer.addsBOS)
    #expect(golden.lines.map(\.text) == (try mixedLines()))
    for line in golden.lines {
      let ids = try tokenizer.encode(line.text, addSpecialTokens: false)
      #expect(ids == line.ids, "\(show(line.text))")
      #expect(tokenizer.decode(ids) == line.decoded, "\(show(line.text))")
    }
    for item in golden.with_special {
      let ids = try tokenizer.encode(item.text, addSpecialTokens: true)
      #expect(ids == item.ids_with_special, "\(show(item.text))")
      #expect(tokenizer.decode(ids, skipSpecialTokens: true) == item.decoded_skip_special)
    }
  }

  @Test("GGUF arrays with pre 'gpt-2' give what transformers' GGUF loader gives")
  func transformersGGUFLoader() throws {
    let golden = try SmolLM2Golden.load()
    let tokenizer = try SmolLM2Vocabulary.load().tokenizer(pre: "gpt-2")
    // transformers ignores tokenizer.ggml.pre = "smollm"; the two references differ on a few lines.
    #expect(golden.lines.filter { $0.ids != $0.transformers_gguf_ids }.count >= 3)
    for line in golden.lines {
      #expect(try tokenizer.encode(line.text, addSpecialTokens: false) == line.transformers_gguf_ids)
    }
    for item in golden.with_special {
      #expect(try tokenizer.encode(item.text) == item.transformers_gguf_ids_with_special)
    }
  }
}

@Suite("Concurrency")
struct ConcurrencyTests {
  @Test("one tokenizer shared by many threads gives the reference ids")
  func sharedTokenizer() throws {
    let golden = try SmolLM2Golden.load()
    let tokenizer = try SmolLM2Vocabulary.load().tokenizer()
    let lines = golden.lines
    let failures = Mutex(0)
    DispatchQueue.concurrentPerform(iterations: 8) { worker in
      // Each worker walks the lines from a different start, so cache fills interleave.
      for k in 0..<lines.count {
        let line = lines[(k + worker * 7) % lines.count]
        if (try? tokenizer.encode(line.text, addSpecialTokens: false)) != line.ids {
          failures.withLock { $0 += 1 }
        }
      }
    }
    #expect(failures.withLock { $0 } == 0)
  }
}

@Suite("SmolLM2 GGUF file")
struct SmolLM2GGUFFileTests {
  @Test(
    "Tokenizer(gguf:) on the real GGUF gives SmolLM2's ids and equals the fixture arrays",
    .enabled(if: Fixtures.runRealModelTests, "the SmolLM2 GGUF is not fetched (Scripts/fetch-model)"))
  func realGGUF() throws {
    let url = try Fixtures.requireSmolLM2()
    let tokenizer = try Tokenizer(gguf: GGUFFile(path: url.path))
    let golden = try SmolLM2Golden.load()
    #expect(tokenizer.vocabularySize == golden.vocab_size)
    #expect(tokenizer.bosTokenID == golden.bos_token_id && tokenizer.eosTokenID == golden.eos_token_id)
    #expect(tokenizer.addsBOS == golden.add_bos_token)
    for line in golden.lines {
      #expect(try tokenizer.encode(line.text, addSpecialTokens: false) == line.ids, "\(show(line.text))")
    }
    for item in golden.with_special {
      #expect(try tokenizer.encode(item.text, addSpecialTokens: true) == item.ids_with_special)
    }
    let fixture = try SmolLM2Vocabulary.load()
    #expect((0..<fixture.token_count).allSatisfy { tokenizer.token(for: $0) == fixture.tokens[$0] })
  }

  @Test("a GGUF file without tokenizer metadata gives an error naming the file and key")
  func missingTokenizer() throws {
    let directory = try Fixtures.temporaryDirectory("lantern-tokenizer")
    defer { try? FileManager.default.removeItem(at: directory) }
    // A minimal GGUF v3: magic, version, no tensors, one metadata key (general.architecture).
    var bytes: [UInt8] = Array("GGUF".utf8)
    func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    func append(_ string: String) {
      append(UInt64(string.utf8.count))
      bytes += Array(string.utf8)
    }
    append(UInt32(3))
    append(UInt64(0))
    append(UInt64(1))
    append("general.architecture")
    append(UInt32(8))
    append("llama")
    let url = directory.appendingPathComponent("empty.gguf")
    try Data(bytes).write(to: url)
    let error = try #require(throws: TokenizerError.self) { try Tokenizer(gguf: GGUFFile(path: url.path)) }
    #expect(error.kind == .missingKey && error.key == "tokenizer.ggml.model" && error.source == url.path)
  }
}
