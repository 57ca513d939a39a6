// Initialisation as docs/training.md states it, and settings that cannot work refused by name.

import Foundation
import LanternDictionaries
import LanternTensor
import Testing

@Test(arguments: [Architecture.topk, .relu, .jumprelu])
func initializationFollowsTheStatedRule(_ arch: Architecture) throws {
  var c = DictionaryHyperparameters(architecture: arch, kind: .sae, dIn: 12, dSAE: 40)
  c.k = 4
  let bias = (0..<12).map { Float($0) * 0.5 - 2 }
  let p = try DictionaryParameters.initialized(c, decoderBias: bias, seed: 5)
  #expect(c.decoderInitNorm == (arch == .topk ? 1 : 0.1))
  for s in 0..<40 {
    var sum: Double = 0
    for i in 0..<12 {
      sum += Double(p.decoderWeight.pointer[s * 12 + i] * p.decoderWeight.pointer[s * 12 + i])
    }
    #expect(abs(sum.squareRoot() - Double(c.decoderInitNorm)) < 1e-5)
  }
  #expect(p.encoderWeight.array == p.decoderWeight.array)  // W_enc = W_decᵀ in SAELens orientation
  #expect(p.encoderBias.array.allSatisfy { $0 == 0 })
  #expect(p.decoderBias.array == bias)
  if arch == .jumprelu {
    #expect(p.logThreshold!.array.allSatisfy { abs($0 - log(c.jumpReLUInitialThreshold)) < 1e-7 })
  }
  let wEnc = try #require(p.saeLensTensors()["W_enc"])
  #expect(wEnc.shape == [12, 40])
  #expect(wEnc.pointer[3 * 40 + 7] == p.encoderWeight.pointer[7 * 12 + 3])
  let back = try DictionaryParameters.fromSAELens(p.saeLensTensors(), config: c)
  #expect(back.encoderWeight.array == p.encoderWeight.array)
}

@Test func transcoderInitHasIndependentEncoderRows() throws {
  let c = DictionaryHyperparameters(architecture: .relu, kind: .skipTranscoder, dIn: 10, dOut: 6, dSAE: 20)
  let p = try DictionaryParameters.initialized(c, decoderBias: [Float](repeating: 0, count: 6), seed: 1)
  #expect(p.encoderWeight.shape == [20, 10] && p.decoderWeight.shape == [20, 6])
  #expect(p.skipWeight?.shape == [6, 10] && p.skipWeight!.array.allSatisfy { $0 == 0 })
}

@Test func unworkableSettingsAreRefusedByName() throws {
  func field(_ c: DictionaryHyperparameters) -> String? {
    do {
      try c.validate()
      return nil
    } catch TrainingError.invalidSetting(let field, _) {
      return field
    } catch {
      return "\(error)"
    }
  }
  var c = DictionaryHyperparameters(architecture: .topk, kind: .sae, dIn: 8, dSAE: 16)
  c.k = 16
  #expect(field(c) == "k")
  c = DictionaryHyperparameters(architecture: .matryoshka, kind: .sae, dIn: 8, dSAE: 16)
  c.k = 2
  c.matryoshkaWidths = [8, 4, 16]
  #expect(field(c) == "matryoshka_widths")
  c = DictionaryHyperparameters(architecture: .relu, kind: .sae, dIn: 8, dOut: 6, dSAE: 16)
  #expect(field(c) == "d_out")
  c = DictionaryHyperparameters(architecture: .relu, kind: .crosscoder, dIn: 9, dSAE: 16)
  c.layers = 2
  #expect(field(c) == "layers")
  c = DictionaryHyperparameters(architecture: .relu, kind: .sae, dIn: 8, dSAE: 16)
  c.schedule.decaySteps = 5
  #expect(field(c) == "schedule")
  let model = try DictionaryModel(
    config: DictionaryHyperparameters(architecture: .relu, kind: .transcoder, dIn: 4, dOut: 3, dSAE: 8),
    parameters: DictionaryParameters(
      zerosFor: DictionaryHyperparameters(architecture: .relu, kind: .transcoder, dIn: 4, dOut: 3, dSAE: 8)),
    pool: ThreadPool(threadCount: 1))
  #expect(throws: TrainingError.self) { try model.step(input: Tensor(shape: [2, 4])) }  // no target
  #expect(throws: TrainingError.self) {
    try model.step(input: Tensor(shape: [2, 5]), target: Tensor(shape: [2, 3]))
  }
  let nan = Tensor(shape: [2, 4], values: [.nan, 0, 0, 0, 0, 0, 0, 0])
  #expect(throws: TrainingError.self) { try model.step(input: nan, target: Tensor(shape: [2, 3])) }
  #expect(model.step == 0)
}
