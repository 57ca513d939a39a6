// The re-exec end to end: a real `lantern doctor` child started without OPENBLAS_CORETYPE reports the
// kernel it ended up with, which must be the decision table's choice for this machine's CPU; a user's
// OPENBLAS_CORETYPE is kept; with dispatch off the child keeps OpenBLAS's own choice.

import Foundation
import LanternTensor
import Testing

func doctor(_ environment: [String: String]) throws -> [String: Any] {
  let process = Process()
  process.executableURL = lanternBinary
  process.arguments = ["doctor", "--quick", "--json"]
  var env = ProcessInfo.processInfo.environment
  for key in [BLASDispatch.coreTypeVariable, BLASDispatch.markerVariable, BLASDispatch.switchVariable] {
    env.removeValue(forKey: key)
  }
  env.merge(environment) { _, new in new }
  process.environment = env
  let out = Pipe()
  process.standardOutput = out
  try process.run()
  let data = out.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  #expect(process.terminationStatus == 0)
  return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
}

@Test func aChildProcessGetsTheKernelTheTableChooses() throws {
  let own = try doctor([BLASDispatch.switchVariable: "off"])
  let ownKernel = try #require(own["openblas_kernel"] as? String)
  let dispatched = try doctor([:])
  let kernel = try #require(dispatched["openblas_kernel"] as? String)
  switch BLASDispatch.decide(cpu: .current, current: ownKernel, environment: [:]) {
  case .keep:
    #expect(kernel == ownKernel)
    #expect(dispatched["kernel_origin"] as? String == "OpenBLAS's own choice")
  case .reexecute(let wanted, _):
    #expect(kernel == wanted, "OpenBLAS alone: \(ownKernel); after dispatch: \(kernel)")
    #expect(dispatched["kernel_origin"] as? String == "re-executed from \(ownKernel)")
    #expect(dispatched["below_cpu"] as? Bool == false)
  }
}

@Test func aUsersCoreTypeIsKeptInTheChild() throws {
  let r = try doctor([BLASDispatch.coreTypeVariable: "Haswell"])
  #expect(r["openblas_kernel"] as? String == "Haswell")
  #expect(r["kernel_origin"] as? String == "OPENBLAS_CORETYPE=Haswell set by the user")
}
