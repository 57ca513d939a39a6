// JobSource: the committed shards of a Lantern job directory, for one hook or several at once.
//
//   job.yaml        the frozen spec: `hooks` (comma-separated), `model` (for the tokenizer)
//   manifest.jsonl  the committed units and, per hook, path, bytes, rows and CRC-32: the only truth
//   plan.json       unit order (plan index) and the window settings' inserted token ids
//   shards/<hook>/<unit>.lshard
//
// Only units in the manifest are read; files the manifest does not list are ignored. A shard is
// checked against its manifest line (size and whole-file CRC-32) the first time this source opens
// it, then its header (hook, unit, d, rows), then every block's CRCs as the reader decodes it.
// Several hooks give paired rows (a transcoder's input and target hook, a crosscoder's n hooks,
// concatenated in the order given); every hook of a unit must describe the same tokens (token id,
// document id and position equal row by row) — the first difference is an error naming it.
// Left out: shards written while the source is open (reopen the source to see new units).

import Foundation
import LanternShards
import LanternTensor
import Synchronization

/// How much of a committed shard is checked against the manifest when it is first opened.
public enum ShardVerification: Sendable {
  /// Size and whole-file CRC-32 (one extra sequential read of each shard per source).
  case checksum
  /// Size only (block CRCs are still checked while decoding).
  case size
}

/// Rows from the committed shards of a job directory.
public final class JobSource: ActivationSource {
  /// The job directory.
  public let url: URL
  /// The frozen spec (job.yaml).
  public let spec: JobSpec
  public let inputHooks: [HookColumns]
  public let targetHooks: [HookColumns]
  public let units: [DataUnit]
  public let defaultExcludedTokenIDs: [Int32]
  /// Every hook the job extracted, in job.yaml order.
  public let availableHooks: [String]
  /// The model path recorded in job.yaml (to load the tokenizer's BOS/EOS/pad ids), if any.
  public let model: String?
  public let verification: ShardVerification
  public var name: String {
    "\(url.path) [\((inputHooks + targetHooks).map(\.name).joined(separator: ", "))]"
  }

  private let outputs: [String: [ManifestOutput]]  // unit id → one output per hook (inputs, then targets)
  private let verified = Mutex<Set<String>>([])

  /// Opens the job at `url` for `hooks` (concatenated in this order) and, for transcoders,
  /// `targetHooks`.
  public init(
    url: URL, hooks: [String], targetHooks: [String] = [], verification: ShardVerification = .checksum
  ) throws {
    self.url = url
    self.verification = verification
    let fm = FileManager.default
    let specPath = url.appendingPathComponent("job.yaml").path
    guard let text = try? String(contentsOfFile: specPath, encoding: .utf8) else {
      throw DataError.badJob(path: specPath, reason: "missing or unreadable")
    }
    let spec: JobSpec
    do { spec = try JobSpec.parse(text, path: specPath) } catch {
      throw DataError.badJob(path: specPath, reason: "\(error)")
    }
    self.spec = spec
    let field = { (key: String) in spec.fields.first { $0.key == key }?.value }
    availableHooks = (field("hooks") ?? "").split(separator: ",").map(String.init)
    model = field("model")
    guard !hooks.isEmpty else { throw DataError.invalidSetting(name: "hooks", reason: "no hook given") }
    let wanted = hooks + targetHooks
    for hook in wanted where !availableHooks.contains(hook) {
      throw DataError.unknownHook(path: url.path, hook: hook, available: availableHooks)
    }
    if Set(wanted).count != wanted.count {
      throw DataError.invalidSetting(name: "hooks", reason: "a hook is given twice: \(wanted)")
    }
    let manifestPath = url.appendingPathComponent("manifest.jsonl").path
    guard fm.fileExists(atPath: manifestPath) else {
      throw DataError.badJob(path: manifestPath, reason: "missing: nothing was committed")
    }
    let manifest = try Manifest(path: manifestPath, readOnly: true)

    var plan: CorpusPlan?
    let planPath = url.appendingPathComponent("plan.json").path
    if let data = fm.contents(atPath: planPath) {
      do { plan = try CorpusPlan.decode(data) } catch {
        throw DataError.badJob(path: planPath, reason: "\(error)")
      }
    }
    let windows = plan?.settings.windows
    defaultExcludedTokenIDs = Array(
      Set(
        [windows?.beginBatchToken, windows?.beginSequenceToken, windows?.sequenceSeparatorToken]
          .compactMap { $0.flatMap { Int32(exactly: $0) } })
    ).sorted()

    var units: [DataUnit] = []
    var outputs: [String: [ManifestOutput]] = [:]
    for entry in manifest.entries {
      var perHook: [ManifestOutput] = []
      for hook in wanted {
        guard let output = entry.outputs.first(where: { $0.hook == hook }) else {
          throw DataError.corruptShard(
            path: manifestPath, unit: entry.unit, hook: hook,
            reason: "the committed unit lists no shard for this hook")
        }
        if let first = perHook.first, first.rows != output.rows {
          throw DataError.provenanceMismatch(
            unit: entry.unit, firstHook: wanted[0], otherHook: hook, row: 0, field: "row count",
            first: "\(first.rows)", other: "\(output.rows)")
        }
        perHook.append(output)
      }
      let index = plan?.unit(id: entry.unit)?.index ?? JobSource.index(ofUnitID: entry.unit)
      outputs[entry.unit] = perHook
      units.append(DataUnit(id: entry.unit, index: index, rowCount: perHook[0].rows))
    }
    units.sort { ($0.index, $0.id) < ($1.index, $1.id) }
    guard let first = units.first else {
      throw DataError.empty(subject: url.path, reason: "the manifest lists no committed unit")
    }
    self.units = units
    self.outputs = outputs

    // Widths from the first unit's shards; every later shard's header is checked on open.
    var widths: [Int] = []
    for (h, hook) in wanted.enumerated() {
      let path = url.appendingPathComponent(outputs[first.id]![h].path).path
      let reader = try JobSource.open(path, unit: first.id, hook: hook)
      widths.append(reader.d)
    }
    let inputs = HookColumns.concatenated(Array(zip(hooks, widths.prefix(hooks.count))))
    let targets = HookColumns.concatenated(Array(zip(targetHooks, widths.dropFirst(hooks.count))))
    for group in [inputs, targets] {
      for h in group where h.width != group[0].width {
        throw DataError.widthMismatch(
          subject: "hook \(h.name) of \(url.path)", expected: group[0].width, found: h.width,
          hint: "hooks read (or reconstructed) together must have one width, as \(group[0].name) has")
      }
    }
    inputHooks = inputs
    self.targetHooks = targets
  }

  /// The plan index a unit id encodes ("u000017" → 17), for jobs without plan.json.
  static func index(ofUnitID id: String) -> Int {
    if id.hasPrefix("u"), let n = Int(id.dropFirst()) { return n }
    return Int(
      truncatingIfNeeded: SeededRandom.mix(seed: 0, UInt64(truncatingIfNeeded: id.hashValueStable)) >> 2)
  }

  static func open(_ path: String, unit: String, hook: String) throws -> ShardReader {
    guard FileManager.default.fileExists(atPath: path) else {
      throw DataError.corruptShard(
        path: path, unit: unit, hook: hook, reason: "the committed shard is missing")
    }
    do { return try ShardReader(path: path) } catch let error as ShardError {
      throw DataError.corruptShard(path: path, unit: unit, hook: hook, reason: error.message)
    }
  }

  /// Opens the shard of `unit` for hook number `h` (inputs, then targets), checking it against
  /// the manifest (once per source) and its header against the job.
  private func reader(unit: DataUnit, hook h: Int) throws -> ShardReader {
    let hooks = inputHooks + targetHooks
    let output = outputs[unit.id]![h]
    let path = url.appendingPathComponent(output.path).path
    let hook = hooks[h].name
    if !verified.withLock({ $0.contains(path) }) {
      let bad = { (reason: String) in
        DataError.corruptShard(path: path, unit: unit.id, hook: hook, reason: reason)
      }
      guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else {
        throw bad("the committed shard is missing")
      }
      let size = (attributes[.size] as? NSNumber)?.intValue ?? -1
      guard size == output.bytes else {
        throw bad("the file has \(size) bytes but the manifest recorded \(output.bytes)")
      }
      if verification == .checksum {
        let identity: String
        do { identity = try Durable.fileIdentity(path) } catch {
          throw bad("cannot be read to check it: \(error)")
        }
        let expected = "\(output.bytes):\(output.checksum)"
        guard identity == expected else {
          throw bad("size:CRC-32 is \(identity) but the manifest recorded \(expected)")
        }
      }
      verified.withLock { _ = $0.insert(path) }
    }
    let reader = try JobSource.open(path, unit: unit.id, hook: hook)
    let info = reader.header.info
    let problem: String? =
      info.hook != hook
      ? "the header names hook \(info.hook)"
      : info.unitID != unit.id
        ? "the header names unit \(info.unitID)"
        : reader.d != hooks[h].width
          ? "the header has d = \(reader.d), the hook's other shards \(hooks[h].width)"
          : reader.rowCount != output.rows
            ? "it holds \(reader.rowCount) rows, the manifest \(output.rows)" : nil
    if let problem { throw DataError.corruptShard(path: path, unit: unit.id, hook: hook, reason: problem) }
    return reader
  }

  public func read(
    unit: DataUnit, rows: Range<Int>, inputs: UnsafeMutablePointer<Float>,
    targets: UnsafeMutablePointer<Float>?
  ) throws -> RowSide {
    try decode(unit: unit, rows: rows, inputs: inputs, targets: targets)
  }

  public func readSide(unit: DataUnit, rows: Range<Int>) throws -> RowSide {
    try decode(unit: unit, rows: rows, inputs: nil, targets: nil)
  }

  /// Reads every hook's side data (and activations when `inputs` is given), checking provenance.
  private func decode(
    unit: DataUnit, rows: Range<Int>, inputs: UnsafeMutablePointer<Float>?,
    targets: UnsafeMutablePointer<Float>?
  ) throws -> RowSide {
    let hooks = inputHooks + targetHooks
    let inputWidth = width
    let outWidth = targetWidth ?? 0
    var norms: [[Float]] = []
    var first: ShardBatch?
    var scratch: [Float] = []
    for (h, hook) in hooks.enumerated() {
      let reader = try reader(unit: unit, hook: h)
      let side: ShardBatch
      do {
        side = try reader.readSide(rows)
        let isInput = h < inputHooks.count
        if let base = isInput ? inputs : targets {
          let stride = isInput ? inputWidth : outWidth
          if stride == hook.width {
            try reader.readRows(rows, into: base)
          } else {
            if scratch.count < rows.count * hook.width {
              scratch = [Float](repeating: 0, count: rows.count * hook.width)
            }
            try scratch.withUnsafeMutableBufferPointer { buffer in
              let tmp = buffer.baseAddress!
              try reader.readRows(rows, into: tmp)
              for i in 0..<rows.count {
                (base + (i &* stride &+ hook.offset)).update(from: tmp + i &* hook.width, count: hook.width)
              }
            }
          }
        }
      } catch let error as ShardError {
        throw DataError.corruptShard(path: reader.path, unit: unit.id, hook: hook.name, reason: error.message)
      }
      if let first {
        try JobSource.checkProvenance(first, side, unit: unit.id, hooks: (hooks[0].name, hook.name))
      } else {
        first = side
      }
      norms.append(side.norms)
    }
    return RowSide(tokenIDs: first?.tokenIDs, norms: norms)
  }

  private static func checkProvenance(
    _ a: ShardBatch, _ b: ShardBatch, unit: String, hooks: (String, String)
  ) throws {
    for i in 0..<a.rowCount {
      var field: (String, String, String)?
      if a.tokenIDs[i] != b.tokenIDs[i] {
        field = ("token id", "\(a.tokenIDs[i])", "\(b.tokenIDs[i])")
      } else if a.documentIDs[i] != b.documentIDs[i] {
        field = ("document id", "\(a.documentIDs[i])", "\(b.documentIDs[i])")
      } else if a.positions[i] != b.positions[i] {
        field = ("position", "\(a.positions[i])", "\(b.positions[i])")
      }
      if let (name, x, y) = field {
        throw DataError.provenanceMismatch(
          unit: unit, firstHook: hooks.0, otherHook: hooks.1, row: a.firstRow + i, field: name, first: x,
          other: y)
      }
    }
  }
}

extension String {
  /// FNV-1a of the UTF-8 bytes: a hash that is the same in every process (Hasher is seeded per run).
  var hashValueStable: UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
    return h
  }
}
