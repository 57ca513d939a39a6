// The OpenBLAS kernel decision table on recorded /proc/cpuinfo blocks (Tests/Fixtures/cpu/README.md
// says where each came from) and on OpenBLAS's own choices (the corename it reports), including the
// rules for a user's OPENBLAS_CORETYPE and for libraries that ignore a requested kernel.

import Foundation
import LanternTensor
import LanternTestSupport
import Testing

func cpu(_ name: String) throws -> CPUInfo {
  CPUInfo(cpuinfo: try String(contentsOf: Fixtures.url("cpu/\(name).cpuinfo"), encoding: .utf8))
}

@Test func cpuinfoIsParsed() throws {
  let c = try cpu("emerald-rapids-model207")
  #expect(c.vendor == "GenuineIntel")
  #expect(c.family == 6 && c.model == 207)
  #expect(c.modelName == "Intel(R) Xeon(R) Processor")
  #expect(c.megahertz == 2100)
  #expect(c.hasAVX512Core && c.hasAVX512BF16 && c.hasAMXBF16 && c.hasAVX2FMA)
  #expect(c.fmaLanes == 16)
  let zen3 = try cpu("zen3-epyc-7b13")
  #expect(zen3.isAMD && zen3.hasAVX2FMA && !zen3.hasAVX512Core && zen3.fmaLanes == 8)
  let old = try cpu("core2-sse-only")
  #expect(!old.hasAVX2FMA && old.fmaLanes == 0)
}

/// (fixture, the kernel OpenBLAS 0.3.21 chose on its own, the expected decision).
let dispatchTable: [(String, String, BLASDispatch.Decision)] = [
  // Intel model 207 is unknown to 0.3.21: Prescott, the case that was 5× slow.
  ("emerald-rapids-model207", "Prescott", .reexecute(kernel: "Cooperlake", marker: "Prescott,Cooperlake")),
  ("sapphire-rapids-8481c", "Prescott", .reexecute(kernel: "Cooperlake", marker: "Prescott,Cooperlake")),
  ("sapphire-rapids-8481c", "Cooperlake", .keep(reason: "OpenBLAS's own choice is the best for this CPU")),
  ("icelake-sp-8375c", "SkylakeX", .keep(reason: "OpenBLAS's own choice is the best for this CPU")),
  ("icelake-sp-8375c", "Haswell", .reexecute(kernel: "SkylakeX", marker: "Haswell,SkylakeX")),
  ("skylake-sp-8175m", "Sandybridge", .reexecute(kernel: "SkylakeX", marker: "Sandybridge,SkylakeX")),
  ("skylake-sp-8175m", "SkylakeX", .keep(reason: "OpenBLAS's own choice is the best for this CPU")),
  ("haswell-e5-2670v3", "Haswell", .keep(reason: "OpenBLAS's own choice is the best for this CPU")),
  ("haswell-e5-2670v3", "Nehalem", .reexecute(kernel: "Haswell", marker: "Nehalem,Haswell")),
  ("zen2-epyc-7b12", "Zen", .keep(reason: "OpenBLAS's own choice is the best for this CPU")),
  ("zen3-epyc-7b13", "Zen", .keep(reason: "OpenBLAS's own choice is the best for this CPU")),
  // Haswell and Zen kernels are the same generation: no re-exec for a Zen 3 that got Haswell.
  ("zen3-epyc-7b13", "Haswell", .keep(reason: "OpenBLAS's own choice is the best for this CPU")),
  ("zen3-epyc-7b13", "Prescott", .reexecute(kernel: "Zen", marker: "Prescott,Zen")),
  ("zen4-epyc-9654", "Zen", .reexecute(kernel: "Cooperlake", marker: "Zen,Cooperlake")),
  ("core2-sse-only", "Core2", .keep(reason: "OpenBLAS's own choice is the best for this CPU")),
  ("core2-sse-only", "Prescott", .reexecute(kernel: "Core2", marker: "Prescott,Core2")),
]

@Test(arguments: dispatchTable.indices)
func decisionTable(_ i: Int) throws {
  let (name, current, expected) = dispatchTable[i]
  let decision = BLASDispatch.decide(cpu: try cpu(name), current: current, environment: [:])
  #expect(decision == expected, "\(name) with \(current)")
}

@Test func aUsersCoreTypeWinsAndDispatchCanBeTurnedOff() throws {
  let c = try cpu("emerald-rapids-model207")
  #expect(
    BLASDispatch.decide(cpu: c, current: "Haswell", environment: ["OPENBLAS_CORETYPE": "Haswell"])
      == .keep(reason: "OPENBLAS_CORETYPE=Haswell set by the user"))
  #expect(
    BLASDispatch.decide(cpu: c, current: "Prescott", environment: ["LANTERN_BLAS_DISPATCH": "off"])
      == .keep(reason: "LANTERN_BLAS_DISPATCH=off"))
}

@Test func anIgnoredKernelIsFollowedByTheNextCandidateAndNeverLoops() throws {
  let c = try cpu("emerald-rapids-model207")
  // The library ignored Cooperlake (still Prescott after the re-exec): try SkylakeX next.
  let env = ["OPENBLAS_CORETYPE": "Cooperlake", "LANTERN_OPENBLAS_DISPATCH": "Prescott,Cooperlake"]
  #expect(
    BLASDispatch.decide(cpu: c, current: "Prescott", environment: env)
      == .reexecute(kernel: "SkylakeX", marker: "Prescott,Cooperlake,SkylakeX"))
  // Every stronger candidate tried: stop and keep what we have.
  let all = [
    "OPENBLAS_CORETYPE": "Sandybridge",
    "LANTERN_OPENBLAS_DISPATCH": "Prescott,Cooperlake,SkylakeX,Haswell,Zen,Sandybridge,Nehalem,Core2",
  ]
  guard case .keep = BLASDispatch.decide(cpu: c, current: "Prescott", environment: all) else {
    Issue.record("expected keep after every candidate was tried")
    return
  }
  // A successful dispatch is kept.
  #expect(
    BLASDispatch.decide(cpu: c, current: "Cooperlake", environment: env) == .keep(reason: "dispatched"))
}

@Test func aLibraryWithoutTheBestKernelGetsTheBestItHas() throws {
  let c = try cpu("sapphire-rapids-8481c")
  let available: Set<String> = ["Prescott", "Haswell", "SkylakeX"]
  #expect(
    BLASDispatch.decide(cpu: c, current: "Prescott", available: available, environment: [:])
      == .reexecute(kernel: "SkylakeX", marker: "Prescott,SkylakeX"))
}

@Test func anUnrankedKernelIsLeftAlone() throws {
  let decision = BLASDispatch.decide(cpu: try cpu("zen4-epyc-9654"), current: "Zen5", environment: [:])
  #expect(decision == .keep(reason: "OpenBLAS chose Zen5, a kernel this table does not rank"))
}
