// GPT-2 (Radford et al. 2019) from a Hugging Face directory: config.json + *.safetensors.
// HF stores GPT-2's projections as Conv1D with (in, out) weights; they are transposed here to
// the (out, in) layout every other architecture uses. Learned positions, LayerNorm, GELU (tanh).

import Foundation
import LanternFormats
import LanternTensor

/// Hugging Face GPT-2 config.json, with Swift names inside and HF names at the boundary.
struct GPT2Configuration: Decodable {
  var nEmbd: Int
  var nLayer: Int
  var nHead: Int
  var nInner: Int?
  var vocabSize: Int
  var nPositions: Int
  var layerNormEpsilon: Float?
  var activationFunction: String?
  var tieWordEmbeddings: Bool?

  enum CodingKeys: String, CodingKey {
    case nEmbd = "n_embd"
    case nLayer = "n_layer"
    case nHead = "n_head"
    case nInner = "n_inner"
    case vocabSize = "vocab_size"
    case nPositions = "n_positions"
    case layerNormEpsilon = "layer_norm_epsilon"
    case activationFunction = "activation_function"
    case tieWordEmbeddings = "tie_word_embeddings"
  }

  func modelConfig(file: String) throws -> ModelConfig {
    let act = activationFunction ?? "gelu_new"
    guard act == "gelu_new" || act == "gelu_pytorch_tanh" else {
      throw ModelError.invalidConfig(
        file: file, field: "activation_function", reason: "'\(act)' is not supported (only GELU, tanh form)")
    }
    guard nHead > 0, nEmbd % nHead == 0 else {
      throw ModelError.invalidConfig(
        file: file, field: "n_head", reason: "\(nHead) does not divide n_embd \(nEmbd)")
    }
    let cfg = ModelConfig(
      architecture: "gpt2", dModel: nEmbd, nLayers: nLayer, nHeads: nHead, nKVHeads: nHead,
      dHead: nEmbd / nHead,
      dMLP: nInner ?? 4 * nEmbd, dVocab: vocabSize, nCtx: nPositions, norm: .layerNorm,
      normEps: layerNormEpsilon ?? 1e-5, positional: .learned, mlp: .gelu, qkvBias: true, outputBias: true,
      tiedEmbeddings: tieWordEmbeddings ?? true)
    try cfg.validate(source: file)
    return cfg
  }
}

enum GPT2 {
  /// Builds the model from HF tensors named `[transformer.]h.N.attn.c_attn.weight` etc.
  static func load(config c: ModelConfig, source: any TensorSource, pool: ThreadPool) throws -> Transformer {
    let loader = WeightLoader(source) { name in
      name.hasSuffix(".attn.bias") || name.hasSuffix(".attn.masked_bias")
    }
    let p = loader.has("transformer.wte.weight") ? "transformer." : ""
    let C = c.dModel
    let F = c.dMLP
    var layers: [LayerWeights] = []
    for l in 0..<c.nLayers {
      let h = "\(p)h.\(l)."
      layers.append(
        LayerWeights(
          ln1Weight: try loader.load(h + "ln_1.weight", [C]), ln1Bias: try loader.load(h + "ln_1.bias", [C]),
          qkvWeight: transposed(try loader.load(h + "attn.c_attn.weight", [C, 3 * C])),
          qkvBias: try loader.load(h + "attn.c_attn.bias", [3 * C]),
          outWeight: transposed(try loader.load(h + "attn.c_proj.weight", [C, C])),
          outBias: try loader.load(h + "attn.c_proj.bias", [C]),
          ln2Weight: try loader.load(h + "ln_2.weight", [C]), ln2Bias: try loader.load(h + "ln_2.bias", [C]),
          upWeight: transposed(try loader.load(h + "mlp.c_fc.weight", [C, F])),
          upBias: try loader.load(h + "mlp.c_fc.bias", [F]),
          downWeight: transposed(try loader.load(h + "mlp.c_proj.weight", [F, C])),
          downBias: try loader.load(h + "mlp.c_proj.bias", [C])))
    }
    let wte = try loader.load(p + "wte.weight", [c.dVocab, C])
    let head = try loader.loadIfPresent("lm_head.weight", [c.dVocab, C])
    let weights = ModelWeights(
      tokenEmbedding: wte, positionEmbedding: try loader.load(p + "wpe.weight", [c.nCtx, C]), layers: layers,
      finalNormWeight: try loader.load(p + "ln_f.weight", [C]),
      finalNormBias: try loader.load(p + "ln_f.bias", [C]),
      unembed: head ?? wte)
    try loader.finish()
    return Transformer(config: c, weights: weights, source: source.path, pool: pool)
  }
}
