// Loading a tokenizer from Hugging Face files: tokenizer.json, GPT-2's vocab.json + merges.txt, or a
// model directory holding either (plus tokenizer_config.json for the BOS/EOS names).
//
// tokenizer.json keys read (everything else is ignored): model {type "BPE", vocab, merges as "a b"
// strings or [a, b] pairs, unk_token, fuse_unk, ignore_merges, byte_fallback false, dropout null,
// no continuing_subword_prefix / end_of_word_suffix}, normalizer, pre_tokenizer, post_processor,
// decoder (ByteLevel), added_tokens. An added token whose content is in the model vocabulary takes
// that id, as in `tokenizers`; otherwise the id the file gives.

import Foundation

extension Tokenizer {
  /// Loads a tokenizer.json file.
  /// - Parameters:
  ///   - bosToken, eosToken: names of the BOS/EOS tokens (tokenizer.json does not record them;
  ///     `tokenizer_config.json` does). Defaults: the first special token the post-processor puts
  ///     before the text and the last one it puts after; failing that, a special "<|endoftext|>".
  public convenience init(tokenizerJSON url: URL, bosToken: String? = nil, eosToken: String? = nil) throws {
    let data = try readFile(url)
    try self.init(tokenizerJSONData: data, source: url.path, bosToken: bosToken, eosToken: eosToken)
  }

  /// Parses the contents of a tokenizer.json file; `source` names it in errors.
  public convenience init(
    tokenizerJSONData data: Data, source: String = "tokenizer.json", bosToken: String? = nil,
    eosToken: String? = nil
  ) throws {
    let root = try JSONNode.parse(data, source: source)
    _ = try root.object()
    let modelNode = root["model"]
    _ = try modelNode.object()
    if let type = try modelNode.optionalString("type"), type != "BPE" {
      throw modelNode["type"].error(
        .unsupported, "model type '\(type)'", hint: "only byte-level BPE models are supported")
    }
    try rejectUnsupportedOptions(modelNode)

    var vocabulary: [String: Int] = [:]
    let vocabNode = modelNode["vocab"]
    let vocabObject = try vocabNode.object()
    vocabulary.reserveCapacity(vocabObject.count)
    for (token, value) in vocabObject {
      vocabulary[token] = try JSONNode(value: value, path: "\(vocabNode.path).\(token)", source: source)
        .index()
    }

    var merges: [(String, String)] = []
    var mergeIndex: [Int] = []  // JSON index of each merge, for errors ("#version" lines are skipped)
    for (index, entry) in try modelNode["merges"].array().enumerated() {
      if let line = entry.value as? String {
        if line.hasPrefix("#version") { continue }
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
          throw entry.error(
            .invalidValue, "merge \(line.debugDescription) is not two tokens separated by a space")
        }
        merges.append((String(parts[0]), String(parts[1])))
      } else {
        let pair = try entry.array()
        guard pair.count == 2 else {
          throw entry.error(.invalidValue, "a merge pair needs exactly two tokens")
        }
        merges.append((try pair[0].stringValue(), try pair[1].stringValue()))
      }
      mergeIndex.append(index)
    }

    let model = try BPEModel(
      vocabulary: vocabulary, merges: merges, unknownToken: try modelNode.optionalString("unk_token"),
      fuseUnknown: try modelNode.bool("fuse_unk", default: false),
      ignoreMerges: try modelNode.bool("ignore_merges", default: false), source: source,
      vocabularyKey: "model.vocab", mergeKey: { "model.merges[\(mergeIndex[$0])]" })

    let normalizer = try SequenceNormalizer.parse(root["normalizer"])
    let preTokenizerNode = root["pre_tokenizer"]
    guard !preTokenizerNode.isNull else {
      throw preTokenizerNode.error(
        .unsupported, "no pre-tokenizer", hint: "byte-level BPE needs a ByteLevel pre-tokenizer")
    }
    let preTokenizer = try SequencePreTokenizer.parse(preTokenizerNode)
    let decoderNode = root["decoder"]
    let decoderType = try decoderNode.string("type")
    guard decoderType == "ByteLevel" else {
      throw decoderNode["type"].error(
        .unsupported, "decoder type '\(decoderType)'", hint: "byte-level BPE needs the ByteLevel decoder")
    }
    let postProcessor = try PostProcessor.parse(root["post_processor"])

    var added: [AddedToken] = []
    let addedNode = root["added_tokens"]
    for entry in addedNode.isNull ? [] : try addedNode.array() {
      let content = try entry.string("content")
      let special = try entry.bool("special", default: false)
      guard !content.isEmpty else { continue }  // `tokenizers` ignores empty added tokens
      added.append(
        AddedToken(
          id: try model.vocabulary[ByteString(bytes: Array(content.utf8))] ?? entry["id"].index(),
          content: content, special: special, singleWord: try entry.bool("single_word", default: false),
          lstrip: try entry.bool("lstrip", default: false), rstrip: try entry.bool("rstrip", default: false),
          normalized: try entry.bool("normalized", default: !special)))
    }
    let idBound = model.tokensByID.count + added.count
    if let bad = added.first(where: { $0.id >= idBound }) {
      throw addedNode.error(
        .invalidValue, "added token \(bad.content.debugDescription) has id \(bad.id), beyond the vocabulary",
        hint: "added tokens should continue the vocabulary's numbering")
    }

    try self.init(
      model: model, normalizer: normalizer, preTokenizer: preTokenizer, addedTokens: added,
      postProcessor: postProcessor, bosToken: bosToken, eosToken: eosToken, source: source)
  }

  /// Loads GPT-2-style `vocab.json` and `merges.txt`, with the ByteLevel pre-tokenizer and decoder.
  /// - Parameters:
  ///   - specialTokens: vocabulary entries to match whole in text as special tokens; by default
  ///     "<|endoftext|>" if the vocabulary has it (it is also GPT-2's BOS and EOS).
  ///   - addPrefixSpace: ByteLevel's `add_prefix_space` (GPT-2: false).
  public convenience init(
    vocabJSON: URL, mergesTXT: URL, specialTokens: [String]? = nil, addPrefixSpace: Bool = false
  ) throws {
    let vocabNode = try JSONNode.parse(try readFile(vocabJSON), source: vocabJSON.path)
    var vocabulary: [String: Int] = [:]
    for (token, value) in try vocabNode.object() {
      vocabulary[token] = try JSONNode(value: value, path: token, source: vocabJSON.path).index()
    }
    guard let text = String(data: try readFile(mergesTXT), encoding: .utf8) else {
      throw TokenizerError(.malformedJSON, source: mergesTXT.path, "not UTF-8 text")
    }
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    if lines.last == "" { lines.removeLast() }
    var merges: [(String, String)] = []
    var lineNumbers: [Int] = []
    for (index, rawLine) in lines.enumerated() {
      let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
      if line.hasPrefix("#version") { continue }
      let parts = line.split(separator: " ", omittingEmptySubsequences: false)
      guard parts.count == 2 else {
        throw TokenizerError(
          .invalidValue, source: mergesTXT.path, key: "line \(index + 1)",
          "\(String(line).debugDescription) is not two tokens separated by a space")
      }
      merges.append((String(parts[0]), String(parts[1])))
      lineNumbers.append(index + 1)
    }
    let model = try BPEModel(
      vocabulary: vocabulary, merges: merges, unknownToken: nil, fuseUnknown: false, ignoreMerges: false,
      source: mergesTXT.path, vocabularyKey: vocabJSON.lastPathComponent,
      mergeKey: { "line \(lineNumbers[$0])" })
    let endOfText = "<|endoftext|>"
    let specials = specialTokens ?? (vocabulary[endOfText] != nil ? [endOfText] : [])
    let added = try specials.map { content in
      guard let id = vocabulary[content] else {
        throw TokenizerError(
          .unknownToken, source: vocabJSON.path, key: content, "special token is not in the vocabulary")
      }
      return AddedToken(id: id, content: content)
    }
    let hasEndOfText = vocabulary[endOfText] != nil
    try self.init(
      model: model, normalizer: nil,
      preTokenizer: SequencePreTokenizer(stages: [
        ByteLevelPreTokenizer(addPrefixSpace: addPrefixSpace, useRegex: true)
      ]), addedTokens: added, postProcessor: PostProcessor(), bosToken: hasEndOfText ? endOfText : nil,
      eosToken: hasEndOfText ? endOfText : nil, source: vocabJSON.path)
  }

  /// Loads the tokenizer of a Hugging Face model directory: tokenizer.json if present, else
  /// vocab.json + merges.txt; BOS and EOS names come from tokenizer_config.json when it exists.
  public convenience init(directory: URL) throws {
    let fileManager = FileManager.default
    let config = directory.appendingPathComponent("tokenizer_config.json")
    var bos: String?
    var eos: String?
    if fileManager.fileExists(atPath: config.path) {
      let node = try JSONNode.parse(try readFile(config), source: config.path)
      func name(_ key: String) throws -> String? {
        let child = node[key]
        if child.isNull { return nil }
        if child.value is String { return try child.stringValue() }
        return try child.optionalString("content")
      }
      bos = try name("bos_token")
      eos = try name("eos_token")
    }
    let json = directory.appendingPathComponent("tokenizer.json")
    if fileManager.fileExists(atPath: json.path) {
      try self.init(tokenizerJSON: json, bosToken: bos, eosToken: eos)
      return
    }
    let vocab = directory.appendingPathComponent("vocab.json")
    let merges = directory.appendingPathComponent("merges.txt")
    guard fileManager.fileExists(atPath: vocab.path), fileManager.fileExists(atPath: merges.path) else {
      throw TokenizerError(
        .unreadableFile, source: directory.path, "no tokenizer.json, and no vocab.json + merges.txt",
        hint: "point at a Hugging Face model directory")
    }
    try self.init(vocabJSON: vocab, mergesTXT: merges)
  }

  /// The shared last step of the loaders: resolves the BOS/EOS names and assembles the tokenizer.
  convenience init(
    model: BPEModel, normalizer: (any Normalizer)?, preTokenizer: SequencePreTokenizer,
    addedTokens: [AddedToken], postProcessor: PostProcessor, bosToken: String?, eosToken: String?,
    source: String
  ) throws {
    func id(_ name: String?, key: String) throws -> Int? {
      guard let name else { return nil }
      let bytes = ByteString(bytes: Array(name.utf8))
      guard let id = addedTokens.first(where: { $0.content == name })?.id ?? model.vocabulary[bytes] else {
        throw TokenizerError(
          .unknownToken, source: source, key: key, "\(name.debugDescription) is not a token")
      }
      return id
    }
    // GPT-2's convention when nothing else says: "<|endoftext|>" begins and ends a text.
    let endOfText = addedTokens.first { $0.special && $0.content == "<|endoftext|>" }?.id
    let idLimit = max(model.tokensByID.count, (addedTokens.map(\.id).max() ?? -1) + 1)
    if let bad = (postProcessor.prefix + postProcessor.suffix).first(where: { $0 >= idLimit }) {
      throw TokenizerError(
        .invalidValue, source: source, key: "post_processor",
        "the template adds token id \(bad), beyond the \(idLimit) tokens")
    }
    let bos = try id(bosToken, key: "bos_token") ?? postProcessor.prefix.first ?? endOfText
    let eos = try id(eosToken, key: "eos_token") ?? postProcessor.suffix.last ?? endOfText
    self.init(
      model: model, normalizer: normalizer, preTokenizer: preTokenizer, addedTokens: addedTokens,
      postProcessor: postProcessor, bosTokenID: bos, eosTokenID: eos)
  }
}

/// The options of `tokenizers`' BPE that this module does not implement, rejected with a clear error.
private func rejectUnsupportedOptions(_ model: JSONNode) throws {
  if try model.bool("byte_fallback", default: false) {
    throw model["byte_fallback"].error(
      .unsupported, "byte_fallback is for SentencePiece-style BPE", hint: "only byte-level BPE is supported")
  }
  let dropout = model["dropout"]
  if !dropout.isNull, (dropout.value as? NSNumber)?.doubleValue != 0 {
    throw dropout.error(.unsupported, "BPE dropout", hint: "set dropout to null for inference")
  }
  for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
    if let value = try model.optionalString(key), !value.isEmpty {
      throw model[key].error(.unsupported, "\(value.debugDescription)", hint: "byte-level BPE uses neither")
    }
  }
}

/// The contents of `url`, or an error naming it.
func readFile(_ url: URL) throws -> Data {
  do {
    return try Data(contentsOf: url)
  } catch {
    throw TokenizerError(
      .unreadableFile, source: url.path, "cannot read: \(error.localizedDescription)",
      hint: "check the path")
  }
}
