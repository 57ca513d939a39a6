// `lantern bench forward`: forward-pass throughput, with the sgemm rate of the library in use and the
// machine's FMA peak (a timed FMA loop) measured in the same run, so the figure can be read as a
// fraction of what the library and the hardware give, and a library far below the machine shows. Timing lives here
// and in Scripts/bench/, never in unit tests.

import ArgumentParser
import Foundation
import LanternModels
import LanternShards
import LanternTensor
import LanternWire

struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench", abstract: "Benchmarks.",
    subcommands: [
      BenchForwardCommand.self, BenchGemmCommand.self, BenchTrainCommand.self, BenchDecodeCommand.self,
      BenchCoordinatorCommand.self,
    ])
}

struct BenchForwardCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "forward", abstract: "Forward-pass tokens/s and GFLOP/s against the measured sgemm peak.")

  @OptionGroup var modelOptions: ModelOptions

  @Option(help: "Sequences per batch.")
  var batch: Int = 8

  @Option(help: "Tokens per sequence.")
  var seq: Int = 128

  @Option(name: .customLong("stop-after-layer"), help: "Last layer to compute (default: all, with logits).")
  var stopAfterLayer: Int?

  @Option(help: "Timed repeats (the median is reported).")
  var repeats: Int = 5

  @Option(help: "Seed for the random token ids.")
  var seed: UInt64 = 0

  @Flag(help: "Print one JSON object instead of text.")
  var json = false

  func run() throws {
    guard batch > 0, seq > 0, repeats > 0 else {
      throw CLIError("--batch, --seq and --repeats must be positive")
    }
    let ctx = try modelOptions.context()
    let model = try modelOptions.loadModel(ctx)
    let cfg = model.config
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    let ids: [Int32] = (0..<(batch * seq)).map { _ in
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Int32(truncatingIfNeeded: (state >> 33) % UInt64(cfg.dVocab))
    }
    let machine = MachinePeak.measure(pool: ctx.pool)
    let peak = ctx.pool.measureSgemmPeak()
    let status = BLASDispatch.status
    _ = try model.forward(tokens: ids, batch: batch, seqLen: seq, stopAfterLayer: stopAfterLayer)  // warm-up
    var times: [Double] = []
    for _ in 0..<repeats {
      let start = ContinuousClock.now
      _ = try model.forward(tokens: ids, batch: batch, seqLen: seq, stopAfterLayer: stopAfterLayer)
      times.append((ContinuousClock.now - start).seconds)
    }
    times.sort()
    let median = times[times.count / 2]
    let layers = (stopAfterLayer ?? cfg.nLayers - 1) + 1
    let withLogits = stopAfterLayer == nil || stopAfterLayer! >= cfg.nLayers - 1
    let flops = cfg.forwardFLOPs(tokens: batch * seq, seqLen: seq, layers: layers, logits: withLogits)
    let tps = Double(batch * seq) / median
    let gflops = flops / median / 1e9
    if json {
      let object: [String: Any] = [
        "tokens_per_second": tps, "gflops": gflops, "sgemm_peak_gflops": peak,
        "fraction_of_peak": gflops / peak,
        "seconds_per_batch": median, "batch": batch, "seq": seq, "layers": layers, "logits": withLogits,
        "threads": ctx.pool.threadCount, "model": modelOptions.model, "blas": BLAS.configuration,
        "cpu": status.cpu, "openblas_kernel": status.kernel, "kernel_origin": status.origin,
        "kernel_below_cpu": status.belowCPU, "fma_peak_gflops": machine.gflops,
        "sgemm_fraction_of_fma_peak": machine.gflops > 0 ? peak / machine.gflops : 0,
        "fraction_of_fma_peak": machine.gflops > 0 ? gflops / machine.gflops : 0,
      ]
      let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
      print(String(decoding: data, as: UTF8.self))
    } else {
      print(
        "model \(modelOptions.model): batch \(batch) × \(seq), layers 0...\(layers - 1)\(withLogits ? " + logits" : "")"
      )
      print(
        String(
          format:
            "%.0f tokens/s, %.1f GFLOP/s = %.0f%% of the sgemm rate of the library in use (%.1f GFLOP/s, %d threads)",
          tps, gflops, 100 * gflops / peak, peak, ctx.pool.threadCount))
      print(
        String(
          format: "machine: %@; sgemm runs at %.0f%% of it, the forward at %.0f%%", machine.description,
          100 * peak / max(machine.gflops, 1e-9), 100 * gflops / max(machine.gflops, 1e-9)))
      print(status.line)
    }
  }
}

struct BenchDecodeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "decode", abstract: "Shard decode throughput on one core (GB/s of Float32 activations).")

  @Argument(help: ".lshard files.") var shards: [String]
  @Option(help: "Passes over the files (the best is reported).") var repeats = 3
  @Flag(help: "Print one JSON object.") var json = false

  func run() throws {
    var best = Double.infinity
    var bytes = 0
    for _ in 0..<repeats {
      bytes = 0
      let start = ContinuousClock.now
      for path in shards {
        let r = try ShardReader(path: path)
        let out = UnsafeMutablePointer<Float>.allocate(capacity: r.rowCount * r.d)
        defer { out.deallocate() }
        try r.readRows(0..<r.rowCount, into: out)
        bytes += r.rowCount * r.d * 4
      }
      best = min(best, (ContinuousClock.now - start).seconds)
    }
    let gbps = Double(bytes) / best / 1e9
    if json {
      print("{\"decode_gb_per_second\": \(gbps), \"float32_bytes\": \(bytes), \"seconds\": \(best)}")
    } else {
      print(
        String(
          format: "decoded %.1f MB of Float32 activations in %.3f s: %.2f GB/s on one core",
          Double(bytes) / 1e6, best, gbps))
    }
  }
}

struct BenchCoordinatorCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "coordinator",
    abstract: "Coordinator capacity: the LWP/1 state machine driven by N simulated workers (no sockets).")

  @Option(help: "Simulated workers.") var workers = 1000
  @Option(help: "Worker messages to process.") var messages = 200_000
  @Flag(help: "Print one JSON object.") var json = false

  func run() throws {
    let start = ContinuousClock.now
    let report = CoordinatorLoad.run(workers: workers, messages: messages)
    let seconds = (ContinuousClock.now - start).seconds
    let eventsPerSecond = Double(report.events) / seconds
    // Scheduling overhead: the coordinator's CPU time per unit of simulated wall time.
    let overhead = seconds / (Double(report.simulatedMs) / 1000)
    if json {
      print(
        "{\"workers\": \(report.workers), \"events\": \(report.events), \"events_per_second\": \(eventsPerSecond), "
          + "\"commits\": \(report.commits), \"simulated_seconds\": \(Double(report.simulatedMs) / 1000), "
          + "\"cpu_seconds\": \(seconds), \"overhead_fraction\": \(overhead)}")
    } else {
      print(
        String(
          format:
            "%d workers, %d events (%d commits) in %.2f s: %.0f events/s; %.1f s of simulated cluster time → "
            + "%.2f%% of one core",
          report.workers, report.events, report.commits, seconds, eventsPerSecond,
          Double(report.simulatedMs) / 1000,
          100 * overhead))
    }
  }
}
