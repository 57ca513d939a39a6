// A corpus: one file, or a directory of files searched recursively, in a fixed order, with the
// documents those files hold. Documents are numbered 0, 1, 2... in corpus order (files in
// order, records in file order); that ordinal is the document id every window position and
// activation row points back to, and `CorpusLocation` says where the document sits on disk.
//
// Directory order: the relative paths of all files below the directory, compared byte by byte
// as UTF-8, so the order is the same on every machine and file system. Hidden files and
// directories (names starting with '.') are left out, as are files without a corpus extension
// (listed in `ignoredFiles` so a caller can warn). Symbolic links to files are followed; links
// to directories are not (no cycles). The reader is at the end of the file.

import Foundation

/// One file of a corpus.
public struct CorpusFile: Codable, Hashable, Sendable {
  /// Path relative to the corpus directory ("a/b.jsonl"), '/'-separated.
  public var path: String
  /// What the file holds.
  public var format: CorpusFormat
  /// Whether it is gzip-compressed.
  public var gzip: Bool
  /// Its size on disk in bytes (compressed size for gzip), to notice a changed corpus.
  public var byteCount: Int64
}

/// Where a document starts on disk.
public struct CorpusLocation: Codable, Hashable, Sendable {
  /// Index into `Corpus.files`.
  public var file: Int
  /// Byte offset of the document's first byte in the file (uncompressed offset for gzip files;
  /// for token files, the offset of its first token).
  public var byteOffset: Int64
  /// 1-based line number in text and JSON lines files; nil in token files.
  public var line: Int?

  public init(file: Int, byteOffset: Int64, line: Int?) {
    self.file = file
    self.byteOffset = byteOffset
    self.line = line
  }
}

/// One document read from a corpus.
public struct CorpusDocument: Hashable, Sendable {
  /// What a document holds.
  public enum Content: Hashable, Sendable {
    /// Text to tokenize.
    case text(String)
    /// Token ids from a token file.
    case tokens([Int32])
  }

  /// Ordinal in corpus order (0-based).
  public var id: Int
  /// Where it starts on disk.
  public var location: CorpusLocation
  /// Its text or tokens.
  public var content: Content
}

/// A set of corpus files in a fixed order, and how to read them.
public struct Corpus: Sendable {
  /// The directory the file paths are relative to.
  public let directory: URL
  /// The corpus files, in corpus order.
  public let files: [CorpusFile]
  /// Files under the directory that were left out (no corpus extension), relative paths.
  public let ignoredFiles: [String]
  /// Reader options.
  public let options: CorpusOptions
  /// Size of the read buffers (tests shrink it to exercise buffer boundaries).
  var bufferSize = 1 << 20

  /// Opens a corpus file or directory.
  /// - Throws: `CorpusError` if the path is missing, holds no corpus files, mixes text and
  ///   token files, or `options` are invalid.
  public init(url: URL, options: CorpusOptions = CorpusOptions()) throws {
    try options.validate()
    self.options = options
    let path = url.standardizedFileURL.path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw CorpusError.io(path: path, operation: "open corpus", reason: "no such file or directory")
    }
    var relative: [String] = []
    var ignored: [String] = []
    if isDirectory.boolValue {
      directory = URL(fileURLWithPath: path, isDirectory: true)
      try Corpus.walk(directory: path, prefix: "", into: &relative)
      relative.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    } else {
      directory = URL(fileURLWithPath: path).deletingLastPathComponent()
      relative = [URL(fileURLWithPath: path).lastPathComponent]
    }
    var found: [CorpusFile] = []
    for name in relative {
      let full = directory.appendingPathComponent(name).path
      guard let (format, gzip) = CorpusFormat.detect(fileName: name) else {
        if !isDirectory.boolValue {
          throw CorpusError.unsupportedFile(
            path: full, reason: "the extension is not a corpus format",
            hint: "use .txt, .jsonl, .txt.gz, .jsonl.gz, .npy or .bin")
        }
        ignored.append(name)
        continue
      }
      found.append(
        CorpusFile(path: name, format: format, gzip: gzip, byteCount: try FileByteSource.size(path: full)))
    }
    guard let first = found.first else {
      throw CorpusError.unsupportedFile(
        path: path, reason: "no corpus files (.txt, .jsonl, .txt.gz, .jsonl.gz, .npy, .bin) found",
        hint: "point the corpus at a directory or file of one of these formats")
    }
    if let other = found.first(where: { $0.format.isTokenized != first.format.isTokenized }) {
      throw CorpusError.unsupportedFile(
        path: directory.appendingPathComponent(other.path).path,
        reason: "the corpus mixes text files (\(first.path)) and token files",
        hint: "keep text and pre-tokenized files in separate corpora")
    }
    files = found
    ignoredFiles = ignored
  }

  /// Whether the corpus holds token ids (token files) rather than text.
  public var isTokenized: Bool { files[0].format.isTokenized }

  /// The absolute path of `files[index]`.
  public func path(ofFile index: Int) -> String { directory.appendingPathComponent(files[index].path).path }

  /// "dir/a.jsonl:17" or "dir/x.bin at byte 4096", for messages and reports.
  public func describe(_ location: CorpusLocation) -> String {
    guard files.indices.contains(location.file) else { return "file #\(location.file)" }
    let name = files[location.file].path
    if let line = location.line { return "\(name):\(line)" }
    return "\(name) at byte \(location.byteOffset)"
  }

  /// A reader over the documents from the start of the corpus.
  public func documents() throws -> CorpusReader {
    try CorpusReader(corpus: self, start: CorpusLocation(file: 0, byteOffset: 0, line: 1), firstDocumentID: 0)
  }

  /// A reader from the document at `location`, numbering documents from `firstDocumentID`
  /// (a location and id taken from an earlier read of the same corpus).
  public func documents(from location: CorpusLocation, firstDocumentID: Int) throws -> CorpusReader {
    try CorpusReader(corpus: self, start: location, firstDocumentID: firstDocumentID)
  }

  /// Throws `corpusChanged` unless the files are the same paths, formats and sizes as `expected`.
  public func checkUnchanged(against expected: [CorpusFile]) throws {
    if files.count != expected.count {
      throw CorpusError.corpusChanged(
        path: directory.path, reason: "\(files.count) corpus files now, \(expected.count) when planned")
    }
    for (now, then) in zip(files, expected) where now != then {
      throw CorpusError.corpusChanged(
        path: directory.appendingPathComponent(then.path).path,
        reason: "was \(then.path) (\(then.byteCount) bytes), now \(now.path) (\(now.byteCount) bytes)")
    }
  }

  /// Collects the relative paths of the regular files (and links to files) below `directory`.
  private static func walk(directory: String, prefix: String, into paths: inout [String]) throws {
    let manager = FileManager.default
    let names: [String]
    do {
      names = try manager.contentsOfDirectory(atPath: directory)
    } catch {
      throw CorpusError.io(
        path: directory, operation: "list directory", reason: "\(error.localizedDescription)")
    }
    for name in names where !name.hasPrefix(".") {
      let full = directory + "/" + name
      let relative = prefix.isEmpty ? name : prefix + "/" + name
      let attributes = try? manager.attributesOfItem(atPath: full)
      let type = attributes?[.type] as? FileAttributeType
      if type == .typeDirectory {
        try walk(directory: full, prefix: relative, into: &paths)
      } else if type == .typeRegular {
        paths.append(relative)
      } else if type == .typeSymbolicLink {
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue {
          paths.append(relative)
        }
      }
    }
  }
}

// MARK: - Reading
//
// The sequential reader of a corpus: documents of every file in corpus order, numbered, each
// with its location, from the start or from any document start a previous read reported.
//
// Bad records throw `CorpusError.badRecord` (file, line or byte offset, hint) unless the corpus
// options say `skipBadRecords`; then they are counted per reason in `skipped` (with the first
// few described) and get no document id. File-level damage always throws. Memory: one record
// (a line, a token document, a whole-file text) plus fixed buffers.

/// Counts of skipped bad records per reason, with the first few described.
public struct SkippedRecords: Codable, Hashable, Sendable {
  /// How many examples `examples` keeps.
  public static let exampleLimit = 20

  /// Skipped records per `BadRecordReason.rawValue`.
  public private(set) var counts: [String: Int] = [:]
  /// Descriptions of the first `exampleLimit` skipped records, in reading order.
  public private(set) var examples: [String] = []

  public init() {}

  /// All skipped records.
  public var total: Int { counts.values.reduce(0, +) }

  /// Skipped records of one reason.
  public func count(_ reason: BadRecordReason) -> Int { counts[reason.rawValue] ?? 0 }

  /// Counts `record`.
  public mutating func add(_ record: BadRecord) {
    counts[record.reason.rawValue, default: 0] += 1
    if examples.count < Self.exampleLimit { examples.append(record.description) }
  }

  /// Adds another tally (examples in order, still capped).
  public mutating func merge(_ other: SkippedRecords) {
    for (reason, n) in other.counts { counts[reason, default: 0] += n }
    for example in other.examples where examples.count < Self.exampleLimit { examples.append(example) }
  }
}

/// Reads the documents of a corpus in order. Not thread-safe: one reader per thread.
public final class CorpusReader {
  /// The corpus being read.
  public let corpus: Corpus
  /// Bad records skipped so far (always empty unless `skipBadRecords`).
  public private(set) var skipped = SkippedRecords()
  /// The id the next document gets.
  public private(set) var nextDocumentID: Int
  private var fileIndex: Int
  private var source: (any CorpusRecordSource)?

  init(corpus: Corpus, start: CorpusLocation, firstDocumentID: Int) throws {
    guard corpus.files.indices.contains(start.file), start.byteOffset >= 0, firstDocumentID >= 0 else {
      throw CorpusError.invalidSettings(
        reason: "cannot start reading at \(corpus.describe(start)) (document \(firstDocumentID))",
        hint: "pass a location and document id from a plan made on this corpus")
    }
    self.corpus = corpus
    nextDocumentID = firstDocumentID
    fileIndex = start.file
    source = try openSource(start.file, offset: start.byteOffset, line: start.line ?? 1)
  }

  /// The next document, or nil after the last one.
  /// - Throws: `CorpusError.badRecord` for a malformed record (unless skipping), other
  ///   `CorpusError`s for unreadable files.
  public func next() throws -> CorpusDocument? {
    while let current = source {
      guard let record = try current.next() else {
        fileIndex += 1
        source = fileIndex < corpus.files.count ? try openSource(fileIndex, offset: 0, line: 1) : nil
        continue
      }
      switch record {
      case .document(let content, let location):
        defer { nextDocumentID += 1 }
        return CorpusDocument(id: nextDocumentID, location: location, content: content)
      case .bad(let bad):
        guard corpus.options.skipBadRecords else { throw CorpusError.badRecord(bad) }
        skipped.add(bad)
      }
    }
    return nil
  }

  /// Reads up to `count` documents.
  public func next(_ count: Int) throws -> [CorpusDocument] {
    var batch: [CorpusDocument] = []
    while batch.count < count, let document = try next() { batch.append(document) }
    return batch
  }

  private func openSource(_ index: Int, offset: Int64, line: Int) throws -> any CorpusRecordSource {
    let file = corpus.files[index]
    let path = corpus.path(ofFile: index)
    let options = corpus.options
    switch file.format {
    case .text where options.textDocuments == .file:
      if offset != 0 {
        throw CorpusError.corpusChanged(
          path: path, reason: "byte \(offset) is not the start of a whole-file document")
      }
      return WholeFileRecordSource(
        path: path, fileIndex: index, file: file, options: options, bufferSize: corpus.bufferSize)
    case .text, .jsonLines:
      return try LineRecordSource(
        path: path, fileIndex: index, file: file, options: options, offset: offset, line: line,
        bufferSize: corpus.bufferSize)
    case .numpy, .binary:
      return try TokenRecordSource(
        path: path, fileIndex: index, file: file, options: options, offset: offset,
        bufferSize: corpus.bufferSize)
    }
  }
}
