// `relu` (SAELens "standard", sae_lens/saes/standard_sae.py): f = ReLU(pre), and the L1 penalty
// λ_t·(1/B)·Σ_b Σ_s f_bs·N_s with N_s = Σ_l ‖W_dec[s, layer l]‖ (one layer unless a crosscoder,
// whose penalty weights each latent by the sum of its per-layer decoder norms; Lindsey et al. 2024).
// λ_t warms up linearly over l1WarmUpSteps. The penalty's gradient reaches pre (λ_t·N_s/B at
// active entries) and W_dec (λ_t/B·Σ_b f_bs·W[s,l]/‖W[s,l]‖).

import LanternTensor

extension DictionaryModel {
  /// Entries with pre > 0, ascending by latent; value = pre.
  func reluSelect(batch b: Int) -> SparseRows {
    let s = config.dSAE
    let pre = work.pre.pointer
    var a = SparseRows()
    a.reset(capacity: b * s / 2)
    for r in 0..<b {
      for j in 0..<s where pre[r * s + j] > 0 { a.append(latent: j, value: pre[r * s + j]) }
      a.endRow()
    }
    return a
  }

  /// N_s = Σ_l ‖W_dec[s, l·w ..< (l+1)·w]‖, w = d_out / layers.
  func layerNormSums() -> [Float] {
    let d = config.dOut
    let layers = config.layers
    let w = d / layers
    let dec = parameters.decoderWeight.pointer
    return (0..<config.dSAE).map { s in
      var total: Float = 0
      for l in 0..<layers {
        let seg = dec + s * d + l * w
        var sum: Double = 0
        for i in 0..<w { sum += Double(seg[i]) * Double(seg[i]) }
        total += Float(sum.squareRoot())
      }
      return total
    }
  }

  /// Adds the L1 term to `report`, its gradient to work.dPre and to W_dec's gradient.
  func l1Penalty(_ a: SparseRows, batch b: Int, report: inout StepReport) {
    let lambda = warmedUp(config.l1Coefficient, config.l1WarmUpSteps)
    let norms = layerNormSums()
    var loss: Double = 0
    var fireSums = [Float](repeating: 0, count: config.dSAE)
    let perRow = lambda / Float(b)
    for e in 0..<a.nnz {
      let s = Int(a.indices[e])
      loss += Double(a.values[e]) * Double(norms[s])
      fireSums[s] += a.values[e]
      work.dPre[e] += perRow * norms[s]
    }
    report.losses["l1"] = Double(lambda) * loss / Double(b)
    let d = config.dOut
    let w = d / config.layers
    let dec = parameters.decoderWeight.pointer
    let grad = gradients.decoderWeight.pointer
    for s in 0..<config.dSAE where fireSums[s] != 0 {
      for l in 0..<config.layers {
        let seg = dec + s * d + l * w
        var sum: Double = 0
        for i in 0..<w { sum += Double(seg[i]) * Double(seg[i]) }
        let norm = Float(sum.squareRoot())
        guard norm > 0 else { continue }
        axpy(grad + s * d + l * w, perRow * fireSums[s] / norm, seg, w)
      }
    }
  }
}
