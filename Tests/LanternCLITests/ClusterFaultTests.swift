// The cluster under faults, with real processes on loopback: a coordinator and workers started
// from the built binary, killed, paused and fed garbage. Every test ends by checking the final
// manifest and every shard's checksum, and that the result equals a single-process run of the same
// spec byte for byte. Heartbeats are short (200 ms) so each test takes seconds.

import CZeroMQ
import Foundation
import LanternShards
import LanternTestSupport
import LanternTransport
import Testing

/// A job directory with a pipeline file, and the processes of one cluster run.
final class ClusterHarness: @unchecked Sendable {
  let root: URL
  let pipeline: URL
  let job: URL
  var coordinator: Process?
  var workers: [String: Process] = [:]

  init(tokens: Int = 9_600, leaseMs: Int = 4000, extra: String = "") throws {
    root = try Fixtures.temporaryDirectory("cluster")
    job = root.appendingPathComponent("job")
    pipeline = root.appendingPathComponent("p.yaml")
    try """
    name: fault-test
    job_dir: \(job.path)
    model: \(Fixtures.url("models/tiny-llama").path)
    corpus:
      path: \(Fixtures.url("models/corpus.txt").path)
    extract:
      hooks: [blocks.1.hook_resid_post, blocks.2.mlp.hook_post]
      context_size: 32
      max_tokens: \(tokens)
      windows_per_unit: 8
      threads: 1
    cluster:
      workers: 0
      heartbeat_ms: 200
      lease_ms: \(leaseMs)
    \(extra)
    """.write(to: pipeline, atomically: true, encoding: .utf8)
  }

  deinit {
    for p in [coordinator].compactMap({ $0 }) + Array(workers.values) where p.isRunning {
      kill(p.processIdentifier, SIGCONT)
      kill(p.processIdentifier, SIGKILL)
    }
    try? FileManager.default.removeItem(at: root)
  }

  private var logCount = 0

  /// Starts `lantern args`; its output goes to a numbered log file under the harness root.
  func spawn(_ args: [String], env: [String: String] = [:]) throws -> Process {
    let p = Process()
    p.executableURL = lanternBinary
    p.arguments = args
    var e = ProcessInfo.processInfo.environment
    for (k, v) in env { e[k] = v }
    p.environment = e
    logCount += 1
    let logURL = root.appendingPathComponent(String(format: "log-%02d-%@.txt", logCount, args[0]))
    _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
    let handle = try FileHandle(forWritingTo: logURL)
    p.standardOutput = handle
    p.standardError = handle
    try p.run()
    return p
  }

  /// The tails of every process log, for a failing test's message.
  var logs: String {
    let files = ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).filter {
      $0.hasPrefix("log-")
    }
    .sorted()
    return files.map { f in
      let text = (try? String(contentsOf: root.appendingPathComponent(f), encoding: .utf8)) ?? ""
      return "--- \(f)\n" + text.split(separator: "\n").suffix(15).joined(separator: "\n")
    }.joined(separator: "\n")
  }

  /// Starts the coordinator on a fixed loopback port and waits until it listens.
  func startCoordinator(port: Int) throws {
    coordinator = try spawn(["coordinator", pipeline.path, "--bind", "tcp://127.0.0.1:\(port)"])
    try waitFor("the coordinator's status.json", timeout: 60) {
      FileManager.default.fileExists(atPath: job.appendingPathComponent("status.json").path)
    }
  }

  func startWorker(_ id: String, port: Int, env: [String: String] = [:], args: [String] = []) throws {
    workers[id] = try spawn(["worker", "--connect", "tcp://127.0.0.1:\(port)", "--id", id] + args, env: env)
  }

  var committedUnits: Int {
    ((try? String(contentsOf: job.appendingPathComponent("manifest.jsonl"), encoding: .utf8)) ?? "")
      .split(separator: "\n").count
  }

  func waitFor(_ what: String, timeout: Double, _ condition: () -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while !condition() {
      if Date() > deadline { throw ClusterTestError("timed out waiting for \(what)") }
      usleep(10_000)
    }
  }

  /// Waits for the coordinator to exit; returns its status.
  func waitForCoordinator(timeout: Double = 180) throws -> Int32 {
    guard let c = coordinator else { throw ClusterTestError("no coordinator") }
    do {
      try waitFor("the coordinator to finish", timeout: timeout) { !c.isRunning }
    } catch {
      throw ClusterTestError("\(error)\n\(logs)")
    }
    return c.terminationStatus
  }
}

struct ClusterTestError: Error, CustomStringConvertible {
  let description: String
  init(_ d: String) { description = d }
}

/// The single-process result of the harness's spec (computed once).
let referenceManifest: [String: [String]] = {
  let root = try! Fixtures.temporaryDirectory("cluster-ref")
  let out = root.appendingPathComponent("job").path
  let r = try! runLantern([
    "extract", "--model", Fixtures.url("models/tiny-llama").path, "--corpus",
    Fixtures.url("models/corpus.txt").path,
    "--hooks", "blocks.1.hook_resid_post,blocks.2.mlp.hook_post", "--context-size", "32", "--shard-rows",
    "256",
    "--tokens", "9600", "--threads", "1", "--out", out,
  ])
  precondition(r.status == 0, r.stderr)
  return try! manifestChecksums(URL(fileURLWithPath: out))
}()

/// The job's manifest equals the single-process run, and every shard verifies.
func expectMatchesReference(_ h: ClusterHarness) throws {
  #expect(try manifestChecksums(h.job) == referenceManifest)
  let v = try runLantern(["verify", h.job.path])
  #expect(v.status == 0, "\(v.stdout)")
}

/// A free loopback port (bind to 0, read it, close).
func freePort() -> Int {
  let ctx = ZMQContext()
  let s = try! ZMQSocket(ctx, .router)
  try! s.bind("tcp://127.0.0.1:*")
  let port = Int(s.lastEndpoint.split(separator: ":").last!)!
  s.close()
  return port
}

@Suite(.serialized) struct ClusterFaultTests {
  @Test func twoWorkersEqualASingleProcess() throws {
    let h = try ClusterHarness()
    let port = freePort()
    try h.startCoordinator(port: port)
    try h.startWorker("a", port: port)
    try h.startWorker("b", port: port)
    #expect(try h.waitForCoordinator() == 0)
    try expectMatchesReference(h)
  }

  @Test func workerKilledMidUnitLosesOnlyItsUnit() throws {
    let h = try ClusterHarness()
    let port = freePort()
    try h.startCoordinator(port: port)
    try h.startWorker("victim", port: port)
    try h.waitFor("a first commit", timeout: 60) { h.committedUnits >= 1 }
    kill(h.workers["victim"]!.processIdentifier, SIGKILL)  // mid-way through its next unit
    try h.startWorker("survivor", port: port)
    #expect(try h.waitForCoordinator() == 0)
    try expectMatchesReference(h)
  }

  @Test func workerDyingAfterRenameBeforeCommittedIsRecovered() throws {
    let h = try ClusterHarness()
    let port = freePort()
    try h.startCoordinator(port: port)
    try h.startWorker("renamer", port: port, env: ["LANTERN_FAULT_EXIT_AFTER_RENAME": "1"])
    try h.waitFor("the faulty worker to exit", timeout: 60) { !h.workers["renamer"]!.isRunning }
    try h.startWorker("honest", port: port)
    #expect(try h.waitForCoordinator() == 0)
    try expectMatchesReference(h)
  }

  @Test func pausedZombieIsFencedOff() throws {
    let h = try ClusterHarness(leaseMs: 1500)
    let port = freePort()
    try h.startCoordinator(port: port)
    try h.startWorker("zombie", port: port)
    try h.waitFor("the zombie to start", timeout: 60) {
      (try? FileManager.default.contentsOfDirectory(atPath: h.job.appendingPathComponent("shards").path)
        .isEmpty)
        == false
    }
    let zombie = h.workers["zombie"]!.processIdentifier
    kill(zombie, SIGSTOP)
    try h.startWorker("healthy", port: port)
    try h.waitFor("progress past the zombie's lease", timeout: 60) { h.committedUnits >= 4 }
    kill(zombie, SIGCONT)  // wakes up holding an expired lease: its commit must be refused
    #expect(try h.waitForCoordinator() == 0)
    try expectMatchesReference(h)
  }

  @Test func coordinatorKilledAndRestartedLosesNothing() throws {
    let h = try ClusterHarness(tokens: 9_600)
    let port = freePort()
    try h.startCoordinator(port: port)
    try h.startWorker("a", port: port)
    try h.startWorker("b", port: port)
    try h.waitFor("some commits", timeout: 60) { h.committedUnits >= 3 }
    kill(h.coordinator!.processIdentifier, SIGKILL)
    h.coordinator!.waitUntilExit()
    let before = try manifestChecksums(h.job)
    try h.startCoordinator(port: port)  // the workers reconnect by themselves
    #expect(try h.waitForCoordinator() == 0)
    let after = try manifestChecksums(h.job)
    for (unit, files) in before { #expect(after[unit] == files, "committed unit \(unit) changed") }
    try expectMatchesReference(h)
  }

  @Test func poisonUnitFailsTheJobNamingItWhileOthersFinish() throws {
    let h = try ClusterHarness()
    let port = freePort()
    try h.startCoordinator(port: port)
    // Every worker crashes on u000002; replacements keep coming until its budget (4) is spent.
    var started = 0
    while h.coordinator!.isRunning && started < 12 {
      for id in ["p\(started)", "q\(started)"] {
        try h.startWorker(id, port: port, env: ["LANTERN_FAULT_CRASH_UNIT": "u000002"])
      }
      started += 1
      try? h.waitFor("a crash", timeout: 30) {
        h.workers.values.contains { !$0.isRunning } || !h.coordinator!.isRunning
      }
      h.workers = h.workers.filter { $0.value.isRunning }
    }
    #expect(try h.waitForCoordinator() == 1)
    let manifest = try manifestChecksums(h.job)
    #expect(manifest["u000002"] == nil)
    #expect(manifest.count == referenceManifest.count - 1, "every other unit finishes")
    for (unit, files) in manifest { #expect(referenceManifest[unit] == files) }
    let status = try String(contentsOf: h.job.appendingPathComponent("status.json"), encoding: .utf8)
    #expect(status.contains("u000002"), "the failure names the unit: \(status)")
  }

  @Test func garbageAndOversizedPeersAreDisconnectedNotFatal() throws {
    let h = try ClusterHarness()
    let port = freePort()
    try h.startCoordinator(port: port)
    let ctx = ZMQContext()
    for (i, frames) in [
      [[UInt8](repeating: 0xFF, count: 7)],
      [Array("READY".utf8), [1, 2, 3]],
      [[UInt8](repeating: 0x41, count: 100_000)],  // over ZMQ_MAXMSGSIZE
      (0..<300).map { _ in [UInt8(1)] },  // too many frames
      [],
    ].enumerated() where !frames.isEmpty {
      let s = try ZMQSocket(ctx, .dealer)
      try s.set(ZMQ_ROUTING_ID, bytes: Array("hostile-\(i)".utf8))
      try s.connect("tcp://127.0.0.1:\(port)")
      _ = try s.send(frames, block: true)
      usleep(50_000)
      s.close()
    }
    #expect(h.coordinator!.isRunning, "the coordinator survived hostile peers")
    try h.startWorker("a", port: port)
    #expect(try h.waitForCoordinator() == 0)
    try expectMatchesReference(h)
  }

  @Test(.enabled(if: zeroMQHasCurve, "this libzmq has no CURVE"))
  func workerWithAnUnlistedCurveKeyIsRefused() throws {
    let keys = try Fixtures.temporaryDirectory("keys")
    defer { try? FileManager.default.removeItem(at: keys) }
    func keygen(_ name: String) throws -> (file: String, pub: String) {
      let file = keys.appendingPathComponent(name).path
      let r = try runLantern(["keygen", "--out", file])
      #expect(r.status == 0)
      return (
        file, String(r.stdout.split(separator: " ").last!.trimmingCharacters(in: .whitespacesAndNewlines))
      )
    }
    let server = try keygen("server.key")
    let good = try keygen("good.key")
    let bad = try keygen("bad.key")
    let h = try ClusterHarness(
      extra: "  curve_server_key: \(server.file)\n  curve_allowed_keys: [\"\(good.pub)\"]")
    let port = freePort()
    try h.startCoordinator(port: port)
    try h.startWorker("intruder", port: port, args: ["--server-key", server.pub, "--key-file", bad.file])
    sleep(2)
    #expect(h.committedUnits == 0, "the intruder got no work")
    try h.startWorker("member", port: port, args: ["--server-key", server.pub, "--key-file", good.file])
    #expect(try h.waitForCoordinator() == 0)
    try expectMatchesReference(h)
    kill(h.workers["intruder"]!.processIdentifier, SIGKILL)
  }
}

extension ClusterFaultTests {
  @Test func sigtermDrainsAWorkerWhichLeavesCleanly() throws {
    let h = try ClusterHarness()
    let port = freePort()
    try h.startCoordinator(port: port)
    try h.startWorker("leaver", port: port)
    try h.waitFor("a first commit", timeout: 60) { h.committedUnits >= 1 }
    let leaver = h.workers["leaver"]!
    kill(leaver.processIdentifier, SIGTERM)
    // It finishes (or hands back) its unit and exits on its own, well before any lease expires.
    try h.waitFor("the drained worker to exit", timeout: 30) { !leaver.isRunning }
    #expect(
      leaver.terminationReason == .exit && leaver.terminationStatus == 0,
      "exit status \(leaver.terminationStatus)")
    #expect(h.coordinator!.isRunning, "the job goes on")
    try h.startWorker("stayer", port: port)
    #expect(try h.waitForCoordinator() == 0)
    try expectMatchesReference(h)
  }
}
