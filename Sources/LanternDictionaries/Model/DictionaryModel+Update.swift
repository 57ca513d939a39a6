// The parameter update after the backward pass: the unit-norm decoder constraint (topk family:
// sparsify's remove_gradient_parallel_to_decoder_directions before the step and
// set_decoder_norm_to_unit_norm after it), clipping by global norm (torch.nn.utils.clip_grad_norm_),
// and Adam (torch.optim.Adam's single-tensor update, bias-corrected, scalars as torch rounds them).
//
// Private stand-ins for the LanternKernels Adam/clip/constraint kernels until they land. Elementwise
// work is split into fixed-size chunks and norms are summed chunk by chunk in order, so the result
// does not depend on the thread count.

import Foundation
import LanternTensor

extension DictionaryModel {
  /// Applies the update with learning rate `lr`; returns the global gradient norm before clipping.
  func update(learningRate lr: Double) throws -> Double {
    let c = config
    if c.unitNormDecoder { removeParallelGradient() }
    let norm = globalGradientNorm()
    guard norm.isFinite else { throw TrainingError.nonFinite(step: step, what: "gradient norm") }
    if c.clipNorm > 0 {
      let coef = Float(c.clipNorm) / (Float(norm) + 1e-6)
      if coef < 1 {
        for (_, g) in gradients.named { scale(g, by: coef) }
      }
    }
    adam(learningRate: lr)
    if c.unitNormDecoder { normalizeDecoderRows() }
    return norm
  }

  /// g_s −= (g_s·w_s)·w_s for every decoder row (w_s is unit-norm).
  private func removeParallelGradient() {
    let d = config.dOut
    let w = parameters.decoderWeight.pointer
    let g = gradients.decoderWeight.pointer
    pool.parallelFor(config.dSAE) { rows in
      for s in rows {
        let along = dot(g + s * d, w + s * d, d)
        axpy(g + s * d, -along, w + s * d, d)
      }
    }
  }

  /// w_s /= (‖w_s‖ + ε), ε = Float.ulpOfOne (sparsify's set_decoder_norm_to_unit_norm).
  private func normalizeDecoderRows() {
    let d = config.dOut
    let w = parameters.decoderWeight.pointer
    pool.parallelFor(config.dSAE) { rows in
      for s in rows {
        let row = w + s * d
        var sum: Double = 0
        for i in 0..<d { sum += Double(row[i]) * Double(row[i]) }
        let denom = Float(sum.squareRoot()) + Float.ulpOfOne
        for i in 0..<d { row[i] /= denom }
      }
    }
  }

  private static let chunk = 4096

  /// √(Σ over every gradient element of g²), summed per fixed chunk then in chunk order.
  private func globalGradientNorm() -> Double {
    var total: Double = 0
    for (_, g) in gradients.named {
      let n = g.count
      let chunks = (n + Self.chunk - 1) / Self.chunk
      var partial = [Double](repeating: 0, count: chunks)
      partial.withUnsafeMutableBufferPointer { out in
        let o = out.baseAddress!
        pool.parallelFor(chunks) { range in
          for ch in range {
            var s: Double = 0
            for i in (ch * Self.chunk)..<min(n, (ch + 1) * Self.chunk) {
              s += Double(g.pointer[i]) * Double(g.pointer[i])
            }
            o[ch] = s
          }
        }
      }
      total += partial.reduce(0, +)
    }
    return total.squareRoot()
  }

  private func scale(_ t: Tensor, by a: Float) {
    let n = t.count
    pool.parallelFor((n + Self.chunk - 1) / Self.chunk) { range in
      for i in (range.lowerBound * Self.chunk)..<min(n, range.upperBound * Self.chunk) { t.pointer[i] *= a }
    }
  }

  /// torch.optim.Adam, one step (t = step + 1), for every parameter.
  private func adam(learningRate lr: Double) {
    let a = config.adam
    let t = Double(step + 1)
    let bias1 = 1 - pow(a.beta1, t)
    let bias2Sqrt = (1 - pow(a.beta2, t)).squareRoot()
    let stepSize = Float(-(lr / bias1))
    let w1 = Float(1 - a.beta1)
    let beta2 = Float(a.beta2)
    let w2 = Float(1 - a.beta2)
    let root = Float(bias2Sqrt)
    let eps = Float(a.epsilon)
    for ((_, p), ((_, g), ((_, m), (_, v)))) in zip(
      parameters.named, zip(gradients.named, zip(firstMoments.named, secondMoments.named)))
    {
      let n = p.count
      let pp = p.pointer
      let gp = g.pointer
      let mp = m.pointer
      let vp = v.pointer
      pool.parallelFor((n + Self.chunk - 1) / Self.chunk) { range in
        for i in (range.lowerBound * Self.chunk)..<min(n, range.upperBound * Self.chunk) {
          let gi = gp[i]
          let mi = w1 < 0.5 ? mp[i] + w1 * (gi - mp[i]) : gi - (gi - mp[i]) * (1 - w1)
          let vi = vp[i] * beta2 + w2 * gi * gi
          mp[i] = mi
          vp[i] = vi
          let denom = vi.squareRoot() / root + eps
          pp[i] += stepSize * (mi / denom)
        }
      }
    }
  }
}
