// Extracting one work unit: its windows go through the truncated forward pass in batches, and the
// hooked activations stream into one shard per hook under attempt-private temporary names.
//
// Two threads, one bounded queue: the caller's thread runs the forward passes (on the job's
// compute pool) while a writer thread rounds, shuffles, compresses and writes the previous batch,
// so compression hides behind the forward pass. The queue holds at most two batches, so memory
// is the model plus a few batches, whatever the corpus size. Commit is the caller's business
// (single process: JobDirectory.commit; cluster: the LWP/1 commit dialog).

import Foundation
import LanternModels
import LanternShards
import LanternTensor

/// The temporaries of one extracted unit, ready to commit.
public struct UnitOutput: Sendable {
  public var unit: String
  public var attempt: UInt64
  public var tokens: Int
  public var files: [(hook: String, temporary: URL, bytes: Int, rows: Int, checksum: String)]
}

/// Thrown by `extract` when its progress callback asks to stop.
public struct CancelledError: Error, CustomStringConvertible {
  public init() {}
  public var description: String { "cancelled" }
}

/// A batch handed from the forward thread to the writer thread.
private struct WriteBatch {
  var activations: [Tensor]  // one per hook, (rows, d)
  var tokens: [Int32]
  var documents: [Int64]
  var positions: [Int32]
}

/// A blocking queue of bounded capacity.
final class BoundedQueue<Element>: @unchecked Sendable {
  private var items: [Element] = []
  private let capacity: Int
  private let condition = NSCondition()

  init(capacity: Int) { self.capacity = capacity }

  func put(_ item: Element) {
    condition.lock()
    while items.count >= capacity { condition.wait() }
    items.append(item)
    condition.broadcast()
    condition.unlock()
  }

  func take() -> Element {
    condition.lock()
    while items.isEmpty { condition.wait() }
    let item = items.removeFirst()
    condition.broadcast()
    condition.unlock()
    return item
  }
}

extension ExtractionJob {
  /// Extracts `unit` under `attempt` into temporaries; `progress(windowsDone)` is called after
  /// every batch. On error every temporary of this attempt is removed.
  public func extract(unit: WorkUnit, attempt: UInt64, progress: (Int) -> Bool = { _ in true }) throws
    -> UnitOutput
  {
    let forwardModel = try model
    let windows = try planner.windows(for: unit)
    let hooks = settings.hooks
    var writers: [ShardWriter] = []
    var temporaries: [URL] = []
    do {
      for hook in hooks {
        let tmp = try directory.temporaryURL(hook: hook, unit: unit.id, attempt: attempt)
        temporaries.append(tmp)
        let d = hookWidth(hook)
        let info = ShardInfo(
          hook: hook, architecture: config.architecture, weightsHash: weightsHash,
          tokenizerHash: tokenizerHash,
          dtype: shardDType, layout: shardLayout, d: d, contextSize: settings.contextSize,
          prependBOS: settings.prependBOS, packing: settings.packing, unitID: unit.id, seed: seed,
          provenance: ["lantern": "extract", "model": settings.model])
        writers.append(try ShardWriter(url: tmp, info: info))
      }
    } catch {
      for w in writers { w.discard() }
      throw error
    }

    // The writer thread: appends batches, reports the first error.
    let queue = BoundedQueue<WriteBatch?>(capacity: 2)
    let failure = LockedBox<(any Error)?>(nil)
    let done = DispatchSemaphore(value: 0)
    // The writers belong to the writer thread until `done` is signalled.
    let owned = Unchecked(writers)
    let writerThread = Thread {
      let writers = owned.value
      while let batch = queue.take() {
        if failure.value != nil { continue }
        do {
          for (w, act) in zip(writers, batch.activations) {
            try w.append(
              rows: act, tokenIDs: batch.tokens, documentIDs: batch.documents, positions: batch.positions)
          }
        } catch {
          failure.value = error
        }
      }
      done.signal()
    }
    writerThread.start()

    var tokens = 0
    var windowsDone = 0
    var forwardError: (any Error)?
    var i = 0
    while i < windows.count && failure.value == nil {
      // A batch: up to batchSize consecutive windows of equal length.
      let t = windows[i].tokens.count
      var j = i
      while j < windows.count && j - i < settings.batchSize && windows[j].tokens.count == t { j += 1 }
      let batch = Array(windows[i..<j])
      do {
        let store = ActivationStore()
        var h = Hooks()
        h.capture(hooks, into: store)
        let ids = batch.flatMap(\.tokens)
        _ = try forwardModel.forward(
          tokens: ids, batch: batch.count, seqLen: t, stopAfterLayer: stopAfterLayer, hooks: h)
        let acts = try hooks.map { name -> Tensor in
          guard let a = store[name] else {
            throw ExtractionError("hook \(name) was not captured", hint: "a bug")
          }
          return a
        }
        queue.put(
          WriteBatch(
            activations: acts, tokens: ids, documents: batch.flatMap { $0.documentIDs.map { Int64($0) } },
            positions: batch.flatMap { $0.documentOffsets.map { Int32(truncatingIfNeeded: $0) } }))
      } catch {
        forwardError = error
        break
      }
      tokens += batch.count * t
      windowsDone += batch.count
      if !progress(windowsDone) {
        forwardError = CancelledError()
        break
      }
      i = j
    }
    queue.put(nil)
    done.wait()
    if let error = forwardError ?? failure.value {
      for w in writers { w.discard() }
      throw error
    }
    var files: [(hook: String, temporary: URL, bytes: Int, rows: Int, checksum: String)] = []
    do {
      for (k, w) in writers.enumerated() {
        let summary = try w.finish()
        files.append(
          (
            hook: hooks[k], temporary: temporaries[k], bytes: summary.bytes, rows: summary.rows,
            checksum: summary.checksum
          ))
      }
    } catch {
      for w in writers { w.discard() }
      throw error
    }
    return UnitOutput(unit: unit.id, attempt: attempt, tokens: tokens, files: files)
  }

  /// The row width of a (per-token) hook, checked when the job was opened.
  func hookWidth(_ hook: String) -> Int { HookPoint.tokenWidth(of: hook, config: config) ?? 0 }
}

/// Hands a non-Sendable value to another thread whose use of it does not overlap ours.
final class Unchecked<Value>: @unchecked Sendable {
  let value: Value
  init(_ value: Value) { self.value = value }
}

/// A value behind a lock, for results passed between threads.
final class LockedBox<Value>: @unchecked Sendable {
  private let lock = NSLock()
  private var stored: Value
  init(_ value: Value) { stored = value }
  var value: Value {
    get { lock.withLock { stored } }
    set { lock.withLock { stored = newValue } }
  }
}
