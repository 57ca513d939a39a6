// What a training run is: every setting of `lantern train`, validated, and the training spec — the
// fields that decide the bytes of the result, which a checkpoint stores and a resume must match.
//
// The spec holds the data source and its plan fingerprint (units, split, shuffle, resolved filters),
// the dictionary's hyper-parameters, the optimizer and schedule, batch size, seed and thread count
// (results are bit-identical per thread count). The token budget, logging and checkpoint intervals and
// the retention may change on resume (ResumePolicy.standard); a decaying schedule records its length
// under its own key, so extending the budget is refused for it.

import Foundation
import LanternShards

/// The settings of one training run.
public struct TrainingSettings: Sendable {
  /// A Lantern job directory or an `.npy` file [N, d].
  public var data: String
  /// Hooks read (several for a crosscoder); empty for `.npy`.
  public var hooks: [String] = []
  /// The hook a transcoder reconstructs (job directories).
  public var targetHook: String?
  /// Target rows for an `.npy` transcoder.
  public var targetData: String?
  public var architecture: Architecture = .topk
  public var kind: DictionaryKind = .sae
  /// Latents; nil derives it from `expansion` × d_in.
  public var dSAE: Int?
  public var expansion: Int?
  public var k = 32
  /// L1 λ (relu) and its linear warm-up.
  public var l1: Float = 5
  public var l1WarmUpSteps = 0
  /// L0 λ (jumprelu) and its warm-up.
  public var l0: Float = 1
  public var l0WarmUpSteps = 0
  public var jumpReLUBandwidth: Float = 0.05
  public var jumpReLUInitialThreshold: Float = 0.01
  /// Matryoshka prefix widths (the last is d_sae); empty: d_sae/16, /4, /1.
  public var matryoshkaWidths: [Int] = []
  /// AuxK coefficient (topk family); 0 turns AuxK off.
  public var auxKCoefficient: Float = 1.0 / 32
  /// Tokens without firing after which a latent counts as dead.
  public var deadAfterTokens = 10_000_000
  /// Training tokens (rows) in all.
  public var tokens = 2_000_000
  public var batchSize = 4096
  public var learningRate = 2e-4
  public var warmUpSteps = 0
  /// Linear decay over the last steps (0: none).
  public var decaySteps = 0
  /// Global-norm gradient clipping (0: off).
  public var clipNorm: Float = 0
  public var seed: UInt64 = 0
  public var threads = ProcessInfo.processInfo.activeProcessorCount
  public var checkpointEvery = 500
  public var logEvery = 50
  public var keepCheckpoints = 3
  /// One work unit (or .npy block) in `heldOutOneIn` is held out for evaluation.
  public var heldOutOneIn = 20
  /// Batches used to estimate the input scale and the b_dec initialisation.
  public var statisticsBatches = 8
  /// b_dec starts at the data mean, or at the geometric median of the first batch (Weiszfeld).
  public var geometricMedianInit = false
  /// Drop special-token rows (BOS/EOS/pad ids of the job's tokenizer).
  public var excludeSpecialTokens = true
  /// Drop rows whose norm exceeds this multiple of the median norm (nil: keep all).
  public var maxNormMultiple: Float? = 10
  /// The output directory (final/, checkpoints/, train_log.jsonl).
  public var out: String

  public init(data: String, out: String) {
    self.data = data
    self.out = out
  }

  /// Steps the token budget gives.
  public var totalSteps: Int { max(1, tokens / max(1, batchSize)) }

  /// Checks the settings that need no data; throws naming the first bad one.
  public func validate() throws {
    func bad(_ field: String, _ why: String) -> TrainingError { .invalidSetting(field: field, reason: why) }
    if let d = dSAE, d < 1 { throw bad("--d-sae", "\(d) must be positive") }
    if let e = expansion, e < 1 { throw bad("--expansion", "\(e) must be positive") }
    if (dSAE == nil) == (expansion == nil) { throw bad("--d-sae/--expansion", "give exactly one") }
    if tokens < batchSize { throw bad("--tokens", "\(tokens) is less than one batch (\(batchSize))") }
    if !(1...1_048_576).contains(batchSize) {
      throw bad("--batch-size", "\(batchSize) must be in 1...1048576")
    }
    if !(learningRate > 0) { throw bad("--lr", "\(learningRate) must be positive") }
    if !(1...1024).contains(threads) { throw bad("--threads", "\(threads) must be in 1...1024") }
    if checkpointEvery < 1 { throw bad("--checkpoint-every", "\(checkpointEvery) must be positive") }
    if logEvery < 1 { throw bad("--log-every", "\(logEvery) must be positive") }
    if keepCheckpoints < 1 { throw bad("--keep-checkpoints", "\(keepCheckpoints) must be positive") }
    if heldOutOneIn < 2 { throw bad("--held-out-one-in", "\(heldOutOneIn) must be at least 2") }
    if !(l1 >= 0) || !(l0 >= 0) { throw bad("--l1/--l0", "must be non-negative") }
    if k < 1 { throw bad("--k", "\(k) must be positive") }
    if !(auxKCoefficient >= 0) { throw bad("--auxk-coefficient", "\(auxKCoefficient) must be non-negative") }
    if !(clipNorm >= 0) { throw bad("--clip-norm", "\(clipNorm) must be non-negative (0: off)") }
    if deadAfterTokens < 0 { throw bad("--dead-after-tokens", "\(deadAfterTokens) must be non-negative") }
    switch kind {
    case .sae:
      if targetHook != nil || targetData != nil {
        throw bad("--target-hook", "an SAE reconstructs its input")
      }
      if hooks.count > 1 { throw bad("--hook", "an SAE reads one hook (a crosscoder reads several)") }
    case .transcoder, .skipTranscoder:
      if targetHook == nil && targetData == nil {
        throw bad("--target-hook", "a transcoder needs the hook it reconstructs (or --target-data for .npy)")
      }
      if hooks.count > 1 { throw bad("--hook", "a transcoder reads one hook") }
    case .crosscoder:
      if hooks.count < 2 { throw bad("--hook", "a crosscoder reads at least two hooks (H1,H2,...)") }
      if targetHook != nil || targetData != nil {
        throw bad("--target-hook", "a crosscoder reconstructs its hooks")
      }
    }
  }

  /// The hyper-parameters for input width `dIn` and output width `dOut` (per the whole row).
  public func hyperparameters(dIn: Int, dOut: Int, layers: Int) throws -> DictionaryHyperparameters {
    let field = dSAE == nil ? "--expansion" : "--d-sae"
    let (product, overflow) = (expansion ?? 1).multipliedReportingOverflow(by: dIn)
    guard dSAE != nil || !overflow else {
      throw TrainingError.invalidSetting(field: field, reason: "\(expansion!) × d_in \(dIn) overflows")
    }
    let latents = dSAE ?? (product / layers)
    try Self.checkMemory(latents: latents, dIn: dIn, dOut: dOut, batchSize: batchSize, field: field)
    var h = DictionaryHyperparameters(
      architecture: architecture, kind: kind, dIn: dIn, dOut: dOut, dSAE: latents)
    h.layers = layers
    h.k = k
    h.auxKCoefficient = auxKCoefficient
    h.l1Coefficient = l1
    h.l1WarmUpSteps = l1WarmUpSteps
    h.l0Coefficient = l0
    h.l0WarmUpSteps = l0WarmUpSteps
    h.jumpReLUBandwidth = jumpReLUBandwidth
    h.jumpReLUInitialThreshold = jumpReLUInitialThreshold
    if architecture == .matryoshka {
      h.matryoshkaWidths = matryoshkaWidths.isEmpty ? [latents / 16, latents / 4, latents] : matryoshkaWidths
    }
    h.deadAfterTokens = deadAfterTokens
    h.adam.learningRate = learningRate
    h.schedule.warmUpSteps = warmUpSteps
    h.schedule.decaySteps = decaySteps
    h.schedule.totalSteps = totalSteps
    h.clipNorm = clipNorm
    if architecture == .topk || architecture == .batchtopk || architecture == .matryoshka, k >= latents {
      throw TrainingError.invalidSetting(field: "--k", reason: "\(k) must be less than d_sae (\(latents))")
    }
    try h.validate()
    return h
  }

  /// Refuses a dictionary whose training state cannot fit in this machine's memory (it would abort
  /// on the allocation): parameters, Adam moments and gradients (4 copies of S·(d_in + d_out + 4)
  /// floats, the skip weight aside) and two [B, S] float work buffers.
  static func checkMemory(latents: Int, dIn: Int, dOut: Int, batchSize: Int, field: String) throws {
    let memory = ProcessInfo.processInfo.physicalMemory
    func product(_ values: [Int]) -> UInt64? {
      var p: UInt64 = 1
      for v in values {
        let (r, o) = p.multipliedReportingOverflow(by: UInt64(max(v, 0)))
        if o { return nil }
        p = r
      }
      return p
    }
    let state = product([16, latents, dIn + dOut + 4])
    let work = product([8, batchSize, latents])
    let (total, overflow) = (state ?? .max).addingReportingOverflow(work ?? .max)
    if state == nil || work == nil || overflow || total > memory {
      let gib = { (b: UInt64) in String(format: "%.1f GiB", Double(b) / 1_073_741_824) }
      throw TrainingError.invalidSetting(
        field: field,
        reason:
          "d_sae \(latents) needs \(state == nil || work == nil || overflow ? "more than 2^64 bytes" : gib(total)) "
          + "for its training state at batch \(batchSize); this machine has \(gib(memory))")
    }
  }

  /// The training spec: every setting that changes the result's bytes, plus the resumable ones.
  public func spec(hyperparameters h: DictionaryHyperparameters, dataFingerprint: String) -> JobSpec {
    var f: [(key: String, value: String)] = [
      ("format", "lantern-train-1"),
      ("data", URL(fileURLWithPath: data).standardizedFileURL.path),
      ("data_plan", dataFingerprint),
      ("hooks", hooks.joined(separator: ",")),
      ("target", targetHook ?? targetData ?? "-"),
      ("architecture", architecture.rawValue), ("kind", kind.rawValue),
      ("d_in", String(h.dIn)), ("d_out", String(h.dOut)), ("d_sae", String(h.dSAE)),
      ("layers", String(h.layers)),
      ("k", String(h.k)), ("k_aux", String(h.kAux)), ("auxk_coefficient", h.auxKCoefficient.description),
      ("l1", h.l1Coefficient.description), ("l1_warmup_steps", String(h.l1WarmUpSteps)),
      ("l0", h.l0Coefficient.description), ("l0_warmup_steps", String(h.l0WarmUpSteps)),
      ("jumprelu_bandwidth", h.jumpReLUBandwidth.description),
      ("jumprelu_initial_threshold", h.jumpReLUInitialThreshold.description),
      ("matryoshka_widths", h.matryoshkaWidths.map(String.init).joined(separator: ",")),
      ("dead_after_tokens", String(h.deadAfterTokens)), ("decoder_init_norm", h.decoderInitNorm.description),
      ("lr", h.adam.learningRate.description), ("adam_betas", "\(h.adam.beta1),\(h.adam.beta2)"),
      ("adam_eps", h.adam.epsilon.description), ("warmup_steps", String(warmUpSteps)),
      ("decay_steps", String(decaySteps)), ("clip_norm", h.clipNorm.description),
      ("batch_size", String(batchSize)), ("seed", String(seed)), ("threads", String(threads)),
      ("statistics_batches", String(statisticsBatches)),
      ("b_dec_init", geometricMedianInit ? "geometric-median" : "mean"),
    ]
    // A schedule that decays depends on the run's length: extending the budget would change it.
    if decaySteps > 0 { f.append(("schedule_total_steps", String(totalSteps))) }
    f += [
      (ResumePolicy.Key.tokens, String(tokens)), (ResumePolicy.Key.logEvery, String(logEvery)),
      (ResumePolicy.Key.checkpointEvery, String(checkpointEvery)),
      (ResumePolicy.Key.keepCheckpoints, String(keepCheckpoints)),
    ]
    return JobSpec(f)
  }
}
