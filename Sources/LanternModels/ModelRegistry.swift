// The architecture registry and the one entry point that opens a model from a path:
// a Hugging Face directory (config.json + *.safetensors, keyed by `model_type`) or a .gguf file
// (keyed by `general.architecture`). An unknown key is a clear error listing what is supported.

import Foundation
import LanternFormats
import LanternTensor

/// Opens models by path.
public enum ModelRegistry {
  /// Hugging Face `model_type` values Lantern runs.
  public static let huggingFaceTypes = ["gpt2", "llama", "qwen2"]
  /// GGUF `general.architecture` values Lantern runs.
  public static let ggufArchitectures = ["llama"]

  /// Loads the model at `path` (HF directory or .gguf file).
  public static func load(path: String, pool: ThreadPool) throws -> Transformer {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
      throw ModelError.noModelAt(path: path)
    }
    if isDir.boolValue { return try loadHuggingFace(directory: path, pool: pool) }
    if path.hasSuffix(".gguf") { return try loadGGUF(GGUFFile(path: path), pool: pool) }
    throw ModelError.noModelAt(path: path)
  }

  /// The configuration of the model at `path` without loading (or dequantizing) its weights.
  public static func config(path: String) throws -> ModelConfig {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
      throw ModelError.noModelAt(path: path)
    }
    if isDir.boolValue { return try huggingFaceConfig(directory: path) }
    guard path.hasSuffix(".gguf") else { throw ModelError.noModelAt(path: path) }
    let gguf = try GGUFFile(path: path)
    let arch = gguf.architecture ?? "(none)"
    guard arch == "llama" else {
      throw ModelError.unknownArchitecture(file: gguf.path, name: arch, known: ggufArchitectures)
    }
    return try Llama.config(gguf: gguf)
  }

  /// Loads a model from an opened GGUF file.
  public static func loadGGUF(_ gguf: GGUFFile, pool: ThreadPool) throws -> Transformer {
    let arch = gguf.architecture ?? "(none)"
    switch arch {
    case "llama":
      let cfg = try Llama.config(gguf: gguf)
      return try Llama.load(config: cfg, source: gguf, names: .gguf, ggufPermuted: true, pool: pool)
    default:
      throw ModelError.unknownArchitecture(file: gguf.path, name: arch, known: ggufArchitectures)
    }
  }

  /// Reads the config of an HF directory without loading weights.
  public static func huggingFaceConfig(directory: String) throws -> ModelConfig {
    let configPath = (directory as NSString).appendingPathComponent("config.json")
    guard let data = FileManager.default.contents(atPath: configPath) else {
      throw ModelError.noModelAt(path: directory)
    }
    struct Probe: Decodable {
      var modelType: String?
      enum CodingKeys: String, CodingKey { case modelType = "model_type" }
    }
    do {
      let type = try JSONDecoder().decode(Probe.self, from: data).modelType ?? "(none)"
      switch type {
      case "gpt2":
        return try JSONDecoder().decode(GPT2Configuration.self, from: data).modelConfig(file: configPath)
      case "llama", "qwen2":
        return try JSONDecoder().decode(LlamaConfiguration.self, from: data).modelConfig(file: configPath)
      default: throw ModelError.unknownArchitecture(file: configPath, name: type, known: huggingFaceTypes)
      }
    } catch let error as DecodingError {
      throw ModelError.invalidConfig(file: configPath, field: error.fieldPath, reason: error.shortDescription)
    }
  }

  /// Loads a Hugging Face directory.
  public static func loadHuggingFace(directory: String, pool: ThreadPool) throws -> Transformer {
    let cfg = try huggingFaceConfig(directory: directory)
    let files = try weightFiles(directory: directory)
    let source = try MergedTensorSource(
      files.map { try SafetensorsFile(path: (directory as NSString).appendingPathComponent($0)) },
      path: directory)
    switch cfg.architecture {
    case "gpt2": return try GPT2.load(config: cfg, source: source, pool: pool)
    default:
      return try Llama.load(config: cfg, source: source, names: .huggingFace, ggufPermuted: false, pool: pool)
    }
  }
}

/// The weight files of an HF directory: the shards named by model.safetensors.index.json, else
/// model.safetensors. Other .safetensors files in the directory (SAEs, goldens) are not weights.
func weightFiles(directory: String) throws -> [String] {
  let index = (directory as NSString).appendingPathComponent("model.safetensors.index.json")
  if let data = FileManager.default.contents(atPath: index) {
    struct Index: Decodable {
      var weightMap: [String: String]
      enum CodingKeys: String, CodingKey { case weightMap = "weight_map" }
    }
    guard let map = try? JSONDecoder().decode(Index.self, from: data).weightMap else {
      throw ModelError.invalidConfig(
        file: index, field: "weight_map", reason: "missing or not a name → file map")
    }
    let files = Set(map.values).sorted()
    for f in files where f.contains("/") || f.hasPrefix(".") {
      throw ModelError.invalidConfig(
        file: index, field: "weight_map", reason: "shard '\(f)' is not a plain file name")
    }
    return files
  }
  let single = (directory as NSString).appendingPathComponent("model.safetensors")
  guard FileManager.default.fileExists(atPath: single) else { throw ModelError.noModelAt(path: directory) }
  return ["model.safetensors"]
}

/// Several safetensors shards seen as one source; a name in two shards is an error.
final class MergedTensorSource: TensorSource, @unchecked Sendable {
  let path: String
  let tensorNames: [String]
  private let owner: [String: any TensorSource]

  init(_ sources: [any TensorSource], path: String) throws {
    var owner: [String: any TensorSource] = [:]
    for s in sources {
      for n in s.tensorNames {
        if let other = owner[n] {
          throw ModelError.badInput("\(path): tensor '\(n)' appears in both \(other.path) and \(s.path)")
        }
        owner[n] = s
      }
    }
    self.owner = owner
    self.tensorNames = owner.keys.sorted()
    self.path = path
  }

  func shape(of name: String) throws -> [Int] {
    guard let s = owner[name] else { throw ModelError.missingTensor(file: path, name: name) }
    return try s.shape(of: name)
  }

  func loadTensor(_ name: String) throws -> Tensor {
    guard let s = owner[name] else { throw ModelError.missingTensor(file: path, name: name) }
    return try s.loadTensor(name)
  }
}

extension DecodingError {
  var fieldPath: String {
    switch self {
    case .keyNotFound(let key, let ctx):
      return (ctx.codingPath + [key]).map(\.stringValue).joined(separator: ".")
    case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx), .dataCorrupted(let ctx):
      return ctx.codingPath.map(\.stringValue).joined(separator: ".")
    @unknown default: return "?"
    }
  }

  var shortDescription: String {
    switch self {
    case .keyNotFound: return "required key is missing"
    case .typeMismatch(let type, _): return "expected \(type)"
    case .valueNotFound(let type, _): return "expected \(type), found null"
    case .dataCorrupted(let ctx): return ctx.debugDescription
    @unknown default: return "invalid"
    }
  }
}
