// Encoder-weight gradients, sparse and dense: fast vs naive, thread-count independence of the sparse
// path, and central finite differences in Double of ½Σ(pre − target)² over the encoder weight and bias.

import LanternKernels
import LanternTensor
import LanternTestSupport
import Testing

@Test(arguments: [(7, 37, 5, 19, false), (5, 29, 1, 9, false), (3, 23, 23, 17, false), (6, 41, 0, 13, true)])
func sparseEncoderBackwardMatchesNaive(batch: Int, s: Int, k: Int, i: Int, csr: Bool) {
  let sp = SparseBatch(batch: batch, s: s, k: k, csr: csr, seed: UInt64(100 + s))
  let x = random(batch * i, seed: 31)
  let dPre = random(sp.nnz, seed: 32)
  let index = sp.index(batch: batch, s: s, k: k, csr: csr)
  var runs: [([Float], [Float])] = []
  for threads in [1, 2, 3] {
    var w = random(s * i, seed: 33)
    var bias = random(s, seed: 34)
    sparseEncoderBackward(
      dEncoderWeight: &w, dEncoderBias: &bias, dPre: dPre, x: x, index: index, inputDim: i,
      pool: ThreadPool(threadCount: threads))
    runs.append((w, bias))
  }
  #expect(runs[0].0 == runs[1].0 && runs[1].0 == runs[2].0, "dEncoderWeight bytes vary with threads")
  #expect(runs[0].1 == runs[1].1 && runs[1].1 == runs[2].1, "dEncoderBias bytes vary with threads")
  var w = random(s * i, seed: 33)
  var bias = random(s, seed: 34)
  sp.offsets.withUnsafeBufferPointer { o in
    sparseEncoderBackwardNaive(
      dEncoderWeight: &w, dEncoderBias: &bias, dPre: dPre, x: x, rowOffsets: csr ? o.baseAddress : nil,
      indices: sp.indices, batch: batch, latents: s, k: k, inputDim: i)
  }
  assertClose(runs[1].0, w, tol: 1e-5, "dEncoderWeight")
  assertClose(runs[1].1, bias, tol: 1e-5, "dEncoderBias")
}

@Test(arguments: [(7, 37, 19), (1, 9, 1), (13, 70, 11)])
func denseEncoderBackwardMatchesNaive(batch: Int, s: Int, i: Int) {
  let x = random(batch * i, seed: 41)
  let dPre = random(batch * s, seed: 42)
  var w1 = random(s * i, seed: 43)
  var b1 = random(s, seed: 44)
  var w2 = w1
  var b2 = b1
  denseEncoderBackward(
    dEncoderWeight: &w1, dEncoderBias: &b1, dPre: dPre, x: x, batch: batch, latents: s, inputDim: i,
    pool: pool)
  denseEncoderBackwardNaive(
    dEncoderWeight: &w2, dEncoderBias: &b2, dPre: dPre, x: x, batch: batch, latents: s, inputDim: i)
  assertClose(w1, w2, tol: 1e-5, "dense dEncoderWeight")
  assertClose(b1, b2, tol: 1e-5, "dense dEncoderBias")
}

@Test(arguments: [false, true])
func encoderBackwardMatchesFiniteDifferences(dense: Bool) {
  let (batch, s, k, i) = (3, 6, 2, 5)
  let sp = SparseBatch(batch: batch, s: s, k: k, csr: false, seed: 51)
  let x = random(batch * i, seed: 52)
  let target = random(batch * s, seed: 53)
  let w = random(s * i, seed: 54)
  let bEnc = random(s, seed: 55)
  // Active pairs: the sparse batch's (b, latent) entries; dense: every pair.
  var pairs: [(b: Int, l: Int)] = []
  for b in 0..<batch {
    if dense {
      for l in 0..<s { pairs.append((b, l)) }
    } else {
      for e in (b * k)..<((b + 1) * k) { pairs.append((b, Int(sp.indices[e]))) }
    }
  }
  func pre(_ w: [Double], _ bias: [Double], _ b: Int, _ l: Int) -> Double {
    var acc = bias[l]
    for c in 0..<i { acc += Double(x[b * i + c]) * w[l * i + c] }
    return acc
  }
  func loss(_ w: [Double], _ bias: [Double]) -> Double {
    pairs.reduce(0.0) { acc, p in
      let r = pre(w, bias, p.b, p.l) - Double(target[p.b * s + p.l])
      return acc + 0.5 * r * r
    }
  }
  let w64 = w.map(Double.init)
  let b64 = bEnc.map(Double.init)
  var dW = [Float](repeating: 0, count: s * i)
  var dB = [Float](repeating: 0, count: s)
  if dense {
    var dPre = [Float](repeating: 0, count: batch * s)
    for p in pairs { dPre[p.b * s + p.l] = Float(pre(w64, b64, p.b, p.l)) - target[p.b * s + p.l] }
    denseEncoderBackward(
      dEncoderWeight: &dW, dEncoderBias: &dB, dPre: dPre, x: x, batch: batch, latents: s, inputDim: i,
      pool: pool)
  } else {
    let dPre = pairs.map { Float(pre(w64, b64, $0.b, $0.l)) - target[$0.b * s + $0.l] }
    let index = sp.index(batch: batch, s: s, k: k, csr: false)
    sparseEncoderBackward(
      dEncoderWeight: &dW, dEncoderBias: &dB, dPre: dPre, x: x, index: index, inputDim: i, pool: pool)
  }
  expectGradient(dW, finiteDifference(w64) { loss($0, b64) }, "dEncoderWeight")
  expectGradient(dB, finiteDifference(b64) { loss(w64, $0) }, "dEncoderBias")
}

@Test func denseRuleFollowsDensity() {
  #expect(prefersDenseEncoderBackward(nnz: 4096 * 9216 / 10, batch: 4096, latents: 9216))
  #expect(!prefersDenseEncoderBackward(nnz: 4096 * 32, batch: 4096, latents: 9216))
}
