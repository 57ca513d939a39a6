// Which training settings may change between a checkpoint and the command that resumes it.
//
// Every field of the training spec must match, except those listed in `ResumePolicy.allowed`, each
// with its rule. The default list is deliberately short: settings that do not change a single byte of
// what the steps already taken computed. Extending the token budget is allowed only upward; note that
// if the learning-rate schedule decays over the budget, a longer budget changes the steps still to come
// (the trainer decides whether its schedule is part of the spec under another key).

import LanternShards

/// The rule for a setting that may change on resume.
public enum ResumeChange: Sendable, Equatable {
  /// Any new value.
  case any
  /// A decimal integer that may only grow (e.g. the total token budget).
  case increaseOnly
}

/// The settings a resume may change, and the check that refuses every other change.
public struct ResumePolicy: Sendable, Equatable {
  /// Spec keys that may change, with their rule.
  public var allowed: [String: ResumeChange]

  public init(allowed: [String: ResumeChange]) { self.allowed = allowed }

  /// Spec keys of the settings the default policy lets a resume change.
  public enum Key {
    /// The total token budget (`--tokens`): may be extended.
    public static let tokens = "tokens"
    /// Logging interval in steps.
    public static let logEvery = "log_every"
    /// Checkpoint interval in steps (`--checkpoint-every`).
    public static let checkpointEvery = "checkpoint_every"
    /// How many checkpoints to keep.
    public static let keepCheckpoints = "keep_checkpoints"
  }

  /// Token budget extended (never shrunk), logging / checkpoint intervals and retention changed.
  public static let standard = ResumePolicy(allowed: [
    Key.tokens: .increaseOnly, Key.logEvery: .any, Key.checkpointEvery: .any, Key.keepCheckpoints: .any,
  ])

  /// No setting may change.
  public static let strict = ResumePolicy(allowed: [:])

  /// Throws `ResumeRefused` naming every field that differs between `stored` (the checkpoint's) and
  /// `requested` (the command's) and is not allowed to.
  public func check(stored: JobSpec, requested: JobSpec, path: String) throws {
    let mine = Dictionary(stored.fields.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
    let theirs = Dictionary(requested.fields.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
    var keys: [String] = []
    for key in stored.fields.map(\.key) + requested.fields.map(\.key) where !keys.contains(key) {
      keys.append(key)
    }
    var refused: [String] = []
    var details: [String] = []
    for key in keys where mine[key] != theirs[key] {
      if let rule = allowed[key], mine[key] != nil, theirs[key] != nil {
        switch rule {
        case .any: continue
        case .increaseOnly:
          if let a = Int(mine[key]!), let b = Int(theirs[key]!), b >= a { continue }
        }
      }
      refused.append(key)
      let one = JobSpec(mine[key].map { [(key: key, value: $0)] } ?? [])
      let other = JobSpec(theirs[key].map { [(key: key, value: $0)] } ?? [])
      var line = one.differences(from: other).first ?? "'\(key)' differs"
      if allowed[key] == .increaseOnly { line += " (it may only grow)" }
      details.append(line)
    }
    if !refused.isEmpty { throw ResumeRefused(path: path, fields: refused, details: details) }
  }
}
