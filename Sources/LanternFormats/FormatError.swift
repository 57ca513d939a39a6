// FormatError: the one error type of LanternFormats.
//
// Every case names the file and, where one exists, the tensor or metadata key and the byte
// offset of the bad field; `description` renders one line ending in "---> HINT: ...", in the
// llm.c style, saying what to do next. Readers throw these for any malformed input; they never
// trap. Programmer mistakes in writer arguments (duplicate names, a shape that does not match
// the value count) also throw, as `.invalidArgument`, because they usually come from data.

/// An error reading or writing a tensor file (safetensors, GGUF, .npy).
public enum FormatError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The file could not be opened, mapped, read, written or renamed.
  case io(path: String, operation: String, reason: String)
  /// A field needs `needed` bytes at `offset` but only `available` remain.
  case truncated(path: String, field: String, offset: Int, needed: UInt64, available: Int)
  /// The file does not start with the format's magic bytes.
  case badMagic(path: String, found: [UInt8], expected: String)
  /// The format version is not one this reader understands.
  case unsupportedVersion(path: String, version: String, supported: String)
  /// A length or count read at `offset` exceeds what the file could hold (or a sanity limit).
  case lengthTooLarge(path: String, field: String, offset: Int, value: UInt64, limit: UInt64)
  /// A header (JSON for safetensors, a Python literal for .npy) is not well formed.
  case invalidHeader(path: String, offset: Int, reason: String)
  /// A field holds a value outside its domain (a bool that is 7, bytes that are not UTF-8, ...).
  case invalidValue(path: String, field: String, offset: Int?, reason: String, hint: String)
  /// A GGUF metadata value has a type code this reader does not know.
  case unknownValueType(path: String, key: String, offset: Int, type: UInt32)
  /// A metadata key (or a key inside a header object) appears twice.
  case duplicateKey(path: String, key: String, offset: Int?)
  /// Two tensors share a name.
  case duplicateTensor(path: String, tensor: String, offset: Int?)
  /// `general.alignment` (GGUF) is zero, not a power of two, or of the wrong type.
  case badAlignment(path: String, value: String)
  /// A tensor's shape is invalid: too many dimensions, a non-positive or negative dimension,
  /// an element count that overflows, or a row that is not a whole number of blocks.
  case badShape(path: String, tensor: String, shape: String, reason: String)
  /// A tensor's data type (GGUF type number or safetensors dtype string) is unknown.
  case unknownDataType(path: String, tensor: String, type: String)
  /// A known data type that Lantern cannot convert to Float32 (or to Int32).
  case unsupportedDataType(path: String, tensor: String, type: String, wanted: String)
  /// A GGUF tensor's offset is not a multiple of the file's alignment.
  case misalignedTensor(path: String, tensor: String, offset: Int, alignment: Int)
  /// A tensor's bytes `[offset, offset + byteCount)` run past `limit` (the end of the file or
  /// of its data section; offsets are absolute).
  case tensorOutOfBounds(path: String, tensor: String, offset: Int, byteCount: Int, limit: Int)
  /// Two tensors' byte ranges overlap; `offset` is where `tensor` starts.
  case overlappingTensors(path: String, tensor: String, other: String, offset: Int)
  /// Bytes of the data section that belong to no tensor (safetensors requires none).
  case unusedBytes(path: String, offset: Int, count: Int, after: String?)
  /// A tensor's stored byte count does not match its shape and data type.
  case sizeMismatch(path: String, tensor: String, expected: Int, actual: Int)
  /// The caller asked for a tensor the file does not hold.
  case missingTensor(path: String, tensor: String)
  /// The caller asked for a metadata key the file does not hold.
  case missingKey(path: String, key: String)
  /// A metadata value exists but has another type than the caller asked for.
  case wrongValueType(path: String, key: String, expected: String, found: String)
  /// A layout this reader deliberately does not handle (Fortran order, big-endian data, ...).
  case unsupported(path: String, subject: String, reason: String, hint: String)
  /// An integer does not fit the requested type (e.g. an I64 element read as Int32).
  case valueOutOfRange(path: String, tensor: String, index: Int, value: String)
  /// A writer was handed inconsistent input (duplicate names, values that do not fill a shape).
  case invalidArgument(path: String, subject: String, reason: String)

  /// The file the error is about.
  public var path: String {
    switch self {
    case .io(let p, _, _), .truncated(let p, _, _, _, _), .badMagic(let p, _, _),
      .unsupportedVersion(let p, _, _), .lengthTooLarge(let p, _, _, _, _),
      .invalidHeader(let p, _, _), .invalidValue(let p, _, _, _, _),
      .unknownValueType(let p, _, _, _), .duplicateKey(let p, _, _), .duplicateTensor(let p, _, _),
      .badAlignment(let p, _), .badShape(let p, _, _, _), .unknownDataType(let p, _, _),
      .unsupportedDataType(let p, _, _, _), .misalignedTensor(let p, _, _, _),
      .tensorOutOfBounds(let p, _, _, _, _), .overlappingTensors(let p, _, _, _),
      .unusedBytes(let p, _, _, _), .sizeMismatch(let p, _, _, _), .missingTensor(let p, _),
      .missingKey(let p, _), .wrongValueType(let p, _, _, _), .unsupported(let p, _, _, _),
      .valueOutOfRange(let p, _, _, _), .invalidArgument(let p, _, _):
      return p
    }
  }

  /// What to do about it, one sentence.
  public var hint: String {
    switch self {
    case .io:
      return "check that the path exists, is a regular file and is readable (or its directory writable)"
    case .truncated, .tensorOutOfBounds:
      return "the file is truncated; download or write it again"
    case .badMagic(_, _, let expected):
      return "this is not a \(expected) file; check the path and the file extension"
    case .unsupportedVersion:
      return
        "re-export the file with a current converter (llama.cpp convert_hf_to_gguf.py, numpy, safetensors)"
    case .lengthTooLarge:
      return "the file is corrupt (a length field is garbage) or truncated; download it again"
    case .invalidHeader:
      return "the header is corrupt; re-export the file"
    case .invalidValue(_, _, _, _, let hint), .unsupported(_, _, _, let hint):
      return hint
    case .unknownValueType:
      return "the file was written by a newer or broken GGUF writer; re-convert it"
    case .duplicateKey, .duplicateTensor, .overlappingTensors, .unusedBytes, .sizeMismatch,
      .misalignedTensor, .badShape:
      return "the file was written by a broken exporter; re-export it"
    case .badAlignment:
      return "general.alignment must be a UInt32 power of two; re-convert the file"
    case .unknownDataType:
      return "the file uses a data type Lantern does not know; convert it to F32, F16, BF16 or Q8_0"
    case .unsupportedDataType:
      return "convert the tensor to F32, F16, BF16, Q8_0, Q4_0/1, Q5_0/1 or a K-quant (Q2_K..Q6_K)"
    case .missingTensor, .missingKey:
      return "the file is for another architecture or was exported incompletely; run `lantern inspect` on it"
    case .wrongValueType:
      return "the file was written by an unexpected converter; check the key's type with `lantern inspect`"
    case .valueOutOfRange:
      return "the tensor holds values that do not fit Int32; store it as I32 or read it another way"
    case .invalidArgument:
      return "fix the values passed to the writer"
    }
  }

  /// The message without the path and hint.
  public var message: String {
    switch self {
    case .io(_, let operation, let reason):
      return "cannot \(operation): \(reason)"
    case .truncated(_, let field, let offset, let needed, let available):
      return "\(field) at offset \(offset) needs \(needed) bytes but only \(available) remain"
    case .badMagic(_, let found, let expected):
      let hex = found.map { String($0, radix: 16) }.joined(separator: " ")
      return "bad magic [\(hex)], expected \(expected)"
    case .unsupportedVersion(_, let version, let supported):
      return "version \(version) is not supported (supported: \(supported))"
    case .lengthTooLarge(_, let field, let offset, let value, let limit):
      return "\(field) at offset \(offset) is \(value), more than the limit \(limit)"
    case .invalidHeader(_, let offset, let reason):
      return "invalid header at byte \(offset): \(reason)"
    case .invalidValue(_, let field, let offset, let reason, _):
      return "\(field)\(offset.map { " at offset \($0)" } ?? ""): \(reason)"
    case .unknownValueType(_, let key, let offset, let type):
      return "key '\(key)' has unknown value type \(type) at offset \(offset)"
    case .duplicateKey(_, let key, let offset):
      return "key '\(key)' appears twice\(offset.map { " (second at offset \($0))" } ?? "")"
    case .duplicateTensor(_, let tensor, let offset):
      return "tensor '\(tensor)' appears twice\(offset.map { " (second at offset \($0))" } ?? "")"
    case .badAlignment(_, let value):
      return "general.alignment is \(value), not a power of two"
    case .badShape(_, let tensor, let shape, let reason):
      return "tensor '\(tensor)' has invalid shape \(shape): \(reason)"
    case .unknownDataType(_, let tensor, let type):
      return "tensor '\(tensor)' has unknown data type \(type)"
    case .unsupportedDataType(_, let tensor, let type, let wanted):
      return "tensor '\(tensor)' has data type \(type), which Lantern cannot read as \(wanted)"
    case .misalignedTensor(_, let tensor, let offset, let alignment):
      return "tensor '\(tensor)' has data offset \(offset), not a multiple of the alignment \(alignment)"
    case .tensorOutOfBounds(_, let tensor, let offset, let byteCount, let limit):
      return
        "tensor '\(tensor)' has data offset \(offset) + \(byteCount) bytes, past the end of the file (\(limit) bytes)"
    case .overlappingTensors(_, let tensor, let other, let offset):
      return "tensor '\(tensor)' starts at offset \(offset), inside tensor '\(other)'"
    case .unusedBytes(_, let offset, let count, let after):
      return
        "\(count) bytes at offset \(offset)\(after.map { " after tensor '\($0)'" } ?? "") belong to no tensor"
    case .sizeMismatch(_, let tensor, let expected, let actual):
      return "tensor '\(tensor)' holds \(actual) bytes but its shape and data type need \(expected)"
    case .missingTensor(_, let tensor):
      return "no tensor named '\(tensor)'"
    case .missingKey(_, let key):
      return "no metadata key '\(key)'"
    case .wrongValueType(_, let key, let expected, let found):
      return "key '\(key)' holds \(found), expected \(expected)"
    case .unsupported(_, let subject, let reason, _):
      return "\(subject): \(reason)"
    case .valueOutOfRange(_, let tensor, let index, let value):
      return "tensor '\(tensor)' element \(index) is \(value), outside the Int32 range"
    case .invalidArgument(_, let subject, let reason):
      return "\(subject): \(reason)"
    }
  }

  public var description: String { "\(path): \(message) ---> HINT: \(hint)" }
}
