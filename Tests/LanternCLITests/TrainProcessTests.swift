// `lantern train` as a user runs it, interrupted the hard way: the built binary on a job directory
// the real extractor wrote, killed with SIGKILL at seeded moments (after the 1st/2nd new checkpoint,
// while a checkpoint is being written, at an arbitrary delay, during the held-out pass and export)
// and rerun until it finishes; the final files must equal an uninterrupted run's byte for byte (same
// thread count). SIGTERM must checkpoint, exit 130 and resume to the same bytes. Reruns: a changed
// setting or data plan is refused naming it, a larger --tokens continues training, a damaged newest
// checkpoint is skipped with a warning, a stale final.tmp- is swept.
//
// Also here: the shared job directory (extracted once per test process) and the process helpers the
// other training test file uses. Outputs of child processes go to files, never pipes, so a chatty
// child cannot block on a full pipe.

import Foundation
import LanternTestSupport
import Testing

// MARK: - The shared job directory

/// One small job directory for every training test: the tiny Llama fixture over the test corpus,
/// 1,024-row shards of six hooks (≈ 15 units), extracted once per test process and removed at exit.
enum TrainJob {
  static let residPost0 = "blocks.0.hook_resid_post"
  static let residPost1 = "blocks.1.hook_resid_post"
  static let residPost2 = "blocks.2.hook_resid_post"
  static let mlpPost2 = "blocks.2.mlp.hook_post"
  static let ln2Normalized2 = "blocks.2.ln2.hook_normalized"
  static let mlpOut2 = "blocks.2.hook_mlp_out"
  static let hooks = [residPost0, residPost1, residPost2, mlpPost2, ln2Normalized2, mlpOut2]

  static let root = FileManager.default.temporaryDirectory.appendingPathComponent(
    "lantern-train-tests-\(getpid())")
  private static let made: Result<URL, any Error> = Result { try extract() }

  /// The job directory (extracting it on first use). Tests that damage it work on a copy.
  static func directory() throws -> URL { try made.get() }

  private static func extract() throws -> URL {
    try? FileManager.default.removeItem(at: root)
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(at: TrainJob.root) }
    let job = root.appendingPathComponent("job")
    let r = try runProcess(
      [
        "extract", "--model", Fixtures.url("models/tiny-llama").path, "--corpus",
        Fixtures.url("models/corpus.txt").path, "--hooks", hooks.joined(separator: ","), "--context-size",
        "32", "--tokens", "20480", "--shard-rows", "1024", "--threads", "2", "--out", job.path,
      ], logs: root.appendingPathComponent("extract"))
    guard r.status == 0 else { throw FixtureError("extraction for the training tests failed: \(r.stderr)") }
    return job
  }

  /// A private copy of the job directory under `directory`.
  static func copy(into directory: URL) throws -> URL {
    let copy = directory.appendingPathComponent("job")
    try FileManager.default.copyItem(at: try TrainJob.directory(), to: copy)
    return copy
  }
}

// MARK: - Processes

/// How a child process ended, and what it wrote.
struct ProcessResult {
  let reason: Process.TerminationReason
  let status: Int32
  let stdout: String
  let stderr: String

  /// Exited (no signal) with a failure code and a message, and did not trap.
  var failedCleanly: Bool {
    reason == .exit && status != 0 && stderr.contains("error")
      && !stderr.contains("Fatal error") && !stderr.contains("Stack dump")
  }
}

/// Starts `lantern arguments`, its stdout and stderr going to `logs`.out / `logs`.err.
func launchLantern(_ arguments: [String], logs: URL) throws -> Process {
  let fm = FileManager.default
  let out = logs.appendingPathExtension("out")
  let err = logs.appendingPathExtension("err")
  fm.createFile(atPath: out.path, contents: nil)
  fm.createFile(atPath: err.path, contents: nil)
  let p = Process()
  p.executableURL = lanternBinary
  p.arguments = arguments
  p.standardOutput = try FileHandle(forWritingTo: out)
  p.standardError = try FileHandle(forWritingTo: err)
  try p.run()
  return p
}

/// The result of a process started by `launchLantern` (after it ended).
func result(of p: Process, logs: URL) -> ProcessResult {
  p.waitUntilExit()
  let read = { (ext: String) in
    (try? String(contentsOf: logs.appendingPathExtension(ext), encoding: .utf8)) ?? ""
  }
  return ProcessResult(
    reason: p.terminationReason, status: p.terminationStatus, stdout: read("out"), stderr: read("err"))
}

/// Runs `lantern arguments` to the end.
func runProcess(_ arguments: [String], logs: URL) throws -> ProcessResult {
  result(of: try launchLantern(arguments, logs: logs), logs: logs)
}

// MARK: - Training runs

/// One `lantern train` command on the shared job (or on .npy files), small enough for a test.
struct TrainCommandLine {
  var arch = "topk"
  var kind = "sae"
  var hooks = [TrainJob.residPost1]
  var targetHook: String?
  var dSAE = 256
  var k = 8
  var tokens = 16_384
  var batchSize = 256
  var checkpointEvery = 8
  var logEvery = 4
  /// One unit in 5 held out: 3 of the job's 15 units (the default 1 in 20 may hold out none of 15).
  var heldOutOneIn = 5
  var extra: [String] = []

  func arguments(data: String, out: URL) -> [String] {
    var a = ["train", "--data", data, "--arch", arch, "--kind", kind]
    if !hooks.isEmpty { a += ["--hook", hooks.joined(separator: ",")] }
    if let targetHook { a += ["--target-hook", targetHook] }
    a += [
      "--d-sae", String(dSAE), "--k", String(k), "--tokens", String(tokens), "--batch-size",
      String(batchSize),
      "--checkpoint-every", String(checkpointEvery), "--log-every", String(logEvery), "--threads", "2",
      "--seed", "7", "--held-out-one-in", String(heldOutOneIn), "--out", out.path,
    ]
    return a + extra
  }

  var totalSteps: Int { tokens / batchSize }
}

/// The files of `final/` a resumed run must reproduce exactly.
let finalFiles = ["sae_weights.safetensors", "cfg.json", "sparsity.safetensors"]

/// Expects `out`/final to hold the same bytes as `reference`/final.
func expectSameFinalBytes(_ out: URL, _ reference: URL, _ what: String) {
  for name in finalFiles {
    let a = FileManager.default.contents(atPath: out.appendingPathComponent("final/\(name)").path)
    let b = FileManager.default.contents(atPath: reference.appendingPathComponent("final/\(name)").path)
    #expect(b != nil, "\(what): the uninterrupted run wrote no final/\(name)")
    #expect(a == b, "\(what): final/\(name) differs from the uninterrupted run")
  }
}

/// The training log's lines without the timing field (the rest is a pure function of the run).
func logLinesWithoutTiming(_ out: URL) throws -> [String] {
  let text = try String(contentsOf: out.appendingPathComponent("train_log.jsonl"), encoding: .utf8)
  return try text.split(separator: "\n").map { line in
    var object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    object["activations_per_second"] = nil
    return String(
      decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
  }
}

/// Steps of the checkpoints `out`/checkpoints holds under final names.
func checkpointSteps(_ out: URL) -> [Int] {
  let names =
    (try? FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("checkpoints").path))
    ?? []
  return names.compactMap { $0.hasPrefix("step-") ? Int($0.dropFirst(5)) : nil }.sorted()
}

/// Temporary (`.tmp-`) directories in `out`/checkpoints (a save or its retention under way) and in
/// `out` (a final/ being written).
func temporaryDirectories(_ out: URL) -> Set<String> {
  let fm = FileManager.default
  let checkpoints =
    (try? fm.contentsOfDirectory(atPath: out.appendingPathComponent("checkpoints").path)) ?? []
  let top = (try? fm.contentsOfDirectory(atPath: out.path)) ?? []
  return Set((checkpoints.map { "checkpoints/\($0)" } + top).filter { $0.contains(".tmp-") })
}

/// Names under `out` (recursively) that hold ".tmp-".
func temporaryLeftovers(_ out: URL) -> [String] {
  (FileManager.default.enumerator(atPath: out.path)?.compactMap { $0 as? String } ?? []).filter {
    $0.contains(".tmp-")
  }
}

/// When to SIGKILL a run.
enum KillMoment: CustomStringConvertible {
  /// Once `n` checkpoints newer than those present at launch exist.
  case afterNewCheckpoints(Int)
  /// After this many milliseconds (an arbitrary moment: startup, a step, a save, the export).
  case afterDelay(milliseconds: Int)
  /// While a new checkpoint temporary directory exists (a save or its retention is under way).
  case duringCheckpointWrite
  /// Once the last step's checkpoint exists: the held-out pass and the export of final/ run next.
  case duringExport(lastStep: Int)
  /// While a new `final.tmp-` directory exists (final/ is being written).
  case duringFinalWrite

  var description: String {
    switch self {
    case .afterNewCheckpoints(let n): return "after \(n) new checkpoint(s)"
    case .afterDelay(let ms): return "after \(ms) ms"
    case .duringCheckpointWrite: return "during a checkpoint write"
    case .duringExport: return "after the last checkpoint (held-out pass / export)"
    case .duringFinalWrite: return "while final/ is written"
    }
  }

  /// Whether the moment has come, given what `out` held at launch.
  func reached(_ out: URL, launched: Date, newestAtLaunch: Int, temporariesAtLaunch: Set<String>) -> Bool {
    switch self {
    case .afterNewCheckpoints(let n): return checkpointSteps(out).filter { $0 > newestAtLaunch }.count >= n
    case .afterDelay(let ms): return Date().timeIntervalSince(launched) * 1000 >= Double(ms)
    case .duringCheckpointWrite:
      return temporaryDirectories(out).subtracting(temporariesAtLaunch).contains {
        $0.hasPrefix("checkpoints/")
      }
    case .duringExport(let last): return checkpointSteps(out).contains(last)
    case .duringFinalWrite:
      return temporaryDirectories(out).subtracting(temporariesAtLaunch).contains {
        $0.hasPrefix("final.tmp-")
      }
    }
  }
}

/// What a SIGKILL interrupted.
struct KillOutcome {
  /// The process died of the signal (it had not ended by itself).
  var killed = false
  /// A temporary directory the run had created was left behind: the kill landed mid-write.
  var midWrite = false
  var note = ""
}

/// Launches `arguments` and SIGKILLs it at `moment` (unless it ends first).
func killRun(_ arguments: [String], out: URL, at moment: KillMoment, logs: URL) throws -> KillOutcome {
  let newest = checkpointSteps(out).last ?? 0
  let temporaries = temporaryDirectories(out)
  let launched = Date()
  let p = try launchLantern(arguments, logs: logs)
  let deadline = Date().addingTimeInterval(120)
  while p.isRunning && Date() < deadline
    && !moment.reached(out, launched: launched, newestAtLaunch: newest, temporariesAtLaunch: temporaries)
  {
    usleep(500)
  }
  guard p.isRunning else {
    let r = result(of: p, logs: logs)
    return KillOutcome(note: "ended by itself (status \(r.status)) before the kill \(moment)")
  }
  kill(p.processIdentifier, SIGKILL)
  p.waitUntilExit()
  let left = temporaryDirectories(out).subtracting(temporaries)
  let finalExists = FileManager.default.fileExists(atPath: out.appendingPathComponent("final").path)
  return KillOutcome(
    killed: p.terminationReason == .uncaughtSignal, midWrite: !left.isEmpty,
    note:
      "killed \(moment): checkpoints \(checkpointSteps(out)), new temporaries \(left.sorted()), final/: \(finalExists)"
  )
}

/// Trains `line` once uninterrupted, then again killed with SIGKILL at seeded moments and rerun until
/// it finishes; the final files and the training log must equal the uninterrupted run's.
func expectKilledRunsResumeToIdenticalBytes(_ line: TrainCommandLine, seed: UInt64) throws {
  let root = try Fixtures.temporaryDirectory("train-kill")
  defer { try? FileManager.default.removeItem(at: root) }
  let data = try TrainJob.directory().path
  let reference = root.appendingPathComponent("reference")
  let started = Date()
  let r = try runProcess(line.arguments(data: data, out: reference), logs: root.appendingPathComponent("ref"))
  let duration = Date().timeIntervalSince(started)
  try #require(r.status == 0, "uninterrupted run: \(r.stderr)")
  #expect(r.stdout.contains("held out ("), "\(r.stdout)")

  // Seeded moments: after the 1st and a 1st-or-2nd new checkpoint, during checkpoint writes (retried
  // until one lands mid-write), at random delays (within half the uninterrupted run's time, so that
  // the run rarely ends first), after the last checkpoint, and while final/ is written.
  var rng = SplitMix64(seed: seed)
  let delay = { KillMoment.afterDelay(milliseconds: Int(Double(rng.nextFloat()) * duration * 500)) }
  let moments: [KillMoment] = [
    .afterNewCheckpoints(1), .duringCheckpointWrite, .afterNewCheckpoints(1 + Int(rng.next() % 2)), delay(),
    .duringCheckpointWrite, delay(), .duringExport(lastStep: line.totalSteps), .duringFinalWrite,
  ]
  let out = root.appendingPathComponent("killed")
  let arguments = line.arguments(data: data, out: out)
  var outcomes: [KillOutcome] = []
  var attempt = 0
  for moment in moments {
    var isCheckpointWrite = false
    if case .duringCheckpointWrite = moment { isCheckpointWrite = true }
    // A checkpoint-write kill that missed the write (the poll saw it too late) is retried at a later save.
    for _ in 0..<(isCheckpointWrite ? 4 : 1) {
      let o = try killRun(arguments, out: out, at: moment, logs: root.appendingPathComponent("run\(attempt)"))
      outcomes.append(o)
      attempt += 1
      if o.midWrite || !o.killed { break }
    }
  }
  print(
    "kill -9 \(line.arch) \(line.kind) (seed \(seed)):\n  " + outcomes.map(\.note).joined(separator: "\n  "))
  #expect(outcomes.filter(\.killed).count >= 4, "too few runs were killed")
  #expect(
    outcomes.contains { $0.midWrite && $0.note.contains("checkpoint write") },
    "no kill landed while a checkpoint was being written")
  let finished = try runProcess(arguments, logs: root.appendingPathComponent("final-run"))
  #expect(finished.status == 0, "\(finished.stderr)")
  #expect(finished.reason == .exit)
  let resumed = (0..<attempt).contains { i in
    let text = try? String(contentsOf: root.appendingPathComponent("run\(i).err"), encoding: .utf8)
    return text?.contains("resuming from checkpoint") == true
  }
  #expect(resumed, "no killed run resumed from a checkpoint")
  expectSameFinalBytes(out, reference, "\(line.arch) \(line.kind) after kill -9")
  #expect(try logLinesWithoutTiming(out) == logLinesWithoutTiming(reference), "train_log.jsonl differs")
  #expect(temporaryLeftovers(out).isEmpty, "left behind: \(temporaryLeftovers(out))")
}

// MARK: - Tests

@Suite(.serialized) struct TrainKillTests {
  @Test func killedTopKSAEResumesToIdenticalBytes() throws {
    try expectKilledRunsResumeToIdenticalBytes(TrainCommandLine(arch: "topk"), seed: 11)
  }

  /// BatchTopK also checkpoints its Double inference threshold (an EMA over every step).
  @Test func killedBatchTopKSAEResumesToIdenticalBytes() throws {
    try expectKilledRunsResumeToIdenticalBytes(TrainCommandLine(arch: "batchtopk"), seed: 12)
  }

  /// A transcoder reads paired rows of two hooks; JumpReLU adds the learned log-threshold.
  @Test func killedJumpReLUTranscoderResumesToIdenticalBytes() throws {
    try expectKilledRunsResumeToIdenticalBytes(
      TrainCommandLine(
        arch: "jumprelu", kind: "transcoder", hooks: [TrainJob.ln2Normalized2], targetHook: TrainJob.mlpOut2),
      seed: 13)
  }

  @Test func killedTopKTranscoderResumesToIdenticalBytes() throws {
    try expectKilledRunsResumeToIdenticalBytes(
      TrainCommandLine(
        arch: "topk", kind: "transcoder", hooks: [TrainJob.ln2Normalized2], targetHook: TrainJob.mlpOut2),
      seed: 14)
  }

  /// A crosscoder over three layers' residual streams (one input scale per hook in the checkpoint).
  @Test func killedTopKCrosscoderResumesToIdenticalBytes() throws {
    try expectKilledRunsResumeToIdenticalBytes(
      TrainCommandLine(
        arch: "topk", kind: "crosscoder",
        hooks: [TrainJob.residPost0, TrainJob.residPost1, TrainJob.residPost2]),
      seed: 15)
  }

  /// SIGTERM between steps: the run checkpoints the step it stopped at, exits 130 without final/,
  /// and the rerun finishes with the uninterrupted run's bytes.
  @Test func sigtermCheckpointsExits130AndResumesToIdenticalBytes() throws {
    let root = try Fixtures.temporaryDirectory("train-term")
    defer { try? FileManager.default.removeItem(at: root) }
    let data = try TrainJob.directory().path
    let line = TrainCommandLine(arch: "relu", checkpointEvery: 16)
    let reference = root.appendingPathComponent("reference")
    let r = try runProcess(
      line.arguments(data: data, out: reference), logs: root.appendingPathComponent("ref"))
    try #require(r.status == 0, "\(r.stderr)")

    let out = root.appendingPathComponent("terminated")
    let arguments = line.arguments(data: data, out: out)
    let logs = root.appendingPathComponent("term")
    let p = try launchLantern(arguments, logs: logs)
    let deadline = Date().addingTimeInterval(120)
    while p.isRunning && Date() < deadline && checkpointSteps(out).isEmpty { usleep(500) }
    usleep(20_000)  // between checkpoints, at some step
    try #require(p.isRunning, "the run ended before it could be stopped")
    kill(p.processIdentifier, SIGTERM)
    let stopped = result(of: p, logs: logs)
    #expect(stopped.reason == .exit)
    #expect(stopped.status == 130, "\(stopped.stderr)")
    let match = stopped.stderr.firstMatch(of: /stopped at step (\d+); checkpoint written/)
    let step = try #require(match.flatMap { Int($0.1) }, "\(stopped.stderr)")
    #expect(step < line.totalSteps)
    #expect(checkpointSteps(out).last == step, "the newest checkpoint is the step it stopped at")
    #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("final").path))

    let rerun = try runProcess(arguments, logs: root.appendingPathComponent("rerun"))
    #expect(rerun.status == 0, "\(rerun.stderr)")
    #expect(rerun.stderr.contains("resuming from checkpoint step-\(step)"), "\(rerun.stderr)")
    expectSameFinalBytes(out, reference, "relu after SIGTERM at step \(step)")
  }
}

// MARK: - Reruns

@Test func changedSettingOnRerunIsRefusedNamingIt() throws {
  let root = try Fixtures.temporaryDirectory("train-rerun")
  defer { try? FileManager.default.removeItem(at: root) }
  let job = try TrainJob.directory().path
  let out = root.appendingPathComponent("out")
  let line = shortRun("topk", "sae")
  let first = try runProcess(line.arguments(data: job, out: out), logs: root.appendingPathComponent("first"))
  try #require(first.status == 0, "\(first.stderr)")
  let before = try Data(contentsOf: out.appendingPathComponent("final/sae_weights.safetensors"))
  try expectRefusal(
    line.arguments(data: job, out: out) + ["--lr", "0.001"], naming: ["'lr'", "0.001"], in: root, "--lr")
  var other = line
  other.k = 4
  try expectRefusal(other.arguments(data: job, out: out), naming: ["'k'"], in: root, "--k")
  var fewer = line
  fewer.tokens /= 2
  try expectRefusal(fewer.arguments(data: job, out: out), naming: ["'tokens'"], in: root, "smaller --tokens")
  #expect(try Data(contentsOf: out.appendingPathComponent("final/sae_weights.safetensors")) == before)
}

/// A finished run rerun with a larger --tokens continues from its last checkpoint; with the constant
/// learning rate it then equals a run given the larger budget from the start.
@Test func extendingTokensOnRerunContinuesTraining() throws {
  let root = try Fixtures.temporaryDirectory("train-rerun")
  defer { try? FileManager.default.removeItem(at: root) }
  let job = try TrainJob.directory().path
  let out = root.appendingPathComponent("out")
  var line = shortRun("batchtopk", "sae")
  let first = try runProcess(line.arguments(data: job, out: out), logs: root.appendingPathComponent("first"))
  try #require(first.status == 0, "\(first.stderr)")
  line.tokens *= 2
  let extended = try runProcess(
    line.arguments(data: job, out: out), logs: root.appendingPathComponent("second"))
  #expect(extended.status == 0, "\(extended.stderr)")
  #expect(
    extended.stderr.contains("resuming from checkpoint step-\(line.totalSteps / 2)"), "\(extended.stderr)")
  #expect(extended.stdout.contains("for \(line.totalSteps) steps"), "\(extended.stdout)")
  #expect(checkpointSteps(out).last == line.totalSteps)
  let reference = root.appendingPathComponent("reference")
  let r = try runProcess(line.arguments(data: job, out: reference), logs: root.appendingPathComponent("ref"))
  try #require(r.status == 0, "\(r.stderr)")
  expectSameFinalBytes(out, reference, "extended budget")
}

/// The newest checkpoint damaged (bytes flipped in its tensors): the rerun warns naming it, resumes
/// from the one before, and finishes with the uninterrupted run's bytes.
@Test func corruptedNewestCheckpointFallsBackToThePreviousOneWithAWarning() throws {
  let root = try Fixtures.temporaryDirectory("train-rerun")
  defer { try? FileManager.default.removeItem(at: root) }
  let job = try TrainJob.directory().path
  let line = TrainCommandLine(arch: "topk", checkpointEvery: 8)
  let reference = root.appendingPathComponent("reference")
  let r = try runProcess(line.arguments(data: job, out: reference), logs: root.appendingPathComponent("ref"))
  try #require(r.status == 0, "\(r.stderr)")

  let out = root.appendingPathComponent("out")
  let arguments = line.arguments(data: job, out: out)
  let killed = try killRun(
    arguments, out: out, at: .afterNewCheckpoints(2), logs: root.appendingPathComponent("killed"))
  try #require(killed.killed, "\(killed.note)")
  let steps = checkpointSteps(out)
  try #require(steps.count >= 2, "\(steps)")
  let newest = steps.last!
  let tensors = out.appendingPathComponent("checkpoints/step-\(newest)/tensors.safetensors")
  var bytes = try Data(contentsOf: tensors)
  for i in (bytes.count / 2)..<(bytes.count / 2 + 8) { bytes[i] ^= 0xFF }
  try bytes.write(to: tensors)

  let rerun = try runProcess(arguments, logs: root.appendingPathComponent("rerun"))
  #expect(rerun.status == 0, "\(rerun.stderr)")
  #expect(rerun.stderr.contains("warning"), "\(rerun.stderr)")
  #expect(
    rerun.stderr.contains("step-\(newest)"), "the warning names the damaged checkpoint: \(rerun.stderr)")
  #expect(rerun.stderr.contains("resuming from checkpoint step-\(steps[steps.count - 2])"), "\(rerun.stderr)")
  expectSameFinalBytes(out, reference, "after falling back from damaged step-\(newest)")
}

/// A `final.tmp-<16 hex>` left by a run killed while writing final/ is removed by the next export
/// (it used to stay forever); other names beside final/ are left alone.
@Test func staleFinalTemporaryIsSweptByTheNextExport() throws {
  let root = try Fixtures.temporaryDirectory("train-rerun")
  defer { try? FileManager.default.removeItem(at: root) }
  let job = try TrainJob.directory().path
  let out = root.appendingPathComponent("out")
  let line = shortRun("topk", "sae")
  let first = try runProcess(line.arguments(data: job, out: out), logs: root.appendingPathComponent("first"))
  try #require(first.status == 0, "\(first.stderr)")
  let fm = FileManager.default
  let stale = out.appendingPathComponent("final.tmp-0123456789abcdef")
  let unrelated = out.appendingPathComponent("final.tmp-notes")
  for dir in [stale, unrelated] {
    try fm.createDirectory(at: dir, withIntermediateDirectories: true)
    try Data("{}".utf8).write(to: dir.appendingPathComponent("cfg.json"))
  }
  let before = try Data(contentsOf: out.appendingPathComponent("final/sae_weights.safetensors"))
  let rerun = try runProcess(line.arguments(data: job, out: out), logs: root.appendingPathComponent("rerun"))
  #expect(rerun.status == 0, "\(rerun.stderr)")
  #expect(!fm.fileExists(atPath: stale.path), "the stale temporary is still there")
  #expect(fm.fileExists(atPath: unrelated.path), "a name that is not a temporary was removed")
  #expect(try Data(contentsOf: out.appendingPathComponent("final/sae_weights.safetensors")) == before)
}

/// Units removed from the job between runs change its data plan: the rerun is refused naming
/// `data_plan`; extending the budget of a decaying schedule is refused naming its length.
@Test func changedDataOrDecayingScheduleLengthIsRefusedOnRerun() throws {
  let root = try Fixtures.temporaryDirectory("train-rerun")
  defer { try? FileManager.default.removeItem(at: root) }
  let job = try TrainJob.copy(into: root)
  let line = shortRun("topk", "sae")
  let out = root.appendingPathComponent("out")
  let first = try runProcess(
    line.arguments(data: job.path, out: out), logs: root.appendingPathComponent("first"))
  try #require(first.status == 0, "\(first.stderr)")
  let manifest = job.appendingPathComponent("manifest.jsonl")
  let lines = try String(contentsOf: manifest, encoding: .utf8).split(separator: "\n")
  try (lines.dropLast().joined(separator: "\n") + "\n").write(to: manifest, atomically: true, encoding: .utf8)
  try expectRefusal(
    line.arguments(data: job.path, out: out), naming: ["'data_plan'"], in: root, "fewer units")

  var decaying = shortRun("topk", "sae")
  decaying.extra = ["--decay-steps", "4"]
  let decayOut = root.appendingPathComponent("decay")
  let r = try runProcess(
    decaying.arguments(data: try TrainJob.directory().path, out: decayOut),
    logs: root.appendingPathComponent("d"))
  try #require(r.status == 0, "\(r.stderr)")
  decaying.tokens *= 2
  try expectRefusal(
    decaying.arguments(data: try TrainJob.directory().path, out: decayOut),
    naming: ["'schedule_total_steps'"],
    in: root, "extended decaying schedule")
}
