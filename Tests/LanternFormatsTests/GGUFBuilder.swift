// A tiny GGUF writer for tests: builds valid files field by field and records where each field
// landed, so corruption tests can patch exactly one field of an otherwise valid file.
// It is checked against gguf-py indirectly: the reader it feeds is tested on gguf-py's output.

import LanternFormats

struct GGUFBuilder {
  struct KV {
    var key: String
    var type: UInt32
    var payload: [UInt8]
  }

  struct TensorEntry {
    var name: String
    var dims: [UInt64]
    var type: UInt32
    var data: [UInt8]
    /// Explicit offset relative to the data section; nil places it after the previous tensor.
    var offset: UInt64?
  }

  var magic: [UInt8] = Array("GGUF".utf8)
  var version: UInt32 = 3
  var kvs: [KV] = []
  var tensors: [TensorEntry] = []
  var alignment = 32

  /// Where each field starts in the built file: "version", "tensor_count", "kv_count",
  /// "kv:<key>" (key length), "kv:<key>:type", "kv:<key>:value", "tensor:<name>" (name length),
  /// "tensor:<name>:n_dims", ":dims", ":type", ":offset", and "data".
  private(set) var fields: [String: Int] = [:]

  // MARK: Value payloads

  static func string(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    out.le(UInt64(s.utf8.count))
    out += Array(s.utf8)
    return out
  }

  static func u32(_ v: UInt32) -> [UInt8] {
    var out: [UInt8] = []
    out.le(v)
    return out
  }

  static func array(_ elementType: UInt32, _ elements: [[UInt8]]) -> [UInt8] {
    var out: [UInt8] = []
    out.le(elementType)
    out.le(UInt64(elements.count))
    for e in elements { out += e }
    return out
  }

  mutating func add(_ key: String, type: UInt32, _ payload: [UInt8]) {
    kvs.append(KV(key: key, type: type, payload: payload))
  }

  mutating func addTensor(
    _ name: String, dims: [UInt64], type: GGMLType, data: [UInt8], offset: UInt64? = nil
  ) {
    tensors.append(TensorEntry(name: name, dims: dims, type: type.rawValue, data: data, offset: offset))
  }

  /// F32 data bytes for `values`.
  static func f32Data(_ values: [Float]) -> [UInt8] {
    var out: [UInt8] = []
    for v in values { out.le(v.bitPattern) }
    return out
  }

  /// The standard small valid file used by corruption tests: two string/u32 keys, a string
  /// array, and two tensors (F32 [4] and Q8_0 ne=[32, 2]).
  static func small() -> GGUFBuilder {
    var b = GGUFBuilder()
    b.add("general.architecture", type: 8, string("llama"))
    b.add("llama.block_count", type: 4, u32(2))
    b.add("tokenizer.ggml.tokens", type: 9, array(8, [string("a"), string("bc")]))
    b.addTensor("norm.weight", dims: [4], type: .f32, data: f32Data([1, -2, 0.5, 4]))
    var q8: [UInt8] = []
    for block in 0..<2 {
      q8.le(Float16(0.5 * Float(block + 1)).bitPattern)
      for j in 0..<32 { q8.append(UInt8(bitPattern: Int8(j - 16))) }
    }
    b.addTensor("blk.0.attn_q.weight", dims: [32, 2], type: .q8_0, data: q8)
    return b
  }

  // MARK: Building

  mutating func build() -> [UInt8] {
    fields = [:]
    var out = magic
    fields["version"] = out.count
    out.le(version)
    fields["tensor_count"] = out.count
    out.le(UInt64(tensors.count))
    fields["kv_count"] = out.count
    out.le(UInt64(kvs.count))
    for kv in kvs {
      fields["kv:\(kv.key)"] = out.count
      out += Self.string(kv.key)
      fields["kv:\(kv.key):type"] = out.count
      out.le(kv.type)
      fields["kv:\(kv.key):value"] = out.count
      out += kv.payload
    }
    var offsets: [UInt64] = []
    var next: UInt64 = 0
    for t in tensors {
      let offset = t.offset ?? next
      offsets.append(offset)
      next = (offset + UInt64(t.data.count) + UInt64(alignment) - 1) / UInt64(alignment) * UInt64(alignment)
    }
    for (t, offset) in zip(tensors, offsets) {
      fields["tensor:\(t.name)"] = out.count
      out += Self.string(t.name)
      fields["tensor:\(t.name):n_dims"] = out.count
      out.le(UInt32(t.dims.count))
      fields["tensor:\(t.name):dims"] = out.count
      for d in t.dims { out.le(d) }
      fields["tensor:\(t.name):type"] = out.count
      out.le(t.type)
      fields["tensor:\(t.name):offset"] = out.count
      out.le(offset)
    }
    while out.count % alignment != 0 { out.append(0) }
    let dataStart = out.count
    fields["data"] = dataStart
    for (t, offset) in zip(tensors, offsets) {
      let start = dataStart + Int(offset)
      if out.count < start + t.data.count {
        out += [UInt8](repeating: 0, count: start + t.data.count - out.count)
      }
      for (i, b) in t.data.enumerated() { out[start + i] = b }
    }
    return out
  }

  func field(_ name: String) -> Int {
    guard let offset = fields[name] else {
      preconditionFailure("test bug: no field \(name); call build() first")
    }
    return offset
  }
}
