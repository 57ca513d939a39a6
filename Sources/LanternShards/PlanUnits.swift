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
    let tokens = try tokenize(documents, skipped: &ignored)
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
