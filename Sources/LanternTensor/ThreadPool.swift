// ThreadPool: one persistent fork-join pool per process.
//
// The caller takes part as thread 0; the other threads spin briefly on an atomic generation
// counter and then park on a condition variable, so a fork-join costs well under a microsecond
// when work arrives back to back and nothing when idle. Work is split statically by thread
// index, never stolen, so results are deterministic for a given thread count (no atomics in
// the arithmetic). Nested calls from inside a task run inline on the calling thread.

import Foundation
import Synchronization

/// A fork-join pool of `threadCount` threads (the caller counts as one).
public final class ThreadPool: @unchecked Sendable {
  /// Threads that run each parallel section, the caller included.
  public let threadCount: Int

  private let condition = NSCondition()
  private let doneCondition = NSCondition()
  private let generation = Atomic<Int>(0)
  private let remaining = Atomic<Int>(0)
  private var job: ((Int) -> Void)?
  private var busy = false

  /// Creates a pool; `threadCount` defaults to the machine's active cores.
  public init(threadCount: Int = ProcessInfo.processInfo.activeProcessorCount) {
    precondition(threadCount >= 1, "a pool needs at least one thread")
    self.threadCount = threadCount
    for index in 1..<threadCount {
      let thread = Thread { [unowned self] in self.workerLoop(index: index) }
      thread.stackSize = 8 << 20
      thread.start()
    }
  }

  /// Runs `body(threadIndex)` once on every thread of the pool and returns when all are done.
  public func run(_ body: (Int) -> Void) {
    if threadCount == 1 || busy {
      for i in 0..<threadCount { body(i) }
      return
    }
    busy = true
    defer { busy = false }
    withoutActuallyEscaping(body) { escaping in
      condition.lock()
      job = escaping
      remaining.store(threadCount - 1, ordering: .sequentiallyConsistent)
      generation.add(1, ordering: .sequentiallyConsistent)
      condition.broadcast()
      condition.unlock()
      escaping(0)
      var spins = 0
      while remaining.load(ordering: .acquiring) > 0 {
        spins += 1
        if spins > 4000 {
          doneCondition.lock()
          while remaining.load(ordering: .acquiring) > 0 { doneCondition.wait() }
          doneCondition.unlock()
        }
      }
      job = nil
    }
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

  private func workerLoop(index: Int) {
    var seen = 0
    while true {
      var spins = 0
      while generation.load(ordering: .acquiring) == seen && spins < 20_000 { spins += 1 }
      if generation.load(ordering: .acquiring) == seen {
        condition.lock()
        while generation.load(ordering: .acquiring) == seen { condition.wait() }
        condition.unlock()
      }
      seen = generation.load(ordering: .acquiring)
      condition.lock()
      let work = job
      condition.unlock()
      work?(index)
      if remaining.subtract(1, ordering: .sequentiallyConsistent).newValue == 0 {
        doneCondition.lock()
        doneCondition.signal()
        doneCondition.unlock()
      }
    }
  }
}
