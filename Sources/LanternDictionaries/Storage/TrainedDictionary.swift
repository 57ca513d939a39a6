// A trained dictionary in TRAINING layout (what the trainer holds), and the inference semantics that
// layout has, so the exporter can fold it into raw-activation SAELens form and tests can compare.
//
// Training layout (legend: n hooks, d_in/d_out per hook, S latents):
//   encoderWeight [S, n·d_in]  (nn.Linear layout; hooks concatenated in order)
//   bEnc [S], wDec [S, n·d_out], bDec [n·d_out], wSkip [d_out, d_in] (skip transcoders, n = 1)
//   logThreshold [S] (jumprelu), batchTopKThreshold (batchtopk, matryoshka), k (topk; batchtopk's mean k)
//   inputScales / outputScales [n]: training saw s_in·x and reconstructed s_out·y.
// Inference semantics on SCALED input x_s [n·d_in] (`referenceEncode` / `referenceDecode`):
//   h = (x_s − b_dec·a)·encoderWeightᵀ + b_enc        a = applyBDecToInput (needs d_in = d_out)
//   score_i = h_i·‖W_dec,i‖ if selectionScaledByDecoderNorm, else h_i
//   relu: f = relu(h); topk: f_i = relu(h_i) for the k largest score_i (ties: lower index);
//   batchtopk, matryoshka: f_i = relu(h_i)·1[score_i > θ]; jumprelu: f_i = relu(h_i)·1[h_i > exp(logθ_i)]
//   ŷ_s = f·W_dec + b_dec (+ x_s·W_skipᵀ)
// Naive loops on purpose: these are the references the exporter is tested against, not a fast path.

import Foundation
import LanternTensor

/// A trained dictionary in training layout, with its scaling constants.
public struct TrainedDictionary: @unchecked Sendable {
  public var architecture: Architecture
  public var kind: DictionaryKind
  /// Hooks read (n; 1 unless a crosscoder).
  public var hooks: Int
  /// Input width per hook.
  public var dIn: Int
  /// Output width per hook (d_in unless a transcoder).
  public var dOut: Int
  /// Latents (S).
  public var dSAE: Int
  /// [S, n·d_in]
  public var encoderWeight: Tensor
  /// [S]
  public var bEnc: Tensor
  /// [S, n·d_out]
  public var wDec: Tensor
  /// [n·d_out]
  public var bDec: Tensor
  /// [d_out, d_in], skip transcoders only.
  public var wSkip: Tensor?
  /// [S], jumprelu only.
  public var logThreshold: Tensor?
  /// The EMA threshold of batchtopk and matryoshka.
  public var batchTopKThreshold: Float?
  /// Active latents per row (topk), or the mean per row (batchtopk, matryoshka).
  public var k: Int?
  /// s_in per hook (the trainer multiplied the raw input by it).
  public var inputScales: [Float]
  /// s_out per hook (the trainer reconstructed s_out·target); equal to `inputScales` unless a transcoder.
  public var outputScales: [Float]
  /// Whether b_dec is subtracted from the input before encoding (default: SAEs and crosscoders, as the
  /// trainer does; never for transcoders, whose b_dec lives in the output space).
  public var applyBDecToInput: Bool
  /// Whether topk / batchtopk select on h_i·‖W_dec,i‖ (SAELens training's default) instead of h_i.
  public var selectionScaledByDecoderNorm: Bool

  public init(
    architecture: Architecture, kind: DictionaryKind, hooks: Int = 1, dIn: Int, dOut: Int, dSAE: Int,
    encoderWeight: Tensor, bEnc: Tensor, wDec: Tensor, bDec: Tensor, wSkip: Tensor? = nil,
    logThreshold: Tensor? = nil, batchTopKThreshold: Float? = nil, k: Int? = nil, inputScales: [Float]? = nil,
    outputScales: [Float]? = nil, applyBDecToInput: Bool? = nil, selectionScaledByDecoderNorm: Bool = false
  ) {
    self.architecture = architecture
    self.kind = kind
    self.hooks = hooks
    self.dIn = dIn
    self.dOut = dOut
    self.dSAE = dSAE
    self.encoderWeight = encoderWeight
    self.bEnc = bEnc
    self.wDec = wDec
    self.bDec = bDec
    self.wSkip = wSkip
    self.logThreshold = logThreshold
    self.batchTopKThreshold = batchTopKThreshold
    self.k = k
    self.inputScales = inputScales ?? [Float](repeating: 1, count: hooks)
    self.outputScales = outputScales ?? self.inputScales
    self.applyBDecToInput = applyBDecToInput ?? (kind == .sae || kind == .crosscoder)
    self.selectionScaledByDecoderNorm = selectionScaledByDecoderNorm
  }

  /// Checks every shape and the fields each architecture and kind needs; `path` names the output.
  public func validate(path: String) throws {
    func bad(_ what: String) -> DictionaryStorageError {
      DictionaryStorageError(path, what, hint: "the trainer passed an inconsistent dictionary (a bug)")
    }
    let n = hooks
    guard n >= 1, dIn >= 1, dOut >= 1, dSAE >= 1 else {
      throw bad("sizes hooks \(n), d_in \(dIn), d_out \(dOut), d_sae \(dSAE) must be positive")
    }
    let expected: [(String, Tensor?, [Int])] = [
      ("encoderWeight", encoderWeight, [dSAE, n * dIn]), ("b_enc", bEnc, [dSAE]),
      ("W_dec", wDec, [dSAE, n * dOut]), ("b_dec", bDec, [n * dOut]),
    ]
    for (name, t, shape) in expected where t!.shape != shape {
      throw bad("tensor '\(name)' has shape \(t!.shape), expected \(shape)")
    }
    if kind == .crosscoder {
      guard n >= 1 else { throw bad("a crosscoder needs hooks") }
    } else if n != 1 {
      throw bad("kind \(kind.rawValue) reads 1 hook, got \(n)")
    }
    if kind == .sae || kind == .crosscoder, dIn != dOut {
      throw bad("kind \(kind.rawValue) needs d_in = d_out, got \(dIn) and \(dOut)")
    }
    if kind == .skipTranscoder {
      guard let w = wSkip, w.shape == [dOut, dIn] else {
        throw bad("tensor 'W_skip' must be [\(dOut), \(dIn)], got \(wSkip.map { "\($0.shape)" } ?? "none")")
      }
    } else if wSkip != nil {
      throw bad("tensor 'W_skip' given for kind \(kind.rawValue)")
    }
    guard inputScales.count == n, outputScales.count == n,
      (inputScales + outputScales).allSatisfy({ $0.isFinite && $0 > 0 })
    else { throw bad("scales \(inputScales) / \(outputScales) must be \(n) positive finite values each") }
    if applyBDecToInput, kind == .transcoder || kind == .skipTranscoder {
      throw bad("a transcoder never subtracts b_dec from its input (SAELens refuses apply_b_dec_to_input)")
    }
    if applyBDecToInput {
      guard dIn == dOut, inputScales.map(\.bitPattern) == outputScales.map(\.bitPattern) else {
        throw bad("b_dec is subtracted from the input, so d_in = d_out and s_in = s_out are required")
      }
    }
    switch architecture {
    case .relu: break
    case .topk:
      guard let k, k >= 1, k <= dSAE else {
        throw bad("topk needs 1 ≤ k ≤ d_sae, got \(k.map(String.init) ?? "none")")
      }
    case .batchtopk, .matryoshka:
      guard let t = batchTopKThreshold, t.isFinite else {
        throw bad("\(architecture.rawValue) needs its EMA threshold")
      }
    case .jumprelu:
      guard let t = logThreshold, t.shape == [dSAE] else {
        throw bad("jumprelu needs 'log_threshold' [\(dSAE)]")
      }
    }
  }

  /// ‖W_dec,i‖ over the whole (flattened) row, per latent.
  public func decoderNorms() -> [Float] {
    let width = hooks * dOut
    return (0..<dSAE).map { i in
      var s: Float = 0
      for j in 0..<width { s += wDec.pointer[i * width + j] * wDec.pointer[i * width + j] }
      return s.squareRoot()
    }
  }

  /// Latent activations [B, S] of scaled inputs `x` [B, n·d_in] (naive reference).
  public func referenceEncode(_ x: Tensor) -> Tensor {
    let b = x.shape[0]
    let width = hooks * dIn
    let s = dSAE
    let h = Tensor(shape: [b, s])
    for r in 0..<b {
      for i in 0..<s {
        var acc: Float = bEnc.pointer[i]
        for j in 0..<width {
          let xin = x.pointer[r * width + j] - (applyBDecToInput ? bDec.pointer[j] : 0)
          acc += xin * encoderWeight.pointer[i * width + j]
        }
        h.pointer[r * s + i] = acc
      }
    }
    let norms = decoderNorms()
    let score: (Int, Int) -> Float = { r, i in
      h.pointer[r * s + i] * (self.selectionScaledByDecoderNorm ? norms[i] : 1)
    }
    let f = Tensor(shape: [b, s])
    for r in 0..<b {
      switch architecture {
      case .relu:
        for i in 0..<s { f.pointer[r * s + i] = max(h.pointer[r * s + i], 0) }
      case .topk:
        let order = (0..<s).sorted {
          score(r, $0) > score(r, $1) || (score(r, $0) == score(r, $1) && $0 < $1)
        }
        for i in order.prefix(k ?? 0) { f.pointer[r * s + i] = max(h.pointer[r * s + i], 0) }
      case .batchtopk, .matryoshka:
        let t = batchTopKThreshold ?? 0
        for i in 0..<s where score(r, i) > t { f.pointer[r * s + i] = max(h.pointer[r * s + i], 0) }
      case .jumprelu:
        for i in 0..<s where h.pointer[r * s + i] > expf(logThreshold!.pointer[i]) {
          f.pointer[r * s + i] = max(h.pointer[r * s + i], 0)
        }
      }
    }
    return f
  }

  /// Scaled reconstruction [B, n·d_out] from latents `f` [B, S] and, for skip transcoders, the scaled
  /// input `x` [B, d_in] (naive reference).
  public func referenceDecode(_ f: Tensor, input x: Tensor? = nil) -> Tensor {
    naiveDecode(f, wDec: wDec, bDec: bDec, wSkip: wSkip, input: x, width: hooks * dOut, dIn: dIn, dSAE: dSAE)
  }
}

/// y [B, width] = f [B, S] · W_dec [S, width] + b_dec (+ x [B, d_in] · W_skipᵀ when both are given):
/// the naive decode both layouts share (training layout and SAELens layout differ only in the weights).
func naiveDecode(
  _ f: Tensor, wDec: Tensor, bDec: Tensor, wSkip: Tensor?, input x: Tensor?, width: Int, dIn: Int, dSAE: Int
) -> Tensor {
  let b = f.shape[0]
  let y = Tensor(shape: [b, width])
  for r in 0..<b {
    for j in 0..<width {
      var acc: Float = bDec.pointer[j]
      for i in 0..<dSAE { acc += f.pointer[r * dSAE + i] * wDec.pointer[i * width + j] }
      if let w = wSkip, let x {
        for a in 0..<dIn { acc += x.pointer[r * dIn + a] * w.pointer[j * dIn + a] }
      }
      y.pointer[r * width + j] = acc
    }
  }
  return y
}
