// Byte streams under the corpus readers: a plain file read forward from any offset with read(2),
// and a line splitter over any byte stream (plain or gunzipped, see Gzip.swift).
//
// Nothing here maps or loads a whole file: reads go through a fixed buffer (1 MiB), and a line
// longer than the caller's limit is skipped to its end without being stored. Lines end at '\n';
// the reader hands out the bytes before it ('\r' included: the record parsers decide).

import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
  #if canImport(Glibc)
    return Glibc.read(fd, buffer, count)
  #else
    return Darwin.read(fd, buffer, count)
  #endif
}

/// A forward-only stream of bytes.
protocol CorpusByteSource: AnyObject {
  /// Reads up to `buffer.count` bytes into `buffer`; returns 0 only at the end of the stream.
  func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

extension CorpusByteSource {
  /// Reads and discards `count` bytes; throws if the stream ends first.
  func discard(_ count: Int64, path: String) throws {
    var left = count
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
    defer { scratch.deallocate() }
    while left > 0 {
      let want = Int(min(left, Int64(scratch.count)))
      let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<want]))
      if n == 0 {
        throw CorpusError.corpusChanged(
          path: path, reason: "the stream ends \(left) bytes before offset \(count)")
      }
      left -= Int64(n)
    }
  }
}

/// A regular file read forward from a starting offset.
final class FileByteSource: CorpusByteSource {
  let path: String
  private let descriptor: Int32
  /// The file offset of the next byte `read` returns.
  private(set) var offset: Int64

  init(path: String, offset: Int64 = 0) throws {
    self.path = path
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw CorpusError.io(path: path, operation: "open", reason: corpusErrnoText()) }
    descriptor = fd
    self.offset = 0
    if offset > 0 {
      guard lseek(fd, off_t(offset), SEEK_SET) == off_t(offset) else {
        let reason = corpusErrnoText()
        close(fd)
        throw CorpusError.io(path: path, operation: "seek to byte \(offset)", reason: reason)
      }
      self.offset = offset
    }
  }

  deinit { close(descriptor) }

  func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
    while true {
      let n = systemRead(descriptor, base, buffer.count)
      if n >= 0 {
        offset += Int64(n)
        return n
      }
      if errno != EINTR {
        throw CorpusError.io(path: path, operation: "read at byte \(offset)", reason: corpusErrnoText())
      }
    }
  }

  /// Moves to file offset `target`.
  func seek(to target: Int64) throws {
    guard lseek(descriptor, off_t(target), SEEK_SET) == off_t(target) else {
      throw CorpusError.io(path: path, operation: "seek to byte \(target)", reason: corpusErrnoText())
    }
    offset = target
  }

  /// Reads exactly `buffer.count` bytes or throws `corruptFile` naming `field`.
  func readExactly(into buffer: UnsafeMutableRawBufferPointer, field: String) throws {
    var done = 0
    let start = offset
    while done < buffer.count {
      let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
      if n == 0 {
        throw CorpusError.corruptFile(
          path: path, byteOffset: start, reason: "the file ends inside the \(field)",
          hint: "the file is truncated; write it again")
      }
      done += n
    }
  }

  /// The size of the regular file at `path`.
  static func size(path: String) throws -> Int64 {
    var info = stat()
    guard stat(path, &info) == 0 else {
      throw CorpusError.io(path: path, operation: "stat", reason: corpusErrnoText())
    }
    guard (info.st_mode & S_IFMT) == S_IFREG else {
      throw CorpusError.io(path: path, operation: "read", reason: "not a regular file")
    }
    return Int64(info.st_size)
  }
}

/// One line handed out by `LineReader`.
struct CorpusLine {
  /// The bytes before '\n' (empty when the line was too long; see `tooLong`).
  var bytes: [UInt8]
  /// Stream offset of the line's first byte.
  var offset: Int64
  /// 1-based line number.
  var number: Int
  /// The line was longer than the limit and was skipped, not stored.
  var tooLong: Bool
  /// The line's length in bytes (without '\n'), also when too long.
  var length: Int64
}

/// Splits a byte stream into lines, keeping a window of it (1 MiB by default) in memory.
final class LineReader {
  private let source: any CorpusByteSource
  private var buffer: UnsafeMutableRawBufferPointer
  private var start = 0
  private var end = 0
  private var atEnd = false
  /// Stream offset of `buffer[start]`.
  private(set) var offset: Int64
  /// Number of the next line (1-based).
  private(set) var nextNumber: Int

  init(source: any CorpusByteSource, offset: Int64 = 0, firstLineNumber: Int = 1, bufferSize: Int = 1 << 20) {
    self.source = source
    buffer = .allocate(byteCount: max(bufferSize, 1), alignment: 64)
    self.offset = offset
    nextNumber = firstLineNumber
  }

  deinit { buffer.deallocate() }

  /// The next line, or nil at the end of the stream. A final line without '\n' counts as a line;
  /// an empty stream or one ending in '\n' has no extra empty line after it.
  func next(maxBytes: Int) throws -> CorpusLine? {
    let lineOffset = offset
    var stored: [UInt8] = []
    var length: Int64 = 0
    var tooLong = false
    while true {
      if start == end {
        let more = atEnd ? false : try refill()
        if !more {
          if length == 0 && !tooLong { return nil }
          break
        }
      }
      let base = buffer.baseAddress!
      let available = end - start
      let found = memchr(base + start, 0x0A, available)
      let take = found.map { base.distance(to: $0) - start } ?? available
      if !tooLong {
        if length + Int64(take) > Int64(maxBytes) {
          tooLong = true
          stored = []
        } else {
          stored.append(contentsOf: UnsafeRawBufferPointer(start: base + start, count: take))
        }
      }
      length += Int64(take)
      start += take
      offset += Int64(take)
      if found != nil {
        start += 1
        offset += 1
        break
      }
    }
    let number = nextNumber
    nextNumber += 1
    return CorpusLine(bytes: stored, offset: lineOffset, number: number, tooLong: tooLong, length: length)
  }

  /// Reads more bytes into the (empty) buffer; false at the end of the stream.
  private func refill() throws -> Bool {
    start = 0
    end = try source.read(into: buffer)
    if end == 0 { atEnd = true }
    return end > 0
  }
}

/// Opens `path` as a byte stream from `offset` (an uncompressed offset for gzip files).
func openByteStream(path: String, gzip: Bool, offset: Int64, bufferSize: Int) throws -> any CorpusByteSource {
  if !gzip { return try FileByteSource(path: path, offset: offset) }
  let stream = try GzipByteSource(file: FileByteSource(path: path), inputBufferSize: bufferSize)
  if offset > 0 { try stream.discard(offset, path: path) }
  return stream
}

/// The byte index of the first invalid UTF-8 sequence in `bytes`, or nil if all of it is valid.
func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
  if String(validating: bytes, as: UTF8.self) != nil { return nil }
  var i = 0
  while i < bytes.count {
    let b = bytes[i]
    let need: Int
    var low: UInt8 = 0x80
    var high: UInt8 = 0xBF
    switch b {
    case 0x00...0x7F: need = 0
    case 0xC2...0xDF: need = 1
    case 0xE0:
      need = 2
      low = 0xA0
    case 0xE1...0xEC, 0xEE...0xEF: need = 2
    case 0xED:
      need = 2
      high = 0x9F
    case 0xF0:
      need = 3
      low = 0x90
    case 0xF1...0xF3: need = 3
    case 0xF4:
      need = 3
      high = 0x8F
    default: return i
    }
    guard i + need < bytes.count else { return i }
    for k in 0..<need {
      let c = bytes[i + 1 + k]
      let (lo, hi) = k == 0 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
      if c < lo || c > hi { return i }
    }
    i += 1 + need
  }
  return nil
}
