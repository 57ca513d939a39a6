// NPYSource over files numpy wrote (Scripts/fixtures/make_dictionaries_data_fixtures.py): f32 and
// f16 rows (f16 checked against numpy's own f16 → f32), paired targets, and rejected inputs.

import Foundation
import LanternFormats
import LanternTensor
import LanternTestSupport
import Testing

@testable import LanternDictionaries

private func fixture(_ name: String) -> URL { Fixtures.url("dictionaries-data/\(name)") }

private func values(_ url: URL) throws -> [Float] {
  let t = try NPY.readFloat32(url)
  return Array(UnsafeBufferPointer(start: t.pointer, count: t.count))
}

private func readAll(_ source: NPYSource) throws -> (inputs: [Float], targets: [Float]) {
  var x: [Float] = []
  var y: [Float] = []
  for unit in source.units {
    var xs = [Float](repeating: .nan, count: unit.rowCount * source.width)
    var ys = [Float](repeating: .nan, count: unit.rowCount * (source.targetWidth ?? 0))
    _ = try xs.withUnsafeMutableBufferPointer { xb in
      try ys.withUnsafeMutableBufferPointer { yb in
        try source.read(
          unit: unit, rows: 0..<unit.rowCount, inputs: xb.baseAddress!,
          targets: source.targetWidth == nil ? nil : yb.baseAddress!)
      }
    }
    x += xs
    y += ys
  }
  return (x, y)
}

@Test func dataNPYReadsFloat32AndFloat16RowsInBlocks() throws {
  let f32 = try NPYSource(inputs: fixture("x_f32.npy"), blockRows: 16)
  #expect(f32.width == 6 && f32.units.map(\.rowCount) == [16, 16, 16, 2])
  let expected32 = try values(fixture("x_f32.npy"))
  #expect(try readAll(f32).inputs == expected32)
  let f16 = try NPYSource(inputs: fixture("x_f16.npy"), blockRows: 7)
  let got = try readAll(f16).inputs
  let expected = try values(fixture("x_f16_as_f32.npy"))  // numpy's conversion, incl. inf and a subnormal
  #expect(got.count == expected.count)
  #expect(zip(got, expected).allSatisfy { $0.bitPattern == $1.bitPattern })
  #expect(got.contains(.infinity))
}

@Test func dataNPYPairsTargetsAndStreams() throws {
  let source = try NPYSource(inputs: fixture("x_f32.npy"), targets: fixture("y_f32.npy"), blockRows: 10)
  #expect(source.targetWidth == 3)
  let (x, y) = try readAll(source)
  let xExpected = try values(fixture("x_f32.npy"))
  let yExpected = try values(fixture("y_f32.npy"))
  #expect(x == xExpected && y == yExpected)
  // Held-out split by row blocks; the training stream pairs each input with its own target.
  let plan = try DataPlan(
    source: source, split: HeldOutSplit(oneIn: 5, seed: 0),
    shuffle: ShuffleConfig(seed: 2, pieceRows: 4, groupPieces: 3),
    filter: .keepAll)
  #expect(plan.heldOutUnits.count == 1 && plan.shuffle.rowsPerEpoch == 40)
  let batches = try drain(try plan.trainingStream(batchSize: 8, epochs: 1))
  let heldRows = plan.heldOutUnits[0].index * 10..<(plan.heldOutUnits[0].index * 10 + 10)
  var seen = Set<Int>()
  for batch in batches {
    for i in 0..<batch.rowCount {
      let row = Array(batch.inputs[(i * 6)..<(i * 6 + 6)])
      let r = (0..<50).first { Array(x[($0 * 6)..<($0 * 6 + 6)]) == row }!
      #expect(Array(batch.targets![(i * 3)..<(i * 3 + 3)]) == Array(y[(r * 3)..<(r * 3 + 3)]))
      #expect(!heldRows.contains(r))
      seen.insert(r)
    }
  }
  #expect(seen.count == 40)
}

@Test func dataNPYRejectsMismatchedAndUnusableFiles() throws {
  #expect {
    try NPYSource(inputs: fixture("x_f32.npy"), targets: fixture("y_short.npy"))
  } throws: { error in
    guard case .rowCountMismatch(_, 50, _, 49) = error as? DataError else { return false }
    return true
  }
  for name in ["i32.npy", "v_f32.npy"] {
    #expect {
      try NPYSource(inputs: fixture(name))
    } throws: { error in
      guard case .badNPY(let path, _, _) = error as? DataError else { return false }
      return path.hasSuffix(name)
    }
  }
  // Truncated: the data is shorter than the shape says.
  let dir = try Fixtures.temporaryDirectory("lantern-npy")
  defer { try? FileManager.default.removeItem(at: dir) }
  let cut = dir.appendingPathComponent("cut.npy")
  try Data(try Data(contentsOf: fixture("x_f32.npy")).dropLast(4)).write(to: cut)
  #expect(throws: DataError.self) { try NPYSource(inputs: cut) }
  #expect(throws: DataError.self) { try NPYSource(inputs: dir.appendingPathComponent("missing.npy")) }
}
