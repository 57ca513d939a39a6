// Activation functions: GELU (GPT-2's tanh form), SiLU, and the fused gated product act(gate)·up,
// plus the vectorized exp they share with softmax.
//
// Dimension legend for this module: B batch, T sequence length, C d_model, NH query heads,
// NKV key/value heads, HS head size, F d_mlp, V vocabulary, N a flat element count.
// Each fast kernel has a naive twin (`...Naive`) written for clarity; tests compare the two.
// Backward passes are left to the dictionary-training work.

import Foundation
import LanternTensor

/// exp(x) for eight lanes: Cephes-style range reduction and a degree-6 polynomial (≈1–2 ulp).
/// Inputs are clamped to [-87.3, 88.3], so exp(-∞) gives ~1e-38, not 0: callers that need exact
/// zeros (masked softmax) skip those lanes.
@inline(__always)
public func exp8(_ input: SIMD8<Float>) -> SIMD8<Float> {
  let x = input.clamped(lowerBound: SIMD8(repeating: -87.3), upperBound: SIMD8(repeating: 88.3))
  let n = (x * 1.442_695_04).rounded(.toNearestOrEven)
  var r = x.addingProduct(n, SIMD8(repeating: -0.693_359_375))
  r = r.addingProduct(n, SIMD8(repeating: 2.121_944_4e-4))
  var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
  p = SIMD8(repeating: 1.398_199_95e-3).addingProduct(p, r)
  p = SIMD8(repeating: 8.333_451_9e-3).addingProduct(p, r)
  p = SIMD8(repeating: 4.166_579_59e-2).addingProduct(p, r)
  p = SIMD8(repeating: 1.666_666_55e-1).addingProduct(p, r)
  p = SIMD8(repeating: 5.000_000_12e-1).addingProduct(p, r)
  p = (r + 1).addingProduct(p, r * r)
  let e = (SIMD8<Int32>(n, rounding: .towardZero) &+ 127) &<< 23
  return p * unsafeBitCast(e, to: SIMD8<Float>.self)
}

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
      let x = UnsafeRawPointer(inp + i).loadUnaligned(as: SIMD8<Float>.self)
      UnsafeMutableRawPointer(out + i).storeBytes(of: geluTanh8(x), as: SIMD8<Float>.self)
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
        let x = UnsafeRawPointer(g + j).loadUnaligned(as: SIMD8<Float>.self)
        let y = UnsafeRawPointer(u + j).loadUnaligned(as: SIMD8<Float>.self)
        let s = x / (1 + exp8(-x))
        UnsafeMutableRawPointer(o + j).storeBytes(of: s * y, as: SIMD8<Float>.self)
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

/// SiLU in place semantics helper: out[i] = x / (1 + e^{-x}). out and inp are (N,); may alias.
public func siluForward(
  out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, count n: Int, pool: ThreadPool
) {
  pool.parallelFor((n + 1023) / 1024) { chunks in
    let lo = chunks.lowerBound * 1024
    let hi = min(n, chunks.upperBound * 1024)
    var i = lo
    while i &+ 8 <= hi {
      let x = UnsafeRawPointer(inp + i).loadUnaligned(as: SIMD8<Float>.self)
      UnsafeMutableRawPointer(out + i).storeBytes(of: x / (1 + exp8(-x)), as: SIMD8<Float>.self)
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
