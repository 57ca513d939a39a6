// Sparse activations of a batch and the helpers the training step shares across architectures:
// the row-offset (CSR) form, its latent-major inverted index, sparse decode, dot/axpy.
//
// The LanternKernels training kernels do the single-level work (selection, decode, its backward,
// the encoder gradient); what is here is what they leave out: the nested-prefix decode and
// gradients of `matryoshka` and the input-side gradient Σ_e dpre_e·E[s_e] that reaches b_dec.
// Threads split rows (decode) or latents (weight gradients): each output element is written by
// one thread in a fixed order, so results do not depend on the thread count.
//
// Legend: B batch rows, S latents, D a row width (d_in or d_out), NNZ active entries.

import LanternKernels
import LanternTensor

/// Sparse activations in row-offset form: row b owns entries rowOffsets[b]..<rowOffsets[b+1].
/// Within a row entries are by descending value for top-k selections (ties toward the lower
/// latent), by ascending latent otherwise.
struct SparseRows {
  init() {}

  /// (B+1)
  var rowOffsets: [Int32] = [0]
  /// (NNZ) latent of each entry.
  var indices: [Int32] = []
  /// (NNZ) value of each entry.
  var values: [Float] = []

  /// Set only for the count-only rows of the dense path (see `countOnly`): the entry count without
  /// the entries, which that path never reads.
  var entryCount: Int?

  var rows: Int { rowOffsets.count - 1 }
  var nnz: Int { entryCount ?? indices.count }
  /// Whether the entries were left out (the dense path of relu / jumprelu).
  var isCountOnly: Bool { entryCount != nil }

  /// Rows known only by their entry count: the dense path reads work.dense instead.
  static func countOnly(_ count: Int) -> SparseRows {
    var rows = SparseRows()
    rows.entryCount = count
    return rows
  }

  mutating func reset(capacity: Int) {
    rowOffsets.removeAll(keepingCapacity: true)
    rowOffsets.append(0)
    indices.removeAll(keepingCapacity: true)
    values.removeAll(keepingCapacity: true)
    indices.reserveCapacity(capacity)
    values.reserveCapacity(capacity)
  }

  mutating func append(latent: Int, value: Float) {
    indices.append(Int32(latent))
    values.append(value)
  }

  mutating func endRow() { rowOffsets.append(Int32(indices.count)) }

  /// Rows from a fixed-k selection (values, indices (B,k)), keeping entries whose value passes
  /// `keep` (all when nil).
  init(fixedK values: [Float], _ indices: [Int32], batch b: Int, k: Int, keep: ((Float) -> Bool)? = nil) {
    reset(capacity: b * k)
    for r in 0..<b {
      for j in 0..<k where keep?(values[r * k + j]) ?? true {
        append(latent: Int(indices[r * k + j]), value: values[r * k + j])
      }
      endRow()
    }
  }

  /// Rows from CSR buffers holding `count` entries.
  init(rowOffsets: [Int32], indices: [Int32], values: [Float], count: Int) {
    self.rowOffsets = rowOffsets
    self.indices = Array(indices[0..<count])
    self.values = Array(values[0..<count])
  }

  /// Calls `body` with (rowOffsets, indices, values) pointers, valid (never nil) even with no entries.
  func withBuffers<R>(
    _ body: (UnsafePointer<Int32>, UnsafePointer<Int32>, UnsafePointer<Float>) throws -> R
  ) rethrows -> R {
    let pad = nnz == 0
    let idx = pad ? [0] : indices
    let val = pad ? [0] : values
    return try rowOffsets.withUnsafeBufferPointer { ro in
      try idx.withUnsafeBufferPointer { i in
        try val.withUnsafeBufferPointer { v in try body(ro.baseAddress!, i.baseAddress!, v.baseAddress!) }
      }
    }
  }

  /// The kernels' inverted index of these rows.
  func latentIndex(latents s: Int) -> LatentIndex {
    var index = LatentIndex()
    withBuffers { ro, idx, _ in index.build(rowOffsets: ro, indices: idx, batch: rows, latents: s) }
    return index
  }
}

/// Σ x[i]·y[i], i < n, in a fixed order (four partial sums, then the tail).
@inline(__always) func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
  var s0: Float = 0
  var s1: Float = 0
  var s2: Float = 0
  var s3: Float = 0
  var i = 0
  while i &+ 4 <= n {
    s0 += x[i] * y[i]
    s1 += x[i &+ 1] * y[i &+ 1]
    s2 += x[i &+ 2] * y[i &+ 2]
    s3 += x[i &+ 3] * y[i &+ 3]
    i &+= 4
  }
  var s = (s0 + s1) + (s2 + s3)
  while i < n {
    s += x[i] * y[i]
    i &+= 1
  }
  return s
}

/// y[i] += a·x[i], i < n.
@inline(__always) func axpy(_ y: UnsafeMutablePointer<Float>, _ a: Float, _ x: UnsafePointer<Float>, _ n: Int)
{
  var i = 0
  while i < n {
    y[i] += a * x[i]
    i &+= 1
  }
}

/// Sparse decode into nested prefix outputs: out[j][b,:] = bias + Σ_{entries (s,v) of row b, s <
/// ends[j]} v·decoder[s,:]. Entries must be ascending by latent when `ends` has more than one level.
/// decoder (S,D); bias (D); out: one (B,D) buffer per level.
func sparseDecodeLevels(
  out: [UnsafeMutablePointer<Float>], activations a: SparseRows, decoder: UnsafePointer<Float>,
  bias: UnsafePointer<Float>, ends: [Int], width d: Int, pool: ThreadPool
) {
  let levels = ends.count
  a.rowOffsets.withUnsafeBufferPointer { ro in
    a.indices.withUnsafeBufferPointer { idx in
      a.values.withUnsafeBufferPointer { val in
        pool.parallelFor(a.rows) { range in
          for b in range {
            let acc = out[levels - 1] + b * d
            acc.update(from: bias, count: d)
            var level = 0
            for e in Int(ro[b])..<Int(ro[b + 1]) {
              let s = Int(idx[e])
              while level < levels - 1 && s >= ends[level] {
                (out[level] + b * d).update(from: acc, count: d)
                level += 1
              }
              axpy(acc, val[e], decoder + s * d, d)
            }
            while level < levels - 1 {
              (out[level] + b * d).update(from: acc, count: d)
              level += 1
            }
          }
        }
      }
    }
  }
}

/// dValues[e] = rowsOf[b_e, :]·matrix[s_e, :] for every entry (row-parallel).
/// rowsOf (B,D); matrix (S,D); dValues (NNZ).
func sparseRowDots(
  dValues: UnsafeMutablePointer<Float>, activations a: SparseRows, rowsOf: UnsafePointer<Float>,
  matrix: UnsafePointer<Float>, width d: Int, pool: ThreadPool
) {
  a.rowOffsets.withUnsafeBufferPointer { ro in
    a.indices.withUnsafeBufferPointer { idx in
      pool.parallelFor(a.rows) { range in
        for b in range {
          for e in Int(ro[b])..<Int(ro[b + 1]) {
            dValues[e] = dot(rowsOf + b * d, matrix + Int(idx[e]) * d, d)
          }
        }
      }
    }
  }
}

/// out[s,:] += Σ_{slots of s} coefficients[e]·rowsOf[b,:] and bias[s] += Σ coefficients[e] (if
/// given), in slot order; threads own latent ranges. out (S,D); rowsOf (B,D); coefficients (NNZ).
func latentAccumulate(
  out: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>?, index: LatentIndex,
  coefficients: UnsafePointer<Float>, rowsOf: UnsafePointer<Float>, width d: Int, latents: Int,
  pool: ThreadPool
) {
  index.latentOffsets.withUnsafeBufferPointer { off in
    index.entries.withUnsafeBufferPointer { ent in
      index.rows.withUnsafeBufferPointer { rws in
        pool.parallelFor(latents) { range in
          for s in range {
            var sum: Float = 0
            for slot in Int(off[s])..<Int(off[s + 1]) {
              let c = coefficients[Int(ent[slot])]
              axpy(out + s * d, c, rowsOf + Int(rws[slot]) * d, d)
              sum += c
            }
            if let bias { bias[s] += sum }
          }
        }
      }
    }
  }
}

/// out[b,:] += Σ_{entries e of row b} coefficients[e]·matrix[s_e,:] (row-parallel).
/// out (B,D); matrix (S,D); coefficients (NNZ).
func rowAccumulate(
  out: UnsafeMutablePointer<Float>, activations a: SparseRows, coefficients: UnsafePointer<Float>,
  matrix: UnsafePointer<Float>, width d: Int, pool: ThreadPool
) {
  a.rowOffsets.withUnsafeBufferPointer { ro in
    a.indices.withUnsafeBufferPointer { idx in
      pool.parallelFor(a.rows) { range in
        for b in range {
          for e in Int(ro[b])..<Int(ro[b + 1]) {
            axpy(out + b * d, coefficients[e], matrix + Int(idx[e]) * d, d)
          }
        }
      }
    }
  }
}

/// out[i] += sign·Σ_b m[b,i] for i < D, summed over b in order; threads own columns, so the
/// result does not depend on the thread count. m (B,D); out (D).
func addColumnSums(
  _ out: UnsafeMutablePointer<Float>, _ m: UnsafePointer<Float>, rows b: Int, width d: Int, sign: Float = 1,
  pool: ThreadPool
) {
  pool.parallelFor(d) { cols in
    for i in cols {
      var sum: Float = 0
      for r in 0..<b { sum += m[r * d + i] }
      out[i] += sign * sum
    }
  }
}
