// `topk` (Gao et al. 2024; sae_lens/saes/topk_sae.py, sparsify/sparse_coder.py): per row the k
// largest pre-activations (ties toward the lower latent), then ReLU of the kept values; and AuxK,
// shared by the whole topk family (sae_lens calculate_topk_aux_loss / calculate_topk_aux_acts):
// the k_aux' = min(k_aux, n_dead) dead latents with the largest raw pre-activations per row
// reconstruct the detached residual e = y − ŷ without b_dec (so b_dec is counted once, not twice as
// in sparsify #132), loss = c·min(n_dead/k_aux, 1)·(1/B)·Σ_b ‖ê_b − e_b‖².

import LanternTensor

extension DictionaryModel {
  /// Per-row top-k of pre, kept where the value is > 0 (ReLU), by descending value.
  func topKSelect(batch b: Int) -> SparseRows {
    let s = config.dSAE
    let k = config.k
    let pre = work.pre.pointer
    var a = SparseRows()
    a.reset(capacity: b * k)
    var best: [(Int32, Float)] = []
    best.reserveCapacity(k)
    for r in 0..<b {
      rowTopK(pre + r * s, count: s, k: k, candidates: nil, into: &best)
      for (j, v) in best where v > 0 { a.append(latent: Int(j), value: v) }
      a.endRow()
    }
    return a
  }

  /// The AuxK loss term, its gradients to W_dec (added) and to pre (work.auxDPre, applied with the
  /// encoder backward). Needs work.residuals (r = ŷ − y) of the full reconstruction.
  func auxK(dead: [Bool], batch b: Int, report: inout StepReport) {
    let candidates = dead.indices.filter { dead[$0] }.map { Int32($0) }
    guard !candidates.isEmpty else {
      report.losses["auxk"] = 0
      return
    }
    let c = config
    let s = c.dSAE
    let d = c.dOut
    let scale = min(Double(candidates.count) / Double(c.kAux), 1)
    let kEff = min(c.kAux, candidates.count)
    let coef = Float(Double(c.auxKCoefficient) * scale)
    let pre = work.pre.pointer
    var aux = SparseRows()
    aux.reset(capacity: b * kEff)
    var best: [(Int32, Float)] = []
    for r in 0..<b {
      rowTopK(pre + r * s, count: s, k: kEff, candidates: candidates, into: &best)
      for (j, v) in best { aux.append(latent: Int(j), value: v) }
      aux.endRow()
    }
    let diff = Tensor(shape: [b, d])
    let zero = [Float](repeating: 0, count: d)
    zero.withUnsafeBufferPointer { z in
      sparseDecodeLevels(
        out: [diff.pointer], activations: aux, decoder: parameters.decoderWeight.pointer,
        bias: z.baseAddress!,
        ends: [s], width: d, pool: pool)
    }
    let r = work.residuals[work.levelEnds.count - 1].pointer
    var loss: Double = 0
    let g = Float(2) / Float(b) * coef
    for i in 0..<(b * d) {
      let e = diff.pointer[i] + r[i]
      loss += Double(e) * Double(e)
      diff.pointer[i] = g * e
    }
    report.losses["auxk"] = Double(coef) * loss / Double(b)
    var dPre = [Float](repeating: 0, count: aux.nnz)
    var index = LatentIndex()
    index.build(aux, latents: s)
    dPre.withUnsafeMutableBufferPointer { dp in
      sparseRowDots(
        dValues: dp.baseAddress!, activations: aux, rowsOf: diff.pointer,
        matrix: parameters.decoderWeight.pointer,
        width: d, pool: pool)
    }
    aux.values.withUnsafeBufferPointer { v in
      latentAccumulate(
        out: gradients.decoderWeight.pointer, bias: nil, index: index, coefficients: v.baseAddress!,
        rowsOf: diff.pointer, width: d, latents: s, pool: pool)
    }
    work.aux = aux
    work.auxIndex = index
    work.auxDPre = dPre
    work.auxActive = true
  }
}
