// LanternTokenizers: byte-level BPE that produces exactly the ids of Hugging Face `tokenizers`.
//
// The pipeline, one file per stage, each mirroring a file of huggingface/tokenizers (tokenizers/src/):
//   AddedTokens.swift   special and added tokens split out of the raw text (tokenizer/added_vocabulary.rs)
//   Normalizer.swift    none or NFC (normalizers/)
//   PreTokenizer.swift  ByteLevel, Split, Digits, Sequence (pre_tokenizers/); the regexes themselves are
//                       hand-written scanners in SplitPatterns.swift over ScalarText.swift's classes
//   BPE.swift           merges by rank with a per-word cache (models/bpe/model.rs, word.rs)
//   PostProcessor.swift TemplateProcessing's BOS/EOS (processors/template.rs)
//   ByteLevel.swift     the byte alphabet and the decoder (pre_tokenizers/byte_level.rs)
// This file is the facade (tokenizer/mod.rs: `encode_single_sequence`, `decode`); loaders are in
// Tokenizer+JSON.swift (tokenizer.json, vocab.json + merges.txt, model directories), Tokenizer+GGUF.swift
// (GGUF metadata as plain arrays) and Tokenizer+GGUFFile.swift (an open GGUFFile).
//
// A Tokenizer is immutable apart from the BPE word cache (behind a mutex), so one instance can be
// shared by many threads. Left out: pairs of sequences, offsets, truncation, padding, and every
// model type other than byte-level BPE (WordPiece, Unigram, SentencePiece-style BPE).

/// A byte-level BPE tokenizer that produces the same ids as Hugging Face `tokenizers`.
public final class Tokenizer: Sendable {
  let model: BPEModel
  let normalizer: (any Normalizer)?
  let preTokenizer: SequencePreTokenizer
  let rawMatcher: AddedTokenMatcher?
  let normalizedMatcher: AddedTokenMatcher?
  let postProcessor: PostProcessor
  let decoder: ByteLevelDecoder
  private let addedIDs: [ByteString: Int]
  private let addedContents: [Int: String]

  /// The added tokens (special ones and user-added ones), in id order.
  public let addedTokens: [AddedToken]
  /// The beginning-of-sequence token id, if the tokenizer has one.
  public let bosTokenID: Int?
  /// The end-of-sequence token id, if the tokenizer has one.
  public let eosTokenID: Int?
  /// One more than the largest token id (model vocabulary and added tokens); for a vocabulary
  /// numbered without holes this equals `get_vocab_size(with_added_tokens=True)` in `tokenizers`.
  public let vocabularySize: Int

  /// Assembles a tokenizer from its stages; the loaders validate everything before calling this.
  init(
    model: BPEModel, normalizer: (any Normalizer)?, preTokenizer: SequencePreTokenizer,
    addedTokens: [AddedToken], postProcessor: PostProcessor, bosTokenID: Int?, eosTokenID: Int?
  ) {
    self.model = model
    self.normalizer = normalizer
    self.preTokenizer = preTokenizer
    self.postProcessor = postProcessor
    self.bosTokenID = bosTokenID
    self.eosTokenID = eosTokenID
    let sorted = addedTokens.sorted { $0.id < $1.id }
    self.addedTokens = sorted

    // What an added token matches (and decodes as) after normalization, as `normalized_cache` does.
    func normalizedContent(_ token: AddedToken) -> String {
      guard token.normalized, let normalizer else { return token.content }
      return normalizer.normalize(token.content)
    }
    rawMatcher = AddedTokenMatcher(sorted.filter { !$0.normalized }) { $0.content }
    normalizedMatcher = AddedTokenMatcher(sorted.filter(\.normalized), pattern: normalizedContent)
    var addedIDs: [ByteString: Int] = [:]
    for token in sorted { addedIDs[ByteString(bytes: Array(token.content.utf8))] = token.id }
    self.addedIDs = addedIDs
    addedContents = Dictionary(sorted.map { ($0.id, $0.content) }, uniquingKeysWith: { $1 })

    let size = max(model.tokensByID.count, (sorted.map(\.id).max() ?? -1) + 1)
    vocabularySize = size
    var tokens = model.tokensByID + [String?](repeating: nil, count: size - model.tokensByID.count)
    for token in sorted { tokens[token.id] = normalizedContent(token) }
    let specialContents = Set(sorted.filter(\.special).map { ByteString(bytes: Array($0.content.utf8)) })
    let special = tokens.map {
      $0.map { specialContents.contains(ByteString(bytes: Array($0.utf8))) } ?? false
    }
    decoder = ByteLevelDecoder(tokens: tokens, special: special)
  }

  /// Whether `encode(_:addSpecialTokens: true)` starts with `bosTokenID`.
  public var addsBOS: Bool { bosTokenID != nil && postProcessor.prefix.first == bosTokenID }

  /// The id of `token` (an added token's content, or a vocabulary entry spelled in the byte
  /// alphabet, e.g. "Ġthe"), or nil.
  public func tokenID(for token: String) -> Int? {
    let key = ByteString(bytes: Array(token.utf8))
    return addedIDs[key] ?? model.vocabulary[key]
  }

  /// The token with `id` (added tokens as written, others spelled in the byte alphabet), or nil.
  public func token(for id: Int) -> String? {
    if let added = addedContents[id] { return added }
    return id >= 0 && id < model.tokensByID.count ? model.tokensByID[id] : nil
  }

  /// Whether `id` is a special added token (the ones `decode` can skip).
  public func isSpecial(_ id: Int) -> Bool {
    id >= 0 && id < decoder.special.count && decoder.special[id]
  }

  /// Token ids for `text`. Added tokens in the text are always recognised (as `tokenizers` does);
  /// `addSpecialTokens` only controls the post-processor's tokens (BOS, EOS).
  public func encode(_ text: String, addSpecialTokens: Bool = true) throws -> [Int] {
    var ids: [Int] = []
    ids.reserveCapacity(text.utf8.count / 3 + 4)
    var work = EncodeWorkspace()
    let bytes = Array(text.utf8)
    for segment in rawMatcher?.split(bytes) ?? [.text(0..<bytes.count)] {
      switch segment {
      case .token(let id):
        ids.append(id)
      case .text(let range):
        var piece = Array(bytes[range])
        if let normalizer {
          piece = Array(normalizer.normalize(String(decoding: piece, as: UTF8.self)).utf8)
        }
        guard let normalizedMatcher else {
          encodeText(piece[...], &work, into: &ids)
          continue
        }
        for part in normalizedMatcher.split(piece) {
          switch part {
          case .token(let id): ids.append(id)
          case .text(let range): encodeText(piece[range], &work, into: &ids)
          }
        }
      }
    }
    return addSpecialTokens ? postProcessor.process(ids) : ids
  }

  /// Pre-tokenizes normalized text that holds no added tokens and appends its BPE ids.
  private func encodeText(_ utf8: ArraySlice<UInt8>, _ work: inout EncodeWorkspace, into ids: inout [Int]) {
    guard !utf8.isEmpty else { return }
    var text = ScalarText(utf8: utf8)
    let pieces = preTokenizer.preTokenize(&text, [text.all])
    text.scalars.withUnsafeBufferPointer { scalars in
      for piece in pieces {
        work.bytes.removeAll(keepingCapacity: true)
        UTF8Codec.append(scalars, piece, to: &work.bytes)
        model.tokenize(work.bytes[...], &work.bpe, into: &ids)
      }
    }
  }

  /// The pre-tokenizer's pieces for `text` alone (no normalizer, no added tokens), spelled in the
  /// byte alphabet: what `pre_tokenizer.pre_tokenize_str` gives in `tokenizers`. For tests and tools.
  func preTokenize(_ text: String) -> [String] {
    guard !text.isEmpty else { return [] }
    var scalarText = ScalarText(utf8: Array(text.utf8)[...])
    let pieces = preTokenizer.preTokenize(&scalarText, [scalarText.all])
    return scalarText.scalars.withUnsafeBufferPointer { scalars in
      pieces.map { piece in
        var bytes: [UInt8] = []
        UTF8Codec.append(scalars, piece, to: &bytes)
        return ByteAlphabet.spell(bytes)
      }
    }
  }

  /// The text for `ids`; ids that name no token are skipped, as are special tokens if asked.
  public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
    decoder.decode(ids, skipSpecialTokens: skipSpecialTokens)
  }
}

/// Scratch buffers for one encode call.
private struct EncodeWorkspace {
  var bytes: [UInt8] = []
  var bpe = BPEWorkspace()
}
