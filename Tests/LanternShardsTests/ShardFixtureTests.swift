// Format stability: committed shards of real SmolLM2 activations (Tests/Fixtures/shards, one per
// dtype/layout pair below) must open, verify, and decode to the values numpy computed
// independently (Scripts/fixtures/make_shard_fixtures.py), and today's writer must reproduce
// them byte for byte. Scripts/python/test_reader.py reads the same files.
//
// To regenerate the shards after a deliberate format change (bump the version!):
//   LANTERN_WRITE_SHARD_FIXTURES=1 swift test --filter ShardFixtureTests

import Foundation
import LanternFormats
import LanternTestSupport
import Testing

@testable import LanternShards

@Suite struct ShardFixtureTests {
  static let pairs: [(ShardDType, ShardLayout)] = [
    (.bfloat16, .plain), (.bfloat16, .byteShuffle), (.bfloat16, .bitShuffle), (.float16, .byteShuffle),
    (.float32, .bitShuffle),
  ]
  static let rowsPerBlock = 48

  static func name(_ dtype: ShardDType, _ layout: ShardLayout) -> String { "real-\(dtype)-\(layout).lshard" }

  static func info(_ dtype: ShardDType, _ layout: ShardLayout) -> ShardInfo {
    ShardInfo(
      hook: "blocks.15.hook_resid_post", architecture: "llama",
      weightsHash: "sha256:b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
      tokenizerHash: "gguf:SmolLM2-135M-Instruct.Q4_1.gguf", dtype: dtype, layout: layout, d: 576,
      contextSize: 142, prependBOS: false, packing: "single-text", unitID: "fixture-0", seed: 1234,
      provenance: ["source": "lantern forward on Tests/Fixtures/shards/text.txt", "rows": "first 128"])
  }

  /// Writes the fixture shard for (dtype, layout) from input.npy, in batches of 40 rows.
  static func write(_ dtype: ShardDType, _ layout: ShardLayout, to url: URL) throws {
    let input = try NPY.readFloat32(Fixtures.url("shards/input.npy"))
    let tokens = try NPY.readInt32(Fixtures.url("shards/tokens.npy")).values
    let rows = input.shape[0]
    let d = input.shape[1]
    let values = input.array
    let writer = try ShardWriter(url: url, info: info(dtype, layout), rowsPerBlock: rowsPerBlock)
    for start in stride(from: 0, to: rows, by: 40) {
      let end = min(rows, start + 40)
      try writer.append(
        rows: Array(values[(start * d)..<(end * d)]), tokenIDs: Array(tokens[start..<end]),
        documentIDs: (start..<end).map { 5_000_000_000 + Int64($0 / 50) },
        positions: (start..<end).map { Int32($0 % 50) })
    }
    try writer.finish()
  }

  @Test(arguments: pairs)
  func committedFixtureDecodesToNumpyValues(_ pair: (ShardDType, ShardLayout)) throws {
    let (dtype, layout) = pair
    let url = Fixtures.url("shards/" + Self.name(dtype, layout))
    if ProcessInfo.processInfo.environment["LANTERN_WRITE_SHARD_FIXTURES"] == "1" {
      try Self.write(dtype, layout, to: url)
    }
    let input = try NPY.readFloat32(Fixtures.url("shards/input.npy")).array
    let expected: [Float]
    switch dtype {
    case .float32:
      expected = input
    case .float16:
      expected = try NPY.readFloat32(Fixtures.url("shards/expected-f16.npy")).array
    case .bfloat16:
      let bits = try NPY.readInt32(Fixtures.url("shards/expected-bf16.npy")).values
      expected = bits.map { Float(bitPattern: UInt32(UInt16(truncatingIfNeeded: $0)) << 16) }
    }
    let tokens = try NPY.readInt32(Fixtures.url("shards/tokens.npy")).values
    let norms = try NPY.readFloat32(Fixtures.url("shards/norms.npy")).array

    let reader = try ShardReader(url: url)
    #expect(reader.info == Self.info(dtype, layout))
    #expect(reader.rowCount == 128 && reader.blocks.map(\.rowCount) == [48, 48, 32])
    let committedChecksum = try reader.verify()
    let all = try reader.readRows(0..<128)
    #expect(sameBits(all.rows, expected), "\(dtype) \(layout) rows differ from numpy's rounding")
    #expect(all.tokenIDs == tokens)
    #expect(all.documentIDs == (0..<128).map { 5_000_000_000 + Int64($0 / 50) })
    #expect(all.positions == (0..<128).map { Int32($0 % 50) })
    for r in 0..<128 { #expect(abs(all.norms[r] - norms[r]) <= 2e-6 * norms[r], "norm of row \(r)") }

    // Today's writer reproduces the committed bytes exactly.
    let directory = try Fixtures.temporaryDirectory("shard-fixture")
    defer { try? FileManager.default.removeItem(at: directory) }
    let rewritten = directory.appendingPathComponent("again.lshard")
    try Self.write(dtype, layout, to: rewritten)
    #expect(
      try Data(contentsOf: rewritten) == Data(contentsOf: url),
      "the writer's output changed: bump the format version")
    #expect(try ShardReader(url: rewritten).verify() == committedChecksum)
  }
}
