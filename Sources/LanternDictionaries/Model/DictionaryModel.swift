// The training step shared by every architecture and kind: encode → sparse activations → decode,
// the loss terms, the backward pass, then the decoder-row constraint, clipping, Adam and the
// dead-latent counters (docs/training.md, "The step"). Architecture-specific pieces (selection,
// penalties, AuxK, prefix losses, threshold gradients) live in one file each, as extensions.
//
// State held here, all of which a checkpoint must save: the parameters, Adam's two moments per
// parameter, `step`, `tokensSinceFired`, `topKThreshold`. Deterministic for a given thread count
// (every reduction has one owner thread and a fixed order). Leaves out: data, files, logging.

import LanternKernels
import LanternTensor

/// Loss terms and metrics of one step (computed before that step's update).
public struct StepReport: Sendable {
  /// Loss terms by name: "mse", "l1" (relu), "l0" (jumprelu), "auxk" (topk family),
  /// "inner_mse_<w>" (matryoshka prefixes), and "total".
  public var losses: [String: Double] = [:]
  /// Mean number of active latents per row.
  public var l0: Double = 0
  /// Latents counted dead when the step began.
  public var deadLatents = 0
  /// Learning rate the step used.
  public var learningRate: Double = 0
  /// Global gradient norm before clipping.
  public var gradientNorm: Double = 0
  /// Seconds per phase, when the model's `recordsTimings` is on (for `lantern bench train`).
  public var timings: StepTimings?
}

/// Wall-clock seconds of the phases of one step.
public struct StepTimings: Sendable {
  /// sae_in and the dense encoder GEMM (+ b_enc).
  public var encode: Double = 0
  /// The sparsity mechanism's selection (TopK, BatchTopK, ReLU / JumpReLU to CSR).
  public var select: Double = 0
  /// Decode, residuals and the reconstruction losses.
  public var decode: Double = 0
  /// Everything backward: decoder, AuxK, penalties, encoder, STEs.
  public var backward: Double = 0
  /// Constraint, clipping, Adam, counters and threshold.
  public var update: Double = 0

  /// All phases at zero (an accumulator).
  public init() {}
}

/// A dictionary under training: parameters, optimizer state, counters, and the step.
public final class DictionaryModel: @unchecked Sendable {
  /// The hyper-parameters (fixed for the run).
  public let config: DictionaryHyperparameters
  /// The trained tensors (training layout).
  public let parameters: DictionaryParameters
  /// Adam's first moments, one tensor per parameter.
  public let firstMoments: DictionaryParameters
  /// Adam's second moments, one tensor per parameter.
  public let secondMoments: DictionaryParameters
  /// Steps taken (Adam's bias-correction count and the schedules' position).
  public internal(set) var step = 0
  /// Tokens since each latent last fired [S] (a latent is dead when this exceeds deadAfterTokens).
  public internal(set) var tokensSinceFired: [Int64]
  /// BatchTopK / Matryoshka inference threshold (EMA of the smallest active value); 0 otherwise.
  public internal(set) var topKThreshold: Double = 0
  /// Sparse or dense kernels for relu / jumprelu (part of a run's identity: the paths round
  /// differently). Not state: set it the same way when resuming.
  public var activationPath = ActivationPath.automatic
  /// Whether each `StepReport` carries `timings` (a clock read between phases; off by default).
  public var recordsTimings = false

  let pool: ThreadPool
  let gradients: DictionaryParameters
  var work = Workspace()

  /// A model starting from `parameters` (fresh optimizer state and counters).
  public init(config: DictionaryHyperparameters, parameters: DictionaryParameters, pool: ThreadPool) throws {
    try config.validate()
    let zeros = DictionaryParameters(zerosFor: config)
    for ((name, want), (_, got)) in zip(zeros.named, parameters.named) where want.shape != got.shape {
      throw TrainingError.shapeMismatch(tensor: name, expected: want.shape, got: got.shape)
    }
    guard zeros.named.count == parameters.named.count else {
      throw TrainingError.invalidSetting(field: "parameters", reason: "tensor set does not match the kind")
    }
    self.config = config
    self.parameters = parameters
    self.firstMoments = zeros
    self.secondMoments = DictionaryParameters(zerosFor: config)
    self.gradients = DictionaryParameters(zerosFor: config)
    self.tokensSinceFired = [Int64](repeating: 0, count: config.dSAE)
    self.pool = pool
  }

  /// Restores the scalar state of a checkpoint (the parameters and Adam moments are restored by
  /// writing into their tensors). Throws when the counters do not have S entries.
  public func restore(step: Int, tokensSinceFired: [Int64], topKThreshold: Double) throws {
    guard tokensSinceFired.count == config.dSAE, step >= 0 else {
      throw TrainingError.shapeMismatch(
        tensor: "tokens_since_fired", expected: [config.dSAE], got: [tokensSinceFired.count])
    }
    self.step = step
    self.tokensSinceFired = tokensSinceFired
    self.topKThreshold = topKThreshold
  }

  /// Which latents are dead now: tokensSinceFired > deadAfterTokens.
  public var deadMask: [Bool] { tokensSinceFired.map { $0 > Int64(config.deadAfterTokens) } }

  /// One training step on inputs x [B, d_in] (already multiplied by the input scale) and targets
  /// y [B, d_out] (transcoders; nil reconstructs x). Returns the loss terms before the update.
  @discardableResult
  public func step(input x: Tensor, target y: Tensor? = nil) throws -> StepReport {
    var (report, activations) = try forwardBackward(input: x, target: y)
    var clock = PhaseClock(on: recordsTimings)
    report.learningRate = config.learningRate(step: step)
    report.gradientNorm = try update(learningRate: report.learningRate)
    countFirings(activations, batch: x.shape[0])
    if config.architecture == .batchtopk || config.architecture == .matryoshka {
      updateThreshold(activations)
    }
    if recordsTimings { report.timings?.update = clock.lap() }
    step += 1
    return report
  }

  /// The loss terms and the raw gradient of the total loss (before the decoder constraint and
  /// clipping) at the current parameters, changing no state. The AuxK target is detached, as in
  /// training, so the AuxK part is not the derivative of the AuxK term through the residual.
  public func lossAndGradient(input x: Tensor, target y: Tensor? = nil) throws -> (
    report: StepReport, gradient: DictionaryParameters
  ) {
    let (report, _) = try forwardBackward(input: x, target: y)
    return (report, gradients.copy())
  }

  /// The sparse activations of a batch in training mode (BatchTopK selects over the batch),
  /// changing no state: row b's entries are rowOffsets[b]..<rowOffsets[b+1] of indices/values.
  public func activations(input x: Tensor) throws -> (rowOffsets: [Int32], indices: [Int32], values: [Float])
  {
    let b = x.shape.first ?? 0
    guard x.shape == [b, config.dIn], b > 0 else {
      throw TrainingError.shapeMismatch(tensor: "input", expected: [max(b, 1), config.dIn], got: x.shape)
    }
    work.prepare(config: config, batch: b)
    encode(x, batch: b)
    var ignored = StepReport()
    let a = selectActivations(batch: b, report: &ignored)
    return (a.rowOffsets, a.indices, a.values)
  }

  /// Forward, loss terms and backward into `gradients`.
  private func forwardBackward(input x: Tensor, target y: Tensor?) throws -> (StepReport, SparseRows) {
    let c = config
    let b = x.shape.first ?? 0
    guard x.shape == [b, c.dIn], b > 0 else {
      throw TrainingError.shapeMismatch(tensor: "input", expected: [max(b, 1), c.dIn], got: x.shape)
    }
    let target: Tensor
    if let y {
      guard y.shape == [b, c.dOut] else {
        throw TrainingError.shapeMismatch(tensor: "target", expected: [b, c.dOut], got: y.shape)
      }
      target = y
    } else {
      guard c.kind == .sae || c.kind == .crosscoder else {
        throw TrainingError.invalidSetting(field: "target", reason: "a \(c.kind.rawValue) needs targets")
      }
      target = x
    }
    if let row = firstNonFiniteRow(x) { throw TrainingError.nonFinite(step: step, what: "input row \(row)") }
    if let y, let row = firstNonFiniteRow(y) {
      throw TrainingError.nonFinite(step: step, what: "target row \(row)")
    }
    guard tokensSinceFired.count == c.dSAE else {
      throw TrainingError.shapeMismatch(
        tensor: "tokens_since_fired", expected: [c.dSAE], got: [tokensSinceFired.count])
    }
    var report = StepReport()
    let dead = deadMask
    report.deadLatents = dead.filter { $0 }.count
    work.prepare(config: c, batch: b)
    for (_, g) in gradients.named {
      let p = g.pointer
      pool.parallelFor((g.count + 4095) / 4096) { chunks in
        let lo = chunks.lowerBound * 4096
        (p + lo).update(repeating: 0, count: min(g.count, chunks.upperBound * 4096) - lo)
      }
    }

    var clock = PhaseClock(on: recordsTimings)
    var timings = StepTimings()
    encode(x, batch: b)
    timings.encode = clock.lap()
    work.countOnlyWhenDense = true
    let activations = selectActivations(batch: b, report: &report)
    work.countOnlyWhenDense = false
    report.l0 = Double(activations.nnz) / Double(b)
    let dense = usesDensePath(activations, batch: b)
    // The inverted index serves the sparse kernels and the firing counters; the dense path needs
    // neither (its counters read work.dense).
    if !activations.isCountOnly { work.index = activations.latentIndex(latents: c.dSAE) }
    timings.select = clock.lap()
    decodeAndReconstructionLoss(
      activations, input: x, target: target, batch: b, dense: dense, report: &report)
    timings.decode = clock.lap()
    biasAndSkipGradients(input: x, batch: b)
    if dense {
      denseBackward(activations, batch: b, report: &report)
    } else {
      backwardDecoder(activations, batch: b, report: &report)
      if c.usesAuxK { auxK(dead: dead, batch: b, report: &report) }
      backwardEncoder(activations, batch: b)
      if c.architecture == .jumprelu { jumpReLUThresholdBackward(activations, batch: b) }
    }
    timings.backward = clock.lap()
    if recordsTimings { report.timings = timings }

    // Summed in name order so the reported total does not depend on dictionary hashing.
    report.losses["total"] = report.losses.sorted { $0.key < $1.key }.reduce(0) { $0 + $1.value }
    guard let total = report.losses["total"], total.isFinite else {
      throw TrainingError.nonFinite(step: step, what: "loss")
    }
    return (report, activations)
  }

  /// The first row of t [B, D] holding a NaN or an infinity, if any.
  private func firstNonFiniteRow(_ t: Tensor) -> Int? {
    let b = t.shape[0]
    let d = t.count / max(b, 1)
    var bad = [Bool](repeating: false, count: b)
    bad.withUnsafeMutableBufferPointer { out in
      let o = out.baseAddress!
      pool.parallelFor(b) { rows in
        for r in rows {
          var ok = true
          for i in (r * d)..<((r + 1) * d) where !t.pointer[i].isFinite { ok = false }
          o[r] = !ok
        }
      }
    }
    return bad.firstIndex(of: true)
  }

  /// A coefficient warmed up linearly from 0 over `warmUp` steps (SAELens CoefficientScheduler).
  func warmedUp(_ value: Float, _ warmUp: Int) -> Float {
    Float(warmedUpCoefficient(step: step, warmUpSteps: warmUp, finalValue: Double(value)))
  }

  /// sae_in = x − b_dec (sae, crosscoder) or x; pre = sae_in·Eᵀ + b_enc.
  private func encode(_ x: Tensor, batch b: Int) {
    let c = config
    let p = parameters
    let dIn = c.dIn
    let s = c.dSAE
    let saeIn = work.saeIn.pointer
    // Pointers hoisted out of the loops: read through the class on every element, they kept the
    // loops scalar.
    let xs = x.pointer
    let bDec = p.decoderBias.pointer
    let bEnc = p.encoderBias.pointer
    if c.appliesDecoderBiasToInput {
      pool.parallelFor(b) { rows in
        for r in rows {
          let src = xs + r &* dIn
          let dst = saeIn + r &* dIn
          for i in 0..<dIn { dst[i] = src[i] - bDec[i] }
        }
      }
    } else {
      saeIn.update(from: xs, count: b * dIn)
    }
    let pre = work.pre.pointer
    pool.linear(out: pre, inp: saeIn, weight: p.encoderWeight.pointer, m: b, n: s, k: dIn)
    pool.parallelFor(b) { rows in
      for r in rows {
        let row = pre + r &* s
        for j in 0..<s { row[j] += bEnc[j] }
      }
    }
  }

  private func selectActivations(batch b: Int, report: inout StepReport) -> SparseRows {
    switch config.architecture {
    case .relu: return reluSelect(batch: b)
    case .topk: return topKSelect(batch: b)
    case .batchtopk, .matryoshka: return batchTopKSelect(batch: b)
    case .jumprelu:
      let a = jumpReLUSelect(batch: b)
      report.losses["l0"] = l0Loss(a, batch: b)
      return a
    }
  }

  /// Decodes every prefix level, forms residuals r_j = ŷ_j − y and the MSE terms
  /// (1/B)·Σ_b ‖r_j[b]‖², then the upstream gradients G_i = (2/B)·Σ_{j ≥ i} r_j.
  private func decodeAndReconstructionLoss(
    _ a: SparseRows, input x: Tensor, target y: Tensor, batch b: Int, dense: Bool, report: inout StepReport
  ) {
    let c = config
    let d = c.dOut
    let ends = work.levelEnds
    let levels = ends.count
    let last = work.residuals[levels - 1].pointer
    if dense {
      denseDecode(into: last, batch: b)
    } else if levels == 1 {
      a.withBuffers { ro, idx, val in
        sparseDecodeForward(
          out: last, rowOffsets: ro, indices: idx, values: val, decoder: parameters.decoderWeight.pointer,
          bias: parameters.decoderBias.pointer, batch: b, outputDim: d, pool: pool)
      }
    } else {
      sparseDecodeLevels(
        out: work.residuals.map(\.pointer), activations: a, decoder: parameters.decoderWeight.pointer,
        bias: parameters.decoderBias.pointer, ends: ends, width: d, pool: pool)
    }
    if let skip = parameters.skipWeight {
      pool.linear(out: last, inp: x.pointer, weight: skip.pointer, m: b, n: d, k: c.dIn, accumulate: true)
    }
    let scale = Float(2) / Float(b)
    for j in stride(from: levels - 1, through: 0, by: -1) {
      let r = work.residuals[j].pointer
      let g = work.upstream[j].pointer
      let next = j == levels - 1 ? nil : work.upstream[j + 1].pointer
      var partial = [Double](repeating: 0, count: b)
      partial.withUnsafeMutableBufferPointer { sums in
        let out = sums.baseAddress!
        pool.parallelFor(b) { rows in
          for row in rows {
            var sum: Double = 0
            for i in (row * d)..<((row + 1) * d) {
              r[i] -= y.pointer[i]
              sum += Double(r[i]) * Double(r[i])
              g[i] = (next?[i] ?? 0) + scale * r[i]
            }
            out[row] = sum
          }
        }
      }
      let name = j == levels - 1 ? "mse" : "inner_mse_\(ends[j])"
      report.losses[name] = partial.reduce(0, +) / Double(b)
    }
  }

  /// b_dec's gradient Σ_b G_0[b] (its output path) and W_skip's G_lastᵀ·x.
  private func biasAndSkipGradients(input x: Tensor, batch b: Int) {
    let c = config
    let d = c.dOut
    let g0 = work.upstream[0].pointer
    let gbDec = gradients.decoderBias.pointer
    addColumnSums(gbDec, g0, rows: b, width: d, pool: pool)
    if let gSkip = gradients.skipWeight {
      BLAS.sgemm(
        transA: true, transB: false, m: d, n: c.dIn, k: b, a: work.upstream[work.levelEnds.count - 1].pointer,
        lda: d, b: x.pointer, ldb: c.dIn, c: gSkip.pointer, ldc: c.dIn)
    }
  }

  /// Gradients through the decoder on the sparse path: dL/df at active entries (work.dValues),
  /// W_dec's gradient, and the L1 penalty's terms.
  private func backwardDecoder(_ a: SparseRows, batch b: Int, report: inout StepReport) {
    let c = config
    let d = c.dOut
    let g0 = work.upstream[0].pointer
    work.dValues = [Float](repeating: 0, count: max(a.nnz, 1))
    work.dValues.withUnsafeMutableBufferPointer { dv in
      let dValues = dv.baseAddress!
      if work.levelEnds.count == 1 {
        a.withBuffers { ro, idx, val in
          sparseDecodeBackward(
            dValues: dValues, dDecoder: gradients.decoderWeight.pointer, dOut: g0, rowOffsets: ro,
            indices: idx,
            values: val, decoder: parameters.decoderWeight.pointer, index: work.index, batch: b, outputDim: d,
            pool: pool)
        }
      } else {
        levelsBackward(dValues: dValues, activations: a, batch: b)
      }
    }
    work.dPre = work.dValues
    if c.architecture == .relu {
      let extra = l1Penalty(a, batch: b, report: &report)
      for e in 0..<a.nnz { work.dPre[e] += extra[Int(a.indices[e])] }
    }
  }

  /// Matryoshka's decode backward: dValues[e] = G_{level(s_e)}[b_e]·W_dec[s_e] and
  /// dW_dec[s] += Σ_slots f_e·G_{level(s)}[b] (latent-parallel, slot order).
  private func levelsBackward(dValues: UnsafeMutablePointer<Float>, activations a: SparseRows, batch b: Int) {
    let d = config.dOut
    let w = parameters.decoderWeight.pointer
    let out = gradients.decoderWeight.pointer
    let ups = work.upstream.map(\.pointer)
    let level = work.levelOf
    let index = work.index
    pool.parallelFor(b) { rows in
      for r in rows {
        for e in Int(a.rowOffsets[r])..<Int(a.rowOffsets[r + 1]) {
          let s = Int(a.indices[e])
          dValues[e] = dot(ups[level[s]] + r * d, w + s * d, d)
        }
      }
    }
    pool.parallelFor(config.dSAE) { range in
      for l in range {
        for slot in Int(index.latentOffsets[l])..<Int(index.latentOffsets[l + 1]) {
          let e = Int(index.entries[slot])
          axpy(out + l * d, a.values[e], ups[level[l]] + Int(index.rows[slot]) * d, d)
        }
      }
    }
  }

  /// Encoder gradients from dL/dpre at the active entries (work.dPre) and the AuxK entries:
  /// dE[s] += Σ dpre·sae_in[b], db_enc[s] += Σ dpre, and b_dec's input path −Σ_b dpre·E.
  private func backwardEncoder(_ a: SparseRows, batch b: Int) {
    let c = config
    let dIn = c.dIn
    let g = gradients
    let sets: [(SparseRows, LatentIndex, [Float])] =
      [(a, work.index, work.dPre)] + (work.auxActive ? [(work.aux, work.auxIndex, work.auxDPre)] : [])
    for (rows, index, dPre) in sets where rows.nnz > 0 {
      dPre.withUnsafeBufferPointer { dp in
        sparseEncoderBackward(
          dEncoderWeight: g.encoderWeight.pointer, dEncoderBias: g.encoderBias.pointer, dPre: dp.baseAddress!,
          x: work.saeIn.pointer, index: index, inputDim: dIn, pool: pool)
        if c.appliesDecoderBiasToInput {
          rowAccumulate(
            out: work.dSaeIn.pointer, activations: rows, coefficients: dp.baseAddress!,
            matrix: parameters.encoderWeight.pointer, width: dIn, pool: pool)
        }
      }
    }
    if c.appliesDecoderBiasToInput {
      let ds = work.dSaeIn.pointer
      let gb = g.decoderBias.pointer
      addColumnSums(gb, ds, rows: b, width: dIn, sign: -1, pool: pool)
    }
  }

  /// Resets the counters of latents that fired (f ≠ 0) and ages the rest by B tokens.
  private func countFirings(_ a: SparseRows, batch b: Int) {
    if a.isCountOnly {
      let fired = denseFired(batch: b)
      for s in 0..<config.dSAE { tokensSinceFired[s] = fired[s] ? 0 : tokensSinceFired[s] + Int64(b) }
      return
    }
    for s in 0..<config.dSAE {
      tokensSinceFired[s] = work.index.count(of: s) > 0 ? 0 : tokensSinceFired[s] + Int64(b)
    }
  }
}

/// Laps of a monotonic clock (every lap is 0 when off).
struct PhaseClock {
  let on: Bool
  var last: ContinuousClock.Instant

  init(on: Bool) {
    self.on = on
    last = ContinuousClock.now
  }

  mutating func lap() -> Double {
    guard on else { return 0 }
    let now = ContinuousClock.now
    defer { last = now }
    return (now - last).seconds
  }
}
