// `lantern forward`: one forward pass, writing tokens, logits and hooked activations as .npy.

import ArgumentParser
import Foundation
import LanternFormats
import LanternModels
import LanternTensor

struct ForwardCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "forward",
    abstract: "Run the model on a text or token ids; write tokens.npy, logits.npy and <hook>.npy files.")

  @OptionGroup var modelOptions: ModelOptions

  @Option(help: "Text to tokenize (with the tokenizer's default special tokens).")
  var text: String?

  @Option(help: "Comma-separated token ids, instead of --text.")
  var tokens: String?

  @Option(help: "Comma-separated hook names (TransformerLens names), or 'all'.")
  var hooks: String?

  @Option(
    name: .customLong("stop-after-layer"),
    help: "Last layer to compute (skips logits when earlier than the last).")
  var stopAfterLayer: Int?

  @Option(help: "Output directory.")
  var out: String

  func run() throws {
    let ctx = try modelOptions.context()
    let model = try modelOptions.loadModel(ctx)
    let ids: [Int32]
    switch (text, tokens) {
    case (let t?, nil):
      ids = try modelOptions.loadTokenizer().encode(t, addSpecialTokens: true).map { Int32($0) }
    case (nil, let list?): ids = try parseTokenList(list)
    default: throw CLIError("give exactly one of --text and --tokens")
    }
    guard !ids.isEmpty else { throw CLIError("the input has no tokens") }
    var names: [String] = []
    if let hooks {
      names =
        hooks == "all"
        ? HookPoint.all(for: model.config).filter { name in
          guard let stop = stopAfterLayer else { return true }
          if let l = HookPoint.layer(of: name) { return l <= stop }
          return !name.hasPrefix("ln_final") || stop >= model.config.nLayers - 1
        }
        : hooks.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
    }
    let store = ActivationStore()
    var hookSet = Hooks()
    hookSet.capture(names, into: store)
    let logits = try model.forward(
      tokens: ids, batch: 1, seqLen: ids.count, stopAfterLayer: stopAfterLayer, hooks: hookSet)
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    let dir = URL(fileURLWithPath: out)
    try NPY.writeInt32(values: ids, shape: [1, ids.count], to: dir.appendingPathComponent("tokens.npy"))
    if let logits { try NPY.writeFloat32(logits, to: dir.appendingPathComponent("logits.npy")) }
    for name in names {
      guard let t = store[name] else { continue }
      try NPY.writeFloat32(t, to: dir.appendingPathComponent("\(name).npy"))
    }
    print("wrote \(names.count + (logits == nil ? 1 : 2)) arrays for \(ids.count) tokens to \(out)")
  }
}
