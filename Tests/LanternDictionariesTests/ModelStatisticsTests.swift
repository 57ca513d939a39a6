// The geometric median against properties that define it (not against its own output): the 1-D
// median on a line, optimality against perturbed points, and robustness to an outlier.

import LanternDictionaries
import LanternTensor
import Testing

func objective(_ pts: [Float], _ d: Int, _ m: [Float]) -> Double {
  stride(from: 0, to: pts.count, by: d).reduce(0.0) { total, start in
    var s: Double = 0
    for j in 0..<d {
      let e = Double(pts[start + j]) - Double(m[j])
      s += e * e
    }
    return total + s.squareRoot()
  }
}

@Test func geometricMedianOfCollinearPointsIsTheMedian() {
  // Five points on the line t·(1, 2, −1): the geometric median is the middle one, t = 0.5.
  let ts: [Float] = [-3, 0.5, 9, 0.1, 20]
  let pts = ts.flatMap { [$0, 2 * $0, -$0] }
  let m = pts.withUnsafeBufferPointer { geometricMedian(points: $0.baseAddress!, count: 5, dimension: 3) }
  #expect(abs(m[0] - 0.5) < 1e-3 && abs(m[1] - 1) < 2e-3 && abs(m[2] + 0.5) < 1e-3, "\(m)")
}

@Test func geometricMedianIsOptimalAndRobust() {
  var rng = SeededRandom(seed: 3)
  let n = 200
  let d = 7
  var pts = (0..<(n * d)).map { _ in rng.nextNormal() + 1 }
  for j in 0..<d { pts[j] = 1000 }  // one far outlier
  let m = pts.withUnsafeBufferPointer { geometricMedian(points: $0.baseAddress!, count: n, dimension: d) }
  let best = objective(pts, d, m)
  for _ in 0..<40 {
    let moved = m.map { $0 + 0.01 * rng.nextNormal() }
    #expect(objective(pts, d, moved) >= best - 1e-6 * best)
  }
  // The mean is pulled ~5 towards the outlier in every coordinate; the median stays near 1.
  #expect(m.allSatisfy { abs($0 - 1) < 0.3 }, "\(m)")
}

@Test func inputScaleMakesMeanSquaredNormTheWidth() {
  let s = inputScale(meanSquaredNorm: 400, dimension: 16)
  #expect(abs(Double(s * s) * 400 - 16) < 1e-4)
  #expect(inputScale(meanSquaredNorm: 0, dimension: 16) == 1)
}
