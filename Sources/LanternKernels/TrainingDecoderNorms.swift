// Training kernels, decoder-row constraints and norms: per-row (or per-layer) L2 norms of W_dec and
// their backward (the ReLU sparsity penalty λ·Σ f_i·‖W_dec,i‖ and the crosscoder's sum of per-layer
// norms need it), removal of the gradient component parallel to each unit decoder row, and
// renormalisation of rows to unit norm.
//
// Legend: S dictionary width (d_sae), L segments per row (1 for an SAE or transcoder; n layers for a
// crosscoder whose W_dec is (S, n·d_out), layout.md), D segment width (d_out). W_dec is (S, L·D);
// every operation acts on each (row, segment) of D contiguous floats independently.
// Mirrors EleutherAI sparsify (sparsify/sparse_coder.py, as indexed in the code corpus; SAELens
// 6.54.12 no longer constrains rows, its TopK rescales by the row norm instead):
// `remove_gradient_parallel_to_decoder_directions` computes parallel = Σ_d grad·W_dec and
// grad −= parallel·W_dec, which assumes unit rows (call it with the rows already normalised, as the
// trainer does); `set_decoder_norm_to_unit_norm` divides by (norm + eps), eps = float32 machine
// epsilon (`Float.ulpOfOne`), so a zero row stays zero.
// Threads split rows; every row's sums run in one fixed order, so bytes do not depend on threads.

import LanternTensor

/// L2 norms of decoder segments: norms[s,l] = ‖decoder[s, l·D ..< (l+1)·D]‖.
/// decoder (S, L·D); norms (S, L).
public func decoderRowNorms(
  norms: UnsafeMutablePointer<Float>, decoder: UnsafePointer<Float>, latents s: Int, layers: Int = 1,
  dim d: Int, pool: ThreadPool
) {
  pool.parallelFor(s) { rows in
    for r in rows {
      for l in 0..<layers {
        let w = decoder + (r &* layers &+ l) &* d
        norms[r &* layers &+ l] = dot(w, w, d).squareRoot()
      }
    }
  }
}

/// Backward of `decoderRowNorms`: dDecoder[s, seg l] += dNorms[s,l]·w/‖w‖ (nothing for a zero
/// segment, where the norm has no gradient). decoder, dDecoder (S, L·D); norms, dNorms (S, L).
public func decoderRowNormsBackward(
  dDecoder: UnsafeMutablePointer<Float>, dNorms: UnsafePointer<Float>, decoder: UnsafePointer<Float>,
  norms: UnsafePointer<Float>, latents s: Int, layers: Int = 1, dim d: Int, pool: ThreadPool
) {
  pool.parallelFor(s) { rows in
    for r in rows {
      for l in 0..<layers {
        let seg = r &* layers &+ l
        let n = norms[seg]
        if n == 0 { continue }
        axpy(dDecoder + seg &* d, dNorms[seg] / n, decoder + seg &* d, d)
      }
    }
  }
}

/// Removes from each gradient segment its component along the (unit) decoder segment:
/// g −= (g·w)·w. grad, decoder (S, L·D).
public func removeParallelDecoderGradient(
  grad: UnsafeMutablePointer<Float>, decoder: UnsafePointer<Float>, latents s: Int, layers: Int = 1,
  dim d: Int, pool: ThreadPool
) {
  pool.parallelFor(s) { rows in
    for r in rows {
      for l in 0..<layers {
        let off = (r &* layers &+ l) &* d
        let parallel = dot(grad + off, decoder + off, d)
        axpy(grad + off, -parallel, decoder + off, d)
      }
    }
  }
}

/// Scales each decoder segment to unit L2 norm: w /= (‖w‖ + ε), ε = Float.ulpOfOne as sparsify.
/// decoder (S, L·D).
public func normalizeDecoderRows(
  decoder: UnsafeMutablePointer<Float>, latents s: Int, layers: Int = 1, dim d: Int, pool: ThreadPool
) {
  pool.parallelFor(s) { rows in
    for r in rows {
      for l in 0..<layers {
        let w = decoder + (r &* layers &+ l) &* d
        let n = dot(w, w, d).squareRoot() + Float.ulpOfOne
        for c in 0..<d { w[c] /= n }
      }
    }
  }
}

/// Naive twin of `decoderRowNorms` (Double sums).
public func decoderRowNormsNaive(
  norms: UnsafeMutablePointer<Float>, decoder: UnsafePointer<Float>, latents s: Int, layers: Int = 1,
  dim d: Int
) {
  for seg in 0..<(s * layers) {
    var acc = 0.0
    for c in 0..<d { acc += Double(decoder[seg * d + c]) * Double(decoder[seg * d + c]) }
    norms[seg] = Float(acc.squareRoot())
  }
}

/// Naive twin of `removeParallelDecoderGradient` (Double sums).
public func removeParallelDecoderGradientNaive(
  grad: UnsafeMutablePointer<Float>, decoder: UnsafePointer<Float>, latents s: Int, layers: Int = 1,
  dim d: Int
) {
  for seg in 0..<(s * layers) {
    var parallel = 0.0
    for c in 0..<d { parallel += Double(grad[seg * d + c]) * Double(decoder[seg * d + c]) }
    for c in 0..<d {
      grad[seg * d + c] = Float(Double(grad[seg * d + c]) - parallel * Double(decoder[seg * d + c]))
    }
  }
}

/// Naive twin of `normalizeDecoderRows` (Double sums).
public func normalizeDecoderRowsNaive(
  decoder: UnsafeMutablePointer<Float>, latents s: Int, layers: Int = 1, dim d: Int
) {
  for seg in 0..<(s * layers) {
    var acc = 0.0
    for c in 0..<d { acc += Double(decoder[seg * d + c]) * Double(decoder[seg * d + c]) }
    let n = acc.squareRoot() + Double(Float.ulpOfOne)
    for c in 0..<d { decoder[seg * d + c] = Float(Double(decoder[seg * d + c]) / n) }
  }
}
