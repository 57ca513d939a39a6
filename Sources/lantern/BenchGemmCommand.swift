// `lantern bench gemm`: Lantern's GEMM (OpenBLAS sgemm split across the pool, as the forward pass and
// the trainer call it) on the forward pass's and the SAE encoder's shapes, beside the machine's
// measured FMA peak. Scripts/bench/torch_gemm.py times PyTorch on the same shapes for the ratio.

import ArgumentParser
import Foundation
import LanternTensor

/// The GEMM shapes of SmolLM2-135M's forward (1,024 tokens) and of a 16× SAE encoder (batch 4,096),
/// as (name, m, n, k) with out[m,n] = inp[m,k]·W[n,k]ᵀ. Scripts/bench/torch_gemm.py uses the same list.
let benchGemmShapes: [(String, Int, Int, Int)] = [
  ("attn q/o 1024x576x576", 1024, 576, 576), ("attn k/v 1024x192x576", 1024, 192, 576),
  ("mlp gate/up 1024x1536x576", 1024, 1536, 576), ("mlp down 1024x576x1536", 1024, 576, 1536),
  ("sae encoder 4096x9216x576", 4096, 9216, 576),
]

struct BenchGemmCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gemm",
    abstract: "GEMM GFLOP/s on the forward's and the SAE encoder's shapes, and the FMA peak.")

  @Option(help: "Compute threads (default: all cores).") var threads: Int?
  @Option(help: "Timed repeats per shape (the best is reported).") var repeats = 20
  @Flag(help: "Print one JSON object per line instead of text.") var json = false

  func run() throws {
    if let threads, threads < 1 || threads > 1024 {
      throw CLIError("--threads \(threads) must be in 1...1024")
    }
    guard repeats > 0 else { throw CLIError("--repeats must be positive") }
    let ctx = ComputeContext(threads: threads)
    let machine = MachinePeak.measure(pool: ctx.pool)
    let status = BLASDispatch.status
    var lines: [[String: Any]] = []
    for (name, m, n, k) in benchGemmShapes {
      let gflops = ctx.pool.measureSgemmPeak(
        m: m, n: n, k: k, repeats: max(3, repeats * 1024 * 576 / (m * n / 4)))
      lines.append([
        "shape": name, "m": m, "n": n, "k": k, "gflops": gflops, "threads": ctx.pool.threadCount,
        "fraction_of_fma_peak": machine.gflops > 0 ? gflops / machine.gflops : 0,
      ])
    }
    if json {
      let head: [String: Any] = [
        "cpu": status.cpu, "openblas_kernel": status.kernel, "kernel_origin": status.origin,
        "fma_peak_gflops": machine.gflops, "threads": ctx.pool.threadCount, "shapes": lines,
      ]
      let data = try JSONSerialization.data(withJSONObject: head, options: [.sortedKeys])
      print(String(decoding: data, as: UTF8.self))
    } else {
      print("machine: \(machine.description)")
      print(status.line)
      for l in lines {
        print(
          (l["shape"] as! String).padding(toLength: 28, withPad: " ", startingAt: 0)
            + String(
              format: "%7.1f GFLOP/s  %3.0f%% of the FMA peak", l["gflops"] as! Double,
              100 * (l["fraction_of_fma_peak"] as! Double)))
      }
    }
  }
}
