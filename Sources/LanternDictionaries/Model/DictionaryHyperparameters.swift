// The hyper-parameters of one dictionary's training: sizes, the sparsity mechanism's settings, the
// optimizer, the learning-rate schedule and clipping; plus the module's training error type.
//
// Every field is part of a run's identity (a resumed run must match it). The exact math each field
// enters is in docs/training.md; defaults follow SAELens 6.54.12 / sparsify 1.3.3 where they agree
// with issue 8 (k_aux = d_out/2, AuxK coefficient 1/32, JumpReLU bandwidth 0.05, BatchTopK
// threshold rate 0.01). Leaves out: how the trainer derives these from the command line.

import LanternKernels

/// Everything that defines a dictionary's training step.
public struct DictionaryHyperparameters: Sendable, Codable, Equatable {
  /// Sparsity mechanism.
  public var architecture: Architecture
  /// What it reads and reconstructs.
  public var kind: DictionaryKind
  /// Input width (n·d_hook for a crosscoder).
  public var dIn: Int
  /// Output width (n·d_hook for a crosscoder; dIn for an SAE).
  public var dOut: Int
  /// Latents S.
  public var dSAE: Int
  /// Hooks of a crosscoder (1 otherwise); the decoder row splits into this many equal layers.
  public var layers = 1
  /// Active latents per row (topk), or per row on average (batchtopk, matryoshka: k·B per batch).
  public var k = 32
  /// AuxK latents per row (default d_out/2).
  public var kAux: Int
  /// AuxK coefficient (0 turns AuxK off).
  public var auxKCoefficient: Float = 1.0 / 32
  /// L1 coefficient λ of `relu` (final value).
  public var l1Coefficient: Float = 1
  /// Steps over which λ rises linearly from 0.
  public var l1WarmUpSteps = 0
  /// L0 coefficient of `jumprelu` (final value).
  public var l0Coefficient: Float = 1
  /// Steps over which the L0 coefficient rises linearly from 0.
  public var l0WarmUpSteps = 0
  /// Width ε of JumpReLU's rectangle kernel.
  public var jumpReLUBandwidth: Float = 0.05
  /// JumpReLU's initial threshold (log_threshold starts at its log).
  public var jumpReLUInitialThreshold: Float = 0.01
  /// Nested prefix widths of `matryoshka`, strictly increasing, the last equal to dSAE.
  public var matryoshkaWidths: [Int] = []
  /// Rate r of the BatchTopK threshold EMA: θ ← (1−r)θ + r·(smallest active value).
  public var batchTopKThresholdRate = 0.01
  /// A latent that has not fired for more than this many tokens is dead (AuxK, metrics).
  public var deadAfterTokens = 10_000_000
  /// Norm of every decoder row at initialisation.
  public var decoderInitNorm: Float
  /// Adam's betas and epsilon (LanternKernels `adamStep`).
  public var adam = AdamHyperparameters()
  /// Base learning rate and its schedule (LanternKernels; SAELens' `get_lr_scheduler`).
  public var schedule = LearningRateSchedule(kind: .constant, lr: 2e-4, trainingSteps: 0, lrEnd: 0)
  /// Global gradient-norm clipping threshold (0: off).
  public var clipNorm: Float = 0

  /// Defaults for an architecture and kind; widths as given.
  public init(architecture: Architecture, kind: DictionaryKind, dIn: Int, dOut: Int? = nil, dSAE: Int) {
    self.architecture = architecture
    self.kind = kind
    self.dIn = dIn
    self.dOut = dOut ?? dIn
    self.dSAE = dSAE
    self.kAux = (dOut ?? dIn) / 2
    self.decoderInitNorm = architecture.hasUnitNormDecoder ? 1 : 0.1
  }

  /// Whether b_dec is subtracted from the input before encoding (sae, crosscoder).
  public var appliesDecoderBiasToInput: Bool { kind == .sae || kind == .crosscoder }
  /// Whether decoder rows are kept at unit norm (topk, batchtopk, matryoshka).
  public var unitNormDecoder: Bool { architecture.hasUnitNormDecoder }
  /// Whether the AuxK loss applies.
  public var usesAuxK: Bool { architecture.hasUnitNormDecoder && auxKCoefficient > 0 }

  /// Throws naming the first field that cannot work.
  public func validate() throws {
    func bad(_ field: String, _ why: String) -> TrainingError {
      .invalidSetting(field: field, reason: why)
    }
    guard dIn > 0, dOut > 0, dSAE > 0 else { throw bad("d_in/d_out/d_sae", "must be positive") }
    guard layers >= 1, dOut % layers == 0, dIn % layers == 0 else {
      throw bad("layers", "\(layers) hooks do not divide d_in \(dIn) / d_out \(dOut)")
    }
    if kind == .sae || kind == .crosscoder, dIn != dOut {
      throw bad("d_out", "an SAE or crosscoder reconstructs its input (d_out \(dOut) ≠ d_in \(dIn))")
    }
    if architecture == .topk || architecture == .batchtopk || architecture == .matryoshka {
      guard k > 0, k < dSAE else { throw bad("k", "\(k) must be in 1..<d_sae (\(dSAE))") }
    }
    if usesAuxK, kAux <= 0 { throw bad("k_aux", "must be positive") }
    if architecture == .matryoshka {
      guard let last = matryoshkaWidths.last, last == dSAE,
        zip(matryoshkaWidths, matryoshkaWidths.dropFirst()).allSatisfy({ $0 < $1 }),
        matryoshkaWidths[0] > 0
      else { throw bad("matryoshka_widths", "\(matryoshkaWidths) must rise strictly to d_sae \(dSAE)") }
    }
    if architecture == .jumprelu {
      guard jumpReLUBandwidth > 0, jumpReLUInitialThreshold > 0 else {
        throw bad("jumprelu", "bandwidth and initial threshold must be positive")
      }
    }
    guard schedule.lr > 0, schedule.lr.isFinite else { throw bad("lr", "must be positive") }
    guard adam.beta1 >= 0, adam.beta1 < 1, adam.beta2 >= 0, adam.beta2 < 1, adam.eps > 0 else {
      throw bad("adam", "betas must be in [0, 1) and eps positive")
    }
    let s = schedule
    guard s.warmUpSteps >= 0, s.decaySteps >= 0 else { throw bad("schedule", "negative step counts") }
    if s.kind == .cosineAnnealing || s.decaySteps > 0 {
      guard s.trainingSteps > s.warmUpSteps + s.decaySteps else {
        throw bad("schedule", "training steps \(s.trainingSteps) must exceed warm-up + decay")
      }
    }
  }
}

extension Architecture {
  /// The topk family keeps unit-norm decoder rows (sparsify's constraint) and uses AuxK.
  public var hasUnitNormDecoder: Bool { self == .topk || self == .batchtopk || self == .matryoshka }
}

/// Errors of dictionary training (settings, shapes, non-finite values).
public enum TrainingError: Error, CustomStringConvertible, Sendable, Equatable {
  /// A hyper-parameter cannot work.
  case invalidSetting(field: String, reason: String)
  /// A tensor handed to the model has the wrong shape.
  case shapeMismatch(tensor: String, expected: [Int], got: [Int])
  /// The loss or a gradient became NaN or infinite at a step.
  case nonFinite(step: Int, what: String)

  public var description: String {
    switch self {
    case .invalidSetting(let field, let reason):
      return "training setting '\(field)': \(reason)\n---> HINT: fix '\(field)' in the training settings"
    case .shapeMismatch(let tensor, let expected, let got):
      return "tensor '\(tensor)' has shape \(got), expected \(expected)\n"
        + "---> HINT: check d_in/d_out/d_sae and the hooks against the data"
    case .nonFinite(let step, let what):
      return "\(what) is not finite at step \(step)\n"
        + "---> HINT: lower the learning rate or set a clip norm; check the inputs for outliers"
    }
  }
}
