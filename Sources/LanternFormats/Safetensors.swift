// safetensors reader (https://github.com/huggingface/safetensors), memory-mapped.
//
// Byte layout:
//  1. N: u64 little-endian, the header length (at most 100 MB and at most file size − 8)
//  2. N bytes of UTF-8 JSON: one object mapping each tensor name to
//     {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, plus an optional
//     "__metadata__": {string: string}; writers may pad it with trailing spaces
//  3. the byte buffer: tensor data at [begin, end) relative to the buffer start, little-endian,
//     row-major; tensors tile the buffer exactly (no overlap, no gap, nothing after the last),
//     as the reference Rust implementation requires
//
// Checks, in order: header length, UTF-8, JSON syntax (duplicate keys rejected), the fields of
// each entry (unknown fields rejected), dtype, shape (non-negative, overflow-checked element and
// byte counts), end − begin against the shape, offsets inside the buffer, and the tiling.
// Left out: the F4/F6/F8_E8M0 dtypes (rejected as unknown) and lazy/strided views.

import Foundation
import LanternTensor

/// A safetensors element type.
public enum SafetensorsDType: String, Sendable, CaseIterable {
  case bool = "BOOL"
  case u8 = "U8"
  case i8 = "I8"
  case f8E5M2 = "F8_E5M2"
  case f8E4M3 = "F8_E4M3"
  case i16 = "I16"
  case u16 = "U16"
  case f16 = "F16"
  case bf16 = "BF16"
  case i32 = "I32"
  case u32 = "U32"
  case f32 = "F32"
  case f64 = "F64"
  case i64 = "I64"
  case u64 = "U64"

  /// Bytes per element.
  public var size: Int {
    switch self {
    case .bool, .u8, .i8, .f8E5M2, .f8E4M3: return 1
    case .i16, .u16, .f16, .bf16: return 2
    case .i32, .u32, .f32: return 4
    case .f64, .i64, .u64: return 8
    }
  }
}

/// One tensor's header entry.
public struct SafetensorsTensorInfo: Sendable, Equatable {
  public let name: String
  public let dtype: SafetensorsDType
  /// Dimensions, outermost first.
  public let shape: [Int]
  /// Byte range relative to the start of the data buffer.
  public let dataOffsets: Range<Int>
  /// Product of `shape`.
  public let elementCount: Int
}

/// A safetensors file, mapped read-only with its header validated.
public final class SafetensorsFile: TensorSource {
  public let path: String
  /// The "__metadata__" string map (empty if absent).
  public let metadata: [String: String]
  /// Tensor entries in header order.
  public let tensorInfos: [SafetensorsTensorInfo]
  /// Absolute offset of the data buffer (8 + header length).
  public let dataOffset: Int

  private let file: MappedFile
  private let index: [String: Int]

  /// The largest header accepted (the reference implementation's limit).
  public static let maxHeaderLength = 100_000_000

  /// Opens and validates `path`.
  public init(path: String) throws {
    self.path = path
    file = try MappedFile(path: path)
    var r = ByteReader(path: path, bytes: file.bytes)
    let n = try r.read(UInt64.self, "header length")
    if n > UInt64(Self.maxHeaderLength) {
      throw FormatError.lengthTooLarge(
        path: path, field: "header length", offset: 0, value: n, limit: UInt64(Self.maxHeaderLength))
    }
    let header = try r.take(n, "JSON header")
    dataOffset = r.offset
    let bufferLength = r.remaining
    guard strictUTF8(header) != nil else {
      throw FormatError.invalidHeader(path: path, offset: 8, reason: "the header is not valid UTF-8")
    }
    guard case .object(let entries) = try JSONParser.parse(header, path: path, baseOffset: 8) else {
      throw FormatError.invalidHeader(path: path, offset: 8, reason: "the header is not a JSON object")
    }
    var metadata: [String: String] = [:]
    var infos: [SafetensorsTensorInfo] = []
    var index: [String: Int] = [:]
    for (name, value) in entries {
      if name == "__metadata__" {
        metadata = try Self.metadata(value, path: path)
        continue
      }
      let info = try Self.tensorInfo(name, value, path: path)
      if info.dataOffsets.upperBound > bufferLength {
        throw FormatError.tensorOutOfBounds(
          path: path, tensor: name, offset: dataOffset + info.dataOffsets.lowerBound,
          byteCount: info.dataOffsets.count, limit: file.size)
      }
      index[name] = infos.count
      infos.append(info)
    }
    try Self.checkTiling(infos, bufferLength: bufferLength, dataOffset: dataOffset, path: path)
    self.metadata = metadata
    tensorInfos = infos
    self.index = index
  }

  /// Opens and validates the file at `url`.
  public convenience init(url: URL) throws { try self.init(path: url.path) }

  private static func metadata(_ value: JSONValue, path: String) throws -> [String: String] {
    guard case .object(let pairs) = value else {
      throw FormatError.invalidValue(
        path: path, field: "__metadata__", offset: nil, reason: "is \(value.kind), not an object",
        hint: "metadata must map strings to strings; re-export the file")
    }
    var out: [String: String] = [:]
    for (key, v) in pairs {
      guard case .string(let s) = v else {
        throw FormatError.invalidValue(
          path: path, field: "__metadata__ key '\(key)'", offset: nil, reason: "is \(v.kind), not a string",
          hint: "metadata must map strings to strings; re-export the file")
      }
      out[key] = s
    }
    return out
  }

  private static func tensorInfo(_ name: String, _ value: JSONValue, path: String) throws
    -> SafetensorsTensorInfo
  {
    func bad(_ reason: String) -> FormatError {
      .invalidValue(
        path: path, field: "tensor '\(name)'", offset: nil, reason: reason,
        hint: "the header is corrupt or was written by a broken exporter; re-export the file")
    }
    guard case .object(let fields) = value else { throw bad("entry is \(value.kind), not an object") }
    var dtypeValue: JSONValue?
    var shapeValue: JSONValue?
    var offsetsValue: JSONValue?
    for (key, v) in fields {
      switch key {
      case "dtype": dtypeValue = v
      case "shape": shapeValue = v
      case "data_offsets": offsetsValue = v
      default: throw bad("unknown field \"\(key)\"")
      }
    }
    guard case .string(let dtypeName)? = dtypeValue else { throw bad("missing or non-string \"dtype\"") }
    guard case .array(let shapeItems)? = shapeValue else { throw bad("missing or non-array \"shape\"") }
    guard case .array(let offsetItems)? = offsetsValue, offsetItems.count == 2 else {
      throw bad("\"data_offsets\" must be an array of two integers")
    }
    guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
      throw FormatError.unknownDataType(path: path, tensor: name, type: "\"\(dtypeName)\"")
    }
    let shapeText =
      "[\(shapeItems.map { if case .number(let n) = $0 { n } else { $0.kind } }.joined(separator: ", "))]"
    var shape: [Int] = []
    for item in shapeItems {
      guard let d = item.nonNegativeInt else {
        throw FormatError.badShape(
          path: path, tensor: name, shape: shapeText, reason: "\(item.kind) is not a non-negative integer")
      }
      shape.append(d)
    }
    guard let count = checkedProduct(shape) else {
      throw FormatError.badShape(
        path: path, tensor: name, shape: shapeText, reason: "the element count overflows")
    }
    let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.size)
    guard !overflow else {
      throw FormatError.badShape(
        path: path, tensor: name, shape: shapeText, reason: "the byte size overflows")
    }
    guard let begin = offsetItems[0].nonNegativeInt, let end = offsetItems[1].nonNegativeInt else {
      throw bad("\"data_offsets\" must be non-negative integers that fit 64 bits")
    }
    guard begin <= end else { throw bad("\"data_offsets\" [\(begin), \(end)] end before they begin") }
    guard end - begin == bytes else {
      throw FormatError.sizeMismatch(path: path, tensor: name, expected: bytes, actual: end - begin)
    }
    return SafetensorsTensorInfo(
      name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end, elementCount: count)
  }

  /// Tensors must cover the buffer exactly: sorted by offset, each starts where the last ended.
  private static func checkTiling(
    _ infos: [SafetensorsTensorInfo], bufferLength: Int, dataOffset: Int, path: String
  ) throws {
    let sorted = infos.sorted {
      ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound) < (
        $1.dataOffsets.lowerBound, $1.dataOffsets.upperBound
      )
    }
    var end = 0
    var previous: String?
    for info in sorted {
      let begin = info.dataOffsets.lowerBound
      if begin < end, let previous {
        throw FormatError.overlappingTensors(
          path: path, tensor: info.name, other: previous, offset: dataOffset + begin)
      }
      if begin > end {
        throw FormatError.unusedBytes(
          path: path, offset: dataOffset + end, count: begin - end, after: previous)
      }
      end = info.dataOffsets.upperBound
      previous = info.name
    }
    if end < bufferLength {
      throw FormatError.unusedBytes(
        path: path, offset: dataOffset + end, count: bufferLength - end, after: previous)
    }
  }

  public var tensorNames: [String] { tensorInfos.map(\.name) }

  /// The entry for `name`.
  public func info(_ name: String) throws -> SafetensorsTensorInfo {
    guard let i = index[name] else { throw FormatError.missingTensor(path: path, tensor: name) }
    return tensorInfos[i]
  }

  public func shape(of name: String) throws -> [Int] { try info(name).shape }

  /// Calls `body` with the stored bytes of `name`.
  public func withRawBytes<R>(of name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
    let info = try info(name)
    let start = dataOffset + info.dataOffsets.lowerBound
    return try body(UnsafeRawBufferPointer(rebasing: file.bytes[start..<(start + info.dataOffsets.count)]))
  }

  /// Loads `name` converted to Float32 (integers and F64 are rounded to the nearest Float).
  public func loadTensor(_ name: String) throws -> Tensor {
    let info = try info(name)
    let tensor = Tensor(shape: info.shape)
    let n = info.elementCount
    if n == 0 { return tensor }
    try withRawBytes(of: name) { raw in
      let src = raw.baseAddress!
      let dst = tensor.pointer
      switch info.dtype {
      case .f32: UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: n * 4)
      case .f16: Dequantize.float16(src, dst, n)
      case .bf16: Dequantize.bfloat16(src, dst, n)
      case .f64: Dequantize.convert(src, dst, n, Double.self)
      case .i64: Dequantize.convert(src, dst, n, Int64.self)
      case .u64: Dequantize.convert(src, dst, n, UInt64.self)
      case .i32: Dequantize.convert(src, dst, n, Int32.self)
      case .u32: Dequantize.convert(src, dst, n, UInt32.self)
      case .i16: Dequantize.convert(src, dst, n, Int16.self)
      case .u16: Dequantize.convert(src, dst, n, UInt16.self)
      case .i8: Dequantize.convert(src, dst, n, Int8.self)
      case .u8: Dequantize.convert(src, dst, n, UInt8.self)
      case .bool:
        for i in 0..<n { dst[i] = src.load(fromByteOffset: i, as: UInt8.self) == 0 ? 0 : 1 }
      case .f8E5M2:
        // E5M2 is the top byte of an IEEE half.
        for i in 0..<n {
          let b = UInt16(src.load(fromByteOffset: i, as: UInt8.self)) << 8
          dst[i] = Float(Float16(bitPattern: b))
        }
      case .f8E4M3:
        for i in 0..<n { dst[i] = float8E4M3FN(src.load(fromByteOffset: i, as: UInt8.self)) }
      }
    }
    return tensor
  }

  /// Loads an integer tensor (I32, or I64/U32/U64 whose values fit; smaller ints and BOOL
  /// widen) as Int32, row-major. Float dtypes throw `.unsupportedDataType`.
  public func int32Values(_ name: String) throws -> [Int32] {
    let info = try info(name)
    let n = info.elementCount
    return try withRawBytes(of: name) { raw -> [Int32] in
      func widen<T: FixedWidthInteger>(_: T.Type) throws -> [Int32] {
        var out = [Int32](repeating: 0, count: n)
        for i in 0..<n {
          let v = raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)
          guard let w = Int32(exactly: v) else {
            throw FormatError.valueOutOfRange(path: path, tensor: name, index: i, value: "\(v)")
          }
          out[i] = w
        }
        return out
      }
      switch info.dtype {
      case .i32: return try widen(Int32.self)
      case .i64: return try widen(Int64.self)
      case .u64: return try widen(UInt64.self)
      case .u32: return try widen(UInt32.self)
      case .i16: return try widen(Int16.self)
      case .u16: return try widen(UInt16.self)
      case .i8: return try widen(Int8.self)
      case .u8: return try widen(UInt8.self)
      case .bool: return try widen(UInt8.self).map { $0 == 0 ? 0 : 1 }
      case .f32, .f16, .bf16, .f64, .f8E5M2, .f8E4M3:
        throw FormatError.unsupportedDataType(
          path: path, tensor: name, type: info.dtype.rawValue, wanted: "Int32")
      }
    }
  }
}

/// Decodes float8 E4M3FN (bias 7, no infinities, S.1111.111 is NaN) exactly.
func float8E4M3FN(_ b: UInt8) -> Float {
  let sign: Float = b & 0x80 != 0 ? -1 : 1
  let e = Int((b >> 3) & 0x0F)
  let m = Float(b & 0x07)
  if e == 15 && b & 0x07 == 7 { return .nan }
  if e == 0 { return sign * m * 0x1p-9 }
  return sign * (1 + m / 8) * Float(sign: .plus, exponent: e - 7, significand: 1)
}
