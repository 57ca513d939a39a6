// Model weights in the layout the forward pass wants: every projection as an nn.Linear-style
// (out, in) matrix, q/k/v fused into one matrix and gate/up fused into one, so each is a single
// larger GEMM. Architecture files fill these from Hugging Face or GGUF tensors.

import LanternTensor

/// One decoder block's weights.
public struct LayerWeights: @unchecked Sendable {
  /// Attention norm (C,), and its bias for LayerNorm.
  public var ln1Weight: Tensor
  public var ln1Bias: Tensor?
  /// Fused [W_q; W_k; W_v], ((NH + 2·NKV)·HS, C), and its bias.
  public var qkvWeight: Tensor
  public var qkvBias: Tensor?
  /// Attention output projection (C, NH·HS), and its bias.
  public var outWeight: Tensor
  public var outBias: Tensor?
  /// MLP norm (C,), and its bias for LayerNorm.
  public var ln2Weight: Tensor
  public var ln2Bias: Tensor?
  /// GELU MLP: W_in (F, C). Gated MLP: fused [W_gate; W_up] (2F, C).
  public var upWeight: Tensor
  public var upBias: Tensor?
  /// W_out (C, F), and its bias.
  public var downWeight: Tensor
  public var downBias: Tensor?
}

/// All weights of a decoder-only transformer.
public struct ModelWeights: @unchecked Sendable {
  /// Token embedding (V, C).
  public var tokenEmbedding: Tensor
  /// Learned positions (n_ctx, C), GPT-2 only.
  public var positionEmbedding: Tensor?
  public var layers: [LayerWeights]
  /// Final norm (C,), and its bias for LayerNorm.
  public var finalNormWeight: Tensor
  public var finalNormBias: Tensor?
  /// Unembedding (V, C); the same object as `tokenEmbedding` when tied.
  public var unembed: Tensor
}

/// Concatenates matrices with equal column counts along rows.
func concatRows(_ parts: [Tensor]) -> Tensor {
  let cols = parts[0].shape.count == 2 ? parts[0].shape[1] : 1
  let rows = parts.reduce(0) { $0 + $1.count / cols }
  let out = Tensor(shape: cols == 1 && parts[0].shape.count == 1 ? [rows] : [rows, cols])
  var offset = 0
  for p in parts {
    (out.pointer + offset).update(from: p.pointer, count: p.count)
    offset += p.count
  }
  return out
}

/// The transpose of a 2-D tensor (for GPT-2's Conv1D (in, out) weights).
func transposed(_ t: Tensor) -> Tensor {
  let r = t.shape[0]
  let c = t.shape[1]
  let out = Tensor(shape: [c, r])
  for i in 0..<r { for j in 0..<c { out.pointer[j * r + i] = t.pointer[i * c + j] } }
  return out
}
