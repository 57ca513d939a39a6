// The machine's nominal Float32 FMA peak, measured rather than assumed: every thread of the pool runs
// a register-only FMA loop of the widest vectors the CPU has (CPUProbe), and the peak is the FLOPs of
// all threads over the wall time. This is the ceiling any GEMM library could reach here; comparing a
// library's sgemm rate with it shows when the library runs far below the machine (a wrong kernel).
// The formula's terms are reported beside it: the FLOPs per cycle per core the measurement implies at
// the clock /proc/cpuinfo lists (lanes × 2 × FMA units when the cores run at that clock; VMs list the
// base clock and cores turbo above it, so FMA units cannot be read off reliably and are not guessed).

import CPUProbe
import Foundation

/// The machine's measured FMA peak and the terms of its nominal formula.
public struct MachinePeak: Sendable {
  /// Float32 lanes of the widest FMA vector (16 AVX-512, 8 AVX2, 0 none).
  public var lanes: Int
  /// Threads that ran the loop at once.
  public var threads: Int
  /// Measured FLOP rate of all threads together (GFLOP/s).
  public var gflops: Double
  /// The clock from /proc/cpuinfo (MHz), if listed.
  public var megahertz: Double?
  /// Float32 FLOPs per cycle per core implied by the measurement at the listed clock. The listed
  /// clock is usually the base clock and cores run faster (turbo), so this overstates the per-cycle
  /// rate; it is reported, not used.
  public var flopsPerCyclePerCore: Double?

  /// Runs the loop for about `seconds` on every thread of `pool` (after a short warm-up).
  public static func measure(pool: ThreadPool, cpu: CPUInfo = .current, seconds: Double = 0.25) -> MachinePeak
  {
    let lanes = cpu.fmaLanes
    guard lanes > 0 else {
      return MachinePeak(
        lanes: 0, threads: pool.threadCount, gflops: 0, megahertz: cpu.megahertz, flopsPerCyclePerCore: nil)
    }
    func loop(_ iterations: Int64) -> Float {
      lanes == 16 ? lantern_fma_loop_avx512(iterations) : lantern_fma_loop_avx2(iterations)
    }
    // Calibrate on one thread, then run on all threads at once.
    var iterations: Int64 = 1 << 20
    var sink: Float = 0
    while true {
      let start = ContinuousClock.now
      sink += loop(iterations)
      let t = (ContinuousClock.now - start).seconds
      if t > seconds / 4 || iterations > 1 << 34 {
        iterations = Int64(Double(iterations) * seconds / max(t, 1e-6))
        break
      }
      iterations *= 4
    }
    let sinks = UnsafeMutablePointer<Float>.allocate(capacity: pool.threadCount)
    defer { sinks.deallocate() }
    var best = Double.infinity
    for _ in 0..<2 {
      let start = ContinuousClock.now
      let n = iterations
      pool.run { t in sinks[t] = loop(n) }
      best = min(best, (ContinuousClock.now - start).seconds)
    }
    _ = sink + sinks[0]
    let flops = Double(pool.threadCount) * Double(iterations) * 12 * Double(lanes) * 2
    let gflops = flops / best / 1e9
    var perCycle: Double?
    if let mhz = cpu.megahertz, mhz > 0 { perCycle = gflops * 1e3 / mhz / Double(pool.threadCount) }
    return MachinePeak(
      lanes: lanes, threads: pool.threadCount, gflops: gflops, megahertz: cpu.megahertz,
      flopsPerCyclePerCore: perCycle)
  }

  /// "338 GFLOP/s measured (16-lane FMA loop on 2 threads) = 80 FLOP/cycle/core at the listed 2.10 GHz
  /// (...)": 2 FMA units give 64 FLOP/cycle with 16 lanes, so more means cores run above the listed clock.
  public var description: String {
    guard lanes > 0 else { return "no FMA on this CPU" }
    var s = String(format: "%.0f GFLOP/s measured (%d-lane FMA loop on %d threads)", gflops, lanes, threads)
    if let mhz = megahertz, let perCycle = flopsPerCyclePerCore {
      s += String(
        format: " = %.0f FLOP/cycle/core at the listed %.2f GHz (%d lanes × 2 per FMA unit: more than %d "
          + "means the cores run above the listed clock)", perCycle, mhz / 1e3, lanes, 4 * lanes)
    }
    return s
  }

}
