// The exporter writes exactly the tensors, shapes and cfg keys that sae_lens 6.54.12 expects, for every
// architecture it loads. The reference is Tests/Fixtures/saelens/keysets.json, recorded from sae_lens
// itself by Scripts/saelens/make_keyset_fixture.py (this test needs no Python). Lantern-only
// architectures (TopK transcoders, crosscoders) are checked against docs/dictionary-format.md.

import Foundation
import LanternDictionaries
import LanternFormats
import LanternTestSupport
import Testing

struct KeysetFixture: Decodable {
  struct Entry: Decodable {
    var state_dict: [String: [ShapeItem]]
    var cfg_keys: [String]
    var cfg_required_keys: [String]
    var metadata_keys: [String]
  }
  enum ShapeItem: Decodable, Equatable {
    case symbol(String)
    case size(Int)
    init(from decoder: Decoder) throws {
      let c = try decoder.singleValueContainer()
      if let s = try? c.decode(String.self) {
        self = .symbol(s)
      } else {
        self = .size(try c.decode(Int.self))
      }
    }
  }
  var sae_lens_version: String
  var sizes: [String: Int]
  var architectures: [String: Entry]
  var runner_metadata_keys: [String]
}

/// cfg.json keys and the weight file's names and shapes of one export.
func exportedKeys(_ t: TrainedDictionary, in dir: URL) throws -> (
  cfg: [String: Any], meta: [String: Any], shapes: [String: [Int]]
) {
  let url = dir.appendingPathComponent(UUID().uuidString)
  try DictionaryExporter.write(t, metadata: sampleMetadata(t.kind, hooks: t.hooks), to: url)
  let cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: url.appendingPathComponent("cfg.json")))
  let dict = try #require(cfg as? [String: Any])
  let file = try SafetensorsFile(path: url.appendingPathComponent("sae_weights.safetensors").path)
  var shapes: [String: [Int]] = [:]
  for info in file.tensorInfos {
    #expect(info.dtype == .f32)
    shapes[info.name] = info.shape
  }
  return (dict, dict["metadata"] as? [String: Any] ?? [:], shapes)
}

@Suite struct StorageKeysetTests {
  let fixture: KeysetFixture

  init() throws {
    let data = try Data(contentsOf: Fixtures.url("saelens/keysets.json"))
    fixture = try JSONDecoder().decode(KeysetFixture.self, from: data)
  }

  @Test func everySAELensArchitectureHasExactlyTheKeysAndShapes() throws {
    #expect(fixture.sae_lens_version == DictionaryExporter.saeLensVersion)
    let dir = scratchDirectory("keysets")
    defer { try? FileManager.default.removeItem(at: dir) }
    let sizes = fixture.sizes
    var covered = Set<String>()
    for arch in Architecture.allCases {
      for kind in DictionaryKind.allCases where kind != .crosscoder {
        let exported = ExportedArchitecture.forTraining(arch, kind: kind)
        guard exported.loadableBySAELens else { continue }
        let entry = try #require(fixture.architectures[exported.name], "\(exported.name) not in the fixture")
        covered.insert(exported.name)
        let (t, _) = makeTrained(
          arch, kind, dIn: sizes["d_in"]!, dOut: sizes["d_out"]!, dSAE: sizes["d_sae"]!, k: sizes["k"]!)
        let (cfg, meta, shapes) = try exportedKeys(t, in: dir)
        let label = "\(arch.rawValue)/\(kind.rawValue) → \(exported.name)"
        let want = entry.state_dict.mapValues { items in
          items.map { item -> Int in
            switch item {
            case .size(let n): return n
            case .symbol(let s): return sizes[s]!
            }
          }
        }
        #expect(shapes == want, "\(label)")
        #expect(Set(cfg.keys) == Set(entry.cfg_keys), "\(label) cfg keys")
        #expect(Set(entry.cfg_required_keys).isSubset(of: Set(cfg.keys)), "\(label)")
        let metaWanted = Set(entry.metadata_keys + fixture.runner_metadata_keys)
        #expect(
          metaWanted.isSubset(of: Set(meta.keys)), "\(label): missing \(metaWanted.subtracting(meta.keys))")
        #expect(cfg["architecture"] as? String == exported.name)
        #expect(meta["sae_lens_version"] as? String == fixture.sae_lens_version)
        if kind != .sae { #expect(cfg["apply_b_dec_to_input"] as? Bool == false, "\(label)") }
        if exported.activation == .topk { #expect(cfg["k"] as? Int == sizes["k"]) }
      }
    }
    #expect(covered == Set(fixture.architectures.keys))
  }

  @Test func lanternOnlyArchitecturesFollowTheDocumentedLayout() throws {
    let dir = scratchDirectory("keysets-lantern")
    defer { try? FileManager.default.removeItem(at: dir) }
    let (dIn, dOut, s, k, n) = (6, 5, 12, 3, 3)
    let base: Set<String> = [
      "architecture", "d_in", "d_sae", "dtype", "device", "apply_b_dec_to_input", "normalize_activations",
      "reshape_activations", "metadata",
    ]
    for arch in Architecture.allCases {
      for kind in DictionaryKind.allCases {
        let exported = ExportedArchitecture.forTraining(arch, kind: kind)
        guard !exported.loadableBySAELens else { continue }
        let (t, _) = makeTrained(arch, kind, dIn: dIn, dOut: dOut, dSAE: s, k: k, hooks: n)
        let (cfg, meta, shapes) = try exportedKeys(t, in: dir)
        let label = "\(arch.rawValue)/\(kind.rawValue) → \(exported.name)"
        var want: [String: [Int]]
        var keys = base.union(["d_out"])
        if kind == .crosscoder {
          want = ["W_enc": [n, dIn, s], "b_enc": [s], "W_dec": [s, n, dIn], "b_dec": [n, dIn]]
          keys.insert("n_hooks")
          #expect(meta["hook_names"] as? [String] == sampleMetadata(kind, hooks: n).hookNames)
          #expect(cfg["n_hooks"] as? Int == n && cfg["d_out"] as? Int == dIn)
        } else {
          want = ["W_enc": [dIn, s], "b_enc": [s], "W_dec": [s, dOut], "b_dec": [dOut]]
          #expect(cfg["apply_b_dec_to_input"] as? Bool == false)
        }
        if kind == .skipTranscoder { want["W_skip"] = [dOut, dIn] }
        if exported.activation == .jumprelu { want["threshold"] = [s] }
        if exported.activation == .topk { keys.formUnion(["k", "rescale_acts_by_decoder_norm"]) }
        #expect(shapes == want, "\(label)")
        #expect(Set(cfg.keys) == keys, "\(label)")
        #expect(ExportedArchitecture.named(exported.name) == exported)
        #expect(
          ["topk_transcoder", "topk_skip_transcoder", "crosscoder", "topk_crosscoder", "jumprelu_crosscoder"]
            .contains(exported.name))
      }
    }
  }
}
