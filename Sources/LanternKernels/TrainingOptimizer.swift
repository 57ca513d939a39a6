// Training kernels, optimisation: Adam as torch.optim.Adam, SAELens' learning-rate schedule and
// coefficient warm-up as pure functions of the step, and clipping by global gradient norm as
// torch.nn.utils.clip_grad_norm_.
//
// Legend: N elements of one parameter tensor.
// Checked against (read, not run, when writing this file):
// - torch 2.15 torch/optim/adam.py `_single_tensor_adam` (non-capturable, no weight decay, amsgrad
//   off): `exp_avg.lerp_(grad, 1-beta1)`; `exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1-beta2)`;
//   bias_correction1 = 1 - beta1**step, step_size = lr / bias_correction1, bias_correction2_sqrt =
//   (1 - beta2**step)**0.5 in Python floats (Double); `denom = (exp_avg_sq.sqrt() / bc2_sqrt).add_(eps)`;
//   `param.addcdiv_(exp_avg, denom, value=-step_size)`. The per-element arithmetic below is the same
//   Float32 operations in the same order (torch's CPU lerp is fmadd(w, g − m, m) for w < ½).
// - sae_lens 6.54.12 sae_lens/training/optim.py `get_lr_scheduler` (SequentialLR of LinearLR warm-up,
//   constant or CosineAnnealingLR, LinearLR decay to 0) and `CoefficientScheduler`, and
//   sae_trainer.py (clip_grad_norm_(…, 1.0), optimizer.step(), then the schedulers step).
// - torch/nn/utils/clip_grad.py: total = ‖(‖g_1‖, …, ‖g_n‖)‖₂; clip_coef = max_norm / (total + 1e-6),
//   clamped to 1 and multiplied in. Here the norms are summed in Double in fixed 4,096-element chunks
//   (then chunks, then tensors, in order), so the total is the same bytes for every thread count.
// Tests/Fixtures/kernels/adam.safetensors (Scripts/fixtures/make_optimizer_fixtures.py) holds torch's
// own results for all three. Left out: weight decay, AMSGrad, SAELens' "cosineannealingwarmrestarts".

import Foundation
import LanternTensor

/// Adam hyper-parameters (torch.optim.Adam defaults, SAELens' betas (0.9, 0.999)).
public struct AdamHyperparameters: Sendable, Equatable, Codable {
  public var beta1: Double
  public var beta2: Double
  public var eps: Double

  public init(beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8) {
    self.beta1 = beta1
    self.beta2 = beta2
    self.eps = eps
  }
}

/// One Adam step on one tensor, exactly torch.optim.Adam's single-tensor path.
/// param, expAvg (m), expAvgSq (v), grad are (N,); `step` is the step count after this update
/// (1 on the first call, torch's `state["step"]`); `lr` the learning rate for this step.
public func adamStep(
  param: UnsafeMutablePointer<Float>, expAvg: UnsafeMutablePointer<Float>,
  expAvgSq: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>, count n: Int, step: Int, lr: Double,
  hyper: AdamHyperparameters = AdamHyperparameters(), pool: ThreadPool
) {
  precondition(step >= 1, "adamStep: step counts from 1")
  let c = AdamConstants(step: step, lr: lr, hyper: hyper)
  pool.parallelFor((n + 4095) / 4096) { chunks in
    let hi = min(n, chunks.upperBound &* 4096)
    var i = chunks.lowerBound &* 4096
    while i &+ 8 <= hi {
      let g = load8(grad + i)
      let m = load8(expAvg + i).addingProduct(c.w1v, g - load8(expAvg + i))
      let v = (load8(expAvgSq + i) * c.b2v).addingProduct(c.w2v * g, g)
      let denom = v.squareRoot() / c.bc2v + c.epsv
      store8(m, expAvg + i)
      store8(v, expAvgSq + i)
      store8(load8(param + i) + (c.negStepv * m) / denom, param + i)
      i &+= 8
    }
    while i < hi {
      adamScalar(&param[i], &expAvg[i], &expAvgSq[i], grad[i], c)
      i &+= 1
    }
  }
}

/// Naive twin of `adamStep`: the same scalar operations, one element at a time.
public func adamStepNaive(
  param: UnsafeMutablePointer<Float>, expAvg: UnsafeMutablePointer<Float>,
  expAvgSq: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>, count n: Int, step: Int, lr: Double,
  hyper: AdamHyperparameters = AdamHyperparameters()
) {
  let c = AdamConstants(step: step, lr: lr, hyper: hyper)
  for i in 0..<n { adamScalar(&param[i], &expAvg[i], &expAvgSq[i], grad[i], c) }
}

struct AdamConstants {
  let w1: Float  // 1 − β1, the lerp weight
  let b2: Float
  let w2: Float  // 1 − β2
  let bc2Sqrt: Float
  let eps: Float
  let negStep: Float  // −lr / (1 − β1^t)
  var w1v: SIMD8<Float> { SIMD8(repeating: w1) }
  var b2v: SIMD8<Float> { SIMD8(repeating: b2) }
  var w2v: SIMD8<Float> { SIMD8(repeating: w2) }
  var bc2v: SIMD8<Float> { SIMD8(repeating: bc2Sqrt) }
  var epsv: SIMD8<Float> { SIMD8(repeating: eps) }
  var negStepv: SIMD8<Float> { SIMD8(repeating: negStep) }

  init(step: Int, lr: Double, hyper: AdamHyperparameters) {
    let t = Double(step)
    w1 = Float(1 - hyper.beta1)
    b2 = Float(hyper.beta2)
    w2 = Float(1 - hyper.beta2)
    bc2Sqrt = Float((1 - pow(hyper.beta2, t)).squareRoot())
    eps = Float(hyper.eps)
    negStep = Float(-(lr / (1 - pow(hyper.beta1, t))))
  }
}

@inline(__always)
func adamScalar(
  _ p: inout Float, _ m: inout Float, _ v: inout Float, _ g: Float, _ c: AdamConstants
) {
  m = m.addingProduct(c.w1, g - m)
  v = (v * c.b2).addingProduct(c.w2 * g, g)
  let denom = v.squareRoot() / c.bc2Sqrt + c.eps
  p = p + (c.negStep * m) / denom
}

/// SAELens' learning-rate schedule (`get_lr_scheduler`) as a pure function of the step.
/// Steps count from 0 (the lr used by the first optimizer step). Phases: linear warm-up over
/// `warmUpSteps` (lr·(n+1)/W), then the main phase (constant lr, or cosine annealing from lr to
/// `lrEnd` over trainingSteps − W − D steps), then `decaySteps` of linear decay from lrEnd (lr for the
/// constant schedule) towards 0: lrEnd·(1 − (n − m)/D) with m = trainingSteps − D.
public struct LearningRateSchedule: Sendable, Equatable, Codable {
  /// The main phase's shape; SAELens names "constant" and "cosineannealing".
  public enum Kind: String, Sendable, Codable {
    case constant
    case cosineAnnealing = "cosineannealing"
  }
  public var kind: Kind
  public var lr: Double
  public var trainingSteps: Int
  public var warmUpSteps: Int
  public var decaySteps: Int
  /// Cosine floor and start of the decay (SAELens defaults it to lr/10).
  public var lrEnd: Double

  public init(
    kind: Kind, lr: Double, trainingSteps: Int, warmUpSteps: Int = 0, decaySteps: Int = 0,
    lrEnd: Double? = nil
  ) {
    self.kind = kind
    self.lr = lr
    self.trainingSteps = trainingSteps
    self.warmUpSteps = warmUpSteps
    self.decaySteps = decaySteps
    self.lrEnd = lrEnd ?? lr / 10
  }

  /// The learning rate of optimizer step `n` (0-based).
  public func lr(atStep n: Int) -> Double {
    let w = warmUpSteps
    let decayStart = trainingSteps - decaySteps
    if w > 0 && n < w { return lr * Double(n + 1) / Double(w) }
    if decaySteps > 0 && n >= decayStart {
      let start = kind == .constant ? lr : lrEnd
      return start * (1 - Double(min(n - decayStart, decaySteps)) / Double(decaySteps))
    }
    switch kind {
    case .constant:
      return lr
    case .cosineAnnealing:
      let tMax = trainingSteps - w - decaySteps
      if tMax <= 0 { return lr }
      return lrEnd + (lr - lrEnd) * (1 + cos(Double.pi * Double(n - w) / Double(tMax))) / 2
    }
  }
}

/// SAELens' `CoefficientScheduler` value used at step n (0-based): finalValue·min(n, W)/W for a
/// warm-up of W > 0 steps (0 at the first step), finalValue when W = 0.
public func warmedUpCoefficient(step n: Int, warmUpSteps w: Int, finalValue: Double) -> Double {
  w > 0 ? finalValue * Double(min(n, w)) / Double(w) : finalValue
}

/// The global L2 norm over several gradient tensors (clip_grad_norm_'s total_norm), summed in
/// Double per fixed 4,096-element chunk, then chunks, then tensors, in order.
public func globalGradientNorm(
  _ tensors: [(pointer: UnsafePointer<Float>, count: Int)], pool: ThreadPool
) -> Double {
  var total = 0.0
  for (p, n) in tensors {
    let chunks = (n + 4095) / 4096
    var partial = [Double](repeating: 0, count: chunks)
    partial.withUnsafeMutableBufferPointer { out in
      let o = out.baseAddress!
      pool.parallelFor(chunks) { range in
        for c in range {
          var acc = SIMD4<Double>(repeating: 0)
          var i = c &* 4096
          let hi = min(n, i &+ 4096)
          while i &+ 4 <= hi {
            let x = SIMD4<Double>(Double(p[i]), Double(p[i &+ 1]), Double(p[i &+ 2]), Double(p[i &+ 3]))
            acc = acc.addingProduct(x, x)
            i &+= 4
          }
          var s = acc.sum()
          while i < hi {
            s += Double(p[i]) * Double(p[i])
            i &+= 1
          }
          o[c] = s
        }
      }
    }
    var sum = 0.0
    for s in partial { sum += s }
    total += sum
  }
  return total.squareRoot()
}

/// clip_grad_norm_: scales every gradient by max_norm/(total + 1e-6) (in Float, as torch does) when
/// that is below 1. Returns the total norm before clipping.
@discardableResult
public func clipGradientsByGlobalNorm(
  _ tensors: [(pointer: UnsafeMutablePointer<Float>, count: Int)], maxNorm: Double, pool: ThreadPool
) -> Double {
  let total = globalGradientNorm(tensors.map { (UnsafePointer($0.pointer), $0.count) }, pool: pool)
  let coef = Float(maxNorm) / (Float(total) + Float(1e-6))
  if coef < 1 {
    for (p, n) in tensors {
      pool.parallelFor(n) { range in
        for i in range { p[i] *= coef }
      }
    }
  }
  return total
}

/// `clipGradientsByGlobalNorm` over gradient tensors (any shapes; all elements count).
@discardableResult
public func clipGradientsByGlobalNorm(_ grads: [Tensor], maxNorm: Double, pool: ThreadPool) -> Double {
  clipGradientsByGlobalNorm(grads.map { ($0.pointer, $0.count) }, maxNorm: maxNorm, pool: pool)
}
