// Records of token files: raw .bin streams (nanoGPT) and .npy arrays, read through a 1 MiB buffer.
//
// Byte layout of a .bin file:
//  1. N × item size bytes: little-endian token ids (uint16 or uint32, CorpusOptions.binaryTokenType);
//     the file size must be a multiple of the item size. No header.
// Byte layout of a .npy file (NEP 1; only what a token file needs):
//  1. magic "\x93NUMPY" (6 bytes)
//  2. version: u8 major (1, 2 or 3), u8 minor (0)
//  3. header length H: u16 LE (v1) or u32 LE (v2, v3), at most 1 MiB
//  4. H bytes: a Python dict literal with exactly 'descr', 'fortran_order', 'shape', e.g.
//     {'descr': '<u2', 'fortran_order': False, 'shape': (1000,), }
//  5. data: product(shape) × item size bytes, C order, to the end of the file exactly
// Accepted dtypes: '<u2', '<i4', '<u4', '<i8'; shapes (N,) (a flat stream, cut by
// `tokenDocuments`) and (rows, columns) (a document per row). Fortran order, big-endian data,
// other dtypes and ranks are errors. Ids must be in 0..<vocabularySize (or fit Int32 if none is given).

import Foundation

/// The integer type of stored token ids.
enum TokenItemType {
  case uint16, int32, uint32, int64

  var byteCount: Int {
    switch self {
    case .uint16: return 2
    case .int32, .uint32: return 4
    case .int64: return 8
    }
  }
}

/// Where the token ids of a token file are, and how they are laid out.
struct TokenFileLayout {
  var dataOffset: Int64
  var itemType: TokenItemType
  var tokenCount: Int64
  /// Tokens per row for a 2-D .npy array; nil for a flat stream.
  var rowLength: Int?
}

/// The documents of a .bin or .npy token file.
final class TokenRecordSource: CorpusRecordSource {
  private let path: String
  private let fileIndex: Int
  private let options: CorpusOptions
  private let layout: TokenFileLayout
  private let stream: FileByteSource
  private let buffer: UnsafeMutableRawBufferPointer
  private var bufferStart = 0
  private var bufferEnd = 0
  /// File offset of the next unread token.
  private var position: Int64
  private let dataEnd: Int64
  private let limit: Int64

  /// Opens `path` at `offset` (a document start; 0 means the first document).
  init(
    path: String, fileIndex: Int, file: CorpusFile, options: CorpusOptions, offset: Int64, bufferSize: Int
  ) throws {
    self.path = path
    self.fileIndex = fileIndex
    self.options = options
    let size = try FileByteSource.size(path: path)
    layout =
      file.format == .numpy
      ? try NPYTokenHeader.read(path: path, size: size)
      : try Self.binaryLayout(path: path, size: size, type: options.binaryTokenType)
    let item = Int64(layout.itemType.byteCount)
    dataEnd = layout.dataOffset + layout.tokenCount * item
    let start = offset == 0 ? layout.dataOffset : offset
    let rowBytes = Int64(max(layout.rowLength ?? 1, 1)) * item
    guard start >= layout.dataOffset, start <= dataEnd, (start - layout.dataOffset) % rowBytes == 0 else {
      throw CorpusError.corpusChanged(
        path: path,
        reason: "byte \(offset) is not a token boundary of the data (\(layout.dataOffset)..<\(dataEnd))")
    }
    if layout.rowLength == nil, case .wholeFile = options.tokenDocuments, start != layout.dataOffset {
      throw CorpusError.corpusChanged(
        path: path, reason: "byte \(offset) is not the start of the file's one document")
    }
    position = start
    stream = try FileByteSource(path: path, offset: start)
    buffer = .allocate(byteCount: max(bufferSize, 8), alignment: 64)
    limit = Int64(options.vocabularySize ?? Int(Int32.max) + 1)
  }

  deinit { buffer.deallocate() }

  func next() throws -> CorpusRecord? {
    let item = Int64(layout.itemType.byteCount)
    let startOffset = position
    let remaining = (dataEnd - position) / item
    var count = remaining
    var delimiter: Int64? = nil
    if let row = layout.rowLength {
      if remaining == 0 { return nil }
      count = Int64(row)
    } else {
      switch options.tokenDocuments {
      case .wholeFile:
        if wholeFileDone { return nil }
        wholeFileDone = true
      case .delimiter(let id):
        if remaining == 0 { return nil }
        delimiter = Int64(id)
      case .fixedLength(let n):
        if remaining == 0 { return nil }
        count = min(Int64(n), remaining)
      }
    }
    func bad(_ reason: BadRecordReason, _ offset: Int64, _ detail: String) -> CorpusRecord {
      .bad(BadRecord(reason: reason, path: path, line: nil, byteOffset: offset, detail: detail))
    }
    let maxTokens = options.maxDocumentTokens
    if delimiter == nil && count > Int64(maxTokens) {
      try seek(to: position + count * item)  // skipped unread
      return bad(
        .tooLarge, startOffset, "the document has \(count) tokens, more than maxDocumentTokens \(maxTokens)")
    }
    var tokens: [Int32] = []
    var badToken: (offset: Int64, value: Int64)? = nil
    var overflow = false
    var taken: Int64 = 0
    while taken < count {
      let value = try nextValue()
      taken += 1
      if value == delimiter { break }
      if (value < 0 || value >= limit) && badToken == nil { badToken = (position - item, value) }
      if tokens.count < maxTokens {
        tokens.append(Int32(truncatingIfNeeded: value))
      } else {
        overflow = true
      }
    }
    if overflow {
      return bad(.tooLarge, startOffset, "the document has more than maxDocumentTokens \(maxTokens) tokens")
    }
    if let (offset, value) = badToken {
      let bound = options.vocabularySize.map { "\($0) (the vocabulary size)" } ?? "\(Int32.max)"
      return bad(
        .tokenOutOfRange, offset,
        "token id \(value) is outside 0..<\(bound), in the document starting at byte \(startOffset)")
    }
    return .document(.tokens(tokens), CorpusLocation(file: fileIndex, byteOffset: startOffset, line: nil))
  }

  /// Whole-file mode hands out its one document once (also for an empty file).
  private var wholeFileDone = false

  /// The next token id as a signed 64-bit value.
  @inline(__always)
  private func nextValue() throws -> Int64 {
    let size = layout.itemType.byteCount
    if bufferEnd - bufferStart < size { try refill() }
    let base = UnsafeRawPointer(buffer.baseAddress!) + bufferStart
    bufferStart += size
    position += Int64(size)
    switch layout.itemType {
    case .uint16: return Int64(UInt16(littleEndian: base.loadUnaligned(as: UInt16.self)))
    case .int32: return Int64(Int32(littleEndian: base.loadUnaligned(as: Int32.self)))
    case .uint32: return Int64(UInt32(littleEndian: base.loadUnaligned(as: UInt32.self)))
    case .int64: return Int64(littleEndian: base.loadUnaligned(as: Int64.self))
    }
  }

  /// Moves a partial item to the front and reads more, up to the end of the data.
  private func refill() throws {
    let leftover = bufferEnd - bufferStart
    if leftover > 0 {
      buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + bufferStart, byteCount: leftover)
    }
    bufferStart = 0
    bufferEnd = leftover
    let fileOffset = position + Int64(leftover)
    let want = Int(min(Int64(buffer.count - leftover), dataEnd - fileOffset))
    var got = 0
    while got < want {
      let n = try stream.read(
        into: UnsafeMutableRawBufferPointer(rebasing: buffer[(leftover + got)..<(leftover + want)]))
      if n == 0 {
        throw CorpusError.corpusChanged(path: path, reason: "the file became shorter while being read")
      }
      got += n
    }
    bufferEnd = leftover + got
    guard bufferEnd >= layout.itemType.byteCount else {
      throw CorpusError.corpusChanged(path: path, reason: "no token left at byte \(position)")
    }
  }

  /// Jumps to file offset `target` (forward), dropping the buffer.
  private func seek(to target: Int64) throws {
    let buffered = Int64(bufferEnd - bufferStart)
    if target - position <= buffered {
      bufferStart += Int(target - position)
    } else {
      try stream.seek(to: target)
      bufferStart = 0
      bufferEnd = 0
    }
    position = target
  }

  private static func binaryLayout(path: String, size: Int64, type: BinaryTokenType) throws -> TokenFileLayout
  {
    let item = Int64(type.byteCount)
    guard size % item == 0 else {
      throw CorpusError.corruptFile(
        path: path, byteOffset: size - size % item,
        reason:
          "the file size \(size) is not a multiple of \(item) (\(type.rawValue) tokens); \(size % item) bytes left over",
        hint: "the file is truncated, or its dtype is not \(type.rawValue) (set binaryTokenType)")
    }
    return TokenFileLayout(
      dataOffset: 0, itemType: type == .uint16 ? .uint16 : .uint32, tokenCount: size / item, rowLength: nil)
  }
}
