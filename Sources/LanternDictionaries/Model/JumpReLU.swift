// `jumprelu` (Rajamanoharan et al. 2024, "Jumping Ahead"; sae_lens/saes/jumprelu_sae.py JumpReLU and
// Step with ste_to_input = False, sparsity mode "step"): θ = exp(log θ), f = pre·1[pre > θ], and the
// L0 penalty λ_t·(1/B)·Σ_b #{s : pre_bs > θ_s}. The gate passes dL/df to pre where active; the
// rectangle STE of width ε gives θ the gradient Σ_b 1[|pre − θ| < ε/2]·(−(θ/ε)·dL/df_bs − λ_t/(B·ε)),
// and log θ gets θ times that. Unlike SAELens ≥ 6.4 (which trains `threshold` directly) the
// parameter is log θ, as in the paper; the exporter writes threshold = exp(log θ).

import Foundation
import LanternKernels
import LanternTensor

extension DictionaryModel {
  /// θ_s = exp(log θ_s).
  func thresholds() -> [Float] {
    guard let t = parameters.logThreshold else { return [] }
    return (0..<config.dSAE).map { exp(t.pointer[$0]) }
  }

  /// Entries with pre > θ_s (`jumpReLUForward`, then CSR), ascending by latent.
  func jumpReLUSelect(batch b: Int) -> SparseRows {
    jumpReLUForward(
      out: work.dense.pointer, pre: work.pre.pointer, threshold: thresholds(), batch: b, latents: config.dSAE,
      pool: pool)
    return denseRows(batch: b)
  }

  /// The L0 term λ_t·nnz/B.
  func l0Loss(_ a: SparseRows, batch b: Int) -> Double {
    Double(warmedUp(config.l0Coefficient, config.l0WarmUpSteps)) * Double(a.nnz) / Double(b)
  }

  /// log θ's gradient from both STEs (the JumpReLU gate and the L0 step) on the sparse path: dL/df
  /// is needed densely (inside the rectangle window f may be 0), so it is one GEMM, G·W_decᵀ.
  func jumpReLUThresholdBackward(_ a: SparseRows, batch b: Int) {
    let dF = work.denseGrad.pointer
    pool.linear(
      out: dF, inp: work.upstream[0].pointer, weight: parameters.decoderWeight.pointer, m: b, n: config.dSAE,
      k: config.dOut)
    jumpReLUThresholdBackward(dLdF: dF, dPre: work.densePre.pointer, batch: b)
  }

  /// Both STEs given dense dL/df (B,S): dPre (B,S) = 1[pre > θ]·dL/df (overwritten), and log θ's
  /// gradient θ·(Σ_b −(θ/ε)·K·dL/df − Σ_b (1/ε)·K·λ_t/B).
  func jumpReLUThresholdBackward(
    dLdF dF: UnsafePointer<Float>, dPre: UnsafeMutablePointer<Float>, batch b: Int
  ) {
    guard let gLog = gradients.logThreshold else { return }
    let s = config.dSAE
    let eps = config.jumpReLUBandwidth
    let theta = thresholds()
    var dTheta = [Float](repeating: 0, count: s)
    jumpReLUBackward(
      dPre: dPre, dThreshold: &dTheta, dOut: dF, pre: work.pre.pointer, threshold: theta,
      bandwidth: eps, steToInput: false, batch: b, latents: s, pool: pool)
    let lambda = warmedUp(config.l0Coefficient, config.l0WarmUpSteps)
    let dL0 = [Float](repeating: lambda * (1 / Float(b)), count: b)
    stepL0Backward(
      dPre: nil, dThreshold: &dTheta, dL0: dL0, pre: work.pre.pointer, threshold: theta, bandwidth: eps,
      batch: b,
      latents: s, pool: pool)
    logThresholdGradient(dLogThreshold: gLog.pointer, dThreshold: dTheta, threshold: theta, latents: s)
  }
}
