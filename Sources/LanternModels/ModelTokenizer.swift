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
    return try Tokenizer(gguf: GGUFFile(path: path))
  }
}
