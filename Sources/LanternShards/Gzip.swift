// Streaming gzip decompression (RFC 1952) through zlib, for .jsonl.gz and .txt.gz corpora.
//
// Byte layout of a gzip file (zlib parses it; listed here for the error messages):
//  1. one or more members, each:
//     a. header: 1F 8B, method 08 (deflate), flags, mtime u32, xfl, os; then the optional
//        extra field, file name, comment and header CRC the flags announce
//     b. deflate data
//     c. trailer: CRC-32 of the uncompressed member (u32 LE), its size mod 2^32 (u32 LE)
//  2. optionally zero bytes of padding after a member (skipped, as Python's gzip module does)
//
// Members are concatenated: `cat a.gz b.gz > c.gz` decompresses to the two texts in a row, and
// this reader returns them as one stream (inflateReset between members). zlib checks every
// member's CRC and length. A file that ends inside a member, bytes after a member that are not
// another member, and corrupt deflate data are errors naming the compressed byte offset.
// Left out: random access (seeking to an uncompressed offset decompresses up to it).

import CZlib
import Foundation

/// Decompresses a gzip file on the fly through a fixed input buffer (256 KiB by default).
final class GzipByteSource: CorpusByteSource {
  private let file: FileByteSource
  private let stream: UnsafeMutablePointer<z_stream>
  private let input: UnsafeMutableRawBufferPointer
  private var inputAtEnd = false
  private var memberEnded = false
  private var finished = false
  /// Compressed offset of `input[0]`.
  private var inputBase: Int64 = 0
  private var path: String { file.path }

  /// Starts decompressing `file` at its current position (which must be a member's start).
  init(file: FileByteSource, inputBufferSize: Int = 1 << 18) throws {
    self.file = file
    inputBase = file.offset
    // zlib keeps a pointer back to the z_stream, so it must never move: heap-allocated.
    stream = .allocate(capacity: 1)
    stream.initialize(to: z_stream())
    input = .allocate(byteCount: max(inputBufferSize, 1), alignment: 64)
    let status = inflateInit2_(stream, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
    guard status == Z_OK else {
      stream.deallocate()
      input.deallocate()
      throw CorpusError.io(
        path: file.path, operation: "start zlib", reason: "inflateInit2 returned \(status)")
    }
  }

  deinit {
    inflateEnd(stream)
    stream.deinitialize(count: 1)
    stream.deallocate()
    input.deallocate()
  }

  /// Compressed offset of the next input byte zlib will read.
  private var compressedOffset: Int64 {
    let consumed = stream.pointee.next_in.map { input.baseAddress!.distance(to: UnsafeMutableRawPointer($0)) }
    return inputBase + Int64(consumed ?? 0)
  }

  func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    guard let out = buffer.baseAddress, buffer.count > 0 else { return 0 }
    while !finished {
      if stream.pointee.avail_in == 0 && !inputAtEnd { try refill() }
      if memberEnded {
        try skipZeroPadding()
        if stream.pointee.avail_in == 0 && inputAtEnd {
          finished = true
          break
        }
        inflateReset(stream)
        memberEnded = false
      }
      stream.pointee.next_out = out.assumingMemoryBound(to: Bytef.self)
      stream.pointee.avail_out = uInt(min(buffer.count, Int(UInt32.max)))
      let before = compressedOffset
      let status = inflate(stream, Z_NO_FLUSH)
      let produced = buffer.count - Int(stream.pointee.avail_out)
      switch status {
      case Z_STREAM_END:
        memberEnded = true
      case Z_OK:
        break
      case Z_BUF_ERROR:
        if stream.pointee.avail_in == 0 && inputAtEnd {
          throw CorpusError.corruptFile(
            path: path, byteOffset: compressedOffset, reason: "the gzip stream ends inside a member",
            hint: "the file is truncated; download or compress it again")
        }
      default:
        let detail = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(status)"
        throw CorpusError.corruptFile(
          path: path, byteOffset: before, reason: "corrupt gzip data (\(detail))",
          hint: "the file is damaged or not gzip; check it with `gzip -t`")
      }
      if produced > 0 { return produced }
      if status == Z_OK && stream.pointee.avail_in == 0 && inputAtEnd {
        throw CorpusError.corruptFile(
          path: path, byteOffset: compressedOffset, reason: "the gzip stream ends inside a member",
          hint: "the file is truncated; download or compress it again")
      }
    }
    return 0
  }

  /// Loads the next block of compressed input (only when zlib has used up the last one).
  private func refill() throws {
    inputBase = file.offset
    let n = try file.read(into: input)
    if n == 0 { inputAtEnd = true }
    stream.pointee.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
    stream.pointee.avail_in = uInt(n)
  }

  /// Skips zero bytes after a member; stops at the first non-zero byte or the end of the file.
  private func skipZeroPadding() throws {
    while true {
      if stream.pointee.avail_in == 0 {
        if inputAtEnd { return }
        try refill()
        continue
      }
      guard let next = stream.pointee.next_in, next.pointee == 0 else { return }
      stream.pointee.next_in = next + 1
      stream.pointee.avail_in -= 1
    }
  }
}
