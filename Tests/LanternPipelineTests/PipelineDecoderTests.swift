// Pipeline files: the shipped examples decode; every kind of mistake is an error naming the key
// and the line.

import Foundation
import LanternPipeline
import LanternTestSupport
import Testing

@Test(arguments: ["quickstart.yaml", "gpt2-small-all-layers.yaml"])
func shippedPipelinesDecode(_ name: String) throws {
  let spec = try PipelineDecoder.load(
    path: Fixtures.repoRoot.appendingPathComponent("Pipelines/\(name)").path)
  #expect(!spec.extract.hooks.isEmpty)
  if name == "quickstart.yaml" {
    #expect(spec.extract.hooks == ["blocks.15.hook_resid_post", "blocks.15.mlp.hook_post"])
    #expect(spec.extract.maxTokens == 131_072)
    #expect(spec.cluster.workers == 2)
    #expect(spec.jobDirectory == "out/quickstart/job")
  } else {
    #expect(spec.extract.hooks.count == 12)
    #expect(spec.extract.maxTokens == 100_000_000)
  }
}

let base = """
  model: m.gguf
  corpus:
    path: c.txt
  extract:
    hooks: [blocks.0.hook_resid_post]
  """

func expectError(_ yaml: String, key: String, line: Int? = nil, contains: String? = nil) {
  do {
    _ = try PipelineDecoder.decode(yaml, file: "p.yaml")
    Issue.record("accepted: \(yaml)")
  } catch let e as PipelineError {
    #expect(e.key == key, "\(e)")
    if let line { #expect(e.line == line, "\(e)") }
    if let contains { #expect(e.description.contains(contains), "\(e)") }
    #expect(e.description.contains("HINT"))
  } catch {
    Issue.record("wrong error type: \(error)")
  }
}

@Test func minimalPipelineGetsDefaults() throws {
  let spec = try PipelineDecoder.decode(base, file: "p.yaml")
  #expect(spec.extract.contextSize == 128)
  #expect(spec.extract.dtype == "bf16")
  #expect(spec.name == "p")
  #expect(spec.jobDirectory == "out/p")
}

@Test func mistakesNameTheKeyAndLine() {
  expectError(base + "\nbogus: 1", key: "bogus", line: 6, contains: "unknown key")
  expectError(base + "\n  context_sise: 64", key: "extract.context_sise", contains: "unknown key")
  expectError(base + "\n  context_size: many", key: "extract.context_size", contains: "expected an integer")
  expectError(base + "\n  context_size: 1", key: "extract.context_size", contains: "2...1048576")
  expectError(base + "\n  dtype: fp8", key: "extract.dtype")
  expectError(base + "\n  prepend_bos: maybe", key: "extract.prepend_bos")
  expectError(
    base.replacingOccurrences(of: "[blocks.0.hook_resid_post]", with: "[a, a]"), key: "extract.hooks")
  expectError(base + "\n  hooks: [b]", key: "", contains: "not valid YAML")  // a duplicated key
  expectError("model: m\ncorpus:\n  path: c\n", key: "extract", contains: "required")
  expectError(base + "\ncluster:\n  heartbeat_ms: 1000\n  lease_ms: 2000", key: "cluster.lease_ms")
  expectError(base + "\ncluster: [1, 2]", key: "cluster", contains: "mapping")
  expectError("model: [unclosed", key: "", contains: "not valid YAML")
  expectError("", key: "", contains: "empty")
}
