// Activation functions: GELU (GPT-2's tanh form), SiLU, and the fused gated product act(gate)·up,
// plus the vectorized exp they share with softmax.
//
// Dimension legend for this module: B batch, T sequence length, C d_model, NH query heads,
// NKV key/value heads, HS head size, F d_mlp, V vocabulary, N a flat element count.
// Each fast kernel has a naive twin (`...Naive`) written for clarity; tests compare the two.
// Backward passes are left to the dictionary-training work.

import Foundation
import LanternTensor

@inline(__always)
func geluTanh8(_ x: SIMD8<Float>) -> SIMD8<Float> {
  // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), tanh(u) = 1 − 2/(e^{2u} + 1)
  let u = 0.797_884_560_8 * x.addingProduct(0.044_715 * x * x, x)
  let t = 1 - 2 / (exp8(2 * u) + 1)
  return 0.5 * x * (1 + t)
}

/// GELU, tanh approximation (GPT-2's `gelu_new`). out and inp are (N,); may alias.
public func geluForward(
  out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, count n: Int, pool: ThreadPool
) {
  pool.parallelFor((n + 1023) / 1024) { chunks in
    let lo = chunks.lowerBound * 1024
    let hi = min(n, chunks.upperBound * 1024)
    var i = lo
    while i &+ 8 <= hi {
      let x = load8(inp + i)
      store8(geluTanh8(x), out + i)
      i &+= 8
    }
    while i < hi {
      out[i] = geluTanh8(SIMD8(repeating: inp[i]))[0]
      i &+= 1
    }
  }
}

/// Naive twin of `geluForward`.
public func geluForwardNaive(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, count n: Int) {
  for i in 0..<n {
    let x = Double(inp[i])
    out[i] = Float(0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x))))
  }
}

/// Gated MLP activation: out[r, j] = silu(gate[r, j]) · up[r, j].
/// gate and up are (R, F) with row strides `gateStride` and `upStride` (they may live in one fused
/// projection output); out is (R, F) contiguous.
public func siluMulForward(
  out: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, gateStride: Int,
  up: UnsafePointer<Float>, upStride: Int, rows: Int, cols f: Int, pool: ThreadPool
) {
  pool.parallelFor(rows) { range in
    for r in range {
      let g = gate + r &* gateStride
      let u = up + r &* upStride
      let o = out + r &* f
      var j = 0
      while j &+ 8 <= f {
        let x = load8(g + j)
        let y = load8(u + j)
        let s = x / (1 + exp8(-x))
        store8(s * y, o + j)
        j &+= 8
      }
      while j < f {
        let x = SIMD8<Float>(repeating: g[j])
        o[j] = (x / (1 + exp8(-x)))[0] * u[j]
        j &+= 1
      }
    }
  }
}

/// Naive twin of `siluMulForward`.
public func siluMulForwardNaive(
  out: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, gateStride: Int,
  up: UnsafePointer<Float>, upStride: Int, rows: Int, cols f: Int
) {
  for r in 0..<rows {
    for j in 0..<f {
      let x = Double(gate[r * gateStride + j])
      out[r * f + j] = Float(x / (1 + exp(-x)) * Double(up[r * upStride + j]))
    }
  }
}

/// SiLU: out[i] = x / (1 + e^{-x}). out and inp are (N,); may alias.
public func siluForward(
  out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, count n: Int, pool: ThreadPool
) {
  pool.parallelFor((n + 1023) / 1024) { chunks in
    let lo = chunks.lowerBound * 1024
    let hi = min(n, chunks.upperBound * 1024)
    var i = lo
    while i &+ 8 <= hi {
      let x = load8(inp + i)
      store8(x / (1 + exp8(-x)), out + i)
      i &+= 8
    }
    while i < hi {
      let x = SIMD8<Float>(repeating: inp[i])
      out[i] = (x / (1 + exp8(-x)))[0]
      i &+= 1
    }
  }
}

/// Naive twin of `siluForward`.
public func siluForwardNaive(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, count n: Int) {
  for i in 0..<n {
    let x = Double(inp[i])
    out[i] = Float(x / (1 + exp(-x)))
  }
}
