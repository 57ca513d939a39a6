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

// MARK: - Hashes
//
// The two hashes of a plan: SHA-256 (FIPS 180-4) for the plan's content hash, and 64-bit FNV-1a
// over the token ids of a work unit's windows, stored per unit so that re-reading a unit notices
// a changed corpus or tokenizer.
//
// SHA-256 is implemented here because Foundation on Linux has no CryptoKit and the package takes
// no crypto dependency; it is checked against hashlib's digests (FIPS 180-4 test vectors and a
// few longer inputs) in PlanTests. It is not constant-time and is not meant for secrets.

/// SHA-256 of a byte sequence.
enum SHA256 {
  private static let k: [UInt32] = [
    0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
    0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
    0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
    0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
    0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
    0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
    0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
    0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
  ]

  /// The digest of `bytes`, as 64 lowercase hex digits.
  static func hex(_ bytes: some Collection<UInt8>) -> String {
    digest(bytes).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
  }

  /// The 32-byte digest of `bytes`.
  static func digest(_ bytes: some Collection<UInt8>) -> [UInt8] {
    var h: [UInt32] = [
      0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19,
    ]
    var message = Array(bytes)
    let bitLength = UInt64(message.count) &* 8
    message.append(0x80)
    while message.count % 64 != 56 { message.append(0) }
    for shift in stride(from: 56, through: 0, by: -8) {
      message.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift)))
    }
    var w = [UInt32](repeating: 0, count: 64)
    for block in stride(from: 0, to: message.count, by: 64) {
      for t in 0..<16 {
        let i = block + 4 * t
        w[t] =
          UInt32(message[i]) << 24 | UInt32(message[i + 1]) << 16 | UInt32(message[i + 2]) << 8
          | UInt32(message[i + 3])
      }
      for t in 16..<64 {
        let s0 = rotate(w[t - 15], 7) ^ rotate(w[t - 15], 18) ^ (w[t - 15] >> 3)
        let s1 = rotate(w[t - 2], 17) ^ rotate(w[t - 2], 19) ^ (w[t - 2] >> 10)
        w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
      }
      var (a, b, c, d, e, f, g, hh) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7])
      for t in 0..<64 {
        let s1 = rotate(e, 6) ^ rotate(e, 11) ^ rotate(e, 25)
        let choice = (e & f) ^ (~e & g)
        let t1 = hh &+ s1 &+ choice &+ k[t] &+ w[t]
        let s0 = rotate(a, 2) ^ rotate(a, 13) ^ rotate(a, 22)
        let majority = (a & b) ^ (a & c) ^ (b & c)
        let t2 = s0 &+ majority
        (hh, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
      }
      h[0] = h[0] &+ a
      h[1] = h[1] &+ b
      h[2] = h[2] &+ c
      h[3] = h[3] &+ d
      h[4] = h[4] &+ e
      h[5] = h[5] &+ f
      h[6] = h[6] &+ g
      h[7] = h[7] &+ hh
    }
    return h.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> UInt32(24 - 8 * $0)) } }
  }

  @inline(__always)
  private static func rotate(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
}

/// 64-bit FNV-1a over the little-endian bytes of token ids, window after window.
public struct TokenChecksum: Hashable, Sendable {
  /// The running hash.
  public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

  public init() {}

  /// Adds the tokens of one window.
  public mutating func add(_ tokens: [Int32]) {
    var h = value
    for token in tokens {
      var bits = UInt32(bitPattern: token)
      for _ in 0..<4 {
        h = (h ^ UInt64(bits & 0xFF)) &* 0x100_0000_01b3
        bits >>= 8
      }
    }
    value = h
  }

  /// 16 lowercase hex digits.
  public var hex: String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
  }
}
