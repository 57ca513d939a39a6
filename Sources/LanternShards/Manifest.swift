// manifest.jsonl: the only truth about what a job has committed. One line per committed work
// unit, appended and fsynced after the unit's files are renamed into place:
//
//   {"crc32":"<8 hex digits of the entry's JSON>","entry":{"attempt":1,"outputs":[...],"unit":"u000003",...}}
//
// A line is self-checking (CRC-32 of the canonical entry JSON). On open, a torn last line (a crash
// mid-append: no newline, or not parseable) is dropped and truncated away; a bad line anywhere else
// is an error naming the line. A unit appearing twice keeps the first line (first committer wins).

import Foundation

/// One output file of a committed unit.
public struct ManifestOutput: Codable, Equatable, Sendable {
  /// Hook name (TransformerLens) the shard holds.
  public var hook: String
  /// Path relative to the job directory.
  public var path: String
  public var bytes: Int
  public var rows: Int
  /// The shard's whole-file checksum, as its writer reports it.
  public var checksum: String

  public init(hook: String, path: String, bytes: Int, rows: Int, checksum: String) {
    self.hook = hook
    self.path = path
    self.bytes = bytes
    self.rows = rows
    self.checksum = checksum
  }
}

/// One committed work unit.
public struct ManifestEntry: Codable, Equatable, Sendable {
  public var unit: String
  public var attempt: UInt64
  public var tokens: Int
  public var outputs: [ManifestOutput]

  public init(unit: String, attempt: UInt64, tokens: Int, outputs: [ManifestOutput]) {
    self.unit = unit
    self.attempt = attempt
    self.tokens = tokens
    self.outputs = outputs
  }
}

/// The append-only, fsynced manifest of a job directory.
public final class Manifest {
  public let path: String
  /// Committed units in commit order.
  public private(set) var entries: [ManifestEntry] = []
  private var index: [String: Int] = [:]
  private var log: AppendLog?
  /// Lines dropped on open (a torn tail), for reporting.
  public private(set) var droppedTail = false

  private struct Line: Codable {
    var crc32: String
    var entry: ManifestEntry
  }

  static func canonical(_ entry: ManifestEntry) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try! encoder.encode(entry), as: UTF8.self)
  }

  /// Opens (or creates) the manifest at `path`, validating every line.
  /// - Parameter readOnly: a reader that is not the manifest's writer (a worker while the
  ///   coordinator appends): it never truncates a torn tail (it may be an append in flight) and
  ///   cannot append.
  public init(path: String, readOnly: Bool = false) throws {
    self.path = path
    if let data = FileManager.default.contents(atPath: path), !data.isEmpty {
      var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
      let endsWithNewline = data.last == UInt8(ascii: "\n")
      if endsWithNewline { lines.removeLast() }
      var validBytes = 0
      for (i, raw) in lines.enumerated() {
        let isLast = i == lines.count - 1
        guard let entry = Manifest.parse(Data(raw)), !(isLast && !endsWithNewline) else {
          if isLast {
            droppedTail = true
            break
          }
          throw JobError(
            path, "line \(i + 1) is corrupt (bad JSON or checksum)",
            hint: "the manifest was edited or damaged; restore it or remove the job directory")
        }
        validBytes += raw.count + 1
        if index[entry.unit] == nil {
          index[entry.unit] = entries.count
          entries.append(entry)
        }
      }
      if droppedTail && !readOnly {
        guard truncate(path, off_t(validBytes)) == 0 else {
          throw JobError(
            path, "cannot truncate a torn last line: \(Durable.errnoText())", hint: "check permissions")
        }
      }
    }
    if !readOnly {
      log = try AppendLog(path: path)
      try Durable.fsync(path: (path as NSString).deletingLastPathComponent)
    }
  }

  static func parse(_ raw: Data) -> ManifestEntry? {
    guard let line = try? JSONDecoder().decode(Line.self, from: raw) else { return nil }
    guard Durable.crc32Hex(canonical(line.entry)) == line.crc32 else { return nil }
    return line.entry
  }

  /// The committed entry for `unit`, if any.
  public func entry(for unit: String) -> ManifestEntry? { index[unit].map { entries[$0] } }

  /// True when `unit` is committed.
  public func isCommitted(_ unit: String) -> Bool { index[unit] != nil }

  /// Appends and fsyncs `entry`. Returns false (and writes nothing) if the unit is already
  /// committed: the first committer wins.
  @discardableResult
  public func append(_ entry: ManifestEntry) throws -> Bool {
    if index[entry.unit] != nil { return false }
    guard let log else {
      throw JobError(path, "the manifest is open read-only", hint: "only the coordinator appends")
    }
    let json = Manifest.canonical(entry)
    try log.append(line: "{\"crc32\":\"\(Durable.crc32Hex(json))\",\"entry\":\(json)}")
    index[entry.unit] = entries.count
    entries.append(entry)
    return true
  }
}
