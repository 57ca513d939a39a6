// Gathers and element-wise kernels: token embedding lookup, learned position embeddings,
// residual adds and strided copies. Token ids are validated by the model before they get here.

import LanternTensor

/// out (N,C) = table[ids[n]] for table (V,C). Ids must be in 0..<V (validated by the caller).
public func embeddingForward(
  out: UnsafeMutablePointer<Float>, ids: UnsafePointer<Int32>, table: UnsafePointer<Float>,
  rows n: Int, cols c: Int, pool: ThreadPool
) {
  pool.parallelFor(n) { range in
    for r in range { (out + r &* c).update(from: table + Int(ids[r]) &* c, count: c) }
  }
}

/// Naive twin of `embeddingForward`.
public func embeddingForwardNaive(
  out: UnsafeMutablePointer<Float>, ids: UnsafePointer<Int32>, table: UnsafePointer<Float>,
  rows n: Int, cols c: Int
) {
  for r in 0..<n { for j in 0..<c { out[r * c + j] = table[Int(ids[r]) * c + j] } }
}

/// out (N,) = a + b; out may alias a or b.
public func residualForward(
  out: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, count n: Int,
  pool: ThreadPool
) {
  pool.parallelFor((n + 4095) / 4096) { chunks in
    let lo = chunks.lowerBound * 4096
    let hi = min(n, chunks.upperBound * 4096)
    var i = lo
    while i &+ 8 <= hi {
      let x = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
      let y = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
      UnsafeMutableRawPointer(out + i).storeBytes(of: x + y, as: SIMD8<Float>.self)
      i &+= 8
    }
    while i < hi {
      out[i] = a[i] + b[i]
      i &+= 1
    }
  }
}

/// Naive twin of `residualForward`.
public func residualForwardNaive(
  out: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, count n: Int
) {
  for i in 0..<n { out[i] = a[i] + b[i] }
}

/// out (R,C) contiguous ← src (R,C) with row stride `srcStride`.
public func copyRows(
  out: UnsafeMutablePointer<Float>, src: UnsafePointer<Float>, srcStride: Int, rows: Int, cols: Int
) {
  for r in 0..<rows { (out + r &* cols).update(from: src + r &* srcStride, count: cols) }
}

/// dst (R,C) with row stride `dstStride` ← src (R,C) contiguous.
public func scatterRows(
  dst: UnsafeMutablePointer<Float>, dstStride: Int, src: UnsafePointer<Float>, rows: Int, cols: Int
) {
  for r in 0..<rows { (dst + r &* dstStride).update(from: src + r &* cols, count: cols) }
}

/// out (R,C) += bias (C,) broadcast over rows.
public func addBias(
  _ out: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, cols: Int, stride: Int? = nil
) {
  let s = stride ?? cols
  for r in 0..<rows {
    let o = out + r &* s
    for j in 0..<cols { o[j] += bias[j] }
  }
}
