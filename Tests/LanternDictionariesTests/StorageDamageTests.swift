// Damaged inputs to the storage layer, each expecting its own named error: a `final/` directory with
// a bad cfg.json or weight file, and checkpoint documents whose fields are wrong in one place.

import Foundation
import LanternDictionaries
import LanternFormats
import LanternShards
import LanternTensor
import Testing

@Suite struct StorageDamageTests {
  /// Writes a valid export, lets `damage` change it, and returns the importer's error text.
  func importError(_ damage: (URL) throws -> Void) throws -> String {
    let dir = scratchDirectory("import-damage")
    defer { try? FileManager.default.removeItem(at: dir) }
    let (t, _) = makeTrained(.jumprelu, .skipTranscoder)
    let url = dir.appendingPathComponent("final")
    try DictionaryExporter.write(t, metadata: sampleMetadata(.skipTranscoder, hooks: 1), to: url)
    _ = try DictionaryImporter.read(url)
    try damage(url)
    do {
      _ = try DictionaryImporter.read(url)
      return "no error"
    } catch {
      return "\(error)"
    }
  }

  func editCfg(_ url: URL, _ edit: (inout [String: Any]) -> Void) throws {
    let path = url.appendingPathComponent("cfg.json")
    var cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: path)) as! [String: Any]
    edit(&cfg)
    try JSONSerialization.data(withJSONObject: cfg).write(to: path)
  }

  func rewriteWeights(_ url: URL, _ edit: (inout [(name: String, tensor: Tensor)]) -> Void) throws {
    let path = url.appendingPathComponent("sae_weights.safetensors")
    let file = try SafetensorsFile(path: path.path)
    var tensors = try file.tensorNames.map { (name: $0, tensor: try file.loadTensor($0)) }
    edit(&tensors)
    try SafetensorsWriter.write(tensors, to: path)
  }

  @Test func importerNamesWhatIsWrong() throws {
    #expect(
      try importError { try FileManager.default.removeItem(at: $0.appendingPathComponent("cfg.json")) }
        .contains("cfg.json: is missing"))
    #expect(
      try importError { try Data("{\"d_in\":".utf8).write(to: $0.appendingPathComponent("cfg.json")) }
        .contains("is not a JSON object"))
    #expect(try importError { try editCfg($0) { $0["architecture"] = "gated" } }.contains("'architecture'"))
    #expect(try importError { try editCfg($0) { $0["d_sae"] = -3 } }.contains("'d_sae'"))
    #expect(try importError { try editCfg($0) { $0["d_sae"] = 13 } }.contains("expected F32"))
    #expect(try importError { try editCfg($0) { $0["dtype"] = "bfloat16" } }.contains("'dtype'"))
    #expect(try importError { try editCfg($0) { $0.removeValue(forKey: "d_out") } }.contains("'d_out'"))
    #expect(
      try importError { try editCfg($0) { $0["normalize_activations"] = "layer_norm" } }.contains(
        "'normalize_activations'"))
    #expect(
      try importError { url in try rewriteWeights(url) { $0.removeAll { $0.name == "threshold" } } }
        .contains("tensor 'threshold' is missing"))
    #expect(
      try importError { url in
        try rewriteWeights(url) { $0.append((name: "log_threshold", tensor: Tensor(shape: [12]))) }
      }
      .contains("tensor 'log_threshold' is not part of architecture jumprelu_skip_transcoder"))
    #expect(
      try importError { url in
        try rewriteWeights(url) { list in
          list = list.map { $0.name == "W_skip" ? (name: "W_skip", tensor: Tensor(shape: [6, 5])) : $0 }
        }
      }.contains("tensor 'W_skip' is F32 [6, 5], expected F32 [5, 6]"))
    #expect(
      try importError { url in
        try Data("garbage".utf8).write(to: url.appendingPathComponent("sae_weights.safetensors"))
      } != "no error")
  }

  @Test func damagedStateFieldsAreNamed() throws {
    let dir = scratchDirectory("state-damage")
    defer { try? FileManager.default.removeItem(at: dir) }
    let store = try CheckpointStore(directory: dir)
    let cases: [(String, String, String)] = [
      ("\"data_cursor\" : \"", "\"data_cursor\" : \"x", "field 'data_cursor'"),
      ("\"init\" : \"", "\"init\" : \"-", "field 'rng_states.init'"),
      ("\"batchtopk_threshold\" : \"", "\"batchtopk_threshold\" : \"zz", "field 'batchtopk_threshold'"),
      ("\"value\" : \"topk\"", "\"value\" : \"relu\"", "field 'spec_hash'"),
      ("\"version\" : 1", "\"version\" : 2", "field 'version'"),
      ("\"format\" : \"lantern-training-state\"", "\"format\" : \"other\"", "field 'format'"),
    ]
    for (i, (find, replace, named)) in cases.enumerated() {
      let url = try store.save(sampleState(step: 10 + i))
      let statePath = url.appendingPathComponent("state.json")
      let text = try String(contentsOf: statePath, encoding: .utf8)
      #expect(text.contains(find), "case \(i): the document no longer contains \(find)")
      let damaged = Data(text.replacingOccurrences(of: find, with: replace).utf8)
      try damaged.write(to: statePath)
      // Re-record size and CRC so that only the field check can catch the damage.
      let indexPath = url.appendingPathComponent("checkpoint.json")
      var index = try JSONSerialization.jsonObject(with: Data(contentsOf: indexPath)) as! [String: Any]
      var files = index["files"] as! [[String: Any]]
      let identity = try LanternShardsIdentity.of(statePath.path)
      for f in files.indices where files[f]["name"] as? String == "state.json" {
        files[f]["bytes"] = identity.bytes
        files[f]["crc32"] = identity.crc
      }
      index["files"] = files
      try JSONSerialization.data(withJSONObject: index).write(to: indexPath)
      do {
        _ = try store.load(step: 10 + i)
        Issue.record("case \(i): damaged \(named) was accepted")
      } catch {
        #expect("\(error)".contains(named), "case \(i): \(error)")
        #expect("\(error)".contains("HINT"))
      }
    }
  }
}

/// Size and CRC-32 of a file, as checkpoint.json records them.
enum LanternShardsIdentity {
  static func of(_ path: String) throws -> (bytes: Int, crc: String) {
    let parts = try Durable.fileIdentity(path).split(separator: ":")
    return (Int(parts[0])!, String(parts[1]))
  }
}
