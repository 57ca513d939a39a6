// ModelConfig: the architecture-independent description the forward pass runs from, in
// researchers' vocabulary (dModel, nHeads, ...). Architecture files translate Hugging Face
// config.json keys and GGUF metadata into it.

/// Kind of normalization layer.
public enum NormKind: Sendable, Equatable { case layerNorm, rmsNorm }

/// How positions enter the model.
public enum Positional: Sendable, Equatable {
  /// A learned position-embedding table added to the token embedding (GPT-2).
  case learned
  /// Rotary embeddings on q and k, with this base and rotary dimension.
  case rotary(base: Float, dim: Int)
}

/// MLP form.
public enum MLPKind: Sendable, Equatable {
  /// fc → GELU (tanh form) → proj, with biases (GPT-2).
  case gelu
  /// down(SiLU(gate(x)) · up(x)), no biases (Llama family).
  case gatedSiLU
}

/// A decoder-only transformer's hyper-parameters.
public struct ModelConfig: Sendable, Equatable {
  /// `model_type` / `general.architecture`, e.g. "gpt2", "llama", "qwen2".
  public var architecture: String
  public var dModel: Int
  public var nLayers: Int
  public var nHeads: Int
  public var nKVHeads: Int
  public var dHead: Int
  public var dMLP: Int
  public var dVocab: Int
  /// Longest context the model was trained for (learned positions cannot go past it).
  public var nCtx: Int
  public var norm: NormKind
  public var normEps: Float
  public var positional: Positional
  public var mlp: MLPKind
  /// Biases on the q, k, v projections (GPT-2, Qwen2).
  public var qkvBias: Bool
  /// Bias on the attention output projection (GPT-2).
  public var outputBias: Bool
  /// Unembedding shares the token-embedding matrix.
  public var tiedEmbeddings: Bool

  public init(
    architecture: String, dModel: Int, nLayers: Int, nHeads: Int, nKVHeads: Int, dHead: Int, dMLP: Int,
    dVocab: Int, nCtx: Int, norm: NormKind, normEps: Float, positional: Positional, mlp: MLPKind,
    qkvBias: Bool, outputBias: Bool, tiedEmbeddings: Bool
  ) {
    self.architecture = architecture
    self.dModel = dModel
    self.nLayers = nLayers
    self.nHeads = nHeads
    self.nKVHeads = nKVHeads
    self.dHead = dHead
    self.dMLP = dMLP
    self.dVocab = dVocab
    self.nCtx = nCtx
    self.norm = norm
    self.normEps = normEps
    self.positional = positional
    self.mlp = mlp
    self.qkvBias = qkvBias
    self.outputBias = outputBias
    self.tiedEmbeddings = tiedEmbeddings
  }

  /// Checks the numbers are positive and consistent; `source` names the file in errors.
  public func validate(source: String) throws {
    func check(_ ok: Bool, _ field: String, _ why: String) throws {
      if !ok { throw ModelError.invalidConfig(file: source, field: field, reason: why) }
    }
    try check(dModel > 0 && dModel <= 1 << 16, "d_model", "\(dModel) must be in 1...65536")
    try check(nLayers > 0 && nLayers <= 1024, "n_layers", "\(nLayers) must be in 1...1024")
    try check(nHeads > 0 && nHeads <= 1024, "n_heads", "\(nHeads) must be in 1...1024")
    try check(
      nKVHeads > 0 && nHeads % nKVHeads == 0, "n_kv_heads", "\(nKVHeads) must divide n_heads \(nHeads)")
    try check(dHead > 0 && dHead <= 1024, "d_head", "\(dHead) must be in 1...1024")
    try check(dMLP > 0 && dMLP <= 1 << 20, "d_mlp", "\(dMLP) must be in 1...1048576")
    try check(dVocab > 0 && dVocab <= 1 << 24, "vocab_size", "\(dVocab) must be in 1...16777216")
    try check(nCtx > 0, "n_ctx", "\(nCtx) must be positive")
    try check(normEps > 0 && normEps < 1, "norm_eps", "\(normEps) must be in (0, 1)")
    if case .rotary(let base, let dim) = positional {
      try check(base > 1, "rope_theta", "\(base) must be > 1")
      try check(
        dim > 0 && dim % 2 == 0 && dim <= dHead, "rope_dim", "\(dim) must be even and ≤ d_head \(dHead)")
    }
  }

  /// Multiply-adds ×2 of a forward pass over `tokens` tokens in batches of length `seqLen`,
  /// through `layers` layers, with or without the unembedding (for GFLOP/s figures).
  public func forwardFLOPs(tokens: Int, seqLen: Int, layers: Int, logits: Bool) -> Double {
    let c = Double(dModel)
    let qkv = c * Double((nHeads + 2 * nKVHeads) * dHead)
    let o = Double(nHeads * dHead) * c
    let mlpMACs = Double(mlp == .gatedSiLU ? 3 : 2) * c * Double(dMLP)
    // attention: q·kᵀ and att·v over the full T×T block, as the kernel computes it.
    let attn = 2 * Double(seqLen) * Double(nHeads * dHead)
    var perToken = Double(layers) * (qkv + o + mlpMACs + attn)
    if logits { perToken += c * Double(dVocab) }
    return 2 * perToken * Double(tokens)
  }
}
