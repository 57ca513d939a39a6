// `matryoshka` (Bussmann et al. 2025; sae_lens/saes/matryoshka_batchtopk_sae.py): BatchTopK
// activations (BatchTopK.swift) with nested prefix reconstructions. For widths w_1 < … < w_m = S,
// ŷ_j = b_dec + Σ_{s < w_j} f_s·W_dec[s] and the loss adds (1/B)·Σ_b ‖ŷ_j − y‖² for every j < m
// ("inner_mse_<w_j>") to the full MSE — not averaged over levels, as SAELens does. A latent of
// level i (w_{i−1} ≤ s < w_i) therefore receives the upstream gradient G_i = (2/B)·Σ_{j ≥ i} r_j;
// the shared step (DictionaryModel.swift) decodes all levels in one pass and sums the G_j. AuxK
// uses the full residual (SAELens' default use_matryoshka_aux_loss = False).

extension DictionaryHyperparameters {
  /// End (exclusive) latent of each prefix level: the matryoshka widths, or [S] for one level.
  var levelEnds: [Int] { architecture == .matryoshka ? matryoshkaWidths : [dSAE] }

  /// Each latent's level index.
  var latentLevels: [Int] {
    let ends = levelEnds
    var level = 0
    return (0..<dSAE).map { s in
      while s >= ends[level] { level += 1 }
      return level
    }
  }
}
