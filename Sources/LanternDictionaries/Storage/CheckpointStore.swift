// Checkpoints of a training run, written atomically, validated on load, with retention.
//
//   DIR/checkpoints/step-<N>/tensors.safetensors   every tensor of the state, F32, sorted by name
//   DIR/checkpoints/step-<N>/state.json            scalars, spec with hash, Lantern version (TrainingState.swift)
//   DIR/checkpoints/step-<N>/checkpoint.json       written last: step and the size and CRC-32 of each file
//   DIR/checkpoints/step-<N>.tmp-<16 hex>          a checkpoint being written (or being deleted)
//
// Save: make the temporary directory, write and fsync each file, write and fsync checkpoint.json,
// fsync the directory, rename it to `step-N` (a stale `step-N` is first renamed aside to a temporary
// name), fsync the parent; only then rename the checkpoints beyond the newest `keep` aside and delete them.
// A crash at any point leaves complete checkpoints under final names and debris under `.tmp-` names.
// Load: sweep the temporaries, then take the newest `step-N` whose checkpoint.json parses and whose files
// have the recorded sizes and checksums; invalid ones are skipped with a warning, never fatal, and
// retention is applied below the loaded step (a kill between a save's rename and its retention).
// One process writes a run's checkpoints at a time (the trainer holding the dictionary); the sweep on
// load assumes no other writer is live. Left out: compression, sharded tensor files.

import Foundation
import LanternFormats
import LanternShards
import LanternTensor

/// The checkpoints of one training run (`DIR/checkpoints`).
public final class CheckpointStore: Sendable {
  /// The checkpoints directory (created if missing).
  public let directory: URL
  /// How many complete checkpoints to keep (newest by step); older ones are deleted after a save.
  public let keep: Int

  /// The default number of checkpoints kept.
  public static let defaultKeep = 3

  static let tensorsFile = "tensors.safetensors"
  static let stateFile = "state.json"
  static let indexFile = "checkpoint.json"
  static let indexFormat = "lantern-checkpoint"
  static let maxIndexBytes = 1 << 20

  /// Opens (creating) `directory`; `keep` must be at least 1.
  public init(directory: URL, keep: Int = CheckpointStore.defaultKeep) throws {
    guard keep >= 1 else {
      throw DictionaryStorageError(directory.path, "keep is \(keep)", hint: "keep at least 1 checkpoint")
    }
    self.directory = directory
    self.keep = keep
    do {
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    } catch {
      throw DictionaryStorageError(
        directory.path, "cannot create: \(error.localizedDescription)", hint: "check the path and permissions"
      )
    }
  }

  /// The directory of the checkpoint at `step`.
  public func url(step: Int) -> URL { directory.appendingPathComponent("step-\(step)") }

  /// Steps of the directories under final names (not validated), ascending.
  public func steps() -> [Int] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.compactMap(Self.parseFinalName).sorted()
  }

  /// N of `step-N` (decimal, no sign, no leading zeros), else nil.
  static func parseFinalName(_ name: String) -> Int? {
    guard name.hasPrefix("step-") else { return nil }
    let digits = name.dropFirst(5)
    guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
      digits == "0" || !digits.hasPrefix("0"), let n = Int(digits)
    else { return nil }
    return n
  }

  /// True for `step-N.tmp-<16 hex>`.
  static func isTemporaryName(_ name: String) -> Bool {
    guard let range = name.range(of: ".tmp-") else { return false }
    let hex = name[range.upperBound...]
    return parseFinalName(String(name[..<range.lowerBound])) != nil && hex.count == 16
      && UInt64(hex, radix: 16) != nil
  }

  private func temporaryURL(step: Int) -> URL {
    var rng = SystemRandomNumberGenerator()
    return directory.appendingPathComponent(String(format: "step-%d.tmp-%016llx", step, rng.next() as UInt64))
  }

  /// Removes every `step-N.tmp-*` directory; returns how many were removed.
  @discardableResult
  public func sweepTemporaries() -> Int {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    var removed = 0
    for name in names where Self.isTemporaryName(name) {
      if (try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))) != nil {
        removed += 1
      }
    }
    return removed
  }

  // MARK: Save

  /// Writes `state` as `step-<state.scalars.step>` atomically, then applies retention.
  /// Returns the checkpoint's directory.
  @discardableResult
  public func save(_ state: TrainingState) throws -> URL {
    let step = state.scalars.step
    guard step >= 0 else {
      throw DictionaryStorageError(directory.path, "step is \(step)", hint: "steps count from 0")
    }
    let tmp = temporaryURL(step: step)
    let fm = FileManager.default
    do {
      try fm.createDirectory(at: tmp, withIntermediateDirectories: false)
    } catch {
      throw DictionaryStorageError(
        tmp.path, "cannot create: \(error.localizedDescription)", hint: "check free space and permissions")
    }
    do {
      try writeFiles(state, into: tmp)
    } catch {
      try? fm.removeItem(at: tmp)
      throw error
    }
    let final = url(step: step)
    if fm.fileExists(atPath: final.path) {
      // A stale checkpoint of the same step (a resumed run passing it again): move it aside first.
      let aside = temporaryURL(step: step)
      try Durable.renameAndSync(from: final, to: aside)
      try Durable.renameAndSync(from: tmp, to: final)
      try? fm.removeItem(at: aside)
    } else {
      try Durable.renameAndSync(from: tmp, to: final)
    }
    try applyRetention(newest: step)
    return final
  }

  private func writeFiles(_ state: TrainingState, into tmp: URL) throws {
    let tensors = state.tensors.map { (name: $0.key, tensor: $0.value) }
    for (name, _) in tensors where name.isEmpty {
      throw DictionaryStorageError(tmp.path, "a tensor has an empty name", hint: "name every state tensor")
    }
    let tensorsURL = tmp.appendingPathComponent(Self.tensorsFile)
    try SafetensorsWriter.write(tensors, metadata: ["format": "lantern-checkpoint-tensors"], to: tensorsURL)
    try Durable.fsync(path: tensorsURL.path)
    let stateURL = tmp.appendingPathComponent(Self.stateFile)
    try write(try StateDocument(state).encoded(), to: stateURL)
    var files: [CheckpointIndex.File] = []
    for name in [Self.stateFile, Self.tensorsFile] {
      let identity = try Durable.fileIdentity(tmp.appendingPathComponent(name).path)
      let parts = identity.split(separator: ":")
      files.append(CheckpointIndex.File(name: name, bytes: Int(parts[0]) ?? -1, crc32: String(parts[1])))
    }
    let index = CheckpointIndex(format: Self.indexFormat, version: 1, step: state.scalars.step, files: files)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try write(try encoder.encode(index), to: tmp.appendingPathComponent(Self.indexFile))
    try Durable.fsync(path: tmp.path)
  }

  private func write(_ data: Data, to url: URL) throws {
    do {
      try data.write(to: url)
    } catch {
      throw DictionaryStorageError(
        url.path, "cannot write: \(error.localizedDescription)", hint: "check free space and permissions")
    }
    try Durable.fsync(path: url.path)
  }

  /// Keeps `newest` and the `keep − 1` newest checkpoints before it; deletes the older ones, each renamed
  /// aside first so that a crash mid-delete leaves only a temporary. Checkpoints after `newest` (left by
  /// a run that resumed past damaged ones) are not touched: the loader keeps reporting them.
  private func applyRetention(newest: Int) throws {
    let older = steps().filter { $0 < newest }
    guard older.count > keep - 1 else { return }
    for step in older.dropLast(keep - 1) {
      let aside = temporaryURL(step: step)
      try Durable.renameAndSync(from: url(step: step), to: aside)
      try? FileManager.default.removeItem(at: aside)
    }
  }

  // MARK: Load

  /// Sweeps temporaries, then loads the newest checkpoint that validates; invalid newer ones are
  /// reported in `warnings` and skipped. With `resuming`, the checkpoint's spec must match it under
  /// `policy`, else `ResumeRefused` names every changed setting.
  public func loadLatest(resuming requested: JobSpec? = nil, policy: ResumePolicy = .standard) throws
    -> CheckpointLoad
  {
    let swept = sweepTemporaries()
    var warnings: [String] = []
    for step in steps().reversed() {
      let state: TrainingState
      do {
        state = try load(step: step)
      } catch {
        warnings.append("checkpoint step-\(step) skipped: \(error)")
        continue
      }
      if let requested {
        try policy.check(stored: state.spec, requested: requested, path: url(step: step).path)
      }
      // A kill between a save's rename and its retention leaves extra old checkpoints: trim them now.
      try applyRetention(newest: step)
      return CheckpointLoad(
        state: state, step: step, url: url(step: step), warnings: warnings, sweptTemporaries: swept)
    }
    return CheckpointLoad(state: nil, step: nil, url: nil, warnings: warnings, sweptTemporaries: swept)
  }

  /// Validates and loads the checkpoint at `step` (sizes, checksums, both documents, every tensor F32).
  public func load(step: Int) throws -> TrainingState {
    let dir = url(step: step)
    let indexURL = dir.appendingPathComponent(Self.indexFile)
    let index = try readIndex(indexURL)
    guard index.step == step else {
      throw DictionaryStorageError(
        indexURL.path, "field 'step' is \(index.step) in directory step-\(step)",
        hint: "the checkpoint is damaged")
    }
    for required in [Self.stateFile, Self.tensorsFile]
    where !index.files.contains(where: { $0.name == required }) {
      throw DictionaryStorageError(
        indexURL.path, "field 'files' does not list \(required)", hint: "the checkpoint is damaged")
    }
    for file in index.files {
      guard !file.name.contains("/"), file.name != "..", file.name != "." else {
        throw DictionaryStorageError(
          indexURL.path, "file name \"\(file.name)\" is not a plain name", hint: "the checkpoint is damaged")
      }
      let path = dir.appendingPathComponent(file.name).path
      let identity: String
      do { identity = try Durable.fileIdentity(path) } catch {
        throw DictionaryStorageError(path, "is missing or unreadable", hint: "the checkpoint is incomplete")
      }
      let expected = "\(file.bytes):\(file.crc32)"
      guard identity == expected else {
        throw DictionaryStorageError(
          path, "size:crc32 is \(identity), checkpoint.json records \(expected)",
          hint: "the file is damaged; an earlier checkpoint is used")
      }
    }
    let statePath = dir.appendingPathComponent(Self.stateFile).path
    guard let stateData = FileManager.default.contents(atPath: statePath) else {
      throw DictionaryStorageError(statePath, "cannot read", hint: "check permissions")
    }
    let document = try StateDocument.decode(stateData, path: statePath)
    guard document.step == step else {
      throw DictionaryStorageError(
        statePath, "field 'step' is \(document.step) in directory step-\(step)",
        hint: "the checkpoint is damaged")
    }
    let (scalars, spec) = try document.restore(path: statePath)
    let file = try SafetensorsFile(path: dir.appendingPathComponent(Self.tensorsFile).path)
    var tensors: [String: Tensor] = [:]
    for info in file.tensorInfos {
      guard info.dtype == .f32 else {
        throw DictionaryStorageError(
          file.path, "tensor '\(info.name)' is \(info.dtype.rawValue), checkpoints hold F32 only",
          hint: "the checkpoint was not written by Lantern")
      }
      tensors[info.name] = try file.loadTensor(info.name)
    }
    return TrainingState(
      tensors: tensors, scalars: scalars, spec: spec, lanternVersion: document.lanternVersion)
  }

  private func readIndex(_ url: URL) throws -> CheckpointIndex {
    let attributes = try? FileManager.default.attributesOfItem(atPath: url.path)
    guard let size = attributes?[.size] as? Int else {
      throw DictionaryStorageError(url.path, "is missing", hint: "the checkpoint is incomplete")
    }
    guard size <= Self.maxIndexBytes, let data = FileManager.default.contents(atPath: url.path) else {
      throw DictionaryStorageError(
        url.path, "is \(size) bytes or unreadable", hint: "the checkpoint is damaged")
    }
    let index: CheckpointIndex
    do { index = try JSONDecoder().decode(CheckpointIndex.self, from: data) } catch {
      throw DictionaryStorageError(
        url.path, "is not a valid checkpoint index (truncated?): \(error)", hint: "the checkpoint is damaged")
    }
    guard index.format == Self.indexFormat, index.version == 1 else {
      throw DictionaryStorageError(
        url.path, "format \"\(index.format)\" version \(index.version) is not lantern-checkpoint version 1",
        hint: "resume with the Lantern version that wrote it")
    }
    return index
  }
}

/// What `CheckpointStore.loadLatest` found.
public struct CheckpointLoad: @unchecked Sendable {
  /// The newest valid checkpoint's state, or nil when none validates (start from step 0).
  public let state: TrainingState?
  public let step: Int?
  public let url: URL?
  /// One line per skipped (invalid) final-named checkpoint, newest first.
  public let warnings: [String]
  /// Temporary directories removed before loading.
  public let sweptTemporaries: Int
}

/// `checkpoint.json`.
struct CheckpointIndex: Codable {
  struct File: Codable {
    var name: String
    var bytes: Int
    var crc32: String
  }
  var format: String
  var version: Int
  var step: Int
  var files: [File]
}
