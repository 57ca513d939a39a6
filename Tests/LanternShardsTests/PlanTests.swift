// The plan: units and windows against the golden of make_window_fixtures.py (SAELens' function
// per unit), determinism across thread counts and batch sizes, the token budget, rebuilding a
// unit alone, JSON and hash, a changed corpus, token corpora, bad records while planning.

import Foundation
import LanternTensor
import LanternTestSupport
import Testing

@testable import LanternShards

/// Tests/Fixtures/corpus/plan.json.
struct PlanGolden: Decodable {
  struct Unit: Decodable {
    var firstDocument: Int
    var documentCount: Int
    var windows: [[Int32]]
    var truncated: Bool
  }
  struct Case: Decodable {
    var contextSize: Int
    var beginBatchToken: Int?
    var sequenceSeparatorToken: Int?
    var disableConcatSequences: Bool
    var windowsPerUnit: Int
    var maxTokens: Int?
    var units: [Unit]

    var settings: PlanSettings {
      PlanSettings(
        windows: WindowSettings(
          contextSize: contextSize, beginBatchToken: beginBatchToken,
          sequenceSeparatorToken: sequenceSeparatorToken,
          concatenateSequences: !disableConcatSequences),
        windowsPerUnit: windowsPerUnit, maxTokens: maxTokens)
    }
  }
  var documents: [String]
  var cases: [Case]

  static let shared: PlanGolden = try! JSONDecoder().decode(
    PlanGolden.self, from: Data(contentsOf: Fixtures.url("corpus/plan.json")))
}

/// The fixtures' tokenizer: UTF-8 bytes + 3 (ids 0, 1, 2 are free for special tokens).
let byteTokenizer = PlanTokenizer(fingerprint: "utf8+3") { text in text.utf8.map { Int($0) + 3 } }

func makePlanner(
  _ settings: PlanSettings, corpus relative: String = "plan", options: CorpusOptions = CorpusOptions(),
  tokenizer: PlanTokenizer? = byteTokenizer, pool: ThreadPool? = nil, batch: Int = 512
) throws -> CorpusPlanner {
  try CorpusPlanner(
    corpus: Corpus(url: Fixtures.url("corpus/" + relative), options: options), settings: settings,
    tokenizer: tokenizer, pool: pool, batchDocuments: batch, batchBytes: batch == 4 ? 20 : 16 << 20)
}

@Suite struct PlanTests {
  let golden = PlanGolden.shared

  @Test func unitsAndWindowsMatchTheGolden() throws {
    for reference in golden.cases {
      let planner = try makePlanner(reference.settings)
      let plan = try planner.makePlan()
      #expect(plan.units.count == reference.units.count, "\(reference.settings)")
      var firstWindow = 0
      for (unit, want) in zip(plan.units, reference.units) {
        #expect(unit.firstDocument == want.firstDocument && unit.documentCount == want.documentCount)
        #expect(unit.windowCount == want.windows.count && unit.truncated == want.truncated)
        #expect(
          unit.firstWindow == firstWindow && unit.tokenCount == unit.windowCount * reference.contextSize)
        #expect(
          try planner.windows(for: unit).map(\.tokens) == want.windows, "\(unit.id) of \(reference.settings)")
        firstWindow += unit.windowCount
      }
      #expect(plan.totals.windows == firstWindow && plan.totals.tokens == firstWindow * reference.contextSize)
      #expect(plan.totals.budgetReached == (reference.units.last?.truncated ?? false))
    }
  }

  @Test func sameInputSamePlanForAnyThreadCount() throws {
    let settings = golden.cases[0].settings
    let reference = try makePlanner(settings).makePlan()
    #expect(
      reference.contentHash == (try reference.computeContentHash()) && reference.contentHash.count == 64)
    for threads in [1, 2, 3] {
      let pool = ThreadPool(threadCount: threads)
      for batch in [1, 4, 512] {
        let plan = try makePlanner(settings, pool: pool, batch: batch).makePlan()
        #expect(plan == reference, "threads \(threads), batch \(batch)")
        #expect(try plan.jsonData() == reference.jsonData())
      }
    }
    let other = try makePlanner(golden.cases[2].settings).makePlan()
    #expect(other.contentHash != reference.contentHash)
  }

  @Test func tokenBudgetCutsExactly() throws {
    let base = golden.cases[0].settings
    let all = try makePlanner(base).makePlan()
    let c = base.windows.contextSize
    for maxTokens in [0, c - 1, c, 3 * c + 5, 11 * c, all.totals.tokens - 1, all.totals.tokens, 10_000] {
      var settings = base
      settings.maxTokens = maxTokens
      let p = try makePlanner(settings)
      let plan = try p.makePlan()
      let wanted = min(maxTokens / c, all.totals.windows)
      #expect(plan.totals.windows == wanted && plan.units.reduce(0) { $0 + $1.windowCount } == wanted)
      #expect(plan.totals.tokens <= maxTokens)
      #expect(plan.totals.budgetReached == (maxTokens / c <= all.totals.windows))
      #expect(plan.units.last?.truncated ?? true == plan.totals.budgetReached || maxTokens / c == 0)
      // The cut plan is a prefix of the full one; only its last unit may be shorter.
      for (unit, full) in zip(plan.units, all.units) {
        #expect(unit.firstDocument == full.firstDocument && unit.firstWindow == full.firstWindow)
        if unit.index < plan.units.count - 1 { #expect(unit == full) }
      }
      if let last = plan.units.last {
        let windows = try p.windows(for: last)
        #expect(windows.count == last.windowCount)
        let fullWindows = try makePlanner(base).windows(for: all.units[last.index])
        #expect(Array(fullWindows.prefix(last.windowCount)) == windows)
      }
    }
  }

  @Test func unitWindowsEqualAFreshRunOverTheUnit() throws {
    for reference in golden.cases {
      let planner = try makePlanner(reference.settings)
      let plan = try planner.makePlan()
      for unit in plan.units {
        let (windows, documents) = try planner.windowsAndDocuments(for: unit)
        #expect(documents.map(\.id) == Array(unit.documents))
        let fresh = try WindowPacker.windows(
          of: documents.map { (id: $0.id, tokens: text($0)!.utf8.map { Int32($0) + 3 }) },
          settings: reference.settings.windows)
        #expect(Array(fresh.prefix(unit.windowCount)) == windows)
        #expect(fresh.count >= unit.windowCount)
        if !unit.truncated && unit.index < plan.units.count - 1 {
          #expect(fresh.count == unit.windowCount && unit.windowCount >= reference.windowsPerUnit)
        }
        // Every position traces back to its text.
        for window in windows {
          for p in 0..<window.tokens.count where window.origin(at: p).kind == .document {
            let origin = window.origin(at: p)
            let text = golden.documents[origin.document]
            #expect(Int(window.tokens[p]) == Int(Array(text.utf8)[origin.offset]) + 3)
          }
        }
      }
    }
  }

  @Test func traceDocumentsAndUnits() throws {
    let planner = try makePlanner(golden.cases[0].settings)
    let plan = try planner.makePlan()
    #expect(plan.units.map(\.id).prefix(3) == ["u000000", "u000001", "u000002"])
    #expect(WorkUnit.id(index: 17) == "u000017" && WorkUnit.id(index: 1_234_567) == "u1234567")
    for unit in plan.units {
      #expect(plan.unit(id: unit.id) == unit)
      #expect(plan.unit(containingWindow: unit.firstWindow + unit.windowCount - 1) == unit)
      #expect(plan.unit(containingDocument: unit.firstDocument) == unit)
    }
    #expect(plan.unit(id: "u999999") == nil && plan.unit(containingWindow: plan.totals.windows) == nil)
    for id in [0, 5, 13, 14, 24] {
      let document = try planner.document(id, in: plan)
      #expect(document.id == id && text(document) == golden.documents[id])
    }
    // Document 14 is the first line of the second file.
    #expect(try planner.document(14, in: plan).location == CorpusLocation(file: 1, byteOffset: 0, line: 1))
  }

  @Test func jsonRoundTripAndTamperedPlans() throws {
    let plan = try makePlanner(golden.cases[1].settings).makePlan()
    let data = try plan.jsonData()
    #expect(try CorpusPlan.decode(data) == plan)
    var tampered = plan
    tampered.units[0].windowCount += 1
    guard case .invalidPlan? = catchError({ try CorpusPlan.decode(try tampered.jsonData()) }) else {
      Issue.record("a changed plan must fail its hash")
      return
    }
    var future = plan
    future.version = 2
    future.contentHash = try future.computeContentHash()
    guard case .invalidPlan? = catchError({ try CorpusPlan.decode(try future.jsonData()) }) else {
      Issue.record("another version must fail")
      return
    }
    #expect(catchError({ try CorpusPlan.decode(Data("{}".utf8)) }) != nil)
  }

  @Test func sha256KnownAnswers() {
    // FIPS 180-4 examples and hashlib.sha256 digests.
    #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(
      SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(
      SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
        == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    #expect(
      SHA256.hex([UInt8](repeating: 0x61, count: 1000))
        == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    let bytes = (0..<768).map { UInt8($0 % 256) }  // three 256-byte ramps, many blocks
    #expect(SHA256.hex(bytes) == "f3a25aa93aa2fbba28d79260535bbd6a5eb0fc1c24a8b0f04e12b484c1dfe363")
  }

  @Test func changedCorpusIsNoticed() throws {
    let directory = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let copy = directory.appendingPathComponent("plan")
    try FileManager.default.copyItem(at: Fixtures.url("corpus/plan"), to: copy)
    let settings = golden.cases[0].settings
    let make = { try CorpusPlanner(corpus: Corpus(url: copy), settings: settings, tokenizer: byteTokenizer) }
    let plan = try make().makePlan()
    try make().checkCompatible(with: plan)
    // Same size, one byte different: only the unit holding it fails its checksum.
    let file = copy.appendingPathComponent("part-0.txt")
    var bytes = try Data(contentsOf: file)
    let index = bytes.firstIndex(of: UInt8(ascii: "a"))!
    bytes[index] = UInt8(ascii: "b")
    try bytes.write(to: file)
    let changed = try make()
    try changed.checkCompatible(with: plan)
    guard case .unitMismatch? = catchError({ try changed.windows(for: plan.units[0]) }) else {
      Issue.record("a changed document must fail the unit's checksum")
      return
    }
    _ = try changed.windows(for: plan.units[plan.units.count - 1])
    // Another size, another tokenizer, other settings.
    try Data("one more line\n".utf8).write(to: copy.appendingPathComponent("part-2.txt"))
    guard case .corpusChanged? = catchError({ try make().checkCompatible(with: plan) }) else {
      Issue.record("a new file must be noticed")
      return
    }
    let original = try makePlanner(settings)
    let otherTokenizer = try makePlanner(
      settings, tokenizer: PlanTokenizer(fingerprint: "other", encode: byteTokenizer.encode))
    #expect(catchError({ try otherTokenizer.checkCompatible(with: try original.makePlan()) }) != nil)
    try original.checkCompatible(with: try original.makePlan())
  }

  @Test func gzipUnitsStartInsideTheStream() throws {
    let settings = PlanSettings(
      windows: WindowSettings(contextSize: 8, beginBatchToken: 1), windowsPerUnit: 2)
    let planner = try makePlanner(settings, corpus: "jsonl/multi.jsonl.gz")
    let plan = try planner.makePlan()
    #expect(plan.units.count > 2 && plan.units.last!.start.byteOffset > 0)
    for unit in plan.units { #expect(try planner.windows(for: unit).count == unit.windowCount) }
  }

  @Test func tokenCorpusPlans() throws {
    // One unit over the whole stream: its windows are those of the documents Python split.
    var settings = PlanSettings(
      windows: WindowSettings(contextSize: 4, beginBatchToken: 1, sequenceSeparatorToken: 999),
      windowsPerUnit: 1000)
    let options = CorpusOptions(tokenDocuments: .delimiter(999), vocabularySize: 1000)
    let whole = try makePlanner(settings, corpus: "tokens/stream-u16.bin", options: options, tokenizer: nil)
    let single = try whole.makePlan()
    let expected = CorpusExpectations.shared.tokens.delimited
    let fresh = try WindowPacker.windows(
      of: expected.enumerated().map { (id: $0.offset, tokens: $0.element) }, settings: settings.windows)
    #expect(single.units.count == 1 && single.tokenizer == "" && single.totals.documents == expected.count)
    #expect(try whole.windows(for: single.units[0]) == fresh)
    settings.windowsPerUnit = 2
    let planner = try makePlanner(settings, corpus: "tokens/stream-u16.bin", options: options, tokenizer: nil)
    let plan = try planner.makePlan()
    #expect(plan.units.count > 1)
    var rebuilt: [Window] = []
    for unit in plan.units { rebuilt += try planner.windows(for: unit) }
    #expect(rebuilt.count == plan.totals.windows)
    #expect(
      catchError({ try makePlanner(settings, corpus: "tokens/stream-u16.bin", options: options) }) != nil)
    #expect(catchError({ try makePlanner(settings, tokenizer: nil) }) != nil)
  }

  @Test func badRecordsWhilePlanning() throws {
    let settings = PlanSettings(
      windows: WindowSettings(contextSize: 4, beginBatchToken: 1), windowsPerUnit: 1)
    let failing = PlanTokenizer(fingerprint: "fails on 'beta'") { text in
      if text.contains("beta") { throw CocoaError(.featureUnsupported) }
      return text.utf8.map { Int($0) + 3 }
    }
    guard
      case .badRecord(let record)? = catchError({ try makePlanner(settings, tokenizer: failing).makePlan() })
    else {
      Issue.record("a tokenizer failure must name the document")
      return
    }
    #expect(record.reason == .tokenizerFailed && record.path.hasSuffix("part-0.txt") && record.line != nil)
    let skipping = try makePlanner(settings, options: CorpusOptions(skipBadRecords: true), tokenizer: failing)
    let plan = try skipping.makePlan()
    let failures = golden.documents.filter { $0.contains("beta") }.count
    #expect(failures > 0 && plan.skipped.count(.tokenizerFailed) == failures)
    #expect(plan.totals.documents == golden.documents.count)
    for unit in plan.units { #expect(try skipping.windows(for: unit).count == unit.windowCount) }
    let outOfRange = try makePlanner(
      settings, options: CorpusOptions(vocabularySize: 100, skipBadRecords: true))
    #expect(try outOfRange.makePlan().skipped.count(.tokenOutOfRange) > 0)
    let mixed = try makePlanner(settings, corpus: "bad-mixed", options: CorpusOptions(skipBadRecords: true))
    #expect(try mixed.makePlan().skipped.counts == CorpusExpectations.shared.bad_mixed.counts)
  }

  @Test func readingAheadNeverChangesThePlan() throws {
    // The budget ends at line 2; line 3 is bad. Whatever the batch size, the plan is the same,
    // and without a budget the bad line is an error.
    let directory = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let lines = [
      "{\"text\": \"abc\"}", "{\"text\": \"def\"}", "{oops", "{\"text\": 7}", "{\"text\": \"ghi\"}",
    ]
    try Data((lines.joined(separator: "\n") + "\n").utf8).write(
      to: directory.appendingPathComponent("c.jsonl"))
    let windows = WindowSettings(contextSize: 4, beginBatchToken: 1)
    let budget = PlanSettings(windows: windows, windowsPerUnit: 1, maxTokens: 8)
    for skip in [false, true] {
      let corpus = try Corpus(url: directory, options: CorpusOptions(skipBadRecords: skip))
      let plans = try [1, 2, 512].map {
        try CorpusPlanner(corpus: corpus, settings: budget, tokenizer: byteTokenizer, batchDocuments: $0)
          .makePlan()
      }
      #expect(plans[0].totals.windows == 2 && plans[0].totals.documents == 2 && plans[0].skipped.total == 0)
      #expect(plans[1] == plans[0] && plans[2] == plans[0])
    }
    let all = PlanSettings(windows: windows, windowsPerUnit: 1)
    let strict = try CorpusPlanner(corpus: Corpus(url: directory), settings: all, tokenizer: byteTokenizer)
    guard case .badRecord(let record)? = catchError({ try strict.makePlan() }) else {
      Issue.record("line 3 must fail without a budget")
      return
    }
    #expect(record.line == 3)
    let lenient = try CorpusPlanner(
      corpus: Corpus(url: directory, options: CorpusOptions(skipBadRecords: true)), settings: all,
      tokenizer: byteTokenizer, batchDocuments: 2)
    let plan = try lenient.makePlan()
    #expect(plan.totals.documents == 3 && plan.skipped.counts == ["invalidJSON": 1, "nonStringField": 1])
  }
}
