// safetensors corruption, field by field: each test writes a file with one bad header field and
// expects the specific error; plus every truncation of a reference file.

import Foundation
import LanternFormats
import LanternTestSupport
import Testing

@Suite struct SafetensorsCorruptionTests {
  let scratch: Scratch
  init() throws { scratch = try Scratch() }

  /// A file with `header` as its JSON and `data` as its buffer; `length` overrides N.
  func open(_ header: String, data: [UInt8] = [UInt8](repeating: 0, count: 24), length: UInt64? = nil) throws
    -> SafetensorsFile
  {
    var bytes: [UInt8] = []
    let json = Array(header.utf8)
    bytes.le(length ?? UInt64(json.count))
    bytes += json + data
    return try SafetensorsFile(path: try scratch.write(bytes, "model.safetensors"))
  }

  static let valid =
    #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#

  @Test func validFileOpens() throws {
    let file = try open(Self.valid)
    #expect(file.tensorNames == ["a", "b"])
    #expect(file.dataOffset == 8 + Self.valid.utf8.count)
  }

  @Test func emptyAndShortFiles() throws {
    for length in 0..<8 {
      let path = try scratch.write([UInt8](repeating: 1, count: length), "short.safetensors")
      expectFormatError(try SafetensorsFile(path: path)) {
        if case .truncated(_, "header length", 0, 8, length) = $0 { true } else { false }
      }
    }
  }

  @Test func headerLengthBeyondFileOrLimit() throws {
    expectFormatError(try open(Self.valid, length: 1000)) {
      if case .truncated(_, "JSON header", 8, 1000, _) = $0 { true } else { false }
    }
    expectFormatError(try open(Self.valid, length: UInt64.max)) {
      if case .lengthTooLarge(_, "header length", 0, UInt64.max, 100_000_000) = $0 { true } else { false }
    }
  }

  @Test(arguments: [
    #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#,  // unterminated
    #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],}}"#,  // trailing comma
    #"{'a':{}}"#,  // single quotes
    #"{"a":{"dtype":"F32","shape":[02],"data_offsets":[0,8]}}"#,  // leading zero
    #"{"a":{"dtype":"F3\#u{1}2","shape":[2],"data_offsets":[0,8]}}"#,  // raw control character
    #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}x"#,  // trailing garbage
    #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} {}"#,  // two values
    #"{"a":{"dtype":"\uD800","shape":[2],"data_offsets":[0,8]}}"#,  // lone surrogate
    "",
  ])
  func invalidJSON(header: String) throws {
    expectFormatError(try open(header)) {
      if case .invalidHeader = $0 { true } else { false }
    }
  }

  @Test func headerNotAnObjectOrNotUTF8() throws {
    expectFormatError(try open("[1, 2]")) {
      if case .invalidHeader(_, 8, let reason) = $0 { reason.contains("not a JSON object") } else { false }
    }
    var bytes: [UInt8] = []
    bytes.le(UInt64(4))
    bytes += [0x7B, 0x22, 0xFF, 0x7D]
    let path = try scratch.write(bytes, "utf8.safetensors")
    expectFormatError(try SafetensorsFile(path: path)) {
      if case .invalidHeader(_, _, let reason) = $0 { reason.contains("UTF-8") } else { false }
    }
  }

  @Test func trailingSpacesAreAllowed() throws {
    #expect(try open(Self.valid + "      ").tensorNames == ["a", "b"])
  }

  @Test func duplicateNamesAndKeys() throws {
    let dup =
      #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#
    let second = 8 + dup.utf8.count - #""a":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#.utf8.count
    expectFormatError(try open(dup)) {
      if case .duplicateTensor(_, "a", let offset?) = $0 { offset == second } else { false }
    }
    let dupField = #"{"a":{"dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8]}}"#
    expectFormatError(try open(dupField, data: [UInt8](repeating: 0, count: 8))) {
      if case .duplicateKey(_, "dtype", _) = $0 { true } else { false }
    }
  }

  @Test func unknownDtype() throws {
    expectFormatError(
      try open(Self.valid.replacingOccurrences(of: "\"F32\",\"shape\":[4]", with: "\"F9\",\"shape\":[4]"))
    ) {
      if case .unknownDataType(_, "b", "\"F9\"") = $0 { true } else { false }
    }
  }

  @Test func offsetsMismatchShape() throws {
    expectFormatError(try open(Self.valid.replacingOccurrences(of: "[4]", with: "[3]"))) {
      if case .sizeMismatch(_, "b", 12, 16) = $0 { true } else { false }
    }
    expectFormatError(try open(Self.valid.replacingOccurrences(of: "[0,8]", with: "[8,0]"))) {
      if case .invalidValue(_, "tensor 'a'", _, let reason, _) = $0 {
        reason.contains("end before")
      } else {
        false
      }
    }
  }

  @Test func overlappingGapAndTrailingBytes() throws {
    let overlap =
      #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#
    expectFormatError(try open(overlap)) {
      if case .overlappingTensors(_, "b", "a", let offset) = $0 {
        offset == 8 + overlap.utf8.count + 8
      } else {
        false
      }
    }
    let gap =
      #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#
    expectFormatError(try open(gap)) {
      if case .unusedBytes(_, _, 4, "a") = $0 { true } else { false }
    }
    expectFormatError(try open(Self.valid, data: [UInt8](repeating: 0, count: 30))) {
      if case .unusedBytes(_, _, 6, "b") = $0 { true } else { false }
    }
    expectFormatError(try open("{}", data: [1])) {
      if case .unusedBytes(_, _, 1, nil) = $0 { true } else { false }
    }
  }

  @Test func offsetsPastTheBuffer() throws {
    expectFormatError(try open(Self.valid, data: [UInt8](repeating: 0, count: 20))) {
      if case .tensorOutOfBounds(_, "b", _, 16, _) = $0 { true } else { false }
    }
    let huge = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[99999999999999999999,8]}}"#
    expectFormatError(try open(huge)) {
      if case .invalidValue(_, "tensor 'a'", _, _, _) = $0 { true } else { false }
    }
  }

  @Test(arguments: ["[-2]", "[2.0]", "[\"2\"]", "[1e1]", "[4294967296,4294967296]", "[4611686018427387904]"])
  func badShapes(shape: String) throws {
    let header = #"{"a":{"dtype":"F32","shape":SHAPE,"data_offsets":[0,8]}}"#.replacingOccurrences(
      of: "SHAPE", with: shape)
    expectFormatError(try open(header, data: [UInt8](repeating: 0, count: 8))) {
      if case .badShape(_, "a", _, _) = $0 { true } else { false }
    }
  }

  @Test func badEntryStructure() throws {
    let cases = [
      (#"{"a":[1]}"#, "not an object"),
      (#"{"a":{"shape":[2],"data_offsets":[0,8]}}"#, "dtype"),
      (#"{"a":{"dtype":"F32","data_offsets":[0,8]}}"#, "shape"),
      (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}}"#, "data_offsets"),
      (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}}"#, "unknown field"),
    ]
    for (header, fragment) in cases {
      expectFormatError(try open(header, data: [UInt8](repeating: 0, count: 8))) {
        if case .invalidValue(_, "tensor 'a'", _, let reason, _) = $0 {
          reason.contains(fragment)
        } else {
          false
        }
      }
    }
    expectFormatError(try open(#"{"__metadata__":{"k":1}}"#, data: [])) {
      if case .invalidValue(_, let field, _, _, _) = $0 { field.contains("'k'") } else { false }
    }
    expectFormatError(try open(#"{"__metadata__":[]}"#, data: [])) {
      if case .invalidValue(_, "__metadata__", _, _, _) = $0 { true } else { false }
    }
  }

  @Test func everyTruncationThrows() throws {
    let bytes = try fixtureBytes("formats/mixed.safetensors")
    let path = scratch.path("prefix.safetensors")
    for length in 0..<bytes.count {
      try Data(bytes[0..<length]).write(to: URL(fileURLWithPath: path))
      let error = formatError { try SafetensorsFile(path: path) }
      switch error {
      case .truncated?, .tensorOutOfBounds?, .unusedBytes?: break
      default: Issue.record("prefix \(length): unexpected \(String(describing: error))")
      }
    }
  }
}
