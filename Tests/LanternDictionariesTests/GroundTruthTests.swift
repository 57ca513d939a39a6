// Ground truth: dictionaries trained on the synthetic source (sparse features in superposition,
// power-law frequencies, non-negative magnitudes) recover the true feature directions.
//
// The metric is the data engineer's FeatureRecovery.meanMaxCosine (mean over true features of the
// largest cosine to any decoder row; Sharkey et al. 2022). Training goes through the library API the
// trainer uses — DataPlan (shuffled stream), DataPlan.statistics (input scale, b_dec at the mean),
// DictionaryParameters.initialized, DictionaryModel.step — in process, so the whole file stays well
// under 15 s. TopK is held to ≥ 0.9; ReLU and BatchTopK print their figure and are held only to a
// loose sanity floor (the issue asks to report them).

import Foundation
import LanternTensor
import Testing

@testable import LanternDictionaries

/// One ground-truth training setting (every number that decides the result).
struct GroundTruthSetting {
  var features = 64
  var d = 16
  var dSAE = 128
  var meanActive: Float = 3
  var exponent: Float = 0.5
  var k = 3
  var l1: Float = 5
  var batchSize = 256
  var steps = 400
  var learningRate = 1e-2
  var seed: UInt64 = 1
}

/// Trains `architecture` on the synthetic source of `setting`; returns the mean max cosine of the true
/// features to the decoder rows, and the fraction of true features with max cosine ≥ 0.9.
func groundTruthRecovery(_ architecture: Architecture, _ setting: GroundTruthSetting) throws -> (
  meanMaxCosine: Float, recoveredFraction: Float
) {
  let s = setting
  let source = try SyntheticSource(
    SyntheticConfig(
      features: s.features, d: s.d, rows: 1 << 17, exponent: s.exponent, meanActive: s.meanActive,
      magnitude: .uniform(low: 0.5, high: 1.5), noise: 0, seed: s.seed, blockRows: 4096))
  let plan = try DataPlan(
    source: source, split: .none, shuffle: ShuffleConfig(seed: s.seed), filter: .keepAll)
  let stats = try plan.statistics(batchSize: s.batchSize, batches: 4)
  let scale = stats.inputScales[0]
  var h = DictionaryHyperparameters(architecture: architecture, kind: .sae, dIn: s.d, dSAE: s.dSAE)
  h.k = s.k
  h.l1Coefficient = s.l1
  h.adam.learningRate = s.learningRate
  h.schedule.totalSteps = s.steps
  let parameters = try DictionaryParameters.initialized(
    h, decoderBias: stats.inputMean.map { $0 * scale }, seed: s.seed)
  let model = try DictionaryModel(config: h, parameters: parameters, pool: ThreadPool(threadCount: 2))
  let stream = try plan.trainingStream(batchSize: s.batchSize)
  let x = Tensor(shape: [s.batchSize, s.d])
  for _ in 0..<s.steps {
    let batch = try #require(try stream.next())
    TrainingRun.load(batch.inputs, into: x, scales: [scale])
    try model.step(input: x)
  }
  let w = model.parameters.decoderWeight
  let rows = Array(UnsafeBufferPointer(start: w.pointer, count: w.count))
  let cosines = FeatureRecovery.maxCosines(trueDirections: source.directions, decoderRows: rows, d: s.d)
  let mean = cosines.reduce(0, +) / Float(cosines.count)
  let recovered = Float(cosines.filter { $0 >= 0.9 }.count) / Float(cosines.count)
  return (mean, recovered)
}

/// TopK recovers the true features. Setting (GroundTruthSetting defaults): 64 true features in
/// d = 16 (4× superposition), firing probabilities ∝ (f+1)^−0.5 with 3 active per row on average
/// (from 21% of rows for the commonest feature to 2.6% for the rarest), magnitudes uniform in [0.5, 1.5), no noise;
/// d_sae = 128, k = 3 (the true mean L0), AuxK at its defaults, batch 256, 400 Adam steps at lr 1e-2
/// (constant), 2 threads, seed 1 (102,400 rows). Measured: 0.972 (seeds 2 and 3: 0.977, 0.974).
@Test func topKRecoversSyntheticFeaturesInSuperposition() throws {
  let r = try groundTruthRecovery(.topk, GroundTruthSetting())
  print(
    "ground truth topk: mean max cosine \(r.meanMaxCosine), features recovered at ≥ 0.9: \(r.recoveredFraction)"
  )
  #expect(r.meanMaxCosine >= 0.9)
}

/// ReLU (L1 λ = 5, no warm-up) and BatchTopK (k = 3, i.e. k·B over the batch) on the TopK setting:
/// the figure is printed for the report; only a sanity floor of 0.5 is asserted. Measured: relu
/// 0.960, batchtopk 0.812. BatchTopK plateaus there (1,600 steps 0.827, lr 3e-3 0.762, d_sae 64
/// 0.815, k 4 0.805); an independent 60-line PyTorch BatchTopK on the same distribution and setting
/// (unit-norm decoder, projected gradient, Adam) gives 0.957 / 0.814 / 0.821 over three seeds where
/// its TopK gives 0.980 / 0.971 / 0.971: the gap is the architecture's here, not Lantern's.
@Test(arguments: [Architecture.relu, .batchtopk])
func otherArchitecturesRecoverSyntheticFeatures(_ architecture: Architecture) throws {
  let r = try groundTruthRecovery(architecture, GroundTruthSetting())
  print(
    "ground truth \(architecture.rawValue): mean max cosine \(r.meanMaxCosine), "
      + "features recovered at ≥ 0.9: \(r.recoveredFraction)")
  #expect(r.meanMaxCosine >= 0.5)
}
