// GGUF reading checked against gguf-py: quant.gguf (written by gguf.GGUFWriter) must dequantize
// bit for bit to what gguf.quants.dequantize produced (quant-expected.safetensors), and the
// header fields must match what gguf.GGUFReader reported (quant-expected.json). The real
// SmolLM2 model is checked the same way when it is present.

import Foundation
import LanternFormats
import LanternTensor
import LanternTestSupport
import Testing

@Suite struct GGUFReferenceTests {
  let gguf: GGUFFile
  let expected: SafetensorsFile
  let json: QuantExpectation

  init() throws {
    gguf = try GGUFFile(url: Fixtures.url("formats/quant.gguf"))
    expected = try SafetensorsFile(url: Fixtures.url("formats/quant-expected.safetensors"))
    json = try decodeFixture(QuantExpectation.self, "formats/quant-expected.json")
  }

  @Test func headerMatchesGGUFPy() throws {
    #expect(gguf.version == 3)
    #expect(gguf.alignment == json.alignment)
    #expect(gguf.dataOffset == json.data_offset)
    #expect(gguf.tensorNames == json.tensor_order)
    #expect(gguf.architecture == "lantern-test")
    for info in gguf.tensorInfos {
      let want = try #require(json.tensors[info.name])
      #expect(info.shape == want.shape, "\(info.name)")
      #expect(try gguf.shape(of: info.name) == want.shape)
      #expect(info.type.description == want.type, "\(info.name)")
      #expect(gguf.dataOffset + info.offset == want.offset, "\(info.name)")
      #expect(info.byteCount == want.bytes, "\(info.name)")
      #expect(info.dims == want.shape.reversed())
    }
  }

  /// Every supported type, bit-exact against gguf-py (numpy `astype(float32)` for F64 and the
  /// integer types, which gguf-py does not dequantize).
  @Test(arguments: [
    "f32", "f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q8_0_3d", "f32_1d", "q2_K", "q3_K",
    "q4_K", "q5_K", "q6_K", "f64", "i8", "i16", "i32", "i64",
  ])
  func dequantizesBitExactly(name: String) throws {
    let got = try gguf.loadTensor(name)
    let want = try expected.loadTensor(name)
    #expect(got.shape == want.shape)
    #expect(firstBitwiseMismatch(got.array, want.array) == nil, "\(name): first mismatch")
    #expect(want.array.contains { $0 != 0 }, "reference for \(name) is all zeros")
  }

  @Test func pooledDequantizationMatchesSerial() throws {
    let pool = sharedTestPool
    for name in gguf.tensorNames {
      let serial = try gguf.loadTensor(name, pool: nil)
      let pooled = try gguf.loadTensor(name, pool: pool)
      #expect(serial.array.map(\.bitPattern) == pooled.array.map(\.bitPattern), "\(name)")
    }
  }

  @Test func metadataOfEveryValueType() throws {
    let m = gguf.metadata
    #expect(m["test.u8"] == .uint8(200))
    #expect(m["test.i8"] == .int8(-100))
    #expect(m["test.u16"] == .uint16(60000))
    #expect(m["test.i16"] == .int16(-30000))
    #expect(m["test.u32"] == .uint32(4_000_000_000))
    #expect(m["test.i32"] == .int32(-2_000_000_000))
    #expect(m["test.f32"] == .float32(0.1))
    #expect(m["test.bool"] == .bool(true))
    #expect(m["test.string"] == .string("héllo ☃ wörld"))
    #expect(m["test.u64"] == .uint64(18_000_000_000_000_000_000))
    #expect(m["test.i64"] == .int64(-9_000_000_000_000_000_000))
    #expect(m["test.f64"] == .float64(2.718281828459045))
    #expect(m["test.strings"]?.stringArray == ["a", "", "ĠĠ", "<|im_end|>"])
    #expect(m["test.ints"] == .array([.int32(1), .int32(-2), .int32(3)]))
    #expect(m["test.u8s"] == .array([.uint8(1), .uint8(2), .uint8(255)]))
    #expect(m["test.floats"]?.floatArray == [0.5, -1.25])
    #expect(m["test.nested"] == .array([.array([.int32(1), .int32(2)]), .array([.int32(3)])]))
    #expect(gguf.metadataKeys.first == "general.architecture")
    #expect(gguf.metadataKeys.count == m.count)

    // Typed accessors and their errors.
    #expect(try gguf.int("test.u32") == 4_000_000_000)
    #expect(try gguf.int("test.i64") == -9_000_000_000_000_000_000)
    #expect(m["test.u64"]?.int == nil)  // does not fit Int
    #expect(try gguf.float("test.f32") == 0.1)
    #expect(try gguf.bool("test.bool"))
    #expect(try gguf.string("general.architecture") == "lantern-test")
    #expect(try gguf.intArray("test.ints") == [1, -2, 3])
    #expect(try gguf.stringArray("test.strings").count == 4)
    expectFormatError(try gguf.int("test.string")) {
      if case .wrongValueType(_, "test.string", _, "STRING") = $0 { true } else { false }
    }
    expectFormatError(try gguf.string("no.such.key")) {
      if case .missingKey(_, "no.such.key") = $0 { true } else { false }
    }
    expectFormatError(try gguf.loadTensor("missing.weight")) {
      if case .missingTensor(_, "missing.weight") = $0 { true } else { false }
    }
  }

  @Test func customAlignment() throws {
    let file = try GGUFFile(url: Fixtures.url("formats/aligned64.gguf"))
    #expect(file.alignment == 64)
    #expect(file.dataOffset % 64 == 0)
    #expect(try file.loadTensor("a").array == [0, 1, 2])
    let b = try file.loadTensor("b")
    #expect(b.shape == [2, 3])
    #expect(b.array == [0, -0.5, -1, -1.5, -2, -2.5])
    #expect(try file.info("b").offset % 64 == 0)
  }

  /// The real model, when present (`LANTERN_SMOLLM2_GGUF` or .models/): header facts and a few
  /// dequantized rows against gguf-py (smollm2-slices.*, made from the same file).
  @Test func realModelMatchesGGUFPy() throws {
    guard let url = Fixtures.smolLM2GGUF else { return }
    struct Slices: Decodable {
      struct Info: Decodable {
        let shape: [Int]
        let type: String
      }
      let tensors: [String: Info]
    }
    let file = try GGUFFile(url: url, pool: sharedTestPool)
    let slices = try SafetensorsFile(url: Fixtures.url("formats/smollm2-slices.safetensors"))
    let json = try decodeFixture(Slices.self, "formats/smollm2-slices.json")
    #expect(file.architecture == "llama")
    #expect(file.tensorInfos.count == 272)
    #expect(try file.int("llama.block_count") == 30)
    #expect(try file.int("llama.attention.head_count_kv") == 3)
    #expect(try file.float("llama.rope.freq_base") == 100_000)
    let tokens = try file.stringArray("tokenizer.ggml.tokens")
    #expect(tokens.count == 49152)
    #expect(tokens[1] == "<|im_start|>" && tokens[49151] == "ectable")
    for (name, info) in json.tensors {
      let full = try file.loadTensor(name)
      #expect(full.shape == info.shape)
      #expect(try file.info(name).type.description == info.type)
      let want = try slices.loadTensor(name)
      let got: [Float]
      if info.shape.count == 2 {
        let cols = info.shape[1]
        let rows = full.array
        got = Array(rows[0..<cols]) + Array(rows[(rows.count - cols)...])
      } else {
        got = full.array
      }
      #expect(firstBitwiseMismatch(got, want.array) == nil, "\(name)")
    }
  }
}
