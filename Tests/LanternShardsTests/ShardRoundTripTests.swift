// Write-then-read for every dtype and layout: rows come back as the independently rounded
// values (f32 bit-exact), side data exactly, norms as the Float32 rows' norms; random access
// equals streaming; the whole-file checksum equals a bitwise CRC-32 of the file.

import Foundation
import LanternFormats
import LanternTensor
import LanternTestSupport
import Testing

@testable import LanternShards

@Suite struct ShardRoundTripTests {
  static let combinations: [(ShardDType, ShardLayout)] = ShardDType.allCases.flatMap { dtype in
    ShardLayout.allCases.map { (dtype, $0) }
  }

  @Test(arguments: combinations, [13, 64])
  func roundTrip(_ combination: (ShardDType, ShardLayout), d: Int) throws {
    let (dtype, layout) = combination
    let directory = try Fixtures.temporaryDirectory("shard-rt")
    defer { try? FileManager.default.removeItem(at: directory) }
    let data = SyntheticRows(count: 50, d: d, seed: UInt64(d) &* 31 &+ UInt64(dtype.rawValue))
    let info = makeInfo(dtype: dtype, layout: layout, d: d)
    let (url, summary) = try writeShard(data, info: info, rowsPerBlock: 7, in: directory)

    let reader = try ShardReader(url: url)
    #expect(reader.info == info)
    #expect(reader.rowCount == 50 && reader.header.rowsPerBlock == 7 && reader.blocks.count == 8)
    #expect(reader.blocks.last?.rowCount == 1)
    let all = try reader.readRows(0..<50)
    #expect(sameBits(all.rows, data.rows.map { referenceRound($0, dtype) }), "\(dtype) \(layout) d \(d)")
    #expect(all.tokenIDs == data.tokenIDs)
    #expect(all.documentIDs == data.documentIDs)
    #expect(all.positions == data.positions)
    for r in 0..<50 {
      let row = data.rows[(r * d)..<((r + 1) * d)]
      let exact = Float(row.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot())
      #expect(abs(all.norms[r] - exact) <= 1e-5 * exact, "row \(r)")
    }

    let bytes = Array(try Data(contentsOf: url))
    #expect(summary.bytes == bytes.count && summary.rows == 50 && summary.blocks == 8)
    #expect(summary.checksum == CRC32.hex(naiveCRC32(bytes)))
    #expect(try reader.verify() == summary.checksum)
  }

  @Test func randomAccessEqualsStreaming() throws {
    let directory = try Fixtures.temporaryDirectory("shard-ra")
    defer { try? FileManager.default.removeItem(at: directory) }
    let d = 40
    let data = SyntheticRows(count: 203, d: d, seed: 77)
    let (url, _) = try writeShard(data, info: makeInfo(d: d), rowsPerBlock: 16, in: directory, batch: 37)
    let reader = try ShardReader(url: url)
    var streamed = ShardBatch(
      firstRow: 0, d: d, rows: [], tokenIDs: [], documentIDs: [], positions: [], norms: [])
    var blockStarts: [Int] = []
    try reader.forEachBlock { batch in
      blockStarts.append(batch.firstRow)
      #expect(batch.rows.count == batch.rowCount * d)
      streamed.rows += batch.rows
      streamed.tokenIDs += batch.tokenIDs
      streamed.documentIDs += batch.documentIDs
      streamed.positions += batch.positions
      streamed.norms += batch.norms
    }
    #expect(blockStarts == Array(stride(from: 0, to: 203, by: 16)))
    var rng = SplitMix64(seed: 1)
    var ranges: [Range<Int>] = [0..<0, 0..<203, 15..<17, 16..<32, 202..<203, 0..<1]
    for _ in 0..<30 {
      let a = Int(rng.next() % 204)
      let b = Int(rng.next() % 204)
      ranges.append(min(a, b)..<max(a, b))
    }
    for range in ranges {
      let batch = try reader.readRows(range)
      #expect(batch.firstRow == range.lowerBound)
      #expect(
        sameBits(batch.rows, Array(streamed.rows[(range.lowerBound * d)..<(range.upperBound * d)])),
        "\(range)")
      #expect(batch.tokenIDs == Array(streamed.tokenIDs[range]))
      #expect(batch.documentIDs == Array(streamed.documentIDs[range]))
      #expect(batch.positions == Array(streamed.positions[range]))
      #expect(sameBits(batch.norms, Array(streamed.norms[range])))
      var direct = [Float](repeating: .nan, count: range.count * d)
      try direct.withUnsafeMutableBufferPointer { buffer in
        guard let base = buffer.baseAddress else { return }
        try reader.readRows(range, into: base)
      }
      #expect(sameBits(direct, batch.rows))
      let side = try reader.readSide(range)
      #expect(side.rows.isEmpty && side.tokenIDs == batch.tokenIDs && side.documentIDs == batch.documentIDs)
      #expect(side.positions == batch.positions && sameBits(side.norms, batch.norms))
    }
    #expect(
      shardError { _ = try reader.readRows(200..<204) }
        == .invalidArgument(path: url.path, reason: "rows 200..<204 are outside the shard's 203 rows"))
    #expect(shardError { _ = try reader.readBlock(13) } != nil)
  }

  @Test func defaultBlockSizeAndEmptyShard() throws {
    let directory = try Fixtures.temporaryDirectory("shard-empty")
    defer { try? FileManager.default.removeItem(at: directory) }
    let info = makeInfo(dtype: .bfloat16, layout: .byteShuffle, d: 576)
    let url = directory.appendingPathComponent("empty.lshard")
    let writer = try ShardWriter(url: url, info: info)
    #expect(writer.rowsPerBlock == 227, "256 KB / (576 × 2 bytes)")
    let summary = try writer.finish()
    #expect(summary.rows == 0 && summary.blocks == 0)
    let reader = try ShardReader(url: url)
    #expect(reader.rowCount == 0 && reader.blocks.isEmpty && reader.info == info)
    #expect(try reader.readRows(0..<0).rowCount == 0)
    #expect(try reader.verify() == summary.checksum)
    #expect(try ShardWriter(url: url, info: makeInfo(dtype: .float32, d: 576)).rowsPerBlock == 113)
  }

  @Test func headerRecordsEveryField() throws {
    let directory = try Fixtures.temporaryDirectory("shard-header")
    defer { try? FileManager.default.removeItem(at: directory) }
    var info = makeInfo(dtype: .float16, layout: .plain, d: 3, unit: "")
    info.seed = .max
    info.prependBOS = false
    info.contextSize = 0
    info.provenance = [:]
    let data = SyntheticRows(count: 2, d: 3, seed: 2)
    let (url, _) = try writeShard(data, info: info, rowsPerBlock: nil, in: directory)
    let reader = try ShardReader(url: url)
    #expect(
      reader.header == ShardHeader(info: info, rowsPerBlock: ShardFormat.targetBlockBytes / 6, rowCount: 2))
  }

  @Test func writerRejectsMisuse() throws {
    let directory = try Fixtures.temporaryDirectory("shard-misuse")
    defer { try? FileManager.default.removeItem(at: directory) }
    let url = directory.appendingPathComponent("m.lshard")
    #expect(shardError { _ = try ShardWriter(url: url, info: makeInfo(d: 0)) } != nil)
    #expect(!FileManager.default.fileExists(atPath: url.path), "no file for invalid arguments")
    #expect(shardError { _ = try ShardWriter(url: url, info: makeInfo(), rowsPerBlock: 0) } != nil)
    let writer = try ShardWriter(url: url, info: makeInfo(d: 2))
    let mismatch = shardError {
      try writer.append(rows: [1, 2, 3], tokenIDs: [1], documentIDs: [1], positions: [1])
    }
    guard case .invalidArgument = mismatch else {
      Issue.record("expected invalidArgument, got \(String(describing: mismatch))")
      return
    }
    try writer.append(rows: [1, 2], tokenIDs: [1], documentIDs: [1], positions: [0])
    try writer.finish()
    #expect(
      shardError { try writer.append(rows: [1, 2], tokenIDs: [1], documentIDs: [1], positions: [0]) }
        == .invalidArgument(path: url.path, reason: "the writer is already finished"))
    let discarded = try ShardWriter(url: url, info: makeInfo(d: 2))
    discarded.discard()
    #expect(!FileManager.default.fileExists(atPath: url.path))
  }

  @Test func tensorAppendEqualsArrayAppend() throws {
    let directory = try Fixtures.temporaryDirectory("shard-tensor")
    defer { try? FileManager.default.removeItem(at: directory) }
    let data = SyntheticRows(count: 9, d: 5, seed: 21)
    let (arrays, _) = try writeShard(
      data, info: makeInfo(d: 5), rowsPerBlock: 4, in: directory, name: "a.lshard")
    let url = directory.appendingPathComponent("t.lshard")
    let writer = try ShardWriter(url: url, info: makeInfo(d: 5), rowsPerBlock: 4)
    let tensor = Tensor(shape: [3, 3, 5], values: data.rows)
    try writer.append(
      rows: tensor, tokenIDs: data.tokenIDs, documentIDs: data.documentIDs, positions: data.positions)
    try writer.finish()
    #expect(try Data(contentsOf: url) == Data(contentsOf: arrays))
    let bad = try ShardWriter(url: url, info: makeInfo(d: 5))
    #expect(
      shardError { try bad.append(rows: tensor, tokenIDs: [1], documentIDs: [1], positions: [1]) } != nil)
  }

  @Test func exportsNPY() throws {
    let directory = try Fixtures.temporaryDirectory("shard-npy")
    defer { try? FileManager.default.removeItem(at: directory) }
    let data = SyntheticRows(count: 30, d: 8, seed: 9)
    let (url, _) = try writeShard(data, info: makeInfo(dtype: .float32, d: 8), rowsPerBlock: 4, in: directory)
    let reader = try ShardReader(url: url)
    let npy = directory.appendingPathComponent("rows.npy")
    let tokens = directory.appendingPathComponent("tokens.npy")
    try reader.exportNPY(rows: 5..<22, activations: npy, tokenIDs: tokens)
    let tensor = try NPY.readFloat32(npy)
    #expect(tensor.shape == [17, 8])
    #expect(sameBits(tensor.array, Array(data.rows[40..<176])))
    let (ids, shape) = try NPY.readInt32(tokens)
    #expect(shape == [17] && ids == Array(data.tokenIDs[5..<22]))
  }
}
