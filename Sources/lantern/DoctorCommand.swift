// `lantern doctor`: what this machine is and how fast Lantern's GEMMs run on it — the CPU and its
// features, the OpenBLAS kernel in use and how it was chosen, the measured FMA peak of the machine,
// and the sgemm rate on a forward-pass shape as a fraction of that peak.

import ArgumentParser
import Foundation
import LanternTensor

struct DoctorCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "doctor",
    abstract:
      "The CPU, the OpenBLAS kernel in use (and how it was chosen), the machine's peak and sgemm rate.")

  @Option(help: "Compute threads for the peak and sgemm measurements (default: all cores).")
  var threads: Int?

  @Flag(help: "Skip the timed measurements (kernel choice only).")
  var quick = false

  @Flag(help: "Print one JSON object instead of text.")
  var json = false

  func run() throws {
    if let threads, threads < 1 || threads > 1024 {
      throw CLIError("--threads \(threads) must be in 1...1024")
    }
    let status = BLASDispatch.status
    var object: [String: Any] = [
      "cpu": status.cpu, "features": status.features, "openblas": status.configuration,
      "openblas_kernel": status.kernel, "kernel_origin": status.origin, "below_cpu": status.belowCPU,
      "best_kernel": status.bestKernel ?? NSNull(),
    ]
    var lines = [
      "cpu:      \(status.cpu)", "features: \(status.features)", "OpenBLAS: \(status.configuration)",
      "kernel:   \(status.kernel) (\(status.origin))"
        + (status.belowCPU ? " — WARNING: below this CPU (best: \(status.bestKernel ?? "?"))" : ""),
    ]
    if !quick {
      let ctx = ComputeContext(threads: threads)
      let peak = MachinePeak.measure(pool: ctx.pool)
      let sgemm = ctx.pool.measureSgemmPeak()
      let fraction = peak.gflops > 0 ? sgemm / peak.gflops : 0
      object["threads"] = ctx.pool.threadCount
      object["fma_peak_gflops"] = peak.gflops
      object["fma_lanes"] = peak.lanes
      object["fma_flops_per_cycle_per_core_at_listed_clock"] = peak.flopsPerCyclePerCore ?? NSNull()
      object["cpu_mhz"] = peak.megahertz ?? NSNull()
      object["sgemm_gflops"] = sgemm
      object["sgemm_fraction_of_fma_peak"] = fraction
      lines.append("peak:     \(peak.description)")
      lines.append(
        String(
          format: "sgemm:    %.1f GFLOP/s (1024×1536×576, %d threads) = %.0f%% of the measured peak%@", sgemm,
          ctx.pool.threadCount, 100 * fraction,
          fraction < 0.5 ? " — WARNING: far below the machine" : ""))
    }
    if json {
      let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
      print(String(decoding: data, as: UTF8.self))
    } else {
      print(lines.joined(separator: "\n"))
    }
  }
}
