// The tensor core: pool partitioning, BLAS-backed linear against a naive product, half precision.

import LanternTensor
import LanternTestSupport
import Synchronization
import Testing

@Test func poolCoversEveryIndexExactlyOnce() {
  for threads in [1, 2, 3] {
    let pool = ThreadPool(threadCount: threads)
    for n in [0, 1, 2, 5, 1000] {
      let hits = Mutex([Int](repeating: 0, count: n))
      for _ in 0..<20 {
        pool.parallelFor(n) { range in hits.withLock { h in for i in range { h[i] += 1 } } }
      }
      hits.withLock { h in #expect(h.allSatisfy { $0 == 20 }, "threads \(threads), n \(n)") }
    }
  }
}

@Test(arguments: [(1, 7, 5), (64, 33, 17), (3, 300, 40)])
func linearMatchesNaiveProduct(m: Int, n: Int, k: Int) {
  BLAS.configureSingleThreaded()
  let pool = ThreadPool(threadCount: 2)
  var rng = SplitMix64(seed: 42)
  let a = (0..<(m * k)).map { _ in rng.nextFloat() - 0.5 }
  let w = (0..<(n * k)).map { _ in rng.nextFloat() - 0.5 }
  var out = [Float](repeating: 1, count: m * n)
  pool.linear(out: &out, inp: a, weight: w, m: m, n: n, k: k, accumulate: true)
  for i in 0..<m {
    for j in 0..<n {
      var ref = 1.0
      for p in 0..<k { ref += Double(a[i * k + p]) * Double(w[j * k + p]) }
      #expect(abs(Double(out[i * n + j]) - ref) < 1e-4)
    }
  }
}

@Test func bfloat16RoundsToNearestEven() {
  // Bit patterns worked out from the IEEE-754 definition, independent of the code under test.
  let cases: [(UInt32, UInt16)] = [
    (0x3F80_0000, 0x3F80),  // 1.0
    (0x3F80_8000, 0x3F80),  // tie, even stays
    (0x3F81_8000, 0x3F82),  // tie, odd rounds up
    (0x3F80_8001, 0x3F81),  // above the tie
    (0x3F80_7FFF, 0x3F80),  // below the tie
    (0x7F7F_FFFF, 0x7F80),  // FLT_MAX rounds to +inf
    (0xFF80_0000, 0xFF80),  // -inf
    (0x0000_0001, 0x0000),  // smallest subnormal → +0
  ]
  let src = cases.map { Float(bitPattern: $0.0) }
  var dst = [UInt16](repeating: 0, count: src.count)
  HalfPrecision.float32ToBFloat16(src, &dst, count: src.count)
  for (i, c) in cases.enumerated() { #expect(dst[i] == c.1, "bf16(\(String(c.0, radix: 16)))") }
  var nan = [UInt16](repeating: 0, count: 1)
  HalfPrecision.float32ToBFloat16([Float.nan], &nan, count: 1)
  #expect(Float(bitPattern: UInt32(nan[0]) << 16).isNaN)
  var back = [Float](repeating: 0, count: dst.count)
  HalfPrecision.bfloat16ToFloat32(dst, &back, count: dst.count)
  #expect(back[0] == 1 && back[2] == Float(bitPattern: 0x3F82_0000))
}

@Test func float16ConversionsMatchScalarAndKnownBits() {
  // Known binary16 patterns: 1.0 = 0x3C00, -2.0 = 0xC000, 65504 = 0x7BFF, 2^-24 = 0x0001.
  let known: [(Float, UInt16)] = [(1, 0x3C00), (-2, 0xC000), (65504, 0x7BFF), (5.960_464_5e-8, 0x0001)]
  var rng = SplitMix64(seed: 7)
  let src = known.map(\.0) + (0..<37).map { _ in (rng.nextFloat() - 0.5) * 1000 }
  var half = [UInt16](repeating: 0, count: src.count)
  HalfPrecision.float32ToFloat16(src, &half, count: src.count)
  for (i, k) in known.enumerated() { #expect(half[i] == k.1) }
  for i in 0..<src.count { #expect(half[i] == Float16(src[i]).bitPattern) }  // vector path = scalar path
  var back = [Float](repeating: 0, count: src.count)
  HalfPrecision.float16ToFloat32(half, &back, count: src.count)
  for i in 0..<src.count { #expect(back[i] == Float(Float16(bitPattern: half[i]))) }
}
