// Normalization kernels: LayerNorm (GPT-2) and RMSNorm (Llama family), fused with their affine
// weights, optionally also writing the pre-affine normalized values and the per-row scale that
// TransformerLens exposes as `lnX.hook_normalized` and `lnX.hook_scale`.
// Legend: N rows (B·T), C d_model.

import LanternTensor

/// LayerNorm over the last dimension.
/// inp is (N,C); out is (N,C) = (x − mean)/scale · weight + bias; scale (N,) = √(var + eps) if
/// non-nil; normalized (N,C) = (x − mean)/scale if non-nil. out may alias inp.
public func layerNormForward(
  out: UnsafeMutablePointer<Float>, normalized: UnsafeMutablePointer<Float>?,
  scale: UnsafeMutablePointer<Float>?, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
  bias: UnsafePointer<Float>?, rows: Int, cols c: Int, eps: Float, pool: ThreadPool
) {
  pool.parallelFor(rows) { range in
    for r in range {
      let x = inp + r &* c
      var sum: Double = 0
      for j in 0..<c { sum += Double(x[j]) }
      let mean = Float(sum / Double(c))
      var sq: Double = 0
      for j in 0..<c {
        let d = x[j] - mean
        sq += Double(d * d)
      }
      let s = (Float(sq / Double(c)) + eps).squareRoot()
      let rs = 1 / s
      scale?[r] = s
      let o = out + r &* c
      if let normalized {
        let nrm = normalized + r &* c
        for j in 0..<c { nrm[j] = (x[j] - mean) * rs }
      }
      if let bias {
        for j in 0..<c { o[j] = (x[j] - mean) * rs * weight[j] + bias[j] }
      } else {
        for j in 0..<c { o[j] = (x[j] - mean) * rs * weight[j] }
      }
    }
  }
}

/// Naive twin of `layerNormForward` (Double accumulation, one row at a time).
public func layerNormForwardNaive(
  out: UnsafeMutablePointer<Float>, normalized: UnsafeMutablePointer<Float>?,
  scale: UnsafeMutablePointer<Float>?, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
  bias: UnsafePointer<Float>?, rows: Int, cols c: Int, eps: Float
) {
  for r in 0..<rows {
    var mean = 0.0
    for j in 0..<c { mean += Double(inp[r * c + j]) }
    mean /= Double(c)
    var v = 0.0
    for j in 0..<c { v += (Double(inp[r * c + j]) - mean) * (Double(inp[r * c + j]) - mean) }
    let s = (v / Double(c) + Double(eps)).squareRoot()
    scale?[r] = Float(s)
    for j in 0..<c {
      let n = (Double(inp[r * c + j]) - mean) / s
      normalized?[r * c + j] = Float(n)
      out[r * c + j] = Float(n * Double(weight[j]) + Double(bias?[j] ?? 0))
    }
  }
}

/// RMSNorm over the last dimension: scale = √(mean(x²) + eps), out = x/scale · weight.
/// Shapes as in `layerNormForward`. out may alias inp.
public func rmsNormForward(
  out: UnsafeMutablePointer<Float>, normalized: UnsafeMutablePointer<Float>?,
  scale: UnsafeMutablePointer<Float>?, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
  rows: Int, cols c: Int, eps: Float, pool: ThreadPool
) {
  pool.parallelFor(rows) { range in
    for r in range {
      let x = inp + r &* c
      var acc = SIMD8<Float>()
      var j = 0
      while j &+ 8 <= c {
        let v = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
        acc.addProduct(v, v)
        j &+= 8
      }
      var sq = acc.sum()
      while j < c {
        sq += x[j] * x[j]
        j &+= 1
      }
      let s = (sq / Float(c) + eps).squareRoot()
      let rs = 1 / s
      scale?[r] = s
      if let normalized {
        let nrm = normalized + r &* c
        for k in 0..<c { nrm[k] = x[k] * rs }
      }
      let o = out + r &* c
      for k in 0..<c { o[k] = x[k] * rs * weight[k] }
    }
  }
}

/// Naive twin of `rmsNormForward`.
public func rmsNormForwardNaive(
  out: UnsafeMutablePointer<Float>, normalized: UnsafeMutablePointer<Float>?,
  scale: UnsafeMutablePointer<Float>?, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
  rows: Int, cols c: Int, eps: Float
) {
  for r in 0..<rows {
    var ms = 0.0
    for j in 0..<c { ms += Double(inp[r * c + j]) * Double(inp[r * c + j]) }
    let s = (ms / Double(c) + Double(eps)).squareRoot()
    scale?[r] = Float(s)
    for j in 0..<c {
      let n = Double(inp[r * c + j]) / s
      normalized?[r * c + j] = Float(n)
      out[r * c + j] = Float(n * Double(weight[j]))
    }
  }
}
