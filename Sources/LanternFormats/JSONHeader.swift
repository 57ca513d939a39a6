// A small strict JSON parser for safetensors headers.
//
// Foundation's JSONSerialization silently keeps one of two duplicate keys and forgets key order;
// safetensors needs both detected and preserved. This parser follows RFC 8259 exactly (no
// comments, no trailing commas, no NaN, no leading zeros, no raw control characters in
// strings), keeps objects as ordered pairs, and rejects a key that appears twice in one object
// (at the top level, where keys are tensor names, as a duplicate tensor). Numbers stay literal
// text, converted on demand, so 64-bit offsets never pass through Double. Errors carry the byte
// offset. Left out: serialization (the writer emits its fixed shapes directly) and nesting
// deeper than 64 levels.

/// A parsed JSON value; objects keep their key order.
enum JSONValue: Equatable {
  case object([(key: String, value: JSONValue)])
  case array([JSONValue])
  case string(String)
  case number(String)
  case bool(Bool)
  case null

  static func == (a: JSONValue, b: JSONValue) -> Bool {
    switch (a, b) {
    case (.object(let x), .object(let y)):
      return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    case (.array(let x), .array(let y)): return x == y
    case (.string(let x), .string(let y)): return x == y
    case (.number(let x), .number(let y)): return x == y
    case (.bool(let x), .bool(let y)): return x == y
    case (.null, .null): return true
    default: return false
    }
  }

  /// A non-negative integer literal (no sign, fraction or exponent) that fits Int.
  var nonNegativeInt: Int? {
    guard case .number(let text) = self, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
      return nil
    }
    return Int(text)
  }

  /// The kind of value, for messages.
  var kind: String {
    switch self {
    case .object: return "an object"
    case .array: return "an array"
    case .string: return "a string"
    case .number(let n): return "the number \(n)"
    case .bool(let b): return "\(b)"
    case .null: return "null"
    }
  }
}

/// Parses JSON text; errors are `.invalidHeader` / `.duplicateKey` with offsets relative to
/// `baseOffset` (the header's position in the file).
struct JSONParser {
  private let bytes: UnsafeRawBufferPointer
  private let path: String
  private let baseOffset: Int
  private var i = 0

  static func parse(_ bytes: UnsafeRawBufferPointer, path: String, baseOffset: Int) throws -> JSONValue {
    var p = JSONParser(bytes: bytes, path: path, baseOffset: baseOffset)
    p.skipWhitespace()
    let value = try p.value(depth: 0)
    p.skipWhitespace()
    if p.i != bytes.count { throw p.error("unexpected \(p.describeNext()) after the JSON value") }
    return value
  }

  private init(bytes: UnsafeRawBufferPointer, path: String, baseOffset: Int) {
    self.bytes = bytes
    self.path = path
    self.baseOffset = baseOffset
  }

  private func error(_ reason: String, at position: Int? = nil) -> FormatError {
    .invalidHeader(path: path, offset: baseOffset + (position ?? i), reason: reason)
  }

  private func describeNext() -> String {
    guard i < bytes.count else { return "end of header" }
    let b = bytes[i]
    return b >= 0x20 && b < 0x7F ? "'\(Character(UnicodeScalar(b)))'" : "byte 0x\(String(b, radix: 16))"
  }

  private mutating func skipWhitespace() {
    while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 {
      i += 1
    }
  }

  private mutating func expect(_ literal: String, _ value: JSONValue) throws -> JSONValue {
    for b in literal.utf8 {
      guard i < bytes.count, bytes[i] == b else { throw error("invalid literal, expected '\(literal)'") }
      i += 1
    }
    return value
  }

  private mutating func value(depth: Int) throws -> JSONValue {
    guard depth < 64 else { throw error("nesting deeper than 64 levels") }
    guard i < bytes.count else { throw error("unexpected end of header, expected a value") }
    switch bytes[i] {
    case UInt8(ascii: "{"): return try object(depth: depth)
    case UInt8(ascii: "["): return try array(depth: depth)
    case UInt8(ascii: "\""): return .string(try string())
    case UInt8(ascii: "t"): return try expect("true", .bool(true))
    case UInt8(ascii: "f"): return try expect("false", .bool(false))
    case UInt8(ascii: "n"): return try expect("null", .null)
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
    default: throw error("unexpected \(describeNext()), expected a value")
    }
  }

  private mutating func object(depth: Int) throws -> JSONValue {
    i += 1
    var pairs: [(key: String, value: JSONValue)] = []
    var seen = Set<String>()
    skipWhitespace()
    if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
      i += 1
      return .object(pairs)
    }
    while true {
      skipWhitespace()
      guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else {
        throw error("unexpected \(describeNext()), expected a string key")
      }
      let keyOffset = i
      let key = try string()
      guard seen.insert(key).inserted else {
        // In a safetensors header the top-level keys are tensor names.
        if depth == 0 && key != "__metadata__" {
          throw FormatError.duplicateTensor(path: path, tensor: key, offset: baseOffset + keyOffset)
        }
        throw FormatError.duplicateKey(path: path, key: key, offset: baseOffset + keyOffset)
      }
      skipWhitespace()
      guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else {
        throw error("unexpected \(describeNext()), expected ':'")
      }
      i += 1
      skipWhitespace()
      pairs.append((key, try value(depth: depth + 1)))
      skipWhitespace()
      guard i < bytes.count else { throw error("unexpected end of header inside an object") }
      if bytes[i] == UInt8(ascii: ",") {
        i += 1
        continue
      }
      guard bytes[i] == UInt8(ascii: "}") else {
        throw error("unexpected \(describeNext()), expected ',' or '}'")
      }
      i += 1
      return .object(pairs)
    }
  }

  private mutating func array(depth: Int) throws -> JSONValue {
    i += 1
    var values: [JSONValue] = []
    skipWhitespace()
    if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
      i += 1
      return .array(values)
    }
    while true {
      skipWhitespace()
      values.append(try value(depth: depth + 1))
      skipWhitespace()
      guard i < bytes.count else { throw error("unexpected end of header inside an array") }
      if bytes[i] == UInt8(ascii: ",") {
        i += 1
        continue
      }
      guard bytes[i] == UInt8(ascii: "]") else {
        throw error("unexpected \(describeNext()), expected ',' or ']'")
      }
      i += 1
      return .array(values)
    }
  }

  private mutating func number() throws -> JSONValue {
    let start = i
    func digits(_ p: inout JSONParser) -> Int {
      let s = p.i
      while p.i < p.bytes.count, p.bytes[p.i] >= 0x30, p.bytes[p.i] <= 0x39 { p.i += 1 }
      return p.i - s
    }
    if bytes[i] == UInt8(ascii: "-") { i += 1 }
    let leadingZero = i < bytes.count && bytes[i] == UInt8(ascii: "0")
    let intDigits = digits(&self)
    guard intDigits > 0 else { throw error("invalid number: no digits", at: start) }
    guard !(leadingZero && intDigits > 1) else { throw error("invalid number: leading zero", at: start) }
    if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
      i += 1
      guard digits(&self) > 0 else { throw error("invalid number: no digits after '.'", at: start) }
    }
    if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
      i += 1
      if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
      guard digits(&self) > 0 else { throw error("invalid number: no digits in exponent", at: start) }
    }
    return .number(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self))
  }

  /// Parses a string starting at the opening quote. The header was checked to be valid UTF-8
  /// as a whole, so raw bytes are copied through and only escapes need care.
  private mutating func string() throws -> String {
    let start = i
    i += 1
    var out: [UInt8] = []
    while true {
      guard i < bytes.count else { throw error("unterminated string", at: start) }
      let b = bytes[i]
      if b == UInt8(ascii: "\"") {
        i += 1
        return String(decoding: out, as: UTF8.self)
      }
      if b < 0x20 { throw error("raw control character 0x\(String(b, radix: 16)) in a string") }
      if b != UInt8(ascii: "\\") {
        out.append(b)
        i += 1
        continue
      }
      i += 1
      guard i < bytes.count else { throw error("unterminated escape", at: start) }
      let e = bytes[i]
      i += 1
      switch e {
      case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
      case UInt8(ascii: "b"): out.append(0x08)
      case UInt8(ascii: "f"): out.append(0x0C)
      case UInt8(ascii: "n"): out.append(0x0A)
      case UInt8(ascii: "r"): out.append(0x0D)
      case UInt8(ascii: "t"): out.append(0x09)
      case UInt8(ascii: "u"):
        var scalar = try hex4()
        if scalar >= 0xD800 && scalar < 0xDC00 {
          guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
            throw error("unpaired surrogate \\u\(String(scalar, radix: 16))")
          }
          i += 2
          let low = try hex4()
          guard low >= 0xDC00 && low < 0xE000 else { throw error("invalid low surrogate") }
          scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let u = UnicodeScalar(scalar) else {
          throw error("escape \\u\(String(scalar, radix: 16)) is not a Unicode scalar")
        }
        out.append(contentsOf: Array(String(Character(u)).utf8))
      default:
        throw error("invalid escape '\\\(Character(UnicodeScalar(e)))'", at: i - 2)
      }
    }
  }

  private mutating func hex4() throws -> UInt32 {
    guard i + 4 <= bytes.count else { throw error("truncated \\u escape") }
    var v: UInt32 = 0
    for _ in 0..<4 {
      let c = bytes[i]
      let d: UInt8
      switch c {
      case 0x30...0x39: d = c - 0x30
      case 0x41...0x46: d = c - 0x41 + 10
      case 0x61...0x66: d = c - 0x61 + 10
      default: throw error("invalid hex digit in \\u escape")
      }
      v = v << 4 | UInt32(d)
      i += 1
    }
    return v
  }
}
