// The trainable tensors of a dictionary in training layout, their initialisation, and the conversion
// to and from SAELens names and orientation.
//
// Training layout (../helpers layout, docs/training.md): `encoderWeight` [S, d_in] (nn.Linear layout,
// the transpose of SAELens' W_enc [d_in, S]), `encoderBias` [S], `decoderWeight` [S, d_out] (W_dec),
// `decoderBias` [d_out], `skipWeight` [d_out, d_in] (skip transcoders), `logThreshold` [S]
// (jumprelu). The geometric median for b_dec is in GeometricMedian.swift. Leaves out: files.

import Foundation
import LanternTensor

/// The named parameter tensors of one dictionary (training layout; see the file header).
public final class DictionaryParameters: @unchecked Sendable {
  /// E [S, d_in]: row s is latent s's encoder direction.
  public let encoderWeight: Tensor
  /// b_enc [S].
  public let encoderBias: Tensor
  /// W_dec [S, d_out]: row s is latent s's decoder direction.
  public let decoderWeight: Tensor
  /// b_dec [d_out].
  public let decoderBias: Tensor
  /// W_skip [d_out, d_in] (skip transcoders only).
  public let skipWeight: Tensor?
  /// log θ [S] (jumprelu only).
  public let logThreshold: Tensor?

  /// Zero tensors of the shapes `config` needs.
  public init(zerosFor config: DictionaryHyperparameters) {
    let s = config.dSAE
    encoderWeight = Tensor(shape: [s, config.dIn])
    encoderBias = Tensor(shape: [s])
    decoderWeight = Tensor(shape: [s, config.dOut])
    decoderBias = Tensor(shape: [config.dOut])
    skipWeight = config.kind == .skipTranscoder ? Tensor(shape: [config.dOut, config.dIn]) : nil
    logThreshold = config.architecture == .jumprelu ? Tensor(shape: [s]) : nil
  }

  /// Every tensor with its SAELens-style name, in a fixed order (the optimizer's order).
  /// `encoderWeight` is listed as "encoder.weight" because its layout is not W_enc's.
  public var named: [(name: String, tensor: Tensor)] {
    var out: [(String, Tensor)] = [
      ("encoder.weight", encoderWeight), (ParameterName.bEnc, encoderBias),
      (ParameterName.wDec, decoderWeight), (ParameterName.bDec, decoderBias),
    ]
    if let skipWeight { out.append((ParameterName.wSkip, skipWeight)) }
    if let logThreshold { out.append((ParameterName.logThreshold, logThreshold)) }
    return out
  }

  /// A deep copy.
  public func copy() -> DictionaryParameters {
    let c = DictionaryParameters(like: self)
    for (a, b) in zip(c.named, named) {
      a.tensor.pointer.update(from: b.tensor.pointer, count: b.tensor.count)
    }
    return c
  }

  private init(like p: DictionaryParameters) {
    encoderWeight = Tensor(shape: p.encoderWeight.shape)
    encoderBias = Tensor(shape: p.encoderBias.shape)
    decoderWeight = Tensor(shape: p.decoderWeight.shape)
    decoderBias = Tensor(shape: p.decoderBias.shape)
    skipWeight = p.skipWeight.map { Tensor(shape: $0.shape) }
    logThreshold = p.logThreshold.map { Tensor(shape: $0.shape) }
  }

  /// Initialisation (docs/training.md "Init"): decoder rows are random unit directions times
  /// `decoderInitNorm`; E = W_decᵀ in SAELens orientation (so encoderWeight = W_dec) when
  /// d_in = d_out, else independent random rows at the same norm; b_enc = 0; b_dec = `decoderBias`
  /// (the data mean or geometric median, in the scaled input space); W_skip = 0;
  /// log θ = log(jumpReLUInitialThreshold).
  public static func initialized(
    _ config: DictionaryHyperparameters, decoderBias bias: [Float], seed: UInt64
  ) throws -> DictionaryParameters {
    try config.validate()
    guard bias.count == config.dOut else {
      throw TrainingError.shapeMismatch(
        tensor: ParameterName.bDec, expected: [config.dOut], got: [bias.count])
    }
    let p = DictionaryParameters(zerosFor: config)
    var rng = SeededRandom(seed: seed)
    func randomRows(_ t: Tensor, rows: Int, cols: Int) {
      for r in 0..<rows {
        let row = t.pointer + r * cols
        var norm: Double = 0
        repeat {
          norm = 0
          for c in 0..<cols {
            row[c] = rng.nextNormal()
            norm += Double(row[c]) * Double(row[c])
          }
        } while norm == 0
        let scale = Float(Double(config.decoderInitNorm) / norm.squareRoot())
        for c in 0..<cols { row[c] *= scale }
      }
    }
    randomRows(p.decoderWeight, rows: config.dSAE, cols: config.dOut)
    if config.dIn == config.dOut {
      p.encoderWeight.pointer.update(from: p.decoderWeight.pointer, count: p.decoderWeight.count)
    } else {
      randomRows(p.encoderWeight, rows: config.dSAE, cols: config.dIn)
    }
    for (i, v) in bias.enumerated() { p.decoderBias.pointer[i] = v }
    if let t = p.logThreshold { t.fill(log(config.jumpReLUInitialThreshold)) }
    return p
  }

  /// Loads SAELens-named tensors (`W_enc` [d_in, S] is transposed into `encoderWeight`); every
  /// tensor `config` needs must be given with its exact shape.
  public static func fromSAELens(_ tensors: [String: Tensor], config: DictionaryHyperparameters) throws
    -> DictionaryParameters
  {
    let p = DictionaryParameters(zerosFor: config)
    func take(_ name: String, _ shape: [Int]) throws -> Tensor {
      guard let t = tensors[name] else {
        throw TrainingError.shapeMismatch(tensor: name, expected: shape, got: [])
      }
      guard t.shape == shape else {
        throw TrainingError.shapeMismatch(tensor: name, expected: shape, got: t.shape)
      }
      return t
    }
    let s = config.dSAE
    let wEnc = try take(ParameterName.wEnc, [config.dIn, s])
    for i in 0..<config.dIn {
      for j in 0..<s { p.encoderWeight.pointer[j * config.dIn + i] = wEnc.pointer[i * s + j] }
    }
    func copy(_ name: String, into dst: Tensor) throws {
      let t = try take(name, dst.shape)
      dst.pointer.update(from: t.pointer, count: t.count)
    }
    try copy(ParameterName.bEnc, into: p.encoderBias)
    try copy(ParameterName.wDec, into: p.decoderWeight)
    try copy(ParameterName.bDec, into: p.decoderBias)
    if let w = p.skipWeight { try copy(ParameterName.wSkip, into: w) }
    if let t = p.logThreshold { try copy(ParameterName.logThreshold, into: t) }
    return p
  }

  /// The tensors under SAELens names, `W_enc` transposed back to [d_in, S] (training state as is:
  /// no folding, `log_threshold` not exponentiated; the exporter does that).
  public func saeLensTensors() -> [String: Tensor] {
    let s = encoderWeight.shape[0]
    let dIn = encoderWeight.shape[1]
    let wEnc = Tensor(shape: [dIn, s])
    for j in 0..<s {
      for i in 0..<dIn { wEnc.pointer[i * s + j] = encoderWeight.pointer[j * dIn + i] }
    }
    var out: [String: Tensor] = [
      ParameterName.wEnc: wEnc, ParameterName.bEnc: encoderBias, ParameterName.wDec: decoderWeight,
      ParameterName.bDec: decoderBias,
    ]
    if let skipWeight { out[ParameterName.wSkip] = skipWeight }
    if let logThreshold { out[ParameterName.logThreshold] = logThreshold }
    return out
  }
}
