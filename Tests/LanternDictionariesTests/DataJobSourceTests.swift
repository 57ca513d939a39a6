// JobSource: committed shards only, checked against the manifest; paired and concatenated hooks;
// every bad input a DataError naming the file, unit or hook.

import Foundation
import LanternShards
import LanternTestSupport
import Testing

@testable import LanternDictionaries

private let a = "blocks.0.hook_resid_post"
private let b = "blocks.1.hook_resid_post"
private let c = "blocks.1.hook_mlp_out"

private func read(_ source: JobSource, unit: DataUnit) throws -> ([Float], [Float]?, RowSide) {
  var x = [Float](repeating: .nan, count: unit.rowCount * source.width)
  var y = [Float](repeating: .nan, count: unit.rowCount * (source.targetWidth ?? 0))
  let side = try x.withUnsafeMutableBufferPointer { xb in
    try y.withUnsafeMutableBufferPointer { yb in
      try source.read(
        unit: unit, rows: 0..<unit.rowCount, inputs: xb.baseAddress!,
        targets: source.targetWidth == nil ? nil : yb.baseAddress!)
    }
  }
  return (x, source.targetWidth == nil ? nil : y, side)
}

@Test func dataJobSourceReadsCommittedRowsOfOneAndSeveralHooks() throws {
  let job = try TestJob(hooks: [(a, 4), (b, 4), (c, 3)], rows: [37, 50, 23])
  defer { job.remove() }
  // Crosscoder order b, a: concatenated per row in the order given.
  let cross = try JobSource(url: job.url, hooks: [b, a])
  #expect(cross.width == 8 && cross.targetWidth == nil)
  #expect(cross.units.map(\.id) == ["u000000", "u000001", "u000002"])
  #expect(cross.units.map(\.rowCount) == [37, 50, 23])
  for unit in cross.units {
    let u = TestJob.number(unit.id)
    let (x, _, side) = try read(cross, unit: unit)
    #expect(x == (0..<unit.rowCount).flatMap { TestJob.row(hooks: [(1, 4), (0, 4)], unit: u, row: $0) })
    #expect(side.tokenIDs == (0..<unit.rowCount).map { TestJob.token(unit: u, row: $0) })
    #expect(side.norms.count == 2)
  }
  // Transcoder a → c: inputs [n, 4], targets [n, 3] of the same tokens.
  let transcoder = try JobSource(url: job.url, hooks: [a], targetHooks: [c])
  #expect(transcoder.width == 4 && transcoder.targetWidth == 3)
  let unit = transcoder.units[1]
  let (x, y, _) = try read(transcoder, unit: unit)
  #expect(x == (0..<50).flatMap { TestJob.row(hooks: [(0, 4)], unit: 1, row: $0) })
  #expect(y == (0..<50).flatMap { TestJob.row(hooks: [(2, 3)], unit: 1, row: $0) })
  // A partial range across block boundaries (blocks of 16 rows).
  var part = [Float](repeating: 0, count: 20 * 4)
  _ = try part.withUnsafeMutableBufferPointer {
    try transcoder.read(unit: unit, rows: 10..<30, inputs: $0.baseAddress!, targets: nil)
  }
  #expect(part == (10..<30).flatMap { TestJob.row(hooks: [(0, 4)], unit: 1, row: $0) })
}

@Test func dataJobSourceIgnoresFilesTheManifestDoesNotList() throws {
  let job = try TestJob(hooks: [(a, 4)], rows: [10, 12])
  defer { job.remove() }
  // A shard left under a final name without a manifest line (a crash between rename and append).
  let stray = job.shard(hook: a, unit: "u000009")
  try FileManager.default.copyItem(at: job.shard(hook: a, unit: "u000001"), to: stray)
  let source = try JobSource(url: job.url, hooks: [a])
  #expect(source.units.map(\.id) == ["u000000", "u000001"])
}

@Test func dataJobSourceUnknownHookListsTheJobsHooks() throws {
  let job = try TestJob(hooks: [(a, 4), (c, 3)], rows: [10])
  defer { job.remove() }
  #expect {
    try JobSource(url: job.url, hooks: ["blocks.9.hook_resid_post"])
  } throws: { error in
    guard case .unknownHook(_, let hook, let available) = error as? DataError else { return false }
    return hook == "blocks.9.hook_resid_post" && available == [a, c]
      && "\(error)".contains("\(a), \(c)") && "\(error)".contains("HINT")
  }
}

@Test func dataJobSourceWidthMismatchBetweenCrosscoderHooks() throws {
  let job = try TestJob(hooks: [(a, 4), (c, 3)], rows: [10])
  defer { job.remove() }
  #expect {
    try JobSource(url: job.url, hooks: [a, c])
  } throws: { error in
    guard case .widthMismatch(let subject, 4, 3, _) = error as? DataError else { return false }
    return subject.contains(c)
  }
  // A transcoder may map one width to another.
  #expect(try JobSource(url: job.url, hooks: [a], targetHooks: [c]).targetWidth == 3)
}

@Test func dataJobSourceWithoutCommittedUnitsIsEmpty() throws {
  let job = try TestJob(hooks: [(a, 4)], rows: [])
  defer { job.remove() }
  #expect {
    try JobSource(url: job.url, hooks: [a])
  } throws: { error in
    if case .empty = error as? DataError { return true }
    return false
  }
  #expect(throws: DataError.self) { try JobSource(url: job.url.appendingPathComponent("nope"), hooks: [a]) }
}

@Test func dataJobSourceCorruptShardIsNamedWhenOpened() throws {
  let job = try TestJob(hooks: [(a, 4)], rows: [40, 40, 40])
  defer { job.remove() }
  let path = job.shard(hook: a, unit: "u000001")
  var bytes = try Data(contentsOf: path)
  bytes[bytes.count / 2] ^= 0x01
  try bytes.write(to: path)
  let isNamed = { (error: any Error) -> Bool in
    guard case .corruptShard(let p, "u000001", a, _) = error as? DataError else { return false }
    return p == path.path && "\(error)".contains("re-extract unit u000001")
  }
  for verification in [ShardVerification.checksum, .size] {
    let source = try JobSource(url: job.url, hooks: [a], verification: verification)
    #expect(throws: Never.self) { _ = try read(source, unit: source.units[0]) }
    // With .checksum the manifest's CRC catches it; with .size the block CRC does.
    #expect(performing: { _ = try read(source, unit: source.units[1]) }, throws: isNamed)
  }
  // Through the stream: the error arrives in order, from next().
  let plan = try DataPlan(
    source: try JobSource(url: job.url, hooks: [a]), split: .none,
    shuffle: ShuffleConfig(pieceRows: 40, groupPieces: 1),
    filter: .keepAll)
  let stream = try plan.trainingStream(batchSize: 8)
  #expect(performing: { _ = try drain(stream, batches: 100) }, throws: isNamed)
}

@Test func dataJobSourceMissingShardIsNamed() throws {
  let job = try TestJob(hooks: [(a, 4)], rows: [10, 10])
  defer { job.remove() }
  try FileManager.default.removeItem(at: job.shard(hook: a, unit: "u000001"))
  let source = try JobSource(url: job.url, hooks: [a])
  #expect {
    _ = try read(source, unit: source.units[1])
  } throws: { error in
    guard case .corruptShard(_, "u000001", a, let reason) = error as? DataError else { return false }
    return reason.contains("missing")
  }
}

@Test func dataJobSourcePairedRowsMustShareProvenance() throws {
  // Hook c's token at unit 1, row 19 differs from hook a's.
  let job = try TestJob(hooks: [(a, 4), (c, 3)], rows: [30, 30]) { hook, unit, row in
    hook == 1 && unit == 1 && row == 19 ? 999 : nil
  }
  defer { job.remove() }
  let source = try JobSource(url: job.url, hooks: [a], targetHooks: [c])
  #expect(throws: Never.self) { _ = try read(source, unit: source.units[0]) }
  #expect {
    _ = try read(source, unit: source.units[1])
  } throws: { error in
    guard case .provenanceMismatch("u000001", a, c, 19, "token id", _, "999") = error as? DataError else {
      return false
    }
    return true
  }
}

@Test func dataJobSourceTakesTheDefaultSpecialTokensFromThePlan() throws {
  let job = try TestJob(hooks: [(a, 4)], rows: [40, 24])
  defer { job.remove() }
  // A plan whose windows start with token 7 and separate documents with token 3.
  let corpus = job.url.appendingPathComponent("corpus.txt")
  try Data((0..<40).map { "document \($0) of the test corpus" }.joined(separator: "\n").utf8).write(
    to: corpus)
  let settings = PlanSettings(
    windows: WindowSettings(contextSize: 8, beginBatchToken: 7, sequenceSeparatorToken: 3), windowsPerUnit: 4)
  let bytes = PlanTokenizer(fingerprint: "bytes") { text in text.utf8.map(Int.init) }
  let plan = try CorpusPlanner(corpus: Corpus(url: corpus), settings: settings, tokenizer: bytes).makePlan()
  try plan.jsonData().write(to: job.url.appendingPathComponent("plan.json"))
  let source = try JobSource(url: job.url, hooks: [a])
  #expect(source.defaultExcludedTokenIDs == [3, 7])
  #expect(source.model == "/nonexistent/model.gguf")
  // The default filter drops the BOS rows (token 7: every 8th row), counted as special tokens.
  let data = try DataPlan(source: source, split: .none, filter: FilterConfig(maxNormMultiple: nil))
  let counts = try data.filterCounts(positions: 0..<64)
  #expect(counts == FilterCounts(positions: 64, kept: 64 - 8, specialTokens: 5 + 3, normOutliers: 0))
  // An explicit list replaces the default; additional ids add to it.
  let none = try DataPlan(source: source, split: .none, filter: .keepAll)
  #expect(none.filter.excludedTokenIDs.isEmpty)
  let more = try DataPlan(
    source: source, split: .none, filter: FilterConfig(additionalExcludedTokenIDs: [0, 2]))
  #expect(more.filter.excludedTokenIDs == [0, 2, 3, 7])
}

/// A job directory `lantern extract` wrote (LANTERN_DATA_JOB=path), read through the whole stack.
private let realJob = ProcessInfo.processInfo.environment["LANTERN_DATA_JOB"]

@Test(.enabled(if: realJob != nil, "set LANTERN_DATA_JOB to a job directory `lantern extract` wrote"))
func dataJobSourceStreamsARealExtractionLikeItsShardReader() throws {
  let url = URL(fileURLWithPath: realJob!)
  let spec = try JobSpec.parse(
    String(contentsOf: url.appendingPathComponent("job.yaml"), encoding: .utf8), path: "")
  let hooks = spec.fields.first { $0.key == "hooks" }!.value.split(separator: ",").map(String.init)
  let source = try JobSource(url: url, hooks: [hooks[0]], targetHooks: Array(hooks.dropFirst().prefix(1)))
  let plan = try DataPlan(source: source, shuffle: ShuffleConfig(seed: 1, pieceRows: 256, groupPieces: 4))
  let stream = try plan.trainingStream(batchSize: 64, epochs: 1)
  let batches = try drain(stream)
  #expect(stream.counts.positions <= plan.shuffle.rowsPerEpoch && !batches.isEmpty)
  #expect(stream.counts.kept == batches.count * 64)
  // Rows of the first batch, looked up by position and read with ShardReader directly.
  var p = 0
  var i = 0
  while i < 64 {
    let location = plan.shuffle.location(ofPosition: p)
    p += 1
    let shard = url.appendingPathComponent("shards/\(hooks[0])/\(location.unit.id).lshard")
    let row = try ShardReader(url: shard).readRows(location.row..<(location.row + 1))
    let special = plan.filter.excludedTokenIDs.contains(row.tokenIDs[0])
    let outlier = !plan.filter.normLimits.isEmpty && row.norms[0] > plan.filter.normLimits[0]
    if special || outlier { continue }
    let w = source.width
    if plan.filter.normLimits.count > 1 {
      let target = url.appendingPathComponent("shards/\(hooks[1])/\(location.unit.id).lshard")
      let t = try ShardReader(url: target).readRows(location.row..<(location.row + 1))
      if t.norms[0] > plan.filter.normLimits[1] { continue }
      #expect(Array(batches[0].targets![(i * t.d)..<((i + 1) * t.d)]) == t.rows)
    }
    #expect(Array(batches[0].inputs[(i * w)..<((i + 1) * w)]) == row.rows)
    i += 1
  }
  print(
    "real job: \(stream.counts), special ids \(plan.filter.excludedTokenIDs), median norms \(plan.filter.medianNorms)"
  )
}
