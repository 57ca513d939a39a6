// Every fast kernel against its naive twin, on seeded random inputs with awkward sizes
// (not multiples of 8, odd head counts, GQA groups).

import LanternKernels
import LanternTensor
import LanternTestSupport
import Testing

let pool = ThreadPool(threadCount: 2)

func random(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
  var rng = SplitMix64(seed: seed)
  return (0..<n).map { _ in rng.nextFloat() * 2 * scale - scale }
}

func assertClose(_ a: [Float], _ b: [Float], tol: Float, _ what: String) {
  let (diff, scale) = maxAbsDifference(a, b)
  #expect(diff <= tol * max(1, scale), "\(what): max |Δ| \(diff) (scale \(scale))")
}

@Test func geluMatchesNaive() {
  let x = random(1037, seed: 1, scale: 6)
  var fast = [Float](repeating: 0, count: x.count)
  var slow = fast
  geluForward(out: &fast, inp: x, count: x.count, pool: pool)
  geluForwardNaive(out: &slow, inp: x, count: x.count)
  assertClose(fast, slow, tol: 2e-6, "gelu")
}

@Test func siluAndGatedMatchNaive() {
  let rows = 7
  let f = 45
  let gu = random(rows * 2 * f, seed: 2, scale: 10)
  var fast = [Float](repeating: 0, count: rows * f)
  var slow = fast
  gu.withUnsafeBufferPointer { p in
    siluMulForward(
      out: &fast, gate: p.baseAddress!, gateStride: 2 * f, up: p.baseAddress! + f, upStride: 2 * f,
      rows: rows,
      cols: f, pool: pool)
    siluMulForwardNaive(
      out: &slow, gate: p.baseAddress!, gateStride: 2 * f, up: p.baseAddress! + f, upStride: 2 * f,
      rows: rows,
      cols: f)
  }
  assertClose(fast, slow, tol: 2e-6, "silu·up")
  let x = random(333, seed: 3, scale: 20)
  var a = [Float](repeating: 0, count: x.count)
  var b = a
  siluForward(out: &a, inp: x, count: x.count, pool: pool)
  siluForwardNaive(out: &b, inp: x, count: x.count)
  assertClose(a, b, tol: 2e-6, "silu")
}

@Test func expIsAccurateAcrossRange() {
  var worst: Double = 0
  var x: Float = -87
  while x < 88 {
    let e = Double(exp8(SIMD8(repeating: x))[0])
    let ref = _math_exp(Double(x))
    worst = max(worst, abs(e - ref) / ref)
    x += 0.37
  }
  #expect(worst < 5e-7, "exp8 relative error \(worst)")
}

@Test(arguments: [false, true]) func layerNormMatchesNaive(withBias: Bool) {
  let rows = 11
  let c = 67
  let x = random(rows * c, seed: 4, scale: 3).map { $0 + 5 }
  let w = random(c, seed: 5)
  let bias = random(c, seed: 6)
  var o1 = [Float](repeating: 0, count: rows * c)
  var n1 = o1
  var s1 = [Float](repeating: 0, count: rows)
  var o2 = o1
  var n2 = o1
  var s2 = s1
  bias.withUnsafeBufferPointer { bp in
    let bptr = withBias ? bp.baseAddress : nil
    layerNormForward(
      out: &o1, normalized: &n1, scale: &s1, inp: x, weight: w, bias: bptr, rows: rows, cols: c, eps: 1e-5,
      pool: pool)
    layerNormForwardNaive(
      out: &o2, normalized: &n2, scale: &s2, inp: x, weight: w, bias: bptr, rows: rows, cols: c, eps: 1e-5)
  }
  assertClose(o1, o2, tol: 1e-5, "layernorm out")
  assertClose(n1, n2, tol: 1e-5, "layernorm normalized")
  assertClose(s1, s2, tol: 1e-6, "layernorm scale")
}

@Test func rmsNormMatchesNaive() {
  let rows = 9
  let c = 61
  let x = random(rows * c, seed: 7, scale: 4)
  let w = random(c, seed: 8)
  var o1 = [Float](repeating: 0, count: rows * c)
  var n1 = o1
  var s1 = [Float](repeating: 0, count: rows)
  var o2 = o1
  var n2 = o1
  var s2 = s1
  rmsNormForward(
    out: &o1, normalized: &n1, scale: &s1, inp: x, weight: w, rows: rows, cols: c, eps: 1e-6, pool: pool)
  rmsNormForwardNaive(
    out: &o2, normalized: &n2, scale: &s2, inp: x, weight: w, rows: rows, cols: c, eps: 1e-6)
  assertClose(o1, o2, tol: 1e-5, "rmsnorm out")
  assertClose(n1, n2, tol: 1e-5, "rmsnorm normalized")
  assertClose(s1, s2, tol: 1e-6, "rmsnorm scale")
}

@Test(arguments: [(1, 4, 4), (2, 6, 2), (3, 3, 1)])
func attentionMatchesNaive(batch: Int, nHeads: Int, nKV: Int) {
  let t = 13
  let hs = 10
  let stride = (nHeads + 2 * nKV) * hs + 3  // fused QKV rows with padding, as strides allow
  let qkv = random(batch * t * stride, seed: 9, scale: 2)
  let shape = AttentionShape(
    batch: batch, seqLen: t, nHeads: nHeads, nKVHeads: nKV, headSize: hs, qStride: stride, kStride: stride,
    vStride: stride)
  var z1 = [Float](repeating: 0, count: batch * t * nHeads * hs)
  var z2 = z1
  var z3 = z1
  var s1 = [Float](repeating: 0, count: batch * nHeads * t * t)
  var p1 = s1
  var s2 = s1
  var p2 = s1
  qkv.withUnsafeBufferPointer { buf in
    let q = buf.baseAddress!
    let k = q + nHeads * hs
    let v = q + (nHeads + nKV) * hs
    attentionForward(out: &z1, scores: &s1, pattern: &p1, q: q, k: k, v: v, shape: shape, pool: pool)
    attentionForwardNaive(out: &z2, scores: &s2, pattern: &p2, q: q, k: k, v: v, shape: shape)
    // The materialized path used by hooks must agree as well.
    var s3 = [Float](repeating: 0, count: s1.count)
    attentionScoresForward(scores: &s3, q: q, k: k, shape: shape, pool: pool)
    attentionSoftmaxForward(pattern: &s3, scores: s3, rows: batch * nHeads, seqLen: t, pool: pool)
    attentionApplyForward(out: &z3, pattern: s3, v: v, shape: shape, pool: pool)
    assertClose(s3, p2, tol: 1e-6, "materialized pattern")
  }
  assertClose(z1, z2, tol: 1e-5, "attention z")
  assertClose(z3, z2, tol: 1e-5, "materialized z")
  assertClose(p1, p2, tol: 1e-6, "attention pattern")
  #expect(s1.filter { $0 == -.infinity }.count == batch * nHeads * t * (t - 1) / 2, "masked scores are -inf")
  assertClose(s1, s2, tol: 1e-5, "attention scores")
}

@Test(arguments: [RotaryLayout.rotateHalf, .interleaved])
func rotaryMatchesNaive(layout: RotaryLayout) {
  let (b, t, heads, hs) = (2, 37, 3, 16)
  let stride = heads * hs + 5
  var x1 = random(b * t * stride, seed: 10, scale: 3)
  var x2 = x1
  let table = RotaryTable(rotaryDim: hs, base: 10_000, maxPositions: 64)
  rotaryForward(
    x: &x1, batch: b, seqLen: t, heads: heads, headSize: hs, stride: stride, table: table, layout: layout,
    pool: pool)
  rotaryForwardNaive(
    x: &x2, batch: b, seqLen: t, heads: heads, headSize: hs, stride: stride, rotaryDim: hs, base: 10_000,
    layout: layout)
  assertClose(x1, x2, tol: 2e-5, "rotary \(layout)")
}

/// GGML's interleaved layout on rows permuted the way llama.cpp's converter permutes them equals
/// HF's rotate-half layout on the original rows, permuted the same way: the identity the GGUF
/// loader relies on when it un-permutes W_q / W_k.
@Test func rotaryLayoutsAgreeUnderConverterPermutation() {
  let (t, hs) = (9, 8)
  let half = hs / 2
  let x = random(t * hs, seed: 11)
  func permute(_ v: [Float]) -> [Float] {  // HF row j·half + i → GGUF row 2i + j
    var out = v
    for p in 0..<t {
      for i in 0..<half { for j in 0..<2 { out[p * hs + 2 * i + j] = v[p * hs + j * half + i] } }
    }
    return out
  }
  let table = RotaryTable(rotaryDim: hs, base: 500, maxPositions: t)
  var hf = x
  rotaryForward(
    x: &hf, batch: 1, seqLen: t, heads: 1, headSize: hs, stride: hs, table: table, layout: .rotateHalf,
    pool: pool)
  var gg = permute(x)
  rotaryForward(
    x: &gg, batch: 1, seqLen: t, heads: 1, headSize: hs, stride: hs, table: table, layout: .interleaved,
    pool: pool)
  assertClose(gg, permute(hf), tol: 1e-6, "layouts under permutation")
}

@Test func embeddingAndResidualMatchNaive() {
  let (v, c, n) = (50, 12, 23)
  let table = random(v * c, seed: 12)
  let ids: [Int32] = (0..<n).map { Int32(($0 * 7) % v) }
  var a = [Float](repeating: 0, count: n * c)
  var b = a
  embeddingForward(out: &a, ids: ids, table: table, rows: n, cols: c, pool: pool)
  embeddingForwardNaive(out: &b, ids: ids, table: table, rows: n, cols: c)
  #expect(a == b)
  let y = random(n * c, seed: 13)
  var r1 = a
  var r2 = a
  residualForward(out: &r1, a: a, b: y, count: n * c, pool: pool)
  residualForwardNaive(out: &r2, a: a, b: y, count: n * c)
  #expect(r1 == r2)
}

@Test func nextTokenLossIsCrossEntropy() {
  // 1 × 3 tokens, vocab 4: uniform logits give log(4) per token.
  let logits = [Float](repeating: 0.5, count: 3 * 4)
  let tokens: [Int32] = [0, 1, 2]
  let loss = nextTokenLoss(logits: logits, tokens: tokens, batch: 1, seqLen: 3, vocab: 4, pool: pool)
  #expect(loss.count == 2)
  for l in loss { #expect(abs(l - Float(_math_log(4.0))) < 1e-6) }
}
