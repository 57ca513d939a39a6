// Training kernels, JumpReLU (Rajamanoharan et al. 2024, "Jumping Ahead: Improving Reconstruction
// Fidelity with JumpReLU Sparse Autoencoders", arXiv:2407.14435): the activation f = h·1[h > θ], the
// L0 step count Σ_s H(h − θ), and their straight-through estimators (STE) with a rectangle kernel.
//
// Legend: B batch rows, S dictionary width (d_sae); h = pre-activations (B,S); θ = threshold (S,);
// ε = bandwidth; K(u) = 1[−½ < u < ½] (the rectangle kernel); g = the upstream gradient.
// Checked against sae_lens 6.54.12 sae_lens/saes/jumprelu_sae.py (read, not run):
// - `rectangle(x) = ((x > -0.5) & (x < 0.5))`;
// - `JumpReLU.backward`: ste = (θ/ε)·rectangle((h − θ)/ε)·g; threshold_grad = Σ_b −ste;
//   x_grad = 1[h > θ]·g, plus ste when `jumprelu_ste_to_input` (Anthropic's variant; default False,
//   DeepMind's);
// - `Step.backward` (the L0 term): ste = (1/ε)·rectangle((h − θ)/ε)·g; threshold_grad = Σ_b −ste;
//   x_grad = ste only when `ste_to_input`, otherwise none;
// - JumpReLUTrainingSAE (6.54.12) trains θ itself (clamped to ≥ 0 before each forward pass), not
//   log θ as DeepMind does; a log-parameterised trainer converts with `logThresholdGradient`
//   (∂L/∂logθ = θ·∂L/∂θ). Defaults there: bandwidth 0.05, initial threshold 0.01.
// The STE is not the true gradient (that is zero almost everywhere in θ), so tests check it against a
// direct evaluation of these formulas (the naive twins) and finite-difference only the smooth parts.
// Threads own latent columns: each θ gradient is one thread's sum over b in order (same bytes for
// every thread count). Left out: the "tanh" and "quadratic" sparsity modes and the pre-act loss.

import LanternTensor

/// JumpReLU forward: out[b,s] = pre[b,s]·1[pre[b,s] > threshold[s]]. pre, out are (B,S); threshold (S,).
public func jumpReLUForward(
  out: UnsafeMutablePointer<Float>, pre: UnsafePointer<Float>, threshold: UnsafePointer<Float>, batch: Int,
  latents s: Int, pool: ThreadPool
) {
  pool.parallelFor(batch) { rows in
    for b in rows {
      let h = pre + b &* s
      let o = out + b &* s
      for j in 0..<s { o[j] = h[j] > threshold[j] ? h[j] : 0 }
    }
  }
}

/// JumpReLU backward with SAELens' STE. dPre[b,s] = 1[h > θ]·g (+ (θ/ε)·K((h−θ)/ε)·g when
/// `steToInput`), overwritten; dThreshold[s] += Σ_b −(θ/ε)·K((h−θ)/ε)·g[b,s].
/// dOut, pre, dPre are (B,S); threshold, dThreshold (S,); bandwidth ε > 0.
public func jumpReLUBackward(
  dPre: UnsafeMutablePointer<Float>, dThreshold: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
  pre: UnsafePointer<Float>, threshold: UnsafePointer<Float>, bandwidth: Float, steToInput: Bool,
  batch: Int, latents s: Int, pool: ThreadPool
) {
  pool.parallelFor(s) { cols in
    let lo = cols.lowerBound
    let n = cols.count
    let acc = UnsafeMutablePointer<Float>.allocate(capacity: n)
    acc.initialize(repeating: 0, count: n)
    defer { acc.deallocate() }
    for b in 0..<batch {
      let h = pre + (b &* s &+ lo)
      let g = dOut + (b &* s &+ lo)
      let d = dPre + (b &* s &+ lo)
      let th = threshold + lo
      for j in 0..<n {
        let u = (h[j] - th[j]) / bandwidth
        let ste: Float = (u > -0.5 && u < 0.5) ? (th[j] / bandwidth) * g[j] : 0
        acc[j] -= ste
        var dx: Float = h[j] > th[j] ? g[j] : 0
        if steToInput { dx += ste }
        d[j] = dx
      }
    }
    for j in 0..<n { dThreshold[lo &+ j] += acc[j] }
  }
}

/// Naive twin of `jumpReLUBackward`: the SAELens formulas element by element, θ sums in Double.
public func jumpReLUBackwardNaive(
  dPre: UnsafeMutablePointer<Float>, dThreshold: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
  pre: UnsafePointer<Float>, threshold: UnsafePointer<Float>, bandwidth: Float, steToInput: Bool,
  batch: Int, latents s: Int
) {
  for j in 0..<s {
    var sum = 0.0
    for b in 0..<batch {
      let x = pre[b * s + j]
      let t = threshold[j]
      let g = dOut[b * s + j]
      let inWindow = rectangleKernel((x - t) / bandwidth)
      let ste = inWindow ? (t / bandwidth) * g : 0
      sum -= Double(ste)
      dPre[b * s + j] = (x > t ? g : 0) + (steToInput ? ste : 0)
    }
    dThreshold[j] = Float(Double(dThreshold[j]) + sum)
  }
}

/// The rectangle kernel K(u) = 1[−½ < u < ½] (SAELens' `rectangle`).
@inline(__always)
public func rectangleKernel(_ u: Float) -> Bool { u > -0.5 && u < 0.5 }

/// The L0 count per row: l0[b] = Σ_s 1[pre[b,s] > threshold[s]] (SAELens' `Step` summed over latents).
/// pre (B,S); threshold (S,); l0 (B,).
public func stepL0Forward(
  l0: UnsafeMutablePointer<Float>, pre: UnsafePointer<Float>, threshold: UnsafePointer<Float>, batch: Int,
  latents s: Int, pool: ThreadPool
) {
  pool.parallelFor(batch) { rows in
    for b in rows {
      let h = pre + b &* s
      var c = 0
      for j in 0..<s where h[j] > threshold[j] { c &+= 1 }
      l0[b] = Float(c)
    }
  }
}

/// Backward of the L0 count with SAELens' `Step` STE, given dL0 (B,) (the upstream gradient of each
/// row's count, e.g. λ/B for λ·mean_b L0): dThreshold[s] += Σ_b −(1/ε)·K((h−θ)/ε)·dL0[b], and when
/// dPre is non-nil (`ste_to_input`) dPre[b,s] += (1/ε)·K((h−θ)/ε)·dL0[b].
/// pre, dPre (B,S); threshold, dThreshold (S,).
public func stepL0Backward(
  dPre: UnsafeMutablePointer<Float>?, dThreshold: UnsafeMutablePointer<Float>, dL0: UnsafePointer<Float>,
  pre: UnsafePointer<Float>, threshold: UnsafePointer<Float>, bandwidth: Float, batch: Int, latents s: Int,
  pool: ThreadPool
) {
  let inv = 1 / bandwidth
  pool.parallelFor(s) { cols in
    let lo = cols.lowerBound
    let n = cols.count
    let acc = UnsafeMutablePointer<Float>.allocate(capacity: n)
    acc.initialize(repeating: 0, count: n)
    defer { acc.deallocate() }
    for b in 0..<batch {
      let h = pre + (b &* s &+ lo)
      let th = threshold + lo
      let g = dL0[b]
      for j in 0..<n {
        let u = (h[j] - th[j]) / bandwidth
        if u > -0.5 && u < 0.5 {
          let ste = inv * g
          acc[j] -= ste
          if let dPre { dPre[b &* s &+ lo &+ j] += ste }
        }
      }
    }
    for j in 0..<n { dThreshold[lo &+ j] += acc[j] }
  }
}

/// Naive twin of `stepL0Backward`.
public func stepL0BackwardNaive(
  dPre: UnsafeMutablePointer<Float>?, dThreshold: UnsafeMutablePointer<Float>, dL0: UnsafePointer<Float>,
  pre: UnsafePointer<Float>, threshold: UnsafePointer<Float>, bandwidth: Float, batch: Int, latents s: Int
) {
  for j in 0..<s {
    var sum = 0.0
    for b in 0..<batch where rectangleKernel((pre[b * s + j] - threshold[j]) / bandwidth) {
      let ste = (1 / bandwidth) * dL0[b]
      sum -= Double(ste)
      if let dPre { dPre[b * s + j] += ste }
    }
    dThreshold[j] = Float(Double(dThreshold[j]) + sum)
  }
}

/// ∂L/∂logθ = θ·∂L/∂θ, for trainers that keep log θ (DeepMind's parameterisation). (S,) each.
public func logThresholdGradient(
  dLogThreshold: UnsafeMutablePointer<Float>, dThreshold: UnsafePointer<Float>,
  threshold: UnsafePointer<Float>, latents s: Int
) {
  for j in 0..<s { dLogThreshold[j] = threshold[j] * dThreshold[j] }
}
