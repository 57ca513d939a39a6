// Statistics of the training data the model's initialisation and input scaling need: the geometric
// median (Weiszfeld's algorithm) for b_dec, and the input scale that makes E‖x‖² = d_in.
//
// The data stream computes these over its first batches and passes them in; the model trains on
// x·scale (and y·scale for transcoders, with the target's own scale), and the exporter folds the
// scales into the weights (docs/training.md, "Input scaling"). Leaves out: reading data.

/// The geometric median of n points in R^d: argmin_m Σ_i ‖x_i − m‖, by Weiszfeld's iteration
/// m ← Σ_i x_i/‖x_i − m‖ / Σ_i 1/‖x_i − m‖ from the mean (distances floored at `epsilon` so a point
/// coinciding with m cannot divide by zero), in Double, until the objective improves by less than
/// `tolerance` (relative) or after `maxIterations`. points is [n, d] row-major.
/// Weiszfeld 1937; the stopping rule follows the `geom_median` package older SAELens used.
public func geometricMedian(
  points: UnsafePointer<Float>, count n: Int, dimension d: Int, maxIterations: Int = 100,
  tolerance: Double = 1e-7, epsilon: Double = 1e-8
) -> [Float] {
  guard n > 0, d > 0 else { return [Float](repeating: 0, count: max(d, 0)) }
  var m = [Double](repeating: 0, count: d)
  for i in 0..<n {
    for j in 0..<d { m[j] += Double(points[i * d + j]) }
  }
  for j in 0..<d { m[j] /= Double(n) }
  func distance(_ i: Int, _ c: [Double]) -> Double {
    var s: Double = 0
    for j in 0..<d {
      let e = Double(points[i * d + j]) - c[j]
      s += e * e
    }
    return s.squareRoot()
  }
  var objective = (0..<n).reduce(0.0) { $0 + distance($1, m) }
  for _ in 0..<maxIterations {
    var next = [Double](repeating: 0, count: d)
    var weights: Double = 0
    for i in 0..<n {
      let w = 1 / max(distance(i, m), epsilon)
      weights += w
      for j in 0..<d { next[j] += w * Double(points[i * d + j]) }
    }
    for j in 0..<d { next[j] /= weights }
    let value = (0..<n).reduce(0.0) { $0 + distance($1, next) }
    let improvement = objective - value
    if value <= objective { m = next }
    if improvement <= tolerance * max(objective, .leastNormalMagnitude) { break }
    objective = min(objective, value)
  }
  return m.map { Float($0) }
}

/// The factor s with E‖s·x‖² = d_in, from the mean squared norm of x (SAELens' "expected average
/// only in" normalisation uses √d_in / E‖x‖; this is the mean-square form the issue states).
public func inputScale(meanSquaredNorm: Double, dimension d: Int) -> Float {
  guard meanSquaredNorm > 0, meanSquaredNorm.isFinite else { return 1 }
  return Float((Double(d) / meanSquaredNorm).squareRoot())
}
