// The backward pass against central finite differences of the total loss (tiny cases, a sample of
// elements of every trained tensor but log_threshold, whose STE gradient is by design not the
// loss's derivative), elements whose perturbation changes the selected latents skipped; and the
// step's determinism for a thread count.

import Foundation
import LanternDictionaries
import LanternTensor
import LanternTestSupport
import Testing

func randomTensor(_ shape: [Int], _ rng: inout SeededRandom, scale: Float = 1, offset: Float = 0) -> Tensor {
  let t = Tensor(shape: shape)
  for i in 0..<t.count { t.pointer[i] = rng.nextNormal() * scale + offset }
  return t
}

struct TinyCase: CustomTestStringConvertible, Sendable {
  let architecture: Architecture
  let kind: DictionaryKind
  var layers = 1
  var testDescription: String { "\(architecture.rawValue)/\(kind.rawValue)" }

  func config() -> DictionaryHyperparameters {
    let dIn = kind == .crosscoder ? 9 : 8
    let dOut = kind == .transcoder || kind == .skipTranscoder ? 6 : dIn
    var c = DictionaryHyperparameters(architecture: architecture, kind: kind, dIn: dIn, dOut: dOut, dSAE: 24)
    c.layers = layers
    c.k = 3
    c.l1Coefficient = 0.3
    c.l0Coefficient = 0.1
    c.jumpReLUInitialThreshold = 0.05
    c.matryoshkaWidths = [6, 14, 24]
    c.auxKCoefficient = 0
    return c
  }
}

let tinyCases = [
  TinyCase(architecture: .relu, kind: .sae), TinyCase(architecture: .relu, kind: .crosscoder, layers: 3),
  TinyCase(architecture: .relu, kind: .transcoder), TinyCase(architecture: .topk, kind: .sae),
  TinyCase(architecture: .topk, kind: .skipTranscoder), TinyCase(architecture: .batchtopk, kind: .sae),
  TinyCase(architecture: .matryoshka, kind: .sae), TinyCase(architecture: .jumprelu, kind: .sae),
  TinyCase(architecture: .jumprelu, kind: .transcoder),
]

/// A tiny model with random (not unit-norm) parameters and a batch of 6 rows.
func tinyModel(_ c: DictionaryHyperparameters, seed: UInt64) throws -> (DictionaryModel, Tensor, Tensor?) {
  var rng = SeededRandom(seed: seed)
  let p = DictionaryParameters(zerosFor: c)
  let fill: [(Tensor, Float, Float)] = [
    (p.encoderWeight, 0.4, 0), (p.encoderBias, 0.1, 0.05), (p.decoderWeight, 0.4, 0), (p.decoderBias, 0.2, 0),
  ]
  for (t, scale, offset) in fill {
    let r = randomTensor(t.shape, &rng, scale: scale, offset: offset)
    t.pointer.update(from: r.pointer, count: t.count)
  }
  if let w = p.skipWeight {
    let r = randomTensor(w.shape, &rng, scale: 0.2)
    w.pointer.update(from: r.pointer, count: w.count)
  }
  if let t = p.logThreshold {
    for i in 0..<t.count { t.pointer[i] = log(0.05) + 0.2 * rng.nextNormal() }
  }
  let model = try DictionaryModel(config: c, parameters: p, pool: ThreadPool(threadCount: 2))
  let x = randomTensor([6, c.dIn], &rng, offset: 0.3)
  let y = c.kind == .transcoder || c.kind == .skipTranscoder ? randomTensor([6, c.dOut], &rng) : nil
  return (model, x, y)
}

/// Central differences of the total loss against the analytic gradient at `elements` of each tensor.
func checkFiniteDifferences(
  _ model: DictionaryModel, _ x: Tensor, _ y: Tensor?, tensors: Set<String>? = nil,
  rowsOf latents: [Int]? = nil, label: String
) throws -> Int {
  let (_, grad) = try model.lossAndGradient(input: x, target: y)
  let base = try model.activations(input: x)
  var checked = 0
  var rng = SeededRandom(seed: 7)
  let h: Float = 1e-2
  for ((name, p), (_, g)) in zip(model.parameters.named, grad.named) where name != "log_threshold" {
    if let tensors, !tensors.contains(name) { continue }
    let perRow = p.shape.count == 2 ? p.shape[1] : 1
    for _ in 0..<12 {
      var i = rng.nextIndex(below: p.count)
      if let latents, name != "b_dec" {
        let row = latents[rng.nextIndex(below: latents.count)]
        i = p.shape.count == 2 ? row * perRow + rng.nextIndex(below: perRow) : row
      }
      let saved = p.pointer[i]
      func loss(at delta: Float) throws -> (Double, [Int32]) {
        p.pointer[i] = saved + delta
        defer { p.pointer[i] = saved }
        let total = try #require(try model.lossAndGradient(input: x, target: y).report.losses["total"])
        return (total, try model.activations(input: x).indices)
      }
      let (plus, selPlus) = try loss(at: h)
      let (minus, selMinus) = try loss(at: -h)
      let (halfPlus, _) = try loss(at: h / 2)
      let (halfMinus, _) = try loss(at: -h / 2)
      guard selPlus == base.indices, selMinus == base.indices else { continue }
      // A selection the activations do not show (AuxK's) may switch inside the window: the loss then
      // jumps and the two step sizes disagree. The loss is quadratic in one element otherwise.
      let half = (halfPlus - halfMinus) / Double(h)
      let fd = (plus - minus) / Double(2 * h)
      guard abs(fd - half) <= 1e-3 * max(abs(fd), 0.05) else { continue }
      let analytic = Double(g.pointer[i])
      #expect(
        abs(fd - analytic) <= 2e-3 * max(abs(analytic), 0.05),
        "\(label) \(name)[\(i)]: finite difference \(fd), analytic \(analytic)")
      checked += 1
    }
  }
  return checked
}

@Test(arguments: tinyCases, [ActivationPath.sparse, .dense])
func gradientMatchesFiniteDifferences(_ tiny: TinyCase, _ path: ActivationPath) throws {
  let (model, x, y) = try tinyModel(tiny.config(), seed: 11)
  model.activationPath = path
  let checked = try checkFiniteDifferences(model, x, y, label: tiny.testDescription)
  #expect(checked >= 30, "\(tiny.testDescription): only \(checked) elements away from selection changes")
}

/// AuxK's gradient: for latents that are dead and not active in the batch the residual target does
/// not depend on their parameters, so the detached-target gradient is the loss's derivative.
@Test(arguments: [Architecture.topk, .batchtopk, .matryoshka])
func auxKGradientMatchesFiniteDifferences(_ arch: Architecture) throws {
  var c = TinyCase(architecture: arch, kind: .sae).config()
  c.auxKCoefficient = 0.5
  c.kAux = 4
  c.deadAfterTokens = 10
  let (model, x, y) = try tinyModel(c, seed: 12)
  let active = Set(try model.activations(input: x).indices.map(Int.init))
  let deadIdle = (0..<c.dSAE).filter { $0 % 2 == 0 && !active.contains($0) }
  var counters = model.tokensSinceFired
  for s in deadIdle { counters[s] = 100 }
  try model.restore(step: 0, tokensSinceFired: counters, topKThreshold: 0)
  #expect(deadIdle.count >= 4)
  let report = try model.lossAndGradient(input: x, target: y).report
  #expect(report.losses["auxk"]! > 0)
  let checked = try checkFiniteDifferences(
    model, x, y, tensors: ["encoder.weight", "b_enc", "W_dec"], rowsOf: deadIdle, label: "auxk \(arch)")
  #expect(checked >= 20)
}

/// Five golden steps: bit-identical twice with 2 threads, and 1 thread agrees to float rounding.
@Test(arguments: ["topk_sae", "relu_crosscoder", "jumprelu_transcoder", "matryoshka_sae"])
func stepIsDeterministicPerThreadCount(_ name: String) throws {
  let golden = try Golden(name)
  let (a, _) = try golden.train(steps: 5, threads: 2)
  let (b, _) = try golden.train(steps: 5, threads: 2)
  let (one, _) = try golden.train(steps: 5, threads: 1)
  for (((n, ta), (_, tb)), (_, t1)) in zip(zip(a.parameters.named, b.parameters.named), one.parameters.named)
  {
    #expect(ta.array == tb.array, "\(name) \(n) differs between two 2-thread runs")
    let (diff, scale) = maxAbsDifference(t1.array, ta.array)
    #expect(diff <= 1e-6 * scale, "\(name) \(n): 1 vs 2 threads differ by \(diff)")
  }
  #expect(a.tokensSinceFired == b.tokensSinceFired && a.tokensSinceFired == one.tokensSinceFired)
  #expect(a.topKThreshold == b.topKThreshold)
}

/// The goldens see AuxK: without it the topk case's step-5 weights move away from the reference.
@Test func goldenDetectsMissingAuxK() throws {
  let golden = try Golden("topk_sae")
  var c = golden.config
  c.auxKCoefficient = 0
  let model = try DictionaryModel(
    config: c, parameters: try golden.initialParameters(), pool: ThreadPool(threadCount: 1))
  for i in 0..<5 {
    let (x, y) = try golden.batch(i)
    try model.step(input: x, target: y)
  }
  let ref = try golden.tensor("step5.W_dec").array
  let (diff, scale) = maxAbsDifference(model.parameters.decoderWeight.array, ref)
  #expect(diff > 1e-3 * scale)
}

/// A model restored from another's state continues exactly as the original does.
@Test(arguments: ["topk_sae", "batchtopk_sae", "jumprelu_sae"])
func restoredStateContinuesBitForBit(_ name: String) throws {
  let golden = try Golden(name)
  let (whole, _) = try golden.train(steps: 5, threads: 2)
  let (first, _) = try golden.train(steps: 3, threads: 2)
  let resumed = try DictionaryModel(
    config: golden.config, parameters: first.parameters.copy(), pool: ThreadPool(threadCount: 2))
  for ((_, dst), (_, src)) in zip(resumed.firstMoments.named, first.firstMoments.named) {
    dst.pointer.update(from: src.pointer, count: src.count)
  }
  for ((_, dst), (_, src)) in zip(resumed.secondMoments.named, first.secondMoments.named) {
    dst.pointer.update(from: src.pointer, count: src.count)
  }
  try resumed.restore(
    step: first.step, tokensSinceFired: first.tokensSinceFired, topKThreshold: first.topKThreshold)
  for i in 3..<5 {
    let (x, y) = try golden.batch(i)
    try resumed.step(input: x, target: y)
  }
  for ((n, a), (_, b)) in zip(whole.parameters.named, resumed.parameters.named) {
    #expect(a.array == b.array, "\(name) \(n) differs after resume")
  }
  #expect(whole.tokensSinceFired == resumed.tokensSinceFired && whole.topKThreshold == resumed.topKThreshold)
  #expect(throws: TrainingError.self) {
    try resumed.restore(step: 1, tokensSinceFired: [0], topKThreshold: 0)
  }
}
