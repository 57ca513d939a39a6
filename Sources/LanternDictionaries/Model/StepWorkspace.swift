// Scratch buffers of the training step, sized for one batch size and reused across steps (they
// hold nothing a checkpoint needs: every step overwrites them before reading).

import LanternKernels
import LanternTensor

struct Workspace {
  var batch = 0
  /// sae_in [B, d_in], pre [B, S], dL/dsae_in [B, d_in].
  var saeIn = Tensor(shape: [0])
  var pre = Tensor(shape: [0])
  var dSaeIn = Tensor(shape: [0])
  /// Per prefix level: residual ŷ_j − y [B, d_out] and upstream gradient G_j [B, d_out].
  var residuals: [Tensor] = []
  var upstream: [Tensor] = []
  /// End (exclusive latent) of each level, and each latent's level.
  var levelEnds: [Int] = []
  var levelOf: [Int] = []
  /// The active entries' inverted index, dL/df and dL/dpre per entry.
  var index = LatentIndex()
  var dValues: [Float] = []
  var dPre: [Float] = []
  /// AuxK entries (raw pre-activations of the selected dead latents), their index and dL/dpre.
  var aux = SparseRows()
  var auxIndex = LatentIndex()
  var auxDPre: [Float] = []
  var auxActive = false
  /// Set for a training step: when the dense path will run, selection builds no CSR entries.
  var countOnlyWhenDense = false
  /// Dense [B, S] scratch: ReLU / JumpReLU outputs before CSR conversion, and JumpReLU's dense
  /// dL/df and the kernel's dpre output.
  var dense = Tensor(shape: [0])
  var denseGrad = Tensor(shape: [0])
  var densePre = Tensor(shape: [0])

  mutating func prepare(config c: DictionaryHyperparameters, batch b: Int) {
    if levelEnds.isEmpty {
      levelEnds = c.levelEnds
      levelOf = c.latentLevels
    }
    if batch != b {
      batch = b
      saeIn = Tensor(shape: [b, c.dIn])
      pre = Tensor(shape: [b, c.dSAE])
      dSaeIn = Tensor(shape: [b, c.dIn])
      residuals = levelEnds.map { _ in Tensor(shape: [b, c.dOut]) }
      upstream = levelEnds.map { _ in Tensor(shape: [b, c.dOut]) }
      if c.architecture == .relu || c.architecture == .jumprelu { dense = Tensor(shape: [b, c.dSAE]) }
      if c.architecture == .relu || c.architecture == .jumprelu {
        denseGrad = Tensor(shape: [b, c.dSAE])
        densePre = Tensor(shape: [b, c.dSAE])
      }
    }
    dSaeIn.fill(0)
    auxActive = false
  }
}
