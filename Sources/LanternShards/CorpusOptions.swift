// What a corpus file is and how its documents are cut out: formats by file extension, and the
// options of the corpus readers (text field, .txt document unit, .bin dtype, token documents,
// limits, skipping bad records).
//
// Formats (by extension, case-insensitive):
//   .txt, .txt.gz       text: one document per line (default) or per file
//   .jsonl, .jsonl.gz   JSON lines: one object per non-blank line, text in `textField`
//   .npy                tokens: a 1-D or 2-D array of '<u2', '<i4', '<u4' or '<i8' ids
//   .bin                tokens: raw little-endian uint16 (nanoGPT) or uint32 ids, no header
// A corpus holds text files or token files, never both.

/// The format of one corpus file.
public enum CorpusFormat: String, Codable, CaseIterable, Hashable, Sendable {
  /// Plain UTF-8 text.
  case text
  /// JSON lines with a text field.
  case jsonLines
  /// A NumPy .npy array of token ids.
  case numpy
  /// Raw little-endian token ids (nanoGPT's train.bin).
  case binary

  /// Whether the file holds token ids (and bypasses the tokenizer).
  public var isTokenized: Bool { self == .numpy || self == .binary }

  /// The format and gzip flag a file name's extension announces, or nil if none.
  public static func detect(fileName: String) -> (format: CorpusFormat, gzip: Bool)? {
    var name = fileName.lowercased()
    var gzip = false
    if name.hasSuffix(".gz") {
      gzip = true
      name.removeLast(3)
    }
    let format: CorpusFormat
    if name.hasSuffix(".txt") {
      format = .text
    } else if name.hasSuffix(".jsonl") {
      format = .jsonLines
    } else if name.hasSuffix(".npy") && !gzip {
      format = .numpy
    } else if name.hasSuffix(".bin") && !gzip {
      format = .binary
    } else {
      return nil
    }
    return (format, gzip)
  }
}

/// What one document of a .txt file is.
public enum TextDocumentUnit: String, Codable, Hashable, Sendable {
  /// Every line is a document (empty lines are empty documents; a trailing '\r' is dropped).
  case line
  /// The whole file is one document.
  case file
}

/// The integer type of a raw .bin token file.
public enum BinaryTokenType: String, Codable, Hashable, Sendable {
  /// Little-endian UInt16, as nanoGPT's prepare.py writes (vocabularies below 65,536).
  case uint16
  /// Little-endian UInt32.
  case uint32

  /// Bytes per token.
  public var byteCount: Int { self == .uint16 ? 2 : 4 }
}

/// How a flat token stream (a .bin file, a 1-D .npy array) is cut into documents.
/// The rows of a 2-D .npy array are always one document each.
public enum TokenDocumentSplit: Codable, Hashable, Sendable {
  /// The whole file is one document (at most `maxDocumentTokens` long).
  case wholeFile
  /// Documents are the runs between occurrences of this token, which belongs to no document
  /// (nanoGPT ends every document with EOT: split on it and let the window separator put it back).
  /// Empty runs (two delimiters in a row) are empty documents.
  case delimiter(Int)
  /// Consecutive pieces of this many tokens (the last one may be shorter).
  case fixedLength(Int)
}

/// Options of the corpus readers. The defaults read `{"text": ...}` JSON lines and one
/// document per line of text.
public struct CorpusOptions: Codable, Hashable, Sendable {
  /// What a .txt document is.
  public var textDocuments: TextDocumentUnit
  /// The key of the document text in each JSON line.
  public var textField: String
  /// The dtype of .bin files.
  public var binaryTokenType: BinaryTokenType
  /// How flat token streams are cut into documents.
  public var tokenDocuments: TokenDocumentSplit
  /// Token ids must be below this (model vocabulary); checked in token files and in the
  /// planner on the tokenizer's output. Nil checks only that ids are non-negative Int32s.
  public var vocabularySize: Int?
  /// Count malformed records (see `BadRecordReason`) and go on instead of throwing.
  public var skipBadRecords: Bool
  /// A line, or a whole-file .txt document, longer than this is a bad record (`tooLarge`).
  public var maxRecordBytes: Int
  /// A token document longer than this is a bad record (`tooLarge`).
  public var maxDocumentTokens: Int

  public init(
    textDocuments: TextDocumentUnit = .line, textField: String = "text",
    binaryTokenType: BinaryTokenType = .uint16, tokenDocuments: TokenDocumentSplit = .wholeFile,
    vocabularySize: Int? = nil, skipBadRecords: Bool = false, maxRecordBytes: Int = 64 << 20,
    maxDocumentTokens: Int = 16 << 20
  ) {
    self.textDocuments = textDocuments
    self.textField = textField
    self.binaryTokenType = binaryTokenType
    self.tokenDocuments = tokenDocuments
    self.vocabularySize = vocabularySize
    self.skipBadRecords = skipBadRecords
    self.maxRecordBytes = maxRecordBytes
    self.maxDocumentTokens = maxDocumentTokens
  }

  /// Throws `invalidSettings` for values no corpus can be read with.
  func validate() throws {
    if maxRecordBytes < 1 || maxDocumentTokens < 1 {
      throw CorpusError.invalidSettings(
        reason:
          "maxRecordBytes (\(maxRecordBytes)) and maxDocumentTokens (\(maxDocumentTokens)) must be positive",
        hint: "use the defaults (64 MiB, 16 Mi tokens) or larger")
    }
    if let v = vocabularySize, v < 1 || v > Int(Int32.max) {
      throw CorpusError.invalidSettings(
        reason: "vocabularySize \(v) is outside 1...\(Int32.max)", hint: "pass the model's d_vocab")
    }
    switch tokenDocuments {
    case .wholeFile: break
    case .delimiter(let id):
      if id < 0 || id > Int(Int32.max) {
        throw CorpusError.invalidSettings(
          reason: "the document delimiter token \(id) is not a token id", hint: "pass e.g. the EOT id")
      }
    case .fixedLength(let n):
      if n < 1 {
        throw CorpusError.invalidSettings(
          reason: "fixed-length token documents need a positive length, not \(n)", hint: "pass e.g. 1024")
      }
    }
  }
}
