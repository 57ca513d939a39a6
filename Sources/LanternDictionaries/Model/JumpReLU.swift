// `jumprelu` (Rajamanoharan et al. 2024, "Jumping Ahead"; sae_lens/saes/jumprelu_sae.py JumpReLU and
// Step with ste_to_input = False, sparsity mode "step"): θ = exp(log θ), f = pre·1[pre > θ], and the
// L0 penalty λ_t·(1/B)·Σ_b #{s : pre_bs > θ_s}. The gate passes dL/df to pre where active; the
// rectangle STE of width ε gives θ the gradient Σ_b 1[|pre − θ| < ε/2]·(−(θ/ε)·dL/df_bs − λ_t/(B·ε)),
// and log θ gets θ times that. Unlike SAELens ≥ 6.4 (which trains `threshold` directly) the
// parameter is log θ, as in the paper; the exporter writes threshold = exp(log θ).

import Foundation
import LanternTensor

extension DictionaryModel {
  /// θ_s = exp(log θ_s).
  func thresholds() -> [Float] {
    guard let t = parameters.logThreshold else { return [] }
    return (0..<config.dSAE).map { exp(t.pointer[$0]) }
  }

  /// Entries with pre > θ_s, ascending by latent; also records the L0 loss term.
  func jumpReLUSelect(batch b: Int) -> SparseRows {
    let s = config.dSAE
    let theta = thresholds()
    let pre = work.pre.pointer
    var a = SparseRows()
    a.reset(capacity: b * s / 4)
    for r in 0..<b {
      for j in 0..<s where pre[r * s + j] > theta[j] { a.append(latent: j, value: pre[r * s + j]) }
      a.endRow()
    }
    return a
  }

  /// The L0 term λ_t·nnz/B.
  func l0Loss(_ a: SparseRows, batch b: Int) -> Double {
    Double(warmedUp(config.l0Coefficient, config.l0WarmUpSteps)) * Double(a.nnz) / Double(b)
  }

  /// log θ's gradient from both STEs (the JumpReLU gate and the L0 step).
  func jumpReLUThresholdBackward(_ a: SparseRows, batch b: Int) {
    guard let gLog = gradients.logThreshold else { return }
    let s = config.dSAE
    let d = config.dOut
    let eps = config.jumpReLUBandwidth
    let lambda = warmedUp(config.l0Coefficient, config.l0WarmUpSteps)
    let stepTerm = (1 / eps) * (lambda * (1 / Float(b)))
    let theta = thresholds()
    let pre = work.pre.pointer
    let scratch = work.steScratch.pointer
    let up = work.upstream[0].pointer
    let dec = parameters.decoderWeight.pointer
    theta.withUnsafeBufferPointer { th in
      pool.parallelFor(b) { rows in
        for r in rows {
          for j in 0..<s {
            let u = (pre[r * s + j] - th[j]) / eps
            guard u > -0.5 && u < 0.5 else {
              scratch[r * s + j] = 0
              continue
            }
            let df = dot(up + r * d, dec + j * d, d)
            scratch[r * s + j] = -((th[j] / eps) * df) - stepTerm
          }
        }
      }
      pool.parallelFor(s) { latents in
        for j in latents {
          var sum: Float = 0
          for r in 0..<b { sum += scratch[r * s + j] }
          gLog.pointer[j] += th[j] * sum
        }
      }
    }
  }
}
