// The Llama family (Llama 2/3, SmolLM2, Qwen2) from a Hugging Face directory or a GGUF file.
// RMSNorm, rotary positions (HF rotate-half layout), grouped-query attention, gated SiLU MLP;
// Qwen2 adds biases on q/k/v. GGUF files store W_q and W_k with rows permuted for GGML's
// interleaved RoPE (llama.cpp's converter); they are un-permuted here so that `attn.hook_q/k`
// match Hugging Face and TransformerLens.
// Left out: RoPE scaling (llama3/YaRN), sliding windows, MoE variants.

import Foundation
import LanternFormats
import LanternTensor

/// Hugging Face Llama/Qwen2 config.json.
struct LlamaConfiguration: Decodable {
  var modelType: String
  var hiddenSize: Int
  var numHiddenLayers: Int
  var numAttentionHeads: Int
  var numKeyValueHeads: Int?
  var headDim: Int?
  var intermediateSize: Int
  var vocabSize: Int
  var rmsNormEps: Float?
  var ropeTheta: Float?
  var ropeParameters: RopeParameters?
  var ropeScaling: RopeParameters?
  var maxPositionEmbeddings: Int?
  var tieWordEmbeddings: Bool?
  var hiddenAct: String?
  var attentionBias: Bool?
  var mlpBias: Bool?
  var useSlidingWindow: Bool?

  struct RopeParameters: Decodable {
    var ropeTheta: Float?
    var ropeType: String?
    enum CodingKeys: String, CodingKey {
      case ropeTheta = "rope_theta"
      case ropeType = "rope_type"
    }
  }

  enum CodingKeys: String, CodingKey {
    case modelType = "model_type"
    case hiddenSize = "hidden_size"
    case numHiddenLayers = "num_hidden_layers"
    case numAttentionHeads = "num_attention_heads"
    case numKeyValueHeads = "num_key_value_heads"
    case headDim = "head_dim"
    case intermediateSize = "intermediate_size"
    case vocabSize = "vocab_size"
    case rmsNormEps = "rms_norm_eps"
    case ropeTheta = "rope_theta"
    case ropeParameters = "rope_parameters"
    case ropeScaling = "rope_scaling"
    case maxPositionEmbeddings = "max_position_embeddings"
    case tieWordEmbeddings = "tie_word_embeddings"
    case hiddenAct = "hidden_act"
    case attentionBias = "attention_bias"
    case mlpBias = "mlp_bias"
    case useSlidingWindow = "use_sliding_window"
  }

  func modelConfig(file: String) throws -> ModelConfig {
    let act = hiddenAct ?? "silu"
    guard act == "silu" else {
      throw ModelError.invalidConfig(
        file: file, field: "hidden_act", reason: "'\(act)' is not supported (only silu)")
    }
    for rp in [ropeParameters, ropeScaling].compactMap({ $0 }) {
      if let type = rp.ropeType, type != "default" {
        throw ModelError.invalidConfig(
          file: file, field: "rope_scaling", reason: "rope type '\(type)' is not supported (only default)")
      }
    }
    if mlpBias == true {
      throw ModelError.invalidConfig(file: file, field: "mlp_bias", reason: "MLP biases are not supported")
    }
    if useSlidingWindow == true {
      throw ModelError.invalidConfig(
        file: file, field: "use_sliding_window", reason: "sliding windows are not supported")
    }
    guard numAttentionHeads > 0 else {
      throw ModelError.invalidConfig(file: file, field: "num_attention_heads", reason: "must be positive")
    }
    let dHead = headDim ?? hiddenSize / numAttentionHeads
    let theta = ropeParameters?.ropeTheta ?? ropeTheta ?? 10_000
    let isQwen = modelType == "qwen2"
    let cfg = ModelConfig(
      architecture: modelType, dModel: hiddenSize, nLayers: numHiddenLayers, nHeads: numAttentionHeads,
      nKVHeads: numKeyValueHeads ?? numAttentionHeads, dHead: dHead, dMLP: intermediateSize,
      dVocab: vocabSize,
      nCtx: maxPositionEmbeddings ?? 2048, norm: .rmsNorm, normEps: rmsNormEps ?? 1e-6,
      positional: .rotary(base: theta, dim: dHead), mlp: .gatedSiLU, qkvBias: isQwen || attentionBias == true,
      outputBias: attentionBias == true, tiedEmbeddings: tieWordEmbeddings ?? false)
    try cfg.validate(source: file)
    return cfg
  }
}

/// Tensor names of one checkpoint flavour.
struct LlamaNames: Sendable {
  var embed: String
  var finalNorm: String
  var head: String
  var layer: @Sendable (Int, LlamaTensor) -> String

  enum LlamaTensor { case attnNorm, q, k, v, o, qBias, kBias, vBias, oBias, mlpNorm, gate, up, down }

  static let huggingFace = LlamaNames(
    embed: "model.embed_tokens.weight", finalNorm: "model.norm.weight", head: "lm_head.weight"
  ) { l, t in
    let p = "model.layers.\(l)."
    switch t {
    case .attnNorm: return p + "input_layernorm.weight"
    case .q: return p + "self_attn.q_proj.weight"
    case .k: return p + "self_attn.k_proj.weight"
    case .v: return p + "self_attn.v_proj.weight"
    case .o: return p + "self_attn.o_proj.weight"
    case .qBias: return p + "self_attn.q_proj.bias"
    case .kBias: return p + "self_attn.k_proj.bias"
    case .vBias: return p + "self_attn.v_proj.bias"
    case .oBias: return p + "self_attn.o_proj.bias"
    case .mlpNorm: return p + "post_attention_layernorm.weight"
    case .gate: return p + "mlp.gate_proj.weight"
    case .up: return p + "mlp.up_proj.weight"
    case .down: return p + "mlp.down_proj.weight"
    }
  }

  static let gguf = LlamaNames(
    embed: "token_embd.weight", finalNorm: "output_norm.weight", head: "output.weight"
  ) {
    l, t in
    let p = "blk.\(l)."
    switch t {
    case .attnNorm: return p + "attn_norm.weight"
    case .q: return p + "attn_q.weight"
    case .k: return p + "attn_k.weight"
    case .v: return p + "attn_v.weight"
    case .o: return p + "attn_output.weight"
    case .qBias: return p + "attn_q.bias"
    case .kBias: return p + "attn_k.bias"
    case .vBias: return p + "attn_v.bias"
    case .oBias: return p + "attn_output.bias"
    case .mlpNorm: return p + "ffn_norm.weight"
    case .gate: return p + "ffn_gate.weight"
    case .up: return p + "ffn_up.weight"
    case .down: return p + "ffn_down.weight"
    }
  }
}

enum Llama {
  /// Builds the model; `ggufPermuted` un-permutes W_q/W_k (and their biases) from GGML's layout.
  static func load(
    config c: ModelConfig, source: any TensorSource, names n: LlamaNames, ggufPermuted: Bool, pool: ThreadPool
  ) throws -> Transformer {
    let loader = WeightLoader(source) { $0.hasSuffix("rotary_emb.inv_freq") }
    let C = c.dModel
    let F = c.dMLP
    let qRows = c.nHeads * c.dHead
    let kvRows = c.nKVHeads * c.dHead
    var layers: [LayerWeights] = []
    for l in 0..<c.nLayers {
      var wq = try loader.load(n.layer(l, .q), [qRows, C])
      var wk = try loader.load(n.layer(l, .k), [kvRows, C])
      let wv = try loader.load(n.layer(l, .v), [kvRows, C])
      var bq: Tensor? = nil
      var bk: Tensor? = nil
      var bv: Tensor? = nil
      if c.qkvBias {
        bq = try loader.load(n.layer(l, .qBias), [qRows])
        bk = try loader.load(n.layer(l, .kBias), [kvRows])
        bv = try loader.load(n.layer(l, .vBias), [kvRows])
      }
      if ggufPermuted {
        wq = unpermuteRotaryRows(wq, heads: c.nHeads)
        wk = unpermuteRotaryRows(wk, heads: c.nKVHeads)
        bq = bq.map { unpermuteRotaryRows($0, heads: c.nHeads) }
        bk = bk.map { unpermuteRotaryRows($0, heads: c.nKVHeads) }
      }
      let qkvBias: Tensor? = c.qkvBias ? concatRows([bq!, bk!, bv!]) : nil
      layers.append(
        LayerWeights(
          ln1Weight: try loader.load(n.layer(l, .attnNorm), [C]), ln1Bias: nil,
          qkvWeight: concatRows([wq, wk, wv]), qkvBias: qkvBias,
          outWeight: try loader.load(n.layer(l, .o), [C, qRows]),
          outBias: c.outputBias ? try loader.load(n.layer(l, .oBias), [C]) : nil,
          ln2Weight: try loader.load(n.layer(l, .mlpNorm), [C]), ln2Bias: nil,
          upWeight: concatRows([
            try loader.load(n.layer(l, .gate), [F, C]), try loader.load(n.layer(l, .up), [F, C]),
          ]),
          upBias: nil, downWeight: try loader.load(n.layer(l, .down), [C, F]), downBias: nil))
    }
    let embed = try loader.load(n.embed, [c.dVocab, C])
    let head = c.tiedEmbeddings ? nil : try loader.loadIfPresent(n.head, [c.dVocab, C])
    if !c.tiedEmbeddings && head == nil { throw ModelError.missingTensor(file: source.path, name: n.head) }
    let weights = ModelWeights(
      tokenEmbedding: embed, positionEmbedding: nil, layers: layers,
      finalNormWeight: try loader.load(n.finalNorm, [C]), finalNormBias: nil, unembed: head ?? embed)
    try loader.finish()
    return Transformer(config: c, weights: weights, source: source.path, pool: pool)
  }

  /// Reads the hyper-parameters of a GGUF `llama` model from its metadata.
  static func config(gguf: GGUFFile) throws -> ModelConfig {
    let file = gguf.path
    func int(_ key: String) throws -> Int {
      guard let v = gguf.metadata[key]?.int else {
        throw ModelError.invalidConfig(file: file, field: key, reason: "missing or not an integer")
      }
      return v
    }
    func float(_ key: String, default d: Float) throws -> Float {
      guard let v = gguf.metadata[key] else { return d }
      guard let f = v.float else {
        throw ModelError.invalidConfig(file: file, field: key, reason: "not a number")
      }
      return f
    }
    let dModel = try int("llama.embedding_length")
    let nHeads = try int("llama.attention.head_count")
    let nKV =
      gguf.metadata["llama.attention.head_count_kv"] == nil
      ? nHeads : try int("llama.attention.head_count_kv")
    guard nHeads > 0 else {
      throw ModelError.invalidConfig(
        file: file, field: "llama.attention.head_count", reason: "must be positive")
    }
    let dHead =
      gguf.metadata["llama.attention.key_length"] == nil
      ? dModel / nHeads : try int("llama.attention.key_length")
    let ropeDim =
      gguf.metadata["llama.rope.dimension_count"] == nil ? dHead : try int("llama.rope.dimension_count")
    if ropeDim != dHead {
      throw ModelError.invalidConfig(
        file: file, field: "llama.rope.dimension_count",
        reason: "partial rotary (\(ropeDim) of \(dHead)) is not supported")
    }
    let vocab: Int
    if gguf.metadata["llama.vocab_size"] != nil {
      vocab = try int("llama.vocab_size")
    } else if let embedShape = try? gguf.shape(of: "token_embd.weight"), embedShape.count == 2 {
      vocab = embedShape[0]
    } else {
      throw ModelError.invalidConfig(file: file, field: "llama.vocab_size", reason: "missing")
    }
    let cfg = ModelConfig(
      architecture: "llama", dModel: dModel, nLayers: try int("llama.block_count"), nHeads: nHeads,
      nKVHeads: nKV,
      dHead: dHead, dMLP: try int("llama.feed_forward_length"), dVocab: vocab,
      nCtx: try int("llama.context_length"), norm: .rmsNorm,
      normEps: try float("llama.attention.layer_norm_rms_epsilon", default: 1e-5),
      positional: .rotary(base: try float("llama.rope.freq_base", default: 10_000), dim: dHead),
      mlp: .gatedSiLU,
      qkvBias: gguf.tensorNames.contains("blk.0.attn_q.bias"), outputBias: false,
      tiedEmbeddings: !gguf.tensorNames.contains("output.weight"))
    try cfg.validate(source: file)
    return cfg
  }
}

/// Undoes llama.cpp's converter permutation of W_q / W_k rows.
/// Within each head of HS rows, GGUF row 2i + j holds Hugging Face row j·HS/2 + i (j ∈ {0, 1}).
/// Works for weights (rows, C) and biases (rows,).
public func unpermuteRotaryRows(_ t: Tensor, heads: Int) -> Tensor {
  let rows = t.shape[0]
  let cols = t.shape.count == 2 ? t.shape[1] : 1
  let hs = rows / heads
  let half = hs / 2
  let out = Tensor(shape: t.shape)
  for h in 0..<heads {
    for i in 0..<half {
      for j in 0..<2 {
        let src = t.pointer + (h * hs + 2 * i + j) * cols
        let dst = out.pointer + (h * hs + j * half + i) * cols
        dst.update(from: src, count: cols)
      }
    }
  }
  return out
}
