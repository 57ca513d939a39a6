// `lantern inspect-model`: what a model file holds — architecture, dimensions, parameter
// count, tokenizer, and the hook points Lantern exposes for it.

import ArgumentParser
import Foundation
import LanternModels
import LanternTensor
import LanternTokenizers

struct InspectModelCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "inspect-model", abstract: "Describe a model: config, parameters, tokenizer, hook points.")

  @Argument(help: "A Hugging Face directory or a .gguf file.")
  var path: String

  @Flag(help: "List every hook name (default: those of layer 0 and the model-level ones).")
  var allHooks = false

  func run() throws {
    let ctx = ComputeContext(threads: 1)
    let model = try ModelRegistry.load(path: path, pool: ctx.pool)
    let c = model.config
    var params = model.weights.tokenEmbedding.count + (model.weights.positionEmbedding?.count ?? 0)
    params += model.weights.finalNormWeight.count + (model.weights.finalNormBias?.count ?? 0)
    for l in model.weights.layers {
      for t in [l.ln1Weight, l.qkvWeight, l.outWeight, l.ln2Weight, l.upWeight, l.downWeight] {
        params += t.count
      }
      for t in [l.ln1Bias, l.qkvBias, l.outBias, l.ln2Bias, l.upBias, l.downBias].compactMap({ $0 }) {
        params += t.count
      }
    }
    if !c.tiedEmbeddings { params += model.weights.unembed.count }
    print("model:        \(path)")
    print("architecture: \(c.architecture)")
    print(
      "d_model \(c.dModel), n_layers \(c.nLayers), n_heads \(c.nHeads), n_kv_heads \(c.nKVHeads), d_head \(c.dHead)"
    )
    print("d_mlp \(c.dMLP), d_vocab \(c.dVocab), n_ctx \(c.nCtx), norm \(c.norm) eps \(c.normEps)")
    print(
      "positions \(c.positional), mlp \(c.mlp), qkv bias \(c.qkvBias), tied embeddings \(c.tiedEmbeddings)")
    print("parameters:   \(params) (\(String(format: "%.1f", Double(params) / 1e6))M, dequantized to fp32)")
    if let tok = try? Tokenizer.forModel(at: path) {
      print(
        "tokenizer:    vocabulary \(tok.vocabularySize), bos \(tok.bosTokenID.map(String.init) ?? "none"), "
          + "adds bos \(tok.addsBOS)")
    } else {
      print("tokenizer:    none found")
    }
    let names = HookPoint.all(for: c)
    let shown =
      allHooks ? names : names.filter { HookPoint.layer(of: $0) == nil || HookPoint.layer(of: $0) == 0 }
    print(
      "hook points (\(names.count) in all\(allHooks ? "" : "; layer 0 shown, the same for every layer")):")
    for n in shown { print("  \(n)") }
  }
}
