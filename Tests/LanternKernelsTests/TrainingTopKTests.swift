// Selection kernels against their naive twins (full sorts), bit for bit: awkward sizes, k = 1, k = S,
// heavy ties (values quantised to a few levels), and several thread counts.

import LanternKernels
import LanternTensor
import LanternTestSupport
import Testing

/// Random values in [-scale, scale]; with `levels` > 0 rounded to that many steps (forces ties).
func randomTied(_ n: Int, seed: UInt64, scale: Float = 1, levels: Int = 0) -> [Float] {
  let x = random(n, seed: seed, scale: scale)
  guard levels > 0 else { return x }
  return x.map { ($0 / scale * Float(levels)).rounded() / Float(levels) * scale }
}

@Test(arguments: [(7, 37, 5, 0), (5, 29, 1, 0), (3, 23, 23, 0), (4, 61, 13, 3), (6, 50, 50, 2), (1, 9, 0, 0)])
func topKMatchesNaive(batch: Int, s: Int, k: Int, levels: Int) {
  let pre = randomTied(batch * s, seed: UInt64(11 + s), levels: levels)
  var v1 = [Float](repeating: 0, count: batch * k)
  var i1 = [Int32](repeating: 0, count: batch * k)
  var v2 = v1
  var i2 = i1
  topKForward(values: &v1, indices: &i1, pre: pre, batch: batch, latents: s, k: k, pool: pool)
  topKForwardNaive(values: &v2, indices: &i2, pre: pre, batch: batch, latents: s, k: k)
  #expect(v1 == v2)
  #expect(i1 == i2)
}

@Test func topKTiesGoToLowerIndex() {
  let pre: [Float] = [1, 3, 3, 0, 3, 2]
  var v = [Float](repeating: 0, count: 4)
  var i = [Int32](repeating: 0, count: 4)
  topKForward(values: &v, indices: &i, pre: pre, batch: 1, latents: 6, k: 4, pool: pool)
  #expect(i == [1, 2, 4, 5])
  #expect(v == [3, 3, 3, 2])
}

/// Runs both BatchTopK forms and returns (fast, naive) CSR triples plus selections.
func runBatchTopK(pre: [Float], batch: Int, s: Int, keep: Int, threads: Int) -> (
  fast: ([Int32], [Int32], [Float], BatchTopKSelection),
  naive: ([Int32], [Int32], [Float], BatchTopKSelection)
) {
  let cap = max(1, min(keep, batch * s))
  var o1 = [Int32](repeating: -1, count: batch + 1)
  var i1 = [Int32](repeating: -1, count: cap)
  var v1 = [Float](repeating: -1, count: cap)
  var o2 = o1
  var i2 = i1
  var v2 = v1
  let p = ThreadPool(threadCount: threads)
  let r1 = batchTopKForward(
    rowOffsets: &o1, indices: &i1, values: &v1, pre: pre, batch: batch, latents: s, keep: keep, pool: p)
  let r2 = batchTopKForwardNaive(
    rowOffsets: &o2, indices: &i2, values: &v2, pre: pre, batch: batch, latents: s, keep: keep)
  return ((o1, i1, v1, r1), (o2, i2, v2, r2))
}

@Test(arguments: [
  (9, 37, 5, 0), (5, 29, 1, 0), (4, 23, 23, 0), (16, 61, 13, 3), (6, 50, 300, 2), (3, 17, 0, 0),
  (64, 300, 7, 40), (64, 300, 7, 0),
])
func batchTopKMatchesNaive(batch: Int, s: Int, kPerRow: Int, levels: Int) {
  let pre = randomTied(batch * s, seed: UInt64(5 + batch * s), scale: 2, levels: levels)
  for threads in [1, 2, 3] {
    let (fast, naive) = runBatchTopK(pre: pre, batch: batch, s: s, keep: kPerRow * batch, threads: threads)
    #expect(fast.0 == naive.0, "row offsets, \(threads) threads")
    #expect(fast.1 == naive.1, "indices, \(threads) threads")
    #expect(fast.2 == naive.2, "values, \(threads) threads")
    #expect(fast.3 == naive.3, "selection, \(threads) threads")
  }
  let positives = pre.filter { $0 > 0 }.count
  let (fast, _) = runBatchTopK(pre: pre, batch: batch, s: s, keep: kPerRow * batch, threads: 2)
  #expect(fast.3.count == min(positives, kPerRow * batch))
}

@Test func batchTopKBreaksTiesByRowThenIndex() {
  // Five entries equal to 1 compete for the last two slots after the single 2.
  let pre: [Float] = [0, 1, -1, 1, 1, 2, 1, 0, 1]
  let (fast, _) = runBatchTopK(pre: pre, batch: 3, s: 3, keep: 3, threads: 2)
  #expect(fast.0 == [0, 1, 3, 3])
  #expect(Array(fast.1.prefix(3)) == [1, 0, 2])
  #expect(fast.3 == BatchTopKSelection(count: 3, smallestSelected: 1))
}

@Test func denseToCSRKeepsNonZerosInOrder() {
  let batch = 7
  let s = 33
  let dense = random(batch * s, seed: 77).map { max(0, $0 - 0.5) }
  let nnz = dense.filter { $0 != 0 }.count
  var o = [Int32](repeating: 0, count: batch + 1)
  var i = [Int32](repeating: 0, count: nnz)
  var v = [Float](repeating: 0, count: nnz)
  let got = denseToCSR(
    rowOffsets: &o, indices: &i, values: &v, dense: dense, batch: batch, latents: s, capacity: nnz,
    pool: pool)
  #expect(got == nnz)
  var e = 0
  for b in 0..<batch {
    #expect(Int(o[b]) == e)
    for j in 0..<s where dense[b * s + j] != 0 {
      #expect(i[e] == Int32(j) && v[e] == dense[b * s + j])
      e += 1
    }
  }
  let tooSmall = denseToCSR(
    rowOffsets: &o, indices: &i, values: &v, dense: dense, batch: batch, latents: s, capacity: nnz - 1,
    pool: pool)
  #expect(tooSmall == nil)
}

@Test(arguments: [(7, 37, 5, 0), (5, 29, 1, 2), (3, 23, 11, 0), (4, 61, 1, 3)])
func topKAmongCandidatesMatchesNaive(batch: Int, s: Int, k: Int, levels: Int) {
  let pre = randomTied(batch * s, seed: UInt64(50 + s), levels: levels)
  var rng = SplitMix64(seed: UInt64(s))
  var candidates = (0..<s).filter { _ in rng.next() % 3 == 0 }.map(Int32.init)
  if candidates.count < k { candidates = (0..<Int32(k)).map { $0 } }
  if k == s { candidates = (0..<Int32(s)).map { $0 } }
  var v1 = [Float](repeating: 0, count: batch * k)
  var i1 = [Int32](repeating: 0, count: batch * k)
  var v2 = v1
  var i2 = i1
  topKForward(
    values: &v1, indices: &i1, pre: pre, among: candidates, candidateCount: candidates.count, batch: batch,
    latents: s, k: k, pool: pool)
  topKForwardNaive(values: &v2, indices: &i2, pre: pre, among: candidates, batch: batch, latents: s, k: k)
  #expect(v1 == v2)
  #expect(i1 == i2)
  #expect(i1.allSatisfy { candidates.contains($0) })
  // k = C: every candidate comes back.
  var v3 = [Float](repeating: 0, count: batch * candidates.count)
  var i3 = [Int32](repeating: 0, count: batch * candidates.count)
  var v4 = v3
  var i4 = i3
  topKForward(
    values: &v3, indices: &i3, pre: pre, among: candidates, candidateCount: candidates.count, batch: batch,
    latents: s, k: candidates.count, pool: pool)
  topKForwardNaive(
    values: &v4, indices: &i4, pre: pre, among: candidates, batch: batch, latents: s, k: candidates.count)
  #expect(v3 == v4 && i3 == i4)
}
