// Pipeline files (YAML) decoded into a typed, validated job spec.
//
// Every key is known: an unknown key, a wrong type or an out-of-range number is an error naming
// the file, the key path and the line, with a hint. Defaults are stated here once. A pipeline
// describes one job: activation extraction now; dictionary training will add a `train:` section.

import Foundation
import Yams

/// Where a corpus comes from and how to read it.
public struct CorpusSettings: Equatable, Sendable, Codable {
  /// A file or directory.
  public var path: String
  /// auto (by extension), lines (.txt, one document per line), files (.txt, one per file),
  /// jsonl (.jsonl / .jsonl.gz), tokens (.npy / .bin).
  public var format: String = "auto"
  /// The JSON field holding the text, for jsonl.
  public var textField: String = "text"
  /// Element type of raw .bin token files: uint16 or uint32.
  public var tokenDType: String = "uint16"
  /// Count and skip malformed records instead of failing.
  public var skipBadRecords: Bool = false

  public init(path: String) { self.path = path }
}

/// What to extract and how.
public struct ExtractionSettings: Equatable, Sendable, Codable {
  /// A Hugging Face directory or a .gguf file.
  public var model: String
  public var corpus: CorpusSettings
  /// TransformerLens hook names.
  public var hooks: [String]
  /// Tokens per context window.
  public var contextSize: Int = 128
  /// Start every window with the BOS token (SAELens `prepend_bos`).
  public var prependBOS: Bool = true
  /// concat (documents joined by a separator, cut into windows) or per-document.
  public var packing: String = "concat"
  /// Stop after this many tokens (nil: the whole corpus).
  public var maxTokens: Int?
  /// Stored precision: bf16, f16 or f32.
  public var dtype: String = "bf16"
  /// Context windows per work unit (= per shard).
  public var windowsPerUnit: Int = 256
  /// Context windows per forward pass.
  public var batchSize: Int = 8
  /// Compute threads per worker. Part of the job's identity: results are bit-reproducible for a
  /// given thread count.
  public var threads: Int = 1
  /// GEMM compute type: fp32 (default) or bf16 (oneDNN, AMX/AVX512_BF16 CPUs). Part of the job's
  /// identity: bf16 rounding changes the activations.
  public var compute: String = "fp32"

  public init(model: String, corpus: CorpusSettings, hooks: [String]) {
    self.model = model
    self.corpus = corpus
    self.hooks = hooks
  }

  /// Checks ranges and enumerations; `source` prefixes errors.
  public func validate(source: String) throws {
    func fail(_ key: String, _ why: String) throws -> Never {
      throw PipelineError(
        file: source, key: key, line: nil, message: why, hint: "see Pipelines/quickstart.yaml")
    }
    if hooks.isEmpty { try fail("extract.hooks", "at least one hook is needed") }
    if Set(hooks).count != hooks.count { try fail("extract.hooks", "a hook is listed twice") }
    if !(2...1_048_576).contains(contextSize) {
      try fail("extract.context_size", "\(contextSize) must be in 2...1048576")
    }
    if !["concat", "per-document"].contains(packing) {
      try fail("extract.packing", "'\(packing)' must be concat or per-document")
    }
    if let m = maxTokens, m < 1 { try fail("extract.max_tokens", "\(m) must be positive") }
    if !["bf16", "f16", "f32"].contains(dtype) {
      try fail("extract.dtype", "'\(dtype)' must be bf16, f16 or f32")
    }
    if !(1...1_000_000).contains(windowsPerUnit) {
      try fail("extract.windows_per_unit", "\(windowsPerUnit) must be in 1...1000000")
    }
    if !(1...4096).contains(batchSize) { try fail("extract.batch_size", "\(batchSize) must be in 1...4096") }
    if !(1...1024).contains(threads) { try fail("extract.threads", "\(threads) must be in 1...1024") }
    if !["fp32", "bf16"].contains(compute) {
      try fail("extract.compute", "'\(compute)' must be fp32 or bf16")
    }
    if !["auto", "lines", "files", "jsonl", "tokens"].contains(corpus.format) {
      try fail("corpus.format", "'\(corpus.format)' must be auto, lines, files, jsonl or tokens")
    }
    if !["uint16", "uint32"].contains(corpus.tokenDType) {
      try fail("corpus.token_dtype", "'\(corpus.tokenDType)' must be uint16 or uint32")
    }
  }
}

/// How the job runs on a cluster (or on one machine with local workers).
public struct ClusterSettings: Equatable, Sendable, Codable {
  /// Local worker processes `lantern run` starts (a launcher starts its own).
  public var workers: Int = 2
  /// Heartbeat interval; a peer silent for 3 intervals is dead.
  public var heartbeatMs: Int = 1000
  /// A leased unit with no progress for this long is taken back.
  public var leaseMs: Int = 120_000
  /// Attempts per unit before the job fails naming it.
  public var maxAttempts: Int = 4
  /// Require CURVE: the coordinator's key file and the allowed worker keys.
  public var curveServerKey: String?
  public var curveAllowedKeys: [String] = []

  public init() {}
}

/// A decoded pipeline file.
public struct PipelineSpec: Equatable, Sendable {
  public var name: String
  /// The job directory (relative paths are relative to the current directory).
  public var jobDirectory: String
  public var seed: UInt64 = 0
  public var extract: ExtractionSettings
  public var cluster = ClusterSettings()
}

/// A pipeline file error naming the file, key path and line.
public struct PipelineError: Error, CustomStringConvertible, Equatable, Sendable {
  public let file: String
  public let key: String
  public let line: Int?
  public let message: String
  public let hint: String
  public var description: String {
    "\(file)\(line.map { ":\($0)" } ?? ""): '\(key)': \(message) ---> HINT: \(hint)"
  }
}
