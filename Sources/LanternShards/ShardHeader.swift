// The shard header: what a shard holds and where it came from, and its binary encoding
// (fields h1–h16 of the layout in ShardReader.swift).
//
// `ShardInfo` is what a writer knows before the first row; `ShardHeader` adds what the file
// records once it is finished (rows per block, row count). The encoding is a fixed sequence of
// little-endian fields and length-prefixed UTF-8 strings, so the Python reader needs only
// `struct`. Left out: optional or reordered fields (a new field means a new format version).

/// The element type rows are stored in. Activations arrive as Float32 and are rounded to
/// nearest-even on write; readers return Float32.
public enum ShardDType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
  /// IEEE binary32, stored exactly.
  case float32 = 0
  /// IEEE binary16 (values beyond ±65,504 become ±infinity).
  case float16 = 1
  /// bfloat16: the top half of a binary32 (8 exponent bits, 7 mantissa bits).
  case bfloat16 = 2

  /// Bytes per stored element.
  public var elementSize: Int { self == .float32 ? 4 : 2 }
  /// "f32", "f16" or "bf16".
  public var description: String {
    switch self {
    case .float32: "f32"
    case .float16: "f16"
    case .bfloat16: "bf16"
    }
  }

  /// Parses "f32" / "f16" / "bf16" (also "float32", "float16", "bfloat16").
  public init?(name: String) {
    switch name.lowercased() {
    case "f32", "float32", "fp32": self = .float32
    case "f16", "float16", "fp16": self = .float16
    case "bf16", "bfloat16": self = .bfloat16
    default: return nil
    }
  }
}

/// How a block's stored elements are rearranged before LZ4 (see ByteShuffle.swift).
public enum ShardLayout: UInt8, Sendable, CaseIterable, CustomStringConvertible {
  /// Row-major elements as they are.
  case plain = 0
  /// Byte planes: every element's byte 0, then every byte 1, ... (Blosc's shuffle).
  case byteShuffle = 1
  /// Bit planes in 4,096-element chunks (bitshuffle); the best ratio on residual streams.
  case bitShuffle = 2

  /// "plain", "byte-shuffle" or "bit-shuffle".
  public var description: String {
    switch self {
    case .plain: "plain"
    case .byteShuffle: "byte-shuffle"
    case .bitShuffle: "bit-shuffle"
    }
  }

  /// Parses the names `description` returns.
  public init?(name: String) {
    guard let match = Self.allCases.first(where: { $0.description == name.lowercased() }) else { return nil }
    self = match
  }
}

/// What a shard holds and where its activations came from; everything a writer needs up front.
public struct ShardInfo: Sendable, Equatable {
  /// The TransformerLens hook name, e.g. "blocks.15.hook_resid_post".
  public var hook: String
  /// The model's architecture string (e.g. "llama").
  public var architecture: String
  /// A hash identifying the model's weight files.
  public var weightsHash: String
  /// A hash identifying the tokenizer.
  public var tokenizerHash: String
  /// The stored element type.
  public var dtype: ShardDType
  /// The block layout applied before LZ4.
  public var layout: ShardLayout
  /// Row width (elements per activation row, e.g. d_model).
  public var d: Int
  /// Tokens per context window the activations were computed in.
  public var contextSize: Int
  /// Whether each window started with a BOS token.
  public var prependBOS: Bool
  /// How documents were packed into windows (a free-form name, e.g. "concat" or "pad").
  public var packing: String
  /// The work unit that produced the shard.
  public var unitID: String
  /// The job seed.
  public var seed: UInt64
  /// Free-form provenance (versions, corpus name, command line...). Stored sorted by key.
  public var provenance: [String: String]

  public init(
    hook: String, architecture: String, weightsHash: String, tokenizerHash: String, dtype: ShardDType,
    layout: ShardLayout, d: Int, contextSize: Int, prependBOS: Bool, packing: String, unitID: String,
    seed: UInt64, provenance: [String: String] = [:]
  ) {
    self.hook = hook
    self.architecture = architecture
    self.weightsHash = weightsHash
    self.tokenizerHash = tokenizerHash
    self.dtype = dtype
    self.layout = layout
    self.d = d
    self.contextSize = contextSize
    self.prependBOS = prependBOS
    self.packing = packing
    self.unitID = unitID
    self.seed = seed
    self.provenance = provenance
  }
}

/// A finished shard's header: its `ShardInfo` plus the block size and row count.
public struct ShardHeader: Sendable, Equatable {
  public var info: ShardInfo
  /// Rows in every block but the last (which holds the rest, at least one row).
  public var rowsPerBlock: Int
  /// Rows in the shard.
  public var rowCount: Int

  public init(info: ShardInfo, rowsPerBlock: Int, rowCount: Int) {
    self.info = info
    self.rowsPerBlock = rowsPerBlock
    self.rowCount = rowCount
  }
}

// MARK: Encoding

extension ShardHeader {
  /// The header bytes (fields h1–h16).
  func encoded() -> [UInt8] {
    var out: [UInt8] = []
    func string(_ s: String) {
      let bytes = Array(s.utf8)
      integer(UInt32(bytes.count))
      out += bytes
    }
    func integer<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { out += $0 } }
    string(info.hook)
    string(info.architecture)
    string(info.weightsHash)
    string(info.tokenizerHash)
    integer(info.dtype.rawValue)
    integer(info.layout.rawValue)
    integer(UInt16(0))
    integer(UInt32(info.d))
    integer(UInt32(rowsPerBlock))
    integer(UInt64(rowCount))
    integer(UInt32(info.contextSize))
    integer(UInt8(info.prependBOS ? 1 : 0))
    string(info.packing)
    string(info.unitID)
    integer(info.seed)
    let keys = info.provenance.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    integer(UInt32(keys.count))
    for key in keys {
      string(key)
      string(info.provenance[key]!)
    }
    return out
  }

  /// Parses header bytes that start at file offset `base`; every field is checked.
  static func decode(_ bytes: UnsafeRawBufferPointer, base: UInt64, path: String) throws(ShardError)
    -> ShardHeader
  {
    var r = ShardCursor(bytes: bytes, base: base, path: path, section: "header")
    let hook = try r.string("hook")
    let architecture = try r.string("architecture")
    let weightsHash = try r.string("weights hash")
    let tokenizerHash = try r.string("tokenizer hash")
    let dtypeOffset = r.fileOffset
    let dtypeCode = try r.integer(UInt8.self, "dtype")
    guard let dtype = ShardDType(rawValue: dtypeCode) else {
      throw .invalidHeader(
        path: path, field: "dtype", offset: dtypeOffset, reason: "unknown code \(dtypeCode)")
    }
    let layoutOffset = r.fileOffset
    let layoutCode = try r.integer(UInt8.self, "layout")
    guard let layout = ShardLayout(rawValue: layoutCode) else {
      throw .invalidHeader(
        path: path, field: "layout", offset: layoutOffset, reason: "unknown code \(layoutCode)")
    }
    let reservedOffset = r.fileOffset
    guard try r.integer(UInt16.self, "reserved") == 0 else {
      throw .invalidHeader(path: path, field: "reserved", offset: reservedOffset, reason: "must be zero")
    }
    let dOffset = r.fileOffset
    let d = Int(try r.integer(UInt32.self, "d"))
    guard d >= 1, d <= ShardFormat.maxWidth else {
      throw .invalidHeader(
        path: path, field: "d", offset: dOffset, reason: "\(d) is outside 1...\(ShardFormat.maxWidth)")
    }
    let rpbOffset = r.fileOffset
    let rowsPerBlock = Int(try r.integer(UInt32.self, "rows per block"))
    guard rowsPerBlock >= 1, rowsPerBlock * d * dtype.elementSize <= ShardFormat.maxBlockBytes else {
      throw .invalidHeader(
        path: path, field: "rows per block", offset: rpbOffset,
        reason:
          "\(rowsPerBlock) rows of \(d) × \(dtype) is empty or more than \(ShardFormat.maxBlockBytes) bytes")
    }
    let rowCountOffset = r.fileOffset
    let rowCount = try r.integer(UInt64.self, "row count")
    guard rowCount <= ShardFormat.maxRows else {
      throw .lengthTooLarge(
        path: path, field: "row count", offset: rowCountOffset, value: rowCount, limit: ShardFormat.maxRows)
    }
    let contextSize = Int(try r.integer(UInt32.self, "context size"))
    let bosOffset = r.fileOffset
    let bos = try r.integer(UInt8.self, "prepend BOS")
    guard bos <= 1 else {
      throw .invalidHeader(
        path: path, field: "prepend BOS", offset: bosOffset, reason: "\(bos) is not 0 or 1")
    }
    let packing = try r.string("packing")
    let unitID = try r.string("unit id")
    let seed = try r.integer(UInt64.self, "seed")
    let countOffset = r.fileOffset
    let count = try r.integer(UInt32.self, "provenance count")
    guard UInt64(count) * 8 <= UInt64(r.remaining) else {
      throw .lengthTooLarge(
        path: path, field: "provenance count", offset: countOffset, value: UInt64(count),
        limit: UInt64(r.remaining / 8))
    }
    var provenance: [String: String] = [:]
    var previous: [UInt8]? = nil
    for _ in 0..<count {
      let keyOffset = r.fileOffset
      let key = try r.string("provenance key")
      let value = try r.string("provenance value '\(key)'")
      let keyBytes = Array(key.utf8)
      if let previous, !previous.lexicographicallyPrecedes(keyBytes) {
        throw .invalidHeader(
          path: path, field: "provenance key '\(key)'", offset: keyOffset,
          reason: "keys must be unique and sorted")
      }
      previous = keyBytes
      provenance[key] = value
    }
    if r.remaining != 0 {
      throw .invalidHeader(
        path: path, field: "end", offset: r.fileOffset,
        reason: "\(r.remaining) unknown bytes after the last field")
    }
    let info = ShardInfo(
      hook: hook, architecture: architecture, weightsHash: weightsHash, tokenizerHash: tokenizerHash,
      dtype: dtype, layout: layout, d: d, contextSize: contextSize, prependBOS: bos == 1, packing: packing,
      unitID: unitID, seed: seed, provenance: provenance)
    return ShardHeader(info: info, rowsPerBlock: rowsPerBlock, rowCount: Int(rowCount))
  }
}

/// A bounds-checked little-endian cursor over an in-memory section of a shard file.
struct ShardCursor {
  let bytes: UnsafeRawBufferPointer
  let base: UInt64
  let path: String
  let section: String
  var offset = 0

  init(bytes: UnsafeRawBufferPointer, base: UInt64, path: String, section: String) {
    self.bytes = bytes
    self.base = base
    self.path = path
    self.section = section
  }

  var remaining: Int { bytes.count - offset }
  var fileOffset: UInt64 { base + UInt64(offset) }

  mutating func integer<T: FixedWidthInteger>(_: T.Type, _ field: String) throws(ShardError) -> T {
    let size = MemoryLayout<T>.size
    guard size <= remaining else {
      throw .invalidHeader(
        path: path, field: field, offset: fileOffset,
        reason: "needs \(size) bytes but the \(section) has \(remaining) left")
    }
    let value = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
    offset += size
    return T(littleEndian: value)
  }

  mutating func string(_ field: String) throws(ShardError) -> String {
    let lengthOffset = fileOffset
    let length = UInt64(try integer(UInt32.self, "\(field) length"))
    guard length <= UInt64(remaining) else {
      throw .lengthTooLarge(
        path: path, field: "\(field) length", offset: lengthOffset, value: length, limit: UInt64(remaining))
    }
    let start = offset
    offset += Int(length)
    let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<offset]).bindMemory(to: UInt8.self)
    guard let text = String(validating: raw, as: UTF8.self) else {
      throw .invalidHeader(path: path, field: field, offset: lengthOffset + 4, reason: "not valid UTF-8")
    }
    return text
  }
}
