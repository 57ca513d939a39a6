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
