// BatchStream: batches [B, width] (and targets [B, targetWidth]) built on a thread of their own,
// ahead of the trainer, through a bounded queue.
//
// The producer walks stream positions p = start, start+1, …: it decodes the group holding p (after
// releasing the previous one), looks up the row the schedule delivers at p, and appends it to the
// batch unless a filter drops it. A batch is full after B kept rows; its `cursor` is the position
// after its last row, so `init(startingAt: cursor)` resumes with exactly the next batch. Content
// depends only on the positions, never on thread timing. Memory: one decoded group, the batch being
// filled and at most `prefetch` finished batches. An error (a corrupt shard) is delivered in order,
// by the `next()` that would have returned the batch it spoiled.

import Foundation
import LanternTensor
import Synchronization

/// What a trainer consumes.
public protocol TrainingStream: AnyObject {
  /// Input row width.
  var width: Int { get }
  /// Target row width, or nil when the target is the input.
  var targetWidth: Int? { get }
  /// Stream position after the last batch returned (the value to checkpoint).
  var cursor: Int { get }
  /// The next batch, or nil at the end of a finite stream.
  func next() throws -> Batch?
}

/// One batch of rows.
public struct Batch: Sendable {
  /// Rows B (the batch size, or fewer for the last batch of an evaluation stream).
  public var rowCount: Int
  /// B × width inputs, row-major, Float32.
  public var inputs: [Float]
  /// B × targetWidth targets for paired sources; nil when the target is the input.
  public var targets: [Float]?
  /// Stream position after this batch's last row: resume from here.
  public var cursor: Int
  /// Epoch of the batch's last row.
  public var epoch: Int
  /// Positions this batch consumed and what the filters dropped among them.
  public var counts: FilterCounts
}

/// A batch stream fed by a producer thread.
public final class BatchStream: TrainingStream {
  public let width: Int
  public let targetWidth: Int?
  public let batchSize: Int
  /// Position the stream started at.
  public let start: Int
  public private(set) var cursor: Int
  /// Counts over every position consumed since `start` (by the batches returned so far).
  public private(set) var counts = FilterCounts()
  private let queue: BatchQueue

  init(
    plan: DataPlan, schedule: some Schedule, batchSize: Int, start: Int, end: Int?, keepPartial: Bool,
    prefetch: Int, decodeThreads: Int
  ) throws {
    guard batchSize >= 1 else {
      throw DataError.invalidSetting(name: "batch size", reason: "\(batchSize) < 1")
    }
    guard start >= 0 else { throw DataError.invalidSetting(name: "cursor", reason: "\(start) is negative") }
    guard prefetch >= 1 else { throw DataError.invalidSetting(name: "prefetch", reason: "\(prefetch) < 1") }
    guard decodeThreads >= 1 else {
      throw DataError.invalidSetting(name: "decode threads", reason: "\(decodeThreads) < 1")
    }
    width = plan.width
    targetWidth = plan.targetWidth
    self.batchSize = batchSize
    self.start = start
    cursor = start
    let queue = BatchQueue(capacity: prefetch)
    self.queue = queue
    let producer = Producer(
      plan: plan, schedule: schedule, batchSize: batchSize, start: start, end: end, keepPartial: keepPartial,
      decodeThreads: decodeThreads, queue: queue)
    let thread = Thread { producer.run() }
    thread.name = "lantern-data"
    thread.start()
  }

  deinit { queue.cancel() }

  public func next() throws -> Batch? {
    switch queue.pop() {
    case .batch(let batch):
      cursor = batch.cursor
      counts = counts + batch.counts
      return batch
    case .end: return nil
    case .failure(let error): throw error
    }
  }
}

enum QueueItem: Sendable {
  case batch(Batch)
  case end
  case failure(DataError)
}

/// A bounded FIFO between the producer and the consumer.
final class BatchQueue: Sendable {
  private struct State {
    var items: [QueueItem] = []
    var cancelled = false
    var finished = false
  }
  private let state = Mutex(State())
  private let condition = NSCondition()
  let capacity: Int

  init(capacity: Int) { self.capacity = capacity }

  /// Blocks while full; returns false when the consumer went away.
  func push(_ item: QueueItem) -> Bool {
    condition.lock()
    defer { condition.unlock() }
    while true {
      let (cancelled, count) = state.withLock { ($0.cancelled, $0.items.count) }
      if cancelled { return false }
      if count < capacity { break }
      condition.wait()
    }
    state.withLock { $0.items.append(item) }
    condition.broadcast()
    return true
  }

  func pop() -> QueueItem {
    condition.lock()
    defer { condition.unlock() }
    while true {
      if let item = state.withLock({ s -> QueueItem? in
        if s.items.isEmpty { return s.finished ? .end : nil }
        let item = s.items.removeFirst()
        if case .batch = item {} else { s.finished = true }
        return item
      }) {
        condition.broadcast()
        return item
      }
      condition.wait()
    }
  }

  var isCancelled: Bool { state.withLock { $0.cancelled } }

  func cancel() {
    condition.lock()
    state.withLock { $0.cancelled = true }
    condition.broadcast()
    condition.unlock()
  }
}

/// The producer's loop (runs on its own thread).
private struct Producer: Sendable {
  let plan: DataPlan
  let schedule: any Schedule
  let batchSize: Int
  let start: Int
  let end: Int?
  let keepPartial: Bool
  let decodeThreads: Int
  let queue: BatchQueue

  init(
    plan: DataPlan, schedule: some Schedule, batchSize: Int, start: Int, end: Int?, keepPartial: Bool,
    decodeThreads: Int, queue: BatchQueue
  ) {
    self.decodeThreads = decodeThreads
    self.plan = plan
    self.schedule = schedule
    self.batchSize = batchSize
    self.start = start
    self.end = end
    self.keepPartial = keepPartial
    self.queue = queue
  }

  func run() {
    do {
      try produce()
    } catch {
      _ = queue.push(.failure(DataError.wrap(error)))
    }
  }

  private func produce() throws {
    let width = plan.width
    let targetWidth = plan.targetWidth ?? 0
    // More consecutive dropped positions than the data holds: every row is filtered out.
    let hopeless = plan.shuffle.rowsPerEpoch + plan.heldOutUnits.reduce(0) { $0 + $1.rowCount }
    var inputs = [Float](repeating: 0, count: batchSize * width)
    var targets = [Float](repeating: 0, count: batchSize * targetWidth)
    var filled = 0
    var counts = FilterCounts()
    var p = start
    var sinceKept = 0
    var group: ScheduledGroup?
    var decoded: DecodedGroup?
    let pool = decodeThreads > 1 ? ThreadPool(threadCount: decodeThreads) : nil
    func emit() -> Bool {
      // A full batch hands its buffers over (fresh ones are allocated), a short one is copied.
      let x = filled == batchSize ? inputs : Array(inputs[0..<(filled * width)])
      let y = filled == batchSize ? targets : Array(targets[0..<(filled * targetWidth)])
      inputs = [Float](repeating: 0, count: batchSize * width)
      targets = [Float](repeating: 0, count: batchSize * targetWidth)
      let batch = Batch(
        rowCount: filled, inputs: x, targets: targetWidth == 0 ? nil : y, cursor: p, epoch: group?.epoch ?? 0,
        counts: counts)
      filled = 0
      counts = FilterCounts()
      return queue.push(.batch(batch))
    }
    while !queue.isCancelled {
      if p == end || (group.map { p >= $0.end } ?? true) {
        group = nil
        decoded = nil  // release the old group before decoding the next
        if p != end, let next = schedule.group(at: p) {
          group = next
          decoded = try plan.decode(next, pool: pool)
        } else {
          if filled > 0 && keepPartial && !emit() { return }
          _ = queue.push(.end)
          return
        }
      }
      guard let g = group, let d = decoded else { return }
      let stop = min(g.end, end ?? Int.max)
      let order = g.order ?? []
      let shuffled = g.order != nil
      while p < stop {
        let r = shuffled ? order[p &- g.start] : p &- g.start
        let verdict = d.verdicts[r]
        counts.add(verdict)
        p += 1
        if verdict == RowFilter.Verdict.keep.rawValue {
          sinceKept = 0
          d.inputs.withUnsafeBufferPointer { src in
            inputs.withUnsafeMutableBufferPointer { dst in
              (dst.baseAddress! + filled &* width).update(from: src.baseAddress! + r &* width, count: width)
            }
          }
          if targetWidth > 0 {
            d.targets.withUnsafeBufferPointer { src in
              targets.withUnsafeMutableBufferPointer { dst in
                (dst.baseAddress! + filled &* targetWidth).update(
                  from: src.baseAddress! + r &* targetWidth, count: targetWidth)
              }
            }
          }
          filled += 1
          if filled == batchSize && !emit() { return }
        } else {
          sinceKept += 1
          if sinceKept >= hopeless {
            throw DataError.empty(subject: plan.source.name, reason: "the filters drop every row (\(counts))")
          }
        }
      }
    }
  }
}
