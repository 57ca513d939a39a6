// Decoder-row norms, their backward, the parallel-gradient removal and renormalisation: fast vs naive
// for SAE rows (L = 1) and crosscoder segments (L = 3), the constraints' defining properties, and
// finite differences in Double for the norms' backward.

import LanternKernels
import LanternTensor
import LanternTestSupport
import Testing

@Test(arguments: [(37, 1, 19), (11, 3, 7), (1, 1, 1), (5, 2, 40)])
func decoderNormsMatchNaive(s: Int, layers: Int, d: Int) {
  let count = s * layers * d
  var w = random(count, seed: UInt64(count), scale: 2)
  for c in 0..<d { w[c] = 0 }  // a zero segment
  var n1 = [Float](repeating: 0, count: s * layers)
  var n2 = n1
  decoderRowNorms(norms: &n1, decoder: w, latents: s, layers: layers, dim: d, pool: pool)
  decoderRowNormsNaive(norms: &n2, decoder: w, latents: s, layers: layers, dim: d)
  assertClose(n1, n2, tol: 1e-6, "row norms")

  var u1 = w
  var u2 = w
  normalizeDecoderRows(decoder: &u1, latents: s, layers: layers, dim: d, pool: pool)
  normalizeDecoderRowsNaive(decoder: &u2, latents: s, layers: layers, dim: d)
  assertClose(u1, u2, tol: 1e-6, "normalised rows")
  var unit = [Float](repeating: 0, count: s * layers)
  decoderRowNorms(norms: &unit, decoder: u1, latents: s, layers: layers, dim: d, pool: pool)
  #expect(unit[0] == 0, "a zero segment stays zero")
  for seg in 1..<(s * layers) { #expect(abs(unit[seg] - 1) < 1e-5, "segment \(seg) norm \(unit[seg])") }

  let g = random(count, seed: 5)
  var g1 = g
  var g2 = g
  removeParallelDecoderGradient(grad: &g1, decoder: u1, latents: s, layers: layers, dim: d, pool: pool)
  removeParallelDecoderGradientNaive(grad: &g2, decoder: u1, latents: s, layers: layers, dim: d)
  assertClose(g1, g2, tol: 1e-5, "parallel removal")
  for seg in 0..<(s * layers) {
    var along = 0.0
    for c in 0..<d { along += Double(g1[seg * d + c]) * Double(u1[seg * d + c]) }
    #expect(abs(along) < 1e-5, "segment \(seg) keeps a parallel component \(along)")
  }
}

@Test func decoderNormsBackwardMatchesFiniteDifferences() {
  let (s, layers, d) = (4, 2, 5)
  let w = random(s * layers * d, seed: 81)
  let r = random(s * layers, seed: 82)
  // L = Σ r[seg]·‖w_seg‖ (the shape of λ·Σ f_i‖W_dec,i‖ and of the crosscoder's per-layer sum).
  func loss(_ w: [Double]) -> Double {
    (0..<(s * layers)).reduce(0.0) { acc, seg in
      acc + Double(r[seg]) * (0..<d).reduce(0.0) { $0 + w[seg * d + $1] * w[seg * d + $1] }.squareRoot()
    }
  }
  var norms = [Float](repeating: 0, count: s * layers)
  decoderRowNorms(norms: &norms, decoder: w, latents: s, layers: layers, dim: d, pool: pool)
  var dW = [Float](repeating: 0, count: w.count)
  decoderRowNormsBackward(
    dDecoder: &dW, dNorms: r, decoder: w, norms: norms, latents: s, layers: layers, dim: d, pool: pool)
  expectGradient(dW, finiteDifference(w.map(Double.init), loss), "row-norm backward")
}
