// The logit lens (nostalgebraist 2020, https://www.lesswrong.com/posts/AcKRB8wDpdaN6v6ru):
// read any residual-stream vector through the model's final norm and unembedding, as if the
// model stopped there. Also top-k with softmax probabilities.

import Foundation
import LanternKernels
import LanternTensor

/// One ranked token: id, logit, probability under the full softmax.
public struct RankedToken: Sendable, Equatable {
  public let id: Int
  public let logit: Float
  public let probability: Float
}

extension Transformer {
  /// Logits (R, V) for residual vectors `residual` (R, C) read through the final norm and unembedding.
  public func unembedThroughFinalNorm(_ residual: Tensor) -> Tensor {
    let rows = residual.count / config.dModel
    let normed = Tensor(shape: [rows, config.dModel])
    switch config.norm {
    case .layerNorm:
      layerNormForward(
        out: normed.pointer, normalized: nil, scale: nil, inp: residual.pointer,
        weight: weights.finalNormWeight.pointer,
        bias: weights.finalNormBias?.pointer, rows: rows, cols: config.dModel, eps: config.normEps, pool: pool
      )
    case .rmsNorm:
      rmsNormForward(
        out: normed.pointer, normalized: nil, scale: nil, inp: residual.pointer,
        weight: weights.finalNormWeight.pointer,
        rows: rows, cols: config.dModel, eps: config.normEps, pool: pool)
    }
    let logits = Tensor(shape: [rows, config.dVocab])
    pool.linear(
      out: logits.pointer, inp: normed.pointer, weight: weights.unembed, m: rows, n: config.dVocab,
      k: config.dModel)
    return logits
  }
}

/// The `k` highest logits of one row, with softmax probabilities over the whole row.
public func topK(logits row: UnsafePointer<Float>, count v: Int, k: Int) -> [RankedToken] {
  let lse = logSumExp(row, v)
  var best: [(Int, Float)] = []
  for i in 0..<v {
    let x = row[i]
    if best.count < k {
      best.append((i, x))
      best.sort { $0.1 > $1.1 }
    } else if x > best[k - 1].1 {
      best[k - 1] = (i, x)
      best.sort { $0.1 > $1.1 }
    }
  }
  return best.map {
    RankedToken(id: $0.0, logit: $0.1, probability: Float(Foundation.exp(Double($0.1) - lse)))
  }
}
