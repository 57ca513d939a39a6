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

  /// A fresh temporary directory, removed by the caller when done.
  public static func temporaryDirectory(_ tag: String = "lantern-test") throws -> URL {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("\(tag)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }
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
