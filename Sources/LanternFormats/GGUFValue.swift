// GGUF metadata values: the typed enum, convenience accessors, and the validating parser.
//
// Value type codes (u32): 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool (one byte, 0 or
// 1), 8 string (u64 length + UTF-8 bytes, no terminator), 9 array (u32 element type, u64 count,
// elements), 10 u64, 11 i64, 12 f64. ggml itself rejects arrays of arrays; gguf-py writes
// them, so they are accepted here up to a nesting depth of `maxArrayDepth`.

/// A GGUF metadata value.
public enum GGUFValue: Sendable, Equatable {
  case uint8(UInt8)
  case int8(Int8)
  case uint16(UInt16)
  case int16(Int16)
  case uint32(UInt32)
  case int32(Int32)
  case float32(Float)
  case bool(Bool)
  case string(String)
  case array([GGUFValue])
  case uint64(UInt64)
  case int64(Int64)
  case float64(Double)

  /// The GGUF type name ("UINT32", "ARRAY[STRING]", ...), for messages.
  public var typeName: String {
    switch self {
    case .uint8: return "UINT8"
    case .int8: return "INT8"
    case .uint16: return "UINT16"
    case .int16: return "INT16"
    case .uint32: return "UINT32"
    case .int32: return "INT32"
    case .float32: return "FLOAT32"
    case .bool: return "BOOL"
    case .string: return "STRING"
    case .array(let values): return "ARRAY[\(values.first?.typeName ?? "empty")]"
    case .uint64: return "UINT64"
    case .int64: return "INT64"
    case .float64: return "FLOAT64"
    }
  }

  /// Any integer value that fits `Int` (not bools, not floats).
  public var int: Int? {
    switch self {
    case .uint8(let v): return Int(v)
    case .int8(let v): return Int(v)
    case .uint16(let v): return Int(v)
    case .int16(let v): return Int(v)
    case .uint32(let v): return Int(v)
    case .int32(let v): return Int(v)
    case .uint64(let v): return Int(exactly: v)
    case .int64(let v): return Int(v)
    default: return nil
    }
  }

  /// A FLOAT32 value, or a FLOAT64 rounded to Float.
  public var float: Float? {
    switch self {
    case .float32(let v): return v
    case .float64(let v): return Float(v)
    default: return nil
    }
  }

  /// A FLOAT64 value, or a FLOAT32 widened exactly.
  public var double: Double? {
    switch self {
    case .float32(let v): return Double(v)
    case .float64(let v): return v
    default: return nil
    }
  }

  /// A BOOL value.
  public var bool: Bool? {
    if case .bool(let v) = self { return v }
    return nil
  }

  /// A STRING value.
  public var string: String? {
    if case .string(let v) = self { return v }
    return nil
  }

  /// An ARRAY's elements.
  public var array: [GGUFValue]? {
    if case .array(let v) = self { return v }
    return nil
  }

  /// An ARRAY whose elements are all strings.
  public var stringArray: [String]? {
    guard case .array(let values) = self else { return nil }
    var out: [String] = []
    out.reserveCapacity(values.count)
    for v in values {
      guard case .string(let s) = v else { return nil }
      out.append(s)
    }
    return out
  }

  /// An ARRAY whose elements are all integers that fit `Int`.
  public var intArray: [Int]? {
    guard case .array(let values) = self else { return nil }
    var out: [Int] = []
    out.reserveCapacity(values.count)
    for v in values {
      guard let i = v.int else { return nil }
      out.append(i)
    }
    return out
  }

  /// An ARRAY whose elements are all FLOAT32 (or FLOAT64, rounded).
  public var floatArray: [Float]? {
    guard case .array(let values) = self else { return nil }
    var out: [Float] = []
    out.reserveCapacity(values.count)
    for v in values {
      guard let f = v.float else { return nil }
      out.append(f)
    }
    return out
  }
}

/// Arrays may nest at most this deep (an array of arrays has depth 2).
let maxArrayDepth = 4

/// Bytes the smallest value of each type code occupies, used to bound counts read from the file
/// before anything is allocated; nil for unknown codes.
func minimumValueSize(_ type: UInt32) -> Int? {
  switch type {
  case 0, 1, 7: return 1
  case 2, 3: return 2
  case 4, 5, 6: return 4
  case 8: return 8
  case 9: return 12
  case 10, 11, 12: return 8
  default: return nil
  }
}

extension ByteReader {
  /// Reads a GGUF string (u64 length + UTF-8 bytes) for `field`.
  mutating func ggufString(_ field: @autoclosure () -> String) throws -> String {
    let start = offset
    let length = try read(UInt64.self, "\(field()) length")
    if length > UInt64(remaining) {
      throw FormatError.lengthTooLarge(
        path: path, field: "\(field()) length", offset: start, value: length,
        limit: UInt64(remaining))
    }
    let raw = try take(length, field())
    guard let s = strictUTF8(raw) else {
      throw FormatError.invalidValue(
        path: path, field: field(), offset: start, reason: "string is not valid UTF-8",
        hint: "the file is corrupt; download it again")
    }
    return s
  }

  /// Reads one metadata value of type code `type` belonging to `key`.
  mutating func ggufValue(type: UInt32, key: String, typeOffset: Int, depth: Int = 1) throws
    -> GGUFValue
  {
    switch type {
    case 0: return .uint8(try read(UInt8.self, "value of '\(key)'"))
    case 1: return .int8(try read(Int8.self, "value of '\(key)'"))
    case 2: return .uint16(try read(UInt16.self, "value of '\(key)'"))
    case 3: return .int16(try read(Int16.self, "value of '\(key)'"))
    case 4: return .uint32(try read(UInt32.self, "value of '\(key)'"))
    case 5: return .int32(try read(Int32.self, "value of '\(key)'"))
    case 6: return .float32(Float(bitPattern: try read(UInt32.self, "value of '\(key)'")))
    case 7:
      let at = offset
      let b = try read(UInt8.self, "value of '\(key)'")
      guard b <= 1 else {
        throw FormatError.invalidValue(
          path: path, field: "bool value of '\(key)'", offset: at, reason: "byte is \(b), not 0 or 1",
          hint: "the file is corrupt; download it again")
      }
      return .bool(b == 1)
    case 8: return .string(try ggufString("string value of '\(key)'"))
    case 9: return try ggufArray(key: key, depth: depth)
    case 10: return .uint64(try read(UInt64.self, "value of '\(key)'"))
    case 11: return .int64(try read(Int64.self, "value of '\(key)'"))
    case 12: return .float64(Double(bitPattern: try read(UInt64.self, "value of '\(key)'")))
    default:
      throw FormatError.unknownValueType(path: path, key: key, offset: typeOffset, type: type)
    }
  }

  private mutating func ggufArray(key: String, depth: Int) throws -> GGUFValue {
    let typeOffset = offset
    let elementType = try read(UInt32.self, "array element type of '\(key)'")
    guard let elementSize = minimumValueSize(elementType) else {
      throw FormatError.unknownValueType(path: path, key: key, offset: typeOffset, type: elementType)
    }
    if elementType == 9 && depth >= maxArrayDepth {
      throw FormatError.invalidValue(
        path: path, field: "array '\(key)'", offset: typeOffset,
        reason: "arrays nest deeper than \(maxArrayDepth) levels",
        hint: "the file is corrupt or was written by a broken converter")
    }
    let countOffset = offset
    let count = try read(UInt64.self, "array length of '\(key)'")
    let limit = UInt64(remaining / elementSize)
    if count > limit {
      throw FormatError.lengthTooLarge(
        path: path, field: "array length of '\(key)'", offset: countOffset, value: count, limit: limit)
    }
    var values: [GGUFValue] = []
    values.reserveCapacity(Int(count))
    for _ in 0..<Int(count) {
      values.append(try ggufValue(type: elementType, key: key, typeOffset: typeOffset, depth: depth + 1))
    }
    return .array(values)
  }
}
