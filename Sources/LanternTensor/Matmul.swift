// Matmul: every GEMM in Lantern goes through OpenBLAS `cblas_sgemm`.
//
// Threading model (PLATFORM.md): OpenBLAS is pinned to one thread and our own pool splits each
// GEMM into row blocks (or column blocks when there are few rows). One pool, no
// oversubscription, and a split that depends only on the shapes and the thread count, so
// results are bit-identical run to run for a given thread count.

import CBLAS

/// BLAS set-up and GEMM entry points.
public enum BLAS {
  /// Pins OpenBLAS to one thread; call once before any GEMM (idempotent).
  public static func configureSingleThreaded() {
    openblas_set_num_threads(1)
  }

  /// OpenBLAS's build description (core type, threading), logged at start-up.
  public static var configuration: String {
    guard let c = openblas_get_config() else { return "unknown" }
    return String(cString: c)
  }

  /// Plain single-threaded sgemm on row-major operands: C = alpha·op(A)·op(B) + beta·C.
  /// op(A) is [m,k], op(B) is [k,n], C is [m,n].
  public static func sgemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    if m == 0 || n == 0 { return }
    cblas_sgemm(
      CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
      Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
  }
}

extension ThreadPool {
  /// out = inp · weightᵀ for a whole weight tensor (N,K): bf16 through oneDNN when the pool computes
  /// in bf16 (`ComputeContext(compute: .bf16)`), else fp32 sgemm as below.
  public func linear(
    out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: Tensor, m: Int, n: Int, k: Int
  ) {
    if let bf16, m > 0, n > 0 {
      bf16.linear(out: out, inp: inp, weight: weight, m: m, n: n, k: k, pool: self)
    } else {
      linear(out: out, inp: inp, weight: weight.pointer, m: m, n: n, k: k)
    }
  }

  /// out = inp · Wᵀ (+ out when `accumulate`), split across the pool.
  /// inp is (M,K) row-major, weight is (N,K) (nn.Linear layout), out is (M,N).
  public func linear(
    out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    m: Int, n: Int, k: Int, accumulate: Bool = false
  ) {
    let beta: Float = accumulate ? 1 : 0
    if m >= 4 * threadCount || n < 64 * threadCount {
      parallelFor(m) { rows in
        BLAS.sgemm(
          transA: false, transB: true, m: rows.count, n: n, k: k,
          a: inp + rows.lowerBound * k, lda: k, b: weight, ldb: k, beta: beta,
          c: out + rows.lowerBound * n, ldc: n)
      }
    } else {
      parallelFor(n) { cols in
        BLAS.sgemm(
          transA: false, transB: true, m: m, n: cols.count, k: k,
          a: inp, lda: k, b: weight + cols.lowerBound * k, ldb: k, beta: beta,
          c: out + cols.lowerBound, ldc: n)
      }
    }
  }

  /// Measures single-call sgemm throughput (GFLOP/s) on square-ish shapes typical of the
  /// forward pass, using every thread of the pool the way the forward pass does.
  public func measureSgemmPeak(m: Int = 1024, n: Int = 1536, k: Int = 576, repeats: Int = 20)
    -> Double
  {
    let a = Tensor(shape: [m, k])
    let b = Tensor(shape: [n, k])
    let c = Tensor(shape: [m, n])
    for i in 0..<a.count { a.pointer[i] = Float(i % 7) * 0.01 }
    for i in 0..<b.count { b.pointer[i] = Float(i % 5) * 0.01 }
    linear(out: c.pointer, inp: a.pointer, weight: b.pointer, m: m, n: n, k: k)
    var best = Double.infinity
    for _ in 0..<repeats {
      let start = ContinuousClock.now
      linear(out: c.pointer, inp: a.pointer, weight: b.pointer, m: m, n: n, k: k)
      let elapsed = ContinuousClock.now - start
      best = min(best, elapsed.seconds)
    }
    return 2.0 * Double(m) * Double(n) * Double(k) / best / 1e9
  }
}

extension Duration {
  /// The duration in seconds as a Double.
  public var seconds: Double {
    let (s, atto) = components
    return Double(s) + Double(atto) * 1e-18
  }
}
