// Context windows against SAELens' own `concat_and_batch_sequences` (goldens in
// Tests/Fixtures/corpus/windows.json), provenance of every position, the read-time filter.

import Foundation
import LanternTestSupport
import Testing

@testable import LanternShards

/// Tests/Fixtures/corpus/windows.json.
struct WindowGoldens: Decodable {
  struct Case: Decodable {
    var sequences: String
    var contextSize: Int
    var beginBatchToken: Int?
    var beginSequenceToken: Int?
    var sequenceSeparatorToken: Int?
    var disableConcatSequences: Bool
    var windows: [[Int32]]

    var settings: WindowSettings {
      WindowSettings(
        contextSize: contextSize, beginBatchToken: beginBatchToken, beginSequenceToken: beginSequenceToken,
        sequenceSeparatorToken: sequenceSeparatorToken, concatenateSequences: !disableConcatSequences)
    }
  }
  var saeLensVersion: String
  var sequences: [String: [[Int32]]]
  var cases: [Case]

  static let shared: WindowGoldens = try! JSONDecoder().decode(
    WindowGoldens.self, from: Data(contentsOf: Fixtures.url("corpus/windows.json")))
}

@Suite struct WindowTests {
  let goldens = WindowGoldens.shared

  func documents(_ name: String) -> [(id: Int, tokens: [Int32])] {
    goldens.sequences[name]!.enumerated().map { (id: 100 + $0.offset, tokens: $0.element) }
  }

  @Test func matchesSAELens() throws {
    #expect(goldens.cases.count > 300)
    for golden in goldens.cases {
      let windows = try WindowPacker.windows(of: documents(golden.sequences), settings: golden.settings)
      #expect(windows.map(\.tokens) == golden.windows, "\(golden.settings) on \(golden.sequences)")
    }
  }

  @Test func everyPositionTracesBackToItsToken() throws {
    for golden in goldens.cases {
      let docs = documents(golden.sequences)
      let byID = Dictionary(uniqueKeysWithValues: docs.map { ($0.id, $0.tokens) })
      let settings = golden.settings
      var seen = Set<[Int]>()
      var lastDocument = Int.min
      for window in try WindowPacker.windows(of: docs, settings: settings) {
        #expect(window.tokens.count == settings.contextSize)
        #expect(window.spans.reduce(0) { $0 + $1.count } == settings.contextSize)
        let ids = window.documentIDs
        let offsets = window.documentOffsets
        for p in 0..<window.tokens.count {
          let origin = window.origin(at: p)
          #expect(origin.document == ids[p] && origin.offset == offsets[p])
          #expect(origin.document >= lastDocument, "document ids never go back")
          lastDocument = origin.document
          switch origin.kind {
          case .document:
            #expect(window.tokens[p] == byID[origin.document]![origin.offset])
            #expect(seen.insert([origin.document, origin.offset]).inserted, "a document token appears once")
          case .beginBatch:
            #expect(p == 0 || !settings.concatenateSequences)
            #expect(Int(window.tokens[p]) == settings.beginBatchToken ?? settings.beginSequenceToken)
          case .beginSequence:
            #expect(Int(window.tokens[p]) == settings.beginSequenceToken)
          case .separator:
            #expect(Int(window.tokens[p]) == settings.sequenceSeparatorToken)
          }
          if origin.kind != .document {
            #expect(origin.offset == -1)
            // An inserted token belongs to the document it introduces.
            if let next = (p..<window.tokens.count).first(where: { window.origin(at: $0).kind == .document })
            {
              #expect(ids[next] == origin.document)
            }
          }
        }
      }
    }
  }

  @Test func provenanceByHand() throws {
    // C = 5, BOS 1, separator 2: [1 10 11 12 | 2] then [1 13 14 15] is partial and dropped.
    let settings = WindowSettings(contextSize: 5, beginBatchToken: 1, sequenceSeparatorToken: 2)
    let windows = try WindowPacker.windows(of: [(7, [10, 11, 12]), (8, [13, 14, 15])], settings: settings)
    #expect(windows.count == 1)
    let window = try #require(windows.first)
    #expect(window.tokens == [1, 10, 11, 12, 2])
    #expect(window.documentIDs == [7, 7, 7, 7, 8])
    #expect(window.documentOffsets == [-1, 0, 1, 2, -1])
    #expect(window.origin(at: 4) == TokenOrigin(kind: .separator, document: 8, offset: -1))
    #expect(window.documents == [7])
    // A long document continues in the next window behind a fresh BOS.
    let long = try WindowPacker.windows(of: [(3, Array(20..<29))], settings: settings)
    #expect(long.map(\.tokens) == [[1, 20, 21, 22, 23], [1, 24, 25, 26, 27]])
    #expect(
      long[1].spans == [
        WindowSpan(kind: .beginBatch, document: 3, offset: -1, count: 1),
        WindowSpan(kind: .document, document: 3, offset: 4, count: 4),
      ])
  }

  @Test func oneWindowPerDocumentDropsShortOnes() throws {
    let settings = WindowSettings(contextSize: 4, beginBatchToken: 1, concatenateSequences: false)
    let docs: [(id: Int, tokens: [Int32])] = [
      (0, [5, 6]), (1, [5, 6, 7]), (2, [1, 5, 6, 7, 8]), (3, []), (4, [1, 5]),
    ]
    let windows = try WindowPacker.windows(of: docs, settings: settings)
    #expect(windows.map(\.tokens) == [[1, 5, 6, 7], [1, 5, 6, 7]])
    #expect(windows.map(\.documents) == [[1], [2]])
    #expect(windows[1].spans.count == 1)  // document 2 already starts with BOS: nothing inserted
  }

  @Test func packerCountsAndUnitRestart() throws {
    let settings = WindowSettings(contextSize: 4, beginBatchToken: 1, sequenceSeparatorToken: 2)
    var packer = try WindowPacker(settings: settings)
    var emitted: [Window] = []
    packer.add(document: 0, tokens: [5, 6, 7, 8, 9]) { emitted.append($0) }
    #expect(emitted.count == 1 && packer.windowCount == 1)
    #expect(packer.finish() == 2)  // [1 8 9] dropped: two document tokens
    packer.add(document: 1, tokens: [5]) { emitted.append($0) }
    #expect(packer.finish() == 1)
    #expect(packer.documentTokensSeen == 6 && packer.documentTokensInWindows == 3)
  }

  @Test func settingsValidation() throws {
    #expect(throws: CorpusError.self) { try WindowPacker(settings: WindowSettings(contextSize: 0)) }
    #expect(throws: CorpusError.self) {
      try WindowPacker(settings: WindowSettings(contextSize: 1, beginBatchToken: 1))
    }
    #expect(throws: CorpusError.self) {
      try WindowPacker(settings: WindowSettings(contextSize: 8, sequenceSeparatorToken: -3))
    }
    _ = try WindowPacker(
      settings: WindowSettings(contextSize: 1, beginBatchToken: 1, concatenateSequences: false))
    let store = WindowSettings.activationsStore(
      contextSize: 128, prependBOS: true, bosToken: 50256, sequenceSeparatorToken: 50256)
    #expect(store == WindowSettings(contextSize: 128, beginBatchToken: 50256, sequenceSeparatorToken: 50256))
    let noBOS = WindowSettings.activationsStore(
      contextSize: 64, prependBOS: false, bosToken: 1, sequenceSeparatorToken: nil,
      disableConcatSequences: true)
    #expect(noBOS == WindowSettings(contextSize: 64, concatenateSequences: false))
  }

  @Test func filterDropsByIDAndByProvenance() throws {
    let settings = WindowSettings(contextSize: 6, beginBatchToken: 1, sequenceSeparatorToken: 2)
    // Document 1 contains the BOS id itself; SAELens drops it by id, provenance keeps it.
    let windows = try WindowPacker.windows(of: [(0, [5, 6]), (1, [7, 1, 8, 9, 10])], settings: settings)
    let window = try #require(windows.first)
    #expect(window.tokens == [1, 5, 6, 2, 7, 1])
    let special = TokenFilter.saeLensSpecialTokens(bos: 1, eos: 2)
    #expect(special.keepMask(for: window) == [false, true, true, false, true, false])
    #expect(special.keepMask(tokens: window.tokens) == [false, true, true, false, true, false])
    #expect(special.keptPositions(in: window) == [1, 2, 4])
    let inserted = TokenFilter(excludeInsertedTokens: true)
    #expect(inserted.keepMask(for: window) == [false, true, true, false, true, true])
    #expect(TokenFilter.keepAll.keepMask(for: window).allSatisfy { $0 })
    let decoded = try JSONDecoder().decode(TokenFilter.self, from: JSONEncoder().encode(special))
    #expect(decoded == special && decoded.keeps(token: 5) && !decoded.keeps(token: 2))
    #expect(special.excludedTokenIDs == [1, 2])
  }
}
