// DataError: the one error type of the training data stream (job-directory and .npy sources,
// the held-out split, the shuffle, filters and the batch iterator).
//
// Every case names the file, hook or unit it is about; `description` renders one line ending in
// "---> HINT: ...". Errors from the shard reader (ShardError) and the .npy parser (FormatError)
// are wrapped so that the unit they happened in is named too.

/// An error opening or streaming training data.
public enum DataError: Error, CustomStringConvertible, Sendable {
  /// The job directory is missing a file or holds one that cannot be read.
  case badJob(path: String, reason: String)
  /// A requested hook is not in the job; `available` lists the hooks it has.
  case unknownHook(path: String, hook: String, available: [String])
  /// Two hooks (or a hook's shards) disagree on the row width.
  case widthMismatch(subject: String, expected: Int, found: Int, hint: String)
  /// There is nothing to train on (no committed units, no rows, or every row filtered out).
  case empty(subject: String, reason: String)
  /// A committed shard is missing or differs from what the manifest recorded.
  case corruptShard(path: String, unit: String, hook: String, reason: String)
  /// Two hooks of one unit do not describe the same tokens (paired rows must match).
  case provenanceMismatch(
    unit: String, firstHook: String, otherHook: String, row: Int, field: String, first: String, other: String)
  /// An .npy file cannot be used (wrong dtype, rank, shape, or size).
  case badNPY(path: String, reason: String, hint: String)
  /// Input and target .npy files hold different numbers of rows.
  case rowCountMismatch(inputs: String, inputRows: Int, targets: String, targetRows: Int)
  /// A setting is out of range (named).
  case invalidSetting(name: String, reason: String)
  /// A lower-level reader failed in `unit` (its own message is kept).
  case read(unit: String, hook: String, underlying: String)

  /// What to do about it, one sentence.
  public var hint: String {
    switch self {
    case .badJob:
      return "point --data at a Lantern job directory (job.yaml, manifest.jsonl, shards/) or an .npy file"
    case .unknownHook:
      return "pass one of the job's hooks with --hook / --target-hook, or extract the hook first"
    case .widthMismatch(_, _, _, let hint), .badNPY(_, _, let hint):
      return hint
    case .empty:
      return "extract (or commit) more units, lower the held-out fraction, or relax the filters"
    case .corruptShard(_, let unit, _, _):
      return "the shard changed after it was committed; re-extract unit \(unit) "
        + "(`lantern verify` lists every damaged shard)"
    case .provenanceMismatch:
      return "the hooks were not extracted together; pair hooks of one extraction job only"
    case .rowCountMismatch:
      return "the target file must hold one row per input row, in the same order"
    case .invalidSetting:
      return "fix the setting named in the message"
    case .read(let unit, _, _):
      return "the shard of unit \(unit) cannot be read; re-extract it (`lantern verify` names the damage)"
    }
  }

  /// The message without the hint.
  public var message: String {
    switch self {
    case .badJob(let path, let reason):
      return "\(path): \(reason)"
    case .unknownHook(let path, let hook, let available):
      return "\(path): hook '\(hook)' is not in this job (it has: \(available.joined(separator: ", ")))"
    case .widthMismatch(let subject, let expected, let found, _):
      return "\(subject): row width \(found), expected \(expected)"
    case .empty(let subject, let reason):
      return "\(subject): no training data: \(reason)"
    case .corruptShard(let path, let unit, let hook, let reason):
      return "\(path) (unit \(unit), hook \(hook)): \(reason)"
    case .provenanceMismatch(let unit, let firstHook, let otherHook, let row, let field, let first, let other):
      return
        "unit \(unit), row \(row): \(field) is \(first) in \(firstHook) but \(other) in \(otherHook)"
    case .badNPY(let path, let reason, _):
      return "\(path): \(reason)"
    case .rowCountMismatch(let inputs, let inputRows, let targets, let targetRows):
      return "\(inputs) holds \(inputRows) rows but \(targets) holds \(targetRows)"
    case .invalidSetting(let name, let reason):
      return "\(name): \(reason)"
    case .read(let unit, let hook, let underlying):
      return "unit \(unit), hook \(hook): \(underlying)"
    }
  }

  public var description: String { "\(message) ---> HINT: \(hint)" }
}
