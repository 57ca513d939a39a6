// Crashes during checkpoint saves. Two tests:
// - simulated: every intermediate state a save passes through (a temporary with each prefix of its
//   files, each file cut at several lengths, the complete-but-unrenamed temporary, a stale checkpoint
//   moved aside, a retention delete half done) is built on disk, and the store must load the newest
//   complete checkpoint without a warning and sweep the debris;
// - process-level: this test binary is re-run as a child that saves checkpoints in a loop
//   (`checkpointWriterChild`, driven by LANTERN_CHECKPOINT_CHILD_DIR), killed with SIGKILL at seeded
//   moments; after each kill every final-named checkpoint must validate and the newest must be the
//   exact state of its step, and the next child resumes from it.

import Foundation
import LanternDictionaries
import LanternShards
import LanternTensor
import Testing

@Suite struct StorageCrashTests {
  @Test func everyIntermediateStateOfASaveLoadsACompleteCheckpoint() throws {
    let dir = scratchDirectory("ckpt-simulated")
    defer { try? FileManager.default.removeItem(at: dir) }
    // A reference save of step 3 gives the exact files a save writes.
    let reference = try CheckpointStore(directory: dir.appendingPathComponent("reference"))
    let complete = try reference.save(sampleState(step: 3))
    let order = ["tensors.safetensors", "state.json", "checkpoint.json"]
    let contents = try order.map { try Data(contentsOf: complete.appendingPathComponent($0)) }

    var cases: [[(String, Data)]] = []
    for n in 0...order.count {
      let whole = (0..<n).map { (order[$0], contents[$0]) }
      cases.append(whole)
      if n < order.count {
        for cut in [0, 1, contents[n].count / 2, contents[n].count - 1] {
          cases.append(whole + [(order[n], contents[n].prefix(cut))])
        }
      }
    }
    for (i, files) in cases.enumerated() {
      let run = dir.appendingPathComponent("case-\(i)")
      let store = try CheckpointStore(directory: run, keep: 3)
      try store.save(sampleState(step: 1))
      try store.save(sampleState(step: 2))
      let tmp = run.appendingPathComponent(String(format: "step-3.tmp-%016llx", UInt64(i + 1)))
      try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
      for (name, data) in files { try data.write(to: tmp.appendingPathComponent(name)) }
      let loaded = try store.loadLatest()
      #expect(loaded.step == 2, "case \(i): \(files.map { "\($0.0):\($0.1.count)" })")
      #expect(loaded.warnings.isEmpty, "case \(i)")
      #expect(loaded.sweptTemporaries == 1, "case \(i)")
      expectSameState(sampleState(step: 2), try #require(loaded.state))
      // After the rename the new checkpoint is the one loaded.
      try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
      for (name, data) in zip(order, contents) { try data.write(to: tmp.appendingPathComponent(name)) }
      try FileManager.default.moveItem(at: tmp, to: store.url(step: 3))
      expectSameState(sampleState(step: 3), try #require(try store.loadLatest().state))
    }

    // A stale step-2 moved aside before the new step-2 was renamed in: step 1 is loaded.
    let aside = dir.appendingPathComponent("aside")
    let store = try CheckpointStore(directory: aside)
    try store.save(sampleState(step: 1))
    let two = try store.save(sampleState(step: 2))
    try FileManager.default.moveItem(at: two, to: aside.appendingPathComponent("step-2.tmp-0000000000000001"))
    #expect(try store.loadLatest().step == 1)

    // Retention half done: the oldest renamed aside and partly deleted; nothing is reported.
    let retention = dir.appendingPathComponent("retention")
    let kept = try CheckpointStore(directory: retention, keep: 2)
    try kept.save(sampleState(step: 1))
    try kept.save(sampleState(step: 2))
    let doomed = retention.appendingPathComponent("step-1.tmp-00000000000000ff")
    try FileManager.default.moveItem(at: kept.url(step: 1), to: doomed)
    try FileManager.default.removeItem(at: doomed.appendingPathComponent("state.json"))
    let loaded = try kept.loadLatest()
    #expect(loaded.step == 2 && loaded.warnings.isEmpty && loaded.sweptTemporaries == 1)
  }

  /// The child's loop: resume from the newest checkpoint, then save steps until killed (at most
  /// 400 saves). Without LANTERN_CHECKPOINT_CHILD_DIR it runs a short loop in a scratch directory
  /// and checks each save, so it is a test in its own right.
  @Test func checkpointWriterChild() throws {
    let environment = ProcessInfo.processInfo.environment
    let asChild = environment["LANTERN_CHECKPOINT_CHILD_DIR"]
    let dir = asChild.map { URL(fileURLWithPath: $0) } ?? scratchDirectory("ckpt-child")
    defer { if asChild == nil { try? FileManager.default.removeItem(at: dir) } }
    let store = try CheckpointStore(directory: dir, keep: 3)
    let start = (try store.loadLatest().step ?? 0) + 1
    for step in start..<(start + (asChild == nil ? 5 : 400)) {
      try store.save(sampleState(step: step))
      if asChild == nil {
        expectSameState(sampleState(step: step), try #require(try store.loadLatest().state))
      }
    }
  }

  @Test func killedWritersAlwaysLeaveACompleteCheckpoint() throws {
    let dir = scratchDirectory("ckpt-kill")
    defer { try? FileManager.default.removeItem(at: dir) }
    let binary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    var rng = SeededRandom(seed: 20_261_202)
    var lastStep = 0
    var killedMidRun = 0
    for round in 0..<6 {
      let child = Process()
      child.executableURL = URL(fileURLWithPath: binary)
      child.arguments = ["--testing-library", "swift-testing", "--filter", "checkpointWriterChild"]
      var env = ProcessInfo.processInfo.environment
      env["LANTERN_CHECKPOINT_CHILD_DIR"] = dir.path
      child.environment = env
      child.standardOutput = FileHandle.nullDevice
      child.standardError = FileHandle.nullDevice
      try child.run()
      // Kill once the child has saved at least one more checkpoint, then after a seeded delay.
      let deadline = Date().addingTimeInterval(20)
      while child.isRunning, Date() < deadline, (CheckpointStore.quickSteps(dir).last ?? 0) <= lastStep {
        usleep(2_000)
      }
      usleep(UInt32(rng.nextIndex(below: 40_000)))
      if child.isRunning { killedMidRun += 1 }
      kill(child.processIdentifier, SIGKILL)
      child.waitUntilExit()

      let store = try CheckpointStore(directory: dir, keep: 3)
      for step in store.steps() {
        expectSameState(sampleState(step: step), try store.load(step: step))
      }
      let loaded = try store.loadLatest()
      #expect(loaded.warnings.isEmpty, "round \(round): \(loaded.warnings)")
      let step = try #require(loaded.step, "round \(round): no checkpoint survived")
      #expect(step > lastStep, "round \(round): no progress")
      expectSameState(sampleState(step: step), try #require(loaded.state))
      // A kill between the rename and the retention delete leaves extras (older checkpoints go only
      // after the new one is durable); loading trims them.
      #expect(store.steps().count <= 3)
      lastStep = step
    }
    #expect(killedMidRun >= 4, "the children finished before they were killed: the test did not test")
  }
}

extension CheckpointStore {
  /// Final-named steps in `dir`, without opening a store (used while a child writes).
  static func quickSteps(_ dir: URL) -> [Int] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).compactMap {
      $0.hasPrefix("step-") && !$0.contains(".") ? Int($0.dropFirst(5)) : nil
    }.sorted()
  }
}
