// Errors from checkpoints, export and import of dictionaries. Every case names the file (and the
// field, tensor or setting where one exists) and carries a `---> HINT:` saying what to do next.

import Foundation

/// An error of the dictionary storage layer (checkpoints, SAELens export/import).
public struct DictionaryStorageError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The file or directory concerned.
  public let path: String
  /// What is wrong, naming the field, tensor or setting.
  public let message: String
  /// What to do next.
  public let hint: String

  public init(_ path: String, _ message: String, hint: String) {
    self.path = path
    self.message = message
    self.hint = hint
  }

  public var description: String { "\(path): \(message) ---> HINT: \(hint)" }
}

/// The settings whose change a resume refuses, each named with both values.
public struct ResumeRefused: Error, CustomStringConvertible, Equatable, Sendable {
  /// The checkpoint directory that holds the stored spec.
  public let path: String
  /// The changed setting names, in spec order.
  public let fields: [String]
  /// One human-readable line per changed setting (from `JobSpec.differences`).
  public let details: [String]

  public var description: String {
    "\(path): the checkpoint was trained with different settings: " + details.joined(separator: "; ")
      + " ---> HINT: rerun with the original settings to resume, or use a new --out directory"
  }
}
