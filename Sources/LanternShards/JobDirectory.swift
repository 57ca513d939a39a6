// The job directory: a frozen copy of the job spec with its hash, the manifest, and the shards.
//
//   job.yaml                          the spec, frozen at creation; a resumed job must match it
//   manifest.jsonl                    one fsynced line per committed unit (Manifest.swift)
//   shards/<hook>/<unit>.lshard       committed shards
//   shards/<hook>/<unit>.lshard.tmp-<attempt as 16 hex digits>   attempt-private temporaries
//
// Commit of a unit: every shard is written and fsynced under an attempt-private temporary name,
// renamed to its final name (the directory fsynced), and only then is the unit appended to the
// manifest. A crash between rename and manifest leaves a final file the manifest does not list:
// the unit is not committed, it is redone on resume and its (deterministic) bytes replace the file.

import Foundation

/// A job's settings as ordered key/value pairs, frozen into job.yaml.
public struct JobSpec: Equatable, Sendable {
  public var fields: [(key: String, value: String)]

  public init(_ fields: [(key: String, value: String)]) { self.fields = fields }

  public static func == (a: JobSpec, b: JobSpec) -> Bool {
    a.fields.map(\.key) == b.fields.map(\.key) && a.fields.map(\.value) == b.fields.map(\.value)
  }

  /// The YAML body (one `key: value` line per field, values JSON-quoted strings).
  public var body: String {
    fields.map { "\($0.key): \(quote($0.value))" }.joined(separator: "\n") + "\n"
  }

  /// CRC-32 of the body, hex.
  public var hash: String { Durable.crc32Hex(body) }

  /// The full job.yaml text.
  public var yaml: String {
    "# Lantern job, frozen when the job directory was created. A resumed job must match it.\n" + body
      + "spec_hash: \"\(hash)\"\n"
  }

  /// Parses a job.yaml that Lantern wrote.
  public static func parse(_ text: String, path: String) throws -> JobSpec {
    var fields: [(String, String)] = []
    var storedHash: String?
    for (i, line) in text.split(separator: "\n").enumerated() where !line.hasPrefix("#") {
      guard let colon = line.firstIndex(of: ":") else {
        throw JobError(
          path, "line \(i + 1) is not 'key: value'", hint: "job.yaml is written by Lantern; do not edit it")
      }
      let key = String(line[..<colon])
      let raw = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
      guard let data = raw.data(using: .utf8), let value = try? JSONDecoder().decode(String.self, from: data)
      else {
        throw JobError(
          path, "line \(i + 1): value of '\(key)' is not a quoted string", hint: "do not edit job.yaml")
      }
      if key == "spec_hash" { storedHash = value } else { fields.append((key, value)) }
    }
    let spec = JobSpec(fields)
    guard storedHash == spec.hash else {
      throw JobError(path, "spec_hash does not match the spec", hint: "job.yaml was edited or damaged")
    }
    return spec
  }

  /// Human-readable differences between `self` (the stored job) and `other` (the requested one).
  public func differences(from other: JobSpec) -> [String] {
    var out: [String] = []
    let mine = Dictionary(fields.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
    let theirs = Dictionary(other.fields.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
    var keys: [String] = []
    for key in fields.map(\.key) + other.fields.map(\.key) where !keys.contains(key) { keys.append(key) }
    for key in keys {
      if mine[key] != theirs[key] {
        out.append(
          "'\(key)': the job has \(mine[key].map(quote) ?? "nothing"), the command gives \(theirs[key].map(quote) ?? "nothing")"
        )
      }
    }
    return out
  }
}

private func quote(_ s: String) -> String {
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.withoutEscapingSlashes]
  return String(decoding: try! encoder.encode(s), as: UTF8.self)
}

/// An opened job directory.
public final class JobDirectory {
  public let url: URL
  public let spec: JobSpec
  public let manifest: Manifest
  /// Temporaries removed when the directory was opened.
  public let sweptTemporaries: Int

  /// How a process uses the job directory.
  public enum Role: Sendable {
    /// The one process that commits (single-machine extraction, or the coordinator): creates the
    /// directory, sweeps temporaries, appends the manifest.
    case owner
    /// A cluster worker: the directory must exist; nothing is swept, the manifest is read-only.
    case worker
  }

  /// Opens `url`, creating it with `spec` if new; refuses a directory whose frozen spec differs.
  public init(url: URL, spec: JobSpec, role: Role = .owner) throws {
    self.url = url
    self.spec = spec
    let fm = FileManager.default
    let specURL = url.appendingPathComponent("job.yaml")
    if fm.fileExists(atPath: specURL.path) {
      guard let text = try? String(contentsOf: specURL, encoding: .utf8) else {
        throw JobError(specURL.path, "cannot read", hint: "check permissions")
      }
      let stored = try JobSpec.parse(text, path: specURL.path)
      let diff = stored.differences(from: spec)
      if !diff.isEmpty {
        throw JobError(
          url.path, "this job directory holds a different job: " + diff.joined(separator: "; "),
          hint: "rerun with the original settings to resume, or use a new --out directory")
      }
    } else if role == .worker {
      throw JobError(
        url.path, "no job.yaml: the coordinator has not created this job", hint: "check the shared path")
    } else {
      if fm.fileExists(atPath: url.path),
        let items = try? fm.contentsOfDirectory(atPath: url.path), !items.isEmpty
      {
        throw JobError(
          url.path, "directory exists, is not empty and has no job.yaml",
          hint: "choose a new --out directory (Lantern never writes into foreign directories)")
      }
      do {
        try fm.createDirectory(at: url, withIntermediateDirectories: true)
      } catch {
        throw JobError(
          url.path, "cannot create: \(error.localizedDescription)", hint: "check the path and permissions")
      }
      try Durable.writeAtomically(Data(spec.yaml.utf8), to: specURL)
    }
    manifest = try Manifest(
      path: url.appendingPathComponent("manifest.jsonl").path, readOnly: role == .worker)
    sweptTemporaries = role == .owner ? try JobDirectory.sweep(url.appendingPathComponent("shards")) : 0
  }

  /// Removes attempt-private temporaries under `shards/*/` whose attempt `keep` does not
  /// accept (by default: all of them, as a single-process job does on open).
  @discardableResult
  public static func sweep(
    _ shards: URL, keep: (_ unit: String, _ attempt: UInt64) -> Bool = { _, _ in false }
  )
    throws -> Int
  {
    let fm = FileManager.default
    guard let hooks = try? fm.contentsOfDirectory(atPath: shards.path) else { return 0 }
    var removed = 0
    for hook in hooks {
      let dir = shards.appendingPathComponent(hook)
      guard let files = try? fm.contentsOfDirectory(atPath: dir.path) else { continue }
      for f in files {
        guard let parsed = parseTemporaryName(f) else { continue }
        if keep(parsed.unit, parsed.attempt) { continue }
        try? fm.removeItem(at: dir.appendingPathComponent(f))
        removed += 1
      }
    }
    return removed
  }

  /// (unit, attempt) of a temporary file name `<unit>.lshard.tmp-<16 hex digits>`, else nil.
  public static func parseTemporaryName(_ name: String) -> (unit: String, attempt: UInt64)? {
    guard let range = name.range(of: ".lshard.tmp-") else { return nil }
    let hex = name[range.upperBound...]
    guard hex.count == 16, let attempt = UInt64(hex, radix: 16) else { return nil }
    return (String(name[..<range.lowerBound]), attempt)
  }

  /// The directory name used for a hook's shards (hook names are already path-safe).
  public static func directoryName(hook: String) -> String { hook }

  /// Final path of a unit's shard for `hook`, relative to the job directory.
  public func relativeShardPath(hook: String, unit: String) -> String {
    "shards/\(JobDirectory.directoryName(hook: hook))/\(unit).lshard"
  }

  /// The attempt-private temporary path of a unit's shard: the final path followed by `.tmp-`
  /// and the attempt as 16 hex digits (LWP/1, docs/protocol.md). Its directory is created.
  public func temporaryURL(hook: String, unit: String, attempt: UInt64) throws -> URL {
    let final = url.appendingPathComponent(relativeShardPath(hook: hook, unit: unit))
    try FileManager.default.createDirectory(
      at: final.deletingLastPathComponent(), withIntermediateDirectories: true)
    return URL(fileURLWithPath: final.path + ".tmp-" + String(format: "%016llx", attempt))
  }

  /// Publishes a unit's files: renames each attempt-private temporary to its final name and
  /// fsyncs the directory. The manifest is not touched: the single-process `commit` appends it
  /// next; in a cluster the coordinator does, after the worker reports COMMITTED.
  public func publish(
    unit: String, files: [(hook: String, temporary: URL, bytes: Int, rows: Int, checksum: String)]
  ) throws -> [ManifestOutput] {
    try files.map { f in
      let relative = relativeShardPath(hook: f.hook, unit: unit)
      try Durable.renameAndSync(from: f.temporary, to: url.appendingPathComponent(relative))
      return ManifestOutput(hook: f.hook, path: relative, bytes: f.bytes, rows: f.rows, checksum: f.checksum)
    }
  }

  /// Commits a unit: renames each temporary to its final name, fsyncs, then appends the manifest.
  /// Returns false if the unit was already committed (the temporaries are removed).
  @discardableResult
  public func commit(
    unit: String, attempt: UInt64, tokens: Int,
    files: [(hook: String, temporary: URL, bytes: Int, rows: Int, checksum: String)]
  ) throws -> Bool {
    if manifest.isCommitted(unit) {
      for f in files { try? FileManager.default.removeItem(at: f.temporary) }
      return false
    }
    let outputs = try publish(unit: unit, files: files)
    return try manifest.append(ManifestEntry(unit: unit, attempt: attempt, tokens: tokens, outputs: outputs))
  }
}
