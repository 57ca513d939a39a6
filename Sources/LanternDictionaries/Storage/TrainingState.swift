// The training state a checkpoint holds: named Float32 tensors (weights, Adam moments, dead-latent
// counters, thresholds) and a small document of scalars (step, tokens, schedule position, data cursor,
// RNG states, BatchTopK threshold, scaling constants, the training spec with its hash, Lantern's
// version), and how that document is written as `state.json`.
//
// Exactness: UInt64 values (RNG states, the data cursor) are written as decimal strings, never as
// JSON numbers (a Double holds only 53 bits); Float values are written as strings of their shortest
// round-trip decimal form (`Float.description`, which also spells inf and nan), so a restored state
// equals the saved one bit for bit. Tensors are Float32 only: counters stay exact up to 2^24, so count
// dead-latent age in steps, not tokens, or split a larger count over two tensors.
// Left out: integer tensors and nested scalar documents (use `extra`, a string map).

import Foundation
import LanternShards
import LanternTensor

/// The scalars of a training state, written to `state.json`.
public struct CheckpointScalars: Equatable, Sendable {
  /// Optimizer steps taken.
  public var step: Int
  /// Training tokens consumed (after filters).
  public var tokensSeen: Int
  /// Position in the learning-rate / penalty warm-up schedule (usually the step).
  public var schedulePosition: Int
  /// The data stream's cursor: the next global row position to read.
  public var dataCursor: UInt64
  /// Named `SeededRandom.state` values (e.g. "init", "aux"), kept exact.
  public var rngStates: [String: UInt64]
  /// The BatchTopK / Matryoshka EMA threshold, if the architecture has one.
  public var batchTopKThreshold: Float?
  /// Input scale per hook (the factor the raw activations were multiplied by in training).
  public var inputScales: [Float]
  /// Output (target) scale per hook; equals `inputScales` for SAEs and crosscoders.
  public var outputScales: [Float]
  /// Anything else the trainer needs, as strings it encodes itself.
  public var extra: [String: String]

  public init(
    step: Int, tokensSeen: Int, schedulePosition: Int, dataCursor: UInt64,
    rngStates: [String: UInt64] = [:], batchTopKThreshold: Float? = nil, inputScales: [Float] = [],
    outputScales: [Float] = [], extra: [String: String] = [:]
  ) {
    self.step = step
    self.tokensSeen = tokensSeen
    self.schedulePosition = schedulePosition
    self.dataCursor = dataCursor
    self.rngStates = rngStates
    self.batchTopKThreshold = batchTopKThreshold
    self.inputScales = inputScales
    self.outputScales = outputScales
    self.extra = extra
  }

  /// Bitwise equality (Float `==` would call two NaNs different and 0 equal to −0).
  public static func == (a: CheckpointScalars, b: CheckpointScalars) -> Bool {
    a.step == b.step && a.tokensSeen == b.tokensSeen && a.schedulePosition == b.schedulePosition
      && a.dataCursor == b.dataCursor && a.rngStates == b.rngStates
      && a.batchTopKThreshold?.bitPattern == b.batchTopKThreshold?.bitPattern
      && a.inputScales.map(\.bitPattern) == b.inputScales.map(\.bitPattern)
      && a.outputScales.map(\.bitPattern) == b.outputScales.map(\.bitPattern) && a.extra == b.extra
  }
}

/// Everything a checkpoint restores.
public struct TrainingState: @unchecked Sendable {
  /// Named Float32 tensors. Suggested names: parameters as `ParameterName` / `encoderWeight`,
  /// Adam moments as `adam.m.<param>` and `adam.v.<param>`, counters as `latent.<what>`.
  public var tensors: [String: Tensor]
  public var scalars: CheckpointScalars
  /// The training spec (every setting that changes the bytes of the result), with its hash.
  public var spec: JobSpec
  /// The Lantern version that wrote the checkpoint (informational; not checked on resume).
  public var lanternVersion: String

  public init(tensors: [String: Tensor], scalars: CheckpointScalars, spec: JobSpec, lanternVersion: String) {
    self.tensors = tensors
    self.scalars = scalars
    self.spec = spec
    self.lanternVersion = lanternVersion
  }
}

/// The JSON form of the scalars, spec and version (`state.json`).
struct StateDocument: Codable {
  struct Field: Codable {
    var key: String
    var value: String
  }
  var format: String
  var version: Int
  var step: Int
  var tokensSeen: Int
  var schedulePosition: Int
  var dataCursor: String
  var rngStates: [String: String]
  var batchTopKThreshold: String?
  var inputScales: [String]
  var outputScales: [String]
  var extra: [String: String]
  var spec: [Field]
  var specHash: String
  var lanternVersion: String

  static let formatName = "lantern-training-state"
  static let currentVersion = 1

  enum CodingKeys: String, CodingKey {
    case format, version, step, extra, spec
    case tokensSeen = "tokens_seen"
    case schedulePosition = "schedule_position"
    case dataCursor = "data_cursor"
    case rngStates = "rng_states"
    case batchTopKThreshold = "batchtopk_threshold"
    case inputScales = "input_scales"
    case outputScales = "output_scales"
    case specHash = "spec_hash"
    case lanternVersion = "lantern_version"
  }

  init(_ state: TrainingState) {
    let s = state.scalars
    format = Self.formatName
    version = Self.currentVersion
    step = s.step
    tokensSeen = s.tokensSeen
    schedulePosition = s.schedulePosition
    dataCursor = String(s.dataCursor)
    rngStates = s.rngStates.mapValues { String($0) }
    batchTopKThreshold = s.batchTopKThreshold.map(\.description)
    inputScales = s.inputScales.map(\.description)
    outputScales = s.outputScales.map(\.description)
    extra = s.extra
    spec = state.spec.fields.map { Field(key: $0.key, value: $0.value) }
    specHash = state.spec.hash
    lanternVersion = state.lanternVersion
  }

  func encoded() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return try encoder.encode(self)
  }

  /// Decodes and checks `data`; `path` names the file in errors.
  static func decode(_ data: Data, path: String) throws -> StateDocument {
    let doc: StateDocument
    do {
      doc = try JSONDecoder().decode(StateDocument.self, from: data)
    } catch {
      throw DictionaryStorageError(
        path, "is not a valid training-state document: \(error)", hint: "the checkpoint is damaged")
    }
    guard doc.format == formatName else {
      throw DictionaryStorageError(
        path, "field 'format' is \"\(doc.format)\", expected \"\(formatName)\"",
        hint: "not a Lantern checkpoint")
    }
    guard doc.version == currentVersion else {
      throw DictionaryStorageError(
        path, "field 'version' is \(doc.version); this Lantern reads version \(currentVersion)",
        hint: "resume with the Lantern version that wrote the checkpoint")
    }
    return doc
  }

  /// The scalars and spec; every string-coded number is parsed exactly or named in the error.
  func restore(path: String) throws -> (CheckpointScalars, JobSpec) {
    func uint(_ text: String, _ field: String) throws -> UInt64 {
      guard let v = UInt64(text) else {
        throw DictionaryStorageError(
          path, "field '\(field)' is \"\(text)\", not an unsigned 64-bit integer",
          hint: "the checkpoint is damaged")
      }
      return v
    }
    func float(_ text: String, _ field: String) throws -> Float {
      guard let v = Float(text) else {
        throw DictionaryStorageError(
          path, "field '\(field)' is \"\(text)\", not a Float", hint: "the checkpoint is damaged")
      }
      return v
    }
    var rng: [String: UInt64] = [:]
    for (name, text) in rngStates { rng[name] = try uint(text, "rng_states.\(name)") }
    let scalars = CheckpointScalars(
      step: step, tokensSeen: tokensSeen, schedulePosition: schedulePosition,
      dataCursor: try uint(dataCursor, "data_cursor"), rngStates: rng,
      batchTopKThreshold: try batchTopKThreshold.map { try float($0, "batchtopk_threshold") },
      inputScales: try inputScales.map { try float($0, "input_scales") },
      outputScales: try outputScales.map { try float($0, "output_scales") }, extra: extra)
    let jobSpec = JobSpec(spec.map { (key: $0.key, value: $0.value) })
    guard jobSpec.hash == specHash else {
      throw DictionaryStorageError(
        path, "field 'spec_hash' is \(specHash) but the stored spec hashes to \(jobSpec.hash)",
        hint: "the checkpoint was edited or damaged")
    }
    return (scalars, jobSpec)
  }
}
