// The byte-level BPE model: a vocabulary, a merge-rank table and a per-word cache. Mirrors
// huggingface/tokenizers tokenizers/src/models/bpe/model.rs (`BpeBuilder::build`, `merge_word`,
// `tokenize_with_cache`) and word.rs (`Word::merge_all`).
//
// A piece arrives as its UTF-8 bytes; each byte is one initial symbol (the alphabet character that
// spells it). Merging follows Rust's priority queue: repeatedly take the adjacent pair with the lowest
// merge rank, leftmost first, skipping queue entries made stale by earlier merges. `ignore_merges` first
// looks the whole piece up in the vocabulary. A byte whose character is not in the vocabulary becomes
// `unk_token` (fused with a neighbouring unknown if `fuse_unk`) or, with no unk token, is dropped.
// Left out: dropout, byte_fallback, continuing_subword_prefix, end_of_word_suffix (rejected at load).

import Synchronization

/// Bytes compared and hashed byte for byte (Swift `String` equality is canonical equivalence).
struct ByteString: Hashable, Sendable {
  /// The bytes.
  let bytes: [UInt8]

  func hash(into hasher: inout Hasher) {
    bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
  }
}

/// Merge ranks keyed by the ids of a pair: open addressing over packed 64-bit keys.
struct MergeTable: Sendable {
  private var keys: [UInt64]
  private var values: [UInt64]
  private let mask: Int
  private static let empty = UInt64.max

  /// A table with room for `count` merges.
  init(count: Int) {
    var capacity = 16
    while capacity < count * 2 { capacity *= 2 }
    keys = [UInt64](repeating: Self.empty, count: capacity)
    values = [UInt64](repeating: 0, count: capacity)
    mask = capacity - 1
  }

  @inline(__always) private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
    UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
  }

  @inline(__always) private func slot(_ key: UInt64) -> Int {
    Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 40) & mask
  }

  /// Sets the merge of `left` and `right`; a later duplicate replaces an earlier one, as in Rust.
  mutating func insert(_ left: Int32, _ right: Int32, rank: UInt32, newID: Int32) {
    let key = Self.key(left, right)
    var i = slot(key)
    while keys[i] != Self.empty && keys[i] != key { i = (i &+ 1) & mask }
    keys[i] = key
    values[i] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: newID))
  }

  /// `rank << 32 | newID` for the pair, or nil.
  @inline(__always) func lookup(_ left: Int32, _ right: Int32) -> UInt64? {
    let key = Self.key(left, right)
    return keys.withUnsafeBufferPointer { keys in
      var i = slot(key)
      while true {
        let found = keys[i]
        if found == key { return values.withUnsafeBufferPointer { $0[i] } }
        if found == Self.empty { return nil }
        i = (i &+ 1) & mask
      }
    }
  }
}

/// Scratch arrays reused across pieces by one encode call.
struct BPEWorkspace {
  var symbols: [Int32] = []
  var previous: [Int32] = []
  var next: [Int32] = []
  var alive: [Bool] = []
  var heap: [UInt64] = []
}

/// A byte-level BPE vocabulary with its merges.
final class BPEModel: Sendable {
  /// Token (as spelled in the vocabulary) → id.
  let vocabulary: [ByteString: Int]
  /// The spelled token of each id below `idLimit`, nil for ids the vocabulary does not use.
  let tokensByID: [String?]
  private let byteIDs: [Int32]
  private let merges: MergeTable
  private let unknownID: Int32?
  private let fuseUnknown: Bool
  private let rawVocabulary: [ByteString: Int32]?
  private let cache = Mutex<[ByteString: [Int32]]>([:])
  private static let cacheCapacity = 10_000
  private static let cacheMaxBytes = 256

  /// Builds the model; each merge and its concatenation must be in the vocabulary.
  /// - Parameters:
  ///   - vocabulary: token → id, tokens spelled in the byte alphabet.
  ///   - merges: pairs in rank order (rank = index).
  ///   - source, vocabularyKey, mergeKey: where the vocabulary and merge `i` come from, for errors.
  init(
    vocabulary: [String: Int], merges: [(String, String)], unknownToken: String?, fuseUnknown: Bool,
    ignoreMerges: Bool, source: String, vocabularyKey: String, mergeKey: (Int) -> String
  ) throws {
    var byBytes: [ByteString: Int] = [:]
    byBytes.reserveCapacity(vocabulary.count)
    var limit = 0
    // Ids may leave holes, but not so many that the id table becomes a huge allocation.
    let idBound = vocabulary.count * 2 + 65_536
    for (token, id) in vocabulary {
      guard id >= 0 && id < idBound else {
        throw TokenizerError(
          .invalidValue, source: source, key: vocabularyKey,
          "token \(token.debugDescription) has id \(id), far beyond the \(vocabulary.count) tokens",
          hint: "ids should number the vocabulary from 0")
      }
      byBytes[ByteString(bytes: Array(token.utf8))] = id
      limit = max(limit, id + 1)
    }
    var tokens = [String?](repeating: nil, count: limit)
    for (token, id) in vocabulary { tokens[id] = token }
    self.vocabulary = byBytes
    tokensByID = tokens

    byteIDs = ByteAlphabet.scalarForByte.map { scalar in
      let spelled = String(Unicode.Scalar(scalar)!)
      return Int32(vocabulary[spelled] ?? -1)
    }

    var table = MergeTable(count: merges.count)
    for (rank, (left, right)) in merges.enumerated() {
      func id(_ token: String) throws -> Int32 {
        guard let id = byBytes[ByteString(bytes: Array(token.utf8))] else {
          throw TokenizerError(
            .unknownToken, source: source, key: mergeKey(rank),
            "merge '\(left) \(right)' names \(token.debugDescription), which is not in the vocabulary",
            hint: "the vocabulary and merges do not belong together")
        }
        return Int32(id)
      }
      table.insert(try id(left), try id(right), rank: UInt32(rank), newID: try id(left + right))
    }
    self.merges = table

    if let unknownToken {
      guard let id = vocabulary[unknownToken] else {
        throw TokenizerError(
          .unknownToken, source: source, key: "model.unk_token",
          "unk_token \(unknownToken.debugDescription) is not in the vocabulary")
      }
      unknownID = Int32(id)
    } else {
      unknownID = nil
    }
    self.fuseUnknown = fuseUnknown
    if ignoreMerges {
      var raw: [ByteString: Int32] = [:]
      for (token, id) in vocabulary {
        if let bytes = ByteAlphabet.bytes(ofSpelled: token) { raw[ByteString(bytes: bytes)] = Int32(id) }
      }
      rawVocabulary = raw
    } else {
      rawVocabulary = nil
    }
  }

  /// Appends the ids of one pre-tokenized piece, given as its UTF-8 bytes.
  func tokenize(_ bytes: ArraySlice<UInt8>, _ work: inout BPEWorkspace, into ids: inout [Int]) {
    guard !bytes.isEmpty else { return }
    if let rawVocabulary, let id = rawVocabulary[ByteString(bytes: Array(bytes))] {
      ids.append(Int(id))
      return
    }
    let cacheable = bytes.count < Self.cacheMaxBytes
    let key = ByteString(bytes: Array(bytes))
    if cacheable, let hit = cache.withLock({ $0[key] }) {
      for id in hit { ids.append(Int(id)) }
      return
    }
    let start = ids.count
    merge(bytes, &work, into: &ids)
    if cacheable {
      let result = ids[start...].map { Int32($0) }
      cache.withLock { cache in
        if cache.count < Self.cacheCapacity { cache[key] = result }
      }
    }
  }

  /// `merge_word` + `merge_all` for one piece.
  private func merge(_ bytes: ArraySlice<UInt8>, _ work: inout BPEWorkspace, into ids: inout [Int]) {
    work.symbols.removeAll(keepingCapacity: true)
    var pendingUnknown = false
    for byte in bytes {
      let id = byteIDs[Int(byte)]
      if id >= 0 {
        if pendingUnknown, let unknownID { work.symbols.append(unknownID) }
        pendingUnknown = false
        work.symbols.append(id)
      } else if unknownID != nil {
        if pendingUnknown && !fuseUnknown { work.symbols.append(unknownID!) }
        pendingUnknown = true
      }
    }
    if pendingUnknown, let unknownID { work.symbols.append(unknownID) }
    let count = work.symbols.count
    guard count > 1 else {
      for id in work.symbols { ids.append(Int(id)) }
      return
    }

    work.previous.removeAll(keepingCapacity: true)
    work.next.removeAll(keepingCapacity: true)
    work.alive.removeAll(keepingCapacity: true)
    work.heap.removeAll(keepingCapacity: true)
    for i in 0..<count {
      work.previous.append(Int32(i) - 1)
      work.next.append(i + 1 < count ? Int32(i + 1) : -1)
      work.alive.append(true)
      if i + 1 < count, let merge = merges.lookup(work.symbols[i], work.symbols[i + 1]) {
        work.heap.append(merge & 0xFFFF_FFFF_0000_0000 | UInt64(i))
      }
    }
    MinHeap.heapify(&work.heap)

    while let top = MinHeap.pop(&work.heap) {
      let position = Int(top & 0xFFFF_FFFF)
      let rank = top >> 32
      guard work.alive[position], work.next[position] >= 0 else { continue }
      let right = Int(work.next[position])
      // A stale entry: the pair at `position` changed since it was queued.
      guard let merge = merges.lookup(work.symbols[position], work.symbols[right]), merge >> 32 == rank
      else { continue }
      work.symbols[position] = Int32(truncatingIfNeeded: merge & 0xFFFF_FFFF)
      work.alive[right] = false
      let after = work.next[right]
      work.next[position] = after
      if after >= 0 { work.previous[Int(after)] = Int32(position) }
      let before = work.previous[position]
      if before >= 0, let merge = merges.lookup(work.symbols[Int(before)], work.symbols[position]) {
        MinHeap.push(&work.heap, merge & 0xFFFF_FFFF_0000_0000 | UInt64(before))
      }
      if after >= 0, let merge = merges.lookup(work.symbols[position], work.symbols[Int(after)]) {
        MinHeap.push(&work.heap, merge & 0xFFFF_FFFF_0000_0000 | UInt64(position))
      }
    }
    var i = 0
    while i >= 0 {
      ids.append(Int(work.symbols[i]))
      i = Int(work.next[i])
    }
  }
}

/// A binary min-heap over packed `rank << 32 | position` entries: lowest rank first, then leftmost.
private enum MinHeap {
  static func heapify(_ heap: inout [UInt64]) {
    var i = heap.count / 2 - 1
    while i >= 0 {
      siftDown(&heap, i)
      i -= 1
    }
  }

  static func push(_ heap: inout [UInt64], _ value: UInt64) {
    heap.append(value)
    var i = heap.count - 1
    while i > 0 {
      let parent = (i - 1) / 2
      guard heap[parent] > heap[i] else { break }
      heap.swapAt(parent, i)
      i = parent
    }
  }

  static func pop(_ heap: inout [UInt64]) -> UInt64? {
    guard let last = heap.popLast() else { return nil }
    guard !heap.isEmpty else { return last }
    let top = heap[0]
    heap[0] = last
    siftDown(&heap, 0)
    return top
  }

  private static func siftDown(_ heap: inout [UInt64], _ start: Int) {
    var i = start
    let count = heap.count
    while true {
      let left = 2 * i + 1
      guard left < count else { return }
      var smallest = left
      if left + 1 < count && heap[left + 1] < heap[left] { smallest = left + 1 }
      guard heap[smallest] < heap[i] else { return }
      heap.swapAt(smallest, i)
      i = smallest
    }
  }
}
