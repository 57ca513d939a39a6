// Compression ratios of every dtype × layout on real activations (the numbers in
// docs/shard-format.md). Runs only when LANTERN_SHARD_RATIO_NPY names one or more
// comma-separated .npy files of float32 rows (e.g. `lantern forward` outputs); it prints the
// stored sizes and checks that every shard verifies and decodes to the rounded input.

import Foundation
import LanternFormats
import LanternTestSupport
import Testing

@testable import LanternShards

@Suite struct ShardRatioTests {
  @Test func ratiosOnRealActivations() throws {
    guard let list = ProcessInfo.processInfo.environment["LANTERN_SHARD_RATIO_NPY"] else {
      print("ShardRatioTests: set LANTERN_SHARD_RATIO_NPY=a.npy,b.npy,... to measure compression ratios")
      return
    }
    var rows: [Float] = []
    var d = 0
    for path in list.split(separator: ",") {
      let tensor = try NPY.readFloat32(URL(fileURLWithPath: String(path)))
      d = tensor.shape.last ?? 0
      rows += tensor.array
    }
    let n = rows.count / d
    let data = SyntheticRows(rows: rows, count: n)
    let directory = try Fixtures.temporaryDirectory("shard-ratio")
    defer { try? FileManager.default.removeItem(at: directory) }
    print("ratios over \(n) rows of width \(d): raw fp32 \(n * d * 4) bytes")
    for dtype in ShardDType.allCases {
      for layout in ShardLayout.allCases {
        let info = makeInfo(dtype: dtype, layout: layout, d: d)
        let (url, summary) = try writeShard(data, info: info, rowsPerBlock: nil, in: directory, batch: 512)
        let reader = try ShardReader(url: url)
        let data = reader.blocks.reduce(0) { $0 + $1.dataSize }
        let side = reader.blocks.reduce(0) { $0 + $1.sideSize }
        let raw = Double(n * d * dtype.elementSize)
        let line =
          "\(dtype) \(layout): file \(summary.bytes) bytes (activations \(data), side \(side)); "
          + "activations vs raw \(dtype) \(String(format: "%.3f", raw / Double(data)))×, "
          + "file vs raw fp32 \(String(format: "%.3f", Double(n * d * 4) / Double(summary.bytes)))×"
        print(line)
        #expect(try reader.verify() == summary.checksum)
        let back = try reader.readRows(0..<n).rows
        #expect(sameBits(back, rows.map { referenceRound($0, dtype) }), "\(dtype) \(layout)")
      }
    }
  }
}
