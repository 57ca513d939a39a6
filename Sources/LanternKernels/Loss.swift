// Language-model loss: per-token next-token cross-entropy from logits, computed with a
// numerically stable log-sum-exp in Double (V is large; accuracy matters more than speed here).
// Legend: B batch, T sequence, V vocabulary.

import Foundation
import LanternTensor

/// loss (B,T−1): −log softmax(logits[b,t])[tokens[b,t+1]], for logits (B,T,V) and tokens (B,T).
public func nextTokenLoss(
  logits: UnsafePointer<Float>, tokens: UnsafePointer<Int32>, batch: Int, seqLen t: Int, vocab v: Int,
  pool: ThreadPool
) -> [Float] {
  guard t > 1 else { return [] }
  var loss = [Float](repeating: 0, count: batch * (t - 1))
  loss.withUnsafeMutableBufferPointer { out in
    let o = out.baseAddress!
    pool.parallelFor(batch * (t - 1)) { range in
      for idx in range {
        let b = idx / (t - 1)
        let i = idx % (t - 1)
        let row = logits + (b * t + i) &* v
        o[idx] = Float(logSumExp(row, v) - Double(row[Int(tokens[b * t + i + 1])]))
      }
    }
  }
  return loss
}

/// log Σ exp(row[j]) over j in 0..<n, in Double.
public func logSumExp(_ row: UnsafePointer<Float>, _ n: Int) -> Double {
  var mx = -Float.infinity
  for j in 0..<n { mx = max(mx, row[j]) }
  var sum = 0.0
  for j in 0..<n { sum += exp(Double(row[j] - mx)) }
  return Double(mx) + log(sum)
}
