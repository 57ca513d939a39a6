// safetensors writer: F32 tensors (plus F16, BF16 and I32 payloads), written atomically.
//
// The output matches what the reference Rust implementation (the Python `safetensors`
// package) writes for the same single-dtype input, byte for byte: compact JSON with
// "__metadata__" first (keys sorted), then the tensors sorted by name with data in that order,
// the header padded with spaces to a multiple of 8 bytes. (For mixed dtypes Rust orders data
// by dtype first; both orders are valid files.) Left out: dtypes other than F32/F16/BF16/I32.

import Foundation
import LanternTensor

/// Writes safetensors files.
public enum SafetensorsWriter {
  /// The contents of one tensor to write.
  public enum Payload: Sendable {
    /// Stored as F32 with the tensor's shape.
    case float32(Tensor)
    /// Rounded to IEEE half (nearest-even), stored as F16.
    case float16(Tensor)
    /// Rounded to bfloat16 (nearest-even), stored as BF16.
    case bfloat16(Tensor)
    /// Stored as I32; `values.count` must equal the product of `shape`.
    case int32(values: [Int32], shape: [Int])

    var dtype: SafetensorsDType {
      switch self {
      case .float32: return .f32
      case .float16: return .f16
      case .bfloat16: return .bf16
      case .int32: return .i32
      }
    }

    var shape: [Int] {
      switch self {
      case .float32(let t), .float16(let t), .bfloat16(let t): return t.shape
      case .int32(_, let shape): return shape
      }
    }
  }

  /// Writes F32 `entries` and `metadata` to `url` atomically (temp file + rename).
  public static func write(
    _ entries: [(name: String, tensor: Tensor)], metadata: [String: String] = [:], to url: URL
  ) throws {
    try write(
      entries.map { (name: $0.name, payload: Payload.float32($0.tensor)) }, metadata: metadata, to: url)
  }

  /// Writes `entries` of any payload type and `metadata` to `url` atomically.
  public static func write(
    _ entries: [(name: String, payload: Payload)], metadata: [String: String] = [:], to url: URL
  ) throws {
    let path = url.path
    var seen = Set<String>()
    for (name, payload) in entries {
      guard name != "__metadata__" else {
        throw FormatError.invalidArgument(
          path: path, subject: "tensor '\(name)'", reason: "the name is reserved")
      }
      guard seen.insert(name).inserted else {
        throw FormatError.invalidArgument(path: path, subject: "tensor '\(name)'", reason: "appears twice")
      }
      if case .int32(let values, let shape) = payload {
        guard shape.allSatisfy({ $0 >= 0 }), checkedProduct(shape) == values.count else {
          throw FormatError.invalidArgument(
            path: path, subject: "tensor '\(name)'", reason: "\(values.count) values for shape \(shape)")
        }
      }
    }
    // Byte order of the UTF-8 names, as Rust's String ordering.
    let sorted = entries.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }

    var json = "{"
    var parts: [String] = []
    if !metadata.isEmpty {
      let pairs = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map {
        "\(jsonString($0)):\(jsonString(metadata[$0]!))"
      }
      parts.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
    }
    var offset = 0
    for (name, payload) in sorted {
      let count = payload.shape.reduce(1, *)
      let end = offset + count * payload.dtype.size
      let shape = payload.shape.map(String.init).joined(separator: ",")
      parts.append(
        "\(jsonString(name)):{\"dtype\":\"\(payload.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}"
      )
      offset = end
    }
    json += parts.joined(separator: ",") + "}"
    var header = Array(json.utf8)
    header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)

    try writeAtomically(to: url) { sink in
      try sink.appendLittleEndian(UInt64(header.count))
      try sink.append(header)
      for (_, payload) in sorted {
        switch payload {
        case .float32(let t):
          try sink.append(UnsafeRawBufferPointer(start: t.pointer, count: t.count * 4))
        case .float16(let t):
          var half = [UInt16](repeating: 0, count: t.count)
          half.withUnsafeMutableBufferPointer {
            HalfPrecision.float32ToFloat16(t.pointer, $0.baseAddress!, count: t.count)
          }
          try half.withUnsafeBytes { try sink.append($0) }
        case .bfloat16(let t):
          var half = [UInt16](repeating: 0, count: t.count)
          half.withUnsafeMutableBufferPointer {
            HalfPrecision.float32ToBFloat16(t.pointer, $0.baseAddress!, count: t.count)
          }
          try half.withUnsafeBytes { try sink.append($0) }
        case .int32(let values, _):
          try values.withUnsafeBytes { try sink.append($0) }
        }
      }
    }
  }

  /// A JSON string literal, escaping what RFC 8259 requires (as serde_json does).
  static func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
      switch u {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case "\u{08}": out += "\\b"
      case "\u{0C}": out += "\\f"
      default:
        if u.value < 0x20 {
          let hex = String(u.value, radix: 16)
          out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        } else {
          out.unicodeScalars.append(u)
        }
      }
    }
    return out + "\""
  }
}
