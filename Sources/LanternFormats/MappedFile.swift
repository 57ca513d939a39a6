// Read-only memory-mapped files, a bounds-checked little-endian cursor over them, and the
// atomic write (temp file + fsync + rename) every writer in this module uses.
//
// A mapping is immutable and shared by reference, so the wrapper is `@unchecked Sendable`.
// Left out: protection against another process truncating the file while it is mapped (that
// raises SIGBUS on access; Lantern never rewrites a file in place, it renames new files over).
// Little-endian hosts only (x86-64, arm64), which is what every format here stores.

import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A whole file mapped read-only into memory. An empty file is not mapped (`bytes` is empty).
final class MappedFile: @unchecked Sendable {
  let path: String
  let size: Int
  private let base: UnsafeMutableRawPointer?

  init(path: String) throws {
    self.path = path
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FormatError.io(path: path, operation: "open", reason: errnoText()) }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
      throw FormatError.io(path: path, operation: "stat", reason: errnoText())
    }
    guard (info.st_mode & S_IFMT) == S_IFREG else {
      throw FormatError.io(path: path, operation: "read", reason: "not a regular file")
    }
    size = Int(info.st_size)
    if size == 0 {
      base = nil
      return
    }
    let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
    guard let mapped, mapped != MAP_FAILED else {
      throw FormatError.io(path: path, operation: "mmap \(size) bytes", reason: errnoText())
    }
    base = mapped
  }

  deinit {
    if let base { munmap(base, size) }
  }

  /// The file's bytes; valid for the lifetime of this object.
  var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: size) }
}

func errnoText() -> String { String(cString: strerror(errno)) }

/// A cursor over bytes that checks every read against the end and names the field on failure.
struct ByteReader {
  let path: String
  let bytes: UnsafeRawBufferPointer
  var offset: Int

  init(path: String, bytes: UnsafeRawBufferPointer, offset: Int = 0) {
    self.path = path
    self.bytes = bytes
    self.offset = offset
  }

  /// Bytes left after the cursor.
  var remaining: Int { bytes.count - offset }

  /// Throws `.truncated` unless `count` more bytes exist.
  func need(_ count: UInt64, _ field: @autoclosure () -> String) throws {
    if count > UInt64(remaining) {
      throw FormatError.truncated(
        path: path, field: field(), offset: offset, needed: count, available: remaining)
    }
  }

  mutating func read<T: FixedWidthInteger>(_: T.Type, _ field: @autoclosure () -> String) throws -> T {
    try need(UInt64(MemoryLayout<T>.size), field())
    let value = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
    offset &+= MemoryLayout<T>.size
    return T(littleEndian: value)
  }

  /// Returns the next `count` bytes (already checked to exist) and advances past them.
  mutating func take(_ count: UInt64, _ field: @autoclosure () -> String) throws
    -> UnsafeRawBufferPointer
  {
    try need(count, field())
    let n = Int(count)
    let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset &+ n)])
    offset &+= n
    return slice
  }
}

/// Decodes UTF-8, returning nil for ill-formed input (never substituting U+FFFD).
func strictUTF8(_ raw: UnsafeRawBufferPointer) -> String? {
  let units = raw.bindMemory(to: UInt8.self)
  var ascii = true
  for b in units where b >= 0x80 {
    ascii = false
    break
  }
  if ascii { return String(decoding: units, as: UTF8.self) }
  return String(validating: units, as: UTF8.self)
}

/// Multiplies non-negative sizes, returning nil on overflow.
func checkedProduct(_ values: [Int]) -> Int? {
  var product = 1
  for v in values {
    let (p, overflow) = product.multipliedReportingOverflow(by: v)
    if overflow { return nil }
    product = p
  }
  return product
}

/// Writes a file so that it appears complete under its name or not at all: the bytes go to a
/// temporary file in the same directory, are fsynced, and the temporary is renamed over `url`.
/// `body` receives a writer that appends bytes.
func writeAtomically(to url: URL, _ body: (inout FileSink) throws -> Void) throws {
  let path = url.path
  let directory = url.deletingLastPathComponent().path
  let temporary = "\(directory)/.\(url.lastPathComponent).tmp-\(getpid())-\(UUID().uuidString)"
  let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
  guard fd >= 0 else {
    throw FormatError.io(path: path, operation: "create \(temporary)", reason: errnoText())
  }
  var sink = FileSink(fd: fd, path: path)
  do {
    try body(&sink)
    try sink.flush()
    guard fsync(fd) == 0 else { throw FormatError.io(path: path, operation: "fsync", reason: errnoText()) }
    close(fd)
    guard rename(temporary, path) == 0 else {
      throw FormatError.io(path: path, operation: "rename \(temporary)", reason: errnoText())
    }
  } catch {
    close(fd)
    unlink(temporary)
    throw error
  }
}

/// A buffered appender to a file descriptor (used only inside `writeAtomically`).
struct FileSink {
  let fd: Int32
  let path: String
  private var buffer: [UInt8] = []

  init(fd: Int32, path: String) {
    self.fd = fd
    self.path = path
    buffer.reserveCapacity(1 << 20)
  }

  mutating func append(_ bytes: [UInt8]) throws {
    buffer.append(contentsOf: bytes)
    if buffer.count >= 1 << 20 { try flush() }
  }

  mutating func append(_ raw: UnsafeRawBufferPointer) throws {
    if raw.count >= 1 << 20 {
      try flush()
      try writeAll(raw)
    } else {
      buffer.append(contentsOf: raw)
      if buffer.count >= 1 << 20 { try flush() }
    }
  }

  mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) throws {
    try withUnsafeBytes(of: value.littleEndian) { try append($0) }
  }

  mutating func flush() throws {
    if buffer.isEmpty { return }
    try buffer.withUnsafeBytes { try writeAll($0) }
    buffer.removeAll(keepingCapacity: true)
  }

  private func writeAll(_ raw: UnsafeRawBufferPointer) throws {
    var done = 0
    while done < raw.count {
      let n = write(fd, raw.baseAddress! + done, raw.count - done)
      if n < 0 {
        if errno == EINTR { continue }
        throw FormatError.io(path: path, operation: "write", reason: errnoText())
      }
      done += n
    }
  }
}
