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
