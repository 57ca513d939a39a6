// safetensors against the reference implementation: a file written by the Python `safetensors`
// package (torch tensors of every common dtype) read back to the values torch converts them
// to; the writer's bytes equal safetensors.numpy.save_file's for the same input; round trips.

import Foundation
import LanternFormats
import LanternTensor
import LanternTestSupport
import Testing

@Suite struct SafetensorsTests {
  let scratch: Scratch
  init() throws { scratch = try Scratch() }

  @Test func readsEveryDtypeWrittenByTorch() throws {
    let file = try SafetensorsFile(url: Fixtures.url("formats/mixed.safetensors"))
    let expected = try decodeFixture(MixedExpectation.self, "formats/mixed.json")
    #expect(file.metadata == expected.metadata)
    #expect(Set(file.tensorNames) == Set(expected.tensors.keys))
    for (name, want) in expected.tensors {
      let t = try file.loadTensor(name)
      #expect(t.shape == want.shape, "\(name)")
      #expect(try file.shape(of: name) == want.shape)
      #expect(firstBitwiseMismatch(t.array, floats(bits: want.float32_bits)) == nil, "\(name)")
    }
    #expect(try file.info("bf16").dtype == .bf16)
    #expect(try file.info("f8_e4m3").dtype == .f8E4M3)
    #expect(try file.info("scalar").shape == [])
    #expect(try file.loadTensor("empty").count == 0)
  }

  @Test func integerAccess() throws {
    let file = try SafetensorsFile(url: Fixtures.url("formats/mixed.safetensors"))
    let expected = try decodeFixture(MixedExpectation.self, "formats/mixed.json")
    for name in ["i64", "i32", "i16", "i8", "u8", "bool"] {
      let ints = try #require(expected.tensors[name]?.ints)
      #expect(try file.int32Values(name) == ints.map { Int32($0) }, "\(name)")
    }
    expectFormatError(try file.int32Values("i64_big")) {
      if case .valueOutOfRange(_, "i64_big", 0, "1099511627776") = $0 { true } else { false }
    }
    expectFormatError(try file.int32Values("f32")) {
      if case .unsupportedDataType(_, "f32", "F32", "Int32") = $0 { true } else { false }
    }
    expectFormatError(try file.loadTensor("nope")) {
      if case .missingTensor(_, "nope") = $0 { true } else { false }
    }
  }

  /// arange(n) * 0.25 - 1, as the fixture script computes it.
  static func ramp(_ shape: [Int]) -> Tensor {
    let n = shape.reduce(1, *)
    return Tensor(shape: shape, values: (0..<n).map { Float($0) * 0.25 - 1 })
  }

  @Test func writerMatchesReferenceBytes() throws {
    let url = scratch.url.appendingPathComponent("w.safetensors")
    try SafetensorsWriter.write(
      [("weight", Self.ramp([2, 3])), ("bias", Self.ramp([3])), ("a.scalar", Self.ramp([]))],
      metadata: ["format": "pt"], to: url)
    let ours = Array(try Data(contentsOf: url))
    let reference = try fixtureBytes("formats/writer-reference.safetensors")
    #expect(ours == reference)
  }

  @Test func writerRoundTripsEveryPayload() throws {
    let url = scratch.url.appendingPathComponent("rt.safetensors")
    let exact: [Float] = [0.5, -2, 1.25, 0, -0.0, 65504, 3.0e-5, 1]
    let x = Tensor(shape: [2, 4], values: exact)
    let names = ["we\"ird\nname ✓", "b", "c", "d", "empty"]
    try SafetensorsWriter.write(
      [
        (names[0], .float32(x)), (names[1], .float16(x)),
        (names[2], .bfloat16(Tensor(shape: [3], values: [0.5, -2, 1.25]))),
        (names[3], .int32(values: [1, -2, .max, .min], shape: [2, 2])),
        (names[4], .float32(Tensor(shape: [0, 7]))),
      ], metadata: ["k": "v\u{1}\\"], to: url)
    let file = try SafetensorsFile(url: url)
    #expect(file.metadata == ["k": "v\u{1}\\"])
    #expect(file.tensorNames.sorted() == names.sorted())
    #expect(try file.loadTensor(names[0]).array.map(\.bitPattern) == exact.map(\.bitPattern))
    #expect(try file.info("b").dtype == .f16)
    #expect(try file.loadTensor("b").array.map(\.bitPattern) == exact.map { Float(Float16($0)).bitPattern })
    #expect(try file.loadTensor("c").array == [0.5, -2, 1.25])
    #expect(try file.int32Values("d") == [1, -2, .max, .min])
    #expect(try file.shape(of: "empty") == [0, 7])
    // Only the final file is left behind.
    #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path) == ["rt.safetensors"])
  }

  @Test func writerRejectsBadInput() throws {
    let url = scratch.url.appendingPathComponent("bad.safetensors")
    let t = Tensor(shape: [2])
    expectFormatError(try SafetensorsWriter.write([("a", t), ("a", t)], to: url)) {
      if case .invalidArgument(_, "tensor 'a'", _) = $0 { true } else { false }
    }
    expectFormatError(
      try SafetensorsWriter.write([(name: "i", payload: .int32(values: [1, 2, 3], shape: [2]))], to: url)
    ) {
      if case .invalidArgument(_, "tensor 'i'", _) = $0 { true } else { false }
    }
    expectFormatError(try SafetensorsWriter.write([("__metadata__", t)], to: url)) {
      if case .invalidArgument = $0 { true } else { false }
    }
    let missingDir = scratch.url.appendingPathComponent("no/such/dir/x.safetensors")
    expectFormatError(try SafetensorsWriter.write([("a", t)], to: missingDir)) {
      if case .io = $0 { true } else { false }
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).isEmpty)
  }
}
