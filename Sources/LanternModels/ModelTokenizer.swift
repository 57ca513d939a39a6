// Finds the tokenizer that ships with a model: GGUF `tokenizer.ggml.*` metadata for a .gguf file,
// tokenizer.json or vocab.json + merges.txt for a Hugging Face directory.

import Foundation
import LanternFormats
import LanternTokenizers

extension Tokenizer {
  /// The tokenizer of the model at `path` (a Hugging Face directory or a .gguf file).
  public static func forModel(at path: String) throws -> Tokenizer {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
      throw ModelError.noModelAt(path: path)
    }
    if isDir.boolValue { return try Tokenizer(directory: URL(fileURLWithPath: path)) }
    return try fromGGUF(GGUFFile(path: path))
  }

  /// The tokenizer stored in a GGUF file's metadata.
  public static func fromGGUF(_ gguf: GGUFFile) throws -> Tokenizer {
    func optionalInt(_ key: String) throws -> Int? { gguf.metadata[key] == nil ? nil : try gguf.int(key) }
    let types =
      gguf.metadata["tokenizer.ggml.token_type"] == nil ? [] : try gguf.intArray("tokenizer.ggml.token_type")
    return try Tokenizer(
      ggufModel: try gguf.string("tokenizer.ggml.model"),
      tokens: try gguf.stringArray("tokenizer.ggml.tokens"),
      merges: gguf.metadata["tokenizer.ggml.merges"] == nil
        ? [] : try gguf.stringArray("tokenizer.ggml.merges"),
      tokenTypes: types.map { Int32(truncatingIfNeeded: $0) },
      pre: gguf.metadata["tokenizer.ggml.pre"] == nil ? nil : try gguf.string("tokenizer.ggml.pre"),
      bosTokenID: try optionalInt("tokenizer.ggml.bos_token_id"),
      eosTokenID: try optionalInt("tokenizer.ggml.eos_token_id"),
      addBOS: gguf.metadata["tokenizer.ggml.add_bos_token"] == nil
        ? nil : try gguf.bool("tokenizer.ggml.add_bos_token"))
  }
}
