// The header of a .npy token file, read without touching the data (the byte layout is at the top
// of CorpusTokenRecords.swift). LanternFormats.NPY maps and converts whole arrays; a token corpus
// can be far larger than memory, so this reader only parses the header and checks that the data
// length is exactly what the shape needs, then hands the data range to TokenRecordSource.
//
// The header dict is the Python-literal subset numpy writes: single- or double-quoted strings,
// True/False, tuples of non-negative integers ("3L" accepted), a trailing comma, spaces.

import Foundation

enum NPYTokenHeader {
  static let maxHeaderLength = 1 << 20

  /// Parses the header of the .npy file at `path` (of `size` bytes).
  static func read(path: String, size: Int64) throws -> TokenFileLayout {
    func corrupt(
      _ offset: Int64, _ reason: String, _ hint: String = "the file is damaged; write it again with np.save"
    )
      -> CorpusError
    {
      .corruptFile(path: path, byteOffset: offset, reason: reason, hint: hint)
    }
    let file = try FileByteSource(path: path)
    var prefix = [UInt8](repeating: 0, count: 12)
    guard size >= 10 else { throw corrupt(0, "the file has \(size) bytes, too few for a .npy header") }
    try prefix.withUnsafeMutableBytes {
      try file.readExactly(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<10]), field: ".npy preamble")
    }
    guard prefix[0..<6] == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] else {
      throw corrupt(0, "bad magic; this is not a .npy file", "check the path and the file extension")
    }
    let major = prefix[6]
    guard (1...3).contains(major), prefix[7] == 0 else {
      throw corrupt(6, "unsupported .npy version \(major).\(prefix[7])", "save it with a current numpy")
    }
    var headerLength = Int(prefix[8]) | Int(prefix[9]) << 8
    var headerStart: Int64 = 10
    if major >= 2 {
      try prefix.withUnsafeMutableBytes {
        try file.readExactly(
          into: UnsafeMutableRawBufferPointer(rebasing: $0[10..<12]), field: "header length")
      }
      headerLength |= Int(prefix[10]) << 16 | Int(prefix[11]) << 24
      headerStart = 12
    }
    guard headerLength <= maxHeaderLength, headerStart + Int64(headerLength) <= size else {
      throw corrupt(8, "header length \(headerLength) does not fit the file (\(size) bytes)")
    }
    var text = [UInt8](repeating: 0, count: headerLength)
    try text.withUnsafeMutableBytes { try file.readExactly(into: $0, field: "header") }
    var parser = Parser(bytes: text)
    let dict: [String: Value]
    do {
      dict = try parser.dictionary()
    } catch let failure as ParseFailure {
      throw corrupt(headerStart + Int64(failure.position), "invalid header: \(failure.reason)")
    }
    guard dict.count == 3, case .string(let descr)? = dict["descr"],
      case .bool(let fortran)? = dict["fortran_order"],
      case .tuple(let shape)? = dict["shape"]
    else {
      throw corrupt(headerStart, "the header must hold exactly 'descr', 'fortran_order' and 'shape'")
    }
    let itemType: TokenItemType
    switch descr {
    case "<u2": itemType = .uint16
    case "<i4": itemType = .int32
    case "<u4": itemType = .uint32
    case "<i8": itemType = .int64
    default:
      throw corrupt(
        headerStart, "dtype '\(descr)' is not a token type ('<u2', '<i4', '<u4', '<i8')",
        "save the ids as little-endian integers: np.save(path, ids.astype(np.int32))")
    }
    guard !fortran else {
      throw corrupt(headerStart, "the array is in Fortran order", "save it in C order (np.ascontiguousarray)")
    }
    guard shape.count == 1 || shape.count == 2 else {
      throw corrupt(
        headerStart, "shape \(shape) has rank \(shape.count); token files are 1-D (a stream) or 2-D (rows)",
        "reshape the ids to (N,) or (documents, length)")
    }
    let dataOffset = headerStart + Int64(headerLength)
    let (count, countOverflow) =
      shape.count == 1 ? (shape[0], false) : shape[0].multipliedReportingOverflow(by: shape[1])
    let (bytes, bytesOverflow) = count.multipliedReportingOverflow(by: itemType.byteCount)
    guard !countOverflow, !bytesOverflow, Int64(bytes) == size - dataOffset else {
      throw corrupt(
        dataOffset,
        "shape \(shape) of \(descr) needs \(countOverflow || bytesOverflow ? "too many" : "\(bytes)") bytes of data, "
          + "the file has \(size - dataOffset)",
        "the file is truncated or has extra bytes; write it again with np.save")
    }
    return TokenFileLayout(
      dataOffset: dataOffset, itemType: itemType, tokenCount: Int64(count),
      rowLength: shape.count == 2 ? shape[1] : nil)
  }

  enum Value {
    case string(String)
    case bool(Bool)
    case tuple([Int])
  }

  struct ParseFailure: Error {
    var position: Int
    var reason: String
  }

  /// A recursive-descent parser for the header dict.
  struct Parser {
    let bytes: [UInt8]
    var i = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func dictionary() throws -> [String: Value] {
      skipSpace()
      try expect(UInt8(ascii: "{"))
      var result: [String: Value] = [:]
      while true {
        skipSpace()
        if consume(UInt8(ascii: "}")) { break }
        let keyAt = i
        let key = try string()
        skipSpace()
        try expect(UInt8(ascii: ":"))
        skipSpace()
        if result.updateValue(try value(), forKey: key) != nil {
          throw ParseFailure(position: keyAt, reason: "duplicate key '\(key)'")
        }
        skipSpace()
        if consume(UInt8(ascii: ",")) { continue }
        try expect(UInt8(ascii: "}"))
        break
      }
      skipSpace()
      guard i == bytes.count else { throw ParseFailure(position: i, reason: "text after the closing brace") }
      return result
    }

    mutating func value() throws -> Value {
      guard i < bytes.count else { throw ParseFailure(position: i, reason: "the header ends early") }
      switch bytes[i] {
      case UInt8(ascii: "'"), UInt8(ascii: "\""): return .string(try string())
      case UInt8(ascii: "("):
        i += 1
        var items: [Int] = []
        while true {
          skipSpace()
          if consume(UInt8(ascii: ")")) { break }
          items.append(try integer())
          skipSpace()
          if consume(UInt8(ascii: ",")) { continue }
          try expect(UInt8(ascii: ")"))
          break
        }
        return .tuple(items)
      default:
        if word("True") { return .bool(true) }
        if word("False") { return .bool(false) }
        throw ParseFailure(position: i, reason: "expected a string, True, False or a tuple")
      }
    }

    mutating func string() throws -> String {
      guard i < bytes.count, bytes[i] == UInt8(ascii: "'") || bytes[i] == UInt8(ascii: "\"") else {
        throw ParseFailure(position: i, reason: "expected a quoted string")
      }
      let quote = bytes[i]
      let start = i + 1
      guard let end = bytes[start...].firstIndex(of: quote) else {
        throw ParseFailure(position: i, reason: "unterminated string")
      }
      i = end + 1
      return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    mutating func integer() throws -> Int {
      let start = i
      var value = 0
      while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) {
        let (times, o1) = value.multipliedReportingOverflow(by: 10)
        let (sum, o2) = times.addingReportingOverflow(Int(bytes[i] - UInt8(ascii: "0")))
        guard !o1, !o2 else { throw ParseFailure(position: start, reason: "dimension too large") }
        value = sum
        i += 1
      }
      guard i > start else { throw ParseFailure(position: i, reason: "expected a non-negative integer") }
      _ = consume(UInt8(ascii: "L"))
      return value
    }

    mutating func skipSpace() {
      while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x09 || bytes[i] == 0x0D {
        i += 1
      }
    }

    mutating func consume(_ c: UInt8) -> Bool {
      guard i < bytes.count, bytes[i] == c else { return false }
      i += 1
      return true
    }

    mutating func expect(_ c: UInt8) throws {
      guard consume(c) else {
        throw ParseFailure(position: i, reason: "expected '\(Character(UnicodeScalar(c)))'")
      }
    }

    mutating func word(_ w: String) -> Bool {
      let u = Array(w.utf8)
      guard i + u.count <= bytes.count, Array(bytes[i..<(i + u.count)]) == u else { return false }
      i += u.count
      return true
    }
  }
}
