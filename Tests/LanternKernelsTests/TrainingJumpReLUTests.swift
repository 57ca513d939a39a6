// JumpReLU and its L0 step: fast vs naive (a direct evaluation of SAELens' STE formulas) with many
// entries inside the kernel window, thread-count independence, a hand-worked case, and finite
// differences of the smooth part (∂f/∂h away from the threshold).

import LanternKernels
import LanternTensor
import LanternTestSupport
import Testing

/// Pre-activations near a positive threshold, so a good share falls inside the rectangle window.
func jumpReLUProblem(batch: Int, s: Int, seed: UInt64) -> (pre: [Float], threshold: [Float], g: [Float]) {
  let threshold = random(s, seed: seed).map { 0.3 + 0.2 * $0 }
  let pre = random(batch * s, seed: seed + 1, scale: 0.4).enumerated().map {
    $0.element + threshold[$0.offset % s]
  }
  return (pre, threshold, random(batch * s, seed: seed + 2))
}

@Test(arguments: [(7, 37, false), (5, 29, true), (1, 1, true), (13, 70, false)])
func jumpReLUMatchesNaive(batch: Int, s: Int, steToInput: Bool) {
  let (pre, threshold, g) = jumpReLUProblem(batch: batch, s: s, seed: UInt64(s))
  var out = [Float](repeating: 0, count: batch * s)
  jumpReLUForward(out: &out, pre: pre, threshold: threshold, batch: batch, latents: s, pool: pool)
  for i in 0..<(batch * s) { #expect(out[i] == (pre[i] > threshold[i % s] ? pre[i] : 0)) }
  var runs: [([Float], [Float])] = []
  for threads in [1, 2, 3] {
    var dPre = [Float](repeating: .nan, count: batch * s)
    var dTheta = random(s, seed: 9)
    jumpReLUBackward(
      dPre: &dPre, dThreshold: &dTheta, dOut: g, pre: pre, threshold: threshold, bandwidth: 0.1,
      steToInput: steToInput, batch: batch, latents: s, pool: ThreadPool(threadCount: threads))
    runs.append((dPre, dTheta))
  }
  #expect(runs[0].0 == runs[1].0 && runs[1].0 == runs[2].0)
  #expect(runs[0].1 == runs[1].1 && runs[1].1 == runs[2].1)
  var dPre = [Float](repeating: .nan, count: batch * s)
  var dTheta = random(s, seed: 9)
  jumpReLUBackwardNaive(
    dPre: &dPre, dThreshold: &dTheta, dOut: g, pre: pre, threshold: threshold, bandwidth: 0.1,
    steToInput: steToInput, batch: batch, latents: s)
  #expect(runs[1].0 == dPre)
  assertClose(runs[1].1, dTheta, tol: 1e-5, "dThreshold")

  var l0 = [Float](repeating: 0, count: batch)
  stepL0Forward(l0: &l0, pre: pre, threshold: threshold, batch: batch, latents: s, pool: pool)
  for b in 0..<batch {
    #expect(Int(l0[b]) == (0..<s).filter { pre[b * s + $0] > threshold[$0] }.count)
  }
  let dL0 = random(batch, seed: 10)
  var sPre1 = random(batch * s, seed: 11)
  var sTheta1 = random(s, seed: 12)
  var sPre2 = sPre1
  var sTheta2 = sTheta1
  sPre1.withUnsafeMutableBufferPointer { p1 in
    sPre2.withUnsafeMutableBufferPointer { p2 in
      stepL0Backward(
        dPre: steToInput ? p1.baseAddress : nil, dThreshold: &sTheta1, dL0: dL0, pre: pre,
        threshold: threshold, bandwidth: 0.1, batch: batch, latents: s, pool: pool)
      stepL0BackwardNaive(
        dPre: steToInput ? p2.baseAddress : nil, dThreshold: &sTheta2, dL0: dL0, pre: pre,
        threshold: threshold, bandwidth: 0.1, batch: batch, latents: s)
    }
  }
  #expect(sPre1 == sPre2)
  assertClose(sTheta1, sTheta2, tol: 1e-5, "step dThreshold")
}

@Test func jumpReLUSTEHandWorked() {
  // θ = 1, ε = 0.5, g = 1: (h − θ)/ε = 0.4, −0.2, 0.6, −0.6, so the first two are in the window,
  // each giving −θ/ε = −2 (JumpReLU) or −1/ε = −2 (step) to dθ.
  let pre: [Float] = [1.2, 0.9, 1.3, 0.7]
  let threshold: [Float] = [1]
  let ones: [Float] = [1, 1, 1, 1]
  for ste in [false, true] {
    var dPre = [Float](repeating: 0, count: 4)
    var dTheta: [Float] = [0]
    jumpReLUBackward(
      dPre: &dPre, dThreshold: &dTheta, dOut: ones, pre: pre, threshold: threshold, bandwidth: 0.5,
      steToInput: ste, batch: 4, latents: 1, pool: pool)
    #expect(dTheta == [-4])
    #expect(dPre == (ste ? [3, 2, 1, 0] : [1, 0, 1, 0]))
  }
  var dTheta: [Float] = [0]
  var dPre = [Float](repeating: 0, count: 4)
  stepL0Backward(
    dPre: &dPre, dThreshold: &dTheta, dL0: ones, pre: pre, threshold: threshold, bandwidth: 0.5, batch: 4,
    latents: 1, pool: pool)
  #expect(dTheta == [-4])
  #expect(dPre == [2, 2, 0, 0])
  var dLog: [Float] = [0]
  logThresholdGradient(dLogThreshold: &dLog, dThreshold: [3], threshold: [0.5], latents: 1)
  #expect(dLog == [1.5])
}

@Test func jumpReLUSmoothPartMatchesFiniteDifferences() {
  let (batch, s) = (4, 9)
  let problem = jumpReLUProblem(batch: batch, s: s, seed: 90)
  let (threshold, r) = (problem.threshold, problem.g)
  var pre = problem.pre
  // Keep every h at least 1e-3 from its threshold, where f is smooth (linear or zero).
  for i in 0..<pre.count where abs(pre[i] - threshold[i % s]) < 1e-3 { pre[i] += 2e-3 }
  func loss(_ h: [Double]) -> Double {
    h.indices.reduce(0.0) { acc, i in
      let f = h[i] > Double(threshold[i % s]) ? h[i] : 0
      return acc + Double(r[i]) * f * f / 2
    }
  }
  var out = [Float](repeating: 0, count: batch * s)
  jumpReLUForward(out: &out, pre: pre, threshold: threshold, batch: batch, latents: s, pool: pool)
  let dOut = zip(out, r).map { $0 * $1 }
  var dPre = [Float](repeating: 0, count: batch * s)
  var dTheta = [Float](repeating: 0, count: s)
  jumpReLUBackward(
    dPre: &dPre, dThreshold: &dTheta, dOut: dOut, pre: pre, threshold: threshold, bandwidth: 0.05,
    steToInput: false, batch: batch, latents: s, pool: pool)
  expectGradient(dPre, finiteDifference(pre.map(Double.init), h: 1e-5, loss), "jumprelu dPre")
}
