// Extraction as a user runs it: the built binary, real files, real signals. A run killed with
// SIGKILL at an arbitrary moment resumes to byte-identical shards; a changed spec is refused;
// bad records and a full disk fail cleanly and name the file.

import Foundation
import LanternShards
import LanternTestSupport
import Testing

/// Arguments of a small but multi-unit extraction on the tiny Llama fixture.
func extractArguments(out: String, tokens: Int = 12_000, context: Int = 32, extra: [String] = []) -> [String]
{
  [
    "extract", "--model", Fixtures.url("models/tiny-llama").path, "--corpus",
    Fixtures.url("models/corpus.txt").path,
    "--hooks", "blocks.1.hook_resid_post,blocks.2.mlp.hook_post", "--context-size", String(context),
    "--shard-rows", "256", "--tokens", String(tokens), "--threads", "2", "--out", out,
  ] + extra
}

func manifestChecksums(_ dir: URL) throws -> [String: [String]] {
  let m = try Manifest(path: dir.appendingPathComponent("manifest.jsonl").path)
  return Dictionary(
    uniqueKeysWithValues: m.entries.map {
      ($0.unit, $0.outputs.map { "\($0.path) \($0.checksum) \($0.bytes)" })
    })
}

@Test func killedExtractionResumesToIdenticalBytes() throws {
  let root = try Fixtures.temporaryDirectory("extract")
  defer { try? FileManager.default.removeItem(at: root) }
  let reference = root.appendingPathComponent("reference")
  let r = try runLantern(extractArguments(out: reference.path))
  #expect(r.status == 0, "\(r.stderr)")
  let expected = try manifestChecksums(reference)
  #expect(expected.count > 8)

  // Kill -9 the same job at several moments, resuming each time.
  let killed = root.appendingPathComponent("killed")
  for killAfterUnits in [1, 4, 9] {
    let p = Process()
    p.executableURL = lanternBinary
    p.arguments = extractArguments(out: killed.path)
    p.standardError = FileHandle.nullDevice
    p.standardOutput = FileHandle.nullDevice
    try p.run()
    let manifest = killed.appendingPathComponent("manifest.jsonl")
    let deadline = Date().addingTimeInterval(60)
    while p.isRunning && Date() < deadline {
      let lines = (try? String(contentsOf: manifest, encoding: .utf8))?.split(separator: "\n").count ?? 0
      if lines >= killAfterUnits { break }
      usleep(2_000)
    }
    kill(p.processIdentifier, SIGKILL)
    p.waitUntilExit()
    // Whatever is committed so far is intact; nothing partial is visible under a final name.
    let v = try runLantern(["verify", killed.path])
    #expect(v.status == 0, "verify after kill: \(v.stdout) \(v.stderr)")
  }
  let resumed = try runLantern(extractArguments(out: killed.path))
  #expect(resumed.status == 0, "\(resumed.stderr)")
  #expect(try manifestChecksums(killed) == expected)
  // No temporaries left behind.
  let leftovers = FileManager.default.enumerator(atPath: killed.path)!.compactMap { $0 as? String }
    .filter { $0.contains(".tmp-") }
  #expect(leftovers.isEmpty, "\(leftovers)")
  // Rerunning a finished job does nothing and changes nothing.
  let again = try runLantern(extractArguments(out: killed.path))
  #expect(again.status == 0)
  #expect(again.stdout.contains("extracted 0 tokens"))
  #expect(try manifestChecksums(killed) == expected)
}

@Test func changedSpecIsRefusedNamingTheField() throws {
  let root = try Fixtures.temporaryDirectory("extract")
  defer { try? FileManager.default.removeItem(at: root) }
  let job = root.appendingPathComponent("job").path
  #expect(try runLantern(extractArguments(out: job, tokens: 2000)).status == 0)
  let r = try runLantern(extractArguments(out: job, tokens: 2000, context: 64))
  #expect(r.status != 0)
  #expect(r.stderr.contains("context_size"), "\(r.stderr)")
  #expect(r.stderr.contains("HINT"))
}

@Test func badRecordsNameFileAndLineOrAreSkippedOnRequest() throws {
  let root = try Fixtures.temporaryDirectory("extract")
  defer { try? FileManager.default.removeItem(at: root) }
  let corpus = root.appendingPathComponent("c.jsonl")
  let good = (0..<40).map { "{\"text\": \"Document number \($0) is about free software and its licenses.\"}" }
  try (good[0..<20] + ["{\"text\": broken"] + good[20...]).joined(separator: "\n").write(
    to: corpus, atomically: true, encoding: .utf8)
  func args(_ out: String, _ extra: [String]) -> [String] {
    [
      "extract", "--model", Fixtures.url("models/tiny-llama").path, "--corpus", corpus.path, "--hooks",
      "blocks.0.hook_resid_post", "--context-size", "16", "--out", root.appendingPathComponent(out).path,
      "--threads", "1",
    ] + extra
  }
  let strict = try runLantern(args("strict", []))
  #expect(strict.status != 0)
  #expect(strict.stderr.contains("c.jsonl"), "\(strict.stderr)")
  #expect(strict.stderr.contains("21"), "the error names line 21: \(strict.stderr)")
  let lenient = try runLantern(args("lenient", ["--skip-bad-records"]))
  #expect(lenient.status == 0, "\(lenient.stderr)")
}

@Test func fullDiskFailsCleanlyAndARerunCompletes() throws {
  let mountPoint = try Fixtures.temporaryDirectory("tmpfs")
  defer { try? FileManager.default.removeItem(at: mountPoint) }
  let mount = Process()
  mount.executableURL = URL(fileURLWithPath: "/bin/mount")
  mount.arguments = ["-t", "tmpfs", "-o", "size=192k", "tmpfs", mountPoint.path]
  mount.standardError = FileHandle.nullDevice
  try mount.run()
  mount.waitUntilExit()
  guard mount.terminationStatus == 0 else {
    print("⚠️⚠️⚠️ SKIPPED fullDiskFailsCleanlyAndARerunCompletes: cannot mount a tmpfs here (not root?) ⚠️⚠️⚠️")
    return
  }
  defer {
    let umount = Process()
    umount.executableURL = URL(fileURLWithPath: "/bin/umount")
    umount.arguments = [mountPoint.path]
    try? umount.run()
    umount.waitUntilExit()
  }
  let job = mountPoint.appendingPathComponent("job")
  let r = try runLantern(extractArguments(out: job.path, tokens: 12_000))
  #expect(r.status != 0, "a 192 kB disk cannot hold the job")
  #expect(r.stderr.contains("No space left on device") || r.stderr.contains("space"), "\(r.stderr)")
  // Nothing partial under a final name: every final shard is listed and verifies.
  let v = try runLantern(["verify", job.path])
  #expect(v.status == 0, "\(v.stdout)")
  let committedBefore = try manifestChecksums(job).count
  // Free space (grow the tmpfs), rerun: the job completes and matches a run on a roomy disk.
  let remount = Process()
  remount.executableURL = URL(fileURLWithPath: "/bin/mount")
  remount.arguments = ["-o", "remount,size=64m", mountPoint.path]
  try remount.run()
  remount.waitUntilExit()
  let rerun = try runLantern(extractArguments(out: job.path, tokens: 12_000))
  #expect(rerun.status == 0, "\(rerun.stderr)")
  let reference = try Fixtures.temporaryDirectory("extract-ref")
  defer { try? FileManager.default.removeItem(at: reference) }
  #expect(try runLantern(extractArguments(out: reference.appendingPathComponent("j").path)).status == 0)
  #expect(try manifestChecksums(job) == manifestChecksums(reference.appendingPathComponent("j")))
  #expect(try manifestChecksums(job).count > committedBefore)
}
