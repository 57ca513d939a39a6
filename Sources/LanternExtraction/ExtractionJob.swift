// An extraction job: the model, its tokenizer, the corpus plan and the job directory, opened
// from ExtractionSettings. Creating it freezes the spec (job.yaml) and the plan (plan.json); opening
// it again checks both, so a resumed job runs exactly the job that was started.
//
// What identifies a job (job.yaml): the model file(s) by size and CRC-32, the tokenizer, the corpus
// path and reading options, every extraction setting that changes bytes (hooks, context, packing,
// dtype, windows per unit, batch size, threads, compute type) and the seed. Not the progress display or paths of
// temporaries.

import Foundation
import LanternFormats
import LanternModels
import LanternPipeline
import LanternShards
import LanternTensor
import LanternTokenizers

/// Errors of the extraction layer.
public struct ExtractionError: Error, CustomStringConvertible, Sendable {
  public let message: String
  public let hint: String
  public init(_ message: String, hint: String) {
    self.message = message
    self.hint = hint
  }
  public var description: String { "\(message) ---> HINT: \(hint)" }
}

/// Everything a worker needs to extract units of one job.
public final class ExtractionJob: @unchecked Sendable {
  public let settings: ExtractionSettings
  public let seed: UInt64
  /// The model's hyper-parameters.
  public let config: ModelConfig
  private let loadedModel: Transformer?
  public let tokenizer: Tokenizer
  public let planner: CorpusPlanner
  public let plan: CorpusPlan
  public let directory: JobDirectory
  public let spec: JobSpec
  /// Identity strings recorded in every shard header.
  public let weightsHash: String
  public let tokenizerHash: String
  /// The last layer any hook needs (the forward pass stops there).
  public let stopAfterLayer: Int?
  public let pool: ThreadPool

  /// Opens (or creates) the job at `directory`.
  /// - Parameter log: receives one-line progress notes (planning, resuming).
  public init(
    settings: ExtractionSettings, seed: UInt64, directory url: URL, role: JobDirectory.Role = .owner,
    loadWeights: Bool = true, log: (String) -> Void = { _ in }
  ) throws {
    try settings.validate(source: "extraction settings")
    self.settings = settings
    self.seed = seed
    let ctx =
      loadWeights
      ? try ComputeContext(
        threads: settings.threads, compute: ComputeType(rawValue: settings.compute) ?? .fp32)
      : ComputeContext(threads: settings.threads)
    pool = ctx.pool
    // A coordinator only plans and checks: it needs the config and the tokenizer, not the weights.
    loadedModel = loadWeights ? try ModelRegistry.load(path: settings.model, pool: pool) : nil
    config = try loadedModel?.config ?? ModelRegistry.config(path: settings.model)
    tokenizer = try Tokenizer.forModel(at: settings.model)
    weightsHash = try ExtractionJob.modelIdentity(settings.model)
    tokenizerHash = try ExtractionJob.tokenizerIdentity(settings.model)
    let hookNames = Set(HookPoint.all(for: config))
    for hook in settings.hooks where !hookNames.contains(hook) {
      throw ModelError.unknownHook(name: hook, architecture: config.architecture)
    }
    for hook in settings.hooks where HookPoint.tokenWidth(of: hook, config: config) == nil {
      throw ExtractionError(
        "hook \(hook) holds one row per head and pair of positions, not per token",
        hint: "extract per-token hooks (resid, mlp, attn_out, z, q/k/v...)")
    }
    stopAfterLayer = ExtractionJob.lastLayer(hooks: settings.hooks, nLayers: config.nLayers)

    let corpus = try Corpus(
      url: URL(fileURLWithPath: settings.corpus.path),
      options: corpusOptions(settings, vocabularySize: config.dVocab))
    let windows = WindowSettings.activationsStore(
      contextSize: settings.contextSize, prependBOS: settings.prependBOS, bosToken: tokenizer.bosTokenID,
      sequenceSeparatorToken: tokenizer.bosTokenID, disableConcatSequences: settings.packing == "per-document"
    )
    let planSettings = PlanSettings(
      windows: windows, windowsPerUnit: settings.windowsPerUnit, maxTokens: settings.maxTokens)
    let tok = tokenizer
    let planTokenizer =
      corpus.isTokenized
      ? nil
      : PlanTokenizer(fingerprint: tokenizerHash) { text in try tok.encode(text, addSpecialTokens: false) }
    planner = try CorpusPlanner(corpus: corpus, settings: planSettings, tokenizer: planTokenizer, pool: pool)

    spec = JobSpec([
      (key: "kind", value: "extract"),
      (key: "model", value: settings.model),
      (key: "model_identity", value: weightsHash),
      (key: "tokenizer_identity", value: tokenizerHash),
      (key: "corpus", value: settings.corpus.path),
      (key: "corpus_format", value: settings.corpus.format),
      (key: "text_field", value: settings.corpus.textField),
      (key: "token_dtype", value: settings.corpus.tokenDType),
      (key: "skip_bad_records", value: String(settings.corpus.skipBadRecords)),
      (key: "hooks", value: settings.hooks.joined(separator: ",")),
      (key: "context_size", value: String(settings.contextSize)),
      (key: "prepend_bos", value: String(settings.prependBOS)),
      (key: "packing", value: settings.packing),
      (key: "max_tokens", value: settings.maxTokens.map(String.init) ?? "all"),
      (key: "dtype", value: settings.dtype),
      (key: "windows_per_unit", value: String(settings.windowsPerUnit)),
      (key: "batch_size", value: String(settings.batchSize)),
      (key: "threads", value: String(settings.threads)),
      (key: "compute", value: settings.compute),
      (key: "seed", value: String(seed)),
    ])
    directory = try JobDirectory(url: url, spec: spec, role: role)
    if directory.sweptTemporaries > 0 {
      log("removed \(directory.sweptTemporaries) leftover temporary file(s)")
    }

    let planURL = url.appendingPathComponent("plan.json")
    if let data = FileManager.default.contents(atPath: planURL.path) {
      let stored = try CorpusPlan.decode(data)
      try planner.checkCompatible(with: stored)
      try corpus.checkUnchanged(against: stored.corpus.files)
      plan = stored
    } else if role == .worker {
      throw ExtractionError(
        "\(planURL.path) is missing", hint: "the coordinator writes the plan before assigning work")
    } else {
      log("planning: reading and tokenizing \(settings.corpus.path)")
      plan = try planner.makePlan()
      try Durable.writeAtomically(try plan.jsonData(), to: planURL)
    }
  }

  /// The loaded model (workers and single-process jobs).
  public var model: Transformer {
    get throws {
      guard let loadedModel else {
        throw ExtractionError(
          "this job was opened without its weights", hint: "open it with loadWeights: true")
      }
      return loadedModel
    }
  }

  /// The last layer the hooks need, or nil when a final-norm hook needs every layer.
  static func lastLayer(hooks: [String], nLayers: Int) -> Int? {
    var last = 0
    for h in hooks {
      guard let l = HookPoint.layer(of: h) else { return nil }
      last = max(last, l)
    }
    return last >= nLayers - 1 ? nil : last
  }

  /// Size and CRC-32 of the model's weight file(s).
  static func modelIdentity(_ path: String) throws -> String {
    var isDir: ObjCBool = false
    FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
    if !isDir.boolValue { return "gguf " + (try Durable.fileIdentity(path)) }
    let files = try FileManager.default.contentsOfDirectory(atPath: path).filter {
      $0.hasSuffix(".safetensors")
    }
    .sorted()
    return try files.map {
      "\($0) " + (try Durable.fileIdentity((path as NSString).appendingPathComponent($0)))
    }
    .joined(separator: "; ")
  }

  /// Identity of the tokenizer files (for a GGUF, the file itself holds the tokenizer).
  static func tokenizerIdentity(_ path: String) throws -> String {
    var isDir: ObjCBool = false
    FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
    if !isDir.boolValue { return "gguf " + (try Durable.fileIdentity(path)) }
    for name in ["tokenizer.json", "vocab.json"] {
      let p = (path as NSString).appendingPathComponent(name)
      if FileManager.default.fileExists(atPath: p) { return "\(name) " + (try Durable.fileIdentity(p)) }
    }
    return "none"
  }

  /// Units not yet in the manifest, in plan order.
  public var pendingUnits: [WorkUnit] { plan.units.filter { !directory.manifest.isCommitted($0.id) } }

  /// The shard dtype for the settings.
  var shardDType: ShardDType { ShardDType(name: settings.dtype) ?? .bfloat16 }

  /// Bit shuffle compresses bf16 activations best (docs/shard-format.md); f16 does not compress
  /// with any layout, f32 a little with bit shuffle.
  var shardLayout: ShardLayout { shardDType == .float16 ? .byteShuffle : .bitShuffle }
}

func corpusOptions(_ s: ExtractionSettings, vocabularySize: Int) -> CorpusOptions {
  CorpusOptions(
    textDocuments: s.corpus.format == "files" ? .file : .line, textField: s.corpus.textField,
    binaryTokenType: s.corpus.tokenDType == "uint32" ? .uint32 : .uint16, vocabularySize: vocabularySize,
    skipBadRecords: s.corpus.skipBadRecords)
}
