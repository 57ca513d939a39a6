// A dictionary in SAELens v6 inference layout (what `final/` holds), the table of architecture names,
// and the naive inference reference that the exporter's tests and the Python check compare against.
//
// Layout (legend: n hooks, d_in/d_out per hook, S latents), on RAW activations (scales folded in):
//   n = 1:  W_enc [d_in, S], b_enc [S], W_dec [S, d_out], b_dec [d_out], W_skip [d_out, d_in], threshold [S]
//   n > 1 (crosscoders): W_enc [n, d_in, S], W_dec [S, n, d_out], b_dec [n, d_out]
// Both are row-major, so a crosscoder's tensors are the n = 1 ones over the concatenated width
// (W_enc viewed as [n·d_in, S]); the reference below works on that flat view.
// Semantics (SAELens 6.54.12 encode/decode/forward):
//   h = (x − b_dec·a)·W_enc + b_enc;  relu: f = relu(h);  topk: relu of the k largest h (ties: lower
//   index);  jumprelu: f = relu(h)·1[h > threshold];  decode x̂ = f·W_dec + b_dec;  forward adds x·W_skipᵀ.
// Left out: gated and the other SAELens-only architectures (Lantern never trains them).

import Foundation
import LanternTensor

/// The activation of an exported dictionary.
public enum ExportedActivation: String, Sendable, Equatable {
  case relu, topk, jumprelu
}

/// One `architecture` string of cfg.json and what it means.
public struct ExportedArchitecture: Sendable, Equatable {
  public let name: String
  public let kind: DictionaryKind
  public let activation: ExportedActivation
  /// True for the names `sae_lens.SAE.load_from_disk` 6.54.12 knows.
  public let loadableBySAELens: Bool

  /// Every architecture name Lantern writes.
  public static let all: [ExportedArchitecture] = [
    .init(name: "standard", kind: .sae, activation: .relu, loadableBySAELens: true),
    .init(name: "topk", kind: .sae, activation: .topk, loadableBySAELens: true),
    .init(name: "jumprelu", kind: .sae, activation: .jumprelu, loadableBySAELens: true),
    .init(name: "transcoder", kind: .transcoder, activation: .relu, loadableBySAELens: true),
    .init(name: "skip_transcoder", kind: .skipTranscoder, activation: .relu, loadableBySAELens: true),
    .init(name: "jumprelu_transcoder", kind: .transcoder, activation: .jumprelu, loadableBySAELens: true),
    .init(
      name: "jumprelu_skip_transcoder", kind: .skipTranscoder, activation: .jumprelu, loadableBySAELens: true),
    .init(name: "topk_transcoder", kind: .transcoder, activation: .topk, loadableBySAELens: false),
    .init(name: "topk_skip_transcoder", kind: .skipTranscoder, activation: .topk, loadableBySAELens: false),
    .init(name: "crosscoder", kind: .crosscoder, activation: .relu, loadableBySAELens: false),
    .init(name: "topk_crosscoder", kind: .crosscoder, activation: .topk, loadableBySAELens: false),
    .init(name: "jumprelu_crosscoder", kind: .crosscoder, activation: .jumprelu, loadableBySAELens: false),
  ]

  /// The entry named `name`, if Lantern writes it.
  public static func named(_ name: String) -> ExportedArchitecture? { all.first { $0.name == name } }

  /// The exported form of a trained architecture and kind: batchtopk and matryoshka become jumprelu.
  public static func forTraining(_ architecture: Architecture, kind: DictionaryKind) -> ExportedArchitecture {
    let activation: ExportedActivation
    switch architecture {
    case .relu: activation = .relu
    case .topk: activation = .topk
    case .batchtopk, .matryoshka, .jumprelu: activation = .jumprelu
    }
    return all.first { $0.kind == kind && $0.activation == activation }!
  }
}

/// A dictionary in SAELens v6 inference layout, on raw activations.
public struct SAELensDictionary: @unchecked Sendable {
  public var architecture: ExportedArchitecture
  public var hooks: Int
  public var dIn: Int
  public var dOut: Int
  public var dSAE: Int
  /// topk only.
  public var k: Int?
  public var applyBDecToInput: Bool
  /// [d_in, S], or [n, d_in, S] for crosscoders.
  public var wEnc: Tensor
  /// [S]
  public var bEnc: Tensor
  /// [S, d_out], or [S, n, d_out].
  public var wDec: Tensor
  /// [d_out], or [n, d_out].
  public var bDec: Tensor
  /// [d_out, d_in], skip transcoders.
  public var wSkip: Tensor?
  /// [S], jumprelu activations.
  public var threshold: Tensor?

  public init(
    architecture: ExportedArchitecture, hooks: Int, dIn: Int, dOut: Int, dSAE: Int, k: Int?,
    applyBDecToInput: Bool, wEnc: Tensor, bEnc: Tensor, wDec: Tensor, bDec: Tensor, wSkip: Tensor?,
    threshold: Tensor?
  ) {
    self.architecture = architecture
    self.hooks = hooks
    self.dIn = dIn
    self.dOut = dOut
    self.dSAE = dSAE
    self.k = k
    self.applyBDecToInput = applyBDecToInput
    self.wEnc = wEnc
    self.bEnc = bEnc
    self.wDec = wDec
    self.bDec = bDec
    self.wSkip = wSkip
    self.threshold = threshold
  }

  /// The shapes of every tensor of sae_weights.safetensors, by name.
  public var expectedShapes: [String: [Int]] {
    Self.expectedShapes(architecture: architecture, hooks: hooks, dIn: dIn, dOut: dOut, dSAE: dSAE)
  }

  /// The exact tensor names and shapes of an architecture at the given sizes.
  public static func expectedShapes(
    architecture: ExportedArchitecture, hooks n: Int, dIn: Int, dOut: Int, dSAE: Int
  ) -> [String: [Int]] {
    var shapes: [String: [Int]] = [
      ParameterName.wEnc: n == 1 ? [dIn, dSAE] : [n, dIn, dSAE], ParameterName.bEnc: [dSAE],
      ParameterName.wDec: n == 1 ? [dSAE, dOut] : [dSAE, n, dOut],
      ParameterName.bDec: n == 1 ? [dOut] : [n, dOut],
    ]
    if architecture.kind == .skipTranscoder { shapes[ParameterName.wSkip] = [dOut, dIn] }
    if architecture.activation == .jumprelu { shapes[ParameterName.threshold] = [dSAE] }
    return shapes
  }

  /// Latent activations [B, S] of raw inputs `x` [B, n·d_in] (SAELens `encode`, naive).
  public func referenceEncode(_ x: Tensor) -> Tensor {
    let b = x.shape[0]
    let width = hooks * dIn
    let s = dSAE
    let h = Tensor(shape: [b, s])
    for r in 0..<b {
      for i in 0..<s {
        var acc: Float = bEnc.pointer[i]
        for j in 0..<width {
          let xin = x.pointer[r * width + j] - (applyBDecToInput ? bDec.pointer[j] : 0)
          acc += xin * wEnc.pointer[j * s + i]
        }
        h.pointer[r * s + i] = acc
      }
    }
    let f = Tensor(shape: [b, s])
    for r in 0..<b {
      let row = h.pointer + r * s
      switch architecture.activation {
      case .relu:
        for i in 0..<s { f.pointer[r * s + i] = max(row[i], 0) }
      case .topk:
        let order = (0..<s).sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }
        for i in order.prefix(k ?? 0) { f.pointer[r * s + i] = max(row[i], 0) }
      case .jumprelu:
        for i in 0..<s where row[i] > threshold!.pointer[i] { f.pointer[r * s + i] = max(row[i], 0) }
      }
    }
    return f
  }

  /// Reconstruction [B, n·d_out] of latents `f` [B, S]; with `input` (raw x [B, d_in]) the skip path
  /// is added, as SAELens `forward` does (its `decode` alone does not).
  public func referenceDecode(_ f: Tensor, input x: Tensor? = nil) -> Tensor {
    naiveDecode(f, wDec: wDec, bDec: bDec, wSkip: wSkip, input: x, width: hooks * dOut, dIn: dIn, dSAE: dSAE)
  }
}
