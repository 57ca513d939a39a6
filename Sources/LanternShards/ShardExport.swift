// Export of a row range to plain .npy arrays (LanternFormats.NPY), for people who want arrays
// rather than shards: activations as float32 (n, d), token ids and positions as int32 (n,).
// Left out: document ids (int64, which LanternFormats' NPY writer does not write) and norms.

import Foundation
import LanternFormats

extension ShardReader {
  /// Writes rows `range` (all rows by default) as a float32 .npy of shape (n, d), and optionally
  /// their token ids and positions as int32 .npy files of shape (n,). Each file is written atomically.
  public func exportNPY(
    rows range: Range<Int>? = nil, activations: URL, tokenIDs: URL? = nil, positions: URL? = nil
  ) throws {
    let range = range ?? 0..<rowCount
    let batch = try readRows(range)
    try batch.rows.withUnsafeBufferPointer { buffer in
      let zero: Float = 0
      try withUnsafePointer(to: zero) { empty in
        try NPY.writeFloat32(buffer.baseAddress ?? empty, shape: [range.count, d], to: activations)
      }
    }
    if let tokenIDs { try NPY.writeInt32(values: batch.tokenIDs, shape: [range.count], to: tokenIDs) }
    if let positions { try NPY.writeInt32(values: batch.positions, shape: [range.count], to: positions) }
  }
}
