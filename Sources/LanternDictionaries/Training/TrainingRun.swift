// One training run on one machine: open the data plan, start fresh or resume from the newest valid
// checkpoint, step through the shuffled stream, log, checkpoint, and export `final/`.
//
// Layout of the output directory: `checkpoints/step-N/` (CheckpointStore), `train_log.jsonl` (one JSON
// line per logging interval; a resumed run appends after truncating lines past its checkpoint, so the
// log reads as one run), `final/` (SAELens v6, DictionaryExporter). A fresh start estimates the input
// scales (E‖x‖² = d per hook) and the b_dec initialisation (the data mean, in scaled space) from the
// first batches of the stream; they are stored in every checkpoint, so a resume never re-estimates.
// A resumed run equals an uninterrupted one bit for bit (same threads): everything the steps read is
// in the checkpoint (TrainingRun+State.swift). Left out: several dictionaries in one pass over the
// data, and training across machines (the cluster issue).

import Foundation
import LanternShards
import LanternTensor

/// Progress after a logging interval.
public struct TrainingProgress: Sendable {
  public var step: Int
  public var totalSteps: Int
  public var tokens: Int
  public var losses: [String: Double]
  /// Mean active latents per row over the interval.
  public var l0: Double
  /// Fraction of variance unexplained over the interval: Σ‖ŷ − y‖² / Σ‖y − ȳ_batch‖².
  public var fvu: Double
  public var deadFraction: Double
  public var learningRate: Double
  public var activationsPerSecond: Double
  /// The line written to train_log.jsonl.
  public var json: String
}

/// How a run ended.
public enum TrainingOutcome: Sendable, Equatable {
  /// The token budget was reached and `final/` written.
  case finished(steps: Int)
  /// Stopped on request (a signal) after checkpointing at `step`.
  case stopped(step: Int)
}

/// Held-out figures written with the final dictionary.
public struct HeldOutSummary: Sendable {
  public var rows: Int
  public var fvu: Double
  public var mse: Double
  public var l0: Double
  public var deadLatents: Int
}

/// A training run (see the file comment).
public final class TrainingRun {
  public let settings: TrainingSettings
  public let plan: DataPlan
  public let hyperparameters: DictionaryHyperparameters
  public let spec: JobSpec
  public let model: DictionaryModel
  public let store: CheckpointStore
  public let pool: ThreadPool
  /// The step the run resumed from (nil: a fresh start).
  public let resumedFrom: Int?
  /// Warnings from loading checkpoints (invalid ones skipped).
  public let warnings: [String]
  /// Input and output scales per hook.
  public let inputScales: [Float]
  public let outputScales: [Float]
  /// Stream position of the next batch, and training rows consumed.
  public private(set) var cursor: Int
  public private(set) var tokensSeen: Int
  /// Rows the filters dropped so far in this process, by reason.
  public private(set) var filtered = FilterCounts()
  let layers: Int
  let outputURL: URL
  /// Bytes of decoded rows the shuffle's mixing group may hold.
  static let shuffleMemory = 512 << 20

  /// Opens the data and the output directory; resumes when a checkpoint exists.
  public init(settings: TrainingSettings, log: (String) -> Void = { _ in }) throws {
    try settings.validate()
    self.settings = settings
    outputURL = URL(fileURLWithPath: settings.out)
    do {
      try FileManager.default.createDirectory(at: outputURL, withIntermediateDirectories: true)
    } catch {
      throw TrainingError.invalidSetting(
        field: "--out", reason: "cannot create the directory \(settings.out): \(error.localizedDescription)")
    }
    let source = try openActivationSource(
      path: settings.data, hooks: settings.hooks, targetHooks: settings.targetHook.map { [$0] } ?? [],
      targetData: settings.targetData)
    plan = try DataPlan(
      source: source, split: HeldOutSplit(oneIn: settings.heldOutOneIn, seed: settings.seed),
      // The mixing buffer (one decoded group) is bounded to 512 MiB whatever the row width.
      shuffle: ShuffleConfig(
        seed: settings.seed, memoryBudget: TrainingRun.shuffleMemory,
        rowBytes: 4 * (source.width + (source.targetWidth ?? 0))),
      filter: FilterConfig(
        excludedTokenIDs: settings.excludeSpecialTokens ? nil : [], maxNormMultiple: settings.maxNormMultiple)
    )
    layers = settings.kind == .crosscoder ? source.inputHooks.count : 1
    let dOut = plan.targetWidth ?? plan.width
    hyperparameters = try settings.hyperparameters(dIn: plan.width, dOut: dOut, layers: layers)
    spec = settings.spec(hyperparameters: hyperparameters, dataFingerprint: plan.fingerprint)
    pool = ThreadPool(threadCount: settings.threads)
    store = try CheckpointStore(
      directory: outputURL.appendingPathComponent("checkpoints"), keep: settings.keepCheckpoints)
    let loaded = try store.loadLatest(resuming: spec)
    warnings = loaded.warnings
    if let state = loaded.state {
      let restored = try TrainingRun.restore(state, config: hyperparameters, pool: pool)
      model = restored.model
      inputScales = state.scalars.inputScales
      outputScales = state.scalars.outputScales
      cursor = Int(state.scalars.dataCursor)
      tokensSeen = state.scalars.tokensSeen
      resumedFrom = state.scalars.step
      log("resuming from checkpoint step-\(state.scalars.step) (\(tokensSeen) tokens, cursor \(cursor))")
    } else {
      log("estimating input scales and the b_dec initialisation on \(settings.statisticsBatches) batches")
      let stats = try plan.statistics(batchSize: settings.batchSize, batches: settings.statisticsBatches)
      inputScales = stats.inputScales
      outputScales = stats.targetScales.isEmpty ? stats.inputScales : stats.targetScales
      var mean = TrainingRun.scaled(stats.targetMean ?? stats.inputMean, by: outputScales, rowWidth: dOut)
      if settings.geometricMedianInit,
        let first = try plan.trainingStream(batchSize: settings.batchSize).next()
      {
        // The first batch's rows in scaled space (the targets for a transcoder).
        let rows = TrainingRun.scaled(first.targets ?? first.inputs, by: outputScales, rowWidth: dOut)
        mean = rows.withUnsafeBufferPointer {
          geometricMedian(points: $0.baseAddress!, count: first.rowCount, dimension: dOut)
        }
      }
      let parameters = try DictionaryParameters.initialized(
        hyperparameters, decoderBias: mean, seed: settings.seed)
      model = try DictionaryModel(config: hyperparameters, parameters: parameters, pool: pool)
      cursor = 0
      tokensSeen = 0
      resumedFrom = nil
    }
  }

  /// `values` with each hook's block multiplied by its scale (blocks of equal width).
  static func scaled(_ values: [Float], by scales: [Float], rowWidth: Int) -> [Float] {
    let block = max(1, rowWidth / max(1, scales.count))
    return values.enumerated().map { i, v in v * scales[min((i % rowWidth) / block, scales.count - 1)] }
  }

  /// Trains until the token budget is reached or `shouldStop()` says so (checked between steps).
  public func run(
    shouldStop: () -> Bool = { false }, progress: (TrainingProgress) -> Void = { _ in }
  ) throws -> TrainingOutcome {
    let total = settings.totalSteps
    let logURL = outputURL.appendingPathComponent("train_log.jsonl")
    try TrainingLog.truncate(logURL, afterStep: model.step)
    let logFile = try TrainingLog(url: logURL)
    let stream = try plan.trainingStream(batchSize: settings.batchSize, startingAt: cursor)
    let h = hyperparameters
    let x = Tensor(shape: [settings.batchSize, h.dIn])
    let y: Tensor? = plan.targetWidth == nil ? nil : Tensor(shape: [settings.batchSize, h.dOut])
    var window = IntervalStatistics()
    var lastSaved = model.step
    while model.step < total {
      if shouldStop() {
        if model.step != lastSaved { try save() }
        return .stopped(step: model.step)
      }
      guard let batch = try stream.next() else { break }
      TrainingRun.load(batch.inputs, into: x, scales: inputScales)
      if let y, let targets = batch.targets { TrainingRun.load(targets, into: y, scales: outputScales) }
      let target = y ?? x
      let variance = TrainingRun.batchVariance(target, rows: batch.rowCount, width: h.dOut)
      let report = try model.step(input: x, target: y)
      cursor = batch.cursor
      tokensSeen += batch.rowCount
      filtered.add(batch.counts)
      window.add(report, rows: batch.rowCount, variance: variance)
      if model.step % settings.logEvery == 0 || model.step == total {
        let p = window.progress(
          step: model.step, totalSteps: total, tokens: tokensSeen, dSAE: h.dSAE, report: report)
        try logFile.append(p.json)
        progress(p)
        window = IntervalStatistics()
      }
      if model.step % settings.checkpointEvery == 0 {
        try save()
        lastSaved = model.step
      }
    }
    if model.step != lastSaved { try save() }
    return .finished(steps: model.step)
  }

  /// Copies `rows` (row-major, the batch's width) into `tensor`, each hook block times its scale.
  static func load(_ rows: [Float], into tensor: Tensor, scales: [Float]) {
    let width = tensor.shape[1]
    let block = width / scales.count
    // Per step on the whole batch: loop rows and hook blocks (contiguous, vectorizable), not a
    // division per element.
    rows.withUnsafeBufferPointer { src in
      let n = min(src.count, tensor.count) / width
      let dst = tensor.pointer
      for r in 0..<n {
        for (h, scale) in scales.enumerated() {
          let base = r &* width &+ h &* block
          for i in base..<(base &+ block) { dst[i] = src[i] * scale }
        }
      }
    }
  }

  /// Σ_b ‖y_b − ȳ‖² / B over the batch (the FVU denominator, in scaled space).
  static func batchVariance(_ y: Tensor, rows: Int, width: Int) -> Double {
    var mean = [Double](repeating: 0, count: width)
    for r in 0..<rows {
      for c in 0..<width { mean[c] += Double(y.pointer[r * width + c]) }
    }
    for c in 0..<width { mean[c] /= Double(max(rows, 1)) }
    var total = 0.0
    for r in 0..<rows {
      for c in 0..<width {
        let d = Double(y.pointer[r * width + c]) - mean[c]
        total += d * d
      }
    }
    return total / Double(max(rows, 1))
  }

  /// Writes a checkpoint of the current state.
  public func save() throws {
    _ = try store.save(state())
  }
}

/// Means of a logging interval.
struct IntervalStatistics {
  var steps = 0
  var rows = 0
  var losses: [String: Double] = [:]
  var l0 = 0.0
  var mse = 0.0
  var variance = 0.0
  let start = ContinuousClock.now

  mutating func add(_ r: StepReport, rows n: Int, variance v: Double) {
    steps += 1
    rows += n
    for (k, v) in r.losses { losses[k, default: 0] += v }
    l0 += r.l0
    mse += r.losses["mse"] ?? 0
    variance += v
  }

  func progress(step: Int, totalSteps: Int, tokens: Int, dSAE: Int, report: StepReport) -> TrainingProgress {
    let seconds = (ContinuousClock.now - start).seconds
    let n = Double(max(steps, 1))
    let means = losses.mapValues { $0 / n }
    let fvu = variance > 0 ? mse / variance : 0
    let dead = Double(report.deadLatents) / Double(dSAE)
    let rate = seconds > 0 ? Double(rows) / seconds : 0
    var object: [String: Any] = [
      "step": step, "tokens": tokens, "l0": l0 / n, "fvu": fvu, "dead_fraction": dead,
      "lr": report.learningRate, "activations_per_second": rate,
    ]
    for (k, v) in means { object["loss_\(k)"] = v }
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    return TrainingProgress(
      step: step, totalSteps: totalSteps, tokens: tokens, losses: means, l0: l0 / n, fvu: fvu,
      deadFraction: dead, learningRate: report.learningRate, activationsPerSecond: rate,
      json: String(decoding: data, as: UTF8.self))
  }
}

extension FilterCounts {
  mutating func add(_ other: FilterCounts) {
    positions += other.positions
    kept += other.kept
    specialTokens += other.specialTokens
    normOutliers += other.normOutliers
  }
}
