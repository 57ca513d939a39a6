// Test helpers: fixture paths and tolerance checks shared by every test target.

import Foundation

/// Locations of committed fixtures and optional large assets.
public enum Fixtures {
  /// The repository root (found from this file's path).
  public static let repoRoot: URL = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url
  }()

  /// Tests/Fixtures.
  public static let directory = repoRoot.appendingPathComponent("Tests/Fixtures")

  /// A path under Tests/Fixtures.
  public static func url(_ relative: String) -> URL { directory.appendingPathComponent(relative) }

  /// The real SmolLM2-135M GGUF, if fetched (`Scripts/fetch-model`); nil otherwise.
  public static var smolLM2GGUF: URL? {
    if let env = ProcessInfo.processInfo.environment["LANTERN_SMOLLM2_GGUF"],
      FileManager.default.fileExists(atPath: env)
    {
      return URL(fileURLWithPath: env)
    }
    let local = repoRoot.appendingPathComponent(".models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    return FileManager.default.fileExists(atPath: local.path) ? local : nil
  }

  /// True in CI (`CI=true`), where a missing real model is a failure, not a skip.
  public static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

  /// Whether a real-model test should run: when the model is fetched, and always in CI (where the
  /// test then fails on the missing model). Use as `@Test(.enabled(if: Fixtures.runRealModelTests))`,
  /// which reports the test as skipped, visibly, elsewhere.
  public static var runRealModelTests: Bool { smolLM2GGUF != nil || isCI }

  /// The real model's path, or a thrown failure naming what to run.
  public static func requireSmolLM2() throws -> URL {
    guard let url = smolLM2GGUF else {
      throw FixtureError(
        "the SmolLM2 GGUF is not fetched ---> HINT: run Scripts/fetch-model (CI must have it)")
    }
    return url
  }

  /// A fresh temporary directory, removed by the caller when done.
  public static func temporaryDirectory(_ tag: String = "lantern-test") throws -> URL {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("\(tag)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }
}

/// A missing fixture or asset.
public struct FixtureError: Error, CustomStringConvertible {
  public let description: String
  public init(_ message: String) { description = message }
}

/// Largest |a - b| over two equal-length sequences, and the largest |b| (the reference's scale).
public func maxAbsDifference(_ a: some Collection<Float>, _ b: some Collection<Float>) -> (
  diff: Float, scale: Float
) {
  precondition(a.count == b.count, "length \(a.count) vs \(b.count)")
  var diff: Float = 0
  var scale: Float = 0
  for (x, y) in zip(a, b) {
    if x == y {
      scale = max(scale, abs(y).isFinite ? abs(y) : 0)
      continue
    }  // also equal infinities
    diff = max(diff, abs(x - y).isNaN ? .infinity : abs(x - y))
    scale = max(scale, abs(y))
  }
  return (diff, scale)
}
