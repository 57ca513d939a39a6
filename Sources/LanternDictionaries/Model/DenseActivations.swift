// The dense path of `relu` and `jumprelu`: when many latents fire (density above 1/16, the kernels'
// `prefersDenseEncoderBackward` rule) the decode, its backward and the encoder backward run as
// GEMMs on the dense [B, S] activations instead of per-entry row updates, which BLAS does ~10×
// faster per multiply-add. Same math as the sparse path (docs/training.md), other rounding; the
// choice depends only on the batch's entry count and `activationPath`, so it is reproducible.
//
// Legend: B batch rows, S latents, D d_out, I d_in.

import LanternKernels
import LanternTensor

/// Which implementation of the decode and backward a step uses for relu / jumprelu.
public enum ActivationPath: String, Sendable, Codable {
  /// Dense when more than 1/16 of the entries are active, sparse otherwise.
  case automatic
  /// Always per-entry (CSR) kernels.
  case sparse
  /// Always GEMMs on the dense activations.
  case dense
}

extension DictionaryModel {
  func usesDensePath(_ a: SparseRows, batch b: Int) -> Bool { usesDensePath(nnz: a.nnz, batch: b) }

  func usesDensePath(nnz: Int, batch b: Int) -> Bool {
    guard config.architecture == .relu || config.architecture == .jumprelu else { return false }
    switch activationPath {
    case .sparse: return false
    case .dense: return true
    case .automatic: return prefersDenseEncoderBackward(nnz: nnz, batch: b, latents: config.dSAE)
    }
  }

  /// Which latents fired anywhere in the batch, from the dense activations (B,S): each thread owns a
  /// range of latents and walks the rows in order, so the result is the CSR path's exactly.
  func denseFired(batch b: Int) -> [Bool] {
    let s = config.dSAE
    let f = work.dense.pointer
    var fired = [Bool](repeating: false, count: s)
    fired.withUnsafeMutableBufferPointer { out in
      let o = out.baseAddress!
      pool.parallelFor(s) { latents in
        for r in 0..<b {
          let row = f + r &* s
          for j in latents where row[j] != 0 { o[j] = true }
        }
      }
    }
    return fired
  }

  /// Column sums Σ_b f[b,s] (S) of the dense activations, each summed in row order in Float — the
  /// order the CSR path adds a latent's entries, so the same bits.
  func denseColumnSums(batch b: Int) -> [Float] {
    let s = config.dSAE
    let f = work.dense.pointer
    var sums = [Float](repeating: 0, count: s)
    sums.withUnsafeMutableBufferPointer { out in
      let o = out.baseAddress!
      pool.parallelFor(s) { latents in
        for r in 0..<b {
          let row = f + r &* s
          for j in latents where row[j] != 0 { o[j] += row[j] }
        }
      }
    }
    return sums
  }

  /// out[b,:] = b_dec + f[b,:]·W_dec with f dense in work.dense (B,S); out (B,D).
  func denseDecode(into out: UnsafeMutablePointer<Float>, batch b: Int) {
    let s = config.dSAE
    let d = config.dOut
    let f = work.dense.pointer
    let w = parameters.decoderWeight.pointer
    let bias = parameters.decoderBias.pointer
    pool.parallelFor(b) { rows in
      for r in rows { (out + r * d).update(from: bias, count: d) }
      BLAS.sgemm(
        transA: false, transB: false, m: rows.count, n: d, k: s, a: f + rows.lowerBound * s, lda: s, b: w,
        ldb: d,
        beta: 1, c: out + rows.lowerBound * d, ldc: d)
    }
  }

  /// The whole backward of a relu / jumprelu step on dense activations (no AuxK, one level):
  /// dF = G·W_decᵀ, dW_dec += fᵀ·G, dpre (gate, L1 term), the threshold STEs, dE += dpreᵀ·sae_in,
  /// db_enc, and b_dec's input path −Σ_b dpre·E.
  func denseBackward(_ a: SparseRows, batch b: Int, report: inout StepReport) {
    let c = config
    let s = c.dSAE
    let d = c.dOut
    let dIn = c.dIn
    let f = work.dense.pointer
    let g0 = work.upstream[0].pointer
    let dF = work.denseGrad.pointer
    let dPre = work.densePre.pointer
    let pre = work.pre.pointer
    pool.linear(out: dF, inp: g0, weight: parameters.decoderWeight.pointer, m: b, n: s, k: d)
    denseEncoderBackward(
      dEncoderWeight: gradients.decoderWeight.pointer, dEncoderBias: nil, dPre: f, x: g0, batch: b,
      latents: s,
      inputDim: d, pool: pool)
    if c.architecture == .relu {
      let extra = l1Penalty(a, batch: b, report: &report)
      extra.withUnsafeBufferPointer { add in
        pool.parallelFor(b) { rows in
          for i in (rows.lowerBound * s)..<(rows.upperBound * s) {
            dPre[i] = pre[i] > 0 ? dF[i] + add[i % s] : 0
          }
        }
      }
    } else {
      jumpReLUThresholdBackward(dLdF: dF, dPre: dPre, batch: b)
    }
    denseEncoderBackward(
      dEncoderWeight: gradients.encoderWeight.pointer, dEncoderBias: gradients.encoderBias.pointer,
      dPre: dPre,
      x: work.saeIn.pointer, batch: b, latents: s, inputDim: dIn, pool: pool)
    guard c.appliesDecoderBiasToInput else { return }
    let ds = work.dSaeIn.pointer
    let e = parameters.encoderWeight.pointer
    pool.parallelFor(b) { rows in
      BLAS.sgemm(
        transA: false, transB: false, m: rows.count, n: dIn, k: s, a: dPre + rows.lowerBound * s, lda: s,
        b: e,
        ldb: dIn, c: ds + rows.lowerBound * dIn, ldc: dIn)
    }
    let gb = gradients.decoderBias.pointer
    addColumnSums(gb, ds, rows: b, width: dIn, sign: -1, pool: pool)
  }
}
