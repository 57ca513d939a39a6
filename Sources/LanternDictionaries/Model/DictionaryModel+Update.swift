// The parameter update after the backward pass, wired from the LanternKernels training kernels: the
// unit-norm decoder constraint of the topk family (`removeParallelDecoderGradient` before the step,
// `normalizeDecoderRows` after it — sparsify's remove_gradient_parallel_to_decoder_directions and
// set_decoder_norm_to_unit_norm; a crosscoder's whole concatenated row is one unit vector), clipping
// by global norm (`clipGradientsByGlobalNorm`, torch's clip_grad_norm_) and Adam (`adamStep`,
// torch.optim.Adam's single-tensor update). All of them are thread-count independent.

import LanternKernels
import LanternTensor

extension DictionaryModel {
  /// Applies the update with learning rate `lr`; returns the global gradient norm before clipping.
  func update(learningRate lr: Double) throws -> Double {
    let c = config
    let s = c.dSAE
    if c.unitNormDecoder {
      removeParallelDecoderGradient(
        grad: gradients.decoderWeight.pointer, decoder: parameters.decoderWeight.pointer, latents: s,
        dim: c.dOut,
        pool: pool)
    }
    let grads = gradients.named.map(\.tensor)
    let norm: Double
    if c.clipNorm > 0 {
      norm = clipGradientsByGlobalNorm(grads, maxNorm: Double(c.clipNorm), pool: pool)
    } else {
      norm = globalGradientNorm(grads.map { (UnsafePointer($0.pointer), $0.count) }, pool: pool)
    }
    guard norm.isFinite else { throw TrainingError.nonFinite(step: step, what: "gradient norm") }
    for (((_, p), (_, g)), ((_, m), (_, v))) in zip(
      zip(parameters.named, gradients.named), zip(firstMoments.named, secondMoments.named))
    {
      adamStep(
        param: p.pointer, expAvg: m.pointer, expAvgSq: v.pointer, grad: g.pointer, count: p.count,
        step: step + 1,
        lr: lr, hyper: c.adam.hyperparameters, pool: pool)
    }
    if c.unitNormDecoder {
      normalizeDecoderRows(decoder: parameters.decoderWeight.pointer, latents: s, dim: c.dOut, pool: pool)
    }
    return norm
  }
}
