// DataPlan: a source with its held-out split, shuffle and filters resolved — the one object the
// trainer and the evaluator build their streams from.
//
// Opening a plan splits the source's units (HeldOutSplit), builds the training shuffle
// (ShufflePlan) and resolves the filters (RowFilter; the median norms are read from the first
// training units). It then hands out batch streams: the shuffled training stream from any cursor,
// and the held-out evaluation stream (plan order, one pass). A group of the schedule is decoded
// into one contiguous buffer in piece order, with one filter verdict per row; that buffer and a
// few batches are all a stream keeps in memory.

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

  /// The shuffled training stream of `batchSize` rows per batch, from stream position `cursor`.
  /// - Parameters:
  ///   - epochs: stop after this many epochs (the last partial batch is dropped); nil: never stop.
  ///   - prefetch: batches decoded ahead of the consumer.
  public func trainingStream(
    batchSize: Int, startingAt cursor: Int = 0, epochs: Int? = nil, prefetch: Int = 3
  ) throws -> BatchStream {
    try BatchStream(
      plan: self, schedule: shuffle, batchSize: batchSize, start: cursor,
      end: epochs.map { $0 * shuffle.rowsPerEpoch }, keepPartial: false, prefetch: prefetch)
  }

  /// The held-out rows, unshuffled (plan order), filtered like training rows; the last batch may be short.
  public func evaluationStream(batchSize: Int, prefetch: Int = 3) throws -> BatchStream {
    guard !heldOutUnits.isEmpty else {
      throw DataError.empty(subject: source.name, reason: "no unit is held out (one in \(split.oneIn))")
    }
    return try BatchStream(
      plan: self, schedule: evaluationSchedule, batchSize: batchSize, start: 0, end: nil, keepPartial: true,
      prefetch: prefetch)
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

  /// Decodes `group`'s rows in piece order, with one filter verdict per row.
  func decode(_ group: ScheduledGroup) throws -> DecodedGroup {
    let width = source.width
    let targetWidth = source.targetWidth ?? 0
    var decoded = DecodedGroup(
      inputs: [Float](repeating: 0, count: group.rowCount * width),
      targets: [Float](repeating: 0, count: group.rowCount * targetWidth), verdicts: [])
    decoded.verdicts.reserveCapacity(group.rowCount)
    var offset = 0
    for piece in group.pieces {
      let side = try decoded.inputs.withUnsafeMutableBufferPointer { x in
        try decoded.targets.withUnsafeMutableBufferPointer { y in
          try source.read(
            unit: piece.unit, rows: piece.rows, inputs: x.baseAddress! + offset * width,
            targets: targetWidth == 0 ? nil : y.baseAddress! + offset * targetWidth)
        }
      }
      decoded.verdicts += filter.verdicts(side, count: piece.rows.count)
      offset += piece.rows.count
    }
    return decoded
  }
}

/// One group's rows, decoded.
struct DecodedGroup {
  var inputs: [Float]
  var targets: [Float]
  var verdicts: [UInt8]
}
