// Hook point names, exactly as TransformerLens spells them. Every string is built here and
// nowhere else, so a typo cannot hide at a call site.
//
// Semantics (documented in docs/hooks.md): values are those of the unprocessed Hugging Face model
// (TransformerLens' `from_pretrained_no_processing`), except `lnX.hook_normalized`, which is
// the normalized value *before* the norm's affine weight and bias, as TransformerLens' folded
// LayerNormPre / RMSNormPre record it.

/// Builders for TransformerLens hook point names.
public enum HookPoint {
  public static let embed = "hook_embed"
  public static let posEmbed = "hook_pos_embed"
  public static let finalScale = "ln_final.hook_scale"
  public static let finalNormalized = "ln_final.hook_normalized"

  public static func residPre(_ l: Int) -> String { "blocks.\(l).hook_resid_pre" }
  public static func residMid(_ l: Int) -> String { "blocks.\(l).hook_resid_mid" }
  public static func residPost(_ l: Int) -> String { "blocks.\(l).hook_resid_post" }
  public static func attnOut(_ l: Int) -> String { "blocks.\(l).hook_attn_out" }
  public static func mlpOut(_ l: Int) -> String { "blocks.\(l).hook_mlp_out" }
  public static func ln1Scale(_ l: Int) -> String { "blocks.\(l).ln1.hook_scale" }
  public static func ln1Normalized(_ l: Int) -> String { "blocks.\(l).ln1.hook_normalized" }
  public static func ln2Scale(_ l: Int) -> String { "blocks.\(l).ln2.hook_scale" }
  public static func ln2Normalized(_ l: Int) -> String { "blocks.\(l).ln2.hook_normalized" }
  public static func q(_ l: Int) -> String { "blocks.\(l).attn.hook_q" }
  public static func k(_ l: Int) -> String { "blocks.\(l).attn.hook_k" }
  public static func v(_ l: Int) -> String { "blocks.\(l).attn.hook_v" }
  public static func rotQ(_ l: Int) -> String { "blocks.\(l).attn.hook_rot_q" }
  public static func rotK(_ l: Int) -> String { "blocks.\(l).attn.hook_rot_k" }
  public static func attnScores(_ l: Int) -> String { "blocks.\(l).attn.hook_attn_scores" }
  public static func pattern(_ l: Int) -> String { "blocks.\(l).attn.hook_pattern" }
  public static func z(_ l: Int) -> String { "blocks.\(l).attn.hook_z" }
  public static func mlpPre(_ l: Int) -> String { "blocks.\(l).mlp.hook_pre" }
  public static func mlpPreLinear(_ l: Int) -> String { "blocks.\(l).mlp.hook_pre_linear" }
  public static func mlpPost(_ l: Int) -> String { "blocks.\(l).mlp.hook_post" }

  /// The layer a hook name belongs to (`blocks.L.…`), or nil for embedding/final hooks.
  public static func layer(of name: String) -> Int? {
    guard name.hasPrefix("blocks.") else { return nil }
    let rest = name.dropFirst("blocks.".count)
    guard let dot = rest.firstIndex(of: ".") else { return nil }
    return Int(rest[..<dot])
  }

  /// The width of one token's row at `name` (the product of its shape after (B, T)), or nil for
  /// hooks that are not per token (`attn_scores`, `pattern`: one row per head and position pair).
  public static func tokenWidth(of name: String, config c: ModelConfig) -> Int? {
    if name.hasSuffix("hook_attn_scores") || name.hasSuffix("hook_pattern") { return nil }
    if name.hasSuffix("hook_scale") { return 1 }
    if name.hasSuffix("mlp.hook_pre") || name.hasSuffix("mlp.hook_post")
      || name.hasSuffix("mlp.hook_pre_linear")
    {
      return c.dMLP
    }
    if name.hasSuffix("attn.hook_q") || name.hasSuffix("attn.hook_rot_q") || name.hasSuffix("attn.hook_z") {
      return c.nHeads * c.dHead
    }
    if name.hasSuffix("attn.hook_k") || name.hasSuffix("attn.hook_v") || name.hasSuffix("attn.hook_rot_k") {
      return c.nKVHeads * c.dHead
    }
    return c.dModel
  }

  /// Every hook name a model with this configuration exposes, in forward order.
  public static func all(for config: ModelConfig) -> [String] {
    var names = [embed]
    if config.positional == .learned { names.append(posEmbed) }
    for l in 0..<config.nLayers {
      names += [residPre(l), ln1Scale(l), ln1Normalized(l), q(l), k(l), v(l)]
      if case .rotary = config.positional { names += [rotQ(l), rotK(l)] }
      names += [attnScores(l), pattern(l), z(l), attnOut(l), residMid(l), ln2Scale(l), ln2Normalized(l)]
      names.append(mlpPre(l))
      if config.mlp == .gatedSiLU { names.append(mlpPreLinear(l)) }
      names += [mlpPost(l), mlpOut(l), residPost(l)]
    }
    names += [finalScale, finalNormalized]
    return names
  }
}
