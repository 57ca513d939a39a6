// Shared options: how a command finds a model, its tokenizer and its compute context.

import ArgumentParser
import Foundation
import LanternFormats
import LanternModels
import LanternTensor
import LanternTokenizers

struct ModelOptions: ParsableArguments {
  @Option(name: .long, help: "A Hugging Face directory (config.json + *.safetensors) or a .gguf file.")
  var model: String

  @Option(name: .long, help: "Compute threads (default: all cores).")
  var threads: Int?

  @Option(name: .long, help: "GEMM compute type: fp32 (default) or bf16 (oneDNN; AMX/AVX512_BF16 CPUs).")
  var compute: String = "fp32"

  func context() throws -> ComputeContext {
    if let threads, threads < 1 || threads > 1024 {
      throw CLIError("--threads \(threads) must be in 1...1024")
    }
    guard let type = ComputeType(rawValue: compute) else {
      throw CLIError("--compute '\(compute)' must be fp32 or bf16")
    }
    do {
      return try ComputeContext(threads: threads, compute: type)
    } catch let error as ComputeError {
      throw CLIError(error.description)
    }
  }

  func loadModel(_ ctx: ComputeContext) throws -> Transformer {
    try ModelRegistry.load(path: model, pool: ctx.pool)
  }

  /// The tokenizer shipped with the model: GGUF metadata, tokenizer.json, or vocab.json + merges.txt.
  func loadTokenizer() throws -> Tokenizer {
    try Tokenizer.forModel(at: model)
  }
}

/// Parses "1,2,3" into token ids.
func parseTokenList(_ text: String) throws -> [Int32] {
  try text.split(separator: ",").map { part in
    guard let v = Int32(part.trimmingCharacters(in: .whitespaces)) else {
      throw CLIError("--tokens: '\(part)' is not an integer token id")
    }
    return v
  }
}
