// The Python-literal subset used by .npy headers: a dict of string keys whose values are
// strings, True/False, or tuples of non-negative integers; then spaces and a final newline.
//
// numpy reads the header with `ast.literal_eval`; this parser accepts what numpy writes
// (and what older writers wrote: double quotes, Python 2 "3L" integers, no trailing comma)
// and rejects everything else: lists, nested dicts, floats, negative numbers, "(3)" (an int in
// Python, not a tuple), duplicate keys, and anything after the closing brace but whitespace.

enum PythonLiteral: Equatable {
  case string(String)
  case bool(Bool)
  case tuple([Int])

  /// Parses an .npy header dict. Offsets in errors are absolute (`baseOffset` + position).
  static func parseHeader(_ text: UnsafeRawBufferPointer, path: String, baseOffset: Int, utf8: Bool) throws
    -> [String: PythonLiteral]
  {
    let bytes = Array(text)
    var i = 0
    func fail(_ reason: String) -> FormatError {
      .invalidHeader(path: path, offset: baseOffset + i, reason: reason)
    }
    if !utf8, let bad = bytes.firstIndex(where: { $0 >= 0x80 }) {
      i = bad
      throw fail("non-ASCII byte in a version 1/2 header")
    }
    guard strictUTF8(text) != nil else { throw fail("the header is not valid UTF-8") }
    func skipSpace() {
      while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 }
    }
    func consume(_ c: Character) -> Bool {
      skipSpace()
      if i < bytes.count, bytes[i] == c.asciiValue! {
        i += 1
        return true
      }
      return false
    }
    func string() throws -> String {
      skipSpace()
      guard i < bytes.count, bytes[i] == 0x27 || bytes[i] == 0x22 else {
        throw fail("expected a quoted string")
      }
      let quote = bytes[i]
      i += 1
      let start = i
      while i < bytes.count, bytes[i] != quote {
        if bytes[i] == 0x5C || bytes[i] < 0x20 {
          throw fail("escapes and control characters are not supported")
        }
        i += 1
      }
      guard i < bytes.count else { throw fail("unterminated string") }
      let s = String(decoding: bytes[start..<i], as: UTF8.self)
      i += 1
      return s
    }
    func integer() throws -> Int {
      skipSpace()
      let start = i
      while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
      guard i > start, let v = Int(String(decoding: bytes[start..<i], as: UTF8.self)) else {
        i = start
        throw fail("expected a non-negative integer")
      }
      if i < bytes.count, bytes[i] == 0x4C { i += 1 }  // Python 2 long suffix
      return v
    }
    func value() throws -> PythonLiteral {
      skipSpace()
      guard i < bytes.count else { throw fail("unexpected end of header") }
      switch bytes[i] {
      case 0x27, 0x22: return .string(try string())
      case 0x54, 0x46:
        for (word, v) in [("True", true), ("False", false)] where bytes[i...].starts(with: word.utf8) {
          i += word.utf8.count
          return .bool(v)
        }
        throw fail("expected True or False")
      case 0x28:
        i += 1
        var items: [Int] = []
        if consume(")") { return .tuple(items) }
        while true {
          items.append(try integer())
          if consume(")") {
            guard items.count > 1 else { throw fail("'(n)' is an integer, not a tuple; write '(n,)'") }
            return .tuple(items)
          }
          guard consume(",") else { throw fail("expected ',' or ')' in the shape tuple") }
          if consume(")") { return .tuple(items) }
        }
      default:
        throw fail("unsupported value (only strings, True/False and tuples of integers)")
      }
    }

    var dict: [String: PythonLiteral] = [:]
    guard consume("{") else { throw fail("the header does not start with '{'") }
    if !consume("}") {
      while true {
        let keyOffset = i
        let key = try string()
        guard consume(":") else { throw fail("expected ':' after key '\(key)'") }
        let v = try value()
        if dict.updateValue(v, forKey: key) != nil {
          throw FormatError.duplicateKey(path: path, key: key, offset: baseOffset + keyOffset)
        }
        if consume("}") { break }
        guard consume(",") else { throw fail("expected ',' or '}'") }
        if consume("}") { break }
      }
    }
    while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D {
      i += 1
    }
    guard i == bytes.count else { throw fail("unexpected bytes after the header dict") }
    return dict
  }
}
