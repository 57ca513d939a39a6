// Checkpoint store: bit-exact round trip, sweeping of torn temporaries, fallback past damaged or
// truncated checkpoints, the resume spec check, retention, and a simulated crash left in every
// intermediate state of a save (the process-level kill -9 test is in StorageCrashTests.swift).

import Foundation
import LanternDictionaries
import LanternShards
import LanternTensor
import Testing

/// A training state whose every byte is a function of (step, seed), so a load can be checked whole.
func sampleState(step: Int, seed: UInt64 = 7, spec: JobSpec = sampleSpec()) -> TrainingState {
  var rng = SeededRandom(seed: seed &+ UInt64(step) &* 0x9E37_79B9)
  func tensor(_ shape: [Int]) -> Tensor {
    let t = Tensor(shape: shape)
    for i in 0..<t.count { t.pointer[i] = rng.nextNormal() }
    return t
  }
  let special = tensor([6])
  special.pointer[0] = -0.0
  special.pointer[1] = .infinity
  special.pointer[2] = Float(bitPattern: 0x0000_0001)  // the smallest subnormal
  special.pointer[3] = .nan
  // Arbitrary 32-bit patterns (integers stored as Float bits, signalling and payload NaNs) survive.
  let patterns = Tensor(shape: [5])
  let raw: [UInt32] = [0x7F80_0001, 0xFFC0_1234, 0x0000_0000, 0xFFFF_FFFF, UInt32(truncatingIfNeeded: step)]
  UnsafeMutableRawPointer(patterns.pointer).bindMemory(to: UInt32.self, capacity: 5).update(
    from: raw, count: 5)
  let tensors: [String: Tensor] = [
    "latent.since_fired.lo": patterns,
    "encoderWeight": tensor([12, 5]), "W_dec": tensor([12, 5]), "b_enc": tensor([12]), "b_dec": tensor([5]),
    "adam.m.W_dec": tensor([12, 5]), "adam.v.W_dec": tensor([12, 5]),
    "latent.steps_since_fired": tensor([12]),
    "special": special, "empty": Tensor(shape: [0]),
  ]
  let scalars = CheckpointScalars(
    step: step, tokensSeen: step * 4096, schedulePosition: step, dataCursor: UInt64.max - UInt64(step),
    rngStates: ["init": 0xFFFF_FFFF_FFFF_FFFF, "aux": rng.next()],
    batchTopKThreshold: Float(bitPattern: 0x3D4C_CCCD) + Float(step), inputScales: [0.1, 3.3e-7],
    outputScales: [7.25, 1e30], extra: ["note": "step \(step)"])
  return TrainingState(tensors: tensors, scalars: scalars, spec: spec, lanternVersion: "0.1.0-test")
}

func sampleSpec(tokens: String = "1000000", k: String = "32") -> JobSpec {
  JobSpec([
    (key: "arch", value: "topk"), (key: "k", value: k), (key: "tokens", value: tokens),
    (key: "log_every", value: "100"), (key: "seed", value: "1"),
  ])
}

func bytes(_ t: Tensor) -> [UInt32] { (0..<t.count).map { t.pointer[$0].bitPattern } }

func expectSameState(_ a: TrainingState, _ b: TrainingState, _ location: SourceLocation = #_sourceLocation) {
  #expect(a.scalars == b.scalars, sourceLocation: location)
  #expect(a.spec == b.spec, sourceLocation: location)
  #expect(a.lanternVersion == b.lanternVersion, sourceLocation: location)
  #expect(Set(a.tensors.keys) == Set(b.tensors.keys), sourceLocation: location)
  for (name, t) in a.tensors {
    guard let u = b.tensors[name] else { continue }
    #expect(t.shape == u.shape, "\(name)", sourceLocation: location)
    #expect(bytes(t) == bytes(u), "\(name)", sourceLocation: location)
  }
}

func scratchDirectory(_ label: String) -> URL {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent(
    "lantern-\(label)-\(getpid())-\(UUID().uuidString)")
  try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}

@Suite struct StorageCheckpointTests {
  @Test func roundTripIsBitExact() throws {
    let dir = scratchDirectory("ckpt-roundtrip")
    defer { try? FileManager.default.removeItem(at: dir) }
    let store = try CheckpointStore(directory: dir.appendingPathComponent("checkpoints"))
    let state = sampleState(step: 40)
    let url = try store.save(state)
    #expect(url.lastPathComponent == "step-40")
    let loaded = try store.loadLatest()
    #expect(loaded.step == 40)
    #expect(loaded.warnings.isEmpty)
    let restored = try #require(loaded.state)
    expectSameState(state, restored)
    // UInt64 values survive exactly (they are beyond a Double's 53 bits).
    #expect(restored.scalars.dataCursor == UInt64.max - 40)
    #expect(restored.scalars.rngStates["init"] == UInt64.max)
    // The tmp directory is gone and checkpoint.json lists both files.
    let names = try FileManager.default.contentsOfDirectory(atPath: store.directory.path)
    #expect(names == ["step-40"])
    let index = try String(contentsOf: url.appendingPathComponent("checkpoint.json"), encoding: .utf8)
    #expect(index.contains("tensors.safetensors") && index.contains("state.json"))
  }

  @Test func tornTemporaryDirectoriesAreSwept() throws {
    let dir = scratchDirectory("ckpt-torn")
    defer { try? FileManager.default.removeItem(at: dir) }
    let store = try CheckpointStore(directory: dir)
    try store.save(sampleState(step: 1))
    // A torn save of step 2: a temporary with only part of its files.
    let torn = dir.appendingPathComponent("step-2.tmp-00000000deadbeef")
    try FileManager.default.createDirectory(at: torn, withIntermediateDirectories: true)
    try Data("partial".utf8).write(to: torn.appendingPathComponent("tensors.safetensors"))
    let foreign = dir.appendingPathComponent("notes.txt")
    try Data("keep me".utf8).write(to: foreign)
    let loaded = try store.loadLatest()
    #expect(loaded.step == 1)
    #expect(loaded.sweptTemporaries == 1)
    #expect(!FileManager.default.fileExists(atPath: torn.path))
    #expect(FileManager.default.fileExists(atPath: foreign.path))
  }

  @Test func corruptedNewestFallsBackWithAWarning() throws {
    let dir = scratchDirectory("ckpt-corrupt")
    defer { try? FileManager.default.removeItem(at: dir) }
    let store = try CheckpointStore(directory: dir)
    let older = sampleState(step: 10)
    try store.save(older)
    let newest = try store.save(sampleState(step: 20))
    // Flip one byte in the middle of the tensor file (size unchanged: only the CRC catches it).
    let file = newest.appendingPathComponent("tensors.safetensors")
    var data = try Data(contentsOf: file)
    data[data.count / 2] ^= 0x40
    try data.write(to: file)
    let loaded = try store.loadLatest()
    #expect(loaded.step == 10)
    expectSameState(older, try #require(loaded.state))
    #expect(loaded.warnings.count == 1)
    #expect(loaded.warnings.first?.contains("step-20") == true)
    #expect(loaded.warnings.first?.contains("tensors.safetensors") == true)
    // The damaged checkpoint is reported, not deleted.
    #expect(FileManager.default.fileExists(atPath: newest.path))
  }

  @Test func truncatedIndexOrStateFallsBack() throws {
    let dir = scratchDirectory("ckpt-truncated")
    defer { try? FileManager.default.removeItem(at: dir) }
    let store = try CheckpointStore(directory: dir, keep: 5)
    try store.save(sampleState(step: 1))
    let second = try store.save(sampleState(step: 2))
    let third = try store.save(sampleState(step: 3))
    let index = third.appendingPathComponent("checkpoint.json")
    let text = try Data(contentsOf: index)
    try text.prefix(text.count / 2).write(to: index)
    let state = second.appendingPathComponent("state.json")
    try Data(contentsOf: state).dropLast(3).write(to: state)
    let loaded = try store.loadLatest()
    #expect(loaded.step == 1)
    #expect(loaded.warnings.count == 2)
    #expect(loaded.warnings[0].contains("checkpoint.json") && loaded.warnings[0].contains("step-3"))
    #expect(loaded.warnings[1].contains("state.json") && loaded.warnings[1].contains("step-2"))
  }

  @Test func noValidCheckpointMeansStartFromScratch() throws {
    let dir = scratchDirectory("ckpt-none")
    defer { try? FileManager.default.removeItem(at: dir) }
    let store = try CheckpointStore(directory: dir)
    #expect(try store.loadLatest().state == nil)
    let only = try store.save(sampleState(step: 5))
    try FileManager.default.removeItem(at: only.appendingPathComponent("state.json"))
    let loaded = try store.loadLatest()
    #expect(loaded.state == nil)
    #expect(loaded.warnings.count == 1)
  }

  @Test func changedSpecIsRefusedNamingEachField() throws {
    let dir = scratchDirectory("ckpt-spec")
    defer { try? FileManager.default.removeItem(at: dir) }
    let store = try CheckpointStore(directory: dir)
    try store.save(sampleState(step: 3))
    #expect(try store.loadLatest(resuming: sampleSpec()).step == 3)
    var changed = sampleSpec(k: "64").fields
    changed[4].value = "2"
    do {
      _ = try store.loadLatest(resuming: JobSpec(changed))
      Issue.record("a changed spec was accepted")
    } catch let error as ResumeRefused {
      #expect(error.fields == ["k", "seed"])
      #expect(error.description.contains("'k': the job has \"32\", the command gives \"64\""))
      #expect(error.description.contains("HINT"))
    }
    // Allowed: a longer token budget and another logging interval; refused: a shorter budget.
    var allowed = sampleSpec(tokens: "2000000").fields
    allowed[3].value = "10"
    #expect(try store.loadLatest(resuming: JobSpec(allowed)).step == 3)
    #expect(throws: ResumeRefused.self) { try store.loadLatest(resuming: sampleSpec(tokens: "999")) }
    #expect(throws: ResumeRefused.self) {
      try store.loadLatest(resuming: sampleSpec(tokens: "2000000"), policy: .strict)
    }
    // A field added or removed counts as a change.
    #expect(throws: ResumeRefused.self) {
      try store.loadLatest(resuming: JobSpec(sampleSpec().fields + [(key: "threads", value: "2")]))
    }
  }

  @Test func retentionKeepsTheNewestK() throws {
    let dir = scratchDirectory("ckpt-retention")
    defer { try? FileManager.default.removeItem(at: dir) }
    let store = try CheckpointStore(directory: dir, keep: 2)
    for step in [100, 200, 300, 400] { try store.save(sampleState(step: step)) }
    #expect(store.steps() == [300, 400])
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["step-300", "step-400"])
    // Saving a step that exists (a resumed run passing it again) replaces it.
    try store.save(sampleState(step: 400, seed: 99))
    expectSameState(sampleState(step: 400, seed: 99), try #require(try store.loadLatest().state))
    // Checkpoints after the one saved (a run resumed past damaged ones) never push it out.
    let roomy = try CheckpointStore(directory: dir, keep: 10)
    for step in [500, 600, 700] {
      try roomy.save(sampleState(step: step))
      try Data("x".utf8).write(to: store.url(step: step).appendingPathComponent("state.json"))
    }
    let resumed = try store.loadLatest()
    #expect(resumed.step == 400 && resumed.warnings.count == 3)
    try store.save(sampleState(step: 410))
    #expect(store.steps() == [400, 410, 500, 600, 700])
    #expect(try store.loadLatest().step == 410)
    #expect(throws: DictionaryStorageError.self) { try CheckpointStore(directory: dir, keep: 0) }
    #expect(CheckpointStore.defaultKeep == 3)
  }
}
