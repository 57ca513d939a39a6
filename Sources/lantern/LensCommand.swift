// `lantern lens`: the logit lens on a prompt — for each layer, the top-5 next tokens read from
// the residual stream after that layer through the final norm and unembedding, then the model's
// own top-5 with probabilities. `--json FILE` also writes the table as JSON.

import ArgumentParser
import Foundation
import LanternModels
import LanternTensor
import LanternTokenizers

struct LensCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "lens",
    abstract: "Logit lens: top next tokens after every layer, then the model's own prediction.")

  @OptionGroup var modelOptions: ModelOptions

  @Option(help: "The prompt.")
  var prompt: String

  @Option(help: "How many tokens to show per layer.")
  var top: Int = 5

  @Option(help: "Also write the result as JSON to this file.")
  var json: String?

  func run() throws {
    guard (1...50).contains(top) else { throw CLIError("--top \(top) must be in 1...50") }
    let ctx = try modelOptions.context()
    let model = try modelOptions.loadModel(ctx)
    let tokenizer = try modelOptions.loadTokenizer()
    let ids = try tokenizer.encode(prompt, addSpecialTokens: true).map { Int32($0) }
    guard !ids.isEmpty else { throw CLIError("--prompt has no tokens") }
    let cfg = model.config
    let t = ids.count
    let store = ActivationStore()
    var hooks = Hooks()
    hooks.capture((0..<cfg.nLayers).map(HookPoint.residPost), into: store)
    guard let logits = try model.forward(tokens: ids, batch: 1, seqLen: t, hooks: hooks) else { return }
    // The last position of every layer's residual stream, stacked (L, C).
    let residuals = Tensor(shape: [cfg.nLayers, cfg.dModel])
    for l in 0..<cfg.nLayers {
      let r = store[HookPoint.residPost(l)]!
      (residuals.pointer + l * cfg.dModel).update(from: r.pointer + (t - 1) * cfg.dModel, count: cfg.dModel)
    }
    let lens = model.unembedThroughFinalNorm(residuals)
    func show(_ ranked: [RankedToken]) -> String {
      ranked.map { r in
        let text = tokenizer.decode([r.id], skipSpecialTokens: false)
        return String(format: "%@ %.3f", String(reflecting: text), r.probability)
      }.joined(separator: "  ")
    }
    print(
      "prompt: \(String(reflecting: prompt)) (\(t) tokens) — model \(cfg.architecture), \(cfg.nLayers) layers"
    )
    var layersJSON: [[String: Any]] = []
    for l in 0..<cfg.nLayers {
      let ranked = topK(logits: lens.pointer + l * cfg.dVocab, count: cfg.dVocab, k: top)
      print(String(format: "layer %2d  ", l) + show(ranked))
      layersJSON.append(["layer": l, "top": ranked.map(jsonEntry(tokenizer))])
    }
    let final = topK(logits: logits.pointer + (t - 1) * cfg.dVocab, count: cfg.dVocab, k: top)
    print("model     " + show(final))
    if let json {
      let object: [String: Any] = [
        "prompt": prompt, "tokens": ids.map(Int.init), "model": modelOptions.model, "layers": layersJSON,
        "final": final.map(jsonEntry(tokenizer)),
      ]
      let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
      try data.write(to: URL(fileURLWithPath: json), options: .atomic)
      print("wrote \(json)")
    }
  }

  private func jsonEntry(_ tokenizer: Tokenizer) -> (RankedToken) -> [String: Any] {
    { r in
      [
        "id": r.id, "token": tokenizer.decode([r.id], skipSpecialTokens: false),
        "probability": Double(r.probability),
      ]
    }
  }
}
