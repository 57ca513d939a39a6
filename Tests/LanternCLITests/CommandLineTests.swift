// End-to-end: the built `lantern` binary, run as a user runs it, on committed fixtures; its .npy
// outputs are compared with the Hugging Face goldens.

import Foundation
import LanternCompression
import LanternFormats
import LanternTensor
import LanternTestSupport
import LanternTransport
import Testing

/// The `lantern` executable built next to the test bundle.
let lanternBinary: URL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
  .appendingPathComponent("lantern")

struct RunResult {
  let status: Int32
  let stdout: String
  let stderr: String
}

func runLantern(_ arguments: [String]) throws -> RunResult {
  let process = Process()
  process.executableURL = lanternBinary
  process.arguments = arguments
  let out = Pipe()
  let err = Pipe()
  process.standardOutput = out
  process.standardError = err
  try process.run()
  let o = out.fileHandleForReading.readDataToEndOfFile()
  let e = err.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return RunResult(
    status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
    stderr: String(decoding: e, as: UTF8.self))
}

@Test func systemLibrariesAreLinked() {
  #expect(lz4Version.hasPrefix("1."))
  #expect(zeroMQVersion.hasPrefix("4."))
}

@Test func forwardWritesNpyMatchingTheGolden() throws {
  let golden = try SafetensorsFile(path: Fixtures.url("models/tiny-llama-q8_0.golden.safetensors").path)
  let tokens = try golden.int32Values("tokens")
  let t = try golden.shape(of: "tokens")[1]
  let row0 = tokens[0..<t].map(String.init).joined(separator: ",")
  let dir = try Fixtures.temporaryDirectory()
  defer { try? FileManager.default.removeItem(at: dir) }
  let hooks = ["blocks.1.hook_resid_post", "blocks.0.attn.hook_pattern", "blocks.2.mlp.hook_post"]
  let r = try runLantern([
    "forward", "--model", Fixtures.url("models/tiny-llama-q8_0.gguf").path, "--tokens", row0, "--hooks",
    hooks.joined(separator: ","), "--out", dir.path, "--threads", "2",
  ])
  #expect(r.status == 0, "stderr: \(r.stderr)")
  let ids = try NPY.readInt32(dir.appendingPathComponent("tokens.npy"))
  #expect(ids.shape == [1, t])
  #expect(ids.values == Array(tokens[0..<t]))
  for name in hooks + ["logits"] {
    let got = try NPY.readFloat32(dir.appendingPathComponent("\(name).npy"))
    let full = try golden.loadTensor(name)
    // The golden holds a batch of 2; row 0 is what we ran.
    let ref = Array(full.buffer[0..<(full.count / full.shape[0])])
    #expect(got.shape == [1] + Array(full.shape.dropFirst()), "\(name) shape")
    let (diff, scale) = maxAbsDifference(got.buffer, ref)
    #expect(diff <= 1e-4 * max(1, scale), "\(name): |Δ| \(diff)")
  }
}

@Test(.enabled(if: Fixtures.runRealModelTests, "the SmolLM2 GGUF is not fetched (Scripts/fetch-model)"))
func tokenizeMatchesTheReferenceTokenizer() throws {
  let goldenURL = Fixtures.url("tokenizers/smollm2-golden.json")
  let path = try Fixtures.requireSmolLM2()
  let r = try runLantern([
    "tokenize", "--model", path.path, "--input", Fixtures.url("tokenizers/mixed.txt").path,
  ])
  #expect(r.status == 0, "stderr: \(r.stderr)")
  let golden = try JSONSerialization.jsonObject(with: Data(contentsOf: goldenURL)) as! [String: Any]
  let expected = golden["lines"] as! [[String: Any]]
  let got = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
  #expect(got.count == expected.count)
  for (line, entry) in zip(got, expected) {
    let ids = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [Int]
    #expect(ids == entry["ids"] as! [Int], "line \(entry["text"] ?? "")")
  }
}

@Test func badArgumentsFailWithAHint() throws {
  let missing = try runLantern([
    "forward", "--model", "/nonexistent/model.gguf", "--tokens", "1,2", "--out", "/tmp/x",
  ])
  #expect(missing.status != 0)
  #expect(missing.stderr.contains("/nonexistent/model.gguf"))
  #expect(missing.stderr.contains("HINT"))
  let badHook = try runLantern([
    "forward", "--model", Fixtures.url("models/tiny-gpt2").path, "--tokens", "1,2", "--hooks",
    "blocks.0.hook_nope",
    "--out", "/tmp/x",
  ])
  #expect(badHook.status == 3)
  #expect(badHook.stderr.contains("blocks.0.hook_nope"))
}

/// Z85 keys can start with '-' (about 1 in 85 keys): `--server-key -…` must take it as the value, not
/// as an unknown option (a key like that made the CURVE fault test hang once in 85 runs).
@Test func aServerKeyStartingWithADashIsTakenAsTheValue() throws {
  let r = try runLantern(["worker", "--connect", "tcp://127.0.0.1:1", "--server-key", "-abc"])
  #expect(r.status != 0)
  #expect(r.stderr.contains("--server-key needs --key-file"), "stderr: \(r.stderr)")
  #expect(!r.stderr.contains("Missing value"))
}
