// Positioned reads from a shard file (pread(2)), each checked against the file size taken at
// open, so a short or failed read becomes a ShardError naming the section and offset.
// Left out: mmap (a file truncated by someone else while mapped raises SIGBUS instead of an error).

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A read-only file descriptor with its size.
final class ShardFile {
  let path: String
  let size: UInt64
  private let fd: Int32

  init(path: String) throws(ShardError) {
    self.path = path
    fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      throw .io(path: path, operation: "open", offset: nil, reason: systemErrorText(errno))
    }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
      let reason = systemErrorText(errno)
      _ = closeDescriptor(fd)
      throw .io(path: path, operation: "stat", offset: nil, reason: reason)
    }
    guard (info.st_mode & S_IFMT) == S_IFREG else {
      _ = closeDescriptor(fd)
      throw .io(path: path, operation: "open", offset: nil, reason: "not a regular file")
    }
    size = UInt64(info.st_size)
  }

  deinit { _ = closeDescriptor(fd) }

  /// Reads exactly `buffer.count` bytes at `offset` (already checked to lie inside the file).
  func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64, section: String) throws(ShardError)
  {
    guard let base = buffer.baseAddress else { return }
    guard let end = checkedAdd(offset, UInt64(buffer.count)), end <= size else {
      throw .truncated(
        path: path, section: section, offset: offset, needed: UInt64(buffer.count), fileSize: size)
    }
    var done = 0
    while done < buffer.count {
      let n = pread(fd, base + done, buffer.count - done, off_t(offset) + off_t(done))
      if n < 0 {
        let code = errno
        if code == EINTR { continue }
        throw .io(
          path: path, operation: "read \(section)", offset: offset + UInt64(done),
          reason: systemErrorText(code))
      }
      if n == 0 {
        // The file shrank after it was opened.
        throw .truncated(
          path: path, section: section, offset: offset + UInt64(done), needed: UInt64(buffer.count - done),
          fileSize: offset + UInt64(done))
      }
      done += n
    }
  }

  /// Reads `count` bytes at `offset` into a new array (`count` is checked against the file size first).
  func read(_ count: Int, at offset: UInt64, section: String) throws(ShardError) -> [UInt8] {
    guard let end = checkedAdd(offset, UInt64(count)), end <= size else {
      throw .truncated(path: path, section: section, offset: offset, needed: UInt64(count), fileSize: size)
    }
    var bytes = [UInt8](repeating: 0, count: count)
    try bytes.withMutableShardBytes { buffer throws(ShardError) in
      try read(into: buffer, at: offset, section: section)
    }
    return bytes
  }
}
