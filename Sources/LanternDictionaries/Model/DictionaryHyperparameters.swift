// The hyper-parameters of one dictionary's training: sizes, the sparsity mechanism's settings, the
// optimizer, the learning-rate schedule and clipping; plus the module's training error type.
//
// Every field is part of a run's identity (a resumed run must match it). The exact math each field
// enters is in docs/training.md; defaults follow SAELens 6.54.12 / sparsify 1.3.3 where they agree
// with issue 8 (k_aux = d_out/2, AuxK coefficient 1/32, JumpReLU bandwidth 0.05, BatchTopK
// threshold rate 0.01). Leaves out: how the trainer derives these from the command line.

import LanternKernels

/// Learning-rate schedule settings (SAELens `get_lr_scheduler`): linear warm-up, a constant or
/// cosine main phase, then a linear decay; evaluated by LanternKernels' `LearningRateSchedule`.
public struct ScheduleSettings: Sendable, Codable, Equatable {
  /// The main phase's shape.
  public enum Shape: String, Sendable, Codable { case constant, cosine }
  /// Main-phase shape.
  public var shape: Shape = .constant
  /// Steps of linear warm-up: lr·(t+1)/W for t < W.
  public var warmUpSteps = 0
  /// Steps of the final linear decay to 0.
  public var decaySteps = 0
  /// Cosine floor (and the start of the final decay after a cosine phase).
  public var endLearningRate = 0.0
  /// Total steps the schedule spans (needed by cosine and the final decay; a constant schedule
  /// without decay needs no length).
  public var totalSteps = 0

  /// Creates a constant schedule.
  public init() {}

  /// The kernels' schedule for base rate `lr`.
  public func schedule(lr: Double) -> LearningRateSchedule {
    LearningRateSchedule(
      kind: shape == .constant ? .constant : .cosineAnnealing, lr: lr, trainingSteps: totalSteps,
      warmUpSteps: warmUpSteps, decaySteps: decaySteps, lrEnd: endLearningRate)
  }
}

/// Adam settings: the base learning rate and torch.optim.Adam's betas and epsilon.
public struct AdamSettings: Sendable, Codable, Equatable {
  /// Base learning rate.
  public var learningRate = 2e-4
  /// First-moment decay.
  public var beta1 = 0.9
  /// Second-moment decay.
  public var beta2 = 0.999
  /// Denominator epsilon.
  public var epsilon = 1e-8
  /// Creates the defaults.
  public init() {}

  /// The kernels' `adamStep` hyper-parameters.
  public var hyperparameters: AdamHyperparameters {
    AdamHyperparameters(beta1: beta1, beta2: beta2, eps: epsilon)
  }
}

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
  /// Adam settings (learning rate, betas, epsilon).
  public var adam = AdamSettings()
  /// Learning-rate schedule.
  public var schedule = ScheduleSettings()

  /// The learning rate of step t (0-based).
  public func learningRate(step t: Int) -> Double { schedule.schedule(lr: adam.learningRate).lr(atStep: t) }
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
    guard adam.learningRate > 0, adam.learningRate.isFinite else { throw bad("lr", "must be positive") }
    guard adam.beta1 >= 0, adam.beta1 < 1, adam.beta2 >= 0, adam.beta2 < 1, adam.epsilon > 0 else {
      throw bad("adam", "betas must be in [0, 1) and eps positive")
    }
    let s = schedule
    guard s.warmUpSteps >= 0, s.decaySteps >= 0 else { throw bad("schedule", "negative step counts") }
    if s.shape == .cosine || s.decaySteps > 0 {
      guard s.totalSteps > s.warmUpSteps + s.decaySteps else {
        throw bad("schedule", "total steps \(s.totalSteps) must exceed warm-up + decay")
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
