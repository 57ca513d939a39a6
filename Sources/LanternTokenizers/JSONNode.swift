// Typed, located access to a parsed JSON document (Foundation's JSONSerialization output): every
// failure becomes a TokenizerError naming the file and the key path, e.g. `model.merges[12]`.
//
// Note: JSONSerialization compares object keys as Swift strings, i.e. up to canonical equivalence, so a
// vocabulary holding both "é" and "e\u{301}" would lose one. Byte-level vocabularies cannot: their keys
// are spelled in the 256-character byte alphabet, where no two distinct strings are equivalent.

import Foundation

/// A value at a key path of a JSON document; `value` is nil when the key is absent.
struct JSONNode {
  /// The parsed value (`NSNull` for JSON null), or nil if absent.
  let value: Any?
  /// The key path from the document root, e.g. `pre_tokenizer.pretokenizers[1].type`.
  let path: String
  /// The file the document came from, for error messages.
  let source: String

  /// Parses `data` as a JSON document.
  static func parse(_ data: Data, source: String) throws -> JSONNode {
    do {
      let value = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
      return JSONNode(value: value, path: "", source: source)
    } catch {
      let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
      throw TokenizerError(
        .malformedJSON, source: source, "not valid JSON: \(detail)",
        hint: "check that the file is complete and is a tokenizer file")
    }
  }

  /// The child at `key` (absent if this is not an object or has no such key).
  subscript(key: String) -> JSONNode {
    let child = (value as? [String: Any])?[key]
    return JSONNode(value: child, path: path.isEmpty ? key : "\(path).\(key)", source: source)
  }

  /// True if the key is absent or holds null.
  var isNull: Bool { value == nil || value is NSNull }

  /// An error located at this node.
  func error(_ kind: TokenizerError.Kind, _ message: String, hint: String? = nil) -> TokenizerError {
    TokenizerError(kind, source: source, key: path.isEmpty ? nil : path, message, hint: hint)
  }

  private func typeError(_ expected: String) -> TokenizerError {
    if value == nil { return error(.missingKey, "missing (expected \(expected))") }
    let found: String
    switch value {
    case is NSNull: found = "null"
    case is String: found = "a string"
    case is [Any]: found = "an array"
    case is [String: Any]: found = "an object"
    default: found = "a \(type(of: value!))"
    }
    return error(.invalidValue, "expected \(expected), found \(found)")
  }

  /// This value as an object.
  func object() throws -> [String: Any] {
    guard let object = value as? [String: Any] else { throw typeError("an object") }
    return object
  }

  /// The elements of this array, each with its indexed path.
  func array() throws -> [JSONNode] {
    guard let array = value as? [Any] else { throw typeError("an array") }
    return array.enumerated().map { JSONNode(value: $1, path: "\(path)[\($0)]", source: source) }
  }

  /// This value as a string.
  func stringValue() throws -> String {
    guard let string = value as? String else { throw typeError("a string") }
    return string
  }

  /// This value as a non-negative integer below 2^31.
  func index() throws -> Int {
    guard let number = value as? NSNumber, !(value is String) else { throw typeError("an integer") }
    let double = number.doubleValue
    guard double >= 0, double < 2_147_483_648, double == double.rounded() else {
      throw error(.invalidValue, "\(number) is not an integer in 0..<2^31")
    }
    return Int(double)
  }

  /// The required string at `key`.
  func string(_ key: String) throws -> String { try self[key].stringValue() }

  /// The string at `key`, or nil if absent or null.
  func optionalString(_ key: String) throws -> String? {
    let child = self[key]
    return child.isNull ? nil : try child.stringValue()
  }

  /// The boolean at `key`, or `fallback` if absent or null.
  func bool(_ key: String, default fallback: Bool) throws -> Bool {
    let child = self[key]
    if child.isNull { return fallback }
    guard let flag = child.value as? Bool else { throw child.typeError("true or false") }
    return flag
  }
}
