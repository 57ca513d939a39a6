// Process-wide compute settings: the pool and BLAS threading, set once at start-up.

import Foundation

/// The process's compute context: one pool, BLAS pinned to one thread inside it. Creating the first
/// one logs the CPU and the OpenBLAS kernel in use to standard error.
public final class ComputeContext: Sendable {
  /// The fork-join pool every kernel and GEMM uses.
  public let pool: ThreadPool

  /// Creates the context with `threads` threads (default: all active cores).
  public init(threads: Int? = nil) {
    BLAS.configureSingleThreaded()
    BLASDispatch.logOnce()
    pool = ThreadPool(threadCount: max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount))
  }
}
