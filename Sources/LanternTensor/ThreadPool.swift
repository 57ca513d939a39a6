// ThreadPool: one persistent fork-join pool per process.
//
// The caller takes part as thread 0; the other threads spin briefly on an atomic generation
// counter and then park on a condition variable, so a fork-join costs about a microsecond when
// work arrives back to back and nothing when idle. Work is split statically by thread index,
// never stolen, so results are deterministic for a given thread count (no atomics in the
// arithmetic). A call made while the pool is busy (a nested call from inside a task, or a second
// caller thread) runs the same partition inline on its own thread: same results, no deadlock.

import Foundation
import Synchronization

/// A fork-join pool of `threadCount` threads (the caller counts as one).
public final class ThreadPool: @unchecked Sendable {
  /// Threads that run each parallel section, the caller included.
  public let threadCount: Int
  /// The bf16 GEMM engine when this pool computes in bf16 (nil: fp32).
  public let bf16: BF16GEMM?
  private let shared: PoolState
  private let callerLock = NSLock()

  /// Creates a pool; `threadCount` defaults to the machine's active cores.
  public init(threadCount: Int = ProcessInfo.processInfo.activeProcessorCount, bf16: BF16GEMM? = nil) {
    precondition(threadCount >= 1, "a pool needs at least one thread")
    self.threadCount = threadCount
    self.bf16 = bf16
    shared = PoolState()
    for index in 1..<threadCount {
      let state = shared
      let thread = Thread { state.workerLoop(index: index) }
      thread.stackSize = 8 << 20
      thread.start()
    }
  }

  deinit { shared.stop() }

  /// Runs `body(threadIndex)` once for every thread index and returns when all are done.
  public func run(_ body: (Int) -> Void) {
    if threadCount == 1 || !callerLock.try() {
      for i in 0..<threadCount { body(i) }
      return
    }
    defer { callerLock.unlock() }
    withoutActuallyEscaping(body) { escaping in shared.dispatch(escaping, workers: threadCount - 1) }
  }

  /// Splits `0..<count` into contiguous chunks, one per thread, and runs `body` on each
  /// non-empty chunk. Chunk boundaries depend only on `count` and `threadCount`.
  public func parallelFor(_ count: Int, _ body: (Range<Int>) -> Void) {
    if count <= 0 { return }
    let parts = min(threadCount, count)
    if parts == 1 {
      body(0..<count)
      return
    }
    run { t in
      guard t < parts else { return }
      let lo = count * t / parts
      let hi = count * (t + 1) / parts
      if lo < hi { body(lo..<hi) }
    }
  }
}

/// The state the worker threads share with the pool; it outlives the pool until they exit.
private final class PoolState: @unchecked Sendable {
  private let condition = NSCondition()
  private let doneCondition = NSCondition()
  private let generation = Atomic<Int>(0)
  private let remaining = Atomic<Int>(0)
  private let stopped = Atomic<Bool>(false)
  private var job: ((Int) -> Void)?

  func dispatch(_ body: @escaping (Int) -> Void, workers: Int) {
    condition.lock()
    job = body
    remaining.store(workers, ordering: .sequentiallyConsistent)
    generation.add(1, ordering: .sequentiallyConsistent)
    condition.broadcast()
    condition.unlock()
    body(0)
    var spins = 0
    while remaining.load(ordering: .acquiring) > 0 {
      spins += 1
      if spins > 4000 {
        doneCondition.lock()
        while remaining.load(ordering: .acquiring) > 0 { doneCondition.wait() }
        doneCondition.unlock()
      }
    }
    condition.lock()
    job = nil
    condition.unlock()
  }

  func stop() {
    condition.lock()
    stopped.store(true, ordering: .sequentiallyConsistent)
    generation.add(1, ordering: .sequentiallyConsistent)
    condition.broadcast()
    condition.unlock()
  }

  func workerLoop(index: Int) {
    var seen = 0
    while true {
      var spins = 0
      while generation.load(ordering: .acquiring) == seen && spins < 20_000 { spins += 1 }
      if generation.load(ordering: .acquiring) == seen {
        condition.lock()
        while generation.load(ordering: .acquiring) == seen { condition.wait() }
        condition.unlock()
      }
      if stopped.load(ordering: .acquiring) { return }
      seen = generation.load(ordering: .acquiring)
      do {
        // The job reference must be gone before `remaining` drops: the caller checks that the
        // non-escaping body did not escape as soon as every worker has reported.
        condition.lock()
        let work = job
        condition.unlock()
        work?(index)
      }
      if remaining.subtract(1, ordering: .sequentiallyConsistent).newValue == 0 {
        doneCondition.lock()
        doneCondition.signal()
        doneCondition.unlock()
      }
    }
  }
}
