// The planner: streams the corpus once, tokenizes it (in parallel when given a thread pool),
// packs each unit's documents into windows and records the units (rules in Plan.swift).
//
// Streaming: documents are read and tokenized in batches (up to `batchDocuments` documents and
// `batchBytes` of text or tokens), packed,
// and dropped; only the unit table is kept. Determinism: a batch is tokenized in parallel into
// slots indexed by document, then packed in order on the calling thread, so the plan (and its
// hash) is the same for any thread count. The tokenizer must be a pure function of its text.
// A tokenizer failure or an out-of-range id is a bad record like any other: an error naming
// the document's file and line, or with `skipBadRecords` counted and the document left empty
// (it keeps its id and adds no tokens). Rebuilding one unit is at the end of the file.

import LanternTensor

/// The tokenizer the planner runs on text documents, as a closure (LanternShards does not
/// depend on LanternTokenizers). For SAELens parity pass ids without BOS/EOS
/// (`tokenizer.encode(text, addSpecialTokens: false)`): the window settings insert those.
public struct PlanTokenizer: Sendable {
  /// Text → token ids. Called concurrently when the planner has a thread pool.
  public var encode: @Sendable (String) throws -> [Int]
  /// Identifies the tokenizer in the plan (e.g. a hash of tokenizer.json or the model file),
  /// so a resumed job notices another tokenizer.
  public var fingerprint: String

  public init(fingerprint: String, encode: @escaping @Sendable (String) throws -> [Int]) {
    self.fingerprint = fingerprint
    self.encode = encode
  }
}

/// Progress of `CorpusPlanner.makePlan`, reported after every batch.
public struct PlanProgress: Sendable {
  public var documents: Int
  public var windows: Int
  public var units: Int
}

/// Makes plans over one corpus and rebuilds the windows of their units.
public final class CorpusPlanner: Sendable {
  public let corpus: Corpus
  public let settings: PlanSettings
  public let tokenizer: PlanTokenizer?
  private let pool: ThreadPool?
  /// Documents read and tokenized together.
  public let batchDocuments: Int
  /// Bytes of text (or 4 per token) read and tokenized together, at least one document.
  public let batchBytes: Int

  /// - Parameters:
  ///   - tokenizer: required for text corpora; must be nil for token corpora.
  ///   - pool: tokenizes batches in parallel; the plan does not depend on its thread count.
  public init(
    corpus: Corpus, settings: PlanSettings, tokenizer: PlanTokenizer?, pool: ThreadPool? = nil,
    batchDocuments: Int = 512, batchBytes: Int = 16 << 20
  ) throws {
    try settings.validate()
    if corpus.isTokenized && tokenizer != nil {
      throw CorpusError.invalidSettings(
        reason: "the corpus holds token files; a tokenizer would not be used", hint: "pass tokenizer: nil")
    }
    if !corpus.isTokenized && tokenizer == nil {
      throw CorpusError.invalidSettings(
        reason: "the corpus holds text; the planner needs a tokenizer", hint: "pass the model's tokenizer")
    }
    self.corpus = corpus
    self.settings = settings
    self.tokenizer = tokenizer
    self.pool = pool
    self.batchDocuments = max(1, batchDocuments)
    self.batchBytes = max(1, batchBytes)
  }

  /// Reads (up to the budget of) the corpus and returns the plan.
  public func makePlan(progress: ((PlanProgress) -> Void)? = nil) throws -> CorpusPlan {
    let reader = try corpus.documents()
    var packer = try WindowPacker(settings: settings.windows)
    let c = settings.windows.contextSize
    let maxWindows = settings.maxWindows ?? Int.max
    var units: [WorkUnit] = []
    var totals = PlanTotals()
    var tokenizerSkips = SkippedRecords()
    var readerSkips = SkippedRecords()
    var pendingError: Error? = nil
    var current: WorkUnit? = nil
    var checksum = TokenChecksum()
    var stop = maxWindows == 0

    func close(truncated: Bool) {
      guard var unit = current else { return }
      packer.finish()
      current = nil
      guard unit.windowCount > 0 else { return }  // only at the corpus end: its documents make no window
      unit.truncated = truncated
      unit.tokenCount = unit.windowCount * c
      unit.checksum = checksum.hex
      units.append(unit)
    }

    // The reader runs a batch ahead of the packer; what it meets past the budget's last document
    // (bad records, errors) must not change the plan, so skips are counted per consumed document
    // and a read error is thrown only when its place is reached.
    while !stop {
      if let pendingError { throw pendingError }
      let batch = nextBatch(reader, error: &pendingError)
      if batch.isEmpty {
        if let pendingError { throw pendingError }
        break
      }
      let tokenized = tokenize(batch.map(\.document))
      for ((document, skipsSoFar), result) in zip(batch, tokenized) {
        let tokens = try unwrap(result, skipped: &tokenizerSkips)
        readerSkips = skipsSoFar
        if current == nil {
          current = WorkUnit(
            index: units.count, id: WorkUnit.id(index: units.count), firstDocument: document.id,
            documentCount: 0, start: document.location, firstWindow: totals.windows, windowCount: 0,
            tokenCount: 0, documentTokenCount: 0, truncated: false, checksum: "")
          checksum = TokenChecksum()
        }
        totals.documents += 1
        totals.documentTokens += tokens.count
        current!.documentCount += 1
        packer.add(document: document.id, tokens: tokens) { window in
          guard !stop else { return }
          checksum.add(window.tokens)
          let inWindow = window.spans.reduce(0) { $0 + ($1.kind == .document ? $1.count : 0) }
          current!.windowCount += 1
          current!.documentTokenCount += inWindow
          totals.windows += 1
          totals.documentTokensInWindows += inWindow
          if totals.windows == maxWindows { stop = true }
        }
        if stop {
          close(truncated: true)
          break
        }
        if current!.windowCount >= settings.windowsPerUnit { close(truncated: false) }
      }
      progress?(PlanProgress(documents: totals.documents, windows: totals.windows, units: units.count))
    }
    close(truncated: false)
    totals.budgetReached = stop
    var skipped = stop ? readerSkips : reader.skipped
    skipped.merge(tokenizerSkips)
    totals.tokens = totals.windows * c
    var plan = CorpusPlan(
      version: CorpusPlan.currentVersion,
      corpus: PlanCorpus(directory: corpus.directory.path, files: corpus.files, options: corpus.options),
      settings: settings, tokenizer: tokenizer?.fingerprint ?? "", units: units, totals: totals,
      skipped: skipped, contentHash: "")
    plan.contentHash = try plan.computeContentHash()
    return plan
  }

  /// The next documents to tokenize together, each with the reader's skip tally right after it.
  /// A read error ends the batch and is handed back in `error`.
  private func nextBatch(_ reader: CorpusReader, error: inout Error?) -> [(
    document: CorpusDocument, skipped: SkippedRecords
  )] {
    var batch: [(document: CorpusDocument, skipped: SkippedRecords)] = []
    var bytes = 0
    while batch.count < batchDocuments && bytes < batchBytes {
      let document: CorpusDocument?
      do {
        document = try reader.next()
      } catch let failure {
        error = failure
        break
      }
      guard let document else { break }
      switch document.content {
      case .text(let text): bytes += text.utf8.count
      case .tokens(let ids): bytes += 4 * ids.count
      }
      batch.append((document, reader.skipped))
    }
    return batch
  }

  /// Throws unless `plan` was made from this corpus (same files and sizes, options), these
  /// settings and this tokenizer fingerprint. The corpus directory may differ.
  public func checkCompatible(with plan: CorpusPlan) throws {
    try corpus.checkUnchanged(against: plan.corpus.files)
    if plan.corpus.options != corpus.options {
      throw CorpusError.invalidPlan(reason: "it was made with other corpus options (\(plan.corpus.options))")
    }
    if plan.settings != settings {
      throw CorpusError.invalidPlan(reason: "it was made with other settings (\(plan.settings))")
    }
    if plan.tokenizer != (tokenizer?.fingerprint ?? "") {
      throw CorpusError.invalidPlan(reason: "it was made with tokenizer '\(plan.tokenizer)'")
    }
  }

  /// Token ids of each document or its bad record, tokenized in parallel with the pool.
  func tokenize(_ documents: [CorpusDocument]) -> [Result<[Int32], CorpusError>] {
    var results = [Result<[Int32], CorpusError>](repeating: .success([]), count: documents.count)
    let limit = corpus.options.vocabularySize ?? Int(Int32.max) + 1
    let encode = tokenizer?.encode
    results.withUnsafeMutableBufferPointer { buffer in
      let slots = buffer
      let work = { (range: Range<Int>) in
        for i in range {
          slots[i] = Self.tokens(of: documents[i], encode: encode, limit: limit, corpus: self.corpus)
        }
      }
      if let pool, tokenizer != nil, documents.count > 1 {
        pool.parallelFor(documents.count, work)
      } else {
        work(0..<documents.count)
      }
    }
    return results
  }

  /// The tokens of a result; a bad record is thrown, or counted (and the document left empty)
  /// when skipping.
  func unwrap(_ result: Result<[Int32], CorpusError>, skipped: inout SkippedRecords) throws -> [Int32] {
    switch result {
    case .success(let ids): return ids
    case .failure(let error):
      guard case .badRecord(let record) = error, corpus.options.skipBadRecords else { throw error }
      skipped.add(record)
      return []
    }
  }

  /// One document's token ids, validated.
  private static func tokens(
    of document: CorpusDocument, encode: (@Sendable (String) throws -> [Int])?, limit: Int, corpus: Corpus
  ) -> Result<[Int32], CorpusError> {
    guard case .text(let text) = document.content else {
      if case .tokens(let ids) = document.content { return .success(ids) }
      return .success([])
    }
    let path = corpus.path(ofFile: document.location.file)
    func bad(_ reason: BadRecordReason, _ detail: String) -> Result<[Int32], CorpusError> {
      .failure(
        .badRecord(
          BadRecord(
            reason: reason, path: path, line: document.location.line,
            byteOffset: document.location.byteOffset,
            detail: "document \(document.id): " + detail)))
    }
    let ids: [Int]
    do {
      ids = try encode!(text)
    } catch {
      return bad(.tokenizerFailed, "the tokenizer failed: \(error)")
    }
    var out = [Int32](repeating: 0, count: ids.count)
    for (i, id) in ids.enumerated() {
      guard id >= 0 && id < limit else {
        return bad(.tokenOutOfRange, "the tokenizer returned id \(id) at position \(i), outside 0..<\(limit)")
      }
      out[i] = Int32(id)
    }
    return .success(out)
  }
}

// MARK: - Rebuilding a unit
//
// Rebuilding one work unit: read only its documents (from the location the plan stored), tokenize
// them, pack them from an empty window, keep the first `windowCount` windows, and check them
// against the unit's checksum. Also the way back from an activation row to its text:
// `document(_:in:)` finds a document's unit and reads forward from the unit's start.
//
// Cost of a unit start inside a gzip file: the stream is decompressed (not parsed) from the
// file's start up to the unit's offset, as gzip has no random access; keep .jsonl.gz files
// to moderate sizes (datasets ship them in shards of ~100 MB) for cheap unit starts.

extension CorpusPlanner {
  /// The unit's documents, read from the corpus (bad records skipped as when planning).
  public func documents(for unit: WorkUnit) throws -> [CorpusDocument] {
    let reader = try corpus.documents(from: unit.start, firstDocumentID: unit.firstDocument)
    let documents = try reader.next(unit.documentCount)
    guard documents.count == unit.documentCount else {
      throw CorpusError.unitMismatch(
        unit: unit.id,
        reason:
          "the corpus has \(documents.count) documents from \(corpus.describe(unit.start)), the plan \(unit.documentCount)"
      )
    }
    return documents
  }

  /// The unit's windows: exactly `unit.windowCount` of them, identical to those the planner
  /// counted and to a fresh `WindowPacker` run over the unit's documents alone.
  /// - Throws: `unitMismatch` if the corpus or tokenizer no longer reproduce the plan.
  public func windows(for unit: WorkUnit) throws -> [Window] {
    try windowsAndDocuments(for: unit).windows
  }

  /// The unit's windows and the documents they were built from.
  public func windowsAndDocuments(for unit: WorkUnit) throws -> (
    windows: [Window], documents: [CorpusDocument]
  ) {
    let documents = try self.documents(for: unit)
    var ignored = SkippedRecords()
    let tokens = try tokenize(documents).map { try unwrap($0, skipped: &ignored) }
    var packer = try WindowPacker(settings: settings.windows)
    var windows: [Window] = []
    windows.reserveCapacity(unit.windowCount)
    var checksum = TokenChecksum()
    for (document, ids) in zip(documents, tokens) where windows.count < unit.windowCount {
      packer.add(document: document.id, tokens: ids) { window in
        guard windows.count < unit.windowCount else { return }
        checksum.add(window.tokens)
        windows.append(window)
      }
    }
    guard windows.count == unit.windowCount else {
      throw CorpusError.unitMismatch(
        unit: unit.id,
        reason: "its documents now make \(windows.count) windows, the plan says \(unit.windowCount)")
    }
    guard checksum.hex == unit.checksum else {
      throw CorpusError.unitMismatch(
        unit: unit.id,
        reason: "its window tokens have checksum \(checksum.hex), the plan says \(unit.checksum)")
    }
    return (windows, documents)
  }

  /// Document `id` of the corpus, found through the unit that holds it.
  /// - Throws: `invalidSettings` if no unit of `plan` holds the document.
  public func document(_ id: Int, in plan: CorpusPlan) throws -> CorpusDocument {
    guard let unit = plan.unit(containingDocument: id) else {
      throw CorpusError.invalidSettings(
        reason: "document \(id) is in no work unit of the plan (\(plan.units.count) units)",
        hint: "pass a document id taken from a window of this plan")
    }
    let reader = try corpus.documents(from: unit.start, firstDocumentID: unit.firstDocument)
    while let document = try reader.next() {
      if document.id == id { return document }
      if document.id > id { break }
    }
    throw CorpusError.unitMismatch(unit: unit.id, reason: "document \(id) is no longer where the plan put it")
  }
}
