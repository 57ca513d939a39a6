// ActivationSource: what the data stream reads rows from — a Lantern job directory's committed
// shards (JobSource), .npy matrices (NPYSource) or the ground-truth generator (SyntheticSource).
//
// A source is cut into units (work units of a job; fixed-size row blocks of an .npy file or of
// the generator), in plan order. The stream asks for a row range of one unit at a time and gets
// the input row [width] (input hooks concatenated in the order given) and, for paired sources, the
// target row [targetWidth], plus the side data its filters need (token ids, per-hook norms).
// Sources hold no open files: a read opens what it needs, so one source serves any thread.

import Foundation

/// One unit of data: a committed work unit of a job, or a fixed-size row block.
public struct DataUnit: Sendable, Hashable, CustomStringConvertible {
  /// Stable name: the work-unit id ("u000017") or "rows a..<b" for a row block.
  public var id: String
  /// Position in the plan; the held-out split is a function of (seed, index).
  public var index: Int
  /// Rows the unit holds (before any filter).
  public var rowCount: Int

  public init(id: String, index: Int, rowCount: Int) {
    self.id = id
    self.index = index
    self.rowCount = rowCount
  }

  public var description: String { id }
}

/// One hook's columns inside a concatenated row.
public struct HookColumns: Sendable, Hashable {
  /// TransformerLens hook name, or "inputs" / "targets" for .npy files, "synthetic" for the generator.
  public var name: String
  /// Columns of this hook.
  public var width: Int
  /// First column of this hook in the concatenated row.
  public var offset: Int

  public init(name: String, width: Int, offset: Int) {
    self.name = name
    self.width = width
    self.offset = offset
  }

  /// Lays hooks of `widths` side by side in the given order.
  static func concatenated(_ named: [(String, Int)]) -> [HookColumns] {
    var offset = 0
    return named.map { name, width in
      defer { offset += width }
      return HookColumns(name: name, width: width, offset: offset)
    }
  }
}

/// Side data of a run of rows: what the read-time filters look at.
public struct RowSide: Sendable, Equatable {
  /// Token id of each row, or nil when the source has none (.npy, synthetic).
  public var tokenIDs: [Int32]?
  /// L2 norm of each row per hook: `norms[h][i]` for hook h of inputs then targets.
  public var norms: [[Float]]

  public init(tokenIDs: [Int32]?, norms: [[Float]]) {
    self.tokenIDs = tokenIDs
    self.norms = norms
  }
}

/// A source of activation rows, cut into units.
public protocol ActivationSource: Sendable {
  /// One line naming the source (path and hooks), for messages.
  var name: String { get }
  /// The input hooks, concatenated in this order into a row of `width`.
  var inputHooks: [HookColumns] { get }
  /// The target hooks (transcoders); empty when the target is the input.
  var targetHooks: [HookColumns] { get }
  /// Every unit, in plan order.
  var units: [DataUnit] { get }
  /// Token ids excluded by default (special tokens the source knows of; empty if none).
  var defaultExcludedTokenIDs: [Int32] { get }

  /// Decodes rows `rows` of `unit` as Float32: inputs [rows.count, width] row-major into `inputs`,
  /// targets [rows.count, targetWidth] into `targets` (nil for unpaired sources), and returns their side data.
  func read(
    unit: DataUnit, rows: Range<Int>, inputs: UnsafeMutablePointer<Float>,
    targets: UnsafeMutablePointer<Float>?
  ) throws -> RowSide

  /// The side data of rows `rows` of `unit` only (decoding activations only where the source
  /// stores no norms).
  func readSide(unit: DataUnit, rows: Range<Int>) throws -> RowSide
}

extension ActivationSource {
  /// Input row width (sum of the input hooks' widths).
  public var width: Int { inputHooks.reduce(0) { $0 + $1.width } }
  /// Target row width, or nil when the target is the input.
  public var targetWidth: Int? { targetHooks.isEmpty ? nil : targetHooks.reduce(0) { $0 + $1.width } }
  /// Rows over all units.
  public var rowCount: Int { units.reduce(0) { $0 + $1.rowCount } }
}

/// L2 norm of every row of `rows` [count, stride] over columns [offset, offset + width).
func rowNorms(_ rows: UnsafePointer<Float>, count: Int, stride: Int, offset: Int, width: Int) -> [Float] {
  var out = [Float](repeating: 0, count: count)
  for i in 0..<count {
    let row = rows + (i &* stride &+ offset)
    var sum: Float = 0
    for j in 0..<width { sum += row[j] * row[j] }
    out[i] = sum.squareRoot()
  }
  return out
}

/// Cuts `rowCount` rows into blocks of `blockRows` (the last may be shorter) named "rows a..<b".
func rowBlocks(rowCount: Int, blockRows: Int) -> [DataUnit] {
  stride(from: 0, to: rowCount, by: blockRows).enumerated().map { i, start in
    let end = min(rowCount, start + blockRows)
    return DataUnit(id: "rows \(start)..<\(end)", index: i, rowCount: end - start)
  }
}

/// Opens `path` as a source: a Lantern job directory (for `hooks`, and `targetHooks` for
/// transcoders) or an .npy file [N, d] (with `targetData`, an .npy [N, d_out], for transcoders;
/// `hooks` then only names nothing and must hold at most one entry).
public func openActivationSource(
  path: String, hooks: [String], targetHooks: [String] = [], targetData: String? = nil,
  verification: ShardVerification = .checksum
) throws -> any ActivationSource {
  if path.hasSuffix(".npy") {
    guard targetHooks.isEmpty, hooks.count <= 1 else {
      throw DataError.invalidSetting(
        name: "--hook/--target-hook",
        reason: "an .npy source has no hooks; pass the target rows as --target-data Y.npy")
    }
    return try NPYSource(
      inputs: URL(fileURLWithPath: path), targets: targetData.map { URL(fileURLWithPath: $0) })
  }
  guard targetData == nil else {
    throw DataError.invalidSetting(
      name: "--target-data", reason: "only .npy sources take target data; a job directory takes --target-hook"
    )
  }
  return try JobSource(
    url: URL(fileURLWithPath: path), hooks: hooks, targetHooks: targetHooks, verification: verification)
}
