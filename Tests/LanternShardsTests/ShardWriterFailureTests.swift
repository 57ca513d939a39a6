// A writer whose disk fills up (or whose fsync fails) must fail cleanly: a ShardError.io that
// names the file and the system's reason, repeated by every later call, never a crash or a
// "finished" shard. Failures are injected through the internal sink protocol, and once on a
// real 512 KB tmpfs (needs root; skipped loudly where mount is not allowed).

import Foundation
import LanternTestSupport
import Testing

@testable import LanternShards

#if canImport(Glibc)
  import Glibc
#endif

/// Accepts `capacity` bytes, then fails like a full disk; optionally fails fsync.
final class FailingSink: ShardSink {
  let path: String
  var capacity: Int
  var failSync: Bool
  var written: [UInt8] = []

  init(path: String, capacity: Int, failSync: Bool = false) {
    self.path = path
    self.capacity = capacity
    self.failSync = failSync
  }

  func append(_ bytes: UnsafeRawBufferPointer) throws(ShardError) {
    let fits = min(bytes.count, capacity - written.count)
    written += bytes[0..<fits]
    if fits < bytes.count {
      throw .io(
        path: path, operation: "write \(bytes.count - fits) bytes", offset: UInt64(written.count),
        reason: systemErrorText(ENOSPC))
    }
  }

  func overwrite(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(ShardError) {
    for (i, b) in bytes.enumerated() { written[Int(offset) + i] = b }
  }

  func synchronize() throws(ShardError) {
    if failSync { throw .io(path: path, operation: "fsync", offset: nil, reason: systemErrorText(EIO)) }
  }

  func close() throws(ShardError) {}
}

@Suite struct ShardWriterFailureTests {
  func rows(_ n: Int, d: Int) -> SyntheticRows { SyntheticRows(count: n, d: d, seed: 3) }

  @Test(arguments: [0, 30, 200, 5_000, 20_000])
  func fullDiskFailsCleanly(capacity: Int) throws {
    let path = "/jobs/u7/shards/blocks.15.hook_resid_post/unit-7.lshard"
    let sink = FailingSink(path: path, capacity: capacity)
    let data = rows(400, d: 32)
    var error: ShardError?
    do {
      let writer = try ShardWriter(sink: sink, path: path, info: makeInfo(d: 32), rowsPerBlock: 16)
      for start in stride(from: 0, to: 400, by: 50) {
        error = shardError {
          try writer.append(
            rows: Array(data.rows[(start * 32)..<((start + 50) * 32)]),
            tokenIDs: Array(data.tokenIDs[start..<(start + 50)]),
            documentIDs: Array(data.documentIDs[start..<(start + 50)]),
            positions: Array(data.positions[start..<(start + 50)]))
        }
        if error != nil { break }
      }
      if error == nil { error = shardError { try writer.finish() } }
      // Once failed, every later call repeats the same error.
      if let first = error {
        #expect(shardError { try writer.finish() } == first)
      }
    } catch let e as ShardError {
      error = e  // the preamble itself did not fit
    }
    let failure = try #require(error)
    guard case .io(let named, _, _, let reason) = failure else {
      Issue.record("expected .io, got \(failure)")
      return
    }
    #expect(named == path)
    #expect(reason == "No space left on device")
    #expect(failure.description.hasPrefix(path))
    #expect(failure.hint.contains("free space"))
  }

  @Test func failedFsyncIsReported() throws {
    let sink = FailingSink(path: "/x/y.lshard", capacity: 1 << 30, failSync: true)
    let writer = try ShardWriter(sink: sink, path: "/x/y.lshard", info: makeInfo(d: 4), rowsPerBlock: nil)
    let data = rows(3, d: 4)
    try writer.append(
      rows: data.rows, tokenIDs: data.tokenIDs, documentIDs: data.documentIDs, positions: data.positions)
    #expect(
      shardError { try writer.finish() }
        == .io(path: "/x/y.lshard", operation: "fsync", offset: nil, reason: systemErrorText(EIO)))
  }

  @Test func unwritableDirectoryNamesTheFile() throws {
    let path = "/nonexistent-dir-\(UUID().uuidString)/s.lshard"
    let error = shardError { _ = try ShardWriter(path: path, info: makeInfo()) }
    guard case .io(path, "open for writing", nil, _) = error else {
      Issue.record("expected .io naming \(path), got \(String(describing: error))")
      return
    }
  }

  /// A real full file system: a 512 KB tmpfs and a shard of incompressible rows larger than it.
  @Test func realFullFileSystem() throws {
    let mountPoint = try Fixtures.temporaryDirectory("shard-tmpfs")
    defer { try? FileManager.default.removeItem(at: mountPoint) }
    guard run("/bin/mount", ["-t", "tmpfs", "-o", "size=512k", "tmpfs", mountPoint.path]) else {
      print("!!! ShardWriterFailureTests.realFullFileSystem SKIPPED: cannot mount a tmpfs (needs root) !!!")
      return
    }
    defer { _ = run("/bin/umount", [mountPoint.path]) }
    let url = mountPoint.appendingPathComponent("full.lshard")
    var rng = SplitMix64(seed: 4)
    let d = 256
    let n = 1024  // 1 MB of random f32: twice the file system
    let data = SyntheticRows(rows: (0..<(n * d)).map { _ in Float(rng.nextFloat()) }, count: n)
    let error = shardError {
      let writer = try ShardWriter(url: url, info: makeInfo(dtype: .float32, layout: .plain, d: d))
      try writer.append(
        rows: data.rows, tokenIDs: data.tokenIDs, documentIDs: data.documentIDs, positions: data.positions)
      try writer.finish()
    }
    guard case .io(url.path, _, _, "No space left on device") = error else {
      Issue.record("expected ENOSPC naming \(url.path), got \(String(describing: error))")
      return
    }
    // The partial file is not a shard.
    guard case .truncated = LanternShardsTests.openError(url) else {
      Issue.record("a partial shard must read as truncated")
      return
    }
  }

  func run(_ tool: String, _ arguments: [String]) -> Bool {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    process.standardError = FileHandle.nullDevice
    do {
      try process.run()
      process.waitUntilExit()
      return process.terminationStatus == 0
    } catch {
      return false
    }
  }
}
