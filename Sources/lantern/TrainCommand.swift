// `lantern train`: train one dictionary (SAE, transcoder, skip transcoder or crosscoder) on a job
// directory's shards or on .npy activations, with a live progress line, checkpoints every N steps and
// on SIGTERM/SIGINT, and a one-screen summary. Rerunning the same command resumes from the newest
// checkpoint; a changed setting is refused naming it.

import ArgumentParser
import Foundation
import LanternDictionaries
import LanternExtraction
import Synchronization

struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Train a sparse dictionary on a job directory's shards or on .npy activations; rerun to resume."
  )

  @Option(help: "A Lantern job directory or an .npy file [N, d] (float32/float16).") var data: String
  @Option(help: "Hook(s) to read, comma-separated (several: a crosscoder).") var hook: String?
  @Option(name: .customLong("target-hook"), help: "The hook a transcoder reconstructs.") var targetHook:
    String?
  @Option(name: .customLong("target-data"), help: "Target rows for an .npy transcoder.") var targetData:
    String?
  @Option(help: "relu, topk, batchtopk, jumprelu or matryoshka.") var arch: String
  @Option(help: "sae, transcoder, skip-transcoder or crosscoder.") var kind = "sae"
  @Option(name: .customLong("d-sae"), help: "Latents.") var dSAE: Int?
  @Option(help: "Latents per input dimension (instead of --d-sae).") var expansion: Int?
  @Option(help: "Active latents per row (topk family).") var k = 32
  @Option(help: "L1 coefficient (relu).") var l1: Float = 5
  @Option(name: .customLong("l1-warmup-steps"), help: "Linear warm-up of the L1 coefficient.") var l1WarmUp =
    0
  @Option(help: "L0 coefficient (jumprelu).") var l0: Float = 1
  @Option(name: .customLong("l0-warmup-steps"), help: "Linear warm-up of the L0 coefficient.") var l0WarmUp =
    0
  @Option(help: "JumpReLU STE bandwidth.") var bandwidth: Float = 0.05
  @Option(name: .customLong("matryoshka-widths"), help: "Prefix widths, comma-separated (last = d_sae).")
  var matryoshkaWidths: String?
  @Option(name: .customLong("auxk-coefficient"), help: "AuxK coefficient (topk family; 0: off).")
  var auxK: Float = 1.0 / 32
  @Option(name: .customLong("dead-after-tokens"), help: "Tokens without firing before a latent is dead.")
  var deadAfter = 10_000_000
  @Option(help: "Training tokens.") var tokens = 2_000_000
  @Option(name: .customLong("batch-size"), help: "Rows per step.") var batchSize = 4096
  @Option(help: "Adam learning rate.") var lr = 2e-4
  @Option(name: .customLong("warmup-steps"), help: "Linear learning-rate warm-up.") var warmUp = 0
  @Option(name: .customLong("decay-steps"), help: "Linear learning-rate decay over the last steps.")
  var decay = 0
  @Option(name: .customLong("clip-norm"), help: "Global gradient-norm clipping (0: off).") var clip: Float = 0
  @Option(help: "Seed (init, shuffle, held-out split).") var seed: UInt64 = 0
  @Option(help: "Compute threads (part of the run: bytes are reproducible per thread count).")
  var threads = ProcessInfo.processInfo.activeProcessorCount
  @Option(name: .customLong("checkpoint-every"), help: "Steps between checkpoints.") var checkpointEvery = 500
  @Option(name: .customLong("log-every"), help: "Steps between log lines.") var logEvery = 50
  @Option(name: .customLong("keep-checkpoints"), help: "Checkpoints kept.") var keep = 3
  @Option(name: .customLong("held-out-one-in"), help: "Hold out one work unit in N for evaluation.")
  var heldOut = 20
  @Option(name: .customLong("max-norm-multiple"), help: "Drop rows above this × the median norm (0: keep).")
  var maxNorm: Float = 10
  @Flag(name: .customLong("keep-special-tokens"), help: "Train on BOS/EOS/pad rows too.") var keepSpecial =
    false
  @Option(name: .customLong("b-dec-init"), help: "mean or geometric-median (of the first batch).")
  var bDecInit = "mean"
  @Option(help: "Output directory: final/, checkpoints/, train_log.jsonl.") var out: String

  func settings() throws -> TrainingSettings {
    var s = TrainingSettings(data: data, out: out)
    s.hooks = hook.map { $0.split(separator: ",").map(String.init) } ?? []
    s.targetHook = targetHook
    s.targetData = targetData
    guard let a = Architecture(rawValue: arch) else {
      throw CLIError(
        "--arch '\(arch)' must be one of \(Architecture.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    guard let kd = DictionaryKind(rawValue: kind) else {
      throw CLIError(
        "--kind '\(kind)' must be one of \(DictionaryKind.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    s.architecture = a
    s.kind = kd
    s.dSAE = dSAE
    s.expansion = expansion
    s.k = k
    s.l1 = l1
    s.l1WarmUpSteps = l1WarmUp
    s.l0 = l0
    s.l0WarmUpSteps = l0WarmUp
    s.jumpReLUBandwidth = bandwidth
    if let w = matryoshkaWidths {
      s.matryoshkaWidths = try w.split(separator: ",").map {
        guard let v = Int($0) else { throw CLIError("--matryoshka-widths: '\($0)' is not an integer") }
        return v
      }
    }
    s.auxKCoefficient = auxK
    s.deadAfterTokens = deadAfter
    s.tokens = tokens
    s.batchSize = batchSize
    s.learningRate = lr
    s.warmUpSteps = warmUp
    s.decaySteps = decay
    s.clipNorm = clip
    s.seed = seed
    s.threads = threads
    s.checkpointEvery = checkpointEvery
    s.logEvery = logEvery
    s.keepCheckpoints = keep
    s.heldOutOneIn = heldOut
    s.maxNormMultiple = maxNorm > 0 ? maxNorm : nil
    s.excludeSpecialTokens = !keepSpecial
    guard ["mean", "geometric-median"].contains(bDecInit) else {
      throw CLIError("--b-dec-init '\(bDecInit)' must be mean or geometric-median")
    }
    s.geometricMedianInit = bDecInit == "geometric-median"
    return s
  }

  func run() throws {
    let s = try settings()
    let start = ContinuousClock.now
    let training = try TrainingRun(settings: s, log: log)
    for w in training.warnings { log("warning: \(w)") }
    if training.plan.heldOutUnits.isEmpty {
      log(
        "warning: no unit is held out (\(training.plan.trainingUnits.count) units, one in \(s.heldOutOneIn)): "
          + "final/ gets no held-out figures and no sparsity.safetensors ---> HINT: pass a smaller --held-out-one-in"
      )
    }
    let h = training.hyperparameters
    log(
      "training \(h.architecture.rawValue) \(h.kind.rawValue): d_in \(h.dIn) → d_sae \(h.dSAE) → d_out \(h.dOut), "
        + "\(s.totalSteps) steps of \(s.batchSize) rows; \(training.plan.trainingUnits.count) training units, "
        + "\(training.plan.heldOutUnits.count) held out; input scale \(training.inputScales.map { String(format: "%.4g", $0) }.joined(separator: ","))"
    )
    let signals = onTermination { trainStopRequested.store(true, ordering: .relaxed) }
    defer { _ = signals }
    let isTTY = isatty(STDERR_FILENO) != 0
    let stop = { trainStopRequested.load(ordering: .relaxed) }
    let outcome = try training.run(shouldStop: stop) { p in
      let remaining =
        p.activationsPerSecond > 0
        ? Double((p.totalSteps - p.step) * s.batchSize) / p.activationsPerSecond : 0
      let line = String(
        format: "step %d/%d  tokens %d  loss %.4g  L0 %.1f  FVU %.4f  dead %.1f%%  %.0f act/s  ETA %@",
        p.step, p.totalSteps, p.tokens, p.losses["total"] ?? 0, p.l0, p.fvu, 100 * p.deadFraction,
        p.activationsPerSecond, formatDuration(remaining))
      FileHandle.standardError.write(Data((isTTY ? "\r\u{1B}[K" + line : line + "\n").utf8))
    }
    if isTTY { FileHandle.standardError.write(Data("\n".utf8)) }
    switch outcome {
    case .stopped(let step):
      log("stopped at step \(step); checkpoint written ---> HINT: rerun the same command to resume")
      throw ExitCode(130)
    case .finished(let steps):
      let summary = try training.exportFinal()
      let seconds = (ContinuousClock.now - start).seconds
      print(
        "trained \(h.architecture.rawValue) \(h.kind.rawValue) for \(steps) steps (\(training.tokensSeen) tokens) in \(formatDuration(seconds))"
      )
      print("filtered rows (this process): \(training.filtered)")
      if let e = summary {
        print(
          String(
            format:
              "held out (%d rows, never trained on): FVU %.4f (explained variance %.4f), MSE %.4g, L0 %.1f, %d latents never fired",
            e.rows, e.fvu, 1 - e.fvu, e.mse, e.l0, e.deadLatents))
      }
      print("dictionary (SAELens v6): \((s.out as NSString).appendingPathComponent("final"))")
      print("log: \((s.out as NSString).appendingPathComponent("train_log.jsonl"))")
    }
  }
}

/// Set by SIGTERM/SIGINT; the training loop checkpoints and stops at the next step boundary.
let trainStopRequested = Atomic<Bool>(false)
