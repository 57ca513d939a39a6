// The launchers (docker compose, Kubernetes, Slurm) parse and agree with the command line: every
// lantern invocation they contain names a real subcommand with options it accepts, and every
// pipeline they point at decodes.

import Foundation
import LanternTestSupport
import Testing
import Yams

/// Checks `args` (without the binary) against `lantern <subcommand> --help`.
func expectValidInvocation(_ args: [String], _ source: String) throws {
  guard let sub = args.first else {
    Issue.record("\(source): empty command")
    return
  }
  let help = try runLantern([sub, "--help"])
  #expect(help.status == 0, "\(source): 'lantern \(sub)' is not a subcommand")
  for option in args.dropFirst() where option.hasPrefix("--") {
    #expect(help.stdout.contains(option), "\(source): 'lantern \(sub)' has no option \(option)")
  }
  for file in args.dropFirst() where file.hasPrefix("Pipelines/") {
    let decoded = try runLantern(["inspect-pipeline", Fixtures.repoRoot.appendingPathComponent(file).path])
    #expect(decoded.status == 0, "\(source): \(file) does not decode: \(decoded.stderr)")
  }
}

@Test func composeFileAgreesWithTheCommandLine() throws {
  let text = try String(
    contentsOf: Fixtures.repoRoot.appendingPathComponent("Docker/compose.yaml"), encoding: .utf8)
  let yaml = try #require(try Yams.load(yaml: text) as? [String: Any])
  let services = try #require(yaml["services"] as? [String: Any])
  #expect(Set(services.keys) == ["coordinator", "worker"])
  for (name, service) in services {
    let command = try #require((service as? [String: Any])?["command"] as? [String], "\(name) has a command")
    try expectValidInvocation(command, "compose \(name)")
  }
}

@Test func kubernetesManifestAgreesWithTheCommandLine() throws {
  let text = try String(
    contentsOf: Fixtures.repoRoot.appendingPathComponent("Docker/kubernetes.yaml"), encoding: .utf8)
  let documents = try Yams.load_all(yaml: text).compactMap { $0 as? [String: Any] }
  #expect(documents.map { $0["kind"] as? String } == ["Service", "Deployment", "Job"])
  var commands = 0
  for doc in documents {
    let spec = (doc["spec"] as? [String: Any])?["template"] as? [String: Any]
    let containers = ((spec?["spec"] as? [String: Any])?["containers"] as? [[String: Any]]) ?? []
    for c in containers {
      let args = try #require(c["args"] as? [String])
      try expectValidInvocation(args, "kubernetes \(doc["kind"]!)")
      commands += 1
    }
  }
  #expect(commands == 2)
  // The workers reach the coordinator through the Service's name and port.
  #expect(text.contains("tcp://lantern-coordinator:5555"))
}

@Test func slurmScriptAgreesWithTheCommandLine() throws {
  let text = try String(
    contentsOf: Fixtures.repoRoot.appendingPathComponent("Scripts/slurm/lantern.sbatch"), encoding: .utf8)
  #expect(text.contains("#SBATCH --requeue"))
  #expect(text.contains("#SBATCH --signal=B:TERM@"))
  try expectValidInvocation(["coordinator", "--bind"], "sbatch")
  try expectValidInvocation(["worker", "--connect"], "sbatch")
  #expect(text.contains("\"$lantern\" coordinator \"$pipeline\" --bind"))
  #expect(text.contains("\"$lantern\" worker --connect \"tcp://$host:$port\""))
}
