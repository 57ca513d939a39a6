// .npy reader and writer (numpy's array format, NEP 1), for Float32 and Int32 arrays.
//
// Byte layout:
//  1. magic: 6 bytes "\x93NUMPY"
//  2. version: u8 major, u8 minor — 1.0, 2.0 or 3.0
//  3. header length H: u16 little-endian (v1) or u32 (v2, v3)
//  4. H bytes: a Python dict literal, ASCII (v3: UTF-8), e.g.
//     {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
//     padded with spaces and ending in '\n' so the data starts at a multiple of 64
//  5. data: product(shape) × item size bytes, C order
//
// The reader accepts exactly the keys 'descr', 'fortran_order', 'shape'; descr '<f4', '<f2',
// '<f8' for floats and '<i4', '<i8', '<i2', '<u2', '<u4', '<u8', '|i1', '|u1', '|b1' for
// integers. Fortran order and big-endian data are rejected with a clear error, as is any data
// length other than exactly what the shape needs. The writer reproduces numpy's `np.save`
// output byte for byte (header text, growth padding, alignment) and writes atomically.

import Foundation
import LanternTensor

/// Reads and writes .npy files.
public enum NPY {
  /// Headers longer than this are rejected (numpy's own default limit is 10,000 bytes).
  public static let maxHeaderLength = 1 << 20

  // MARK: Writing

  /// Writes `tensor` as a little-endian float32 array.
  public static func writeFloat32(_ tensor: Tensor, to url: URL) throws {
    try writeFloat32(UnsafePointer(tensor.pointer), shape: tensor.shape, to: url)
  }

  /// Writes `product(shape)` floats from `pointer` as a float32 array of `shape`.
  public static func writeFloat32(_ pointer: UnsafePointer<Float>, shape: [Int], to url: URL) throws {
    guard shape.allSatisfy({ $0 >= 0 }), let count = checkedProduct(shape) else {
      throw FormatError.invalidArgument(path: url.path, subject: "array", reason: "invalid shape \(shape)")
    }
    try write(
      descr: "<f4", shape: shape, bytes: UnsafeRawBufferPointer(start: pointer, count: count * 4), to: url)
  }

  /// Writes `values` as a little-endian int32 array of `shape`.
  public static func writeInt32(values: [Int32], shape: [Int], to url: URL) throws {
    guard shape.allSatisfy({ $0 >= 0 }), checkedProduct(shape) == values.count else {
      throw FormatError.invalidArgument(
        path: url.path, subject: "array", reason: "\(values.count) values for shape \(shape)")
    }
    try values.withUnsafeBytes { try write(descr: "<i4", shape: shape, bytes: $0, to: url) }
  }

  private static func write(descr: String, shape: [Int], bytes: UnsafeRawBufferPointer, to url: URL) throws {
    let shapeText =
      shape.count == 1 ? "(\(shape[0]),)" : "(\(shape.map(String.init).joined(separator: ", ")))"
    var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
    if let first = shape.first { dict += String(repeating: " ", count: max(0, 21 - String(first).count)) }
    let text = Array(dict.utf8)
    // numpy: padlen = 64 - ((magic 8 + size field + len + 1) % 64), then spaces and '\n'.
    var major: UInt8 = 1
    var fieldSize = 2
    var padding = 64 - (8 + fieldSize + text.count + 1) % 64
    if text.count + 1 + padding > 0xFFFF {
      major = 2
      fieldSize = 4
      padding = 64 - (8 + fieldSize + text.count + 1) % 64
    }
    let headerLength = text.count + padding + 1
    try writeAtomically(to: url) { sink in
      try sink.append([0x93] + Array("NUMPY".utf8) + [major, 0])
      if major == 1 {
        try sink.appendLittleEndian(UInt16(headerLength))
      } else {
        try sink.appendLittleEndian(UInt32(headerLength))
      }
      try sink.append(text + [UInt8](repeating: 0x20, count: padding) + [0x0A])
      if bytes.count > 0 { try sink.append(bytes) }
    }
  }

  // MARK: Reading

  /// Reads a float array ('<f4', or '<f2'/'<f8' converted) as a Tensor.
  public static func readFloat32(_ url: URL) throws -> Tensor {
    let file = try MappedFile(path: url.path)
    let (header, data) = try parse(file)
    let path = url.path
    let tensor = Tensor(shape: header.shape)
    let n = tensor.count
    guard let base = data.baseAddress, n > 0 else { return tensor }
    switch header.descr {
    case "<f4": UnsafeMutableRawPointer(tensor.pointer).copyMemory(from: base, byteCount: n * 4)
    case "<f2": Dequantize.float16(base, tensor.pointer, n)
    case "<f8": Dequantize.convert(base, tensor.pointer, n, Double.self)
    default:
      throw FormatError.unsupportedDataType(
        path: path, tensor: "array", type: header.descr, wanted: "Float32")
    }
    return tensor
  }

  /// Reads an integer array ('<i4', or a narrower/wider integer type whose values fit) as Int32.
  public static func readInt32(_ url: URL) throws -> (values: [Int32], shape: [Int]) {
    let file = try MappedFile(path: url.path)
    let (header, data) = try parse(file)
    let path = url.path
    let n = header.count
    func widen<T: FixedWidthInteger>(_: T.Type) throws -> [Int32] {
      var out = [Int32](repeating: 0, count: n)
      for i in 0..<n {
        let v = data.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)
        guard let w = Int32(exactly: v) else {
          throw FormatError.valueOutOfRange(path: path, tensor: "array", index: i, value: "\(v)")
        }
        out[i] = w
      }
      return out
    }
    let values: [Int32]
    switch header.descr {
    case "<i4": values = try widen(Int32.self)
    case "<i8": values = try widen(Int64.self)
    case "<u8": values = try widen(UInt64.self)
    case "<u4": values = try widen(UInt32.self)
    case "<i2": values = try widen(Int16.self)
    case "<u2": values = try widen(UInt16.self)
    case "|i1": values = try widen(Int8.self)
    case "|u1", "|b1": values = try widen(UInt8.self)
    default:
      throw FormatError.unsupportedDataType(path: path, tensor: "array", type: header.descr, wanted: "Int32")
    }
    return (values, header.shape)
  }

  struct Header {
    var descr: String
    var shape: [Int]
    var count: Int
  }

  static let itemSizes: [String: Int] = [
    "<f4": 4, "<f2": 2, "<f8": 8, "<i4": 4, "<i8": 8, "<u8": 8, "<u4": 4, "<i2": 2, "<u2": 2, "|i1": 1,
    "|u1": 1, "|b1": 1,
  ]

  /// Validates the whole file and returns its header and data bytes.
  static func parse(_ file: MappedFile) throws -> (Header, UnsafeRawBufferPointer) {
    let path = file.path
    var r = ByteReader(path: path, bytes: file.bytes)
    let magic = Array(try r.take(6, "magic"))
    guard magic == [0x93] + Array("NUMPY".utf8) else {
      throw FormatError.badMagic(path: path, found: magic, expected: ".npy (\"\\x93NUMPY\")")
    }
    let major = try r.read(UInt8.self, "major version")
    let minor = try r.read(UInt8.self, "minor version")
    guard (1...3).contains(major), minor == 0 else {
      throw FormatError.unsupportedVersion(
        path: path, version: "\(major).\(minor)", supported: "1.0, 2.0, 3.0")
    }
    let lengthOffset = r.offset
    let length =
      major == 1
      ? UInt64(try r.read(UInt16.self, "header length")) : UInt64(try r.read(UInt32.self, "header length"))
    if length > UInt64(maxHeaderLength) {
      throw FormatError.lengthTooLarge(
        path: path, field: "header length", offset: lengthOffset, value: length,
        limit: UInt64(maxHeaderLength))
    }
    let headerOffset = r.offset
    let text = try r.take(length, "header")
    var dict = try PythonLiteral.parseHeader(text, path: path, baseOffset: headerOffset, utf8: major == 3)

    guard case .string(let descr)? = dict.removeValue(forKey: "descr"),
      case .bool(let fortran)? = dict.removeValue(forKey: "fortran_order"),
      case .tuple(let shape)? = dict.removeValue(forKey: "shape"), dict.isEmpty
    else {
      throw FormatError.invalidHeader(
        path: path, offset: headerOffset,
        reason:
          "the header must hold exactly 'descr' (a string), 'fortran_order' (a bool) and 'shape' (a tuple)")
    }
    guard !fortran else {
      throw FormatError.unsupported(
        path: path, subject: "fortran_order", reason: "the array is stored in Fortran (column-major) order",
        hint: "save it in C order: np.save(path, np.ascontiguousarray(a))")
    }
    if descr.hasPrefix(">") {
      throw FormatError.unsupported(
        path: path, subject: "descr '\(descr)'", reason: "the array is big-endian",
        hint: "save it little-endian: np.save(path, a.astype(a.dtype.newbyteorder('<')))")
    }
    guard let itemSize = itemSizes[descr] else {
      throw FormatError.unknownDataType(path: path, tensor: "array", type: "descr '\(descr)'")
    }
    guard let count = checkedProduct(shape),
      case let (bytes, false) = count.multipliedReportingOverflow(by: itemSize)
    else {
      throw FormatError.badShape(path: path, tensor: "array", shape: "\(shape)", reason: "the size overflows")
    }
    let dataOffset = r.offset
    let data = try r.take(UInt64(bytes), "array data of shape \(shape)")
    if r.remaining > 0 {
      throw FormatError.unusedBytes(path: path, offset: dataOffset + bytes, count: r.remaining, after: nil)
    }
    return (Header(descr: descr, shape: shape, count: count), data)
  }
}
