// Sparse decode and encoder-weight gradients: fast vs naive on awkward sizes (both sparse forms,
// an empty CSR row, k = 1, k = S), same bytes for 1, 2 and 3 threads, and central finite
// differences in Double for every backward.

import LanternKernels
import LanternTensor
import LanternTestSupport
import Testing

/// A random sparse batch: per row, distinct latents; `csr` gives ragged rows (row 1 empty).
struct SparseBatch {
  var offsets: [Int32]
  var indices: [Int32]
  var values: [Float]
  var nnz: Int { indices.count }

  init(batch: Int, s: Int, k: Int, csr: Bool, seed: UInt64) {
    var rng = SplitMix64(seed: seed)
    offsets = [0]
    indices = []
    values = []
    for b in 0..<batch {
      let n = csr ? (b == 1 ? 0 : Int(rng.next() % UInt64(s + 1))) : k
      var perm = Array(0..<s)
      for i in 0..<n { perm.swapAt(i, i + Int(rng.next() % UInt64(s - i))) }
      for i in 0..<n {
        indices.append(Int32(perm[i]))
        values.append(rng.nextFloat() * 2 - 0.5)
      }
      offsets.append(Int32(indices.count))
    }
  }

  func index(batch: Int, s: Int, k: Int, csr: Bool) -> LatentIndex {
    var idx = LatentIndex()
    if csr {
      idx.build(rowOffsets: offsets, indices: indices, batch: batch, latents: s)
    } else {
      idx.build(indices: indices, batch: batch, k: k, latents: s)
    }
    return idx
  }
}

@Test(arguments: [(7, 37, 5, 19, false), (5, 29, 1, 9, false), (3, 23, 23, 17, false), (6, 41, 0, 13, true)])
func sparseDecodeMatchesNaive(batch: Int, s: Int, k: Int, d: Int, csr: Bool) {
  let sp = SparseBatch(batch: batch, s: s, k: k, csr: csr, seed: UInt64(s))
  let decoder = random(s * d, seed: 3)
  let bias = random(d, seed: 4)
  var fast = [Float](repeating: 0, count: batch * d)
  var slow = fast
  if csr {
    sparseDecodeForward(
      out: &fast, rowOffsets: sp.offsets, indices: sp.indices, values: sp.values, decoder: decoder,
      bias: bias,
      batch: batch, outputDim: d, pool: pool)
  } else {
    sparseDecodeForward(
      out: &fast, values: sp.values, indices: sp.indices, decoder: decoder, bias: bias, batch: batch, k: k,
      outputDim: d, pool: pool)
  }
  sp.offsets.withUnsafeBufferPointer { o in
    sparseDecodeForwardNaive(
      out: &slow, rowOffsets: csr ? o.baseAddress : nil, indices: sp.indices, values: sp.values,
      decoder: decoder, bias: bias, batch: batch, k: k, outputDim: d)
  }
  assertClose(fast, slow, tol: 1e-5, "sparse decode")

  // Backward: fast vs naive, and the same bytes for every thread count.
  let dOut = random(batch * d, seed: 5)
  let index = sp.index(batch: batch, s: s, k: k, csr: csr)
  var results: [([Float], [Float])] = []
  for threads in [1, 2, 3] {
    let p = ThreadPool(threadCount: threads)
    var dValues = [Float](repeating: 0, count: sp.nnz)
    var dDecoder = random(s * d, seed: 6)  // accumulates into an existing gradient
    if csr {
      sparseDecodeBackward(
        dValues: &dValues, dDecoder: &dDecoder, dOut: dOut, rowOffsets: sp.offsets, indices: sp.indices,
        values: sp.values, decoder: decoder, index: index, batch: batch, outputDim: d, pool: p)
    } else {
      sparseDecodeBackward(
        dValues: &dValues, dDecoder: &dDecoder, dOut: dOut, values: sp.values, indices: sp.indices,
        decoder: decoder, index: index, batch: batch, k: k, outputDim: d, pool: p)
    }
    results.append((dValues, dDecoder))
  }
  #expect(results[0].0 == results[1].0 && results[1].0 == results[2].0, "dValues bytes vary with threads")
  #expect(results[0].1 == results[1].1 && results[1].1 == results[2].1, "dDecoder bytes vary with threads")
  var dValues = [Float](repeating: 0, count: sp.nnz)
  var dDecoder = random(s * d, seed: 6)
  sp.offsets.withUnsafeBufferPointer { o in
    sparseDecodeBackwardNaive(
      dValues: &dValues, dDecoder: &dDecoder, dOut: dOut, rowOffsets: csr ? o.baseAddress : nil,
      indices: sp.indices, values: sp.values, decoder: decoder, batch: batch, latents: s, k: k, outputDim: d)
  }
  assertClose(results[1].0, dValues, tol: 1e-5, "dValues")
  assertClose(results[1].1, dDecoder, tol: 1e-5, "dDecoder")

  let active = Set(sp.indices).sorted()
  #expect(index.activeLatents == active)
}

/// Central difference of `loss` at every coordinate of `x`, in Double.
func finiteDifference(_ x: [Double], h: Double = 1e-6, _ loss: ([Double]) -> Double) -> [Double] {
  var g = [Double](repeating: 0, count: x.count)
  var y = x
  for i in 0..<x.count {
    y[i] = x[i] + h
    let up = loss(y)
    y[i] = x[i] - h
    let down = loss(y)
    y[i] = x[i]
    g[i] = (up - down) / (2 * h)
  }
  return g
}

func expectGradient(_ analytic: [Float], _ numeric: [Double], _ what: String) {
  let scale = numeric.map(abs).max() ?? 0
  let worst = zip(analytic, numeric).map { abs(Double($0) - $1) }.max() ?? 0
  #expect(worst <= 1e-4 * max(1, scale), "\(what): max |analytic − numeric| \(worst) (scale \(scale))")
}

@Test(arguments: [false, true])
func sparseDecodeBackwardMatchesFiniteDifferences(csr: Bool) {
  let (batch, s, k, d) = (3, 7, 2, 5)
  let sp = SparseBatch(batch: batch, s: s, k: k, csr: csr, seed: 21)
  let decoder = random(s * d, seed: 22)
  let target = random(batch * d, seed: 23)
  let bias = random(d, seed: 24)
  // L(values, W_dec) = ½ Σ (out − target)², out = Σ values·W_dec rows + b_dec, all in Double.
  func loss(_ vals: [Double], _ w: [Double]) -> Double {
    var total = 0.0
    for b in 0..<batch {
      for c in 0..<d {
        var o = Double(bias[c])
        for e in Int(sp.offsets[b])..<Int(sp.offsets[b + 1]) { o += vals[e] * w[Int(sp.indices[e]) * d + c] }
        total += 0.5 * (o - Double(target[b * d + c])) * (o - Double(target[b * d + c]))
      }
    }
    return total
  }
  let v64 = sp.values.map(Double.init)
  let w64 = decoder.map(Double.init)
  var out = [Float](repeating: 0, count: batch * d)
  sparseDecodeForward(
    out: &out, rowOffsets: sp.offsets, indices: sp.indices, values: sp.values, decoder: decoder, bias: bias,
    batch: batch, outputDim: d, pool: pool)
  let dOut = zip(out, target).map { $0 - $1 }
  var dValues = [Float](repeating: 0, count: sp.nnz)
  var dDecoder = [Float](repeating: 0, count: s * d)
  let index = sp.index(batch: batch, s: s, k: k, csr: csr)
  if csr {
    sparseDecodeBackward(
      dValues: &dValues, dDecoder: &dDecoder, dOut: dOut, rowOffsets: sp.offsets, indices: sp.indices,
      values: sp.values, decoder: decoder, index: index, batch: batch, outputDim: d, pool: pool)
  } else {
    sparseDecodeBackward(
      dValues: &dValues, dDecoder: &dDecoder, dOut: dOut, values: sp.values, indices: sp.indices,
      decoder: decoder, index: index, batch: batch, k: k, outputDim: d, pool: pool)
  }
  expectGradient(dValues, finiteDifference(v64) { loss($0, w64) }, "dValues")
  expectGradient(dDecoder, finiteDifference(w64) { loss(v64, $0) }, "dDecoder")
}
