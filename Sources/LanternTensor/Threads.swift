// Process-wide compute settings: the pool and BLAS threading, set once at start-up.

import Foundation

/// The process's compute context: one pool, BLAS pinned to one thread inside it. Creating the first
/// one logs the CPU and the OpenBLAS kernel in use to standard error.
public final class ComputeContext: Sendable {
  /// The fork-join pool every kernel and GEMM uses.
  public let pool: ThreadPool

  /// How GEMMs compute.
  public let compute: ComputeType

  /// Creates the context with `threads` threads (default: all active cores), computing in fp32.
  public init(threads: Int? = nil) {
    BLAS.configureSingleThreaded()
    BLASDispatch.logOnce()
    pool = ThreadPool(threadCount: max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount))
    compute = .fp32
  }

  /// Creates the context computing GEMMs as `compute` says; bf16 throws where oneDNN or a bf16
  /// matmul for this CPU is missing.
  public init(threads: Int?, compute: ComputeType) throws {
    BLAS.configureSingleThreaded()
    BLASDispatch.logOnce()
    let n = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
    let engine = compute == .bf16 ? try BF16GEMM(threads: n) : nil
    pool = ThreadPool(threadCount: n, bf16: engine)
    self.compute = compute
    if let engine {
      FileHandle.standardError.write(
        Data("lantern: compute bf16 through oneDNN (\(engine.implementation))\n".utf8))
    }
  }
}
