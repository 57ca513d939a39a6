// `relu` (SAELens "standard", sae_lens/saes/standard_sae.py): f = ReLU(pre), and the L1 penalty
// λ_t·(1/B)·Σ_b Σ_s f_bs·N_s with N_s = Σ_l ‖W_dec[s, layer l]‖ (one layer unless a crosscoder,
// whose penalty weights each latent by the sum of its per-layer decoder norms; Lindsey et al. 2024).
// λ_t warms up linearly over l1WarmUpSteps. The penalty's gradient reaches pre (λ_t·N_s/B at
// active entries) and W_dec (λ_t/B·Σ_b f_bs·W[s,l]/‖W[s,l]‖, `decoderRowNormsBackward`).

import LanternKernels
import LanternTensor

extension DictionaryModel {
  /// Entries with pre > 0 (`denseToCSR` of ReLU(pre)), ascending by latent.
  func reluSelect(batch b: Int) -> SparseRows {
    let n = b * config.dSAE
    let pre = work.pre.pointer
    let dense = work.dense.pointer
    pool.parallelFor(n) { range in
      for i in range { dense[i] = pre[i] > 0 ? pre[i] : 0 }
    }
    return denseRows(batch: b)
  }

  /// The non-zero entries of work.dense as rows ascending by latent (counted first, so the CSR
  /// arrays are allocated at the entry count, not at B·S).
  func denseRows(batch b: Int) -> SparseRows {
    let s = config.dSAE
    let dense = work.dense.pointer
    var counts = [Int](repeating: 0, count: b)
    counts.withUnsafeMutableBufferPointer { out in
      let o = out.baseAddress!
      pool.parallelFor(b) { rows in
        for r in rows {
          var n = 0
          for j in 0..<s where dense[r * s + j] != 0 { n += 1 }
          o[r] = n
        }
      }
    }
    let nnz = counts.reduce(0, +)
    // A training step on the dense path reads work.dense, never the entries: skip the CSR (and its
    // 2×nnz allocation) altogether.
    if work.countOnlyWhenDense && usesDensePath(nnz: nnz, batch: b) { return .countOnly(nnz) }
    var rowOffsets = [Int32](repeating: 0, count: b + 1)
    var indices = [Int32](repeating: 0, count: max(nnz, 1))
    var values = [Float](repeating: 0, count: max(nnz, 1))
    let count =
      denseToCSR(
        rowOffsets: &rowOffsets, indices: &indices, values: &values, dense: dense, batch: b, latents: s,
        capacity: max(nnz, 1), pool: pool) ?? 0
    return SparseRows(rowOffsets: rowOffsets, indices: indices, values: values, count: count)
  }

  /// Adds the L1 term to `report` and its W_dec gradient; returns the term's dL/dpre at an active
  /// entry of each latent, λ_t·N_s/B.
  func l1Penalty(_ a: SparseRows, batch b: Int, report: inout StepReport) -> [Float] {
    let c = config
    let s = c.dSAE
    let layers = c.layers
    let width = c.dOut / layers
    let lambda = warmedUp(c.l1Coefficient, c.l1WarmUpSteps)
    var norms = [Float](repeating: 0, count: s * layers)
    decoderRowNorms(
      norms: &norms, decoder: parameters.decoderWeight.pointer, latents: s, layers: layers, dim: width,
      pool: pool)
    let weights = (0..<s).map { j in (0..<layers).reduce(Float(0)) { $0 + norms[j * layers + $1] } }
    var loss: Double = 0
    var fireSums = [Float](repeating: 0, count: s)
    let perRow = lambda / Float(b)
    if a.isCountOnly {
      fireSums = denseColumnSums(batch: b)
      for j in 0..<s { loss += Double(fireSums[j]) * Double(weights[j]) }
    } else {
      for e in 0..<a.nnz {
        let j = Int(a.indices[e])
        loss += Double(a.values[e]) * Double(weights[j])
        fireSums[j] += a.values[e]
      }
    }
    report.losses["l1"] = Double(lambda) * loss / Double(b)
    var dNorms = [Float](repeating: 0, count: s * layers)
    for j in 0..<s {
      for l in 0..<layers { dNorms[j * layers + l] = perRow * fireSums[j] }
    }
    decoderRowNormsBackward(
      dDecoder: gradients.decoderWeight.pointer, dNorms: dNorms, decoder: parameters.decoderWeight.pointer,
      norms: norms, latents: s, layers: layers, dim: width, pool: pool)
    return weights.map { perRow * $0 }
  }
}
