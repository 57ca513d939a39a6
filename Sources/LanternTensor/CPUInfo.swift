// What the CPU is and what it can do, read from /proc/cpuinfo (the kernel's view: a feature the OS
// has not enabled, such as AVX-512 state it does not save, is absent there, which is what we want).
//
// Only the first processor block is read: every core of the x86-64 servers Lantern runs on has the
// same features. Left out: hybrid (P/E-core) desktops, non-x86 CPUs (parsed, but every x86 feature
// reads as absent).

import Foundation

/// The CPU's identity and instruction-set features.
public struct CPUInfo: Sendable, Equatable {
  /// `vendor_id`: GenuineIntel, AuthenticAMD, HygonGenuine, or "" when unknown.
  public var vendor: String
  /// `cpu family` and `model` (decimal, as the kernel prints them), nil when absent.
  public var family: Int?
  public var model: Int?
  /// `model name`, e.g. "AMD EPYC 7B13".
  public var modelName: String
  /// `cpu MHz` of the first processor (the current clock; on VMs usually the nominal one).
  public var megahertz: Double?
  /// The `flags` line as a set.
  public var flags: Set<String>
  /// Logical processors listed (blocks in the file).
  public var logicalProcessors: Int

  public var isIntel: Bool { vendor == "GenuineIntel" }
  public var isAMD: Bool { vendor == "AuthenticAMD" || vendor == "HygonGenuine" }

  /// AVX2 with FMA3: the Haswell/Zen generation.
  public var hasAVX2FMA: Bool { flags.contains("avx2") && flags.contains("fma") }
  /// The AVX-512 subsets OpenBLAS's SkylakeX kernels need (F, CD, BW, DQ, VL).
  public var hasAVX512Core: Bool {
    ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains)
  }
  /// AVX512_BF16 (Cooper Lake, Sapphire Rapids and later, Zen 4).
  public var hasAVX512BF16: Bool { hasAVX512Core && flags.contains("avx512_bf16") }
  /// AMX with bf16 tiles (Sapphire Rapids and later).
  public var hasAMXBF16: Bool { flags.contains("amx_bf16") && flags.contains("amx_tile") }

  /// The widest FMA vector in Float32 lanes (16, 8, or 0 without FMA).
  public var fmaLanes: Int { flags.contains("avx512f") ? 16 : (hasAVX2FMA ? 8 : 0) }

  /// Parses the text of /proc/cpuinfo.
  public init(cpuinfo text: String) {
    var vendor = ""
    var family: Int?
    var model: Int?
    var name = ""
    var mhz: Double?
    var flags = Set<String>()
    var processors = 0
    var inFirst = true
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
      guard let colon = line.firstIndex(of: ":") else { continue }
      let key = line[..<colon].trimmingCharacters(in: .whitespaces)
      let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
      if key == "processor" {
        processors += 1
        inFirst = processors == 1
        continue
      }
      guard inFirst else { continue }
      switch key {
      case "vendor_id": vendor = value
      case "cpu family": family = Int(value)
      case "model": model = Int(value)
      case "model name": name = value
      case "cpu MHz": mhz = Double(value)
      case "flags": flags = Set(value.split(separator: " ").map(String.init))
      default: break
      }
    }
    self.vendor = vendor
    self.family = family
    self.model = model
    self.modelName = name
    self.megahertz = mhz
    self.flags = flags
    self.logicalProcessors = max(processors, 1)
  }

  /// This machine's CPU (an empty description if /proc/cpuinfo cannot be read).
  public static let current: CPUInfo = {
    let text = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    return CPUInfo(cpuinfo: text)
  }()

  /// "Intel(R) Xeon(R) Processor (family 6, model 207)".
  public var identity: String {
    let name = modelName.isEmpty ? "unknown CPU" : modelName
    guard let family, let model else { return name }
    return "\(name) (family \(family), model \(model))"
  }

  /// The features that matter for GEMM kernels, strongest first, e.g. "avx512f avx512_bf16 amx_bf16 avx2 fma".
  public var computeFeatures: String {
    let interesting = [
      "amx_bf16", "amx_tile", "avx512_bf16", "avx512_fp16", "avx512f", "avx512bw", "avx512vl", "avx512dq",
      "avx512cd", "avx_vnni", "avx2", "fma", "f16c", "avx", "sse4_2", "ssse3", "pni",
    ]
    let present = interesting.filter(flags.contains)
    return present.isEmpty ? "none of avx/sse4" : present.joined(separator: " ")
  }
}
