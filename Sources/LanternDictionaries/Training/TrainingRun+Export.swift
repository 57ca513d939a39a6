// The end of a run: held-out figures (never trained on) and the SAELens v6 directory `final/`.
//
// The held-out pass reads the evaluation stream (the units the split holds out) up to a row budget,
// in plan order, and measures FVU (Σ‖ŷ − y‖² / Σ‖y − ȳ‖² over all rows, ȳ the held-out mean, sums in
// Double: SAELens 6.54 `evals.py` explained variance = 1 − FVU), MSE per row, L0 and how many
// latents never fired; the firing frequencies give sparsity.safetensors. Activations are the training
// mode's (BatchTopK selects over the batch, not by the inference threshold).

import Foundation
import LanternShards
import LanternTensor

extension TrainingRun {
  /// Held-out figures over at most `maxRows` rows; nil when nothing is held out.
  public func evaluateHeldOut(maxRows: Int = 65_536) throws -> (summary: HeldOutSummary, frequency: Tensor)? {
    guard !plan.heldOutUnits.isEmpty else { return nil }
    let h = hyperparameters
    let stream = try plan.evaluationStream(batchSize: settings.batchSize)
    var fired = [Int](repeating: 0, count: h.dSAE)
    var rows = 0
    var sse = 0.0
    var sum = [Double](repeating: 0, count: h.dOut)
    var sumSquares = 0.0
    var active = 0
    while rows < maxRows, let batch = try stream.next() {
      let b = min(batch.rowCount, maxRows - rows)
      let x = Tensor(shape: [b, h.dIn])
      TrainingRun.load(Array(batch.inputs.prefix(b * h.dIn)), into: x, scales: inputScales)
      var y: Tensor?
      if let targets = batch.targets {
        let t = Tensor(shape: [b, h.dOut])
        TrainingRun.load(Array(targets.prefix(b * h.dOut)), into: t, scales: outputScales)
        y = t
      }
      let target = y ?? x
      let (report, _) = try model.lossAndGradient(input: x, target: y)
      sse += (report.losses["mse"] ?? 0) * Double(b)
      for i in 0..<(b * h.dOut) {
        let v = Double(target.pointer[i])
        sum[i % h.dOut] += v
        sumSquares += v * v
      }
      let a = try model.activations(input: x)
      active += a.indices.count
      for s in a.indices { fired[Int(s)] += 1 }
      rows += b
    }
    guard rows > 0 else { return nil }
    let meanSquares = sum.reduce(0) { $0 + $1 * $1 } / Double(rows)
    let total = sumSquares - meanSquares
    let frequency = Tensor(shape: [h.dSAE], values: fired.map { Float(Double($0) / Double(rows)) })
    let summary = HeldOutSummary(
      rows: rows, fvu: total > 0 ? sse / total : 0, mse: sse / Double(rows),
      l0: Double(active) / Double(rows),
      deadLatents: fired.filter { $0 == 0 }.count)
    return (summary, frequency)
  }

  /// The trained dictionary in training layout with its scales (what the exporter folds).
  public func trainedDictionary() -> TrainedDictionary {
    let h = hyperparameters
    let p = model.parameters
    let hasThreshold = h.architecture == .batchtopk || h.architecture == .matryoshka
    return TrainedDictionary(
      architecture: h.architecture, kind: h.kind, hooks: layers, dIn: h.dIn / layers, dOut: h.dOut / layers,
      dSAE: h.dSAE, encoderWeight: p.encoderWeight, bEnc: p.encoderBias, wDec: p.decoderWeight,
      bDec: p.decoderBias, wSkip: p.skipWeight, logThreshold: p.logThreshold,
      batchTopKThreshold: hasThreshold ? Float(model.topKThreshold) : nil,
      k: h.architecture == .relu || h.architecture == .jumprelu ? nil : h.k, inputScales: inputScales,
      outputScales: outputScales, applyBDecToInput: h.appliesDecoderBiasToInput)
  }

  /// Evaluates on the held-out units and writes `final/`; returns the held-out summary.
  @discardableResult
  public func exportFinal() throws -> HeldOutSummary? {
    let evaluation = try evaluateHeldOut()
    let job = plan.source as? JobSource
    let jobFields = Dictionary(
      (job?.spec.fields ?? []).map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
    let hookNames: [String]
    if settings.hooks.isEmpty {
      hookNames = [URL(fileURLWithPath: settings.data).deletingPathExtension().lastPathComponent]
    } else {
      hookNames = settings.kind == .crosscoder ? settings.hooks : [settings.hooks[0]]
    }
    var details: [String: String] = [:]
    for (key, value) in spec.fields { details[key] = value }
    if let e = evaluation?.summary {
      details["held_out_rows"] = String(e.rows)
      details["held_out_fvu"] = String(e.fvu)
      details["held_out_l0"] = String(e.l0)
    }
    let metadata = ExportMetadata(
      modelName: job?.model.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "unknown",
      hookNames: hookNames, hookNameOut: settings.targetHook,
      contextSize: Int(jobFields["context_size"] ?? "") ?? 0,
      prependBos: jobFields["prepend_bos"] == "true", datasetPath: jobFields["corpus"] ?? settings.data,
      excludeSpecialTokens: settings.excludeSpecialTokens, lanternVersion: Self.lanternVersion,
      l0: evaluation?.summary.l0, numDeadFeatures: evaluation?.summary.deadLatents, trainingDetails: details)
    try DictionaryExporter.write(
      trainedDictionary(), metadata: metadata, firingFrequency: evaluation?.frequency,
      to: outputURL.appendingPathComponent("final"))
    return evaluation?.summary
  }
}
