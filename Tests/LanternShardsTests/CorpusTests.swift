// Corpus readers on committed fixtures (Scripts/fixtures/make_window_fixtures.py): every format
// against what Python read back from the same files, directory order, resuming at a location.

import Foundation
import LanternTestSupport
import Testing

@testable import LanternShards

/// Tests/Fixtures/corpus/expected.json, as Python wrote it.
struct CorpusExpectations: Decodable {
  struct Document: Decodable {
    var text: String
    var line: Int
    var offset: Int64
  }
  struct BadRecordExpectation: Decodable {
    var reason: String
    var line: Int
    var offset: Int64
  }
  struct Tree: Decodable {
    var files: [String]
    var ignored: [String]
  }
  struct Tokens: Decodable {
    var stream: [Int32]
    var rows: [[Int32]]
    var delimiter: Int
    var delimited: [[Int32]]
    var fixed10: [[Int32]]
    var npyDataOffset: Int64
    var rowsDataOffset: Int64
    var bad_range_offset: Int64
  }
  struct Mixed: Decodable {
    var documents: Int
    var counts: [String: Int]
  }

  var documents: [String: [Document]]
  var bad_records: [String: BadRecordExpectation]
  var tree: Tree
  var tokens: Tokens
  var bad_mixed: Mixed

  static let shared: CorpusExpectations = {
    let data = try! Data(contentsOf: Fixtures.url("corpus/expected.json"))
    let object = try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    var docs: [String: Any] = [:]
    for (key, value) in object where key.contains(".") { docs[key] = value }
    var rest = object.filter { !$0.key.contains(".") }
    rest["documents"] = docs
    return try! JSONDecoder().decode(
      CorpusExpectations.self, from: JSONSerialization.data(withJSONObject: rest))
  }()
}

/// All documents of the corpus at `relative` (under Tests/Fixtures/corpus).
func readAll(
  _ relative: String, _ options: CorpusOptions = CorpusOptions(), bufferSize: Int? = nil
) throws -> [CorpusDocument] {
  var corpus = try Corpus(url: Fixtures.url("corpus/" + relative), options: options)
  if let bufferSize { corpus.bufferSize = bufferSize }
  let reader = try corpus.documents()
  var documents: [CorpusDocument] = []
  while let document = try reader.next() { documents.append(document) }
  return documents
}

func text(_ document: CorpusDocument) -> String? {
  if case .text(let text) = document.content { return text }
  return nil
}

func tokens(_ document: CorpusDocument) -> [Int32]? {
  if case .tokens(let ids) = document.content { return ids }
  return nil
}

@Suite struct CorpusTests {
  let expected = CorpusExpectations.shared

  func check(_ relative: String, against key: String, _ options: CorpusOptions = CorpusOptions()) throws {
    let documents = try readAll(relative, options)
    let want = try #require(expected.documents[key])
    #expect(documents.count == want.count, "\(relative)")
    for (i, (got, reference)) in zip(documents, want).enumerated() {
      #expect(got.id == i)
      #expect(text(got) == reference.text, "\(relative) document \(i)")
      #expect(got.location.line == reference.line, "\(relative) document \(i)")
      #expect(got.location.byteOffset == reference.offset, "\(relative) document \(i)")
      #expect(got.location.file == 0)
    }
  }

  @Test func textLines() throws {
    try check("text/lines.txt", against: "text/lines.txt")
    let documents = try readAll("text/lines.txt")
    #expect(text(documents[1]) == "")  // the empty line is a document
    #expect(text(documents[2])?.hasSuffix("one") == true)  // '\r' dropped
  }

  @Test func textWholeFile() throws {
    try check("text/whole.txt", against: "text/whole.txt", CorpusOptions(textDocuments: .file))
  }

  @Test func jsonLinesPlainAndGzip() throws {
    try check("jsonl/docs.jsonl", against: "jsonl/docs.jsonl")
    try check("jsonl/docs.jsonl.gz", against: "jsonl/docs.jsonl")
  }

  @Test func gzipMultipleMembersAndPadding() throws {
    try check("jsonl/multi.jsonl.gz", against: "jsonl/multi.jsonl.gz")
  }

  @Test func textFieldOption() throws {
    let documents = try readAll("jsonl/docs.jsonl", CorpusOptions(textField: "missing", skipBadRecords: true))
    #expect(documents.isEmpty)
    let reader = try Corpus(
      url: Fixtures.url("corpus/jsonl/docs.jsonl"),
      options: CorpusOptions(textField: "id", skipBadRecords: true)
    ).documents()
    #expect(try reader.next() == nil)
    #expect(reader.skipped.count(.nonStringField) == 1)  // {"id": 1}
    #expect(reader.skipped.count(.missingField) == 3)
  }

  @Test func directoryOrder() throws {
    let corpus = try Corpus(url: Fixtures.url("corpus/tree"))
    #expect(corpus.files.map(\.path) == expected.tree.files)
    #expect(corpus.ignoredFiles == expected.tree.ignored)
    let documents = try readAll("tree")
    #expect(documents.map { text($0) ?? "" } == ["A upper", "a-b", "a/10", "a/9", "a/b/c", "a/z", "b"])
    #expect(documents.map(\.location.file) == Array(0..<7))
    #expect(documents.map(\.id) == Array(0..<7))
    #expect(corpus.describe(documents[4].location) == "a/b/c.txt:1")
  }

  @Test func resumeAtLocation() throws {
    for relative in ["tree", "jsonl/docs.jsonl.gz", "jsonl/multi.jsonl.gz", "text/lines.txt"] {
      let corpus = try Corpus(url: Fixtures.url("corpus/" + relative))
      let all = try readAll(relative)
      for start in all.indices {
        let reader = try corpus.documents(from: all[start].location, firstDocumentID: start)
        var rest: [CorpusDocument] = []
        while let document = try reader.next() { rest.append(document) }
        #expect(rest == Array(all[start...]), "\(relative) from document \(start)")
      }
    }
  }

  @Test func tokenFilesWholeFile() throws {
    let stream = expected.tokens.stream
    for relative in ["tokens/stream-u2.npy", "tokens/stream-u16.bin"] {
      let documents = try readAll(relative)
      #expect(documents.count == 1)
      #expect(tokens(documents[0]) == stream, "\(relative)")
    }
    let u32 = try readAll("tokens/stream-u32.bin", CorpusOptions(binaryTokenType: .uint32))
    #expect(u32.map { tokens($0)! } == [stream])
    let i8 = try readAll("tokens/list-i8.npy")
    #expect(i8.map { tokens($0)! } == [Array(stream.prefix(9))])
    #expect(try readAll("tokens/stream-u2.npy")[0].location.byteOffset == expected.tokens.npyDataOffset)
  }

  @Test func tokenFilesDelimitedAndFixed() throws {
    let delimiter = CorpusOptions(tokenDocuments: .delimiter(expected.tokens.delimiter))
    for relative in ["tokens/stream-u2.npy", "tokens/stream-u16.bin"] {
      let documents = try readAll(relative, delimiter)
      #expect(documents.map { tokens($0)! } == expected.tokens.delimited, "\(relative)")
      let base = relative.hasSuffix(".npy") ? expected.tokens.npyDataOffset : 0
      #expect(documents.map(\.location.byteOffset) == [0, 6, 7, 21].map { base + 2 * $0 })
      #expect(documents.allSatisfy { $0.location.line == nil })
    }
    let fixed = try readAll("tokens/stream-u16.bin", CorpusOptions(tokenDocuments: .fixedLength(10)))
    #expect(fixed.map { tokens($0)! } == expected.tokens.fixed10)
  }

  @Test func tokenRows() throws {
    let documents = try readAll("tokens/rows-i4.npy", CorpusOptions(tokenDocuments: .fixedLength(2)))
    #expect(documents.map { tokens($0)! } == expected.tokens.rows)  // rows win over the split
    let offsets = documents.map(\.location.byteOffset)
    #expect(offsets == (0..<4).map { expected.tokens.rowsDataOffset + Int64($0 * 24) })
    let corpus = try Corpus(url: Fixtures.url("corpus/tokens/rows-i4.npy"))
    let reader = try corpus.documents(from: documents[2].location, firstDocumentID: 2)
    #expect(try reader.next() == documents[2])
    #expect(try reader.next() == documents[3])
    #expect(try reader.next() == nil)
  }

  @Test func tinyBuffersReadTheSame() throws {
    // Buffers of a few bytes put every line, gzip block and token across buffer boundaries.
    let cases: [(String, CorpusOptions)] = [
      ("text/lines.txt", CorpusOptions()), ("text/whole.txt", CorpusOptions(textDocuments: .file)),
      ("jsonl/docs.jsonl.gz", CorpusOptions()), ("jsonl/multi.jsonl.gz", CorpusOptions()),
      ("tree", CorpusOptions()),
      ("tokens/stream-u2.npy", CorpusOptions(tokenDocuments: .delimiter(999))),
      ("tokens/stream-u32.bin", CorpusOptions(binaryTokenType: .uint32, tokenDocuments: .fixedLength(7))),
      ("tokens/rows-i4.npy", CorpusOptions()), ("tokens/list-i8.npy", CorpusOptions()),
      ("jsonl/docs.jsonl", CorpusOptions(skipBadRecords: true, maxRecordBytes: 64)),
    ]
    for (relative, options) in cases {
      let reference = try readAll(relative, options)
      #expect(!reference.isEmpty)
      for size in [1, 2, 3, 7, 64] {
        #expect(try readAll(relative, options, bufferSize: size) == reference, "\(relative), buffer \(size)")
      }
    }
  }
}
