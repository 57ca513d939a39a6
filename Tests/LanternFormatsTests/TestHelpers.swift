// Shared test helpers: temporary files, error matching, little-endian byte building, and the
// JSON expectations written by Scripts/fixtures/make_format_fixtures.py.

import Foundation
import LanternFormats
import LanternTensor
import LanternTestSupport
import Testing

/// One pool for every test: a ThreadPool's workers hold it unowned and never exit, so a pool
/// must outlive the process (deinit while workers run is a use-after-free).
let sharedTestPool = ThreadPool(threadCount: 2)

/// Runs `body` and returns the FormatError it throws; records an issue if it returns or throws
/// anything else.
func formatError(
  sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Any
) -> FormatError? {
  do {
    let value = try body()
    Issue.record("expected a FormatError, got a value: \(value)", sourceLocation: sourceLocation)
  } catch let error as FormatError {
    return error
  } catch {
    Issue.record("expected a FormatError, got \(error)", sourceLocation: sourceLocation)
  }
  return nil
}

/// Expects `body` to throw a FormatError for which `matches` is true.
func expectFormatError(
  _ body: @autoclosure () throws -> Any, sourceLocation: SourceLocation = #_sourceLocation,
  _ matches: (FormatError) -> Bool
) {
  guard let error = formatError(sourceLocation: sourceLocation, body) else { return }
  #expect(matches(error), "unexpected error: \(error)", sourceLocation: sourceLocation)
  // Every message names the file and carries a hint.
  #expect(error.description.contains(error.path), sourceLocation: sourceLocation)
  #expect(error.description.contains("---> HINT: "), sourceLocation: sourceLocation)
}

/// A scratch directory removed when the value is deinitialized.
final class Scratch {
  let url: URL
  init() throws { url = try Fixtures.temporaryDirectory("lantern-formats") }
  deinit { try? FileManager.default.removeItem(at: url) }

  /// Writes `bytes` to `name` and returns its path.
  @discardableResult
  func write(_ bytes: [UInt8], _ name: String = "file.bin") throws -> String {
    let file = url.appendingPathComponent(name)
    try Data(bytes).write(to: file)
    return file.path
  }

  func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

/// Little-endian byte building.
extension Array where Element == UInt8 {
  mutating func le<T: FixedWidthInteger>(_ value: T) {
    Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
  }

  /// Overwrites bytes at `offset` with `value` (little-endian).
  mutating func patch<T: FixedWidthInteger>(_ offset: Int, _ value: T) {
    Swift.withUnsafeBytes(of: value.littleEndian) { raw in
      for (i, b) in raw.enumerated() { self[offset + i] = b }
    }
  }
}

/// Fixture bytes.
func fixtureBytes(_ relative: String) throws -> [UInt8] {
  Array(try Data(contentsOf: Fixtures.url(relative)))
}

/// Float32 values from their bit patterns (as the fixture JSON stores them).
func floats(bits: [UInt32]) -> [Float] { bits.map { Float(bitPattern: $0) } }

/// Bitwise equality that treats any two NaNs as equal; returns the first mismatching index.
func firstBitwiseMismatch(_ a: [Float], _ b: [Float]) -> Int? {
  guard a.count == b.count else { return -1 }
  for i in a.indices where a[i].bitPattern != b[i].bitPattern && !(a[i].isNaN && b[i].isNaN) {
    return i
  }
  return nil
}

/// `mixed.json` and `npy/expected.json`: per array, the shape, float32 bits and integers.
struct ExpectedArray: Decodable {
  let shape: [Int]
  let float32_bits: [UInt32]
  let ints: [Int64]?
}

struct MixedExpectation: Decodable {
  let tensors: [String: ExpectedArray]
  let metadata: [String: String]
}

struct QuantExpectation: Decodable {
  struct Info: Decodable {
    let shape: [Int]
    let type: String
    let offset: Int
    let bytes: Int
  }
  let tensors: [String: Info]
  let alignment: Int
  let data_offset: Int
  let tensor_order: [String]
}

func decodeFixture<T: Decodable>(_ type: T.Type, _ relative: String) throws -> T {
  try JSONDecoder().decode(T.self, from: Data(contentsOf: Fixtures.url(relative)))
}
