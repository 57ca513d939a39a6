// `lantern bench train`: training throughput of one dictionary on real activations (a job directory's
// shards or an .npy file) or on seeded random rows, beside the dense encoder-GEMM floor measured in the
// same run — the activations/s a step would reach if it cost only the B×d_in×d_sae sgemm. The data is
// decoded once into memory before timing (`--from-stream` times the shard stream as training reads it,
// for the stream-overhead figure). Timing lives here and in Scripts/bench/, never in unit tests.

import ArgumentParser
import Foundation
import LanternDictionaries
import LanternTensor

struct BenchTrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train", abstract: "Dictionary-training activations/s and the encoder-GEMM floor.")

  @Option(help: "relu, topk, batchtopk, jumprelu or matryoshka.") var arch = "topk"
  @Option(name: .customLong("d-in"), help: "Input width for random rows (ignored with --data).") var dIn = 576
  @Option(help: "Latents per input dimension.") var expansion = 16
  @Option(help: "Active latents per row (topk family).") var k = 32
  @Option(name: .customLong("batch-size"), help: "Rows per step.") var batchSize = 4096
  @Option(help: "Compute threads.") var threads = ProcessInfo.processInfo.activeProcessorCount
  @Option(help: "Timed steps (after 2 warm-up steps).") var steps = 10
  @Option(help: "A job directory or .npy file (default: seeded random rows).") var data: String?
  @Option(help: "Hook to read from a job directory.") var hook: String?
  @Flag(name: .customLong("from-stream"), help: "Read batches from the shuffled shard stream while timing.")
  var fromStream = false
  @Flag(help: "Print one JSON object.") var json = false

  func run() throws {
    guard let architecture = Architecture(rawValue: arch) else {
      throw CLIError("--arch '\(arch)' is unknown")
    }
    guard steps > 0, batchSize > 0, expansion > 0 else {
      throw CLIError("--steps, --batch-size, --expansion > 0")
    }
    let pool = ComputeContext(threads: threads).pool
    var batches: [Tensor] = []
    var width = dIn
    var stream: BatchStream?
    var source = "random normal rows"
    var scale: Float = 1
    if let data {
      let plan = try DataPlan(source: try openActivationSource(path: data, hooks: hook.map { [$0] } ?? []))
      width = plan.width
      let stats = try plan.statistics(batchSize: batchSize, batches: 2)
      scale = stats.inputScales[0]
      source = data + (hook.map { " (\($0))" } ?? "")
      let s = try plan.trainingStream(batchSize: batchSize)
      if fromStream {
        stream = s
      } else {
        for _ in 0..<min(steps + 2, 8) {
          guard let b = try s.next() else { break }
          batches.append(Tensor(shape: [batchSize, width], values: b.inputs.map { $0 * scale }))
        }
      }
    } else {
      var rng = SeededRandom(seed: 0)
      for _ in 0..<4 {
        let t = Tensor(shape: [batchSize, width])
        for i in 0..<t.count { t.pointer[i] = rng.nextNormal() }
        batches.append(t)
      }
    }
    guard stream != nil || !batches.isEmpty else { throw CLIError("no data to benchmark") }
    let dSAE = width * expansion
    var h = DictionaryHyperparameters(architecture: architecture, kind: .sae, dIn: width, dSAE: dSAE)
    h.k = k
    if architecture == .matryoshka { h.matryoshkaWidths = [dSAE / 16, dSAE / 4, dSAE] }
    let parameters = try DictionaryParameters.initialized(
      h, decoderBias: [Float](repeating: 0, count: width), seed: 0)
    let model = try DictionaryModel(config: h, parameters: parameters, pool: pool)
    var i = 0
    func nextBatch() throws -> Tensor {
      if let stream, let b = try stream.next() {
        return Tensor(shape: [batchSize, width], values: b.inputs.map { $0 * scale })
      }
      defer { i += 1 }
      return batches[i % batches.count]
    }
    for _ in 0..<2 { try model.step(input: try nextBatch()) }
    model.recordsTimings = true
    var split = StepTimings()
    let start = ContinuousClock.now
    for _ in 0..<steps {
      let t = try model.step(input: try nextBatch()).timings ?? StepTimings()
      split.encode += t.encode
      split.select += t.select
      split.decode += t.decode
      split.backward += t.backward
      split.update += t.update
    }
    let seconds = (ContinuousClock.now - start).seconds
    let phases: [(String, Double)] = [
      ("encode_gemm", split.encode), ("select", split.select), ("decode", split.decode),
      ("backward", split.backward), ("adam_and_constraints", split.update),
    ]
    let phaseSeconds = Dictionary(uniqueKeysWithValues: phases.map { ($0.0, $0.1 / Double(steps)) })
    let rate = Double(steps * batchSize) / seconds
    // The floor: the dense encoder GEMM alone, pre[B,S] = x·W_encᵀ, as the step calls it.
    let x = try batches.first ?? nextBatch()
    let pre = Tensor(shape: [batchSize, dSAE])
    pool.linear(
      out: pre.pointer, inp: x.pointer, weight: parameters.encoderWeight.pointer, m: batchSize, n: dSAE,
      k: width)
    var best = Double.infinity
    for _ in 0..<5 {
      let t0 = ContinuousClock.now
      pool.linear(
        out: pre.pointer, inp: x.pointer, weight: parameters.encoderWeight.pointer, m: batchSize, n: dSAE,
        k: width)
      best = min(best, (ContinuousClock.now - t0).seconds)
    }
    let floor = Double(batchSize) / best
    let gflops = 2 * Double(batchSize) * Double(dSAE) * Double(width) / best / 1e9
    let status = BLASDispatch.status
    if json {
      let object: [String: Any] = [
        "arch": arch, "d_in": width, "d_sae": dSAE, "k": k, "batch_size": batchSize,
        "threads": pool.threadCount,
        "steps": steps, "activations_per_second": rate, "seconds_per_step": seconds / Double(steps),
        "gemm_floor_activations_per_second": floor, "encoder_gemm_gflops": gflops,
        "fraction_of_floor": rate / floor, "data": source, "from_stream": fromStream, "cpu": status.cpu,
        "openblas_kernel": status.kernel, "seconds_per_step_by_phase": phaseSeconds,
      ]
      let out = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
      print(String(decoding: out, as: UTF8.self))
    } else {
      print(
        "\(arch) SAE \(width) → \(dSAE), k \(k), batch \(batchSize), \(pool.threadCount) threads, on \(source)"
      )
      print(
        String(
          format:
            "%.0f activations/s (%.3f s/step); encoder-GEMM floor %.0f act/s (%.0f GFLOP/s): %.0f%% of the floor",
          rate, seconds / Double(steps), floor, gflops, 100 * rate / floor))
      print(
        "time split per step: "
          + phases.map {
            String(format: "%@ %.1f ms (%.0f%%)", $0.0, 1000 * $0.1 / Double(steps), 100 * $0.1 / seconds)
          }
          .joined(separator: ", "))
      print(status.line)
    }
  }
}
