// Training kernels, encoder backward: the gradients of pre = x·encoderWeightᵀ + b_enc with respect to
// encoderWeight (S,d_in) (nn.Linear layout, layout.md) and b_enc, given dPre.
//
// Legend: B batch rows, S dictionary width (d_sae), I input width (d_in; n·d_in for a crosscoder),
// NNZ entries of a sparse dPre (fixed-k or CSR, layout.md, indexed through `LatentIndex`).
// Two paths:
// - sparse (TopK, BatchTopK, sparse ReLU/JumpReLU): dPre is non-zero only at the active entries, so
//   dEncoderWeight[s,:] += Σ_{entries e of s} dPre[e]·x[b_e,:] costs NNZ·I multiply-adds, gathered per
//   latent through the index (each thread owns a latent range; bytes independent of thread count);
// - dense (ReLU/JumpReLU when many latents fire): dEncoderWeight += dPreᵀ·x is one sgemm per thread's
//   block of latent rows, B·S·I multiply-adds at BLAS speed.
// BLAS runs ~10× more multiply-adds per second than the scattered row updates, so the dense path wins
// once density NNZ/(B·S) passes roughly 1/16; `prefersDenseEncoderBackward` states that rule (an
// estimate from the PLATFORM.md GEMM figures, not a measurement). Left out: dx (inputs are data).

import LanternTensor

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
