// The vocabulary every part of dictionary training shares: which architecture, which kind, the
// sizes, and the named parameter tensors (SAELens v6 names and orientation).
//
// Conventions (SAELens v6, ../shared/research/saelens-format.md): x̂ = f·W_dec + b_dec, `W_enc` is
// [d_in, d_sae] (encode is x·W_enc), `W_dec` is [d_sae, d_out] (rows are features). A crosscoder over
// n hooks stacks a leading layer axis: `W_enc` [n, d_in, d_sae] (one encoder summing over layers),
// `W_dec` [d_sae, n, d_out], `b_dec` [n, d_out], `b_enc` [d_sae].
//
// Legend used in shape comments across this module:
//   B batch rows, n hooks of a crosscoder (1 otherwise), d_in input width, d_out output width
//   (d_in unless a transcoder), S d_sae (latents), k active latents per row.

import LanternTensor

/// The activation function / sparsity mechanism of a dictionary.
public enum Architecture: String, CaseIterable, Sendable, Codable {
  /// ReLU with an L1 penalty weighted by decoder norms (SAELens "standard").
  case relu
  /// Top-k per row, with AuxK on dead latents (Gao et al. 2024).
  case topk
  /// Top k·B over the whole batch; an EMA threshold for inference (Bussmann et al. 2024).
  case batchtopk
  /// Learned per-latent threshold, STE with a rectangle kernel, L0 penalty (Rajamanoharan et al. 2024).
  case jumprelu
  /// BatchTopK with nested prefix reconstruction losses (Bussmann et al. 2025).
  case matryoshka
}

/// What a dictionary reads and reconstructs.
public enum DictionaryKind: String, CaseIterable, Sendable, Codable {
  /// Reconstructs the hook it reads.
  case sae
  /// Reads one hook and reconstructs another; no b_dec subtraction on the input.
  case transcoder
  /// A transcoder plus a linear skip path `W_skip` [d_out, d_in].
  case skipTranscoder = "skip-transcoder"
  /// Reads and reconstructs n hooks at once (acausal; Lindsey et al. 2024).
  case crosscoder
}

/// Names of the parameter tensors, as SAELens spells them (and as checkpoints store them).
public enum ParameterName {
  public static let wEnc = "W_enc"
  public static let bEnc = "b_enc"
  public static let wDec = "W_dec"
  public static let bDec = "b_dec"
  public static let wSkip = "W_skip"
  /// JumpReLU's trained parameter; exported as `threshold` = exp(log_threshold).
  public static let logThreshold = "log_threshold"
  public static let threshold = "threshold"
}
