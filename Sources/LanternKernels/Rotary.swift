// Rotary position embeddings (RoPE, Su et al. 2021, https://arxiv.org/abs/2104.09864) in the two
// layouts models ship: Hugging Face's "rotate half" (dimension i pairs with i + HS/2) and GGML's
// interleaved layout (dimension 2i pairs with 2i + 1). Frequencies follow HF: inv_freq computed in
// Float32 as 1 / base^(2i/D), angle = Float32(position) · inv_freq.
// Left out: partial rotary dimensions beyond `rotaryDim`, and RoPE scaling schemes (YaRN, llama3).

import Foundation
import LanternTensor

/// How the rotated pairs are laid out within a head.
public enum RotaryLayout: Sendable {
  /// Hugging Face: (x[i], x[i + D/2]).
  case rotateHalf
  /// GGML / the original Meta checkpoints: (x[2i], x[2i + 1]).
  case interleaved
}

/// Precomputed cos/sin tables for positions 0..<maxPositions, each (P, D/2).
public struct RotaryTable: Sendable {
  public let rotaryDim: Int
  public let cos: [Float]
  public let sin: [Float]
  public let maxPositions: Int

  public init(rotaryDim: Int, base: Float, maxPositions: Int) {
    precondition(rotaryDim % 2 == 0, "rotary dimension must be even")
    let half = rotaryDim / 2
    var invFreq = [Float](repeating: 0, count: half)
    for i in 0..<half {
      invFreq[i] = 1 / Float(pow(Double(base), Double(Float(2 * i) / Float(rotaryDim))))
    }
    var c = [Float](repeating: 0, count: maxPositions * half)
    var s = c
    for p in 0..<maxPositions {
      for i in 0..<half {
        let angle = Float(p) * invFreq[i]
        c[p * half + i] = Foundation.cos(angle)
        s[p * half + i] = Foundation.sin(angle)
      }
    }
    self.rotaryDim = rotaryDim
    self.cos = c
    self.sin = s
    self.maxPositions = maxPositions
  }
}

/// Rotates every head in place. x is (B,T,H,HS) with row stride `stride` between positions; the
/// position of (b,t) is t. Only the first `table.rotaryDim` dimensions of each head rotate.
public func rotaryForward(
  x: UnsafeMutablePointer<Float>, batch: Int, seqLen t: Int, heads: Int, headSize hs: Int,
  stride: Int, table: RotaryTable, layout: RotaryLayout, pool: ThreadPool
) {
  let half = table.rotaryDim / 2
  table.cos.withUnsafeBufferPointer { cosT in
    table.sin.withUnsafeBufferPointer { sinT in
      let cs = cosT.baseAddress!
      let sn = sinT.baseAddress!
      pool.parallelFor(batch * t) { range in
        for row in range {
          let pos = row % t
          let c = cs + pos &* half
          let s = sn + pos &* half
          for h in 0..<heads {
            let p = x + row &* stride + h &* hs
            switch layout {
            case .rotateHalf:
              for i in 0..<half {
                let a = p[i]
                let b = p[i &+ half]
                p[i] = a * c[i] - b * s[i]
                p[i &+ half] = b * c[i] + a * s[i]
              }
            case .interleaved:
              for i in 0..<half {
                let a = p[2 &* i]
                let b = p[2 &* i &+ 1]
                p[2 &* i] = a * c[i] - b * s[i]
                p[2 &* i &+ 1] = b * c[i] + a * s[i]
              }
            }
          }
        }
      }
    }
  }
}

/// Naive twin of `rotaryForward`: computes each angle afresh in Double.
public func rotaryForwardNaive(
  x: UnsafeMutablePointer<Float>, batch: Int, seqLen t: Int, heads: Int, headSize hs: Int,
  stride: Int, rotaryDim: Int, base: Float, layout: RotaryLayout
) {
  let half = rotaryDim / 2
  for b in 0..<batch {
    for pos in 0..<t {
      for h in 0..<heads {
        let p = x + (b * t + pos) * stride + h * hs
        for i in 0..<half {
          let angle = Double(pos) / pow(Double(base), Double(2 * i) / Double(rotaryDim))
          let (ia, ib) = layout == .rotateHalf ? (i, i + half) : (2 * i, 2 * i + 1)
          let a = Double(p[ia])
          let bb = Double(p[ib])
          p[ia] = Float(a * cos(angle) - bb * sin(angle))
          p[ib] = Float(bb * cos(angle) + a * sin(angle))
        }
      }
    }
  }
}
