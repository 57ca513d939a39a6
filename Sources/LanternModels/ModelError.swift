// ModelError: everything that can go wrong loading or running a model, naming the file, tensor,
// field or hook, with a hint on what to do.

/// Errors from model loading and the forward pass.
public enum ModelError: Error, CustomStringConvertible, Equatable {
  case unknownArchitecture(file: String, name: String, known: [String])
  case invalidConfig(file: String, field: String, reason: String)
  case missingTensor(file: String, name: String)
  case unexpectedTensors(file: String, names: [String])
  case tensorShape(file: String, name: String, expected: [Int], found: [Int])
  case unknownHook(name: String, architecture: String)
  case hookBeyondStop(name: String, layer: Int, stopAfter: Int)
  case tokenOutOfRange(index: Int, id: Int32, vocab: Int)
  case sequenceTooLong(length: Int, maximum: Int)
  case badInput(String)
  case noModelAt(path: String)

  public var description: String {
    switch self {
    case .unknownArchitecture(let file, let name, let known):
      return
        "\(file): unknown architecture '\(name)' ---> HINT: Lantern supports \(known.joined(separator: ", "))"
    case .invalidConfig(let file, let field, let reason):
      return "\(file): field '\(field)': \(reason) ---> HINT: check the model's config"
    case .missingTensor(let file, let name):
      return
        "\(file): tensor '\(name)' is missing ---> HINT: the checkpoint is incomplete or of another architecture"
    case .unexpectedTensors(let file, let names):
      let shown = names.prefix(5).joined(separator: ", ")
      return
        "\(file): \(names.count) unexpected tensor(s): \(shown)\(names.count > 5 ? ", ..." : "") ---> HINT: the checkpoint does not match its config"
    case .tensorShape(let file, let name, let expected, let found):
      return
        "\(file): tensor '\(name)' has shape \(found), expected \(expected) ---> HINT: the config and the weights disagree"
    case .unknownHook(let name, let arch):
      return
        "unknown hook '\(name)' for architecture \(arch) ---> HINT: run `lantern inspect-model` to list hook points"
    case .hookBeyondStop(let name, let layer, let stop):
      return
        "hook '\(name)' is in layer \(layer) but the forward pass stops after layer \(stop) ---> HINT: raise --stop-after-layer"
    case .tokenOutOfRange(let index, let id, let vocab):
      return
        "token \(id) at position \(index) is outside the vocabulary (size \(vocab)) ---> HINT: tokens must come from this model's tokenizer"
    case .sequenceTooLong(let length, let maximum):
      return
        "sequence length \(length) exceeds the model's context of \(maximum) positions ---> HINT: use a shorter context"
    case .badInput(let message):
      return message
    case .noModelAt(let path):
      return
        "\(path): no model found ---> HINT: pass a Hugging Face directory (config.json + *.safetensors) or a .gguf file"
    }
  }
}
