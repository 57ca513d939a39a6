// WeightLoader: reads named tensors from a TensorSource, checks each shape against the config,
// and at the end refuses a checkpoint that holds tensors nobody asked for (a sign that config
// and weights disagree), as mlx-swift-lm does. Known non-weight buffers are allowed.

import LanternFormats
import LanternTensor

final class WeightLoader {
  let source: any TensorSource
  private var used: Set<String> = []
  private let ignorable: (String) -> Bool

  init(_ source: any TensorSource, ignorable: @escaping (String) -> Bool = { _ in false }) {
    self.source = source
    self.ignorable = ignorable
  }

  func has(_ name: String) -> Bool { source.tensorNames.contains(name) }

  /// Loads `name`, which must have shape `shape`.
  func load(_ name: String, _ shape: [Int]) throws -> Tensor {
    guard has(name) else { throw ModelError.missingTensor(file: source.path, name: name) }
    let found = try source.shape(of: name)
    guard found == shape else {
      throw ModelError.tensorShape(file: source.path, name: name, expected: shape, found: found)
    }
    used.insert(name)
    return try source.loadTensor(name)
  }

  /// Loads `name` if present.
  func loadIfPresent(_ name: String, _ shape: [Int]) throws -> Tensor? {
    has(name) ? try load(name, shape) : nil
  }

  /// Throws if the source holds tensors that were never loaded.
  func finish() throws {
    let extra = source.tensorNames.filter { !used.contains($0) && !ignorable($0) }.sorted()
    if !extra.isEmpty { throw ModelError.unexpectedTensors(file: source.path, names: extra) }
  }
}
