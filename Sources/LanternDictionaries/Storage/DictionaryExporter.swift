// Export of a trained dictionary to a SAELens v6 directory (`DIR/final/`):
//   cfg.json                  SAELens config (architecture, sizes, dtype, flags, metadata)
//   sae_weights.safetensors   exactly the tensors of the architecture (SAELensDictionary.expectedShapes)
//   sparsity.safetensors      "sparsity" [S] = log10(firing frequency + 1e-10), when frequencies are given
//
// Folding (derivation in docs/dictionary-format.md). Training saw s_in·x and reconstructed s_out·y, so
// on raw x, with c_i a positive per-latent factor moved from the decoder into the encoder:
//   W_enc'[j·d_in + a, i] = encoderWeight[i, j·d_in + a]·s_in,j·c_i     b_enc'_i = b_enc,i·c_i
//   W_dec'[i, j·d_out + b] = W_dec[i, j·d_out + b] / (s_out,j·c_i)      b_dec'   = b_dec / s_out
//   W_skip' = W_skip·s_in/s_out;   h'_i = c_i·h_i, f'_i = c_i·f_i, so exported(x) = trained(s·x)/s_out.
//   (with b_dec subtracted from the input, s_in = s_out makes (x − b_dec')·W_enc' = (s·x − b_dec)·W·c.)
// c_i = ‖W_dec'_i‖ before the fold (unit decoder rows after it) for topk (when the fold keeps the top-k
// set: selection on h·‖W_dec‖, or decoder rows already unit-norm) and for batchtopk / matryoshka; 1
// otherwise, and for crosscoders (whose topk with norm-scaled selection folds by the trained norm).
// Thresholds: jumprelu exp(log θ_i); batchtopk θ·c_i / (‖W_dec,i‖ if the selection is norm-scaled, else 1).
// The directory is written as `<final>.tmp-<16 hex>` beside it, fsynced, and renamed; temporaries of
// that form left by a writer that was killed are removed first (one writer per directory is assumed).

import Foundation
import LanternFormats
import LanternShards
import LanternTensor

/// What the caller knows about where the dictionary's activations came from (cfg.json "metadata").
public struct ExportMetadata: Sendable {
  public var modelName: String
  public var modelClassName: String
  /// The hook(s) read, TransformerLens names; a crosscoder lists all of them in order.
  public var hookNames: [String]
  /// The hook a transcoder reconstructs.
  public var hookNameOut: String?
  public var contextSize: Int
  public var prependBos: Bool
  public var datasetPath: String
  public var excludeSpecialTokens: Bool
  /// SAELens's `sequence_separator_token` ("bos", "eos", "sep", a token id as text, or nil for none).
  public var sequenceSeparatorToken: String?
  public var disableConcatSequences: Bool
  /// Lantern's version (written as metadata.lantern_version; SAELens's version gate reads another key).
  public var lanternVersion: String
  /// Evaluation results SAELens writes after training, when known.
  public var l0: Double?
  public var numDeadFeatures: Int?
  /// Further training settings (the spec's fields), under metadata.training_architecture_details.
  public var trainingDetails: [String: String]

  public init(
    modelName: String, modelClassName: String = "HookedTransformer", hookNames: [String],
    hookNameOut: String? = nil, contextSize: Int, prependBos: Bool, datasetPath: String,
    excludeSpecialTokens: Bool = true, sequenceSeparatorToken: String? = nil,
    disableConcatSequences: Bool = false,
    lanternVersion: String,
    l0: Double? = nil, numDeadFeatures: Int? = nil, trainingDetails: [String: String] = [:]
  ) {
    self.modelName = modelName
    self.modelClassName = modelClassName
    self.hookNames = hookNames
    self.hookNameOut = hookNameOut
    self.contextSize = contextSize
    self.prependBos = prependBos
    self.datasetPath = datasetPath
    self.excludeSpecialTokens = excludeSpecialTokens
    self.sequenceSeparatorToken = sequenceSeparatorToken
    self.disableConcatSequences = disableConcatSequences
    self.lanternVersion = lanternVersion
    self.l0 = l0
    self.numDeadFeatures = numDeadFeatures
    self.trainingDetails = trainingDetails
  }
}

/// The result of folding a trained dictionary for export.
public struct FoldedDictionary: @unchecked Sendable {
  public let dictionary: SAELensDictionary
  /// Whether decoder-row norms were moved into the encoder (topk, batchtopk, matryoshka).
  public let decoderNormsFolded: Bool
  /// c_i per latent: exported activation = c_i · trained activation (all 1 when nothing was folded).
  public let latentScales: [Float]
}

/// Folds and writes trained dictionaries as SAELens v6 directories.
public enum DictionaryExporter {
  /// The SAELens version whose format is written (metadata.sae_lens_version).
  public static let saeLensVersion = "6.54.12"

  /// The inference-layout dictionary on raw activations, with the per-latent factors c_i moved from
  /// the decoder into the encoder (exported latent i = c_i · trained latent i).
  public static func fold(_ t: TrainedDictionary, path: String = "final") throws -> FoldedDictionary {
    try t.validate(path: path)
    let arch = ExportedArchitecture.forTraining(t.architecture, kind: t.kind)
    let n = t.hooks
    let s = t.dSAE
    let inWidth = n * t.dIn
    let outWidth = n * t.dOut
    let trainedNorms = t.decoderNorms()
    // Norms of the scale-folded decoder rows (before the decoder-norm fold).
    var scaledNorms = [Float](repeating: 0, count: s)
    for i in 0..<s {
      var acc: Float = 0
      for j in 0..<n {
        for b in 0..<t.dOut {
          let v = t.wDec.pointer[i * outWidth + j * t.dOut + b] / t.outputScales[j]
          acc += v * v
        }
      }
      scaledNorms[i] = acc.squareRoot()
    }
    var c = [Float](repeating: 1, count: s)
    var folded = false
    switch t.architecture {
    case .topk:
      if n == 1 {
        let unit = trainedNorms.allSatisfy { $0 == 0 || abs($0 - 1) <= 1e-5 }
        folded = t.selectionScaledByDecoderNorm || unit
        if folded { c = scaledNorms }
      } else if t.selectionScaledByDecoderNorm {
        folded = true
        c = trainedNorms
      }
    case .batchtopk, .matryoshka:
      if n == 1 {
        folded = true
        c = scaledNorms
      }
    case .relu, .jumprelu: break
    }
    for i in 0..<s where !(c[i] > 0 && c[i].isFinite) { c[i] = 1 }

    let wEnc = Tensor(shape: n == 1 ? [t.dIn, s] : [n, t.dIn, s])
    for i in 0..<s {
      for j in 0..<n {
        for a in 0..<t.dIn {
          let col = j * t.dIn + a
          wEnc.pointer[col * s + i] = t.encoderWeight.pointer[i * inWidth + col] * t.inputScales[j] * c[i]
        }
      }
    }
    let bEnc = Tensor(shape: [s])
    for i in 0..<s { bEnc.pointer[i] = t.bEnc.pointer[i] * c[i] }
    let wDec = Tensor(shape: n == 1 ? [s, t.dOut] : [s, n, t.dOut])
    let bDec = Tensor(shape: n == 1 ? [t.dOut] : [n, t.dOut])
    for j in 0..<n {
      for b in 0..<t.dOut {
        let col = j * t.dOut + b
        bDec.pointer[col] = t.bDec.pointer[col] / t.outputScales[j]
        for i in 0..<s {
          wDec.pointer[i * outWidth + col] = t.wDec.pointer[i * outWidth + col] / t.outputScales[j] / c[i]
        }
      }
    }
    var wSkip: Tensor?
    if let w = t.wSkip {
      let out = Tensor(shape: w.shape)
      let r = t.inputScales[0] / t.outputScales[0]
      for e in 0..<w.count { out.pointer[e] = w.pointer[e] * r }
      wSkip = out
    }
    var threshold: Tensor?
    switch t.architecture {
    case .jumprelu:
      let th = Tensor(shape: [s])
      for i in 0..<s { th.pointer[i] = expf(t.logThreshold!.pointer[i]) }
      threshold = th
    case .batchtopk, .matryoshka:
      let theta = t.batchTopKThreshold!
      let th = Tensor(shape: [s])
      for i in 0..<s {
        if t.selectionScaledByDecoderNorm {
          th.pointer[i] =
            trainedNorms[i] > 0 ? theta * c[i] / trainedNorms[i] : (theta < 0 ? -.infinity : .infinity)
        } else {
          th.pointer[i] = theta * c[i]
        }
      }
      threshold = th
    case .relu, .topk: break
    }
    let dictionary = SAELensDictionary(
      architecture: arch, hooks: n, dIn: t.dIn, dOut: t.dOut, dSAE: s,
      k: arch.activation == .topk ? t.k : nil, applyBDecToInput: t.applyBDecToInput, wEnc: wEnc, bEnc: bEnc,
      wDec: wDec, bDec: bDec, wSkip: wSkip, threshold: threshold)
    return FoldedDictionary(dictionary: dictionary, decoderNormsFolded: folded, latentScales: c)
  }

  /// Folds `trained` and writes it as a SAELens v6 directory at `directory` (e.g. `DIR/final`),
  /// replacing any previous one. `firingFrequency` [S] (fraction of tokens each latent fired on)
  /// gives sparsity.safetensors. Returns the written dictionary.
  @discardableResult
  public static func write(
    _ trained: TrainedDictionary, metadata: ExportMetadata, firingFrequency: Tensor? = nil, to directory: URL
  ) throws -> SAELensDictionary {
    let result = try fold(trained, path: directory.path)
    let dictionary = result.dictionary
    let folded = result.decoderNormsFolded
    if let freq = firingFrequency, freq.shape != [trained.dSAE] {
      throw DictionaryStorageError(
        directory.path, "firing frequencies have shape \(freq.shape), expected [\(trained.dSAE)]",
        hint: "pass one frequency per latent")
    }
    let expectedHooks = trained.kind == .crosscoder ? trained.hooks : 1
    guard metadata.hookNames.count == expectedHooks else {
      throw DictionaryStorageError(
        directory.path,
        "metadata names \(metadata.hookNames.count) hooks, the dictionary reads \(expectedHooks)",
        hint: "pass the hook names in training order")
    }
    let cfg = try configJSON(dictionary, trained: trained, metadata: metadata, decoderNormsFolded: folded)
    try writeDirectory(at: directory) { tmp in
      try write(cfg, to: tmp.appendingPathComponent("cfg.json"))
      var tensors: [(name: String, tensor: Tensor)] = [
        (ParameterName.wEnc, dictionary.wEnc), (ParameterName.bEnc, dictionary.bEnc),
        (ParameterName.wDec, dictionary.wDec), (ParameterName.bDec, dictionary.bDec),
      ]
      if let w = dictionary.wSkip { tensors.append((ParameterName.wSkip, w)) }
      if let th = dictionary.threshold { tensors.append((ParameterName.threshold, th)) }
      let weights = tmp.appendingPathComponent("sae_weights.safetensors")
      try SafetensorsWriter.write(tensors, to: weights)
      try Durable.fsync(path: weights.path)
      if let freq = firingFrequency {
        let sparsity = Tensor(shape: [trained.dSAE])
        for i in 0..<trained.dSAE { sparsity.pointer[i] = Float(log10(Double(freq.pointer[i]) + 1e-10)) }
        let url = tmp.appendingPathComponent("sparsity.safetensors")
        try SafetensorsWriter.write([(name: "sparsity", tensor: sparsity)], to: url)
        try Durable.fsync(path: url.path)
      }
    }
    return dictionary
  }

  /// cfg.json bytes: SAELens's top-level keys only (others would be dropped on load); Lantern's own
  /// fields go under metadata, which SAELens keeps.
  static func configJSON(
    _ d: SAELensDictionary, trained: TrainedDictionary, metadata m: ExportMetadata, decoderNormsFolded: Bool
  ) throws -> Data {
    var details: [String: Any] = [
      "architecture": trained.architecture.rawValue, "kind": trained.kind.rawValue,
      "input_scales": trained.inputScales.map(Double.init),
      "output_scales": trained.outputScales.map(Double.init),
      "scales_folded": true, "decoder_norms_folded": decoderNormsFolded,
      "selection_scaled_by_decoder_norm": trained.selectionScaledByDecoderNorm,
    ]
    if let k = trained.k { details["k"] = k }
    if let t = trained.batchTopKThreshold { details["batchtopk_threshold"] = Double(t) }
    for (key, value) in m.trainingDetails where details[key] == nil { details[key] = value }
    let separator: Any =
      m.sequenceSeparatorToken.map { token -> Any in Int(token).map { $0 as Any } ?? token } ?? NSNull()
    var meta: [String: Any] = [
      "sae_lens_version": saeLensVersion, "sae_lens_training_version": NSNull(),
      "lantern_version": m.lanternVersion, "model_name": m.modelName, "model_class_name": m.modelClassName,
      "hook_name": m.hookNames.first ?? "", "hook_head_index": NSNull(), "context_size": m.contextSize,
      "prepend_bos": m.prependBos, "seqpos_slice": [NSNull()],
      "model_from_pretrained_kwargs": [String: Any](),
      "dataset_path": m.datasetPath, "exclude_special_tokens": m.excludeSpecialTokens,
      "sequence_separator_token": separator, "disable_concat_sequences": m.disableConcatSequences,
      "training_architecture": trained.architecture.rawValue, "training_architecture_details": details,
    ]
    if trained.kind == .crosscoder { meta["hook_names"] = m.hookNames }
    if let out = m.hookNameOut { meta["hook_name_out"] = out }
    if let l0 = m.l0 { meta["l0"] = l0 }
    if let dead = m.numDeadFeatures { meta["num_dead_features"] = dead }
    var cfg: [String: Any] = [
      "architecture": d.architecture.name, "d_in": d.dIn, "d_sae": d.dSAE, "dtype": "float32",
      "device": "cpu",
      "apply_b_dec_to_input": d.applyBDecToInput, "normalize_activations": "none",
      "reshape_activations": "none",
      "metadata": meta,
    ]
    if d.architecture.kind != .sae { cfg["d_out"] = d.dOut }
    if d.architecture.kind == .crosscoder { cfg["n_hooks"] = d.hooks }
    if d.architecture.activation == .topk {
      cfg["k"] = d.k ?? 0
      cfg["rescale_acts_by_decoder_norm"] = false
    }
    return try JSONSerialization.data(withJSONObject: cfg, options: [.prettyPrinted, .sortedKeys])
  }

  private static func write(_ data: Data, to url: URL) throws {
    do { try data.write(to: url) } catch {
      throw DictionaryStorageError(
        url.path, "cannot write: \(error.localizedDescription)", hint: "check free space and permissions")
    }
    try Durable.fsync(path: url.path)
  }

  /// Writes a directory's files into a temporary sibling, fsyncs it and renames it over `directory`.
  /// Siblings named `<directory>.tmp-<16 hex>` (left by a killed writer) are removed first.
  static func writeDirectory(at directory: URL, _ body: (URL) throws -> Void) throws {
    let fm = FileManager.default
    let parent = directory.deletingLastPathComponent()
    let prefix = directory.lastPathComponent + ".tmp-"
    for name in (try? fm.contentsOfDirectory(atPath: parent.path)) ?? [] where name.hasPrefix(prefix) {
      let suffix = name.dropFirst(prefix.count)
      if suffix.count == 16, suffix.allSatisfy(\.isHexDigit) {
        try? fm.removeItem(at: parent.appendingPathComponent(name))
      }
    }
    var rng = SystemRandomNumberGenerator()
    func sibling() -> URL {
      parent.appendingPathComponent(
        directory.lastPathComponent + String(format: ".tmp-%016llx", rng.next() as UInt64))
    }
    let tmp = sibling()
    do {
      try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
    } catch {
      throw DictionaryStorageError(
        tmp.path, "cannot create: \(error.localizedDescription)", hint: "check the path and permissions")
    }
    do {
      try body(tmp)
      try Durable.fsync(path: tmp.path)
    } catch {
      try? fm.removeItem(at: tmp)
      throw error
    }
    if fm.fileExists(atPath: directory.path) {
      let aside = sibling()
      try Durable.renameAndSync(from: directory, to: aside)
      try Durable.renameAndSync(from: tmp, to: directory)
      try? fm.removeItem(at: aside)
    } else {
      try Durable.renameAndSync(from: tmp, to: directory)
    }
  }
}
