// Transformer: the decoder-only forward pass shared by every architecture (GPT-2, Llama, Qwen2).
// It only wires kernels together and fires hooks; it never loops over elements itself.
//
// Legend: B batch, T sequence, C d_model, NH heads, NKV key/value heads, HS head size,
// F d_mlp, V vocabulary; BT = B·T rows of the residual stream.
// Left out: KV caching/generation, padding masks, backward passes.

import Foundation
import LanternKernels
import LanternTensor

/// A loaded decoder-only transformer, ready to run forward passes.
public final class Transformer: @unchecked Sendable {
  public let config: ModelConfig
  public let weights: ModelWeights
  /// Where the weights came from (for error messages and provenance).
  public let source: String
  let pool: ThreadPool
  let rotary: RotaryTable?
  let rotaryLayout: RotaryLayout = .rotateHalf
  /// Every valid hook name.
  public let hookNames: Set<String>
  /// Scratch buffers kept between calls: reallocating ~30 MB per batch costs page faults.
  private let workspaces = WorkspaceCache()

  public init(config: ModelConfig, weights: ModelWeights, source: String, pool: ThreadPool) {
    self.config = config
    self.weights = weights
    self.source = source
    self.pool = pool
    if case .rotary(let base, let dim) = config.positional {
      rotary = RotaryTable(rotaryDim: dim, base: base, maxPositions: config.nCtx)
    } else {
      rotary = nil
    }
    hookNames = Set(HookPoint.all(for: config))
  }

  /// Runs the model over `tokens` (B·T ids, row-major (B,T)).
  /// - Parameters:
  ///   - stopAfterLayer: the last layer to compute; later layers, the final norm and the
  ///     unembedding are skipped and nil is returned.
  ///   - hooks: functions to run at hook points (capture, patch, steer...).
  /// - Returns: logits (B,T,V), or nil when stopping early.
  public func forward(
    tokens: [Int32], batch b: Int, seqLen t: Int, stopAfterLayer: Int? = nil, hooks: Hooks = Hooks()
  ) throws -> Tensor? {
    let cfg = config
    guard b > 0, t > 0, tokens.count == b * t else {
      throw ModelError.badInput("forward: \(tokens.count) tokens do not form a batch of \(b) × \(t)")
    }
    if t > cfg.nCtx { throw ModelError.sequenceTooLong(length: t, maximum: cfg.nCtx) }
    for (i, id) in tokens.enumerated() where id < 0 || Int(id) >= cfg.dVocab {
      throw ModelError.tokenOutOfRange(index: i, id: id, vocab: cfg.dVocab)
    }
    let last = stopAfterLayer ?? cfg.nLayers - 1
    guard last >= 0 && last < cfg.nLayers else {
      throw ModelError.badInput("stop-after-layer \(last) is outside 0..<\(cfg.nLayers)")
    }
    for name in hooks.names {
      guard hookNames.contains(name) else {
        throw ModelError.unknownHook(name: name, architecture: cfg.architecture)
      }
      if let l = HookPoint.layer(of: name), l > last {
        throw ModelError.hookBeyondStop(name: name, layer: l, stopAfter: last)
      }
      if (name == HookPoint.finalScale || name == HookPoint.finalNormalized) && last < cfg.nLayers - 1 {
        throw ModelError.hookBeyondStop(name: name, layer: cfg.nLayers, stopAfter: last)
      }
    }

    let bt = b * t
    let c = cfg.dModel
    let x = Tensor(shape: [bt, c])
    let ws = workspaces.take(config: cfg, batch: b, seqLen: t)
    defer { workspaces.give(ws) }
    tokens.withUnsafeBufferPointer { ids in
      embeddingForward(
        out: x.pointer, ids: ids.baseAddress!, table: weights.tokenEmbedding.pointer, rows: bt, cols: c,
        pool: pool)
    }
    hooks.run(HookPoint.embed, x.pointer, [b, t, c])
    if let wpe = weights.positionEmbedding {
      let pos = ws.hidden
      for r in 0..<b { (pos.pointer + r * t * c).update(from: wpe.pointer, count: t * c) }
      hooks.run(HookPoint.posEmbed, pos.pointer, [b, t, c])
      residualForward(out: x.pointer, a: x.pointer, b: pos.pointer, count: bt * c, pool: pool)
    }
    for l in 0...last {
      runBlock(layer: l, x: x, ws: ws, batch: b, seqLen: t, hooks: hooks)
    }
    if last < cfg.nLayers - 1 { return nil }
    norm(
      out: ws.hidden, inp: x, weight: weights.finalNormWeight, bias: weights.finalNormBias, rows: bt,
      scaleHook: HookPoint.finalScale, normalizedHook: HookPoint.finalNormalized, ws: ws, batch: b,
      seqLen: t, hooks: hooks)
    let logits = Tensor(shape: [b, t, cfg.dVocab])
    pool.linear(
      out: logits.pointer, inp: ws.hidden.pointer, weight: weights.unembed, m: bt, n: cfg.dVocab, k: c
    )
    return logits
  }

  /// Per-token next-token cross-entropy (B, T−1) for logits (B,T,V) of `tokens`.
  public func nextTokenLoss(logits: Tensor, tokens: [Int32], batch b: Int, seqLen t: Int) -> [Float] {
    tokens.withUnsafeBufferPointer { ids in
      LanternKernels.nextTokenLoss(
        logits: logits.pointer, tokens: ids.baseAddress!, batch: b, seqLen: t, vocab: config.dVocab,
        pool: pool)
    }
  }

  // MARK: - One block

  private func runBlock(layer l: Int, x: Tensor, ws: Workspace, batch b: Int, seqLen t: Int, hooks: Hooks) {
    let cfg = config
    let w = weights.layers[l]
    let bt = b * t
    let c = cfg.dModel
    let nh = cfg.nHeads
    let nkv = cfg.nKVHeads
    let hs = cfg.dHead
    let qkvCols = (nh + 2 * nkv) * hs

    hooks.run(HookPoint.residPre(l), x.pointer, [b, t, c])
    norm(
      out: ws.hidden, inp: x, weight: w.ln1Weight, bias: w.ln1Bias, rows: bt,
      scaleHook: HookPoint.ln1Scale(l),
      normalizedHook: HookPoint.ln1Normalized(l), ws: ws, batch: b, seqLen: t, hooks: hooks)

    // Attention: one fused QKV projection; q, k, v are column slices of its rows.
    let qkv = ws.qkv.pointer
    pool.linear(out: qkv, inp: ws.hidden.pointer, weight: w.qkvWeight, m: bt, n: qkvCols, k: c)
    if let bias = w.qkvBias { addBias(qkv, bias: bias.pointer, rows: bt, cols: qkvCols) }
    let q = qkv
    let k = qkv + nh * hs
    let v = qkv + (nh + nkv) * hs
    runStrided(HookPoint.q(l), q, stride: qkvCols, rows: bt, cols: nh * hs, shape: [b, t, nh, hs], hooks)
    runStrided(HookPoint.k(l), k, stride: qkvCols, rows: bt, cols: nkv * hs, shape: [b, t, nkv, hs], hooks)
    runStrided(HookPoint.v(l), v, stride: qkvCols, rows: bt, cols: nkv * hs, shape: [b, t, nkv, hs], hooks)
    if let rotary {
      rotaryForward(
        x: q, batch: b, seqLen: t, heads: nh, headSize: hs, stride: qkvCols, table: rotary,
        layout: rotaryLayout,
        pool: pool)
      rotaryForward(
        x: k, batch: b, seqLen: t, heads: nkv, headSize: hs, stride: qkvCols, table: rotary,
        layout: rotaryLayout,
        pool: pool)
      runStrided(
        HookPoint.rotQ(l), q, stride: qkvCols, rows: bt, cols: nh * hs, shape: [b, t, nh, hs], hooks)
      runStrided(
        HookPoint.rotK(l), k, stride: qkvCols, rows: bt, cols: nkv * hs, shape: [b, t, nkv, hs], hooks)
    }
    let shape = AttentionShape(
      batch: b, seqLen: t, nHeads: nh, nKVHeads: nkv, headSize: hs, qStride: qkvCols, kStride: qkvCols,
      vStride: qkvCols)
    let z = ws.z.pointer
    let scoresName = HookPoint.attnScores(l)
    let patternName = HookPoint.pattern(l)
    if hooks.contains(scoresName) || hooks.contains(patternName) {
      let att = ws.attention()
      attentionScoresForward(scores: att.pointer, q: q, k: k, shape: shape, pool: pool)
      hooks.run(scoresName, att.pointer, [b, nh, t, t])
      attentionSoftmaxForward(pattern: att.pointer, scores: att.pointer, rows: b * nh, seqLen: t, pool: pool)
      hooks.run(patternName, att.pointer, [b, nh, t, t])
      attentionApplyForward(out: z, pattern: att.pointer, v: v, shape: shape, pool: pool)
    } else {
      attentionForward(out: z, scores: nil, pattern: nil, q: q, k: k, v: v, shape: shape, pool: pool)
    }
    hooks.run(HookPoint.z(l), z, [b, t, nh, hs])
    let attnOut = ws.blockOut.pointer
    pool.linear(out: attnOut, inp: z, weight: w.outWeight, m: bt, n: c, k: nh * hs)
    if let bias = w.outBias { addBias(attnOut, bias: bias.pointer, rows: bt, cols: c) }
    hooks.run(HookPoint.attnOut(l), attnOut, [b, t, c])
    residualForward(out: x.pointer, a: x.pointer, b: attnOut, count: bt * c, pool: pool)
    hooks.run(HookPoint.residMid(l), x.pointer, [b, t, c])

    // MLP.
    norm(
      out: ws.hidden, inp: x, weight: w.ln2Weight, bias: w.ln2Bias, rows: bt,
      scaleHook: HookPoint.ln2Scale(l),
      normalizedHook: HookPoint.ln2Normalized(l), ws: ws, batch: b, seqLen: t, hooks: hooks)
    let f = cfg.dMLP
    let up = ws.mlpIn.pointer
    let post = ws.mlpPost.pointer
    switch cfg.mlp {
    case .gelu:
      pool.linear(out: up, inp: ws.hidden.pointer, weight: w.upWeight, m: bt, n: f, k: c)
      if let bias = w.upBias { addBias(up, bias: bias.pointer, rows: bt, cols: f) }
      hooks.run(HookPoint.mlpPre(l), up, [b, t, f])
      geluForward(out: post, inp: up, count: bt * f, pool: pool)
    case .gatedSiLU:
      pool.linear(out: up, inp: ws.hidden.pointer, weight: w.upWeight, m: bt, n: 2 * f, k: c)
      runStrided(HookPoint.mlpPre(l), up, stride: 2 * f, rows: bt, cols: f, shape: [b, t, f], hooks)
      runStrided(
        HookPoint.mlpPreLinear(l), up + f, stride: 2 * f, rows: bt, cols: f, shape: [b, t, f], hooks)
      siluMulForward(
        out: post, gate: up, gateStride: 2 * f, up: up + f, upStride: 2 * f, rows: bt, cols: f, pool: pool)
    }
    hooks.run(HookPoint.mlpPost(l), post, [b, t, f])
    let mlpOut = ws.blockOut.pointer
    pool.linear(out: mlpOut, inp: post, weight: w.downWeight, m: bt, n: c, k: f)
    if let bias = w.downBias { addBias(mlpOut, bias: bias.pointer, rows: bt, cols: c) }
    hooks.run(HookPoint.mlpOut(l), mlpOut, [b, t, c])
    residualForward(out: x.pointer, a: x.pointer, b: mlpOut, count: bt * c, pool: pool)
    hooks.run(HookPoint.residPost(l), x.pointer, [b, t, c])
  }

  /// Normalizes `inp` into `out`; fires the scale and (pre-affine) normalized hooks when present.
  private func norm(
    out: Tensor, inp: Tensor, weight: Tensor, bias: Tensor?, rows: Int, scaleHook: String,
    normalizedHook: String, ws: Workspace, batch b: Int, seqLen t: Int, hooks: Hooks
  ) {
    let c = config.dModel
    let wantScale = hooks.contains(scaleHook)
    let wantNormalized = hooks.contains(normalizedHook)
    let scale = wantScale ? ws.scale.pointer : nil
    let normalized = wantNormalized ? ws.normalized.pointer : nil
    switch config.norm {
    case .layerNorm:
      layerNormForward(
        out: out.pointer, normalized: normalized, scale: scale, inp: inp.pointer, weight: weight.pointer,
        bias: bias?.pointer, rows: rows, cols: c, eps: config.normEps, pool: pool)
    case .rmsNorm:
      rmsNormForward(
        out: out.pointer, normalized: normalized, scale: scale, inp: inp.pointer, weight: weight.pointer,
        rows: rows, cols: c, eps: config.normEps, pool: pool)
    }
    if let scale { hooks.run(scaleHook, scale, [b, t, 1]) }
    if let normalized {
      hooks.run(normalizedHook, normalized, [b, t, c])
      // A write hook may have changed the normalized values: re-apply the affine weights.
      let o = out.pointer
      for r in 0..<rows {
        for j in 0..<c { o[r * c + j] = normalized[r * c + j] * weight.pointer[j] + (bias?.pointer[j] ?? 0) }
      }
    }
  }

  /// Fires a hook on a strided slice: copies it out contiguous, runs the hook, writes it back.
  private func runStrided(
    _ name: String, _ base: UnsafeMutablePointer<Float>, stride: Int, rows: Int, cols: Int, shape: [Int],
    _ hooks: Hooks
  ) {
    guard hooks.contains(name) else { return }
    let tmp = Tensor(shape: shape)
    copyRows(out: tmp.pointer, src: base, srcStride: stride, rows: rows, cols: cols)
    hooks.run(name, tmp.pointer, shape)
    scatterRows(dst: base, dstStride: stride, src: tmp.pointer, rows: rows, cols: cols)
  }
}

/// Reusable workspaces, one per concurrent forward pass; only the most recent shapes are kept.
final class WorkspaceCache: @unchecked Sendable {
  private let lock = NSLock()
  private var free: [Workspace] = []

  func take(config: ModelConfig, batch: Int, seqLen: Int) -> Workspace {
    lock.lock()
    defer { lock.unlock() }
    if let i = free.firstIndex(where: { $0.batch == batch && $0.seqLen == seqLen }) {
      return free.remove(at: i)
    }
    return Workspace(config: config, rows: batch * seqLen, batch: batch, seqLen: seqLen)
  }

  func give(_ ws: Workspace) {
    lock.lock()
    defer { lock.unlock() }
    free.append(ws)
    if free.count > 4 { free.removeFirst() }
  }
}

/// Scratch buffers for one forward pass.
final class Workspace {
  let batch: Int
  let seqLen: Int
  let hidden: Tensor
  let qkv: Tensor
  let z: Tensor
  let blockOut: Tensor
  let mlpIn: Tensor
  let mlpPost: Tensor
  let scale: Tensor
  let normalized: Tensor
  private let attentionShape: [Int]
  private var attentionBuffer: Tensor?

  init(config c: ModelConfig, rows: Int, batch: Int, seqLen: Int) {
    hidden = Tensor(shape: [rows, c.dModel])
    qkv = Tensor(shape: [rows, (c.nHeads + 2 * c.nKVHeads) * c.dHead])
    z = Tensor(shape: [rows, c.nHeads * c.dHead])
    blockOut = Tensor(shape: [rows, c.dModel])
    mlpIn = Tensor(shape: [rows, (c.mlp == .gatedSiLU ? 2 : 1) * c.dMLP])
    mlpPost = Tensor(shape: [rows, c.dMLP])
    scale = Tensor(shape: [rows])
    normalized = Tensor(shape: [rows, c.dModel])
    attentionShape = [batch, c.nHeads, seqLen, seqLen]
    self.batch = batch
    self.seqLen = seqLen
  }

  func attention() -> Tensor {
    if let a = attentionBuffer { return a }
    let a = Tensor(shape: attentionShape)
    attentionBuffer = a
    return a
  }
}
