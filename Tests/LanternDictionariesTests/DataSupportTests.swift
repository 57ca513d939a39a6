// Test support for the data-stream tests: a tiny job directory written with ShardWriter (f32, so
// every value comes back exactly), whose rows are known functions of (hook, unit, row), and the
// naive twins (row values, filters) the stream is compared with.

import Foundation
import LanternShards
import LanternTestSupport
import Testing

@testable import LanternDictionaries

/// A tiny extraction job: `hooks` × `units`, rows a function of (hook, unit, row).
struct TestJob {
  let url: URL
  let hooks: [(name: String, d: Int)]
  let units: [(id: String, rows: Int)]

  static let bos: Int32 = 7

  /// Column 0 identifies the row exactly (unit·1000 + row); the rest set a norm near 13,000,
  /// except rows with row % 13 == 5, whose norm is ~1,000× larger.
  static func value(hook: Int, unit: Int, row: Int, column: Int) -> Float {
    if column == 0 { return Float(unit * 1000 + row) }
    let base = Float(5000 + 37 * ((row * 7 + column * 3 + hook * 11) % 17))
    return row % 13 == 5 && column == 1 ? base * 1000 : base
  }
  static func token(unit: Int, row: Int) -> Int32 {
    row % 8 == 0 ? bos : Int32(100 + (unit * 7 + row * 3) % 50)
  }
  static func document(unit: Int, row: Int) -> Int64 { Int64(unit * 100 + row / 8) }
  static func position(unit: Int, row: Int) -> Int32 { Int32(row % 8) }

  /// The row a TestJob unit holds for hooks `hookIndices` concatenated.
  static func row(hooks: [(index: Int, d: Int)], unit: Int, row: Int) -> [Float] {
    hooks.flatMap { h in (0..<h.d).map { value(hook: h.index, unit: unit, row: row, column: $0) } }
  }

  /// The unit number of a unit id "u000012".
  static func number(_ id: String) -> Int { Int(id.dropFirst())! }

  /// Writes the job. `tamper(hook, unit, row)` may return a different token id for one hook.
  init(
    hooks: [(name: String, d: Int)], rows: [Int], rowsPerBlock: Int = 16,
    tamper: (Int, Int, Int) -> Int32? = { _, _, _ in nil }
  ) throws {
    url = try Fixtures.temporaryDirectory("lantern-data")
    self.hooks = hooks
    units = rows.enumerated().map { (WorkUnit.id(index: $0.offset), $0.element) }
    let spec = JobSpec([
      (key: "kind", value: "extract"), (key: "model", value: "/nonexistent/model.gguf"),
      (key: "hooks", value: hooks.map(\.name).joined(separator: ",")), (key: "seed", value: "0"),
    ])
    let job = try JobDirectory(url: url, spec: spec, role: .owner)
    for (u, unit) in units.enumerated() {
      var files: [(hook: String, temporary: URL, bytes: Int, rows: Int, checksum: String)] = []
      for (h, hook) in hooks.enumerated() {
        let temporary = try job.temporaryURL(hook: hook.name, unit: unit.id, attempt: 1)
        let info = ShardInfo(
          hook: hook.name, architecture: "test", weightsHash: "w", tokenizerHash: "t", dtype: .float32,
          layout: .plain, d: hook.d, contextSize: 8, prependBOS: true, packing: "concat", unitID: unit.id,
          seed: 0)
        let writer = try ShardWriter(url: temporary, info: info, rowsPerBlock: rowsPerBlock)
        let r = 0..<unit.rows
        try writer.append(
          rows: r.flatMap { row in (0..<hook.d).map { TestJob.value(hook: h, unit: u, row: row, column: $0) }
          },
          tokenIDs: r.map { tamper(h, u, $0) ?? TestJob.token(unit: u, row: $0) },
          documentIDs: r.map { TestJob.document(unit: u, row: $0) },
          positions: r.map { TestJob.position(unit: u, row: $0) })
        let summary = try writer.finish()
        files.append((hook.name, temporary, summary.bytes, summary.rows, summary.checksum))
      }
      try job.commit(unit: unit.id, attempt: 1, tokens: unit.rows, files: files)
    }
  }

  /// Path of a committed shard.
  func shard(hook: String, unit: String) -> URL {
    url.appendingPathComponent("shards/\(hook)/\(unit).lshard")
  }

  func remove() { try? FileManager.default.removeItem(at: url) }
}

/// Naive twin of the filters: the verdict for TestJob row (unit, row) of hooks `hookIndices`,
/// with medians taken from the first `sampleRows` non-BOS rows of `trainingUnits` in order.
struct NaiveFilter {
  let excluded: Set<Int32>
  let limits: [Float]
  let hookIndices: [(index: Int, d: Int)]

  init(
    excluded: Set<Int32>, multiple: Float?, hookIndices: [(index: Int, d: Int)], trainingUnits: [DataUnit],
    sampleRows: Int
  ) {
    self.excluded = excluded
    self.hookIndices = hookIndices
    guard let multiple else {
      limits = []
      return
    }
    var samples = [[Float]](repeating: [], count: hookIndices.count)
    var taken = 0
    outer: for unit in trainingUnits {
      for row in 0..<unit.rowCount {
        if taken == sampleRows { break outer }
        if excluded.contains(TestJob.token(unit: TestJob.number(unit.id), row: row)) { continue }
        taken += 1
        for (k, h) in hookIndices.enumerated() {
          samples[k].append(NaiveFilter.norm(hook: h, unit: TestJob.number(unit.id), row: row))
        }
      }
    }
    limits = samples.map { s in s.sorted()[s.count / 2] * multiple }
  }

  static func norm(hook: (index: Int, d: Int), unit: Int, row: Int) -> Float {
    var sum: Double = 0
    for c in 0..<hook.d {
      let v = Double(TestJob.value(hook: hook.index, unit: unit, row: row, column: c))
      sum += v * v
    }
    return Float(sum.squareRoot())
  }

  /// 0 keep, 1 special token, 2 norm outlier.
  func verdict(unit: Int, row: Int) -> Int {
    if excluded.contains(TestJob.token(unit: unit, row: row)) { return 1 }
    for (k, h) in hookIndices.enumerated() where !limits.isEmpty {
      if NaiveFilter.norm(hook: h, unit: unit, row: row) > limits[k] { return 2 }
    }
    return 0
  }
}

/// Drains `count` batches (or to the end) from `stream`.
func drain(_ stream: BatchStream, batches count: Int = .max) throws -> [Batch] {
  var out: [Batch] = []
  while out.count < count, let batch = try stream.next() { out.append(batch) }
  return out
}

@Test func dataSupportJobRoundTrips() throws {
  let job = try TestJob(hooks: [("blocks.0.hook_resid_post", 4)], rows: [20])
  defer { job.remove() }
  let reader = try ShardReader(url: job.shard(hook: "blocks.0.hook_resid_post", unit: "u000000"))
  let batch = try reader.readRows(0..<20)
  #expect(batch.rows == (0..<20).flatMap { TestJob.row(hooks: [(0, 4)], unit: 0, row: $0) })
}
