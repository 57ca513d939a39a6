// ShardError: the one error type of the shard writer and readers.
//
// Every case names the file and, where one applies, the section, block and byte offset;
// `description` renders one line ending in "---> HINT: ...", in the llm.c style. Readers throw
// these for any malformed input and never trap; writers throw them for I/O failures (naming the
// file and the errno text, e.g. "No space left on device") and for inconsistent arguments.

/// An error writing, opening, reading or verifying an activation shard (`.lshard`).
public enum ShardError: Error, CustomStringConvertible, Equatable, Sendable {
  /// A system call failed: open, write, fsync, read, close. `offset` is where it happened, if known.
  case io(path: String, operation: String, offset: UInt64?, reason: String)
  /// The file does not start with the shard magic bytes.
  case badMagic(path: String, found: [UInt8])
  /// The format version is not one this reader understands.
  case unsupportedVersion(path: String, version: UInt32, supported: UInt32)
  /// The file ends before `section` does: `needed` bytes at `offset`, but the file has `fileSize`.
  /// A missing end marker (the last bytes of every complete shard) is reported this way too.
  case truncated(path: String, section: String, offset: UInt64, needed: UInt64, fileSize: UInt64)
  /// A length or count read at `offset` exceeds what the file could hold or a sanity limit.
  case lengthTooLarge(path: String, field: String, offset: UInt64, value: UInt64, limit: UInt64)
  /// A stored CRC-32 does not match the bytes it covers. `block` is set for block sections.
  case checksumMismatch(
    path: String, section: String, block: Int?, offset: UInt64, stored: UInt32, computed: UInt32)
  /// A header field holds a value outside its domain (unknown dtype, zero width, bad UTF-8, ...).
  case invalidHeader(path: String, field: String, offset: UInt64, reason: String)
  /// A block index entry is inconsistent (range not contiguous, sizes that do not match the rows).
  case invalidIndex(path: String, block: Int, offset: UInt64, reason: String)
  /// The trailer's fields contradict each other or the rest of the file.
  case invalidTrailer(path: String, offset: UInt64, reason: String)
  /// A block passed its CRC but did not decode: an LZ4 frame error or a size mismatch.
  case corruptBlock(path: String, block: Int, section: String, offset: UInt64, reason: String)
  /// The caller asked for something the shard does not hold, or handed a writer inconsistent input.
  case invalidArgument(path: String, reason: String)

  /// The file the error is about.
  public var path: String {
    switch self {
    case .io(let p, _, _, _), .badMagic(let p, _), .unsupportedVersion(let p, _, _),
      .truncated(let p, _, _, _, _), .lengthTooLarge(let p, _, _, _, _),
      .checksumMismatch(let p, _, _, _, _, _), .invalidHeader(let p, _, _, _), .invalidIndex(let p, _, _, _),
      .invalidTrailer(let p, _, _), .corruptBlock(let p, _, _, _, _), .invalidArgument(let p, _):
      return p
    }
  }

  /// What to do about it, one sentence.
  public var hint: String {
    switch self {
    case .io(_, let operation, _, let reason):
      if reason.contains("No space") || reason.contains("quota") {
        return
          "free space on the file system holding the shard (or point the job at a larger one), then resume"
      }
      return operation.hasPrefix("open")
        ? "check that the path exists and that its directory is readable (or writable, for a writer)"
        : "check the file system (full, read-only, or gone away) and resume the job"
    case .badMagic:
      return "this is not a Lantern activation shard (.lshard); check the path"
    case .unsupportedVersion:
      return "the shard was written by another Lantern version; read it with that version or re-extract"
    case .truncated:
      return "the shard is incomplete (truncated, or its writer never finished); re-extract this unit"
    case .lengthTooLarge, .invalidHeader, .invalidIndex, .invalidTrailer:
      return "the shard is corrupt; re-extract this unit (`lantern verify` lists every damaged shard)"
    case .checksumMismatch, .corruptBlock:
      return "the shard's bytes changed after writing (disk or copy error); re-extract this unit"
    case .invalidArgument:
      return "fix the arguments (row ranges must lie inside the shard; batches must match the width)"
    }
  }

  /// The message without the path and hint.
  public var message: String {
    switch self {
    case .io(_, let operation, let offset, let reason):
      return "cannot \(operation)\(offset.map { " at offset \($0)" } ?? ""): \(reason)"
    case .badMagic(_, let found):
      let hex = found.map { String($0, radix: 16) }.joined(separator: " ")
      return "bad magic [\(hex)], expected an .lshard file"
    case .unsupportedVersion(_, let version, let supported):
      return "format version \(version) is not supported (this reader reads version \(supported))"
    case .truncated(_, let section, let offset, let needed, let fileSize):
      return "\(section) at offset \(offset) needs \(needed) bytes but the file has only \(fileSize)"
    case .lengthTooLarge(_, let field, let offset, let value, let limit):
      return "\(field) at offset \(offset) is \(value), more than the limit \(limit)"
    case .checksumMismatch(_, let section, let block, let offset, let stored, let computed):
      return
        "\(section)\(block.map { " of block \($0)" } ?? "") at offset \(offset) has CRC-32 "
        + "\(CRC32.hex(computed)) but \(CRC32.hex(stored)) was stored"
    case .invalidHeader(_, let field, let offset, let reason):
      return "header field \(field) at offset \(offset): \(reason)"
    case .invalidIndex(_, let block, let offset, let reason):
      return "index entry of block \(block) at offset \(offset): \(reason)"
    case .invalidTrailer(_, let offset, let reason):
      return "trailer at offset \(offset): \(reason)"
    case .corruptBlock(_, let block, let section, let offset, let reason):
      return "\(section) of block \(block) at offset \(offset) does not decode: \(reason)"
    case .invalidArgument(_, let reason):
      return reason
    }
  }

  public var description: String { "\(path): \(message) ---> HINT: \(hint)" }
}
