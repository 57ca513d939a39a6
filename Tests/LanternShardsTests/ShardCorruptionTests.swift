// Hostile shards: truncations, flipped bits in every section, wrong magic and version, and
// structurally wrong files whose checksums were re-sealed so that the structural checks (not
// the CRCs) must catch them. Each case expects its own ShardError.

import Foundation
import LanternTestSupport
import Testing

@testable import LanternShards

@Suite struct ShardCorruptionTests {
  let directory: URL
  let url: URL
  let good: ShardBytes

  init() throws {
    directory = try Fixtures.temporaryDirectory("shard-bad")
    let data = SyntheticRows(count: 100, d: 32, seed: 42)
    (url, _) = try writeShard(data, info: makeInfo(d: 32), rowsPerBlock: 16, in: directory)
    good = try ShardBytes(url)
  }

  /// Writes `bytes` to a fresh file and returns the error opening it.
  func openError(_ bytes: [UInt8], _ name: String = "bad.lshard") throws -> ShardError? {
    let bad = directory.appendingPathComponent(name)
    try ShardBytes.write(bytes, to: bad)
    return LanternShardsTests.openError(bad)
  }

  /// Offsets where the preamble's and header's fields begin and end.
  func headerBoundaries() -> [Int] {
    var offsets = [0, 4, 8, 12, 16, 20]
    var at = 20
    func string() {
      at += 4 + Int(good.u32(at))
      offsets.append(at)
    }
    func fixed(_ n: Int) {
      at += n
      offsets.append(at)
    }
    for _ in 0..<4 { string() }
    for n in [1, 1, 2, 4, 4, 8, 4, 1] { fixed(n) }
    string()
    string()
    fixed(8)
    let pairs = Int(good.u32(at))
    fixed(4)
    for _ in 0..<(2 * pairs) { string() }
    #expect(at == 20 + good.headerLength)
    return offsets
  }

  @Test func truncationAnywhereIsReportedAsTruncation() throws {
    defer { try? FileManager.default.removeItem(at: directory) }
    var rng = SplitMix64(seed: 12)
    var lengths = headerBoundaries() + [1, 7, good.indexOffset, good.indexOffset + 64, good.trailerOffset]
    lengths += [good.trailerOffset + 40, good.bytes.count - 1, good.bytes.count - 8]
    lengths += (0..<60).map { _ in Int(rng.next() % UInt64(good.bytes.count)) }
    for length in Set(lengths) where length < good.bytes.count {
      let error = try openError(Array(good.bytes[0..<length]))
      guard case .truncated = error else {
        Issue.record("length \(length): expected .truncated, got \(String(describing: error))")
        continue
      }
      #expect(error?.description.contains("bad.lshard") == true)
    }
  }

  @Test func flippedBitInHeaderIndexOrTrailer() throws {
    defer { try? FileManager.default.removeItem(at: directory) }
    let sections: [(String, Int)] = [
      ("header", 20 + 3), ("header", 20 + good.headerLength - 1), ("index", good.indexOffset + 17),
      ("index", good.trailerOffset - 1), ("trailer", good.trailerOffset + 2),
      ("trailer", good.trailerOffset + 29),
      ("trailer", good.trailerOffset + 37),
    ]
    for (section, offset) in sections {
      var bad = good.bytes
      bad[offset] ^= 0x04
      let error = try openError(bad)
      guard case .checksumMismatch(_, let named, nil, _, _, _) = error, named == section else {
        Issue.record(
          "flip at \(offset): expected a \(section) checksum mismatch, got \(String(describing: error))")
        continue
      }
    }
    var bad = good.bytes
    bad[bad.count - 3] ^= 0x01  // the end magic
    guard case .truncated = try openError(bad) else {
      Issue.record("a damaged end magic should read as an unfinished file")
      return
    }
  }

  @Test func flippedBitInCompressedBlock() throws {
    defer { try? FileManager.default.removeItem(at: directory) }
    let reader = try ShardReader(url: url)
    let block = reader.blocks[2]
    for (offset, section) in [
      (Int(block.dataOffset) + block.dataSize / 2, "block data"), (Int(block.sideOffset) + 30, "side data"),
    ] {
      var bad = good.bytes
      bad[offset] ^= 0x80
      let badURL = directory.appendingPathComponent("flip.lshard")
      try ShardBytes.write(bad, to: badURL)
      let damaged = try ShardReader(url: badURL)  // opening reads no block
      let error = shardError { _ = try damaged.readBlock(2) }
      guard case .checksumMismatch(_, section, 2, _, _, _) = error else {
        Issue.record("expected a \(section) checksum mismatch in block 2, got \(String(describing: error))")
        continue
      }
      #expect(shardError { try damaged.verify() } == error)
      #expect(try damaged.readBlock(1) == reader.readBlock(1), "other blocks still read")
      #expect(error?.description.contains("block 2") == true)
    }
  }

  @Test func flippedBitInStoredIncompressibleBlock() throws {
    defer { try? FileManager.default.removeItem(at: directory) }
    var rng = SplitMix64(seed: 9)
    let d = 1024
    let rows = (0..<(8 * d)).map { _ in
      Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0xBFFF_FFFF)
    }
    let data = SyntheticRows(rows: rows, count: 8)
    let (plainURL, _) = try writeShard(
      data, info: makeInfo(dtype: .float32, layout: .plain, d: d), rowsPerBlock: 4, in: directory,
      name: "stored.lshard")
    let reader = try ShardReader(url: plainURL)
    #expect(
      reader.blocks[0].dataSize > reader.blocks[0].dataRawSize, "random floats are stored, not compressed")
    var bad = try ShardBytes(plainURL)
    bad.bytes[Int(reader.blocks[1].dataOffset) + 5000] ^= 0x01
    let badURL = directory.appendingPathComponent("stored-flip.lshard")
    try bad.write(to: badURL)
    let damaged = try ShardReader(url: badURL)
    guard case .checksumMismatch(_, "block data", 1, _, _, _) = shardError({ _ = try damaged.readBlock(1) })
    else {
      Issue.record("a flipped bit in a stored block must not decode silently")
      return
    }
    // With the shard's own CRCs re-sealed, LZ4's content checksum still refuses the block.
    let block = reader.blocks[1]
    bad.put32(
      naiveCRC32(Array(bad.bytes[Int(block.dataOffset)..<(Int(block.dataOffset) + block.dataSize)])),
      at: bad.indexOffset + 64 + 12)
    bad.reseal()
    try bad.write(to: badURL)
    let resealed = try ShardReader(url: badURL)
    guard case .corruptBlock(_, 1, "block data", _, _) = shardError({ _ = try resealed.readBlock(1) }) else {
      Issue.record("LZ4's checksums must catch a flipped bit in a stored block")
      return
    }
  }

  @Test func wrongMagicVersionAndOversizedLengths() throws {
    defer { try? FileManager.default.removeItem(at: directory) }
    var bad = good.bytes
    bad[1] = UInt8(ascii: "X")
    #expect(
      try openError(bad)
        == .badMagic(path: directory.appendingPathComponent("bad.lshard").path, found: Array(bad[0..<8])))
    #expect(try openError(Array("hello".utf8)).map { if case .badMagic = $0 { true } else { false } } == true)
    var version = good
    version.put32(2, at: 8)
    guard case .unsupportedVersion(_, 2, 1) = try openError(version.bytes) else {
      Issue.record("expected unsupportedVersion")
      return
    }
    var huge = good
    huge.put32(0xFFFF_FFF0, at: 12)
    guard case .lengthTooLarge(_, "header length", 12, _, _) = try openError(huge.bytes) else {
      Issue.record("expected lengthTooLarge for the header length")
      return
    }
    var hook = good  // the hook string claims more bytes than the header holds
    hook.put32(0x7FFF_FFFF, at: 20)
    hook.reseal()
    guard case .lengthTooLarge(_, "hook length", 20, _, _) = try openError(hook.bytes) else {
      Issue.record("expected lengthTooLarge for the hook length")
      return
    }
  }

  @Test func resealedStructuralDamage() throws {
    defer { try? FileManager.default.removeItem(at: directory) }
    // Each edit keeps every CRC valid, so only the structural checks can catch it.
    let dtypeOffset = 20 + (0..<4).reduce(0) { at, _ in at + 4 + Int(good.u32(20 + at)) }
    var dtype = good
    dtype.bytes[dtypeOffset] = 9
    dtype.reseal()
    guard case .invalidHeader(_, "dtype", _, _) = try openError(dtype.bytes) else {
      Issue.record("expected invalidHeader(dtype)")
      return
    }
    var blocks = good
    blocks.put64(99, at: blocks.trailerOffset + 8)
    blocks.reseal()
    guard case .invalidTrailer = try openError(blocks.bytes) else {
      Issue.record("expected invalidTrailer for a wrong block count")
      return
    }
    var rows = good
    rows.put64(101, at: rows.trailerOffset + 16)
    rows.reseal()
    guard case .invalidTrailer = try openError(rows.bytes) else {
      Issue.record("expected invalidTrailer for a row count that differs from the header's")
      return
    }
    var overlap = good  // block 3's data frame claims to start 10 bytes early
    let entry3 = overlap.indexOffset + 3 * 64
    overlap.put64(overlap.u64(entry3 + 16) - 10, at: entry3 + 16)
    overlap.reseal()
    guard case .invalidIndex(_, 3, _, _) = try openError(overlap.bytes) else {
      Issue.record("expected invalidIndex for block 3")
      return
    }
    var size = good  // block 0's stored size is absurd (an allocation bomb)
    size.put64(UInt64.max - 5, at: size.indexOffset + 24)
    size.reseal()
    guard case .invalidIndex(_, 0, _, _) = try openError(size.bytes) else {
      Issue.record("expected invalidIndex for an absurd stored size")
      return
    }
    var firstRow = good
    firstRow.put64(1, at: firstRow.indexOffset + 64)
    firstRow.reseal()
    guard case .invalidIndex(_, 1, _, _) = try openError(firstRow.bytes) else {
      Issue.record("expected invalidIndex for a first row out of sequence")
      return
    }
  }
}
