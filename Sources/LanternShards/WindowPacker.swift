// The window packer: documents in, context windows out, exactly as SAELens'
// `concat_and_batch_sequences` (sae_lens/tokenization_and_batching.py, checked against
// sae-lens 6.54 by Tests/Fixtures/corpus/windows.json), plus the provenance of every position.
//
// Packing (default), per document, while tokens are left (SAELens `_add_tokens_to_batch`):
//   prefix = []; first = the next token
//   at the document's start (or while a begin-sequence token is still owed, see below):
//     if begin_sequence is set and first != it: prefix = [begin_sequence], first = begin_sequence
//   if the window is empty: if begin_batch is set and first != it: prefix = [begin_batch] + prefix;
//     the window gets prefix[:C] and then C − |prefix| document tokens
//   else: if separator is set and first != it: prefix = [separator] + prefix;
//     the window gets prefix[:C − |window|] and then C − |window| − |prefix| document tokens
//   a begin-sequence token cut off by the window's end is owed to the next window
//   a full window is emitted; the partial last window is dropped (`finish`)
// Empty documents add nothing (no separator either).
//
// One window per document (SAELens `disable_concat_sequences=True`): begin_sequence defaults to
// begin_batch; a document of at least C − 1 tokens that does not start with it gets it prepended
// and is cut to C − 1 tokens; a result shorter than C is dropped, a longer one truncated to C.
// So short documents are DROPPED, never padded (as SAELens does), and empty ones are skipped.

/// Turns documents into context windows, one document at a time.
public struct WindowPacker: Sendable {
  /// The settings windows are built with.
  public let settings: WindowSettings
  private var tokens: [Int32] = []
  private var spans: [WindowSpan] = []
  /// Windows emitted so far.
  public private(set) var windowCount = 0
  /// Document tokens that ended up in emitted windows.
  public private(set) var documentTokensInWindows = 0
  /// Document tokens handed to `add`.
  public private(set) var documentTokensSeen = 0

  /// - Throws: `CorpusError.invalidSettings` if `settings` cannot work.
  public init(settings: WindowSettings) throws {
    try settings.validate()
    self.settings = settings
    tokens.reserveCapacity(settings.contextSize)
  }

  /// Adds document `id` (its token ids, without BOS) and calls `emit` for each window it completes.
  public mutating func add(document id: Int, tokens document: [Int32], emit: (Window) throws -> Void) rethrows
  {
    documentTokensSeen += document.count
    if settings.concatenateSequences {
      try pack(id, document, emit)
    } else {
      try single(id, document, emit)
    }
  }

  /// Drops the partial window, if any (SAELens never yields it), and returns its document tokens.
  @discardableResult
  public mutating func finish() -> Int {
    let dropped = spans.reduce(0) { $0 + ($1.kind == .document ? $1.count : 0) }
    tokens.removeAll(keepingCapacity: true)
    spans.removeAll()
    return dropped
  }

  /// All windows of `documents` (id, tokens) in order; the partial last window is dropped.
  public static func windows(
    of documents: [(id: Int, tokens: [Int32])], settings: WindowSettings
  ) throws -> [Window] {
    var packer = try WindowPacker(settings: settings)
    var result: [Window] = []
    for document in documents {
      packer.add(document: document.id, tokens: document.tokens) { result.append($0) }
    }
    return result
  }

  private mutating func pack(_ id: Int, _ document: [Int32], _ emit: (Window) throws -> Void) rethrows {
    let c = settings.contextSize
    let n = document.count
    var offset = 0
    var startPending = true
    while offset < n {
      var prefix: [(token: Int, kind: WindowSpan.Kind)] = []
      var owesBeginSequence = false
      var first = Int(document[offset])
      if startPending, let begin = settings.beginSequenceToken, first != begin {
        prefix.insert((begin, .beginSequence), at: 0)
        owesBeginSequence = true
        first = begin
      }
      if tokens.isEmpty {
        if let begin = settings.beginBatchToken, first != begin { prefix.insert((begin, .beginBatch), at: 0) }
      } else if let separator = settings.sequenceSeparatorToken, first != separator {
        prefix.insert((separator, .separator), at: 0)
      }
      let room = c - tokens.count
      let take = max(room - prefix.count, 0)
      for (token, kind) in prefix.prefix(room) { insert(token, kind, id) }
      startPending = owesBeginSequence && prefix.count > room
      let end = min(offset + take, n)
      append(document, offset..<end, id)
      offset += take
      if tokens.count == c { try flush(emit) }
    }
  }

  private mutating func single(_ id: Int, _ document: [Int32], _ emit: (Window) throws -> Void) rethrows {
    let c = settings.contextSize
    guard !document.isEmpty else { return }
    let begin = settings.beginSequenceToken ?? settings.beginBatchToken
    if let begin, document.count >= c - 1, Int(document[0]) != begin {
      insert(begin, settings.beginSequenceToken != nil ? .beginSequence : .beginBatch, id)
      append(document, 0..<(c - 1), id)
    } else if document.count >= c {
      append(document, 0..<c, id)
    }
    if tokens.count == c { try flush(emit) }
  }

  private mutating func insert(_ token: Int, _ kind: WindowSpan.Kind, _ id: Int) {
    tokens.append(Int32(token))
    spans.append(WindowSpan(kind: kind, document: id, offset: -1, count: 1))
  }

  private mutating func append(_ document: [Int32], _ range: Range<Int>, _ id: Int) {
    guard !range.isEmpty else { return }
    tokens.append(contentsOf: document[range])
    if let last = spans.last, last.kind == .document, last.document == id,
      last.offset + last.count == range.lowerBound
    {
      spans[spans.count - 1].count += range.count
    } else {
      spans.append(WindowSpan(kind: .document, document: id, offset: range.lowerBound, count: range.count))
    }
  }

  private mutating func flush(_ emit: (Window) throws -> Void) rethrows {
    let window = Window(tokens: tokens, spans: spans)
    windowCount += 1
    documentTokensInWindows += spans.reduce(0) { $0 + ($1.kind == .document ? $1.count : 0) }
    tokens.removeAll(keepingCapacity: true)
    spans.removeAll()
    try emit(window)
  }
}
