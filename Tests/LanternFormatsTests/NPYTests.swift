// .npy against numpy: arrays written by np.save (v1.0 and v2.0, several dtypes, 0-d, empty)
// read back to numpy's values; the writer's bytes equal np.save's; corruption field by field.

import Foundation
import LanternFormats
import LanternTensor
import LanternTestSupport
import Testing

@Suite struct NPYTests {
  let scratch: Scratch
  let expected: [String: ExpectedArray]

  init() throws {
    scratch = try Scratch()
    expected = try decodeFixture([String: ExpectedArray].self, "formats/npy/expected.json")
  }

  @Test(arguments: ["f4", "f4_v2", "f2", "f8", "scalar", "empty"])
  func readsFloatsWrittenByNumpy(name: String) throws {
    let want = try #require(expected[name])
    let t = try NPY.readFloat32(Fixtures.url("formats/npy/\(name).npy"))
    #expect(t.shape == want.shape)
    #expect(firstBitwiseMismatch(t.array, floats(bits: want.float32_bits)) == nil)
  }

  @Test(arguments: ["i4", "i8", "u1"])
  func readsIntegersWrittenByNumpy(name: String) throws {
    let want = try #require(expected[name])
    let (values, shape) = try NPY.readInt32(Fixtures.url("formats/npy/\(name).npy"))
    #expect(shape == want.shape)
    #expect(values == want.ints?.map { Int32($0) })
  }

  @Test func rejectsWhatItCannotRepresent() throws {
    expectFormatError(try NPY.readInt32(Fixtures.url("formats/npy/i8_big.npy"))) {
      if case .valueOutOfRange(_, _, 0, "1099511627776") = $0 { true } else { false }
    }
    expectFormatError(try NPY.readFloat32(Fixtures.url("formats/npy/fortran.npy"))) {
      if case .unsupported(_, "fortran_order", _, _) = $0 { true } else { false }
    }
    expectFormatError(try NPY.readFloat32(Fixtures.url("formats/npy/big_endian.npy"))) {
      if case .unsupported(_, "descr '>f4'", let reason, _) = $0 {
        reason.contains("big-endian")
      } else {
        false
      }
    }
    expectFormatError(try NPY.readInt32(Fixtures.url("formats/npy/f4.npy"))) {
      if case .unsupportedDataType(_, _, "<f4", "Int32") = $0 { true } else { false }
    }
    expectFormatError(try NPY.readFloat32(Fixtures.url("formats/npy/i4.npy"))) {
      if case .unsupportedDataType(_, _, "<i4", "Float32") = $0 { true } else { false }
    }
  }

  @Test func writerMatchesNumpyBytes() throws {
    let f4 = scratch.url.appendingPathComponent("f4.npy")
    try NPY.writeFloat32(Tensor(shape: [3, 4], values: (0..<12).map { Float($0) * 0.25 - 1 }), to: f4)
    #expect(Array(try Data(contentsOf: f4)) == (try fixtureBytes("formats/npy/writer-f4.npy")))

    let scalar = scratch.url.appendingPathComponent("s.npy")
    try NPY.writeFloat32(Tensor(shape: [], values: [-1]), to: scalar)
    #expect(Array(try Data(contentsOf: scalar)) == (try fixtureBytes("formats/npy/writer-f4-scalar.npy")))

    let i4 = scratch.url.appendingPathComponent("i4.npy")
    try NPY.writeInt32(values: (0..<6).map { Int32($0) - 3 }, shape: [6], to: i4)
    #expect(Array(try Data(contentsOf: i4)) == (try fixtureBytes("formats/npy/writer-i4.npy")))
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).sorted() == [
        "f4.npy", "i4.npy", "s.npy",
      ])
  }

  @Test func writerRoundTrips() throws {
    let url = scratch.url.appendingPathComponent("rt.npy")
    let values: [Float] = [1, -0.0, .infinity, 3.5e-41, .greatestFiniteMagnitude, 0.1]
    try values.withUnsafeBufferPointer { try NPY.writeFloat32($0.baseAddress!, shape: [1, 2, 3], to: url) }
    let t = try NPY.readFloat32(url)
    #expect(t.shape == [1, 2, 3])
    #expect(t.array.map(\.bitPattern) == values.map(\.bitPattern))
    try NPY.writeFloat32(Tensor(shape: [0, 3]), to: url)
    #expect(try NPY.readFloat32(url).shape == [0, 3])
    // A header too long for version 1.0 switches to 2.0, as numpy does.
    let manyDims = [Int](repeating: 1, count: 30_000)
    try NPY.writeInt32(values: [7], shape: manyDims, to: url)
    let bytes = Array(try Data(contentsOf: url))
    #expect(bytes[6] == 2)
    #expect(try NPY.readInt32(url) == ([7], manyDims))
    expectFormatError(try NPY.writeInt32(values: [1, 2], shape: [3], to: url)) {
      if case .invalidArgument = $0 { true } else { false }
    }
  }

  /// A v1.0 file with `header` as its dict text and `data` after it.
  func file(_ header: String, data: [UInt8] = [UInt8](repeating: 0, count: 8), version: UInt8 = 1) throws
    -> String
  {
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
    let text = Array((header + "\n").utf8)
    if version == 1 { bytes.le(UInt16(text.count)) } else { bytes.le(UInt32(text.count)) }
    return try scratch.write(bytes + text + data, "x.npy")
  }

  @Test func corruptionFieldByField() throws {
    let good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
    #expect(try NPY.readFloat32(URL(fileURLWithPath: try file(good))).shape == [2])
    #expect(try NPY.readFloat32(URL(fileURLWithPath: try file(good, version: 3))).shape == [2])

    var bad = Array(try Data(contentsOf: URL(fileURLWithPath: try file(good))))
    bad[1] = UInt8(ascii: "n")
    var path = try scratch.write(bad, "magic.npy")
    expectFormatError(try NPY.readFloat32(URL(fileURLWithPath: path))) {
      if case .badMagic = $0 { true } else { false }
    }
    path = try file(good, version: 4)
    expectFormatError(try NPY.readFloat32(URL(fileURLWithPath: path))) {
      if case .unsupportedVersion(_, "4.0", _) = $0 { true } else { false }
    }
    // Header length past the end, and past the sanity limit.
    bad = Array(try Data(contentsOf: URL(fileURLWithPath: try file(good))))
    bad.patch(8, UInt16(500))
    path = try scratch.write(bad, "len.npy")
    expectFormatError(try NPY.readFloat32(URL(fileURLWithPath: path))) {
      if case .truncated(_, "header", 10, 500, _) = $0 { true } else { false }
    }
    bad = Array(try Data(contentsOf: URL(fileURLWithPath: try file(good, version: 2))))
    bad.patch(8, UInt32(1 << 31))
    path = try scratch.write(bad, "len2.npy")
    expectFormatError(try NPY.readFloat32(URL(fileURLWithPath: path))) {
      if case .lengthTooLarge(_, "header length", 8, 1 << 31, _) = $0 { true } else { false }
    }

    let badHeaders = [
      "{'descr': '<f4', 'fortran_order': False}",  // missing shape
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': True}",
      "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': [2]}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} trailing",
      "('descr', '<f4')",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), ",
    ]
    for header in badHeaders {
      expectFormatError(try NPY.readFloat32(URL(fileURLWithPath: try file(header)))) {
        if case .invalidHeader = $0 { true } else { false }
      }
    }
    expectFormatError(try NPY.readFloat32(URL(fileURLWithPath: try file("{'descr': '<f4', 'descr': '<f4'}"))))
    {
      if case .duplicateKey(_, "descr", _) = $0 { true } else { false }
    }
    expectFormatError(
      try NPY.readFloat32(URL(fileURLWithPath: try file(good.replacingOccurrences(of: "<f4", with: "<c8"))))
    ) {
      if case .unknownDataType(_, _, "descr '<c8'") = $0 { true } else { false }
    }
    expectFormatError(try NPY.readFloat32(URL(fileURLWithPath: try file(good, data: [0, 0, 0, 0, 0])))) {
      if case .truncated(_, _, _, 8, 5) = $0 { true } else { false }
    }
    expectFormatError(
      try NPY.readFloat32(URL(fileURLWithPath: try file(good, data: [UInt8](repeating: 0, count: 12))))
    ) {
      if case .unusedBytes(_, _, 4, nil) = $0 { true } else { false }
    }
    expectFormatError(
      try NPY.readFloat32(
        URL(
          fileURLWithPath: try file(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 2), }")))
    ) {
      if case .badShape = $0 { true } else { false }
    }
    expectFormatError(try NPY.readFloat32(URL(fileURLWithPath: try file("{'descr': 'é'}")))) {
      if case .invalidHeader(_, _, let reason) = $0 { reason.contains("non-ASCII") } else { false }
    }
  }

  @Test func everyTruncationThrows() throws {
    let bytes = try fixtureBytes("formats/npy/f4.npy")
    let path = scratch.path("prefix.npy")
    for length in 0..<bytes.count {
      try Data(bytes[0..<length]).write(to: URL(fileURLWithPath: path))
      let error = formatError { try NPY.readFloat32(URL(fileURLWithPath: path)) }
      switch error {
      case .truncated?: break
      default: Issue.record("prefix \(length): unexpected \(String(describing: error))")
      }
    }
  }
}
