// Opt-in bf16 GEMMs (`compute: bf16`): out = inp·Wᵀ with bf16 operands and fp32 accumulation through
// oneDNN's matmul, which on CPUs with AMX or AVX512_BF16 runs 2–3× faster than fp32 sgemm (measured in
// BENCHMARKS.md). Inputs are rounded to bf16 on every call (nearest-even, our own threaded conversion);
// each weight tensor is rounded once, on first use, and kept beside it for its lifetime (a weak
// reference detects a tensor freed and its address reused). oneDNN is loaded with dlopen (COneDNN), so
// fp32 — the default — needs nothing beyond OpenBLAS. Results are deterministic for a given thread count
// (oneDNN's static partition), but differ from fp32 by bf16 rounding: shards record the compute type.

import COneDNN
import Foundation

/// How GEMMs compute.
public enum ComputeType: String, Sendable, CaseIterable, Codable {
  /// Float32 operands and accumulation (OpenBLAS sgemm). The default.
  case fp32
  /// bf16 operands, fp32 accumulation (oneDNN matmul; AMX / AVX512_BF16 CPUs).
  case bf16
}

/// Why bf16 compute is unavailable here.
public struct ComputeError: Error, CustomStringConvertible, Sendable {
  public let description: String
  public init(_ message: String) { description = message }
}

/// oneDNN bf16 matmuls with per-weight bf16 copies and per-shape primitives.
public final class BF16GEMM: @unchecked Sendable {
  private final class WeightEntry {
    weak var tensor: Tensor?
    let bits: UnsafeMutablePointer<UInt16>
    init(tensor: Tensor) {
      self.tensor = tensor
      bits = .allocate(capacity: tensor.count)
      HalfPrecision.float32ToBFloat16(tensor.pointer, bits, count: tensor.count)
    }
    deinit { bits.deallocate() }
  }

  private struct Shape: Hashable { let m: Int, n: Int, k: Int }

  private let lock = NSLock()
  private var weights: [ObjectIdentifier: WeightEntry] = [:]
  private var primitives: [Shape: UnsafeMutableRawPointer] = [:]
  private var input = UnsafeMutablePointer<UInt16>.allocate(capacity: 1)
  private var inputCapacity = 1
  /// A C message buffer as text (up to its terminating zero).
  private func text(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// oneDNN's implementation for the last shape made (e.g. "brg:avx512_core_amx_bf16").
  public private(set) var implementation = "none yet"

  /// Loads oneDNN with `threads` OpenMP threads; throws when it is missing or unusable.
  public init(threads: Int) throws {
    var message = [CChar](repeating: 0, count: 256)
    guard lantern_onednn_open(Int32(threads), &message, message.count) == 0 else {
      throw ComputeError(
        "compute bf16: \(text(message)) ---> HINT: apt-get install libdnnl2, or use compute: fp32")
    }
    // Fail now rather than mid-job if this CPU has no bf16 matmul.
    _ = try primitive(Shape(m: 16, n: 16, k: 16))
  }

  deinit {
    input.deallocate()
  }

  private func primitive(_ shape: Shape) throws -> UnsafeMutableRawPointer {
    if let p = primitives[shape] { return p }
    var message = [CChar](repeating: 0, count: 256)
    guard let p = lantern_onednn_matmul_create(Int64(shape.m), Int64(shape.n), Int64(shape.k), &message, 256)
    else {
      throw ComputeError("compute bf16: \(text(message)) ---> HINT: use compute: fp32 on this CPU")
    }
    primitives[shape] = p
    implementation = String(cString: lantern_onednn_matmul_implementation(p))
    return p
  }

  /// out[m,n] = bf16(inp[m,k]) · bf16(weight[n,k])ᵀ in fp32. The input rounding runs on `pool`.
  public func linear(
    out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: Tensor, m: Int, n: Int, k: Int,
    pool: ThreadPool
  ) {
    precondition(weight.count == n * k, "weight \(weight.shape) is not [\(n), \(k)]")
    lock.lock()
    defer { lock.unlock() }
    let id = ObjectIdentifier(weight)
    let entry: WeightEntry
    if let e = weights[id], e.tensor === weight {
      entry = e
    } else {
      entry = WeightEntry(tensor: weight)
      weights[id] = entry
    }
    if m * k > inputCapacity {
      input.deallocate()
      inputCapacity = m * k
      input = .allocate(capacity: inputCapacity)
    }
    let bits = input
    pool.parallelFor(m) { rows in
      HalfPrecision.float32ToBFloat16(
        inp + rows.lowerBound * k, bits + rows.lowerBound * k, count: rows.count * k)
    }
    // Shapes were all proven at init (a 16×16×16 primitive exists); a failure here is a oneDNN bug.
    let p = try! primitive(Shape(m: m, n: n, k: k))
    let status = lantern_onednn_matmul_run(p, bits, entry.bits, out)
    precondition(status == 0, "oneDNN matmul \(m)×\(n)×\(k) failed")
  }
}
