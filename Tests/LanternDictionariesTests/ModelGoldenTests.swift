// The training step against the PyTorch goldens of Scripts/fixtures/make_dictionary_fixtures.py:
// from each fixture's `init.*`, on its five batches, the loss terms of every step and every
// parameter and counter after steps 1 and 5 agree to ≤ 1e-5 relative per tensor
// (max|Δ| / max|ref|).

import Foundation
import LanternDictionaries
import LanternFormats
import LanternTensor
import LanternTestSupport
import Testing

extension Architecture {
  var hasBatchThreshold: Bool { self == .batchtopk || self == .matryoshka }
}

/// The golden cases (one file each under Tests/Fixtures/dictionaries/).
let goldenCases = [
  "topk_sae", "relu_sae", "batchtopk_sae", "jumprelu_sae", "matryoshka_sae", "topk_transcoder",
  "relu_transcoder", "jumprelu_transcoder", "topk_skip_transcoder", "relu_crosscoder", "topk_crosscoder",
  "relu_sae_schedule", "topk_sae_schedule",
]

/// A fixture: its configuration, initial parameters and batches.
struct Golden {
  let file: SafetensorsFile
  let config: DictionaryHyperparameters

  init(_ name: String) throws {
    file = try SafetensorsFile(path: Fixtures.url("dictionaries/\(name).safetensors").path)
    let json = try #require(file.metadata["config"])
    let raw = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    config = try Golden.parse(raw)
  }

  static func parse(_ j: [String: Any]) throws -> DictionaryHyperparameters {
    func int(_ k: String) throws -> Int { try #require(j[k] as? Int, "config key \(k)") }
    func num(_ k: String) throws -> Double {
      try #require((j[k] as? NSNumber)?.doubleValue, "config key \(k)")
    }
    func str(_ k: String) throws -> String { try #require(j[k] as? String, "config key \(k)") }
    var c = DictionaryHyperparameters(
      architecture: try #require(Architecture(rawValue: try str("architecture"))),
      kind: try #require(DictionaryKind(rawValue: try str("kind"))), dIn: try int("d_in"),
      dOut: try int("d_out"), dSAE: try int("d_sae"))
    c.layers = try int("n_layers")
    c.k = try int("k")
    c.kAux = try int("k_aux")
    c.auxKCoefficient = Float(try num("auxk_coefficient"))
    c.l1Coefficient = Float(try num("l1_coefficient"))
    c.l1WarmUpSteps = try int("l1_warm_up_steps")
    c.l0Coefficient = Float(try num("l0_coefficient"))
    c.l0WarmUpSteps = try int("l0_warm_up_steps")
    c.jumpReLUBandwidth = Float(try num("jumprelu_bandwidth"))
    c.jumpReLUInitialThreshold = Float(try num("jumprelu_init_threshold"))
    c.matryoshkaWidths = try #require(j["matryoshka_widths"] as? [Int])
    c.batchTopKThresholdRate = try num("topk_threshold_lr")
    c.deadAfterTokens = try int("dead_after_tokens")
    c.decoderInitNorm = Float(try num("decoder_init_norm"))
    c.adam.learningRate = try num("lr")
    c.adam.beta1 = try num("adam_beta1")
    c.adam.beta2 = try num("adam_beta2")
    c.adam.epsilon = try num("adam_eps")
    c.schedule.shape = try #require(ScheduleSettings.Shape(rawValue: try str("lr_schedule")))
    c.schedule.warmUpSteps = try int("lr_warm_up_steps")
    c.schedule.decaySteps = try int("lr_decay_steps")
    c.schedule.endLearningRate = try num("lr_end")
    c.schedule.totalSteps = try int("total_steps")
    c.clipNorm = Float(try num("clip_norm"))
    #expect(try #require(j["apply_b_dec_to_input"] as? Bool) == c.appliesDecoderBiasToInput)
    #expect(try #require(j["unit_norm_decoder"] as? Bool) == c.unitNormDecoder)
    return c
  }

  func tensor(_ name: String) throws -> Tensor { try file.loadTensor(name) }

  func initialParameters() throws -> DictionaryParameters {
    var named: [String: Tensor] = [:]
    for n in file.tensorNames where n.hasPrefix("init.") { named[String(n.dropFirst(5))] = try tensor(n) }
    return try DictionaryParameters.fromSAELens(named, config: config)
  }

  func batch(_ i: Int) throws -> (x: Tensor, y: Tensor?) {
    let y = file.tensorNames.contains("batch.\(i).y") ? try tensor("batch.\(i).y") : nil
    return (try tensor("batch.\(i).x"), y)
  }

  /// Runs `steps` steps from init with a pool of `threads`; returns the model and the reports.
  func train(steps: Int, threads: Int, path: ActivationPath = .automatic) throws -> (
    DictionaryModel, [StepReport]
  ) {
    let model = try DictionaryModel(
      config: config, parameters: try initialParameters(), pool: ThreadPool(threadCount: threads))
    model.activationPath = path
    var reports: [StepReport] = []
    for i in 0..<steps {
      let (x, y) = try batch(i)
      reports.append(try model.step(input: x, target: y))
    }
    return (model, reports)
  }

  /// Every parameter and counter against `step<N>.*`; returns the worst relative difference.
  func compareState(_ model: DictionaryModel, step n: Int, tolerance: Float) throws {
    let mine = model.parameters.saeLensTensors()
    var compared = 0
    for name in file.tensorNames where name.hasPrefix("step\(n).") {
      let key = String(name.dropFirst("step\(n).".count))
      let ref = try tensor(name).array
      let got: [Float]
      switch key {
      case "tokens_since_fired": got = model.tokensSinceFired.map { Float($0) }
      case "topk_threshold": got = [Float(model.topKThreshold)]
      default: got = try #require(mine[key], "no parameter \(key)").array
      }
      let (diff, scale) = maxAbsDifference(got, ref)
      #expect(diff <= tolerance * scale, "\(name): max|Δ| \(diff), max|ref| \(scale)")
      if ProcessInfo.processInfo.environment["LANTERN_GOLDEN_VERBOSE"] != nil {
        print("\(name): relative \(scale > 0 ? diff / scale : diff)")
      }
      compared += 1
    }
    #expect(
      compared == model.parameters.named.count + 1 + (model.config.architecture.hasBatchThreshold ? 1 : 0))
  }
}

@Test(arguments: goldenCases)
func stepMatchesPyTorchGolden(_ name: String) throws {
  let golden = try Golden(name)
  let (model, reports) = try golden.train(steps: 1, threads: 2)
  try golden.compareState(model, step: 1, tolerance: 1e-5)
  for i in 1..<5 {
    let (x, y) = try golden.batch(i)
    _ = try model.step(input: x, target: y)
  }
  _ = reports
  try golden.compareState(model, step: 5, tolerance: 1e-5)
}

@Test(arguments: goldenCases)
func lossTermsMatchPyTorchGolden(_ name: String) throws {
  let golden = try Golden(name)
  let (_, reports) = try golden.train(steps: 5, threads: 2)
  let terms = golden.file.tensorNames.filter { $0.hasPrefix("loss.") }
  #expect(!terms.isEmpty)
  for term in terms {
    let key = String(term.dropFirst(5))
    let ref = try golden.tensor(term).array
    let got = try reports.map { Float(try #require($0.losses[key], "no loss term \(key)")) }
    let (diff, scale) = maxAbsDifference(got, ref)
    #expect(diff <= 1e-5 * scale, "\(name) \(term): got \(got), ref \(ref)")
  }
  for report in reports {
    #expect(Set(report.losses.keys) == Set(terms.map { String($0.dropFirst(5)) }), "\(name) loss term names")
  }
}

/// relu and jumprelu have two implementations (per-entry kernels and GEMMs on dense activations);
/// each alone reproduces the goldens.
@Test(
  arguments: [
    "relu_sae", "jumprelu_sae", "relu_transcoder", "jumprelu_transcoder", "relu_crosscoder",
    "relu_sae_schedule",
  ], [ActivationPath.sparse, .dense])
func bothActivationPathsMatchPyTorchGolden(_ name: String, _ path: ActivationPath) throws {
  let golden = try Golden(name)
  let (model, reports) = try golden.train(steps: 5, threads: 2, path: path)
  try golden.compareState(model, step: 5, tolerance: 1e-5)
  let ref = try golden.tensor("loss.total").array
  let (diff, scale) = maxAbsDifference(reports.map { Float($0.losses["total"]!) }, ref)
  #expect(diff <= 1e-5 * scale)
}

/// The schedule fixtures exercise clipping: some step's gradient norm exceeds the clip norm.
@Test(arguments: ["relu_sae_schedule", "topk_sae_schedule"])
func scheduleGoldensClip(_ name: String) throws {
  let golden = try Golden(name)
  #expect(
    golden.config.clipNorm > 0 && golden.config.schedule.warmUpSteps > 0
      && golden.config.schedule.decaySteps > 0)
  let (_, reports) = try golden.train(steps: 5, threads: 1)
  #expect(reports.contains { $0.gradientNorm > Double(golden.config.clipNorm) })
  #expect(Set(reports.map(\.learningRate)).count >= 2)
}

/// Phase timings are reported only when asked for, for every phase.
@Test func timingsAreReportedOnRequest() throws {
  let golden = try Golden("topk_sae")
  let model = try DictionaryModel(
    config: golden.config, parameters: try golden.initialParameters(), pool: ThreadPool(threadCount: 1))
  let (x, y) = try golden.batch(0)
  #expect(try model.step(input: x, target: y).timings == nil)
  model.recordsTimings = true
  let t = try #require(try model.step(input: x, target: y).timings)
  #expect([t.encode, t.select, t.decode, t.backward, t.update].allSatisfy { $0 >= 0 })
}
