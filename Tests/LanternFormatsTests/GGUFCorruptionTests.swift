// GGUF corruption, field by field: each test edits one field of a small valid file (built by
// GGUFBuilder) and expects the specific error that names it. Plus every truncation length of
// the file and of gguf-py's quant.gguf: always a FormatError, never a crash.

import Foundation
import LanternFormats
import LanternTestSupport
import Testing

@Suite struct GGUFCorruptionTests {
  let scratch: Scratch
  init() throws { scratch = try Scratch() }

  func open(_ bytes: [UInt8]) throws -> GGUFFile {
    try GGUFFile(path: try scratch.write(bytes, "model.gguf"))
  }

  @Test func smallFileIsValid() throws {
    var b = GGUFBuilder.small()
    let file = try open(b.build())
    #expect(file.tensorNames == ["norm.weight", "blk.0.attn_q.weight"])
    #expect(try file.loadTensor("norm.weight").array == [1, -2, 0.5, 4])
    let q = try file.loadTensor("blk.0.attn_q.weight")
    #expect(q.shape == [2, 32])
    #expect(q[flat: 0] == -8 && q[flat: 31] == 7.5 && q[flat: 32] == -16)
    #expect(try file.stringArray("tokenizer.ggml.tokens") == ["a", "bc"])
  }

  @Test func badMagic() throws {
    var b = GGUFBuilder.small()
    b.magic = Array("GGML".utf8)
    expectFormatError(try open(b.build())) {
      if case .badMagic(_, let found, _) = $0 { found == Array("GGML".utf8) } else { false }
    }
  }

  @Test(arguments: [UInt32(0), 1, 4, 99])
  func unsupportedVersion(version: UInt32) throws {
    var b = GGUFBuilder.small()
    b.version = version
    expectFormatError(try open(b.build())) {
      if case .unsupportedVersion(_, "\(version)", _) = $0 { true } else { false }
    }
  }

  @Test func version2IsAccepted() throws {
    var b = GGUFBuilder.small()
    b.version = 2
    #expect(try open(b.build()).version == 2)
  }

  @Test func bigEndianIsNamed() throws {
    var b = GGUFBuilder.small()
    b.version = UInt32(3).byteSwapped
    expectFormatError(try open(b.build())) {
      if case .unsupported(_, _, let reason, _) = $0 { reason.contains("big-endian") } else { false }
    }
  }

  @Test func everyTruncationThrows() throws {
    var b = GGUFBuilder.small()
    let bytes = b.build()
    let path = scratch.path("prefix.gguf")
    for length in 0..<bytes.count {
      try Data(bytes[0..<length]).write(to: URL(fileURLWithPath: path))
      let error = formatError { try GGUFFile(path: path) }
      // Inside the header the error is a truncation; past it, a tensor out of bounds.
      switch error {
      case .truncated?, .lengthTooLarge?:
        #expect(length < b.field("data"), "prefix \(length): \(String(describing: error))")
      case .tensorOutOfBounds?:
        #expect(length >= b.field("tensor:norm.weight"), "prefix \(length)")
      default:
        Issue.record("prefix \(length): unexpected \(String(describing: error))")
      }
    }
  }

  @Test func everyTruncationOfGGUFPyFileThrows() throws {
    let bytes = try fixtureBytes("formats/quant.gguf")
    let path = scratch.path("prefix.gguf")
    for length in stride(from: 0, to: bytes.count, by: 7) {
      try Data(bytes[0..<length]).write(to: URL(fileURLWithPath: path))
      _ = formatError { try GGUFFile(path: path) }
    }
  }

  @Test func tensorOffsetPastEnd() throws {
    var b = GGUFBuilder.small()
    var bytes = b.build()
    bytes.patch(b.field("tensor:blk.0.attn_q.weight:offset"), UInt64(1 << 20))
    let size = bytes.count
    let dataStart = b.field("data")
    expectFormatError(try open(bytes)) {
      if case .tensorOutOfBounds(_, "blk.0.attn_q.weight", let offset, 68, size) = $0 {
        offset == dataStart + (1 << 20)
      } else {
        false
      }
    }
    // An offset near UInt64.max must not wrap around.
    bytes.patch(b.field("tensor:blk.0.attn_q.weight:offset"), UInt64.max - 31)
    expectFormatError(try open(bytes)) {
      if case .tensorOutOfBounds(_, "blk.0.attn_q.weight", _, _, _) = $0 { true } else { false }
    }
  }

  @Test func overlappingTensors() throws {
    var b = GGUFBuilder.small()
    b.tensors[1].offset = 0
    expectFormatError(try open(b.build())) {
      if case .overlappingTensors(_, let t, let other, _) = $0 {
        Set([t, other]) == ["norm.weight", "blk.0.attn_q.weight"]
      } else {
        false
      }
    }
  }

  @Test func misalignedOffset() throws {
    var b = GGUFBuilder.small()
    b.tensors[1].offset = 36
    expectFormatError(try open(b.build())) {
      if case .misalignedTensor(_, "blk.0.attn_q.weight", 36, 32) = $0 { true } else { false }
    }
  }

  @Test func overflowingDims() throws {
    var b = GGUFBuilder.small()
    b.tensors[0].dims = [1 << 32, 1 << 32]
    expectFormatError(try open(b.build())) {
      if case .badShape(_, "norm.weight", _, let reason) = $0 { reason.contains("overflow") } else { false }
    }
    // Element count fits but the Q8_0 byte count (34 per 32) does not.
    b = GGUFBuilder.small()
    b.tensors[1].dims = [(1 << 63) - 32, 1]
    expectFormatError(try open(b.build())) {
      if case .badShape(_, "blk.0.attn_q.weight", _, let reason) = $0 {
        reason.contains("overflow")
      } else {
        false
      }
    }
    b = GGUFBuilder.small()
    b.tensors[0].dims = [UInt64.max]
    expectFormatError(try open(b.build())) {
      if case .badShape(_, "norm.weight", _, let reason) = $0 {
        reason.contains("dimension 0")
      } else {
        false
      }
    }
  }

  @Test func zeroDimensionAndTooManyDims() throws {
    var b = GGUFBuilder.small()
    b.tensors[0].dims = [4, 0]
    expectFormatError(try open(b.build())) {
      if case .badShape(_, "norm.weight", _, let reason) = $0 {
        reason.contains("dimension 1 is 0")
      } else {
        false
      }
    }
    b = GGUFBuilder.small()
    b.tensors[0].dims = [1, 1, 1, 1, 4]
    expectFormatError(try open(b.build())) {
      if case .badShape(_, "norm.weight", _, let reason) = $0 { reason.contains("at most 4") } else { false }
    }
    var bytes: [UInt8]
    b = GGUFBuilder.small()
    bytes = b.build()
    bytes.patch(b.field("tensor:norm.weight:n_dims"), UInt32.max)
    expectFormatError(try open(bytes)) {
      if case .badShape(_, "norm.weight", _, _) = $0 { true } else { false }
    }
  }

  @Test func rowNotWholeBlocks() throws {
    var b = GGUFBuilder.small()
    b.tensors[1].dims = [31, 2]
    expectFormatError(try open(b.build())) {
      if case .badShape(_, "blk.0.attn_q.weight", _, let reason) = $0 {
        reason.contains("Q8_0 blocks")
      } else {
        false
      }
    }
  }

  @Test func hugeStringLength() throws {
    var b = GGUFBuilder.small()
    var bytes = b.build()
    let at = b.field("kv:general.architecture:value")
    bytes.patch(at, UInt64(1) << 62)
    expectFormatError(try open(bytes)) {
      if case .lengthTooLarge(_, let field, at, 1 << 62, _) = $0 {
        field.contains("general.architecture")
      } else {
        false
      }
    }
    // The key itself.
    bytes = b.build()
    bytes.patch(b.field("kv:llama.block_count"), UInt64.max)
    expectFormatError(try open(bytes)) {
      if case .lengthTooLarge(_, let field, _, UInt64.max, _) = $0 {
        field.contains("key of metadata pair 1")
      } else {
        false
      }
    }
    // A tensor name.
    bytes = b.build()
    bytes.patch(b.field("tensor:norm.weight"), UInt64(bytes.count))
    expectFormatError(try open(bytes)) {
      if case .lengthTooLarge(_, let field, _, _, _) = $0 {
        field.contains("name of tensor 0")
      } else {
        false
      }
    }
  }

  @Test func hugeArrayLength() throws {
    var b = GGUFBuilder.small()
    var bytes = b.build()
    // Array payload: u32 element type, then the u64 count.
    let countAt = b.field("kv:tokenizer.ggml.tokens:value") + 4
    bytes.patch(countAt, UInt64(1) << 60)
    expectFormatError(try open(bytes)) {
      if case .lengthTooLarge(_, let field, countAt, 1 << 60, _) = $0 {
        field.contains("tokenizer.ggml.tokens")
      } else {
        false
      }
    }
  }

  @Test func hugeCounts() throws {
    var b = GGUFBuilder.small()
    var bytes = b.build()
    bytes.patch(b.field("tensor_count"), UInt64.max)
    expectFormatError(try open(bytes)) {
      if case .lengthTooLarge(_, "tensor_count", _, UInt64.max, _) = $0 { true } else { false }
    }
    bytes = b.build()
    bytes.patch(b.field("kv_count"), UInt64(1) << 40)
    expectFormatError(try open(bytes)) {
      if case .lengthTooLarge(_, "metadata_kv_count", _, 1 << 40, _) = $0 { true } else { false }
    }
  }

  @Test func nestedArrays() throws {
    var b = GGUFBuilder.small()
    let inner = GGUFBuilder.array(4, [GGUFBuilder.u32(1)])
    b.add("ok.nested", type: 9, GGUFBuilder.array(9, [inner, inner]))
    #expect(try open(b.build()).metadata["ok.nested"]?.array?.count == 2)
    // Five levels deep is rejected.
    var deep = GGUFBuilder.array(4, [GGUFBuilder.u32(1)])
    for _ in 0..<4 { deep = GGUFBuilder.array(9, [deep]) }
    b = GGUFBuilder.small()
    b.add("too.deep", type: 9, deep)
    expectFormatError(try open(b.build())) {
      if case .invalidValue(_, let field, _, let reason, _) = $0 {
        field.contains("too.deep") && reason.contains("nest")
      } else {
        false
      }
    }
  }

  @Test func duplicateTensorNames() throws {
    var b = GGUFBuilder.small()
    b.tensors[1].name = "norm.weight"
    b.tensors[1].offset = 32
    let bytes = b.build()
    expectFormatError(try open(bytes)) {
      if case .duplicateTensor(_, "norm.weight", let offset?) = $0 {
        offset == b.field("tensor:norm.weight")
      } else {
        false
      }
    }
  }

  @Test func duplicateKeys() throws {
    var b = GGUFBuilder.small()
    b.add("llama.block_count", type: 4, GGUFBuilder.u32(3))
    expectFormatError(try open(b.build())) {
      if case .duplicateKey(_, "llama.block_count", _) = $0 { true } else { false }
    }
  }

  @Test func unknownValueType() throws {
    var b = GGUFBuilder.small()
    var bytes = b.build()
    let at = b.field("kv:llama.block_count:type")
    bytes.patch(at, UInt32(13))
    expectFormatError(try open(bytes)) {
      if case .unknownValueType(_, "llama.block_count", at, 13) = $0 { true } else { false }
    }
    // An unknown array element type.
    bytes = b.build()
    let elementAt = b.field("kv:tokenizer.ggml.tokens:value")
    bytes.patch(elementAt, UInt32(77))
    expectFormatError(try open(bytes)) {
      if case .unknownValueType(_, "tokenizer.ggml.tokens", elementAt, 77) = $0 { true } else { false }
    }
  }

  @Test func invalidBoolAndUTF8() throws {
    var b = GGUFBuilder.small()
    b.add("flag", type: 7, [2])
    expectFormatError(try open(b.build())) {
      if case .invalidValue(_, let field, _, _, _) = $0 { field.contains("flag") } else { false }
    }
    b = GGUFBuilder.small()
    b.add("bad.utf8", type: 8, [2, 0, 0, 0, 0, 0, 0, 0, 0xC3, 0x28])
    expectFormatError(try open(b.build())) {
      if case .invalidValue(_, let field, _, let reason, _) = $0 {
        field.contains("bad.utf8") && reason.contains("UTF-8")
      } else {
        false
      }
    }
  }

  @Test func unknownGGMLType() throws {
    var b = GGUFBuilder.small()
    b.tensors[0].type = 31
    expectFormatError(try open(b.build())) {
      if case .unknownDataType(_, "norm.weight", let type) = $0 { type.contains("31") } else { false }
    }
  }

  @Test func knownButUnsupportedTypeOpensButDoesNotLoad() throws {
    var b = GGUFBuilder.small()
    b.addTensor(
      "iq", dims: [256], type: .iq2_xs, data: [UInt8](repeating: 0, count: GGMLType.iq2_xs.typeSize))
    let file = try open(b.build())
    #expect(try file.info("iq").type == .iq2_xs)
    expectFormatError(try file.loadTensor("iq")) {
      if case .unsupportedDataType(_, "iq", "IQ2_XS", _) = $0 { true } else { false }
    }
  }

  @Test(arguments: [UInt32(0), 3, 48])
  func badAlignmentValue(alignment: UInt32) throws {
    var b = GGUFBuilder.small()
    b.add("general.alignment", type: 4, GGUFBuilder.u32(alignment))
    expectFormatError(try open(b.build())) {
      if case .badAlignment(_, let value) = $0 { value.contains("\(alignment)") } else { false }
    }
  }

  @Test func alignmentOfWrongType() throws {
    var b = GGUFBuilder.small()
    b.add("general.alignment", type: 8, GGUFBuilder.string("32"))
    expectFormatError(try open(b.build())) {
      if case .badAlignment(_, let value) = $0 { value.contains("STRING") } else { false }
    }
  }

  @Test func validCustomAlignment() throws {
    var b = GGUFBuilder.small()
    b.alignment = 128
    b.add("general.alignment", type: 4, GGUFBuilder.u32(128))
    let file = try open(b.build())
    #expect(file.dataOffset % 128 == 0)
    #expect(try file.info("blk.0.attn_q.weight").offset == 128)
    #expect(try file.loadTensor("norm.weight").array == [1, -2, 0.5, 4])
  }

  @Test func emptyFileAndDirectory() throws {
    expectFormatError(try open([])) {
      if case .truncated(_, "magic", 0, 4, 0) = $0 { true } else { false }
    }
    expectFormatError(try GGUFFile(path: scratch.url.path)) {
      if case .io(_, _, let reason) = $0 { reason.contains("not a regular file") } else { false }
    }
    expectFormatError(try GGUFFile(path: scratch.path("missing.gguf"))) {
      if case .io(_, "open", _) = $0 { true } else { false }
    }
  }

  @Test func messageNamesFileTensorAndOffset() throws {
    let error = FormatError.tensorOutOfBounds(
      path: "model.gguf", tensor: "blk.0.attn_q.weight", offset: 123456, byteCount: 8192, limit: 100000)
    #expect(
      error.description
        == "model.gguf: tensor 'blk.0.attn_q.weight' has data offset 123456 + 8192 bytes, past the end of the file (100000 bytes) ---> HINT: the file is truncated; download or write it again"
    )
  }
}
