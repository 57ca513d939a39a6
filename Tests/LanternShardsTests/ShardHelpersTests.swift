// Shared helpers for the shard tests: synthetic rows, a shard built in a temporary directory,
// independent references (bf16 rounding by nearest-neighbour search, bitwise CRC-32), and
// byte patching that re-seals checksums so a test can reach a specific validation.

import Foundation
import LanternTestSupport
import Testing

@testable import LanternShards

/// An info value with every field set to something recognisable.
func makeInfo(
  dtype: ShardDType = .bfloat16, layout: ShardLayout = .bitShuffle, d: Int = 24, unit: String = "unit-7"
) -> ShardInfo {
  ShardInfo(
    hook: "blocks.15.hook_resid_post", architecture: "llama", weightsHash: "sha256:abc123",
    tokenizerHash: "sha256:def456", dtype: dtype, layout: layout, d: d, contextSize: 128, prependBOS: true,
    packing: "concat", unitID: unit, seed: 0xDEAD_BEEF_0123_4567,
    provenance: ["lantern": "0.1", "corpus": "tiny.txt", "ünïcode key": "välue ✓"])
}

/// Synthetic activations: mostly N(0, 2²)-ish values, a few huge ones (attention-sink rows),
/// exact zeros, and values that sit on bf16/f16 rounding ties.
struct SyntheticRows {
  var rows: [Float]
  var tokenIDs: [Int32]
  var documentIDs: [Int64]
  var positions: [Int32]

  /// Given rows with simple side data.
  init(rows: [Float], count: Int) {
    self.rows = rows
    tokenIDs = (0..<count).map { Int32($0) }
    documentIDs = (0..<count).map { Int64($0) }
    positions = (0..<count).map { Int32($0) }
  }

  init(count: Int, d: Int, seed: UInt64) {
    var rng = SplitMix64(seed: seed)
    rows = (0..<(count * d)).map { i in
      let u = rng.nextFloat() + rng.nextFloat() + rng.nextFloat() - 1.5
      switch i % 97 {
      case 0: return 0
      case 1: return 20_000 + Float(i)
      case 2: return Float(bitPattern: 0x3F80_8000)  // 1.00390625: a bf16 tie, rounds to even
      case 3: return Float(bitPattern: 0x3F81_8000)  // a tie that rounds up
      default: return u * 4
      }
    }
    tokenIDs = (0..<count).map { _ in Int32(truncatingIfNeeded: rng.next() % 49_152) }
    documentIDs = (0..<count).map { 5_000_000_000 + Int64($0 / 10) }
    positions = (0..<count).map { Int32($0 % 10) }
  }
}

/// Writes `data` as a shard in `directory` and returns the file URL and the writer's summary.
func writeShard(
  _ data: SyntheticRows, info: ShardInfo, rowsPerBlock: Int?, in directory: URL, name: String = "s.lshard",
  batch: Int = 11
) throws -> (URL, ShardSummary) {
  let url = directory.appendingPathComponent(name)
  let writer = try ShardWriter(url: url, info: info, rowsPerBlock: rowsPerBlock)
  let n = data.tokenIDs.count
  var start = 0
  while start < n {
    let end = min(n, start + batch)
    try writer.append(
      rows: Array(data.rows[(start * info.d)..<(end * info.d)]), tokenIDs: Array(data.tokenIDs[start..<end]),
      documentIDs: Array(data.documentIDs[start..<end]), positions: Array(data.positions[start..<end]))
    start = end
  }
  return (url, try writer.finish())
}

/// bf16 rounding by search: of the two bf16 values around `x`, the nearer one; ties to the one
/// with an even last bit. (Independent of the bit trick HalfPrecision uses.)
func referenceBFloat16(_ x: Float) -> Float {
  if x.isNaN || x.isInfinite { return x }
  let down = Float(bitPattern: x.bitPattern & 0xFFFF_0000)
  if down == x { return x }
  let up = Float(bitPattern: (x.bitPattern & 0xFFFF_0000) &+ 0x1_0000)
  let dDown = abs(Double(x) - Double(down))
  let dUp = abs(Double(x) - Double(up))
  if dDown != dUp { return dDown < dUp ? down : up }
  return (down.bitPattern >> 16) & 1 == 0 ? down : up
}

/// The stored-and-restored value a dtype should give back for `x`.
func referenceRound(_ x: Float, _ dtype: ShardDType) -> Float {
  switch dtype {
  case .float32: x
  case .float16: Float(Float16(x))
  case .bfloat16: referenceBFloat16(x)
  }
}

/// CRC-32 bit by bit (reflected polynomial 0xEDB88320), as a twin of zlib's.
func naiveCRC32(_ bytes: [UInt8]) -> UInt32 {
  var crc: UInt32 = 0xFFFF_FFFF
  for byte in bytes {
    crc ^= UInt32(byte)
    for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
  }
  return ~crc
}

/// Bit patterns equal (NaN-safe, distinguishes -0).
func sameBits(_ a: [Float], _ b: [Float]) -> Bool {
  a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
}

/// Byte-level access to a shard for corruption tests.
struct ShardBytes {
  var bytes: [UInt8]

  init(_ url: URL) throws { bytes = Array(try Data(contentsOf: url)) }

  func u32(_ at: Int) -> UInt32 {
    bytes[at..<(at + 4)].enumerated().reduce(0) { $0 | UInt32($1.1) << (8 * $1.0) }
  }
  func u64(_ at: Int) -> UInt64 {
    bytes[at..<(at + 8)].enumerated().reduce(0) { $0 | UInt64($1.1) << (8 * $1.0) }
  }
  mutating func put32(_ value: UInt32, at: Int) {
    for i in 0..<4 { bytes[at + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
  }
  mutating func put64(_ value: UInt64, at: Int) {
    for i in 0..<8 { bytes[at + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
  }

  var headerLength: Int { Int(u32(12)) }
  var trailerOffset: Int { bytes.count - 48 }
  var indexOffset: Int { Int(u64(trailerOffset)) }

  /// Recomputes the header CRC, the index CRC, the body CRC and the trailer CRC after an edit.
  mutating func reseal() {
    put32(naiveCRC32(Array(bytes[20..<(20 + headerLength)])), at: 16)
    put32(naiveCRC32(Array(bytes[indexOffset..<trailerOffset])), at: trailerOffset + 24)
    put32(naiveCRC32(Array(bytes[0..<trailerOffset])), at: trailerOffset + 28)
    put32(naiveCRC32(Array(bytes[trailerOffset..<(trailerOffset + 36)])), at: trailerOffset + 36)
  }

  func write(to url: URL) throws { try Self.write(bytes, to: url) }
  static func write(_ bytes: [UInt8], to url: URL) throws { try Data(bytes).write(to: url) }
}

/// Opens `url` and returns the ShardError thrown (nil if it opened).
func openError(_ url: URL) -> ShardError? {
  do {
    _ = try ShardReader(url: url)
    return nil
  } catch let error as ShardError {
    return error
  } catch {
    Issue.record("unexpected error type: \(error)")
    return nil
  }
}

/// Runs `body` and returns the ShardError it threw (nil if none).
func shardError(_ body: () throws -> Void) -> ShardError? {
  do {
    try body()
    return nil
  } catch let error as ShardError {
    return error
  } catch {
    Issue.record("unexpected error type: \(error)")
    return nil
  }
}
