// Records of text files: one document per line of .txt, one per JSON object line of .jsonl,
// or a whole .txt file as one document; plain or gzip-compressed alike.
//
// Rules (the tests hold the readers to them):
// - .txt lines: every line is a document, empty ones included (HF `load_dataset("text")` does the
//   same); one trailing '\r' is dropped (CRLF files); no extra empty document after a final '\n'.
// - .jsonl: blank lines (only spaces, tabs, '\r') are not records and get no document id; any
//   other line must be a JSON object whose `textField` is a string. Nested fields are not read.
// - all text must be valid UTF-8; the error names the offset of the first bad byte.
// - a record over `maxRecordBytes` is a `tooLarge` bad record and is skipped without being stored.

import Foundation

/// What a record source hands out: a document, or a bad record to throw or count.
enum CorpusRecord {
  case document(CorpusDocument.Content, CorpusLocation)
  case bad(BadRecord)
}

/// The documents of one corpus file, read forward.
protocol CorpusRecordSource: AnyObject {
  /// The next record, or nil at the end of the file.
  func next() throws -> CorpusRecord?
}

/// Lines of a .txt or .jsonl file (plain or gzip), each a document.
final class LineRecordSource: CorpusRecordSource {
  private let path: String
  private let fileIndex: Int
  private let jsonLines: Bool
  private let options: CorpusOptions
  private let lines: LineReader

  /// Reads `path` from `offset` (a line start), numbering lines from `line`.
  init(
    path: String, fileIndex: Int, file: CorpusFile, options: CorpusOptions, offset: Int64, line: Int,
    bufferSize: Int
  ) throws {
    self.path = path
    self.fileIndex = fileIndex
    jsonLines = file.format == .jsonLines
    self.options = options
    let stream = try openByteStream(path: path, gzip: file.gzip, offset: offset, bufferSize: bufferSize)
    lines = LineReader(source: stream, offset: offset, firstLineNumber: line, bufferSize: bufferSize)
  }

  func next() throws -> CorpusRecord? {
    while let line = try lines.next(maxBytes: options.maxRecordBytes) {
      let location = CorpusLocation(file: fileIndex, byteOffset: line.offset, line: line.number)
      func bad(_ reason: BadRecordReason, _ detail: String, at offset: Int64? = nil) -> CorpusRecord {
        .bad(
          BadRecord(
            reason: reason, path: path, line: line.number, byteOffset: offset ?? line.offset, detail: detail))
      }
      if line.tooLong {
        return bad(
          .tooLarge, "the line has \(line.length) bytes, more than maxRecordBytes \(options.maxRecordBytes)")
      }
      var bytes = line.bytes
      if jsonLines {
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
      } else if bytes.last == 0x0D {
        bytes.removeLast()
      }
      guard let text = String(validating: bytes, as: UTF8.self) else {
        let index = firstInvalidUTF8(bytes) ?? 0
        return bad(.invalidUTF8, "invalid UTF-8 at column \(index + 1)", at: line.offset + Int64(index))
      }
      if !jsonLines { return .document(.text(text), location) }
      switch Self.extractField(options.textField, from: bytes) {
      case .success(let value): return .document(.text(value), location)
      case .failure(let failure):
        return bad(failure.reason, failure.detail + "; the line starts: " + preview(text))
      }
    }
    return nil
  }

  private struct ExtractFailure: Error {
    var reason: BadRecordReason
    var detail: String
  }

  /// The string value of `field` in the JSON object `bytes`.
  private static func extractField(_ field: String, from bytes: [UInt8]) -> Result<String, ExtractFailure> {
    let object: Any
    do {
      object = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
    } catch {
      return .failure(
        ExtractFailure(reason: .invalidJSON, detail: "not valid JSON (\(jsonErrorText(error)))"))
    }
    guard let dictionary = object as? [String: Any] else {
      return .failure(ExtractFailure(reason: .notAnObject, detail: "the JSON value is not an object"))
    }
    guard let value = dictionary[field] else {
      let keys = dictionary.keys.sorted().prefix(8).map { "\"\($0)\"" }.joined(separator: ", ")
      return .failure(
        ExtractFailure(reason: .missingField, detail: "no field \"\(field)\" (the object has \(keys))"))
    }
    guard let text = value as? String else {
      return .failure(
        ExtractFailure(
          reason: .nonStringField, detail: "field \"\(field)\" is \(jsonTypeName(value)), not a string"))
    }
    return .success(text)
  }
}

/// A whole .txt file (plain or gzip) as one document.
final class WholeFileRecordSource: CorpusRecordSource {
  private let path: String
  private let fileIndex: Int
  private let file: CorpusFile
  private let options: CorpusOptions
  private let bufferSize: Int
  private var done = false

  init(path: String, fileIndex: Int, file: CorpusFile, options: CorpusOptions, bufferSize: Int) {
    self.bufferSize = max(bufferSize, 1)
    self.path = path
    self.fileIndex = fileIndex
    self.file = file
    self.options = options
  }

  func next() throws -> CorpusRecord? {
    if done { return nil }
    done = true
    let location = CorpusLocation(file: fileIndex, byteOffset: 0, line: 1)
    let stream = try openByteStream(path: path, gzip: file.gzip, offset: 0, bufferSize: bufferSize)
    var bytes: [UInt8] = []
    let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 16)
    defer { chunk.deallocate() }
    var total: Int64 = 0
    while true {
      let n = try stream.read(into: chunk)
      if n == 0 { break }
      total += Int64(n)
      if total <= Int64(options.maxRecordBytes) {
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
      } else {
        bytes = []
      }
    }
    if total > Int64(options.maxRecordBytes) {
      return .bad(
        BadRecord(
          reason: .tooLarge, path: path, line: 1, byteOffset: 0,
          detail: "the file has \(total) bytes, more than maxRecordBytes \(options.maxRecordBytes)"))
    }
    guard let text = String(validating: bytes, as: UTF8.self) else {
      let index = firstInvalidUTF8(bytes) ?? 0
      let line = 1 + bytes[..<index].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
      return .bad(
        BadRecord(
          reason: .invalidUTF8, path: path, line: line, byteOffset: Int64(index),
          detail: "invalid UTF-8 at byte \(index)"))
    }
    return .document(.text(text), location)
  }
}

/// The first 60 characters of `text`, for messages.
func preview(_ text: String) -> String {
  let head = text.prefix(60)
  return head.count < text.count ? "\(head)..." : String(head)
}

/// Foundation's JSON error, without its boilerplate where it has a useful description.
private func jsonErrorText(_ error: Error) -> String {
  let ns = error as NSError
  if let detail = ns.userInfo[NSDebugDescriptionErrorKey] as? String { return detail }
  return ns.localizedDescription
}

/// "null", "an array", "an object" or the value itself, for messages.
private func jsonTypeName(_ value: Any) -> String {
  switch value {
  case is NSNull: return "null"
  case is [Any]: return "an array"
  case is [String: Any]: return "an object"
  default: return "the value \(preview(String(describing: value)))"
  }
}
