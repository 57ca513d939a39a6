// Training kernels, sparse decode and sparse gradients: x̂ = f·W_dec + b_dec when f has few non-zeros
// per row, its backward (dValues and the decoder-weight gradient over the active latents only), the
// encoder-weight gradient (sparse over the active entries, or dense through BLAS; see "Encoder
// backward" below), and the inverted index (latent → its entries) that makes scatter-type gradients
// deterministic under threads.
//
// Legend: B batch rows, S dictionary width (d_sae), D output width (d_out; n·d_out for a crosscoder),
// k kept per row (fixed-k form), NNZ entries. Sparse batches come in two forms (layout.md): fixed-k
// (values (B,k), indices (B,k) Int32; entry e = b·k + j) and CSR (rowOffsets (B+1) Int32, indices and
// values (NNZ,); row b owns entries rowOffsets[b]..<rowOffsets[b+1]).
// Determinism: forward and dValues split output rows across threads; a scatter into W_dec rows
// (`dDecoder[s,:] += Σ values[e]·dOut[b_e,:]`) is instead gathered per latent through `LatentIndex`
// (a counting sort of the entries by latent, stable in entry order), and each thread owns a range
// of latents and sums its entries in that fixed order. The result is the same bytes for every
// thread count. Indices are trusted by the kernels; `LatentIndex.build` checks them once.
// Left out: the gradient with respect to the decoder input of a dense f (use BLAS), and dBDec
// (a column sum of dOut, which the model does with its other dense terms).

import LanternTensor

/// Entry ranges of the rows of a sparse batch, fixed-k or CSR.
struct RowSpans {
  let offsets: UnsafePointer<Int32>?
  let k: Int
  @inline(__always) func start(_ b: Int) -> Int { offsets.map { Int($0[b]) } ?? b &* k }
  @inline(__always) func end(_ b: Int) -> Int { offsets.map { Int($0[b &+ 1]) } ?? (b &+ 1) &* k }
}

/// y[0..<n] += a·x[0..<n].
@inline(__always)
func axpy(_ y: UnsafeMutablePointer<Float>, _ a: Float, _ x: UnsafePointer<Float>, _ n: Int) {
  let av = SIMD8<Float>(repeating: a)
  var i = 0
  while i &+ 8 <= n {
    store8(load8(y + i).addingProduct(av, load8(x + i)), y + i)
    i &+= 8
  }
  while i < n {
    y[i] = y[i].addingProduct(a, x[i])
    i &+= 1
  }
}

/// Σ x[i]·y[i] over i in 0..<n (eight lanes, then the tail; a fixed order for a given n).
@inline(__always)
func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
  var acc = SIMD8<Float>(repeating: 0)
  var i = 0
  while i &+ 8 <= n {
    acc = acc.addingProduct(load8(x + i), load8(y + i))
    i &+= 8
  }
  var s = acc.sum()
  while i < n {
    s = s.addingProduct(x[i], y[i])
    i &+= 1
  }
  return s
}

/// An inverted index of a sparse batch: for each latent s, its entries (flat entry number e and
/// row b) in ascending entry order. Built once per step, shared by the decoder- and encoder-weight
/// gradients, the AuxK dead-latent mask and the firing counters.
public struct LatentIndex: Sendable {
  /// (S+1): latent s owns slots latentOffsets[s]..<latentOffsets[s+1] of `entries` and `rows`.
  public private(set) var latentOffsets: [Int32] = []
  /// (NNZ): entry numbers grouped by latent, ascending within a latent.
  public private(set) var entries: [Int32] = []
  /// (NNZ): the batch row of each slot of `entries`.
  public private(set) var rows: [Int32] = []
  /// Dictionary width S the index was built for.
  public private(set) var latents = 0

  /// An empty index; call `build` before use.
  public init() {}

  /// Rebuilds the index for a fixed-k batch: indices (B,k), each in 0..<S.
  public mutating func build(indices: UnsafePointer<Int32>, batch: Int, k: Int, latents s: Int) {
    build(spans: RowSpans(offsets: nil, k: k), indices: indices, batch: batch, latents: s)
  }

  /// Rebuilds the index for a CSR batch: rowOffsets (B+1), indices (NNZ,), each in 0..<S.
  public mutating func build(
    rowOffsets: UnsafePointer<Int32>, indices: UnsafePointer<Int32>, batch: Int, latents s: Int
  ) {
    build(spans: RowSpans(offsets: rowOffsets, k: 0), indices: indices, batch: batch, latents: s)
  }

  mutating func build(spans: RowSpans, indices: UnsafePointer<Int32>, batch: Int, latents s: Int) {
    let nnz = batch > 0 ? spans.end(batch - 1) : 0
    latents = s
    latentOffsets = [Int32](repeating: 0, count: s + 1)
    entries = [Int32](repeating: 0, count: nnz)
    rows = [Int32](repeating: 0, count: nnz)
    latentOffsets.withUnsafeMutableBufferPointer { off in
      let o = off.baseAddress!
      for e in 0..<nnz {
        let l = Int(indices[e])
        precondition(l >= 0 && l < s, "LatentIndex: index \(l) at entry \(e) is outside 0..<\(s)")
        o[l &+ 1] &+= 1
      }
      for l in 0..<s { o[l &+ 1] &+= o[l] }
      entries.withUnsafeMutableBufferPointer { ent in
        rows.withUnsafeMutableBufferPointer { rw in
          // Fill by ascending entry number, using o[l] as latent l's cursor, then shift back.
          for b in 0..<batch {
            for e in spans.start(b)..<spans.end(b) {
              let l = Int(indices[e])
              let slot = Int(o[l])
              ent[slot] = Int32(truncatingIfNeeded: e)
              rw[slot] = Int32(truncatingIfNeeded: b)
              o[l] &+= 1
            }
          }
        }
      }
      var l = s
      while l > 0 {
        o[l] = o[l &- 1]
        l &-= 1
      }
      o[0] = 0
    }
  }

  /// Entries of latent s.
  @inline(__always) public func count(of s: Int) -> Int {
    Int(latentOffsets[s + 1] - latentOffsets[s])
  }

  /// The distinct latents with at least one entry, ascending (for AuxK and dead-latent counters).
  public var activeLatents: [Int32] {
    var out: [Int32] = []
    for s in 0..<latents where latentOffsets[s + 1] > latentOffsets[s] {
      out.append(Int32(truncatingIfNeeded: s))
    }
    return out
  }

  /// Splits 0..<S into `parts` contiguous latent ranges holding about equal numbers of entries.
  func latentRange(part t: Int, of parts: Int) -> Range<Int> {
    let nnz = entries.count
    func boundary(_ t: Int) -> Int {
      if t == 0 { return 0 }
      if t == parts { return latents }
      if nnz == 0 { return latents * t / parts }
      let target = Int32(truncatingIfNeeded: nnz * t / parts)
      var lo = 0
      var hi = latents  // first s with latentOffsets[s] >= target
      while lo < hi {
        let mid = (lo + hi) / 2
        if latentOffsets[mid] < target { lo = mid + 1 } else { hi = mid }
      }
      return lo
    }
    return boundary(t)..<boundary(t + 1)
  }
}

/// Sparse decode, fixed-k: out[b,:] = b_dec + Σ_j values[b,j]·decoder[indices[b,j],:].
/// values, indices are (B,k); decoder is W_dec (S,D); bias is b_dec (D,) or nil; out is (B,D).
public func sparseDecodeForward(
  out: UnsafeMutablePointer<Float>, values: UnsafePointer<Float>, indices: UnsafePointer<Int32>,
  decoder: UnsafePointer<Float>, bias: UnsafePointer<Float>?, batch: Int, k: Int, outputDim d: Int,
  pool: ThreadPool
) {
  decodeForward(
    out: out, spans: RowSpans(offsets: nil, k: k), indices: indices, values: values, decoder: decoder,
    bias: bias, batch: batch, d: d, pool: pool)
}

/// Sparse decode, CSR: out[b,:] = b_dec + Σ_{e in row b} values[e]·decoder[indices[e],:].
/// rowOffsets (B+1); indices, values (NNZ,); decoder (S,D); bias (D,) or nil; out (B,D).
public func sparseDecodeForward(
  out: UnsafeMutablePointer<Float>, rowOffsets: UnsafePointer<Int32>, indices: UnsafePointer<Int32>,
  values: UnsafePointer<Float>, decoder: UnsafePointer<Float>, bias: UnsafePointer<Float>?, batch: Int,
  outputDim d: Int, pool: ThreadPool
) {
  decodeForward(
    out: out, spans: RowSpans(offsets: rowOffsets, k: 0), indices: indices, values: values,
    decoder: decoder, bias: bias, batch: batch, d: d, pool: pool)
}

func decodeForward(
  out: UnsafeMutablePointer<Float>, spans: RowSpans, indices: UnsafePointer<Int32>,
  values: UnsafePointer<Float>, decoder: UnsafePointer<Float>, bias: UnsafePointer<Float>?, batch: Int,
  d: Int, pool: ThreadPool
) {
  pool.parallelFor(batch) { rows in
    for b in rows {
      let o = out + b &* d
      if let bias { o.update(from: bias, count: d) } else { o.update(repeating: 0, count: d) }
      for e in spans.start(b)..<spans.end(b) {
        axpy(o, values[e], decoder + Int(indices[e]) &* d, d)
      }
    }
  }
}

/// Naive twin of both `sparseDecodeForward` forms (pass rowOffsets nil for fixed-k).
public func sparseDecodeForwardNaive(
  out: UnsafeMutablePointer<Float>, rowOffsets: UnsafePointer<Int32>?, indices: UnsafePointer<Int32>,
  values: UnsafePointer<Float>, decoder: UnsafePointer<Float>, bias: UnsafePointer<Float>?, batch: Int,
  k: Int, outputDim d: Int
) {
  let spans = RowSpans(offsets: rowOffsets, k: k)
  for b in 0..<batch {
    for c in 0..<d {
      var acc = Double(bias?[c] ?? 0)
      for e in spans.start(b)..<spans.end(b) {
        acc += Double(values[e]) * Double(decoder[Int(indices[e]) * d + c])
      }
      out[b * d + c] = Float(acc)
    }
  }
}

/// Sparse decode backward, fixed-k. dValues[b,j] = dOut[b,:]·decoder[indices[b,j],:] (overwritten);
/// dDecoder[s,:] += Σ_{(b,j): indices[b,j]=s} values[b,j]·dOut[b,:] over active latents only.
/// dOut (B,D); values, indices, dValues (B,k); decoder, dDecoder (S,D); `index` built from these
/// indices. Pass dDecoder nil to get dValues alone (e.g. for a loss on a frozen decoder).
public func sparseDecodeBackward(
  dValues: UnsafeMutablePointer<Float>, dDecoder: UnsafeMutablePointer<Float>?,
  dOut: UnsafePointer<Float>, values: UnsafePointer<Float>, indices: UnsafePointer<Int32>,
  decoder: UnsafePointer<Float>, index: LatentIndex, batch: Int, k: Int, outputDim d: Int,
  pool: ThreadPool
) {
  decodeValuesBackward(
    dValues: dValues, dOut: dOut, spans: RowSpans(offsets: nil, k: k), indices: indices, decoder: decoder,
    batch: batch, d: d, pool: pool)
  if let dDecoder {
    gatherRowsByLatent(
      out: dDecoder, bias: nil, coefficients: values, rowsOf: dOut, index: index, d: d, pool: pool)
  }
}

/// Sparse decode backward, CSR; as the fixed-k form with rowOffsets (B+1) and dValues (NNZ,).
public func sparseDecodeBackward(
  dValues: UnsafeMutablePointer<Float>, dDecoder: UnsafeMutablePointer<Float>?,
  dOut: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int32>, indices: UnsafePointer<Int32>,
  values: UnsafePointer<Float>, decoder: UnsafePointer<Float>, index: LatentIndex, batch: Int,
  outputDim d: Int, pool: ThreadPool
) {
  decodeValuesBackward(
    dValues: dValues, dOut: dOut, spans: RowSpans(offsets: rowOffsets, k: 0), indices: indices,
    decoder: decoder, batch: batch, d: d, pool: pool)
  if let dDecoder {
    gatherRowsByLatent(
      out: dDecoder, bias: nil, coefficients: values, rowsOf: dOut, index: index, d: d, pool: pool)
  }
}

func decodeValuesBackward(
  dValues: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, spans: RowSpans,
  indices: UnsafePointer<Int32>, decoder: UnsafePointer<Float>, batch: Int, d: Int, pool: ThreadPool
) {
  pool.parallelFor(batch) { rows in
    for b in rows {
      let g = dOut + b &* d
      for e in spans.start(b)..<spans.end(b) {
        dValues[e] = dot(g, decoder + Int(indices[e]) &* d, d)
      }
    }
  }
}

/// out[s,:] += Σ_{slots of s} coefficients[e]·rowsOf[b,:], and bias[s] += Σ coefficients[e], for every
/// latent s, in the index's slot order; each thread owns a latent range. out (S,D), rowsOf (B,D).
func gatherRowsByLatent(
  out: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>?, coefficients: UnsafePointer<Float>,
  rowsOf: UnsafePointer<Float>, index: LatentIndex, d: Int, pool: ThreadPool
) {
  let parts = max(1, min(pool.threadCount, index.latents))
  index.latentOffsets.withUnsafeBufferPointer { off in
    index.entries.withUnsafeBufferPointer { ent in
      index.rows.withUnsafeBufferPointer { rw in
        pool.run { t in
          guard t < parts else { return }
          for s in index.latentRange(part: t, of: parts) {
            let lo = Int(off[s])
            let hi = Int(off[s &+ 1])
            if lo == hi { continue }
            let o = out + s &* d
            var sum: Float = 0
            for slot in lo..<hi {
              let c = coefficients[Int(ent[slot])]
              axpy(o, c, rowsOf + Int(rw[slot]) &* d, d)
              sum += c
            }
            if let bias { bias[s] += sum }
          }
        }
      }
    }
  }
}

/// Naive twin of `sparseDecodeBackward` (pass rowOffsets nil for fixed-k): plain loops, Double sums.
public func sparseDecodeBackwardNaive(
  dValues: UnsafeMutablePointer<Float>, dDecoder: UnsafeMutablePointer<Float>,
  dOut: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int32>?, indices: UnsafePointer<Int32>,
  values: UnsafePointer<Float>, decoder: UnsafePointer<Float>, batch: Int, latents s: Int, k: Int,
  outputDim d: Int
) {
  let spans = RowSpans(offsets: rowOffsets, k: k)
  var acc = [Double](repeating: 0, count: s * d)
  for b in 0..<batch {
    for e in spans.start(b)..<spans.end(b) {
      let l = Int(indices[e])
      var g = 0.0
      for c in 0..<d {
        g += Double(dOut[b * d + c]) * Double(decoder[l * d + c])
        acc[l * d + c] += Double(values[e]) * Double(dOut[b * d + c])
      }
      dValues[e] = Float(g)
    }
  }
  for i in 0..<(s * d) { dDecoder[i] = Float(Double(dDecoder[i]) + acc[i]) }
}

// MARK: - Encoder backward
//
// The gradients of pre = x·encoderWeightᵀ + b_enc with respect to encoderWeight (S,I) (nn.Linear
// layout, layout.md) and b_enc, given dPre. I is the input width (d_in; n·d_in for a crosscoder);
// a sparse dPre has NNZ entries in the batch's entry order (fixed-k or CSR), reached through
// `LatentIndex`.
// Two paths:
// - sparse (TopK, BatchTopK, sparse ReLU/JumpReLU): dPre is non-zero only at the active entries, so
//   dEncoderWeight[s,:] += Σ_{entries e of s} dPre[e]·x[b_e,:] costs NNZ·I multiply-adds, gathered per
//   latent through the index (each thread owns a latent range; bytes independent of thread count);
// - dense (ReLU/JumpReLU when many latents fire): dEncoderWeight += dPreᵀ·x is one sgemm per thread's
//   block of latent rows, B·S·I multiply-adds at BLAS speed.
// BLAS runs ~10× more multiply-adds per second than the scattered row updates, so the dense path wins
// once density NNZ/(B·S) passes roughly 1/16; `prefersDenseEncoderBackward` states that rule (an
// estimate from the PLATFORM.md GEMM figures, not a measurement). Left out: dx (inputs are data).

/// Sparse encoder backward: dEncoderWeight[s,:] += Σ dPre[e]·x[b_e,:] and dEncoderBias[s] += Σ dPre[e]
/// over the entries e of latent s, for either sparse form (the index carries the entries' rows).
/// dPre (NNZ,) in the batch's entry order; x (B,I); dEncoderWeight (S,I); dEncoderBias (S,) or nil.
public func sparseEncoderBackward(
  dEncoderWeight: UnsafeMutablePointer<Float>, dEncoderBias: UnsafeMutablePointer<Float>?,
  dPre: UnsafePointer<Float>, x: UnsafePointer<Float>, index: LatentIndex, inputDim i: Int,
  pool: ThreadPool
) {
  gatherRowsByLatent(
    out: dEncoderWeight, bias: dEncoderBias, coefficients: dPre, rowsOf: x, index: index, d: i, pool: pool)
}

/// Naive twin of `sparseEncoderBackward` (pass rowOffsets nil for fixed-k): plain loops, Double sums.
public func sparseEncoderBackwardNaive(
  dEncoderWeight: UnsafeMutablePointer<Float>, dEncoderBias: UnsafeMutablePointer<Float>,
  dPre: UnsafePointer<Float>, x: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int32>?,
  indices: UnsafePointer<Int32>, batch: Int, latents s: Int, k: Int, inputDim i: Int
) {
  let spans = RowSpans(offsets: rowOffsets, k: k)
  var w = [Double](repeating: 0, count: s * i)
  var bias = [Double](repeating: 0, count: s)
  for b in 0..<batch {
    for e in spans.start(b)..<spans.end(b) {
      let l = Int(indices[e])
      bias[l] += Double(dPre[e])
      for c in 0..<i { w[l * i + c] += Double(dPre[e]) * Double(x[b * i + c]) }
    }
  }
  for j in 0..<(s * i) { dEncoderWeight[j] = Float(Double(dEncoderWeight[j]) + w[j]) }
  for l in 0..<s { dEncoderBias[l] = Float(Double(dEncoderBias[l]) + bias[l]) }
}

/// Whether the dense encoder backward is expected to be faster than the sparse one for a batch
/// with `nnz` active entries (density above 1/16; see the file header).
public func prefersDenseEncoderBackward(nnz: Int, batch: Int, latents s: Int) -> Bool {
  nnz &* 16 > batch &* s
}

/// Dense encoder backward: dEncoderWeight += dPreᵀ·x (sgemm) and dEncoderBias[s] += Σ_b dPre[b,s].
/// dPre (B,S); x (B,I); dEncoderWeight (S,I); dEncoderBias (S,) or nil. Threads own latent rows, so
/// each output element is one thread's sgemm (same bytes for a given thread count).
public func denseEncoderBackward(
  dEncoderWeight: UnsafeMutablePointer<Float>, dEncoderBias: UnsafeMutablePointer<Float>?,
  dPre: UnsafePointer<Float>, x: UnsafePointer<Float>, batch: Int, latents s: Int, inputDim i: Int,
  pool: ThreadPool
) {
  pool.parallelFor(s) { latents in
    let lo = latents.lowerBound
    BLAS.sgemm(
      transA: true, transB: false, m: latents.count, n: i, k: batch, a: dPre + lo, lda: s, b: x, ldb: i,
      beta: 1, c: dEncoderWeight + lo &* i, ldc: i)
    guard let dEncoderBias else { return }
    for b in 0..<batch {
      let row = dPre + b &* s
      for l in latents { dEncoderBias[l] += row[l] }
    }
  }
}

/// Naive twin of `denseEncoderBackward`: plain loops, Double sums.
public func denseEncoderBackwardNaive(
  dEncoderWeight: UnsafeMutablePointer<Float>, dEncoderBias: UnsafeMutablePointer<Float>,
  dPre: UnsafePointer<Float>, x: UnsafePointer<Float>, batch: Int, latents s: Int, inputDim i: Int
) {
  for l in 0..<s {
    var bias = Double(dEncoderBias[l])
    for b in 0..<batch { bias += Double(dPre[b * s + l]) }
    dEncoderBias[l] = Float(bias)
    for c in 0..<i {
      var acc = Double(dEncoderWeight[l * i + c])
      for b in 0..<batch { acc += Double(dPre[b * s + l]) * Double(x[b * i + c]) }
      dEncoderWeight[l * i + c] = Float(acc)
    }
  }
}
