// The held-out split and the token-level global shuffle, both pure functions of a seed.
//
// Held-out split: unit indices are cut into blocks of M consecutive indices (M = 20 by default);
// in block b the unit at index b·M + (mix(seed, b) mod M) is held out. So exactly one unit in M
// is held out in every full block (a last partial block of L units holds one out with probability
// L/M), and whether a unit is held out depends on nothing but (seed, unit index): committing more
// units never moves a unit between the sides.
//
// Shuffle: training units are cut into pieces of at most `pieceRows` rows (a unit of fewer rows is
// one piece). Epoch e has N positions, N = training rows (before filtering). Its pieces are put in
// the order permutation(P, mix(seed, e)); consecutive runs of G pieces in that order form groups
// (the mixing buffer), and group g's rows — its pieces' rows concatenated in that order — are
// delivered in the order permutation(S_g, mix(seed, e, g)). So the row at stream position p is a
// pure function of (seed, p): e = p / N, and within the epoch a group and a place in it. A resumed
// run needs only p; epochs go on with fresh permutations. Memory: one group's decoded rows.

import LanternTensor

/// Which units are held out for evaluation: one in every `oneIn` consecutive unit indices.
public struct HeldOutSplit: Sendable, Hashable {
  /// One unit in this many is held out; 0 holds none out.
  public var oneIn: Int
  public var seed: UInt64

  /// One unit in `oneIn` (default 20), chosen by `seed`.
  public init(oneIn: Int = 20, seed: UInt64 = 0) {
    self.oneIn = oneIn
    self.seed = seed
  }

  /// No held-out units.
  public static let none = HeldOutSplit(oneIn: 0)

  /// Whether the unit at plan index `index` is held out.
  public func isHeldOut(unitIndex index: Int) -> Bool {
    guard oneIn >= 2, index >= 0 else { return false }
    let block = UInt64(index / oneIn)
    let chosen = Int(SeededRandom.mix(seed: seed ^ 0x484F_4C44_4F55_54, block) % UInt64(oneIn))
    return index % oneIn == chosen
  }

  func validate() throws {
    guard oneIn == 0 || oneIn >= 2 else {
      throw DataError.invalidSetting(
        name: "held-out split", reason: "one unit in \(oneIn) would hold out everything; use 0 (none) or ≥ 2")
    }
  }
}

/// How the training stream mixes rows.
public struct ShuffleConfig: Sendable, Hashable {
  /// Seeds the piece order and the in-group row order of every epoch.
  public var seed: UInt64
  /// Units longer than this are cut into pieces of this many rows (the unit of the piece order).
  public var pieceRows: Int
  /// Pieces per group (G): the mixing buffer holds G · pieceRows rows at most.
  public var groupPieces: Int

  /// Defaults: pieces of 8,192 rows, 16 per group (a 131,072-row mixing buffer, like SAELens'
  /// default buffer of 20 × 32 × 128 tokens, ~82k rows; 302 MB of Float32 at d = 576).
  public init(seed: UInt64 = 0, pieceRows: Int = 8192, groupPieces: Int = 16) {
    self.seed = seed
    self.pieceRows = pieceRows
    self.groupPieces = groupPieces
  }

  /// A mixing buffer that fits `memoryBudget` bytes of decoded rows of `rowBytes` each
  /// (4 × (width + targetWidth)): at least 16 pieces of at most 8,192 rows, so wide rows (a
  /// crosscoder over many layers) get smaller pieces rather than a larger buffer.
  public init(seed: UInt64 = 0, memoryBudget: Int, rowBytes: Int) {
    let rows = max(1, memoryBudget / max(1, rowBytes))
    let piece = min(8192, max(1, rows / 16))
    self.init(seed: seed, pieceRows: piece, groupPieces: max(1, rows / piece))
  }

  func validate() throws {
    guard pieceRows >= 1 else {
      throw DataError.invalidSetting(name: "pieceRows", reason: "\(pieceRows) < 1")
    }
    guard groupPieces >= 1 else {
      throw DataError.invalidSetting(name: "groupPieces", reason: "\(groupPieces) < 1")
    }
  }
}

/// Where the row at one stream position comes from.
public struct RowLocation: Sendable, Hashable {
  /// Epoch of the position (0 for an evaluation stream).
  public var epoch: Int
  /// The unit.
  public var unit: DataUnit
  /// Row within the unit.
  public var row: Int
}

/// A run of rows of one unit.
struct Piece: Sendable, Hashable {
  var unit: DataUnit
  var rows: Range<Int>
}

/// One group of a schedule: pieces decoded together, delivered in `order`.
struct ScheduledGroup: Sendable {
  var epoch: Int
  /// Global stream position of the group's first row.
  var start: Int
  var pieces: [Piece]
  var rowCount: Int
  /// order[i] = group row delivered at position start + i; nil = identity.
  var order: [Int]?

  var end: Int { start + rowCount }

  /// The (piece, row in the piece) of group row `r`.
  func locate(_ r: Int) -> (piece: Int, row: Int) {
    var rest = r
    for (i, piece) in pieces.enumerated() {
      if rest < piece.rows.count { return (i, rest) }
      rest -= piece.rows.count
    }
    return (pieces.count - 1, pieces[pieces.count - 1].rows.count)
  }
}

/// Maps stream positions to groups of rows.
protocol Schedule: Sendable {
  /// The group holding position `p`, or nil past the end.
  func group(at p: Int) -> ScheduledGroup?
}

/// The training shuffle over `units` (the held-out units already removed).
public struct ShufflePlan: Sendable, Schedule {
  public let units: [DataUnit]
  public let config: ShuffleConfig
  /// Positions per epoch (training rows before filtering).
  public let rowsPerEpoch: Int
  let pieces: [Piece]

  public init(units: [DataUnit], config: ShuffleConfig) throws {
    try config.validate()
    self.units = units
    self.config = config
    var pieces: [Piece] = []
    for unit in units {
      for start in stride(from: 0, to: unit.rowCount, by: config.pieceRows) {
        pieces.append(Piece(unit: unit, rows: start..<min(unit.rowCount, start + config.pieceRows)))
      }
    }
    self.pieces = pieces
    rowsPerEpoch = units.reduce(0) { $0 + $1.rowCount }
    guard rowsPerEpoch > 0 else {
      throw DataError.empty(subject: "training units", reason: "they hold no rows")
    }
  }

  /// The pieces of epoch `epoch` in their shuffled order.
  func pieceOrder(epoch: Int) -> [Piece] {
    SeededRandom.permutation(
      pieces.count, seed: SeededRandom.mix(seed: config.seed, 0x5348_5546, UInt64(epoch))
    )
    .map { pieces[$0] }
  }

  func group(at p: Int) -> ScheduledGroup? {
    guard p >= 0 else { return nil }
    let epoch = p / rowsPerEpoch
    let ordered = pieceOrder(epoch: epoch)
    var start = epoch * rowsPerEpoch
    var g = 0
    for first in stride(from: 0, to: ordered.count, by: config.groupPieces) {
      let members = Array(ordered[first..<min(ordered.count, first + config.groupPieces)])
      let count = members.reduce(0) { $0 + $1.rows.count }
      if p < start + count {
        let seed = SeededRandom.mix(seed: config.seed ^ 0x524F_5753, UInt64(epoch), UInt64(g))
        return ScheduledGroup(
          epoch: epoch, start: start, pieces: members, rowCount: count,
          order: SeededRandom.permutation(count, seed: seed))
      }
      start += count
      g += 1
    }
    return nil
  }

  /// The source row delivered at stream position `p` (a pure function of seed and p).
  public func location(ofPosition p: Int) -> RowLocation {
    locations(p..<(p + 1))[0]
  }

  /// The source rows delivered at positions `range`, computing each group's permutation once.
  public func locations(_ range: Range<Int>) -> [RowLocation] {
    locate(range, in: self)
  }
}

/// The evaluation order: `units` in plan order, rows in order, one pass.
struct SequentialSchedule: Sendable, Schedule {
  let pieces: [Piece]
  let groupPieces: Int

  init(units: [DataUnit], pieceRows: Int, groupPieces: Int) {
    var pieces: [Piece] = []
    for unit in units {
      for start in stride(from: 0, to: unit.rowCount, by: pieceRows) {
        pieces.append(Piece(unit: unit, rows: start..<min(unit.rowCount, start + pieceRows)))
      }
    }
    self.pieces = pieces
    self.groupPieces = groupPieces
  }

  func group(at p: Int) -> ScheduledGroup? {
    var start = 0
    for first in stride(from: 0, to: pieces.count, by: groupPieces) {
      let members = Array(pieces[first..<min(pieces.count, first + groupPieces)])
      let count = members.reduce(0) { $0 + $1.rows.count }
      if p >= 0 && p < start + count {
        return ScheduledGroup(epoch: 0, start: start, pieces: members, rowCount: count, order: nil)
      }
      start += count
    }
    return nil
  }
}

/// Locations of `range` under `schedule` (positions past its end are left out).
func locate(_ range: Range<Int>, in schedule: some Schedule) -> [RowLocation] {
  var out: [RowLocation] = []
  out.reserveCapacity(range.count)
  var p = range.lowerBound
  while p < range.upperBound, let group = schedule.group(at: p) {
    while p < min(range.upperBound, group.end) {
      let r = group.order.map { $0[p - group.start] } ?? (p - group.start)
      let (i, row) = group.locate(r)
      let piece = group.pieces[i]
      out.append(RowLocation(epoch: group.epoch, unit: piece.unit, row: piece.rows.lowerBound + row))
      p += 1
    }
  }
  return out
}
