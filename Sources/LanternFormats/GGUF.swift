// GGUF reader (llama.cpp's model format), versions 2 and 3, little-endian.
//
// Byte layout (all integers little-endian):
//  1. magic: 4 bytes "GGUF" (0x47 0x47 0x55 0x46)
//  2. version: u32 — 2 or 3 (v1 used u32 counts and is rejected; a byte-swapped version means
//     a big-endian file, also rejected)
//  3. tensor_count: u64
//  4. metadata_kv_count: u64
//  5. metadata_kv_count key/value pairs, each:
//     a. key: gguf string = u64 length + that many UTF-8 bytes (no terminator)
//     b. value type: u32 (see GGUFValue.swift)
//     c. value (arrays: u32 element type, u64 count, elements)
//  6. tensor_count tensor infos, each:
//     a. name: gguf string
//     b. n_dims: u32 (at most 4)
//     c. dims: n_dims × u64, ne[0] first (the innermost, contiguous dimension)
//     d. type: u32 ggml type (GGMLType)
//     e. offset: u64, relative to the start of the data section, a multiple of the alignment
//  7. padding to a multiple of `general.alignment` (a UInt32 power of two; default 32)
//  8. data section: each tensor's bytes at data_start + offset; a row of ne[0] elements is
//     ne[0] / block_size blocks of type_size bytes
//
// Checks: every count is bounded by what the remaining bytes could hold before anything is
// allocated; every length and offset is overflow-checked; keys and tensor names are unique;
// tensors lie inside the file and do not overlap. Left out: writing GGUF, big-endian files,
// and checking the contents of padding bytes.

import Foundation
import LanternTensor

/// One tensor's entry in a GGUF header.
public struct GGUFTensorInfo: Sendable, Equatable {
  /// The tensor name (e.g. "blk.0.attn_q.weight").
  public let name: String
  /// Dimensions in ggml order: `dims[0]` (ne[0]) is the innermost, contiguous one.
  public let dims: [Int]
  /// The stored data type.
  public let type: GGMLType
  /// Byte offset of the data relative to the start of the data section.
  public let offset: Int
  /// Bytes the data occupies.
  public let byteCount: Int
  /// Number of elements (product of `dims`).
  public let elementCount: Int

  /// Dimensions in PyTorch order (outermost first): `dims` reversed.
  public var shape: [Int] { dims.reversed() }
}

/// A GGUF file, memory-mapped read-only, with its metadata parsed and every tensor validated.
public final class GGUFFile: TensorSource {
  public let path: String
  /// The format version (2 or 3).
  public let version: UInt32
  /// All metadata key/value pairs.
  public let metadata: [String: GGUFValue]
  /// Metadata keys in file order.
  public let metadataKeys: [String]
  /// Tensor entries in file order.
  public let tensorInfos: [GGUFTensorInfo]
  /// The data alignment (`general.alignment`, default 32).
  public let alignment: Int
  /// Absolute byte offset of the data section.
  public let dataOffset: Int
  /// Pool used to split dequantization by rows; nil runs on the calling thread.
  public let pool: ThreadPool?

  private let file: MappedFile
  private let index: [String: Int]

  /// Opens and validates `path`; `pool` (optional) parallelizes `loadTensor`.
  public init(path: String, pool: ThreadPool? = nil) throws {
    self.path = path
    self.pool = pool
    file = try MappedFile(path: path)
    var r = ByteReader(path: path, bytes: file.bytes)

    let magic = try r.take(4, "magic")
    guard Array(magic) == Array("GGUF".utf8) else {
      throw FormatError.badMagic(path: path, found: Array(magic), expected: "GGUF (\"GGUF\")")
    }
    version = try r.read(UInt32.self, "version")
    guard version == 2 || version == 3 else {
      if version & 0xFFFF == 0 && version != 0 {
        throw FormatError.unsupported(
          path: path, subject: "version field \(version)",
          reason: "the file is big-endian (version \(version.byteSwapped))",
          hint: "convert it to a little-endian GGUF with llama.cpp's gguf tools")
      }
      throw FormatError.unsupportedVersion(path: path, version: "\(version)", supported: "2, 3")
    }

    // Smallest tensor info: empty name (8), n_dims (4), no dims, type (4), offset (8).
    let tensorCountOffset = r.offset
    let tensorCount = try r.read(UInt64.self, "tensor_count")
    let kvCountOffset = r.offset
    let kvCount = try r.read(UInt64.self, "metadata_kv_count")
    // Smallest pair: empty key (8), type (4), a one-byte value.
    if kvCount > UInt64(r.remaining / 13) {
      throw FormatError.lengthTooLarge(
        path: path, field: "metadata_kv_count", offset: kvCountOffset, value: kvCount,
        limit: UInt64(r.remaining / 13))
    }
    if tensorCount > UInt64(r.remaining / 24) {
      throw FormatError.lengthTooLarge(
        path: path, field: "tensor_count", offset: tensorCountOffset, value: tensorCount,
        limit: UInt64(r.remaining / 24))
    }

    var metadata: [String: GGUFValue] = [:]
    var keys: [String] = []
    metadata.reserveCapacity(Int(kvCount))
    for i in 0..<Int(kvCount) {
      let keyOffset = r.offset
      let key = try r.ggufString("key of metadata pair \(i)")
      let typeOffset = r.offset
      let type = try r.read(UInt32.self, "value type of '\(key)'")
      let value = try r.ggufValue(type: type, key: key, typeOffset: typeOffset)
      if metadata.updateValue(value, forKey: key) != nil {
        throw FormatError.duplicateKey(path: path, key: key, offset: keyOffset)
      }
      keys.append(key)
    }
    self.metadata = metadata
    metadataKeys = keys

    var alignment = 32
    if let value = metadata["general.alignment"] {
      guard case .uint32(let a) = value, a != 0, a & (a - 1) == 0 else {
        throw FormatError.badAlignment(path: path, value: "\(value) (\(value.typeName))")
      }
      alignment = Int(a)
    }
    self.alignment = alignment

    var infos: [GGUFTensorInfo] = []
    var index: [String: Int] = [:]
    infos.reserveCapacity(Int(tensorCount))
    for i in 0..<Int(tensorCount) {
      let nameOffset = r.offset
      let info = try Self.readTensorInfo(&r, number: i, alignment: alignment)
      if index.updateValue(infos.count, forKey: info.name) != nil {
        throw FormatError.duplicateTensor(path: path, tensor: info.name, offset: nameOffset)
      }
      infos.append(info)
    }
    tensorInfos = infos
    self.index = index

    // r.offset <= file size and alignment <= 2^32, so this cannot overflow.
    dataOffset = (r.offset + alignment - 1) / alignment * alignment
    try Self.checkRanges(infos, dataOffset: dataOffset, fileSize: file.size, path: path)
  }

  /// Opens and validates the file at `url`.
  public convenience init(url: URL, pool: ThreadPool? = nil) throws {
    try self.init(path: url.path, pool: pool)
  }

  private static func readTensorInfo(_ r: inout ByteReader, number i: Int, alignment: Int) throws
    -> GGUFTensorInfo
  {
    let path = r.path
    let name = try r.ggufString("name of tensor \(i)")
    let nDimsOffset = r.offset
    let nDims = try r.read(UInt32.self, "n_dims of tensor '\(name)'")
    guard nDims <= 4 else {
      throw FormatError.badShape(
        path: path, tensor: name, shape: "with \(nDims) dimensions (at offset \(nDimsOffset))",
        reason: "GGUF tensors have at most 4 dimensions")
    }
    var raw: [UInt64] = []
    for d in 0..<Int(nDims) { raw.append(try r.read(UInt64.self, "dim \(d) of tensor '\(name)'")) }
    let shapeText = "ne=\(raw)"
    var dims: [Int] = []
    for (d, v) in raw.enumerated() {
      guard v > 0, v <= UInt64(Int.max) else {
        throw FormatError.badShape(
          path: path, tensor: name, shape: shapeText,
          reason: "dimension \(d) is \(v); each must be positive")
      }
      dims.append(Int(v))
    }
    guard let elementCount = checkedProduct(dims) else {
      throw FormatError.badShape(
        path: path, tensor: name, shape: shapeText, reason: "the element count overflows 64 bits")
    }
    let typeOffset = r.offset
    let rawType = try r.read(UInt32.self, "type of tensor '\(name)'")
    guard let type = GGMLType(rawValue: rawType) else {
      throw FormatError.unknownDataType(
        path: path, tensor: name, type: "ggml type \(rawType) (at offset \(typeOffset))")
    }
    let rowLength = dims.first ?? 1
    guard rowLength % type.blockSize == 0 else {
      throw FormatError.badShape(
        path: path, tensor: name, shape: shapeText,
        reason: "a row of \(rowLength) elements is not a whole number of \(type) blocks (\(type.blockSize))"
      )
    }
    let (byteCount, overflow) = (elementCount / type.blockSize).multipliedReportingOverflow(
      by: type.typeSize)
    guard !overflow else {
      throw FormatError.badShape(
        path: path, tensor: name, shape: shapeText, reason: "the byte size overflows 64 bits")
    }
    let offset = try r.read(UInt64.self, "data offset of tensor '\(name)'")
    guard offset <= UInt64(Int.max) else {
      throw FormatError.tensorOutOfBounds(
        path: path, tensor: name, offset: Int.max, byteCount: byteCount, limit: r.bytes.count)
    }
    guard Int(offset) % alignment == 0 else {
      throw FormatError.misalignedTensor(
        path: path, tensor: name, offset: Int(offset), alignment: alignment)
    }
    return GGUFTensorInfo(
      name: name, dims: dims, type: type, offset: Int(offset), byteCount: byteCount,
      elementCount: elementCount)
  }

  /// Every tensor inside the file, no two overlapping.
  private static func checkRanges(
    _ infos: [GGUFTensorInfo], dataOffset: Int, fileSize: Int, path: String
  ) throws {
    for info in infos {
      let (start, o1) = dataOffset.addingReportingOverflow(info.offset)
      let (end, o2) = start.addingReportingOverflow(info.byteCount)
      if o1 || o2 || end > fileSize {
        throw FormatError.tensorOutOfBounds(
          path: path, tensor: info.name, offset: o1 ? Int.max : start, byteCount: info.byteCount,
          limit: fileSize)
      }
    }
    let order = infos.indices.sorted { (infos[$0].offset, $0) < (infos[$1].offset, $1) }
    for (a, b) in zip(order, order.dropFirst()) {
      let previous = infos[a]
      let next = infos[b]
      if next.offset < previous.offset + previous.byteCount {
        throw FormatError.overlappingTensors(
          path: path, tensor: next.name, other: previous.name, offset: dataOffset + next.offset)
      }
    }
  }

  /// `general.architecture` ("llama", "gpt2", ...), if present and a string.
  public var architecture: String? { metadata["general.architecture"]?.string }

  public var tensorNames: [String] { tensorInfos.map(\.name) }

  /// The entry for `name`.
  public func info(_ name: String) throws -> GGUFTensorInfo {
    guard let i = index[name] else { throw FormatError.missingTensor(path: path, tensor: name) }
    return tensorInfos[i]
  }

  public func shape(of name: String) throws -> [Int] { try info(name).shape }

  public func loadTensor(_ name: String) throws -> Tensor { try loadTensor(name, pool: pool) }

  /// Loads `name` as Float32 in PyTorch order, splitting rows across `pool` if given.
  public func loadTensor(_ name: String, pool: ThreadPool?) throws -> Tensor {
    let info = try info(name)
    guard info.type.isDequantizable else {
      throw FormatError.unsupportedDataType(
        path: path, tensor: name, type: "\(info.type)", wanted: "Float32")
    }
    let tensor = Tensor(shape: info.shape)
    let rowLength = info.dims.first ?? 1
    Dequantize.rows(
      info.type, file.bytes.baseAddress! + (dataOffset + info.offset), tensor.pointer,
      rows: info.elementCount / rowLength, rowLength: rowLength, pool: pool)
    return tensor
  }

  /// Calls `body` with the stored (possibly quantized) bytes of `name`.
  public func withRawBytes<R>(of name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws
    -> R
  {
    let info = try info(name)
    let start = dataOffset + info.offset
    return try body(UnsafeRawBufferPointer(rebasing: file.bytes[start..<(start + info.byteCount)]))
  }
}

extension GGUFFile {
  /// The value of `key`, or `.missingKey`.
  public func value(_ key: String) throws -> GGUFValue {
    guard let v = metadata[key] else { throw FormatError.missingKey(path: path, key: key) }
    return v
  }

  private func typed<T>(_ key: String, _ expected: String, _ get: (GGUFValue) -> T?) throws -> T {
    let v = try value(key)
    guard let t = get(v) else {
      throw FormatError.wrongValueType(path: path, key: key, expected: expected, found: v.typeName)
    }
    return t
  }

  /// An integer value (any GGUF integer type that fits Int).
  public func int(_ key: String) throws -> Int { try typed(key, "an integer") { $0.int } }
  /// A FLOAT32 or FLOAT64 value as Float.
  public func float(_ key: String) throws -> Float { try typed(key, "a float") { $0.float } }
  /// A BOOL value.
  public func bool(_ key: String) throws -> Bool { try typed(key, "a bool") { $0.bool } }
  /// A STRING value.
  public func string(_ key: String) throws -> String { try typed(key, "a string") { $0.string } }
  /// An ARRAY of STRING.
  public func stringArray(_ key: String) throws -> [String] {
    try typed(key, "an array of strings") { $0.stringArray }
  }
  /// An ARRAY of integers.
  public func intArray(_ key: String) throws -> [Int] {
    try typed(key, "an array of integers") { $0.intArray }
  }
  /// An ARRAY of floats.
  public func floatArray(_ key: String) throws -> [Float] {
    try typed(key, "an array of floats") { $0.floatArray }
  }
}
