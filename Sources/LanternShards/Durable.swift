// Durable file operations for the commit path: fsync of files and directories, rename-then-
// fsync-the-directory, and an fsynced append log. A committed file is never visible under its
// final name before its bytes are on disk (DESIGN.md invariants).

import CZlib
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Errors from the job directory and its durable operations.
public struct JobError: Error, CustomStringConvertible, Equatable, Sendable {
  public let path: String
  public let message: String
  public let hint: String
  public init(_ path: String, _ message: String, hint: String) {
    self.path = path
    self.message = message
    self.hint = hint
  }
  public var description: String { "\(path): \(message) ---> HINT: \(hint)" }
}

/// fsync, rename and append helpers.
public enum Durable {
  static func errnoText() -> String { String(cString: strerror(errno)) }

  /// fsyncs the file or directory at `path`.
  public static func fsync(path: String) throws {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else {
      throw JobError(path, "cannot open for fsync: \(errnoText())", hint: "check permissions")
    }
    defer { close(fd) }
    guard Glibc.fsync(fd) == 0 else {
      throw JobError(path, "fsync failed: \(errnoText())", hint: "the disk may be full or failing")
    }
  }

  /// Renames `from` to `to` (atomically replacing it) and fsyncs the destination directory.
  public static func renameAndSync(from: URL, to: URL) throws {
    guard rename(from.path, to.path) == 0 else {
      throw JobError(
        to.path, "rename from \(from.lastPathComponent) failed: \(errnoText())",
        hint: "check the job directory")
    }
    try fsync(path: to.deletingLastPathComponent().path)
  }

  /// Writes `data` to `url` atomically: temporary file, fsync, rename, fsync of the directory.
  public static func writeAtomically(_ data: Data, to url: URL) throws {
    let tmp = url.deletingLastPathComponent().appendingPathComponent(
      ".\(url.lastPathComponent).tmp-\(getpid())")
    do {
      try data.write(to: tmp)
    } catch {
      throw JobError(
        url.path, "cannot write: \(error.localizedDescription)", hint: "check free space and permissions")
    }
    try fsync(path: tmp.path)
    try renameAndSync(from: tmp, to: url)
  }

  /// CRC-32 (zlib) of a byte buffer.
  public static func crc32(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
    var crc = uLong(seed)
    var offset = 0
    while offset < bytes.count {
      let n = min(bytes.count - offset, 1 << 30)
      crc = CZlib.crc32(crc, bytes.baseAddress!.assumingMemoryBound(to: Bytef.self) + offset, uInt(n))
      offset += n
    }
    return UInt32(truncatingIfNeeded: crc)
  }

  /// CRC-32 of a string's UTF-8 bytes, as 8 hex digits.
  public static func crc32Hex(_ text: String) -> String {
    var copy = text
    let crc = copy.withUTF8 { crc32(UnsafeRawBufferPointer($0)) }
    return String(format: "%08x", crc)
  }

  /// Identity of a file for provenance: size and CRC-32 of its bytes, "size:crc".
  public static func fileIdentity(_ path: String) throws -> String {
    guard let handle = FileHandle(forReadingAtPath: path) else {
      throw JobError(path, "cannot open to hash", hint: "check the path")
    }
    defer { try? handle.close() }
    var crc: UInt32 = 0
    var size = 0
    while true {
      let chunk = handle.readData(ofLength: 8 << 20)
      if chunk.isEmpty { break }
      size += chunk.count
      crc = chunk.withUnsafeBytes { crc32($0, seed: crc) }
    }
    return String(format: "%d:%08x", size, crc)
  }
}

/// An append-only log of lines, each write followed by fsync.
final class AppendLog {
  private let fd: Int32
  let path: String

  init(path: String) throws {
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw JobError(path, "cannot open for appending: \(Durable.errnoText())", hint: "check permissions")
    }
    self.path = path
  }

  deinit { close(fd) }

  func append(line: String) throws {
    var bytes = Array((line + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
      let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
      if n < 0 {
        if errno == EINTR { continue }
        throw JobError(
          path, "append failed: \(Durable.errnoText())", hint: "free disk space, then rerun: the job resumes")
      }
      offset += n
    }
    guard Glibc.fsync(fd) == 0 else {
      throw JobError(
        path, "fsync failed: \(Durable.errnoText())", hint: "free disk space, then rerun: the job resumes")
    }
    bytes.removeAll()
  }
}
