// `batchtopk` (Bussmann et al. 2024; sae_lens/saes/batchtopk_sae.py): the k·B largest values of
// ReLU(pre) over the whole batch (ties toward the lower flat position b·S + s), and the inference
// threshold θ ← (1 − r)·θ + r·(smallest active value of the batch), in Double, after each step.
// AuxK and the unit-norm decoder are the topk family's (TopK.swift, DictionaryModel+Update.swift).

import LanternTensor

extension DictionaryModel {
  /// The batch-wide top k·B of ReLU(pre), as rows ascending by latent.
  func batchTopKSelect(batch b: Int) -> SparseRows {
    let s = config.dSAE
    let n = config.k * b
    let pre = work.pre.pointer
    var positives: [Float] = []
    positives.reserveCapacity(2 * n)
    for i in 0..<(b * s) where pre[i] > 0 { positives.append(pre[i]) }
    var cut: Float = 0
    var tiesAllowed = Int.max
    if positives.count > n {
      cut = nthLargest(&positives, n)
      var above = 0
      for i in 0..<(b * s) where pre[i] > cut { above += 1 }
      tiesAllowed = n - above
    }
    var a = SparseRows()
    a.reset(capacity: min(n, positives.count))
    for r in 0..<b {
      for j in 0..<s {
        let v = pre[r * s + j]
        guard v > 0, v >= cut else { continue }
        if v == cut {
          guard tiesAllowed > 0 else { continue }
          tiesAllowed -= 1
        }
        a.append(latent: j, value: v)
      }
      a.endRow()
    }
    return a
  }

  /// The EMA update of the inference threshold from this step's active values.
  func updateThreshold(_ a: SparseRows) {
    guard let smallest = a.values.min() else { return }
    let r = config.batchTopKThresholdRate
    topKThreshold = (1 - r) * topKThreshold + r * Double(smallest)
  }
}

/// The n-th largest element (1-based) of `v` (reordered), by iterative quickselect.
func nthLargest(_ v: inout [Float], _ n: Int) -> Float {
  var lo = 0
  var hi = v.count - 1
  let target = n - 1
  while lo < hi {
    let pivot = v[lo + (hi - lo) / 2]
    var i = lo
    var j = hi
    while i <= j {
      while v[i] > pivot { i += 1 }
      while v[j] < pivot { j -= 1 }
      if i <= j {
        v.swapAt(i, j)
        i += 1
        j -= 1
      }
    }
    if target <= j {
      hi = j
    } else if target >= i {
      lo = i
    } else {
      return v[target]
    }
  }
  return v[target]
}
