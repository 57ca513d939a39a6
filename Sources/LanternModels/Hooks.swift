// Hooks: named taps on the forward pass that read (capture) or write (replace, add, ablate).
//
// A hook function receives the activation in place, as a mutable buffer with its TransformerLens
// shape; whatever it leaves there flows on through the model. Capturing copies into a
// caller-owned `ActivationStore`. Hook points nobody registered cost one dictionary probe.

import LanternTensor

/// One activation as a hook sees it: its name, shape and the live values.
public struct HookActivation {
  public let name: String
  public let shape: [Int]
  public let values: UnsafeMutableBufferPointer<Float>
}

/// A function run at a hook point; it may modify `values` in place.
public typealias HookFunction = (HookActivation) -> Void

/// The set of hook functions for one forward pass, keyed by hook name.
public struct Hooks {
  var functions: [String: [HookFunction]] = [:]

  public init() {}

  /// Hook names that have at least one function.
  public var names: [String] { Array(functions.keys) }

  /// True when a function is registered at `name`.
  public func contains(_ name: String) -> Bool { functions[name] != nil }

  /// Registers `function` at `name` (functions run in registration order).
  public mutating func add(_ name: String, _ function: @escaping HookFunction) {
    functions[name, default: []].append(function)
  }

  /// Copies each named activation into `store` (shape as TransformerLens gives it).
  public mutating func capture(_ names: [String], into store: ActivationStore) {
    for name in names {
      add(name) { act in store.record(act) }
    }
  }

  /// Replaces the activation at `name` with `tensor` (same element count), e.g. for patching
  /// or splicing a dictionary's reconstruction into the model.
  public mutating func replace(_ name: String, with tensor: Tensor) {
    add(name) { act in
      precondition(
        act.values.count == tensor.count,
        "replacement for \(name) has \(tensor.count) values, hook has \(act.values.count)")
      act.values.baseAddress!.update(from: tensor.pointer, count: tensor.count)
    }
  }

  /// Adds `vector` (length = the activation's last dimension) at every position: steering.
  public mutating func addVector(_ name: String, _ vector: [Float], scale: Float = 1) {
    add(name) { act in
      let d = vector.count
      precondition(
        act.shape.last == d, "steering vector for \(name) has \(d) values, last dim is \(act.shape)")
      for r in 0..<(act.values.count / d) {
        for j in 0..<d { act.values[r * d + j] += scale * vector[j] }
      }
    }
  }

  /// Sets the activation to zero (zero ablation).
  public mutating func zeroAblate(_ name: String) {
    add(name) { act in act.values.update(repeating: 0) }
  }

  func run(_ name: String, _ pointer: UnsafeMutablePointer<Float>, _ shape: [Int]) {
    guard let list = functions[name] else { return }
    let act = HookActivation(
      name: name, shape: shape, values: UnsafeMutableBufferPointer(start: pointer, count: shape.reduce(1, *)))
    for f in list { f(act) }
  }
}

/// Caller-owned storage for captured activations.
public final class ActivationStore: @unchecked Sendable {
  /// Captured tensors by hook name.
  public private(set) var tensors: [String: Tensor] = [:]

  public init() {}

  /// The captured activation for `name`, if any.
  public subscript(name: String) -> Tensor? { tensors[name] }

  func record(_ act: HookActivation) {
    let t = Tensor(shape: act.shape)
    t.pointer.update(from: act.values.baseAddress!, count: act.values.count)
    tensors[act.name] = t
  }
}
