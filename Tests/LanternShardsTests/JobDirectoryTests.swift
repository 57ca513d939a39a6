// The job directory and manifest: frozen specs, exactly-once commits, torn and corrupt manifests,
// sweeping of temporaries.

import Foundation
import LanternShards
import LanternTestSupport
import Testing

let specA = JobSpec([(key: "kind", value: "extract"), (key: "context_size", value: "128")])

func makeJob(_ spec: JobSpec = specA) throws -> (URL, JobDirectory) {
  let root = try Fixtures.temporaryDirectory("job")
  let url = root.appendingPathComponent("job")
  return (url, try JobDirectory(url: url, spec: spec))
}

func commitFake(_ job: JobDirectory, unit: String, attempt: UInt64 = 1) throws -> Bool {
  let tmp = try job.temporaryURL(hook: "blocks.0.hook_resid_post", unit: unit, attempt: attempt)
  try Data("shard \(unit)".utf8).write(to: tmp)
  return try job.commit(
    unit: unit, attempt: attempt, tokens: 10,
    files: [(hook: "blocks.0.hook_resid_post", temporary: tmp, bytes: 11, rows: 10, checksum: "c")])
}

@Test func specIsFrozenAndAChangedSpecIsRefusedWithTheDifference() throws {
  let (url, _) = try makeJob()
  #expect(try JobDirectory(url: url, spec: specA).spec == specA)
  let specB = JobSpec([(key: "kind", value: "extract"), (key: "context_size", value: "256")])
  do {
    _ = try JobDirectory(url: url, spec: specB)
    Issue.record("a changed spec was accepted")
  } catch let error as JobError {
    #expect(error.message.contains("'context_size': the job has \"128\", the command gives \"256\""))
  }
}

@Test func editedJobYamlIsDetected() throws {
  let (url, _) = try makeJob()
  let path = url.appendingPathComponent("job.yaml")
  let text = try String(contentsOf: path, encoding: .utf8).replacingOccurrences(of: "128", with: "129")
  try text.write(to: path, atomically: true, encoding: .utf8)
  #expect(throws: JobError.self) { try JobDirectory(url: url, spec: specA) }
}

@Test func foreignNonEmptyDirectoryIsRefused() throws {
  let root = try Fixtures.temporaryDirectory("job")
  try Data("x".utf8).write(to: root.appendingPathComponent("precious.txt"))
  #expect(throws: JobError.self) { try JobDirectory(url: root, spec: specA) }
  #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("precious.txt").path))
}

@Test func unitsCommitExactlyOnceAndSurviveReopening() throws {
  let (url, job) = try makeJob()
  #expect(try commitFake(job, unit: "u000000"))
  #expect(try commitFake(job, unit: "u000001"))
  #expect(try !commitFake(job, unit: "u000000", attempt: 2))  // first committer wins
  let reopened = try JobDirectory(url: url, spec: specA)
  #expect(reopened.manifest.entries.map(\.unit) == ["u000000", "u000001"])
  #expect(reopened.manifest.entry(for: "u000000")?.attempt == 1)
  let final = url.appendingPathComponent(
    job.relativeShardPath(hook: "blocks.0.hook_resid_post", unit: "u000001"))
  #expect(try String(contentsOf: final, encoding: .utf8) == "shard u000001")
  // The losing attempt's temporary is gone.
  let left = try FileManager.default.contentsOfDirectory(atPath: final.deletingLastPathComponent().path)
  #expect(left.sorted() == ["u000000.lshard", "u000001.lshard"])
}

@Test func tornLastManifestLineIsDroppedAndCorruptMiddleLineIsAnError() throws {
  let (url, job) = try makeJob()
  _ = try commitFake(job, unit: "u000000")
  _ = try commitFake(job, unit: "u000001")
  let path = url.appendingPathComponent("manifest.jsonl")
  let full = try Data(contentsOf: path)
  // Torn tail: cut the last line in the middle (a crash during append).
  try full.prefix(full.count - 20).write(to: path)
  let reopened = try JobDirectory(url: url, spec: specA)
  #expect(reopened.manifest.droppedTail)
  #expect(reopened.manifest.entries.map(\.unit) == ["u000000"])
  #expect(try commitFake(reopened, unit: "u000001"))  // redone after the torn append
  #expect(try JobDirectory(url: url, spec: specA).manifest.entries.count == 2)
  // A flipped byte inside the first line fails its checksum: an error naming the line.
  var bytes = [UInt8](try Data(contentsOf: path))
  let i = bytes.firstIndex(of: UInt8(ascii: "u"))! + 3
  bytes[i] = bytes[i] == UInt8(ascii: "0") ? UInt8(ascii: "7") : UInt8(ascii: "0")
  try Data(bytes).write(to: path)
  do {
    _ = try JobDirectory(url: url, spec: specA)
    Issue.record("a corrupt manifest line was accepted")
  } catch let error as JobError {
    #expect(error.message.contains("line 1"))
  }
}

@Test func leftoverTemporariesAreSweptOnOpen() throws {
  let (url, job) = try makeJob()
  let tmp = try job.temporaryURL(hook: "blocks.0.hook_resid_post", unit: "u000005", attempt: 0x3_0000_0011)
  #expect(tmp.lastPathComponent == "u000005.lshard.tmp-0000000300000011")
  #expect(JobDirectory.parseTemporaryName(tmp.lastPathComponent)! == ("u000005", 0x3_0000_0011))
  try Data("partial".utf8).write(to: tmp)
  let reopened = try JobDirectory(url: url, spec: specA)
  #expect(reopened.sweptTemporaries == 1)
  #expect(!FileManager.default.fileExists(atPath: tmp.path))
}
