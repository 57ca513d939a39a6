// Training kernels, selection: top-k per row (the `topk` activation), BatchTopK over a whole batch
// (`batchtopk`, `matryoshka`), and dense → CSR conversion (ReLU / JumpReLU outputs when sparse enough).
//
// Legend: B batch rows, S dictionary width (d_sae), k kept per row, K kept per batch, NNZ entries.
// Ordering contract (layout.md): top-k rows are ordered by descending value, ties toward the lower
// latent index (PyTorch leaves its tie order unspecified, so this is ours, stated once here); CSR rows
// from BatchTopK and `denseToCSR` are ordered by ascending latent index.
// Per-row top-k is partial selection with a bounded min-heap of size k (O(S + k log k) per row on
// typical data, O(S log k) worst case), never a full sort. BatchTopK finds its threshold with a
// 15-bit radix histogram over the bit patterns of the positive values (positive floats order like
// their bit patterns), then sorts only the one boundary bucket; integer counts make every pass
// exactly reproducible, so the fast kernel is bit-identical to its naive twin for any thread count.
// AuxK's selection over the dead latents takes a candidate list (ascending latents) instead of a
// masked copy of pre. Left out: NaN inputs (a NaN never beats a number in the heap and is never positive for BatchTopK,
// but its position in a top-k row is unspecified), and the sorted=False order of torch.topk.

import CSIMD
import LanternTensor

/// Top-k per row: the k largest entries of each row of `pre`, by descending value, ties toward
/// the lower index. pre is (B,S); values and indices are (B,k); requires 0 ≤ k ≤ S.
public func topKForward(
  values: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int32>,
  pre: UnsafePointer<Float>, batch: Int, latents s: Int, k: Int, pool: ThreadPool
) {
  precondition(k >= 0 && k <= s, "topKForward: k \(k) must be in 0...\(s)")
  selectTopK(
    values: values, indices: indices, pre: pre, candidates: nil, n: s, batch: batch, s: s, k: k, pool: pool)
}

/// Top-k per row among the listed latents only (AuxK's top k_aux dead latents, without a masked copy
/// of pre): costs O(C) per row, not O(S). candidates (C,) ascending latent indices; pre (B,S);
/// values, indices (B,k) with indices naming latents; requires 0 ≤ k ≤ C.
public func topKForward(
  values: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int32>,
  pre: UnsafePointer<Float>, among candidates: UnsafePointer<Int32>, candidateCount c: Int, batch: Int,
  latents s: Int, k: Int, pool: ThreadPool
) {
  precondition(k >= 0 && k <= c, "topKForward: k \(k) must be in 0...\(c) candidates")
  for p in 0..<c {
    precondition(
      candidates[p] >= 0 && Int(candidates[p]) < s && (p == 0 || candidates[p] > candidates[p - 1]),
      "topKForward: candidates must be ascending latents in 0..<\(s)")
  }
  selectTopK(
    values: values, indices: indices, pre: pre, candidates: candidates, n: c, batch: batch, s: s, k: k,
    pool: pool)
}

/// The heap selection shared by both forms; position p of a row is latent candidates?[p] ?? p.
func selectTopK(
  values: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int32>, pre: UnsafePointer<Float>,
  candidates: UnsafePointer<Int32>?, n: Int, batch: Int, s: Int, k: Int, pool: ThreadPool
) {
  if k == 0 { return }
  pool.parallelFor(batch) { rows in
    let heapV = UnsafeMutablePointer<Float>.allocate(capacity: k)
    let heapI = UnsafeMutablePointer<Int32>.allocate(capacity: k)
    defer {
      heapV.deallocate()
      heapI.deallocate()
    }
    @inline(__always) func latent(_ p: Int) -> Int { candidates.map { Int($0[p]) } ?? p }
    for b in rows {
      let row = pre + b &* s
      // Min-heap of the k best seen, keyed by (value, −index): the root is the worst kept entry.
      // Entries arrive by ascending index, so a newcomer beats the root only if strictly larger.
      for p in 0..<k {
        let j = latent(p)
        heapV[p] = row[j]
        heapI[p] = Int32(truncatingIfNeeded: j)
        siftUp(heapV, heapI, p)
      }
      var p = k
      if candidates == nil {
        // Dense rows: once the heap holds k entries, most 64-element blocks hold nothing above its
        // root. A vector max over the block (CSIMD, vmaxps) rules them out; only blocks with a candidate are
        // scanned one by one, in index order, so the result is the scalar loop's exactly.
        while p &+ 64 <= n {
          if lantern_max_f32(row + p, 64) > heapV[0] {
            for q in p..<(p &+ 64) {
              let v = row[q]
              if v > heapV[0] {
                heapV[0] = v
                heapI[0] = Int32(truncatingIfNeeded: q)
                siftDown(heapV, heapI, 0, k)
              }
            }
          }
          p &+= 64
        }
      }
      while p < n {
        let j = latent(p)
        let v = row[j]
        if v > heapV[0] {
          heapV[0] = v
          heapI[0] = Int32(truncatingIfNeeded: j)
          siftDown(heapV, heapI, 0, k)
        }
        p &+= 1
      }
      // Pop the worst to the back: heap-sort leaves the row in descending order.
      var m = k
      while m > 1 {
        m &-= 1
        swapAt(heapV, heapI, 0, m)
        siftDown(heapV, heapI, 0, m)
      }
      (values + b &* k).update(from: heapV, count: k)
      (indices + b &* k).update(from: heapI, count: k)
    }
  }
}

/// Naive twin of `topKForward`: sorts every row fully by (value descending, index ascending).
public func topKForwardNaive(
  values: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int32>,
  pre: UnsafePointer<Float>, batch: Int, latents s: Int, k: Int
) {
  for b in 0..<batch {
    let order = (0..<s).sorted { x, y in
      let vx = pre[b * s + x]
      let vy = pre[b * s + y]
      return vx > vy || (vx == vy && x < y)
    }
    for j in 0..<k {
      values[b * k + j] = pre[b * s + order[j]]
      indices[b * k + j] = Int32(order[j])
    }
  }
}

/// Naive twin of `topKForward(…among:…)`: sorts each row's candidates fully.
public func topKForwardNaive(
  values: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int32>,
  pre: UnsafePointer<Float>, among candidates: [Int32], batch: Int, latents s: Int, k: Int
) {
  for b in 0..<batch {
    let order = candidates.map(Int.init).sorted { x, y in
      let vx = pre[b * s + x]
      let vy = pre[b * s + y]
      return vx > vy || (vx == vy && x < y)
    }
    for j in 0..<k {
      values[b * k + j] = pre[b * s + order[j]]
      indices[b * k + j] = Int32(order[j])
    }
  }
}

/// True when entry a ranks below entry b (smaller value, or equal value and higher index).
@inline(__always)
private func below(
  _ v: UnsafeMutablePointer<Float>, _ i: UnsafeMutablePointer<Int32>, _ a: Int, _ b: Int
) -> Bool {
  v[a] < v[b] || (v[a] == v[b] && i[a] > i[b])
}

@inline(__always)
private func swapAt(_ v: UnsafeMutablePointer<Float>, _ i: UnsafeMutablePointer<Int32>, _ a: Int, _ b: Int) {
  let tv = v[a]
  v[a] = v[b]
  v[b] = tv
  let ti = i[a]
  i[a] = i[b]
  i[b] = ti
}

@inline(__always)
private func siftUp(_ v: UnsafeMutablePointer<Float>, _ i: UnsafeMutablePointer<Int32>, _ start: Int) {
  var c = start
  while c > 0 {
    let p = (c &- 1) >> 1
    if !below(v, i, c, p) { return }
    swapAt(v, i, c, p)
    c = p
  }
}

@inline(__always)
private func siftDown(
  _ v: UnsafeMutablePointer<Float>, _ i: UnsafeMutablePointer<Int32>, _ start: Int, _ n: Int
) {
  var p = start
  while true {
    let l = 2 &* p &+ 1
    if l >= n { return }
    var m = l
    if l &+ 1 < n && below(v, i, l &+ 1, l) { m = l &+ 1 }
    if !below(v, i, m, p) { return }
    swapAt(v, i, m, p)
    p = m
  }
}

/// What BatchTopK selected: `count` entries were written, the smallest of them is `smallestSelected`
/// (nil when nothing positive was selected) — the candidate for the inference threshold's EMA.
public struct BatchTopKSelection: Sendable, Equatable {
  /// Entries written to the CSR arrays (rowOffsets[B]).
  public var count: Int
  /// The smallest selected value.
  public var smallestSelected: Float?

  public init(count: Int, smallestSelected: Float?) {
    self.count = count
    self.smallestSelected = smallestSelected
  }
}

/// BatchTopK: keeps the `keep` largest positive entries of the whole batch (K = k·B in SAELens'
/// `BatchTopK`, which applies ReLU first; zeros and negatives are never selected, so fewer than
/// `keep` come back when fewer are positive). Ties at the threshold go to the lower (row, index).
/// pre is (B,S); out: rowOffsets (B+1), indices and values with capacity ≥ min(keep, B·S), each row
/// by ascending latent index.
public func batchTopKForward(
  rowOffsets: UnsafeMutablePointer<Int32>, indices: UnsafeMutablePointer<Int32>,
  values: UnsafeMutablePointer<Float>, pre: UnsafePointer<Float>, batch: Int, latents s: Int, keep: Int,
  pool: ThreadPool
) -> BatchTopKSelection {
  precondition(keep >= 0, "batchTopKForward: keep \(keep) must be ≥ 0")
  if keep == 0 || batch == 0 {
    for b in 0...batch { rowOffsets[b] = 0 }
    return BatchTopKSelection(count: 0, smallestSelected: nil)
  }
  let buckets = 1 << 15  // positive float bits >> 16: sign bit clear, so 15 bits remain
  let parts = max(1, min(pool.threadCount, batch))
  // Pass 1: per-thread histograms of the positive values' top bits, merged in thread order.
  var histogram = [Int](repeating: 0, count: buckets * parts)
  histogram.withUnsafeMutableBufferPointer { h in
    let hp = h.baseAddress!
    pool.run { t in
      guard t < parts else { return }
      let local = hp + t &* buckets
      for b in (batch * t / parts)..<(batch * (t + 1) / parts) {
        let row = pre + b &* s
        for j in 0..<s where row[j] > 0 { local[Int(row[j].bitPattern >> 16)] &+= 1 }
      }
    }
  }
  var boundary = -1  // the bucket holding the last selected entry; everything above is kept
  var above = 0
  var remaining = keep
  for bucket in stride(from: buckets - 1, through: 0, by: -1) where remaining > 0 {
    var c = 0
    for t in 0..<parts { c &+= histogram[t * buckets + bucket] }
    if c >= remaining {
      boundary = bucket
      break
    }
    above &+= c
    remaining &-= c
  }
  // boundary == -1: every positive entry fits, nothing to break.
  // Pass 2: the boundary bucket's entries in (row, index) order, then the exact cut inside it.
  var cutValue: Float = .infinity
  var cutPosition = -1  // flat index of the last selected entry equal to cutValue
  if boundary >= 0 {
    let key = UInt32(boundary)
    let lists = UnsafeMutablePointer<[(value: Float, position: Int)]>.allocate(capacity: parts)
    lists.initialize(repeating: [], count: parts)
    defer { lists.deinitialize(count: parts).deallocate() }
    pool.run { t in
      guard t < parts else { return }
      for b in (batch * t / parts)..<(batch * (t + 1) / parts) {
        let row = pre + b &* s
        for j in 0..<s where row[j] > 0 && row[j].bitPattern >> 16 == key {
          lists[t].append((row[j], b &* s &+ j))
        }
      }
    }
    var inBucket: [(value: Float, position: Int)] = []
    for t in 0..<parts { inBucket += lists[t] }
    inBucket.sort { $0.value > $1.value || ($0.value == $1.value && $0.position < $1.position) }
    cutValue = inBucket[remaining - 1].value
    cutPosition = inBucket[remaining - 1].position
  }
  let (cutFound, cutV, cutP) = (boundary >= 0, cutValue, cutPosition)
  @inline(__always) func selected(_ v: Float, _ position: Int) -> Bool {
    if !(v > 0) { return false }
    if !cutFound { return true }
    return v > cutV || (v == cutV && position <= cutP)
  }
  // Pass 3: per-row counts, a prefix sum, then each row fills its own slice.
  rowOffsets[0] = 0
  pool.parallelFor(batch) { rows in
    for b in rows {
      let row = pre + b &* s
      var c: Int32 = 0
      for j in 0..<s where selected(row[j], b &* s &+ j) { c &+= 1 }
      rowOffsets[b &+ 1] = c
    }
  }
  for b in 0..<batch { rowOffsets[b + 1] &+= rowOffsets[b] }
  pool.parallelFor(batch) { rows in
    for b in rows {
      let row = pre + b &* s
      var e = Int(rowOffsets[b])
      for j in 0..<s where selected(row[j], b &* s &+ j) {
        indices[e] = Int32(truncatingIfNeeded: j)
        values[e] = row[j]
        e &+= 1
      }
    }
  }
  let count = Int(rowOffsets[batch])
  if count == 0 { return BatchTopKSelection(count: 0, smallestSelected: nil) }
  if boundary >= 0 { return BatchTopKSelection(count: count, smallestSelected: cutValue) }
  var smallest = Float.infinity
  for e in 0..<count { smallest = min(smallest, values[e]) }
  return BatchTopKSelection(count: count, smallestSelected: smallest)
}

/// Naive twin of `batchTopKForward`: sorts every positive entry of the batch.
public func batchTopKForwardNaive(
  rowOffsets: UnsafeMutablePointer<Int32>, indices: UnsafeMutablePointer<Int32>,
  values: UnsafeMutablePointer<Float>, pre: UnsafePointer<Float>, batch: Int, latents s: Int, keep: Int
) -> BatchTopKSelection {
  var all: [(value: Float, position: Int)] = []
  for p in 0..<(batch * s) where pre[p] > 0 { all.append((pre[p], p)) }
  all.sort { $0.value > $1.value || ($0.value == $1.value && $0.position < $1.position) }
  let chosen = all.prefix(keep).sorted { $0.position < $1.position }
  var e = 0
  rowOffsets[0] = 0
  for b in 0..<batch {
    while e < chosen.count && chosen[e].position / s == b {
      indices[e] = Int32(chosen[e].position % s)
      values[e] = chosen[e].value
      e += 1
    }
    rowOffsets[b + 1] = Int32(e)
  }
  return BatchTopKSelection(count: chosen.count, smallestSelected: chosen.map(\.value).min())
}

/// Dense → CSR: the non-zero entries of each row of `dense` by ascending index (ReLU and JumpReLU
/// outputs when sparse enough). dense is (B,S); rowOffsets (B+1); indices, values with capacity
/// `capacity`. Returns the entry count, or nil (nothing usable written) when it exceeds `capacity`.
public func denseToCSR(
  rowOffsets: UnsafeMutablePointer<Int32>, indices: UnsafeMutablePointer<Int32>,
  values: UnsafeMutablePointer<Float>, dense: UnsafePointer<Float>, batch: Int, latents s: Int,
  capacity: Int, pool: ThreadPool
) -> Int? {
  rowOffsets[0] = 0
  pool.parallelFor(batch) { rows in
    for b in rows {
      let row = dense + b &* s
      var c: Int32 = 0
      for j in 0..<s where row[j] != 0 { c &+= 1 }
      rowOffsets[b &+ 1] = c
    }
  }
  var total = 0
  for b in 0..<batch {
    total += Int(rowOffsets[b + 1])
    rowOffsets[b + 1] = Int32(truncatingIfNeeded: total)
    if total > capacity { return nil }
  }
  pool.parallelFor(batch) { rows in
    for b in rows {
      let row = dense + b &* s
      var e = Int(rowOffsets[b])
      for j in 0..<s where row[j] != 0 {
        indices[e] = Int32(truncatingIfNeeded: j)
        values[e] = row[j]
        e &+= 1
      }
    }
  }
  return total
}
