// Causal softmax attention with grouped-query attention (GQA).
//
// q is (B,T,NH,HS) with row stride `qStride` between consecutive positions (so q, k and v may be
// column slices of one fused QKV projection); k and v are (B,T,NKV,HS) with strides `kStride`,
// `vStride`; query head h reads key/value head h / (NH/NKV), as Hugging Face's repeat_kv does.
// out z is (B,T,NH,HS) contiguous. Scores are q·kᵀ/√HS with future positions masked.
// Both GEMMs of each (b,h) pair go to BLAS; pairs are spread over the pool.
// Optional outputs `scores` and `pattern` are (B,NH,T,T): scores hold −∞ where masked, as
// TransformerLens records them; pattern holds exact zeros there.
// Left out: KV caches, padding masks, sliding windows and ALiBi.

import Foundation
import LanternTensor

/// Shapes and strides of one attention call.
public struct AttentionShape: Sendable {
  public var batch: Int, seqLen: Int, nHeads: Int, nKVHeads: Int, headSize: Int
  public var qStride: Int, kStride: Int, vStride: Int

  public init(
    batch: Int, seqLen: Int, nHeads: Int, nKVHeads: Int, headSize: Int, qStride: Int? = nil,
    kStride: Int? = nil, vStride: Int? = nil
  ) {
    precondition(nKVHeads > 0 && nHeads % nKVHeads == 0, "heads \(nHeads) not a multiple of \(nKVHeads)")
    self.batch = batch
    self.seqLen = seqLen
    self.nHeads = nHeads
    self.nKVHeads = nKVHeads
    self.headSize = headSize
    self.qStride = qStride ?? nHeads * headSize
    self.kStride = kStride ?? nKVHeads * headSize
    self.vStride = vStride ?? nKVHeads * headSize
  }
}

/// Causal attention forward. See the file comment for layouts.
public func attentionForward(
  out: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>?,
  pattern: UnsafeMutablePointer<Float>?, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
  v: UnsafePointer<Float>, shape s: AttentionShape, pool: ThreadPool
) {
  let t = s.seqLen
  let hs = s.headSize
  let group = s.nHeads / s.nKVHeads
  let scale = 1 / Float(hs).squareRoot()
  let pairs = s.batch * s.nHeads
  pool.parallelFor(pairs) { range in
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: t * t)
    defer { scratch.deallocate() }
    for pair in range {
      let b = pair / s.nHeads
      let h = pair % s.nHeads
      let kvh = h / group
      let qh = q + b &* t &* s.qStride + h &* hs
      let kh = k + b &* t &* s.kStride + kvh &* hs
      let vh = v + b &* t &* s.vStride + kvh &* hs
      // att = scale · q_h k_hᵀ  (T,T)
      BLAS.sgemm(
        transA: false, transB: true, m: t, n: t, k: hs, alpha: scale, a: qh, lda: s.qStride,
        b: kh, ldb: s.kStride, c: scratch, ldc: t)
      if let scores {
        let dst = scores + pair &* t &* t
        for i in 0..<t {
          for j in 0..<t { dst[i &* t &+ j] = j <= i ? scratch[i &* t &+ j] : -.infinity }
        }
      }
      for i in 0..<t { softmaxCausalRow(scratch + i &* t, valid: i + 1, width: t) }
      if let pattern { (pattern + pair &* t &* t).update(from: scratch, count: t * t) }
      // z_h = att · v_h  (T,HS)
      BLAS.sgemm(
        transA: false, transB: false, m: t, n: hs, k: t, a: scratch, lda: t, b: vh, ldb: s.vStride,
        c: out + b &* t &* s.nHeads &* hs + h &* hs, ldc: s.nHeads * hs)
    }
  }
}

/// Softmax over the first `valid` entries of a row; entries valid..<width become 0.
@inline(__always)
func softmaxCausalRow(_ row: UnsafeMutablePointer<Float>, valid: Int, width: Int) {
  var mx = -Float.infinity
  for j in 0..<valid { mx = max(mx, row[j]) }
  var sumv = SIMD8<Float>()
  var j = 0
  let m8 = SIMD8<Float>(repeating: mx)
  while j &+ 8 <= valid {
    let e = exp8(UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self) - m8)
    UnsafeMutableRawPointer(row + j).storeBytes(of: e, as: SIMD8<Float>.self)
    sumv += e
    j &+= 8
  }
  var sum = sumv.sum()
  while j < valid {
    let e = exp8(SIMD8(repeating: row[j] - mx))[0]
    row[j] = e
    sum += e
    j &+= 1
  }
  let inv = 1 / sum
  for i in 0..<valid { row[i] *= inv }
  for i in valid..<width { row[i] = 0 }
}

/// Naive twin of `attentionForward`: explicit loops, Double accumulation, no BLAS.
public func attentionForwardNaive(
  out: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>?,
  pattern: UnsafeMutablePointer<Float>?, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
  v: UnsafePointer<Float>, shape s: AttentionShape
) {
  let t = s.seqLen
  let hs = s.headSize
  let group = s.nHeads / s.nKVHeads
  for b in 0..<s.batch {
    for h in 0..<s.nHeads {
      let kvh = h / group
      let pair = b * s.nHeads + h
      for i in 0..<t {
        var att = [Double](repeating: 0, count: t)
        var mx = -Double.infinity
        for j in 0...i {
          var dot = 0.0
          for d in 0..<hs {
            dot +=
              Double(q[(b * t + i) * s.qStride + h * hs + d])
              * Double(k[(b * t + j) * s.kStride + kvh * hs + d])
          }
          att[j] = dot / Double(hs).squareRoot()
          mx = max(mx, att[j])
        }
        for j in 0..<t { scores?[(pair * t + i) * t + j] = j <= i ? Float(att[j]) : -.infinity }
        var sum = 0.0
        for j in 0...i {
          att[j] = _exp(att[j] - mx)
          sum += att[j]
        }
        for j in 0..<t {
          let p = j <= i ? att[j] / sum : 0
          att[j] = p
          pattern?[(pair * t + i) * t + j] = Float(p)
        }
        for d in 0..<hs {
          var acc = 0.0
          for j in 0...i { acc += att[j] * Double(v[(b * t + j) * s.vStride + kvh * hs + d]) }
          out[(b * t + i) * s.nHeads * hs + h * hs + d] = Float(acc)
        }
      }
    }
  }
}

@inline(__always) func _exp(_ x: Double) -> Double { x.isInfinite && x < 0 ? 0 : exp(x) }

// MARK: - Materialized attention, for hooks that read or write scores and patterns

/// scores (B,NH,T,T) = q·kᵀ/√HS with −∞ above the diagonal. Layouts as in `attentionForward`.
public func attentionScoresForward(
  scores: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
  shape s: AttentionShape, pool: ThreadPool
) {
  let t = s.seqLen
  let hs = s.headSize
  let group = s.nHeads / s.nKVHeads
  let scale = 1 / Float(hs).squareRoot()
  pool.parallelFor(s.batch * s.nHeads) { range in
    for pair in range {
      let b = pair / s.nHeads
      let h = pair % s.nHeads
      let dst = scores + pair &* t &* t
      BLAS.sgemm(
        transA: false, transB: true, m: t, n: t, k: hs, alpha: scale,
        a: q + b &* t &* s.qStride + h &* hs, lda: s.qStride,
        b: k + b &* t &* s.kStride + (h / group) &* hs, ldb: s.kStride, c: dst, ldc: t)
      for i in 0..<t { for j in (i + 1)..<max(t, i + 1) { dst[i &* t &+ j] = -.infinity } }
    }
  }
}

/// pattern (B,NH,T,T) = causal softmax of scores (entries above the diagonal are ignored and
/// become 0). pattern may alias scores.
public func attentionSoftmaxForward(
  pattern: UnsafeMutablePointer<Float>, scores: UnsafePointer<Float>, rows: Int, seqLen t: Int,
  pool: ThreadPool
) {
  pool.parallelFor(rows * t) { range in
    for r in range {
      let i = r % t
      let dst = pattern + r &* t
      if UnsafePointer(dst) != scores + r &* t { dst.update(from: scores + r &* t, count: t) }
      softmaxCausalRow(dst, valid: i + 1, width: t)
    }
  }
}

/// z (B,T,NH,HS) = pattern · v per head. Layouts as in `attentionForward`.
public func attentionApplyForward(
  out: UnsafeMutablePointer<Float>, pattern: UnsafePointer<Float>, v: UnsafePointer<Float>,
  shape s: AttentionShape, pool: ThreadPool
) {
  let t = s.seqLen
  let hs = s.headSize
  let group = s.nHeads / s.nKVHeads
  pool.parallelFor(s.batch * s.nHeads) { range in
    for pair in range {
      let b = pair / s.nHeads
      let h = pair % s.nHeads
      BLAS.sgemm(
        transA: false, transB: false, m: t, n: hs, k: t, a: pattern + pair &* t &* t, lda: t,
        b: v + b &* t &* s.vStride + (h / group) &* hs, ldb: s.vStride,
        c: out + b &* t &* s.nHeads &* hs + h &* hs, ldc: s.nHeads * hs)
    }
  }
}
