// Readers for the golden fixtures that Scripts/fixtures/make_tokenizer_fixtures.py writes with
// Hugging Face `tokenizers` (see that script for what each file holds).

import Foundation
import LanternTestSupport
import Testing

@testable import LanternTokenizers

/// The trained fixture tokenizers, one per pre-tokenizer variant.
let variants = ["gpt2", "smollm", "llama3", "qwen2", "extras", "unk", "unk-split"]

/// One test string with the reference's ids and decodings.
struct GoldenCase: Decodable {
  let text: String
  let pre_tokens: [String]
  let ids: [Int]
  let ids_with_special: [Int]
  let decoded: String
  let decoded_skip_special: String
}

/// Decoding of a prefix of some ids.
struct PartialDecode: Decodable {
  let ids: [Int]
  let decoded: String
}

/// `<variant>/golden.json`.
struct GoldenFile: Decodable {
  let variant: String
  let vocab_size: Int
  let cases: [GoldenCase]
  let partial_decodes: [PartialDecode]

  static func load(_ variant: String) throws -> GoldenFile {
    let data = try Data(contentsOf: Fixtures.url("tokenizers/\(variant)/golden.json"))
    return try JSONDecoder().decode(GoldenFile.self, from: data)
  }
}

/// The tokenizer.json of a trained variant.
func fixtureTokenizer(_ variant: String) throws -> Tokenizer {
  try Tokenizer(tokenizerJSON: Fixtures.url("tokenizers/\(variant)/tokenizer.json"))
}

/// The lines of mixed.txt (without the final empty one).
func mixedLines() throws -> [String] {
  let text = try String(contentsOf: Fixtures.url("tokenizers/mixed.txt"), encoding: .utf8)
  var lines = text.components(separatedBy: "\n")
  if lines.last == "" { lines.removeLast() }
  return lines
}

/// The arrays a GGUF file would hold for a trained tokenizer.json: tokens by id, "a b" merges, and
/// token types (3 for special added tokens, 4 for other added tokens, 1 otherwise).
func ggufArrays(_ variant: String) throws -> (tokens: [String], merges: [String], types: [Int32]) {
  let data = try Data(contentsOf: Fixtures.url("tokenizers/\(variant)/tokenizer.json"))
  let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
  let model = try #require(root["model"] as? [String: Any])
  let vocab = try #require(model["vocab"] as? [String: Int])
  var tokens = [String](repeating: "", count: vocab.count)
  for (token, id) in vocab { tokens[id] = token }
  var types = [Int32](repeating: 1, count: tokens.count)
  for entry in try #require(root["added_tokens"] as? [[String: Any]]) {
    let id = try #require(entry["id"] as? Int)
    types[id] = (entry["special"] as? Bool) == true ? 3 : 4
  }
  let merges = try #require(model["merges"] as? [Any]).map { merge -> String in
    if let pair = merge as? [String] { return pair.joined(separator: " ") }
    return try #require(merge as? String)
  }
  return (tokens, merges, types)
}

/// A readable form of a string for failure messages.
func show(_ text: String) -> String { text.debugDescription }
