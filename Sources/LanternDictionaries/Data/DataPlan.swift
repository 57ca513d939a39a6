// DataPlan: a source with its held-out split, shuffle and filters resolved — the one object the
// trainer and the evaluator build their streams from.
//
// Opening a plan splits the source's units (HeldOutSplit), builds the training shuffle
// (ShufflePlan) and resolves the filters (RowFilter; the median norms are read from the first
// training units). It then hands out batch streams: the shuffled training stream from any cursor,
// and the held-out evaluation stream (plan order, one pass). A group of the schedule is decoded
// into one contiguous buffer in piece order, with one filter verdict per row; that buffer and a
// few batches are all a stream keeps in memory.

import LanternTensor

/// A data source split, shuffled and filtered, ready to stream.
public final class DataPlan: Sendable {
  public let source: any ActivationSource
  public let split: HeldOutSplit
  public let filter: RowFilter
  /// The training shuffle (training units only).
  public let shuffle: ShufflePlan
  /// Units trained on, in plan order.
  public let trainingUnits: [DataUnit]
  /// Units held out for evaluation, in plan order (never in a training stream).
  public let heldOutUnits: [DataUnit]

  /// Input row width (input hooks concatenated).
  public var width: Int { source.width }
  /// Target row width, or nil when the target is the input.
  public var targetWidth: Int? { source.targetWidth }

  /// Splits, shuffles and resolves filters for `source`.
  public init(
    source: some ActivationSource, split: HeldOutSplit = HeldOutSplit(),
    shuffle: ShuffleConfig = ShuffleConfig(),
    filter: FilterConfig = FilterConfig()
  ) throws {
    try split.validate()
    self.source = source
    self.split = split
    heldOutUnits = source.units.filter { split.isHeldOut(unitIndex: $0.index) }
    trainingUnits = source.units.filter { !split.isHeldOut(unitIndex: $0.index) }
    guard !trainingUnits.isEmpty else {
      throw DataError.empty(
        subject: source.name, reason: "all \(source.units.count) unit(s) are held out (one in \(split.oneIn))"
      )
    }
    self.shuffle = try ShufflePlan(units: trainingUnits, config: shuffle)
    self.filter = try RowFilter(config: filter, source: source, sampleUnits: trainingUnits)
  }

  /// Everything that decides which row a position delivers: the units (ids and rows), the split,
  /// the shuffle settings and the resolved filters. A checkpoint stores it; a resumed run whose
  /// plan has another fingerprint (e.g. more units committed since) would read other rows.
  public var fingerprint: String {
    var text = "lantern-data-1|\(source.inputHooks.map { "\($0.name):\($0.width)" })|"
    text += "\(source.targetHooks.map { "\($0.name):\($0.width)" })|"
    text += source.units.map { "\($0.id):\($0.index):\($0.rowCount)" }.joined(separator: ",")
    text += "|split \(split.oneIn) \(split.seed)|shuffle \(shuffle.config.seed) \(shuffle.config.pieceRows) "
    text += "\(shuffle.config.groupPieces)|excluded \(filter.excludedTokenIDs)|limits "
    text += filter.normLimits.map { String($0.bitPattern, radix: 16) }.joined(separator: ",")
    let hash = text.hashValueStable
    return String(hash, radix: 16)
  }

  /// The shuffled training stream of `batchSize` rows per batch, from stream position `cursor`.
  /// - Parameters:
  ///   - epochs: stop after this many epochs (the last partial batch is dropped); nil: never stop.
  ///   - prefetch: batches decoded ahead of the consumer.
  ///   - decodeThreads: threads decoding a group's pieces (the producer thread included).
  public func trainingStream(
    batchSize: Int, startingAt cursor: Int = 0, epochs: Int? = nil, prefetch: Int = 3, decodeThreads: Int = 1
  ) throws -> BatchStream {
    try BatchStream(
      plan: self, schedule: shuffle, batchSize: batchSize, start: cursor,
      end: epochs.map { $0 * shuffle.rowsPerEpoch }, keepPartial: false, prefetch: prefetch,
      decodeThreads: decodeThreads)
  }

  /// The held-out rows, unshuffled (plan order), filtered like training rows; the last batch may be short.
  public func evaluationStream(batchSize: Int, prefetch: Int = 3, decodeThreads: Int = 1) throws
    -> BatchStream
  {
    guard !heldOutUnits.isEmpty else {
      throw DataError.empty(subject: source.name, reason: "no unit is held out (one in \(split.oneIn))")
    }
    return try BatchStream(
      plan: self, schedule: evaluationSchedule, batchSize: batchSize, start: 0, end: nil, keepPartial: true,
      prefetch: prefetch, decodeThreads: decodeThreads)
  }

  var evaluationSchedule: SequentialSchedule {
    SequentialSchedule(
      units: heldOutUnits, pieceRows: shuffle.config.pieceRows, groupPieces: shuffle.config.groupPieces)
  }

  /// Rows kept and dropped at training positions `positions` (reads side data only where the
  /// source stores norms).
  public func filterCounts(positions: Range<Int>) throws -> FilterCounts {
    var counts = FilterCounts()
    var p = positions.lowerBound
    while p < positions.upperBound, let group = shuffle.group(at: p) {
      var verdicts: [UInt8] = []
      for piece in group.pieces {
        let side = try source.readSide(unit: piece.unit, rows: piece.rows)
        verdicts += filter.verdicts(side, count: piece.rows.count)
      }
      while p < min(positions.upperBound, group.end) {
        counts.add(verdicts[group.order.map { $0[p - group.start] } ?? (p - group.start)])
        p += 1
      }
    }
    return counts
  }

  /// Decodes `group`'s rows in piece order, with one filter verdict per row. With a `pool`, pieces
  /// are decoded in parallel (each into its own rows of the buffer; the first error in piece order
  /// is thrown), so the content does not depend on the thread count.
  func decode(_ group: ScheduledGroup, pool: ThreadPool? = nil) throws -> DecodedGroup {
    let width = source.width
    let targetWidth = source.targetWidth ?? 0
    var decoded = DecodedGroup(
      inputs: [Float](repeating: 0, count: group.rowCount * width),
      targets: [Float](repeating: 0, count: group.rowCount * targetWidth), verdicts: [])
    var offsets: [Int] = []
    var offset = 0
    for piece in group.pieces {
      offsets.append(offset)
      offset += piece.rows.count
    }
    var results = [Result<[UInt8], DataError>?](repeating: nil, count: group.pieces.count)
    decoded.inputs.withUnsafeMutableBufferPointer { x in
      decoded.targets.withUnsafeMutableBufferPointer { y in
        results.withUnsafeMutableBufferPointer { results in
          let (xBase, yBase, out) = (x.baseAddress!, y.baseAddress, results)
          let body = { (range: Range<Int>) in
            for i in range {
              let piece = group.pieces[i]
              do {
                let side = try self.source.read(
                  unit: piece.unit, rows: piece.rows, inputs: xBase + offsets[i] * width,
                  targets: targetWidth == 0 ? nil : yBase.map { $0 + offsets[i] * targetWidth })
                out[i] = .success(self.filter.verdicts(side, count: piece.rows.count))
              } catch {
                out[i] = .failure(DataError.wrap(error))
              }
            }
          }
          if let pool, group.pieces.count > 1 {
            pool.parallelFor(group.pieces.count, body)
          } else {
            body(0..<group.pieces.count)
          }
        }
      }
    }
    decoded.verdicts.reserveCapacity(group.rowCount)
    for result in results { decoded.verdicts += try result!.get() }
    return decoded
  }
}

extension DataError {
  /// `error` as a DataError (other errors keep their text).
  static func wrap(_ error: any Error) -> DataError {
    if let error = error as? DataError { return error }
    return .read(unit: "?", hook: "?", underlying: "\(error)")
  }
}

/// One group's rows, decoded.
struct DecodedGroup {
  var inputs: [Float]
  var targets: [Float]
  var verdicts: [UInt8]
}
