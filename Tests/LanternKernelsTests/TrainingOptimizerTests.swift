// Adam, the learning-rate schedule, coefficient warm-up and gradient clipping against torch's own
// results (Tests/Fixtures/kernels/adam.safetensors, written by
// Scripts/fixtures/make_optimizer_fixtures.py), plus fast vs naive Adam and clipping determinism.

import Foundation
import LanternFormats
import LanternKernels
import LanternTensor
import LanternTestSupport
import Testing

func loadOptimizerFixture() throws -> SafetensorsFile {
  try SafetensorsFile(url: Fixtures.url("kernels/adam.safetensors"))
}

func doubles(_ file: SafetensorsFile, _ name: String) throws -> [Double] {
  let info = try file.info(name)
  #expect(info.dtype == .f64, "\(name) should be f64")
  return try file.withRawBytes(of: name) { raw in
    (0..<info.elementCount).map { raw.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self) }
  }
}

func expectRelative(_ a: [Double], _ b: [Double], tol: Double, _ what: String) {
  #expect(a.count == b.count, "\(what): length \(a.count) vs \(b.count)")
  for (x, y) in zip(a, b) {
    #expect(abs(x - y) <= tol * max(abs(y), 1e-12), "\(what): \(x) vs torch \(y)")
  }
}

@Test func adamMatchesNaive() {
  let n = 1037
  let grad = random(n, seed: 61, scale: 0.1)
  var p1 = random(n, seed: 62)
  var m1 = random(n, seed: 63, scale: 0.01)
  var v1 = random(n, seed: 64, scale: 0.001).map(abs)
  var p2 = p1
  var m2 = m1
  var v2 = v1
  adamStep(param: &p1, expAvg: &m1, expAvgSq: &v1, grad: grad, count: n, step: 3, lr: 1e-3, pool: pool)
  adamStepNaive(param: &p2, expAvg: &m2, expAvgSq: &v2, grad: grad, count: n, step: 3, lr: 1e-3)
  #expect(p1 == p2 && m1 == m2 && v1 == v2)
}

@Test func adamWithClippingAndScheduleMatchesTorch() throws {
  let file = try loadOptimizerFixture()
  let schedule = LearningRateSchedule(
    kind: .cosineAnnealing, lr: 1e-2, trainingSteps: 5, warmUpSteps: 2, decaySteps: 1, lrEnd: 1e-3)
  let lrUsed = try doubles(file, "lr_used")
  let norms = try doubles(file, "total_norm")
  let params = try (0..<3).map { try file.loadTensor("p\($0)_init").array }
  var p = params
  var m = params.map { [Float](repeating: 0, count: $0.count) }
  var v = m
  for t in 0..<5 {
    var g0 = try file.loadTensor("g\(t)_0").array
    var g1 = try file.loadTensor("g\(t)_1").array
    var g2 = try file.loadTensor("g\(t)_2").array
    let total = g0.withUnsafeMutableBufferPointer { b0 in
      g1.withUnsafeMutableBufferPointer { b1 in
        g2.withUnsafeMutableBufferPointer { b2 in
          clipGradientsByGlobalNorm(
            [(b0.baseAddress!, b0.count), (b1.baseAddress!, b1.count), (b2.baseAddress!, b2.count)],
            maxNorm: 1.0, pool: pool)
        }
      }
    }
    let grads = [g0, g1, g2]
    expectRelative([total], [norms[t]], tol: 1e-6, "total norm at step \(t)")
    let lr = schedule.lr(atStep: t)
    expectRelative([lr], [lrUsed[t]], tol: 1e-9, "lr at step \(t)")
    for i in 0..<3 {
      adamStep(
        param: &p[i], expAvg: &m[i], expAvgSq: &v[i], grad: grads[i], count: p[i].count, step: t + 1, lr: lr,
        pool: pool)
      let want = try file.loadTensor("p\(i)_after\(t)").array
      let (diff, scale) = maxAbsDifference(p[i], want)
      #expect(diff <= 1e-6 * scale, "p\(i) after step \(t): max |Δ| \(diff) (scale \(scale))")
    }
  }
  for i in 0..<3 {
    let (dm, sm) = maxAbsDifference(m[i], try file.loadTensor("m\(i)").array)
    #expect(dm <= 1e-6 * sm, "exp_avg \(i): \(dm) (scale \(sm))")
    let (dv, sv) = maxAbsDifference(v[i], try file.loadTensor("v\(i)").array)
    #expect(dv <= 1e-6 * sv, "exp_avg_sq \(i): \(dv) (scale \(sv))")
  }
}

@Test func scheduleMatchesSAELens() throws {
  let file = try loadOptimizerFixture()
  let json = try #require(file.metadata["schedules"])
  let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8))
  let configs = try #require(parsed as? [String: [Any]])
  #expect(configs.count == 6)
  for (name, c) in configs {
    let kindName = try #require(c[0] as? String)
    let kind = try #require(LearningRateSchedule.Kind(rawValue: kindName))
    let lr = try #require((c[1] as? NSNumber)?.doubleValue)
    let steps = try #require(c[2] as? Int)
    let warm = try #require(c[3] as? Int)
    let decay = try #require(c[4] as? Int)
    let lrEnd = try #require((c[5] as? NSNumber)?.doubleValue)
    let schedule = LearningRateSchedule(
      kind: kind, lr: lr, trainingSteps: steps, warmUpSteps: warm, decaySteps: decay, lrEnd: lrEnd)
    let want = try doubles(file, "sched_\(name)")
    let got = (0..<steps).map { schedule.lr(atStep: $0) }
    expectRelative(got, want, tol: 1e-9, "schedule \(name)")
  }
}

@Test func coefficientWarmUpMatchesSAELens() throws {
  let want = try doubles(try loadOptimizerFixture(), "coef")
  let got = (0..<want.count).map { warmedUpCoefficient(step: $0, warmUpSteps: 3, finalValue: 5) }
  expectRelative(got, want, tol: 1e-12, "coefficient warm-up")
}

@Test func globalNormIsDeterministicAndExact() {
  let a = random(10_007, seed: 71)
  let b = random(13, seed: 72)
  var naive = 0.0
  for x in a + b { naive += Double(x) * Double(x) }
  var results: [Double] = []
  for threads in [1, 2, 3] {
    results.append(
      a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
          globalGradientNorm(
            [(pa.baseAddress!, pa.count), (pb.baseAddress!, pb.count)], pool: ThreadPool(threadCount: threads)
          )
        }
      })
  }
  #expect(results[0] == results[1] && results[1] == results[2])
  #expect(abs(results[0] - naive.squareRoot()) <= 1e-12 * naive.squareRoot())
}

@Test func clippingTensorsMatchesPointerForm() {
  let a = Tensor(shape: [37, 3], values: random(111, seed: 73, scale: 3))
  let b = Tensor(shape: [5], values: random(5, seed: 74, scale: 3))
  var pa = a.array
  var pb = b.array
  let t1 = clipGradientsByGlobalNorm([a, b], maxNorm: 2, pool: pool)
  let t2 = pa.withUnsafeMutableBufferPointer { x in
    pb.withUnsafeMutableBufferPointer { y in
      clipGradientsByGlobalNorm(
        [(x.baseAddress!, x.count), (y.baseAddress!, y.count)], maxNorm: 2, pool: pool)
    }
  }
  #expect(t1 == t2 && a.array == pa && b.array == pb)
  // After clipping the global norm is max_norm (up to the 1e-6 in the coefficient and rounding).
  let after = clipGradientsByGlobalNorm([a, b], maxNorm: 1e9, pool: pool)
  #expect(abs(after - 2) < 1e-5)
}
