// Where a shard writer's bytes go: a file (the real sink) or, in tests, anything that conforms
// (e.g. a sink that fails with ENOSPC after N bytes). Every failure becomes a `ShardError.io`
// that names the file, the operation, the offset and the system's reason.
//
// Left out: temporary names and renames (the job layer writes to an attempt-private path and
// commits by rename), and fsync of the directory (the rename's caller owns that).

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// An append-only byte destination that can patch bytes it already wrote and flush to stable storage.
protocol ShardSink: AnyObject {
  /// Appends `bytes` at the end.
  func append(_ bytes: UnsafeRawBufferPointer) throws(ShardError)
  /// Overwrites bytes already written, starting at `offset`.
  func overwrite(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(ShardError)
  /// Flushes everything to stable storage (fsync).
  func synchronize() throws(ShardError)
  /// Releases the destination; idempotent.
  func close() throws(ShardError)
}

func systemErrorText(_ code: Int32) -> String { String(cString: strerror(code)) }

/// close(2), reachable from types that have their own `close` method.
func closeDescriptor(_ fd: Int32) -> Int32 { close(fd) }

/// A sink writing to a file with write(2)/pwrite(2), created (or truncated) on open.
final class FileShardSink: ShardSink {
  let path: String
  private var fd: Int32
  private var position: UInt64 = 0

  init(path: String) throws(ShardError) {
    self.path = path
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw .io(path: path, operation: "open for writing", offset: nil, reason: systemErrorText(errno))
    }
  }

  deinit { if fd >= 0 { _ = closeDescriptor(fd) } }

  func append(_ bytes: UnsafeRawBufferPointer) throws(ShardError) {
    try writeAll(bytes, at: position, positioned: false)
    position += UInt64(bytes.count)
  }

  func overwrite(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(ShardError) {
    try writeAll(bytes, at: offset, positioned: true)
  }

  private func writeAll(_ bytes: UnsafeRawBufferPointer, at offset: UInt64, positioned: Bool)
    throws(ShardError)
  {
    guard fd >= 0 else {
      throw .io(path: path, operation: "write", offset: offset, reason: "the file is closed")
    }
    guard let base = bytes.baseAddress else { return }
    var done = 0
    while done < bytes.count {
      let n =
        positioned
        ? pwrite(fd, base + done, bytes.count - done, off_t(offset) + off_t(done))
        : write(fd, base + done, bytes.count - done)
      if n < 0 {
        let code = errno
        if code == EINTR { continue }
        throw .io(
          path: path, operation: "write \(bytes.count - done) bytes", offset: offset + UInt64(done),
          reason: systemErrorText(code))
      }
      if n == 0 {
        throw .io(
          path: path, operation: "write \(bytes.count - done) bytes", offset: offset + UInt64(done),
          reason: "the file system accepted no bytes")
      }
      done += n
    }
  }

  func synchronize() throws(ShardError) {
    guard fd >= 0 else {
      throw .io(path: path, operation: "fsync", offset: nil, reason: "the file is closed")
    }
    while fsync(fd) != 0 {
      let code = errno
      if code == EINTR { continue }
      throw .io(path: path, operation: "fsync", offset: nil, reason: systemErrorText(code))
    }
  }

  func close() throws(ShardError) {
    guard fd >= 0 else { return }
    let result = closeDescriptor(fd)
    fd = -1
    if result != 0 {
      throw .io(path: path, operation: "close", offset: nil, reason: systemErrorText(errno))
    }
  }
}
