// SAELens export: for every architecture and kind, the exported dictionary on raw activations equals
// the trained one on scaled activations divided by the output scale (reconstructions and the set of
// active latents; latents scaled by the fold factors), topk rows come out unit-norm, thresholds fold as
// documented, cfg.json carries the promised fields, sparsity.safetensors holds log10(freq + 1e-10),
// and the importer reads back exactly what was written. The exporter's formulas are checked against
// TrainedDictionary's naive reference of the training semantics, not against themselves.
// With LANTERN_SAELENS_CHECK_DIR set, the exports and their check_*.npy files are left there for
// Scripts/saelens/check_load.py (the real sae_lens); otherwise a scratch directory is used.

import Foundation
import LanternDictionaries
import LanternFormats
import LanternTensor
import Testing

/// A random trained dictionary; thresholds are set from `x` (scaled inputs) so about a third fire.
func makeTrained(
  _ architecture: Architecture, _ kind: DictionaryKind, dIn: Int = 6, dOut: Int = 5, dSAE: Int = 12,
  k: Int = 3,
  hooks: Int = 2, unitRows: Bool = false, scaledSelection: Bool = false, seed: UInt64 = 1
) -> (TrainedDictionary, rawInput: Tensor) {
  var rng = SeededRandom(seed: seed)
  let n = kind == .crosscoder ? hooks : 1
  let dOut = (kind == .sae || kind == .crosscoder) ? dIn : dOut
  let inWidth = n * dIn
  let outWidth = n * dOut
  func normal(_ shape: [Int], _ scale: Float) -> Tensor {
    let t = Tensor(shape: shape)
    for i in 0..<t.count { t.pointer[i] = rng.nextNormal() * scale }
    return t
  }
  let encoder = normal([dSAE, inWidth], 1 / Float(inWidth).squareRoot())
  let bEnc = normal([dSAE], 0.1)
  let wDec = normal([dSAE, outWidth], 1)
  for i in 0..<dSAE {
    var norm: Float = 0
    for j in 0..<outWidth { norm += wDec.pointer[i * outWidth + j] * wDec.pointer[i * outWidth + j] }
    let target: Float = unitRows ? 1 : 0.5 + 1.5 * rng.nextFloat()
    for j in 0..<outWidth { wDec.pointer[i * outWidth + j] *= target / norm.squareRoot() }
  }
  let bDec = normal([outWidth], 0.3)
  let sIn: [Float] = (0..<n).map { 0.5 + Float($0) * 1.75 + 1.25 }
  let sOut: [Float] = kind == .transcoder || kind == .skipTranscoder ? [0.4] : sIn
  var t = TrainedDictionary(
    architecture: architecture, kind: kind, hooks: n, dIn: dIn, dOut: dOut, dSAE: dSAE,
    encoderWeight: encoder,
    bEnc: bEnc, wDec: wDec, bDec: bDec, wSkip: kind == .skipTranscoder ? normal([dOut, dIn], 0.2) : nil,
    k: architecture == .relu || architecture == .jumprelu ? nil : k, inputScales: sIn, outputScales: sOut,
    selectionScaledByDecoderNorm: scaledSelection)
  let raw = normal([16, inWidth], 1)
  // Pre-activations and selection scores on the scaled inputs, through the relu reference.
  var relu = t
  relu.architecture = .relu
  relu.k = nil
  let pre = relu.referenceEncode(scaled(raw, sIn, width: dIn))
  let norms = t.decoderNorms()
  var scores: [Float] = []
  for r in 0..<16 {
    for i in 0..<dSAE where pre.pointer[r * dSAE + i] > 0 {
      scores.append(pre.pointer[r * dSAE + i] * (scaledSelection ? norms[i] : 1))
    }
  }
  scores.sort()
  // Thresholds halfway between two observed scores: none sits on a boundary that rounding could cross.
  let between: (Int) -> Float = { m in
    (scores[m % (scores.count - 1)] + scores[m % (scores.count - 1) + 1]) / 2
  }
  switch architecture {
  case .batchtopk, .matryoshka: t.batchTopKThreshold = between(scores.count / 3)
  case .jumprelu:
    let th = Tensor(shape: [dSAE])
    for i in 0..<dSAE { th.pointer[i] = logf(between(scores.count / 4 + i * 5)) }
    t.logThreshold = th
  case .relu, .topk: break
  }
  return (t, raw)
}

/// x [B, n·d] with hook j's block multiplied by scales[j].
func scaled(_ x: Tensor, _ scales: [Float], width d: Int) -> Tensor {
  let out = Tensor(shape: x.shape)
  for e in 0..<x.count { out.pointer[e] = x.pointer[e] * scales[(e % (scales.count * d)) / d] }
  return out
}

/// What the trained dictionary gives on raw x: ŷ(s_in·x)/s_out and the latents.
func trainedOnRaw(_ t: TrainedDictionary, _ raw: Tensor) -> (latents: Tensor, output: Tensor) {
  let xs = scaled(raw, t.inputScales, width: t.dIn)
  let f = t.referenceEncode(xs)
  let ys = t.referenceDecode(f, input: t.kind == .skipTranscoder ? xs : nil)
  return (f, scaled(ys, t.outputScales.map { 1 / $0 }, width: t.dOut))
}

func maxAbs(_ t: Tensor) -> Float { (0..<t.count).map { abs(t.pointer[$0]) }.max() ?? 0 }

func expectClose(_ a: Tensor, _ b: Tensor, _ what: String, relative: Float = 2e-5) {
  #expect(a.shape == b.shape, "\(what)")
  let scale = max(maxAbs(a), maxAbs(b), 1e-6)
  var worst: Float = 0
  for i in 0..<min(a.count, b.count) { worst = max(worst, abs(a.pointer[i] - b.pointer[i])) }
  #expect(worst <= relative * scale, "\(what): max |Δ| \(worst) vs scale \(scale)")
}

/// Every (architecture, kind) and the topk/batchtopk selection variants.
let exportCases: [(Architecture, DictionaryKind, unitRows: Bool, scaledSelection: Bool)] =
  Architecture.allCases.flatMap { arch in
    DictionaryKind.allCases.flatMap { kind -> [(Architecture, DictionaryKind, Bool, Bool)] in
      switch arch {
      case .topk: return [(arch, kind, true, false), (arch, kind, false, true), (arch, kind, false, false)]
      case .batchtopk: return [(arch, kind, false, false), (arch, kind, false, true)]
      default: return [(arch, kind, false, false)]
      }
    }
  }

@Suite struct StorageExportTests {
  @Test func exportedOnRawEqualsTrainedOnScaled() throws {
    for (arch, kind, unit, scaledSel) in exportCases {
      let label = "\(arch.rawValue)/\(kind.rawValue) unit \(unit) scaled \(scaledSel)"
      let (t, raw) = makeTrained(arch, kind, unitRows: unit, scaledSelection: scaledSel)
      let folded = try DictionaryExporter.fold(t)
      let d = folded.dictionary
      let expected = trainedOnRaw(t, raw)
      let f = d.referenceEncode(raw)
      let y = d.referenceDecode(f, input: kind == .skipTranscoder ? raw : nil)
      expectClose(y, expected.output, "\(label) reconstruction")
      let c = folded.latentScales
      var same = true
      let wantLatents = Tensor(shape: f.shape)
      for e in 0..<f.count {
        same = same && ((f.pointer[e] != 0) == (expected.latents.pointer[e] != 0))
        wantLatents.pointer[e] = expected.latents.pointer[e] * c[e % t.dSAE]
      }
      #expect(same, "\(label): the set of active latents changed")
      expectClose(f, wantLatents, "\(label) latents")
      #expect(d.architecture == ExportedArchitecture.forTraining(arch, kind: kind))
      // TopK and BatchTopK exports of one hook have unit decoder rows, unless the fold would change the
      // top-k set (raw selection on non-unit rows), which is exported unfolded instead.
      let expectFolded =
        d.hooks == 1 && (arch == .batchtopk || arch == .matryoshka || (arch == .topk && (unit || scaledSel)))
      #expect(
        folded.decoderNormsFolded == expectFolded || (kind == .crosscoder && arch == .topk && scaledSel),
        "\(label)")
      if expectFolded {
        let width = d.dOut
        for i in 0..<d.dSAE {
          var norm: Float = 0
          for j in 0..<width { norm += d.wDec.pointer[i * width + j] * d.wDec.pointer[i * width + j] }
          #expect(abs(norm.squareRoot() - 1) < 1e-5, "\(label) row \(i) norm \(norm.squareRoot())")
        }
      }
    }
  }

  @Test func writeThenImportRoundTrips() throws {
    let dir = scratchDirectory("export-roundtrip")
    defer { try? FileManager.default.removeItem(at: dir) }
    for (n, (arch, kind, unit, scaledSel)) in exportCases.enumerated() {
      let (t, raw) = makeTrained(arch, kind, unitRows: unit, scaledSelection: scaledSel, seed: UInt64(n + 10))
      let url = dir.appendingPathComponent("case-\(n)/final")
      let freq = Tensor(shape: [t.dSAE])
      for i in 0..<t.dSAE { freq.pointer[i] = i == 0 ? 0 : Float(i) / 100 }
      let written = try DictionaryExporter.write(
        t, metadata: sampleMetadata(kind, hooks: t.hooks), firingFrequency: freq, to: url)
      // Writing again replaces the directory atomically (no temporaries left beside it).
      try DictionaryExporter.write(
        t, metadata: sampleMetadata(kind, hooks: t.hooks), firingFrequency: freq, to: url)
      #expect(
        try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path) == ["final"]
      )
      let imported = try DictionaryImporter.read(url)
      let d = imported.dictionary
      #expect(
        d.architecture == written.architecture && d.k == written.k
          && d.applyBDecToInput == written.applyBDecToInput)
      for (a, b) in [
        (d.wEnc, written.wEnc), (d.bEnc, written.bEnc), (d.wDec, written.wDec), (d.bDec, written.bDec),
      ] {
        #expect(a.shape == b.shape && bytes(a) == bytes(b), "case \(n)")
      }
      #expect(d.wSkip.map(bytes) == written.wSkip.map(bytes))
      #expect(d.threshold.map(bytes) == written.threshold.map(bytes))
      #expect(imported.trainingArchitecture == arch.rawValue)
      #expect(imported.hookNames == sampleMetadata(kind, hooks: t.hooks).hookNames)
      let sparsity = try #require(imported.sparsity)
      for i in 0..<t.dSAE {
        #expect(sparsity.pointer[i] == Float(log10(Double(freq.pointer[i]) + 1e-10)))
      }
      // Back in training layout (unit scales), the imported dictionary computes the same outputs.
      let back = d.trainingLayout()
      try back.validate(path: url.path)
      if back.architecture != .jumprelu {  // exp(log θ) may move a threshold by an ulp
        let again = trainedOnRaw(back, raw)
        expectClose(
          again.output, d.referenceDecode(d.referenceEncode(raw), input: kind == .skipTranscoder ? raw : nil),
          "case \(n) import")
      }
    }
  }

  @Test func cfgCarriesTheMetadataAndFlags() throws {
    let dir = scratchDirectory("export-cfg")
    defer { try? FileManager.default.removeItem(at: dir) }
    let (t, _) = makeTrained(.batchtopk, .transcoder)
    let url = dir.appendingPathComponent("final")
    try DictionaryExporter.write(t, metadata: sampleMetadata(.transcoder, hooks: 1), to: url)
    let cfg = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: url.appendingPathComponent("cfg.json")))
        as? [String: Any])
    #expect(cfg["architecture"] as? String == "jumprelu_transcoder")
    #expect(cfg["apply_b_dec_to_input"] as? Bool == false)
    #expect(cfg["d_out"] as? Int == 5 && cfg["d_in"] as? Int == 6 && cfg["d_sae"] as? Int == 12)
    #expect(cfg["normalize_activations"] as? String == "none" && cfg["dtype"] as? String == "float32")
    let meta = try #require(cfg["metadata"] as? [String: Any])
    #expect(meta["sae_lens_version"] as? String == "6.54.12")
    #expect(meta["lantern_version"] as? String == "0.1.0-test")
    #expect(meta["hook_name"] as? String == "blocks.1.ln2.hook_normalized")
    #expect(meta["hook_name_out"] as? String == "blocks.1.hook_mlp_out")
    #expect(meta["model_name"] as? String == "tiny-llama" && meta["context_size"] as? Int == 32)
    #expect(meta["training_architecture"] as? String == "batchtopk")
    let details = try #require(meta["training_architecture_details"] as? [String: Any])
    #expect(details["k"] as? Int == 3 && details["lr"] as? String == "0.0003")
    #expect((details["batchtopk_threshold"] as? Double).map(Float.init) == t.batchTopKThreshold)
    #expect(!FileManager.default.fileExists(atPath: url.appendingPathComponent("sparsity.safetensors").path))
    // Bad input is refused with a named error, never written.
    var broken = t
    broken.batchTopKThreshold = nil
    #expect(throws: DictionaryStorageError.self) {
      try DictionaryExporter.write(broken, metadata: sampleMetadata(.transcoder, hooks: 1), to: url)
    }
    #expect(throws: DictionaryStorageError.self) {
      try DictionaryExporter.write(t, metadata: sampleMetadata(.crosscoder, hooks: 2), to: url)
    }
  }

  @Test func writesEveryArchitectureForTheSAELensCheck() throws {
    let env = ProcessInfo.processInfo.environment["LANTERN_SAELENS_CHECK_DIR"]
    let root = env.map { URL(fileURLWithPath: $0) } ?? scratchDirectory("export-check")
    defer { if env == nil { try? FileManager.default.removeItem(at: root) } }
    for (n, (arch, kind, unit, scaledSel)) in exportCases.enumerated() {
      let (t, raw) = makeTrained(
        arch, kind, dIn: 8, dOut: 7, dSAE: 32, k: 4, unitRows: unit, scaledSelection: scaledSel,
        seed: UInt64(100 + n))
      let name =
        "\(n)-\(arch.rawValue)-\(kind.rawValue)" + (unit ? "-unit" : "") + (scaledSel ? "-scaled" : "")
      let url = root.appendingPathComponent(name)
      let folded = try DictionaryExporter.fold(t)
      try DictionaryExporter.write(t, metadata: sampleMetadata(kind, hooks: t.hooks), to: url)
      // The expected values come from the TRAINING-layout reference, not from the exported weights.
      let expected = trainedOnRaw(t, raw)
      let latents = Tensor(shape: expected.latents.shape)
      for e in 0..<latents.count {
        latents.pointer[e] = expected.latents.pointer[e] * folded.latentScales[e % t.dSAE]
      }
      try NPY.writeFloat32(raw, to: url.appendingPathComponent("check_inputs.npy"))
      try NPY.writeFloat32(latents, to: url.appendingPathComponent("check_features.npy"))
      try NPY.writeFloat32(expected.output, to: url.appendingPathComponent("check_outputs.npy"))
      #expect(try DictionaryImporter.read(url).dictionary.architecture == folded.dictionary.architecture)
    }
  }
}

func sampleMetadata(_ kind: DictionaryKind, hooks: Int) -> ExportMetadata {
  let transcoder = kind == .transcoder || kind == .skipTranscoder
  return ExportMetadata(
    modelName: "tiny-llama",
    hookNames: kind == .crosscoder
      ? (0..<hooks).map { "blocks.\($0).hook_resid_post" }
      : [transcoder ? "blocks.1.ln2.hook_normalized" : "blocks.1.hook_resid_post"],
    hookNameOut: transcoder ? "blocks.1.hook_mlp_out" : nil, contextSize: 32, prependBos: true,
    datasetPath: "Tests/Fixtures/models/corpus.txt", lanternVersion: "0.1.0-test", l0: 3.5,
    numDeadFeatures: 1,
    trainingDetails: ["lr": "0.0003"])
}
