// The checkpoint of a training run and back: every piece of state a step reads, so that a resumed
// run equals an uninterrupted one bit for bit (docs/training.md, "State a checkpoint must hold").
//
// Tensors: the parameters under their training names, Adam's moments as `adam.m.<name>` and
// `adam.v.<name>`, and the per-latent "tokens since fired" counters as two Float32 tensors holding the
// low and high 32 bits of each Int64 as bit patterns (Float32 counts would lose exactness past 2²⁴).
// Scalars: step, tokens, data cursor, scales, and in `extra` the BatchTopK threshold's Double bit
// pattern. Also here: the append-only training log, truncated on resume to the checkpoint's step.

import Foundation
import LanternShards
import LanternTensor

extension TrainingRun {
  static let lanternVersion = "0.5.0"

  /// The state to checkpoint now.
  func state() -> TrainingState {
    var tensors: [String: Tensor] = [:]
    for (name, t) in model.parameters.named { tensors[name] = t }
    for (name, t) in model.firstMoments.named { tensors["adam.m.\(name)"] = t }
    for (name, t) in model.secondMoments.named { tensors["adam.v.\(name)"] = t }
    let s = model.tokensSinceFired.count
    let lo = Tensor(shape: [s])
    let hi = Tensor(shape: [s])
    for (i, v) in model.tokensSinceFired.enumerated() {
      let bits = UInt64(bitPattern: v)
      lo.pointer[i] = Float(bitPattern: UInt32(truncatingIfNeeded: bits))
      hi.pointer[i] = Float(bitPattern: UInt32(truncatingIfNeeded: bits >> 32))
    }
    tensors["latent.since_fired.lo"] = lo
    tensors["latent.since_fired.hi"] = hi
    let scalars = CheckpointScalars(
      step: model.step, tokensSeen: tokensSeen, schedulePosition: model.step, dataCursor: UInt64(cursor),
      batchTopKThreshold: Float(model.topKThreshold), inputScales: inputScales, outputScales: outputScales,
      extra: ["topk_threshold_bits": String(model.topKThreshold.bitPattern)])
    return TrainingState(tensors: tensors, scalars: scalars, spec: spec, lanternVersion: Self.lanternVersion)
  }

  /// A model holding exactly the checkpointed state.
  static func restore(_ state: TrainingState, config: DictionaryHyperparameters, pool: ThreadPool) throws
    -> (model: DictionaryModel, step: Int)
  {
    func tensor(_ name: String, like reference: Tensor) throws -> Tensor {
      guard let t = state.tensors[name] else {
        throw TrainingError.invalidSetting(field: "checkpoint", reason: "tensor \(name) is missing")
      }
      guard t.shape == reference.shape else {
        throw TrainingError.shapeMismatch(tensor: name, expected: reference.shape, got: t.shape)
      }
      return t
    }
    let parameters = DictionaryParameters(zerosFor: config)
    for (name, t) in parameters.named {
      t.pointer.update(from: try tensor(name, like: t).pointer, count: t.count)
    }
    let model = try DictionaryModel(config: config, parameters: parameters, pool: pool)
    for (name, t) in model.firstMoments.named {
      t.pointer.update(from: try tensor("adam.m.\(name)", like: t).pointer, count: t.count)
    }
    for (name, t) in model.secondMoments.named {
      t.pointer.update(from: try tensor("adam.v.\(name)", like: t).pointer, count: t.count)
    }
    let reference = Tensor(shape: [config.dSAE])
    let lo = try tensor("latent.since_fired.lo", like: reference)
    let hi = try tensor("latent.since_fired.hi", like: reference)
    let counters = (0..<config.dSAE).map { i in
      let bits = UInt64(lo.pointer[i].bitPattern) | (UInt64(hi.pointer[i].bitPattern) << 32)
      return Int64(bitPattern: bits)
    }
    var threshold = 0.0
    if let text = state.scalars.extra["topk_threshold_bits"], let bits = UInt64(text) {
      threshold = Double(bitPattern: bits)
    }
    try model.restore(step: state.scalars.step, tokensSinceFired: counters, topKThreshold: threshold)
    return (model, state.scalars.step)
  }
}

/// train_log.jsonl: one JSON object per line, appended and flushed per logging interval.
final class TrainingLog {
  private let handle: FileHandle

  init(url: URL) throws {
    if !FileManager.default.fileExists(atPath: url.path) {
      FileManager.default.createFile(atPath: url.path, contents: nil)
    }
    handle = try FileHandle(forWritingTo: url)
    try handle.seekToEnd()
  }

  deinit { try? handle.close() }

  func append(_ line: String) throws {
    try handle.write(contentsOf: Data((line + "\n").utf8))
  }

  /// Drops lines logged after `step` (and a torn last line): a resumed run re-logs from its checkpoint.
  static func truncate(_ url: URL, afterStep step: Int) throws {
    guard let data = FileManager.default.contents(atPath: url.path), !data.isEmpty else { return }
    var kept: [Substring] = []
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
      guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
        let s = object["step"] as? Int, s <= step
      else { continue }
      kept.append(line)
    }
    let text = kept.map { $0 + "\n" }.joined()
    try Data(text.utf8).write(to: url, options: .atomic)
  }
}
