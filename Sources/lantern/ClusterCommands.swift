// The cluster commands: `run` (one machine: coordinator + local worker processes), `coordinator`,
// `worker`, `status` and `keygen`. The same pipeline file runs unchanged on one machine or across
// hosts launched by Slurm, Kubernetes or docker compose.

import ArgumentParser
import Foundation
import LanternCluster
import LanternPipeline
import LanternTransport

/// Installs SIGTERM/SIGINT handlers that call `body` once (on a dispatch queue, not in the handler).
func onTermination(_ body: @escaping @Sendable () -> Void) -> [any DispatchSourceSignal] {
  [SIGTERM, SIGINT].map { sig in
    signal(sig, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
    source.setEventHandler(handler: body)
    source.resume()
    return source
  }
}

struct RunCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Run a pipeline on this machine: a coordinator and `cluster.workers` local worker processes.",
    discussion: "Rerunning on the same job directory resumes; the exit code is the job's result (0: done).")

  @Argument(help: "A pipeline file (Pipelines/*.yaml).") var pipeline: String
  @Option(help: "Override cluster.workers.") var workers: Int?

  func run() throws {
    let spec = try PipelineDecoder.load(path: pipeline)
    let n = workers ?? spec.cluster.workers
    guard n >= 1 else {
      throw CLIError(
        "\(pipeline): cluster.workers is \(n): `lantern run` needs at least one local worker ---> HINT: pass --workers N, "
          + "or start `lantern coordinator` and workers with a launcher")
    }
    let coordinator = try CoordinatorProcess(pipeline: spec, bind: "tcp://127.0.0.1:*", log: log)
    log("coordinator on \(coordinator.endpoint); starting \(n) local worker(s)")
    var children: [Process] = []
    for i in 0..<n {
      let p = Process()
      p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
      p.arguments = ["worker", "--connect", coordinator.endpoint, "--id", "local-\(i)-\(getpid())"]
      try p.run()
      children.append(p)
    }
    let kids = Unchecked(children)
    let signals = onTermination {
      coordinator.requestStop()
      for c in kids.value where c.isRunning { c.terminate() }
    }
    let progressThread = Thread {
      var last = ""
      while true {
        sleep(2)
        let p = coordinator.progress
        let line = "progress: \(p.done)/\(p.units) units, \(p.workers) worker(s)"
        if line != last { log(line) }
        last = line
      }
    }
    progressThread.start()
    let result = try coordinator.run()
    for c in children where c.isRunning { c.terminate() }
    for c in children { c.waitUntilExit() }
    _ = signals
    try report(result, jobDirectory: spec.jobDirectory)
  }
}

/// Prints the job's result and maps it to the exit code.
func report(_ result: JobResult, jobDirectory: String) throws {
  switch result {
  case .finished:
    print("job finished: \(jobDirectory) (check it with `lantern verify \(jobDirectory)`)")
  case .failed(let reasons):
    print("job FAILED:")
    for r in reasons { print("  \(r)") }
    throw ExitCode(1)
  case .stopped:
    print("coordinator stopped; rerun to resume: \(jobDirectory)")
    throw ExitCode(130)
  }
}

struct CoordinatorCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "coordinator",
    abstract: "Run a pipeline's coordinator; workers connect with `lantern worker`.")

  @Argument(help: "A pipeline file.") var pipeline: String
  @Option(help: "ZeroMQ endpoint to bind, e.g. tcp://*:5555.") var bind = "tcp://*:5555"

  func run() throws {
    let spec = try PipelineDecoder.load(path: pipeline)
    let coordinator = try CoordinatorProcess(pipeline: spec, bind: bind, log: log)
    log("coordinator for \(spec.name) on \(coordinator.endpoint), job \(spec.jobDirectory)")
    let signals = onTermination { coordinator.requestStop() }
    let result = try coordinator.run()
    _ = signals
    try report(result, jobDirectory: spec.jobDirectory)
  }
}

struct WorkerCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "worker", abstract: "Connect to a coordinator and extract the units it assigns.")

  @Option(help: "The coordinator, e.g. tcp://host:5555.") var connect: String
  @Option(help: "Worker id (default: host name and process id).") var id: String?
  // Z85 keys may start with '-' (1 in 85): take the next argument as the value whatever it looks like.
  @Option(
    name: .customLong("server-key"), parsing: .unconditional,
    help: "The coordinator's CURVE public key (Z85).")
  var serverKey: String?
  @Option(name: .customLong("key-file"), help: "This worker's CURVE key file (`lantern keygen`).")
  var keyFile: String?

  func run() throws {
    var curve: (serverKey: String, keys: CurveKeyPair)? = nil
    if let serverKey {
      guard let keyFile else { throw CLIError("--server-key needs --key-file (this worker's keys)") }
      curve = (serverKey, try KeyFile.read(keyFile))
    }
    let worker = try WorkerProcess(connect: connect, workerID: id, curve: curve, log: log)
    let signals = onTermination { worker.requestDrain() }
    let exit = try worker.run()
    _ = signals
    log("worker exits: \(exit)")
  }
}

struct StatusCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "status",
    abstract: "Show a job's progress: units done, leased and failed, workers, throughput.")

  @Argument(help: "The job directory.") var jobDirectory: String

  func run() throws {
    let url = URL(fileURLWithPath: jobDirectory)
    guard let data = FileManager.default.contents(atPath: url.appendingPathComponent("status.json").path),
      let s = try JSONSerialization.jsonObject(with: data) as? [String: Any]
    else {
      throw CLIError(
        "\(jobDirectory): no status.json ---> HINT: it is written by a running (or finished) coordinator")
    }
    let units = s["units"] as? Int ?? 0
    let done = s["done"] as? Int ?? 0
    let tokens = s["tokens_committed"] as? Int ?? 0
    let elapsed = s["elapsed_seconds"] as? Double ?? 0
    print("job:      \(jobDirectory)  (\(s["result"] ?? "?"), updated \(s["updated"] ?? "?"))")
    print(
      "units:    \(done)/\(units) done, \(s["leased"] ?? 0) leased, \(s["pending"] ?? 0) pending, \(s["failed"] ?? 0) failed"
    )
    print(
      "workers:  \(s["workers"] ?? 0) connected, \(s["idle_workers"] ?? 0) idle, \(s["excluded_workers"] ?? 0) excluded"
    )
    print(
      String(
        format: "tokens:   %d committed, %.0f tokens/s over %.0f s", tokens,
        elapsed > 0 ? Double(tokens) / elapsed : 0, elapsed))
    print("endpoint: \(s["endpoint"] ?? "?")")
  }
}

struct KeygenCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "keygen", abstract: "Create a CURVE key pair file for a coordinator or a worker.")

  @Option(help: "The key file to write (mode 0600).") var out: String

  func run() throws {
    guard zeroMQHasCurve else { throw CLIError("this libzmq was built without CURVE") }
    let keys = try CurveKeyPair.generate()
    try KeyFile.write(keys, to: out)
    print("wrote \(out); public key: \(keys.publicKey)")
  }
}

/// Hands a value to a closure that may run on another thread.
final class Unchecked<Value>: @unchecked Sendable {
  let value: Value
  init(_ value: Value) { self.value = value }
}

struct InspectPipelineCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "inspect-pipeline", abstract: "Decode and validate a pipeline file; print the resolved job.")

  @Argument(help: "A pipeline file.") var pipeline: String

  func run() throws {
    let s = try PipelineDecoder.load(path: pipeline)
    print("pipeline \(s.name): job_dir \(s.jobDirectory), seed \(s.seed)")
    print("model \(s.extract.model); corpus \(s.extract.corpus.path) (\(s.extract.corpus.format))")
    print("hooks \(s.extract.hooks.joined(separator: ", "))")
    print(
      "context \(s.extract.contextSize), max_tokens \(s.extract.maxTokens.map(String.init) ?? "all"), dtype \(s.extract.dtype), "
        + "windows/unit \(s.extract.windowsPerUnit), batch \(s.extract.batchSize), threads \(s.extract.threads)"
    )
    print(
      "cluster: \(s.cluster.workers) local workers, heartbeat \(s.cluster.heartbeatMs) ms, lease \(s.cluster.leaseMs) ms, "
        + "\(s.cluster.maxAttempts) attempts\(s.cluster.curveServerKey == nil ? "" : ", CURVE")")
  }
}
