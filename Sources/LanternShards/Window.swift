// Context windows: the token sequences the model runs on, with where every position came from,
// and the settings that make them, named as SAELens names them.
//
// SAELens (sae_lens/tokenization_and_batching.py, `concat_and_batch_sequences`, 6.x):
//   context_size              tokens per window
//   begin_batch_token         put at position 0 of every window (ActivationsStore: the BOS when
//                             prepend_bos; PretokenizeRunner default "bos")
//   begin_sequence_token      put before every document (default none)
//   sequence_separator_token  put between two documents packed into one window (default "bos")
//   disable_concat_sequences  one window per document instead of packing
// Each of the three special tokens is skipped where the document already starts with that id.
// `WindowSettings.activationsStore(...)` maps the ActivationsStore's options onto these.
//
// Provenance: a window is a list of spans. A document span covers consecutive tokens of one
// document (document id, offset of its first token in the document's token list); an inserted
// token (begin-batch, begin-sequence, separator) is a span of kind != .document with offset −1
// and the id of the document it introduces (the document after it). The convention is the same
// in both modes and for a begin-batch token at the start of a window that continues a document.

/// Which of SAELens' options a window is built with (token ids already resolved).
public struct WindowSettings: Codable, Hashable, Sendable {
  /// Tokens per window (SAELens `context_size`).
  public var contextSize: Int
  /// Token at position 0 of every window (`begin_batch_token_id`), or nil.
  public var beginBatchToken: Int?
  /// Token before every document (`begin_sequence_token_id`), or nil.
  public var beginSequenceToken: Int?
  /// Token between packed documents (`sequence_separator_token_id`), or nil.
  public var sequenceSeparatorToken: Int?
  /// Pack documents into windows (default) or make one window per document
  /// (false = SAELens `disable_concat_sequences=True`).
  public var concatenateSequences: Bool

  public init(
    contextSize: Int, beginBatchToken: Int? = nil, beginSequenceToken: Int? = nil,
    sequenceSeparatorToken: Int? = nil, concatenateSequences: Bool = true
  ) {
    self.contextSize = contextSize
    self.beginBatchToken = beginBatchToken
    self.beginSequenceToken = beginSequenceToken
    self.sequenceSeparatorToken = sequenceSeparatorToken
    self.concatenateSequences = concatenateSequences
  }

  /// The windows SAELens' `ActivationsStore` builds from a text dataset: begin-batch = BOS when
  /// `prependBOS`, no begin-sequence token, separator = `sequenceSeparatorToken` (SAELens
  /// default: the BOS id), packing unless `disableConcatSequences`.
  public static func activationsStore(
    contextSize: Int, prependBOS: Bool, bosToken: Int?, sequenceSeparatorToken: Int?,
    disableConcatSequences: Bool = false
  ) -> WindowSettings {
    WindowSettings(
      contextSize: contextSize, beginBatchToken: prependBOS ? bosToken : nil, beginSequenceToken: nil,
      sequenceSeparatorToken: sequenceSeparatorToken, concatenateSequences: !disableConcatSequences)
  }

  /// Throws `invalidSettings` for settings SAELens rejects or never finishes with.
  public func validate() throws {
    guard contextSize >= 1 else {
      throw CorpusError.invalidSettings(
        reason: "context size \(contextSize) is not positive", hint: "use e.g. 128 or the model's n_ctx")
    }
    for (name, id) in [
      ("begin-batch", beginBatchToken), ("begin-sequence", beginSequenceToken),
      ("separator", sequenceSeparatorToken),
    ] {
      if let id, id < 0 || id > Int(Int32.max) {
        throw CorpusError.invalidSettings(
          reason: "the \(name) token \(id) is not a token id", hint: "pass an id of the vocabulary")
      }
    }
    // With one position and a begin-batch token, every window is that token alone and a
    // document never advances: SAELens loops forever there.
    if contextSize == 1 && beginBatchToken != nil && concatenateSequences {
      throw CorpusError.invalidSettings(
        reason: "a context size of 1 leaves no room for tokens after the begin-batch token",
        hint: "use a context size of at least 2, or no begin-batch (BOS) token")
    }
  }
}

/// A span of window positions with one origin.
public struct WindowSpan: Codable, Hashable, Sendable {
  /// Where the tokens of a span come from.
  public enum Kind: String, Codable, Hashable, Sendable {
    /// Tokens of a document.
    case document
    /// The begin-batch token at position 0 (usually BOS).
    case beginBatch
    /// The begin-sequence token before a document.
    case beginSequence
    /// The separator between two packed documents.
    case separator
  }

  /// What the span holds.
  public var kind: Kind
  /// The document its tokens belong to; for inserted tokens, the document they introduce.
  public var document: Int
  /// Offset of the span's first token in the document's token list; −1 for inserted tokens.
  public var offset: Int
  /// Number of positions.
  public var count: Int
}

/// Where one window position came from.
public struct TokenOrigin: Hashable, Sendable {
  /// What kind of token it is.
  public var kind: WindowSpan.Kind
  /// The document (for inserted tokens: the document they introduce).
  public var document: Int
  /// Offset in the document's token list; −1 for inserted tokens.
  public var offset: Int
}

/// One context window: `contextSize` tokens and where each came from.
public struct Window: Codable, Hashable, Sendable {
  /// Token ids, `contextSize` of them.
  public var tokens: [Int32]
  /// Consecutive spans covering all positions, in order.
  public var spans: [WindowSpan]

  public init(tokens: [Int32], spans: [WindowSpan]) {
    self.tokens = tokens
    self.spans = spans
  }

  /// Where position `position` came from.
  public func origin(at position: Int) -> TokenOrigin {
    var start = 0
    for span in spans {
      if position < start + span.count {
        let offset = span.kind == .document ? span.offset + (position - start) : -1
        return TokenOrigin(kind: span.kind, document: span.document, offset: offset)
      }
      start += span.count
    }
    preconditionFailure("position \(position) is outside the window of \(tokens.count) tokens")
  }

  /// The document id of every position (inserted tokens: the document they introduce).
  public var documentIDs: [Int] {
    var ids: [Int] = []
    ids.reserveCapacity(tokens.count)
    for span in spans { ids.append(contentsOf: repeatElement(span.document, count: span.count)) }
    return ids
  }

  /// The offset in its document of every position (−1 for inserted tokens).
  public var documentOffsets: [Int] {
    var offsets: [Int] = []
    offsets.reserveCapacity(tokens.count)
    for span in spans {
      if span.kind == .document {
        offsets.append(contentsOf: span.offset..<(span.offset + span.count))
      } else {
        offsets.append(contentsOf: repeatElement(-1, count: span.count))
      }
    }
    return offsets
  }

  /// The ids of the documents with tokens in this window, in order, without repeats.
  public var documents: [Int] {
    var ids: [Int] = []
    for span in spans where span.kind == .document && ids.last != span.document { ids.append(span.document) }
    return ids
  }
}

// MARK: - Read-time filter
//
// Which window positions count as training data: SAELens' `exclude_special_tokens`, applied when
// activations are read, never when windows are built. Windows keep every token (the model must
// see the BOS and separators), shards store every position, and a reader drops the rows this
// filter rejects, so one extraction serves any choice of filter.
//
// SAELens (training/activations_store.py `_filter_buffer_acts`) drops a row when its token id is
// in the excluded set, wherever the token came from (a BOS inside a document is dropped too);
// `exclude_special_tokens=True` means the tokenizer's bos/eos/pad/sep/decoder_start ids
// (util.py `get_special_token_ids`), chat-template tokens excluded. `excludeInsertedTokens` is
// a Lantern addition: drop the positions the packer inserted, by provenance, not by id.

/// A keep/drop rule for window positions.
public struct TokenFilter: Codable, Hashable, Sendable {
  /// Token ids whose positions are dropped, ascending and unique.
  public let excludedTokenIDs: [Int32]
  /// Also drop begin-batch, begin-sequence and separator positions (by provenance).
  public let excludeInsertedTokens: Bool
  private let excluded: Set<Int32>

  /// A filter dropping `excludedTokenIDs` (and inserted tokens if asked).
  public init(excludedTokenIDs: [Int] = [], excludeInsertedTokens: Bool = false) {
    let ids = Set(excludedTokenIDs.compactMap { Int32(exactly: $0) })
    self.excludedTokenIDs = ids.sorted()
    self.excludeInsertedTokens = excludeInsertedTokens
    excluded = ids
  }

  /// Keeps every position (SAELens `exclude_special_tokens=False`).
  public static let keepAll = TokenFilter()

  /// SAELens `exclude_special_tokens=True`: the structural special ids the tokenizer has.
  public static func saeLensSpecialTokens(
    bos: Int?, eos: Int?, pad: Int? = nil, sep: Int? = nil, decoderStart: Int? = nil
  ) -> TokenFilter {
    TokenFilter(excludedTokenIDs: [bos, eos, pad, sep, decoderStart].compactMap { $0 })
  }

  /// Whether a position holding `token` is kept (by id only).
  @inline(__always)
  public func keeps(token: Int32) -> Bool { !excluded.contains(token) }

  /// Keep flags for every position of `window`.
  public func keepMask(for window: Window) -> [Bool] {
    var mask = keepMask(tokens: window.tokens)
    if excludeInsertedTokens {
      var position = 0
      for span in window.spans {
        if span.kind != .document { for p in position..<(position + span.count) { mask[p] = false } }
        position += span.count
      }
    }
    return mask
  }

  /// Keep flags for a flat run of token ids (e.g. the token column of a shard, B·T of them).
  /// Provenance is not known here, so `excludeInsertedTokens` is not applied.
  public func keepMask(tokens: [Int32]) -> [Bool] {
    tokens.withUnsafeBufferPointer { ids in
      var mask = [Bool](repeating: true, count: ids.count)
      if excluded.isEmpty { return mask }
      mask.withUnsafeMutableBufferPointer { out in
        for i in 0..<ids.count where excluded.contains(ids[i]) { out[i] = false }
      }
      return mask
    }
  }

  /// The kept positions of `window`, ascending.
  public func keptPositions(in window: Window) -> [Int] {
    keepMask(for: window).enumerated().compactMap { $0.element ? $0.offset : nil }
  }

  private enum CodingKeys: String, CodingKey {
    case excludedTokenIDs, excludeInsertedTokens
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let ids = try container.decode([Int32].self, forKey: .excludedTokenIDs)
    self.init(
      excludedTokenIDs: ids.map(Int.init),
      excludeInsertedTokens: try container.decode(Bool.self, forKey: .excludeInsertedTokens))
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(excludedTokenIDs, forKey: .excludedTokenIDs)
    try container.encode(excludeInsertedTokens, forKey: .excludeInsertedTokens)
  }

  public static func == (a: TokenFilter, b: TokenFilter) -> Bool {
    a.excludedTokenIDs == b.excludedTokenIDs && a.excludeInsertedTokens == b.excludeInsertedTokens
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(excludedTokenIDs)
    hasher.combine(excludeInsertedTokens)
  }
}
