// Malformed corpora: every bad record kind with its own error naming file and line (or byte
// offset), the counts of skip mode, and damaged files that are never skipped.

import Foundation
import LanternTestSupport
import Testing

@testable import LanternShards

/// The error reading all of `relative` throws, or nil.
func readError(_ relative: String, _ options: CorpusOptions = CorpusOptions()) -> CorpusError? {
  do {
    _ = try readAll(relative, options)
    return nil
  } catch let error as CorpusError {
    return error
  } catch {
    Issue.record("unexpected error type: \(error)")
    return nil
  }
}

@Suite struct CorpusBadRecordTests {
  let expected = CorpusExpectations.shared

  @Test func eachBadRecordHasItsOwnError() throws {
    #expect(expected.bad_records.count == 6)
    for (relative, want) in expected.bad_records.sorted(by: { $0.key < $1.key }) {
      let error = try #require(readError(relative), "\(relative) must fail")
      guard case .badRecord(let record) = error else {
        Issue.record("\(relative): \(error)")
        continue
      }
      #expect(record.reason.rawValue == want.reason, "\(relative)")
      #expect(record.path.hasSuffix("corpus/" + relative))
      #expect(record.line == want.line, "\(relative)")
      #expect(record.byteOffset == want.offset, "\(relative)")
      #expect(error.description.contains("\(relative):\(want.line)"))
      #expect(error.description.contains("---> HINT: " + record.reason.hint))
    }
  }

  @Test func skipModeCountsEachBadRecord() throws {
    for (relative, want) in expected.bad_records {
      let corpus = try Corpus(
        url: Fixtures.url("corpus/" + relative), options: CorpusOptions(skipBadRecords: true))
      let reader = try corpus.documents()
      let documents = try reader.next(100)
      let goodLines = relative.hasSuffix(".txt") ? 1 : 2
      #expect(documents.count == goodLines, "\(relative)")
      #expect(documents.map(\.id) == Array(0..<goodLines))
      #expect(reader.skipped.total == 1)
      #expect(reader.skipped.count(BadRecordReason(rawValue: want.reason)!) == 1, "\(relative)")
      #expect(reader.skipped.examples.count == 1)
    }
  }

  @Test func skipModeCountsPerReason() throws {
    let corpus = try Corpus(
      url: Fixtures.url("corpus/bad-mixed"), options: CorpusOptions(skipBadRecords: true))
    let reader = try corpus.documents()
    let documents = try reader.next(100)
    #expect(documents.count == expected.bad_mixed.documents)
    #expect(documents.map(\.location.line) == [1, 3, 9])
    #expect(reader.skipped.counts == expected.bad_mixed.counts)
    #expect(reader.skipped.examples.first?.contains("mixed.jsonl:2") == true)
    // Without skipping, the first bad line stops the read.
    guard case .badRecord(let record)? = readError("bad-mixed") else {
      Issue.record("bad-mixed must fail")
      return
    }
    #expect(record.line == 2 && record.reason == .invalidJSON)
  }

  @Test func damagedGzipIsNeverSkipped() throws {
    for name in ["truncated", "garbage-after", "not-gzip", "corrupt"] {
      let relative = "bad/\(name).jsonl.gz"
      for skip in [false, true] {
        let error = readError(relative, CorpusOptions(skipBadRecords: skip))
        guard case .corruptFile(let path, let offset, _, _)? = error else {
          Issue.record("\(relative): expected corruptFile, got \(String(describing: error))")
          continue
        }
        #expect(path.hasSuffix(relative))
        let size = try FileByteSource.size(path: path)
        #expect(offset >= 0 && offset <= size)
      }
    }
  }

  @Test func recordsOverTheSizeLimit() throws {
    let options = CorpusOptions(maxRecordBytes: 64)
    guard case .badRecord(let record)? = readError("jsonl/docs.jsonl", options) else {
      Issue.record("expected a tooLarge record")
      return
    }
    #expect(record.reason == .tooLarge && record.line == 2)
    var skipping = options
    skipping.skipBadRecords = true
    let documents = try readAll("jsonl/docs.jsonl", skipping)
    #expect(documents.map(\.location.line) == [1, 3, 5])
    let whole = CorpusOptions(textDocuments: .file, maxRecordBytes: 10)
    guard case .badRecord(let fileRecord)? = readError("text/whole.txt", whole) else {
      Issue.record("expected a tooLarge file")
      return
    }
    #expect(fileRecord.reason == .tooLarge)
  }

  @Test func tokenIdsOutOfRange() throws {
    let options = CorpusOptions(binaryTokenType: .uint32, vocabularySize: 50_000)
    guard case .badRecord(let record)? = readError("tokens/bad-range.bin", options) else {
      Issue.record("expected tokenOutOfRange")
      return
    }
    #expect(record.reason == .tokenOutOfRange)
    #expect(record.byteOffset == expected.tokens.bad_range_offset && record.line == nil)
    #expect(record.detail.contains("70000"))
    var pieces = options
    pieces.tokenDocuments = .fixedLength(2)
    pieces.skipBadRecords = true
    #expect(try readAll("tokens/bad-range.bin", pieces).map { tokens($0)! } == [[1, 2], [4]])
    #expect(try readAll("tokens/bad-range.bin", CorpusOptions(binaryTokenType: .uint32)).count == 1)
    guard case .badRecord(let negative)? = readError("tokens/bad-negative.npy") else {
      Issue.record("expected a negative id error")
      return
    }
    #expect(negative.reason == .tokenOutOfRange && negative.detail.contains("-1"))
  }

  @Test func tokenDocumentsOverTheLimit() throws {
    guard
      case .badRecord(let record)? = readError("tokens/stream-u16.bin", CorpusOptions(maxDocumentTokens: 10))
    else {
      Issue.record("expected tooLarge")
      return
    }
    #expect(record.reason == .tooLarge && record.byteOffset == 0)
    let options = CorpusOptions(
      tokenDocuments: .delimiter(expected.tokens.delimiter), skipBadRecords: true, maxDocumentTokens: 5)
    let reader = try Corpus(url: Fixtures.url("corpus/tokens/stream-u16.bin"), options: options).documents()
    #expect(try reader.next(10).map { tokens($0)! } == Array(expected.tokens.delimited.prefix(2)))
    #expect(reader.skipped.count(.tooLarge) == 2)
  }

  @Test func damagedTokenFiles() throws {
    for name in ["bad-odd-size.bin", "bad-float.npy", "bad-fortran.npy", "bad-3d.npy", "bad-truncated.npy"] {
      let error = readError("tokens/" + name, CorpusOptions(skipBadRecords: true))
      guard case .corruptFile(let path, _, let reason, _)? = error else {
        Issue.record("\(name): expected corruptFile, got \(String(describing: error))")
        continue
      }
      #expect(path.hasSuffix(name), "\(reason)")
    }
  }

  @Test func corpusLevelErrors() throws {
    #expect(throws: CorpusError.self) { try Corpus(url: Fixtures.url("corpus/no-such-dir")) }
    guard case .unsupportedFile? = catchError({ try Corpus(url: Fixtures.url("corpus/tree/README.md")) })
    else {
      Issue.record("expected unsupportedFile for a .md file")
      return
    }
    let directory = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    guard case .unsupportedFile? = catchError({ try Corpus(url: directory) }) else {
      Issue.record("expected unsupportedFile for an empty directory")
      return
    }
    try Data("x\n".utf8).write(to: directory.appendingPathComponent("a.txt"))
    try Data([1, 0]).write(to: directory.appendingPathComponent("b.bin"))
    guard case .unsupportedFile(_, let reason, _)? = catchError({ try Corpus(url: directory) }) else {
      Issue.record("expected unsupportedFile for a mixed corpus")
      return
    }
    #expect(reason.contains("mixes"))
    guard
      case .invalidSettings? = catchError({
        try Corpus(url: directory, options: CorpusOptions(maxRecordBytes: 0))
      })
    else {
      Issue.record("expected invalidSettings")
      return
    }
  }
}

/// The CorpusError `body` throws, or nil.
func catchError(_ body: () throws -> Any) -> CorpusError? {
  do {
    _ = try body()
    return nil
  } catch {
    return error as? CorpusError
  }
}
