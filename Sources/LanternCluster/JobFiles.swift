// Files the coordinator shares with workers through the job directory: the extraction settings
// (pipeline.json, so a worker needs nothing but the job directory's path) and the journal.

import Foundation
import LanternExtraction
import LanternPipeline
import LanternShards
import LanternWire

/// What a worker needs to open a job: its settings and seed (job_dir/pipeline.json).
public struct SharedJobSettings: Codable, Sendable, Equatable {
  public var settings: ExtractionSettings
  public var seed: UInt64

  static func url(_ jobDirectory: URL) -> URL { jobDirectory.appendingPathComponent("pipeline.json") }

  func write(to jobDirectory: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    try Durable.writeAtomically(try encoder.encode(self), to: SharedJobSettings.url(jobDirectory))
  }

  static func read(from jobDirectory: URL) throws -> SharedJobSettings {
    let url = SharedJobSettings.url(jobDirectory)
    guard let data = FileManager.default.contents(atPath: url.path) else {
      throw ClusterError(
        "\(url.path): cannot read", hint: "workers need the job directory on shared storage at the same path")
    }
    do {
      return try JSONDecoder().decode(SharedJobSettings.self, from: data)
    } catch {
      throw ClusterError(
        "\(url.path): not a Lantern job settings file (\(error))", hint: "do not edit pipeline.json")
    }
  }
}

/// The task spec carried opaquely by ASSIGN: where the job lives.
struct TaskSpec: Codable, Equatable {
  var jobDirectory: String
  enum CodingKeys: String, CodingKey { case jobDirectory = "job_dir" }

  var bytes: [UInt8] { Array(try! JSONEncoder().encode(self)) }

  static func decode(_ bytes: [UInt8]) throws -> TaskSpec {
    do {
      return try JSONDecoder().decode(TaskSpec.self, from: Data(bytes))
    } catch {
      throw ClusterError(
        "the task spec is not valid JSON with job_dir", hint: "coordinator and worker versions differ?")
    }
  }
}

/// Errors of the cluster layer.
public struct ClusterError: Error, CustomStringConvertible, Sendable {
  public let message: String
  public let hint: String
  public init(_ message: String, hint: String) {
    self.message = message
    self.hint = hint
  }
  public var description: String { "\(message) ---> HINT: \(hint)" }
}

/// The coordinator journal file: LWP/1 records appended with fsync where the protocol requires it.
final class JournalFile {
  let path: String
  private let handle: FileHandle

  /// Opens the journal, replays it (truncating a torn tail) and returns the intact records.
  init(path: String) throws {
    self.path = path
    let fm = FileManager.default
    var bytes: [UInt8] = []
    if let data = fm.contents(atPath: path) { bytes = [UInt8](data) }
    let replay = try Journal.replay(bytes)
    records = replay.records
    if !fm.fileExists(atPath: path) { fm.createFile(atPath: path, contents: nil) }
    guard let h = FileHandle(forUpdatingAtPath: path) else {
      throw ClusterError("\(path): cannot open the journal", hint: "check permissions on the job directory")
    }
    handle = h
    if replay.validLength == 0 {
      try handle.truncate(atOffset: 0)
      try handle.write(contentsOf: Data(Journal.header))
    } else {
      try handle.truncate(atOffset: UInt64(replay.validLength))
    }
    try handle.seekToEnd()
    try handle.synchronize()
    tornTail = replay.tornTail
  }

  let records: [JournalRecord]
  let tornTail: Bool

  func append(_ record: JournalRecord) throws {
    try handle.write(contentsOf: Data(Journal.encode(record)))
    if record.requiresSync { try handle.synchronize() }
  }

  deinit { try? handle.close() }
}
