// Import of a SAELens v6 directory that Lantern wrote (or SAELens saved, for the architectures Lantern
// knows): cfg.json and sae_weights.safetensors back into `SAELensDictionary`, and from there into
// training layout (`trainingLayout()`), so tests and the evaluation stage load what was exported.
//
// Checks: cfg.json is a JSON object with `architecture` among ExportedArchitecture.all, dtype
// "float32", positive integer sizes; the weight file holds exactly the architecture's tensors with the
// exact shapes. Left out: dtypes other than float32 (SAELens casts on load; Lantern never writes them),
// and `normalize_activations` other than "none".

import Foundation
import LanternFormats
import LanternTensor

/// A dictionary read back from a `final/` directory.
public struct ImportedDictionary: @unchecked Sendable {
  public var dictionary: SAELensDictionary
  /// metadata.hook_name (or metadata.hook_names for crosscoders).
  public var hookNames: [String]
  public var hookNameOut: String?
  public var modelName: String?
  /// metadata.training_architecture (e.g. "batchtopk" for an export written as jumprelu).
  public var trainingArchitecture: String?
  /// sparsity.safetensors "sparsity" [S], when present.
  public var sparsity: Tensor?
}

/// Reads SAELens v6 directories.
public enum DictionaryImporter {
  /// Reads and validates the directory at `directory`.
  public static func read(_ directory: URL) throws -> ImportedDictionary {
    let cfgURL = directory.appendingPathComponent("cfg.json")
    guard let data = FileManager.default.contents(atPath: cfgURL.path) else {
      throw DictionaryStorageError(
        cfgURL.path, "is missing or unreadable", hint: "export the dictionary again")
    }
    guard let cfg = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
      throw DictionaryStorageError(cfgURL.path, "is not a JSON object", hint: "the file is damaged")
    }
    func bad(_ key: String, _ reason: String) -> DictionaryStorageError {
      DictionaryStorageError(
        cfgURL.path, "key '\(key)' \(reason)", hint: "the file is damaged or not a Lantern export")
    }
    func int(_ key: String) throws -> Int {
      guard let n = cfg[key] as? NSNumber, let v = Int(exactly: n.doubleValue), v >= 1 else {
        throw bad(key, "is missing or not a positive integer")
      }
      return v
    }
    guard let name = cfg["architecture"] as? String else { throw bad("architecture", "is missing") }
    guard let arch = ExportedArchitecture.named(name) else {
      throw bad("architecture", "is \"\(name)\", which Lantern does not read")
    }
    guard (cfg["dtype"] as? String ?? "float32") == "float32" else {
      throw bad("dtype", "is not \"float32\"")
    }
    guard (cfg["normalize_activations"] as? String ?? "none") == "none" else {
      throw bad("normalize_activations", "is not \"none\"")
    }
    let dIn = try int("d_in")
    let dSAE = try int("d_sae")
    let dOut = arch.kind == .sae ? dIn : try int("d_out")
    let hooks = arch.kind == .crosscoder ? try int("n_hooks") : 1
    let k = arch.activation == .topk ? try int("k") : nil
    if arch.activation == .topk, (cfg["rescale_acts_by_decoder_norm"] as? Bool) == true {
      throw bad(
        "rescale_acts_by_decoder_norm", "is true; Lantern reads folded (unit-norm) topk dictionaries only")
    }
    let apply = (cfg["apply_b_dec_to_input"] as? Bool) ?? true
    let meta = cfg["metadata"] as? [String: Any] ?? [:]

    let weightsPath = directory.appendingPathComponent("sae_weights.safetensors").path
    let file = try SafetensorsFile(path: weightsPath)
    let expected = SAELensDictionary.expectedShapes(
      architecture: arch, hooks: hooks, dIn: dIn, dOut: dOut, dSAE: dSAE)
    for name in file.tensorNames where expected[name] == nil {
      throw DictionaryStorageError(
        weightsPath, "tensor '\(name)' is not part of architecture \(arch.name)",
        hint: "the export is damaged")
    }
    var tensors: [String: Tensor] = [:]
    for (name, shape) in expected {
      guard file.tensorNames.contains(name) else {
        throw DictionaryStorageError(
          weightsPath, "tensor '\(name)' is missing", hint: "the export is damaged")
      }
      let info = try file.info(name)
      guard info.shape == shape, info.dtype == .f32 else {
        throw DictionaryStorageError(
          weightsPath, "tensor '\(name)' is \(info.dtype.rawValue) \(info.shape), expected F32 \(shape)",
          hint: "the export does not match its cfg.json")
      }
      tensors[name] = try file.loadTensor(name)
    }
    let dictionary = SAELensDictionary(
      architecture: arch, hooks: hooks, dIn: dIn, dOut: dOut, dSAE: dSAE, k: k, applyBDecToInput: apply,
      wEnc: tensors[ParameterName.wEnc]!, bEnc: tensors[ParameterName.bEnc]!,
      wDec: tensors[ParameterName.wDec]!,
      bDec: tensors[ParameterName.bDec]!, wSkip: tensors[ParameterName.wSkip],
      threshold: tensors[ParameterName.threshold])
    var sparsity: Tensor?
    let sparsityPath = directory.appendingPathComponent("sparsity.safetensors").path
    if FileManager.default.fileExists(atPath: sparsityPath) {
      let s = try SafetensorsFile(path: sparsityPath)
      let t = try s.loadTensor("sparsity")
      guard t.shape == [dSAE] else {
        throw DictionaryStorageError(
          sparsityPath, "tensor 'sparsity' is \(t.shape), expected [\(dSAE)]", hint: "re-export")
      }
      sparsity = t
    }
    let hookNames =
      (meta["hook_names"] as? [String]) ?? ((meta["hook_name"] as? String).map { [$0] } ?? [])
    return ImportedDictionary(
      dictionary: dictionary, hookNames: hookNames, hookNameOut: meta["hook_name_out"] as? String,
      modelName: meta["model_name"] as? String,
      trainingArchitecture: meta["training_architecture"] as? String,
      sparsity: sparsity)
  }
}

extension SAELensDictionary {
  /// The dictionary in training layout with unit scales: `encoderWeight` = W_encᵀ, jumprelu thresholds as
  /// `log_threshold` = log(threshold) (exp(log t) may differ from t in the last bit, so a latent exactly
  /// at its threshold can flip; use `referenceEncode` of this type for exact SAELens semantics).
  public func trainingLayout() -> TrainedDictionary {
    let inWidth = hooks * dIn
    let encoder = Tensor(shape: [dSAE, inWidth])
    for col in 0..<inWidth {
      for i in 0..<dSAE { encoder.pointer[i * inWidth + col] = wEnc.pointer[col * dSAE + i] }
    }
    let architecture: Architecture
    var logThreshold: Tensor?
    switch self.architecture.activation {
    case .relu: architecture = .relu
    case .topk: architecture = .topk
    case .jumprelu:
      architecture = .jumprelu
      let t = Tensor(shape: [dSAE])
      for i in 0..<dSAE { t.pointer[i] = logf(threshold!.pointer[i]) }
      logThreshold = t
    }
    return TrainedDictionary(
      architecture: architecture, kind: self.architecture.kind, hooks: hooks, dIn: dIn, dOut: dOut,
      dSAE: dSAE,
      encoderWeight: encoder, bEnc: bEnc.reshaped([dSAE]), wDec: wDec.reshaped([dSAE, hooks * dOut]),
      bDec: bDec.reshaped([hooks * dOut]), wSkip: wSkip, logThreshold: logThreshold, k: k,
      applyBDecToInput: applyBDecToInput)
  }
}
