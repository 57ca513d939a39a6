// `topk` (Gao et al. 2024; sae_lens/saes/topk_sae.py, sparsify/sparse_coder.py): per row the k
// largest pre-activations (ties toward the lower latent), then ReLU of the kept values; and AuxK,
// shared by the whole topk family (sae_lens calculate_topk_aux_loss / calculate_topk_aux_acts):
// the k_aux' = min(k_aux, n_dead) dead latents with the largest raw pre-activations per row
// reconstruct the detached residual e = y − ŷ without b_dec (so b_dec is counted once, not twice as
// in sparsify #132), loss = c·min(n_dead/k_aux, 1)·(1/B)·Σ_b ‖ê_b − e_b‖².

import LanternKernels
import LanternTensor

extension DictionaryModel {
  /// Per-row top-k of pre (`topKForward`), kept where the value is > 0 (ReLU), by descending value.
  func topKSelect(batch b: Int) -> SparseRows {
    let k = config.k
    var values = [Float](repeating: 0, count: b * k)
    var indices = [Int32](repeating: 0, count: b * k)
    topKForward(
      values: &values, indices: &indices, pre: work.pre.pointer, batch: b, latents: config.dSAE, k: k,
      pool: pool)
    return SparseRows(fixedK: values, indices, batch: b, k: k) { $0 > 0 }
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
    let k = min(c.kAux, candidates.count)
    let coef = Float(Double(c.auxKCoefficient) * scale)
    var values = [Float](repeating: 0, count: b * k)
    var indices = [Int32](repeating: 0, count: b * k)
    topKForward(
      values: &values, indices: &indices, pre: work.pre.pointer, among: candidates,
      candidateCount: candidates.count, batch: b, latents: s, k: k, pool: pool)
    // diff = ê − e with e = −r (r = ŷ − y), then overwritten by its gradient g = c·scale·(2/B)·diff.
    let diff = Tensor(shape: [b, d])
    sparseDecodeForward(
      out: diff.pointer, values: values, indices: indices, decoder: parameters.decoderWeight.pointer,
      bias: nil,
      batch: b, k: k, outputDim: d, pool: pool)
    let r = work.residuals[work.levelEnds.count - 1].pointer
    var loss: Double = 0
    let g = Float(2) / Float(b) * coef
    for i in 0..<(b * d) {
      let e = diff.pointer[i] + r[i]
      loss += Double(e) * Double(e)
      diff.pointer[i] = g * e
    }
    report.losses["auxk"] = Double(coef) * loss / Double(b)
    var index = LatentIndex()
    index.build(indices: indices, batch: b, k: k, latents: s)
    var dPre = [Float](repeating: 0, count: b * k)
    sparseDecodeBackward(
      dValues: &dPre, dDecoder: gradients.decoderWeight.pointer, dOut: diff.pointer, values: values,
      indices: indices, decoder: parameters.decoderWeight.pointer, index: index, batch: b, k: k, outputDim: d,
      pool: pool)
    work.aux = SparseRows(fixedK: values, indices, batch: b, k: k)
    work.auxIndex = index
    work.auxDPre = dPre
    work.auxActive = true
  }
}
