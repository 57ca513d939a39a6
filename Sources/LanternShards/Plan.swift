// The extraction plan: corpus + window settings + tokenizer → an ordered list of work units,
// stored as JSON in the job directory and compared on resume.
//
// A work unit covers a contiguous range of documents, and its windows are built from those
// documents only: packing starts afresh at every unit boundary (the unit's first window begins
// with a begin-batch token and its first document; the partial window at the unit's end is
// dropped, at most contextSize − 1 tokens per unit). So a unit's output depends on nothing but
// the unit, any worker can build it alone, and a retried unit produces identical windows.
// Each unit records where its first document starts on disk (file, byte offset, line) so a
// worker reads only that unit's documents, the exact window and token counts, and a checksum of
// its window tokens that re-reading must reproduce.
//
// JSON: `jsonData()` is canonical (sorted keys, no spaces); `contentHash` is the SHA-256 of that
// form with `contentHash` set to "". `CorpusPlan.decode` checks the version and the hash.
// Window and token counts are plain integers; checksums are hex strings (64-bit values do not
// survive every JSON reader as numbers).

import Foundation

/// How work is cut and how much of the corpus is used.
public struct PlanSettings: Codable, Hashable, Sendable {
  /// How windows are built.
  public var windows: WindowSettings
  /// A unit closes after the first document that brings it to at least this many windows.
  public var windowsPerUnit: Int
  /// Token budget: at most ⌊maxTokens / contextSize⌋ windows in all; the unit that reaches it is
  /// truncated to an exact window count and no later document is read. Nil: the whole corpus.
  public var maxTokens: Int?

  public init(windows: WindowSettings, windowsPerUnit: Int, maxTokens: Int? = nil) {
    self.windows = windows
    self.windowsPerUnit = windowsPerUnit
    self.maxTokens = maxTokens
  }

  /// The budget in windows, or nil without a budget.
  public var maxWindows: Int? { maxTokens.map { $0 / windows.contextSize } }

  func validate() throws {
    try windows.validate()
    guard windowsPerUnit >= 1 else {
      throw CorpusError.invalidSettings(
        reason: "windowsPerUnit \(windowsPerUnit) is not positive", hint: "use e.g. 256")
    }
    if let maxTokens, maxTokens < 0 {
      throw CorpusError.invalidSettings(
        reason: "maxTokens \(maxTokens) is negative", hint: "omit it for no budget")
    }
  }
}

/// One work unit: a contiguous range of documents and the windows built from them.
public struct WorkUnit: Codable, Hashable, Sendable, Identifiable {
  /// Position in the plan (0-based).
  public var index: Int
  /// Stable id, "u" and six or more digits of `index` ("u000017").
  public var id: String
  /// Id of the unit's first document.
  public var firstDocument: Int
  /// Number of documents (ids `firstDocument ..< firstDocument + documentCount`).
  public var documentCount: Int
  /// Where the first document starts.
  public var start: CorpusLocation
  /// Global index of the unit's first window (windows of earlier units before it).
  public var firstWindow: Int
  /// Windows of this unit.
  public var windowCount: Int
  /// `windowCount` × contextSize.
  public var tokenCount: Int
  /// Positions of those windows that hold document tokens (not inserted ones).
  public var documentTokenCount: Int
  /// Cut short by the token budget: the documents make more windows than `windowCount`.
  public var truncated: Bool
  /// `TokenChecksum` of the unit's window tokens, 16 hex digits.
  public var checksum: String

  /// The unit's document ids.
  public var documents: Range<Int> { firstDocument..<(firstDocument + documentCount) }

  /// The unit's global window indices.
  public var windows: Range<Int> { firstWindow..<(firstWindow + windowCount) }

  /// The id of the unit at `index`.
  public static func id(index: Int) -> String {
    let digits = String(index)
    return "u" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
  }
}

/// The corpus a plan was made from (the directory is informational: workers may mount it elsewhere).
public struct PlanCorpus: Codable, Hashable, Sendable {
  public var directory: String
  public var files: [CorpusFile]
  public var options: CorpusOptions
}

/// Corpus-wide counts of a plan.
public struct PlanTotals: Codable, Hashable, Sendable {
  /// Documents read (ids 0 ..< documents), including those after the last unit.
  public var documents: Int = 0
  /// Tokens of those documents (tokenizer output, without inserted tokens).
  public var documentTokens: Int = 0
  /// Windows of all units.
  public var windows: Int = 0
  /// `windows` × contextSize.
  public var tokens: Int = 0
  /// Document tokens placed in windows; the rest were dropped (partial windows at unit ends,
  /// per-document truncation or short documents, the budget).
  public var documentTokensInWindows: Int = 0
  /// The token budget stopped reading before the end of the corpus.
  public var budgetReached: Bool = false
}

/// A deterministic, ordered list of work units over a corpus.
public struct CorpusPlan: Codable, Hashable, Sendable {
  /// The plan format version this code writes and reads.
  public static let currentVersion = 1

  public var version: Int
  public var corpus: PlanCorpus
  public var settings: PlanSettings
  /// The tokenizer's fingerprint as given to the planner ("" for token corpora).
  public var tokenizer: String
  public var units: [WorkUnit]
  public var totals: PlanTotals
  /// Bad records skipped while planning (tokenizer failures included).
  public var skipped: SkippedRecords
  /// SHA-256 of the canonical JSON with this field empty, 64 hex digits.
  public var contentHash: String

  /// The unit with id `id`.
  public func unit(id: String) -> WorkUnit? {
    guard id.hasPrefix("u"), let index = Int(id.dropFirst()), units.indices.contains(index) else {
      return nil
    }
    return units[index].id == id ? units[index] : nil
  }

  /// The unit holding global window `window`.
  public func unit(containingWindow window: Int) -> WorkUnit? {
    let i = binarySearch { $0.firstWindow + $0.windowCount <= window }
    return i < units.count && units[i].windows.contains(window) ? units[i] : nil
  }

  /// The unit holding document `document` (nil for documents in no unit).
  public func unit(containingDocument document: Int) -> WorkUnit? {
    let i = binarySearch { $0.firstDocument + $0.documentCount <= document }
    return i < units.count && units[i].documents.contains(document) ? units[i] : nil
  }

  /// The first unit index for which `isBefore` is false (units are ordered).
  private func binarySearch(_ isBefore: (WorkUnit) -> Bool) -> Int {
    var low = 0
    var high = units.count
    while low < high {
      let mid = (low + high) / 2
      if isBefore(units[mid]) { low = mid + 1 } else { high = mid }
    }
    return low
  }

  /// Canonical JSON: sorted keys, compact.
  public func jsonData() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return try encoder.encode(self)
  }

  /// SHA-256 of the canonical JSON with `contentHash` empty.
  public func computeContentHash() throws -> String {
    var copy = self
    copy.contentHash = ""
    return SHA256.hex(try copy.jsonData())
  }

  /// Decodes a stored plan and checks its version and content hash.
  public static func decode(_ data: Data) throws -> CorpusPlan {
    let plan: CorpusPlan
    do {
      plan = try JSONDecoder().decode(CorpusPlan.self, from: data)
    } catch {
      throw CorpusError.invalidPlan(reason: "does not decode (\(error))")
    }
    guard plan.version == currentVersion else {
      throw CorpusError.invalidPlan(reason: "version \(plan.version), this build reads \(currentVersion)")
    }
    let hash = try plan.computeContentHash()
    guard hash == plan.contentHash else {
      throw CorpusError.invalidPlan(
        reason: "content hash \(plan.contentHash) does not match the content (\(hash))")
    }
    return plan
  }
}
