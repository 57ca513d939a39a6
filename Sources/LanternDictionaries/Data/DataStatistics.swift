// Input scaling and initialisation statistics, computed deterministically from the stream.
//
// Scale: SAELens' `normalize_activations="expected_average_only_in"` (sae_lens 6.54.12,
// training/activation_scaler.py `ActivationScaler.estimate_scaling_factor` and
// `_calculate_mean_norm`): scaling_factor = sqrt(d_in) / mean‖x‖, the mean of the row norms over
// the first `n_batches_for_norm_estimate` batches of the training stream (summed in float32 there,
// in Double here), so that after scaling E‖x‖ ≈ sqrt(d) and E‖x‖² ≈ d. Here the factor is
// per hook (a crosscoder's layers, a transcoder's input and target each get their own), and the
// batches are read from a fresh stream at position 0 — so the trainer still trains on them, where
// SAELens consumes them from its data provider.
// Mean: the per-column mean of the same rows (for b_dec initialisation; the target's mean for
// transcoders). Both are of the raw, unscaled rows.

/// Scale factors and means over the first batches of the training stream.
public struct DataStatistics: Sendable, Equatable {
  /// sqrt(d_h) / mean‖x_h‖ for each input hook.
  public var inputScales: [Float]
  /// The same for each target hook (empty when the target is the input).
  public var targetScales: [Float]
  /// Per-column mean of the input rows [width].
  public var inputMean: [Float]
  /// Per-column mean of the target rows [targetWidth], or nil when the target is the input.
  public var targetMean: [Float]?
  /// Rows the estimate used.
  public var rows: Int
}

extension DataPlan {
  /// Estimates scales and means from the first `batches` batches of `batchSize` rows of the
  /// training stream (position 0, the plan's seed): the same rows whatever the thread timing.
  public func statistics(batchSize: Int, batches: Int) throws -> DataStatistics {
    guard batches >= 1 else { throw DataError.invalidSetting(name: "batches", reason: "\(batches) < 1") }
    let stream = try trainingStream(batchSize: batchSize, startingAt: 0)
    let inHooks = source.inputHooks
    let outHooks = source.targetHooks
    var inNorms = [Double](repeating: 0, count: inHooks.count)
    var outNorms = [Double](repeating: 0, count: outHooks.count)
    var inSum = [Double](repeating: 0, count: width)
    var outSum = [Double](repeating: 0, count: targetWidth ?? 0)
    var rows = 0
    func accumulate(
      _ x: [Float], _ count: Int, _ stride: Int, _ hooks: [HookColumns], _ norms: inout [Double],
      _ sum: inout [Double]
    ) {
      x.withUnsafeBufferPointer { buffer in
        let base = buffer.baseAddress!
        for (h, hook) in hooks.enumerated() {
          let n = rowNorms(base, count: count, stride: stride, offset: hook.offset, width: hook.width)
          for v in n { norms[h] += Double(v) }
        }
        for i in 0..<count {
          let row = base + i &* stride
          for j in 0..<stride { sum[j] += Double(row[j]) }
        }
      }
    }
    for _ in 0..<batches {
      guard let batch = try stream.next() else { break }
      accumulate(batch.inputs, batch.rowCount, width, inHooks, &inNorms, &inSum)
      if let targets = batch.targets, let tw = targetWidth {
        accumulate(targets, batch.rowCount, tw, outHooks, &outNorms, &outSum)
      }
      rows += batch.rowCount
    }
    guard rows > 0 else {
      throw DataError.empty(subject: source.name, reason: "the stream delivered no rows")
    }
    func scales(_ hooks: [HookColumns], _ norms: [Double]) -> [Float] {
      zip(hooks, norms).map { hook, total in Float(Double(hook.width).squareRoot() / (total / Double(rows))) }
    }
    return DataStatistics(
      inputScales: scales(inHooks, inNorms), targetScales: scales(outHooks, outNorms),
      inputMean: inSum.map { Float($0 / Double(rows)) },
      targetMean: targetWidth == nil ? nil : outSum.map { Float($0 / Double(rows)) }, rows: rows)
  }
}
