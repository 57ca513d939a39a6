// `batchtopk` (Bussmann et al. 2024; sae_lens/saes/batchtopk_sae.py): the k·B largest values of
// ReLU(pre) over the whole batch (ties toward the lower flat position b·S + s), and the inference
// threshold θ ← (1 − r)·θ + r·(smallest active value of the batch), in Double, after each step.
// AuxK and the unit-norm decoder are the topk family's (TopK.swift, DictionaryModel+Update.swift).

import LanternKernels
import LanternTensor

extension DictionaryModel {
  /// The batch-wide top k·B of ReLU(pre) (`batchTopKForward`), as rows ascending by latent.
  func batchTopKSelect(batch b: Int) -> SparseRows {
    let s = config.dSAE
    let keep = config.k * b
    let capacity = max(1, min(keep, b * s))
    var rowOffsets = [Int32](repeating: 0, count: b + 1)
    var indices = [Int32](repeating: 0, count: capacity)
    var values = [Float](repeating: 0, count: capacity)
    let selection = batchTopKForward(
      rowOffsets: &rowOffsets, indices: &indices, values: &values, pre: work.pre.pointer, batch: b,
      latents: s,
      keep: keep, pool: pool)
    return SparseRows(rowOffsets: rowOffsets, indices: indices, values: values, count: selection.count)
  }

  /// The EMA update of the inference threshold from this step's active values.
  func updateThreshold(_ a: SparseRows) {
    guard let smallest = a.values.min() else { return }
    let r = config.batchTopKThresholdRate
    topKThreshold = (1 - r) * topKThreshold + r * Double(smallest)
  }
}
