// Picks OpenBLAS's kernel for the CPU at hand.
//
// Debian 12's OpenBLAS 0.3.21 (DYNAMIC_ARCH) chooses its kernels in a library constructor, before
// `main`, from a table of CPU models; on a model it does not know (Intel family 6 model 207, Emerald
// Rapids) it falls back to Prescott (SSE3) kernels, 4–5× slower than its AVX-512 ones. Its
// `OPENBLAS_CORETYPE` variable overrides the choice, but only when set before the process starts. So
// at start-up `reexecIfNeeded()` compares the kernel in use with the best one this OpenBLAS has for the
// CPU's features and, when it is weaker, re-executes the same binary with `OPENBLAS_CORETYPE` set.
//
// Rules: a user's own `OPENBLAS_CORETYPE` wins (never overridden); `LANTERN_BLAS_DISPATCH=off` turns the
// mechanism off; the marker variable `LANTERN_OPENBLAS_DISPATCH` records what was tried (original kernel
// and every kernel requested), so a library that ignores a name is tried with the next candidate and the
// process never loops. Child processes inherit the chosen kernel. Left out: non-x86 CPUs (kept as
// OpenBLAS chose), OpenBLAS builds without DYNAMIC_ARCH (the variable has no effect there; we then warn).

import CBLAS
import Foundation

/// Kernel selection for OpenBLAS.
public enum BLASDispatch {
  /// The environment variable OpenBLAS reads in its constructor.
  public static let coreTypeVariable = "OPENBLAS_CORETYPE"
  /// Lantern's marker: "<original>,<requested 1>[,<requested 2>...]".
  public static let markerVariable = "LANTERN_OPENBLAS_DISPATCH"
  /// Set to "off" to keep whatever OpenBLAS chose.
  public static let switchVariable = "LANTERN_BLAS_DISPATCH"

  /// Strength of OpenBLAS's x86-64 kernel sets for sgemm (higher is faster on a CPU that runs it).
  /// Names are OpenBLAS's corename strings; an unknown name has no rank and is never replaced.
  public static let kernelRank: [String: Int] = [
    "Katmai": 0, "Coppermine": 0, "Northwood": 0, "Banias": 0, "Athlon": 0, "Opteron": 0,
    "Prescott": 1, "Atom": 1, "Opteron_SSE3": 1, "Nano": 1,
    "Core2": 2, "Penryn": 2, "Dunnington": 2, "Barcelona": 2, "Bobcat": 2,
    "Nehalem": 3,
    "Sandybridge": 4, "Bulldozer": 4, "Piledriver": 4, "Steamroller": 4, "Excavator": 4,
    "Haswell": 5, "Zen": 5,
    "SkylakeX": 6,
    "Cooperlake": 7,
    "SapphireRapids": 8,
  ]

  /// Kernel sets Debian 12's OpenBLAS 0.3.21 DYNAMIC_ARCH build contains (from its corename table).
  /// A library that ignores a requested name is detected after the re-exec and the next one is tried.
  public static let knownKernels: Set<String> = [
    "Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom", "Core2", "Penryn", "Dunnington",
    "Nehalem", "Athlon", "Opteron", "Opteron_SSE3", "Barcelona", "Nano", "Sandybridge", "Bobcat",
    "Bulldozer", "Piledriver", "Haswell", "Steamroller", "Excavator", "Zen", "SkylakeX", "Cooperlake",
  ]

  /// The kernels that suit `cpu`, best first (the first available one is the target).
  public static func candidates(for cpu: CPUInfo) -> [String] {
    let f = cpu.flags
    var list: [String] = []
    if cpu.hasAVX512Core {
      if cpu.isIntel && cpu.hasAMXBF16 && cpu.hasAVX512BF16 { list.append("SapphireRapids") }
      if cpu.hasAVX512BF16 { list.append("Cooperlake") }
      list.append("SkylakeX")
    }
    if cpu.hasAVX2FMA { list += cpu.isAMD ? ["Zen", "Haswell"] : ["Haswell", "Zen"] }
    if f.contains("avx") { list.append("Sandybridge") }
    if f.contains("sse4_2") { list.append("Nehalem") }
    if f.contains("ssse3") { list.append("Core2") }
    if f.contains("pni") || f.contains("sse3") { list.append("Prescott") }
    return list
  }

  /// What to do about the kernel OpenBLAS chose.
  public enum Decision: Equatable, Sendable {
    /// Keep the kernel in use; `reason` says why.
    case keep(reason: String)
    /// Re-execute with `OPENBLAS_CORETYPE=kernel`; `marker` is the new marker value.
    case reexecute(kernel: String, marker: String)
  }

  /// The pure decision table: given the CPU, the kernel in use, the kernels this OpenBLAS has and the
  /// environment, keep or re-execute.
  public static func decide(
    cpu: CPUInfo, current: String, available: Set<String> = knownKernels, environment: [String: String]
  ) -> Decision {
    if environment[switchVariable]?.lowercased() == "off" {
      return .keep(reason: "\(switchVariable)=off")
    }
    let marker = environment[markerVariable].map { $0.split(separator: ",").map(String.init) } ?? []
    if let user = environment[coreTypeVariable], marker.isEmpty {
      return .keep(reason: "\(coreTypeVariable)=\(user) set by the user")
    }
    let tried = Set(marker.dropFirst())
    guard let currentRank = kernelRank[current] else {
      return .keep(reason: "OpenBLAS chose \(current), a kernel this table does not rank")
    }
    let ranked = candidates(for: cpu).filter { available.contains($0) && kernelRank[$0] != nil }
    guard let best = ranked.first, let bestRank = kernelRank[best] else {
      return .keep(reason: "no better kernel for this CPU")
    }
    if currentRank >= bestRank {
      return .keep(reason: marker.isEmpty ? "OpenBLAS's own choice is the best for this CPU" : "dispatched")
    }
    guard let next = ranked.first(where: { !tried.contains($0) && kernelRank[$0]! > currentRank }) else {
      return .keep(reason: "OpenBLAS ignored every kernel tried (\(tried.sorted().joined(separator: ", ")))")
    }
    let original = marker.first ?? current
    return .reexecute(kernel: next, marker: ([original] + marker.dropFirst() + [next]).joined(separator: ","))
  }

  /// The kernel OpenBLAS is running ("Prescott", "SkylakeX", ...).
  public static var currentKernel: String {
    guard let name = openblas_get_corename() else { return "unknown" }
    return String(cString: name).trimmingCharacters(in: .whitespaces)
  }

  /// Re-executes this process with a better OpenBLAS kernel when the decision table says so; returns
  /// (without doing anything) otherwise or when exec fails. Call first thing in `main`, before any
  /// thread is started.
  public static func reexecIfNeeded() {
    let decision = decide(
      cpu: .current, current: currentKernel, environment: ProcessInfo.processInfo.environment)
    guard case .reexecute(let kernel, let marker) = decision else { return }
    setenv(coreTypeVariable, kernel, 1)
    setenv(markerVariable, marker, 1)
    let args = CommandLine.arguments
    var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
    argv.append(nil)
    execv("/proc/self/exe", &argv)
    // exec failed: carry on with the kernel we have, and say so in the status.
    execFailure = String(cString: strerror(errno))
    unsetenv(coreTypeVariable)
    unsetenv(markerVariable)
    for p in argv { free(p) }
  }

  nonisolated(unsafe) private static var execFailure: String?

  /// How the kernel in use was chosen, for logs and `lantern doctor`.
  public struct Status: Sendable, Equatable {
    public var cpu: String
    public var features: String
    public var configuration: String
    public var kernel: String
    /// "OpenBLAS's own choice", "re-executed from Prescott", "OPENBLAS_CORETYPE set by the user", ...
    public var origin: String
    /// The best kernel this OpenBLAS has for the CPU.
    public var bestKernel: String?
    /// The kernel in use is weaker than `bestKernel`.
    public var belowCPU: Bool

    /// One log line: "cpu ...; features ...; OpenBLAS kernel X (origin)".
    public var line: String {
      var s = "cpu: \(cpu); features: \(features); OpenBLAS kernel \(kernel) (\(origin))"
      if belowCPU, let bestKernel {
        s +=
          " — WARNING: slower than this CPU allows (best: \(bestKernel)) ---> HINT: run with "
          + "\(coreTypeVariable)=\(bestKernel), or see `lantern doctor`"
      }
      return s
    }
  }

  /// The status of this process.
  public static var status: Status {
    let env = ProcessInfo.processInfo.environment
    let cpu = CPUInfo.current
    let kernel = currentKernel
    let marker = env[markerVariable].map { $0.split(separator: ",").map(String.init) } ?? []
    let origin: String
    if let failure = execFailure {
      origin = "re-exec failed: \(failure)"
    } else if let original = marker.first, let requested = marker.last, marker.count > 1 {
      origin = requested == kernel ? "re-executed from \(original)" : "requested \(requested), got \(kernel)"
    } else if let user = env[coreTypeVariable] {
      origin = "\(coreTypeVariable)=\(user) set by the user"
    } else if env[switchVariable]?.lowercased() == "off" {
      origin = "OpenBLAS's own choice; dispatch off"
    } else {
      origin = "OpenBLAS's own choice"
    }
    let best = candidates(for: cpu).first { knownKernels.contains($0) }
    let below = best.map { (kernelRank[kernel] ?? .max) < kernelRank[$0]! } ?? false
    return Status(
      cpu: cpu.identity, features: cpu.computeFeatures, configuration: BLAS.configuration, kernel: kernel,
      origin: origin, bestKernel: best, belowCPU: below)
  }

  private static let logged = LockedFlag()

  /// Writes `status.line` to standard error, once per process.
  public static func logOnce() {
    guard logged.setIfUnset() else { return }
    FileHandle.standardError.write(Data(("lantern: " + status.line + "\n").utf8))
  }
}

/// A flag set at most once across threads.
private final class LockedFlag: @unchecked Sendable {
  private let lock = NSLock()
  private var set = false
  func setIfUnset() -> Bool {
    lock.lock()
    defer { lock.unlock() }
    if set { return false }
    set = true
    return true
  }
}
