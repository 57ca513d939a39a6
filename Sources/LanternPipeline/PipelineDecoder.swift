// A strict decoder from YAML (parsed by Yams) to PipelineSpec: every mapping's keys are checked
// against the known set, every scalar against its type, and errors carry the key path and line.

import Foundation
import Yams

/// Reads pipeline files.
public enum PipelineDecoder {
  /// Decodes the pipeline file at `path`.
  public static func load(path: String) throws -> PipelineSpec {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw PipelineError(
        file: path, key: "", line: nil, message: "cannot read the file", hint: "check the path")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw PipelineError(
        file: path, key: "", line: nil, message: "not UTF-8 text", hint: "save the file as UTF-8")
    }
    return try decode(text, file: path)
  }

  /// Decodes pipeline YAML text; `file` names it in errors.
  public static func decode(_ text: String, file: String) throws -> PipelineSpec {
    let root: Node
    do {
      guard let node = try Yams.compose(yaml: text) else {
        throw PipelineError(
          file: file, key: "", line: nil, message: "the file is empty", hint: "see Pipelines/quickstart.yaml")
      }
      root = node
    } catch let error as PipelineError {
      throw error
    } catch {
      throw PipelineError(
        file: file, key: "", line: nil, message: "not valid YAML: \(error)",
        hint: "check indentation and quoting")
    }
    let r = Reader(file: file)
    let top = try r.mapping(
      root, "", allowed: ["name", "job_dir", "seed", "model", "corpus", "extract", "cluster"])
    let model = try r.string(r.required(top, "model", in: root), "model")
    let corpusNode = try r.required(top, "corpus", in: root)
    let c = try r.mapping(
      corpusNode, "corpus", allowed: ["path", "format", "text_field", "token_dtype", "skip_bad_records"])
    var corpus = CorpusSettings(
      path: try r.string(r.required(c, "path", in: corpusNode, prefix: "corpus."), "corpus.path"))
    if let v = c["format"] { corpus.format = try r.string(v, "corpus.format") }
    if let v = c["text_field"] { corpus.textField = try r.string(v, "corpus.text_field") }
    if let v = c["token_dtype"] { corpus.tokenDType = try r.string(v, "corpus.token_dtype") }
    if let v = c["skip_bad_records"] { corpus.skipBadRecords = try r.bool(v, "corpus.skip_bad_records") }

    let extractNode = try r.required(top, "extract", in: root)
    let e = try r.mapping(
      extractNode, "extract",
      allowed: [
        "hooks", "context_size", "prepend_bos", "packing", "max_tokens", "dtype", "windows_per_unit",
        "batch_size",
        "threads", "compute",
      ])
    var x = ExtractionSettings(
      model: model, corpus: corpus,
      hooks: try r.stringList(r.required(e, "hooks", in: extractNode, prefix: "extract."), "extract.hooks"))
    if let v = e["context_size"] { x.contextSize = try r.int(v, "extract.context_size") }
    if let v = e["prepend_bos"] { x.prependBOS = try r.bool(v, "extract.prepend_bos") }
    if let v = e["packing"] { x.packing = try r.string(v, "extract.packing") }
    if let v = e["max_tokens"] { x.maxTokens = try r.int(v, "extract.max_tokens") }
    if let v = e["dtype"] { x.dtype = try r.string(v, "extract.dtype") }
    if let v = e["windows_per_unit"] { x.windowsPerUnit = try r.int(v, "extract.windows_per_unit") }
    if let v = e["batch_size"] { x.batchSize = try r.int(v, "extract.batch_size") }
    if let v = e["threads"] { x.threads = try r.int(v, "extract.threads") }
    if let v = e["compute"] { x.compute = try r.string(v, "extract.compute") }
    try x.validate(source: file)

    var cluster = ClusterSettings()
    if let clusterNode = top["cluster"] {
      let k = try r.mapping(
        clusterNode, "cluster",
        allowed: [
          "workers", "heartbeat_ms", "lease_ms", "max_attempts", "curve_server_key", "curve_allowed_keys",
        ])
      if let v = k["workers"] { cluster.workers = try r.int(v, "cluster.workers", range: 0...4096) }
      if let v = k["heartbeat_ms"] {
        cluster.heartbeatMs = try r.int(v, "cluster.heartbeat_ms", range: 10...600_000)
      }
      if let v = k["lease_ms"] { cluster.leaseMs = try r.int(v, "cluster.lease_ms", range: 100...86_400_000) }
      if let v = k["max_attempts"] {
        cluster.maxAttempts = try r.int(v, "cluster.max_attempts", range: 1...1000)
      }
      if let v = k["curve_server_key"] {
        cluster.curveServerKey = try r.string(v, "cluster.curve_server_key")
      }
      if let v = k["curve_allowed_keys"] {
        cluster.curveAllowedKeys = try r.stringList(v, "cluster.curve_allowed_keys")
      }
      if cluster.leaseMs < 3 * cluster.heartbeatMs {
        throw PipelineError(
          file: file, key: "cluster.lease_ms", line: r.line(k["lease_ms"]),
          message: "\(cluster.leaseMs) ms is shorter than 3 heartbeats (\(3 * cluster.heartbeatMs) ms)",
          hint: "the progress lease must outlast the heartbeat liveness")
      }
    }
    let name =
      try top["name"].map { try r.string($0, "name") }
      ?? ((file as NSString).lastPathComponent as NSString)
      .deletingPathExtension
    let jobDir = try top["job_dir"].map { try r.string($0, "job_dir") } ?? "out/\(name)"
    var spec = PipelineSpec(name: name, jobDirectory: jobDir, extract: x, cluster: cluster)
    if let v = top["seed"] { spec.seed = UInt64(try r.int(v, "seed", range: 0...Int.max)) }
    return spec
  }
}

/// Typed access to YAML nodes with errors that name the key path and line.
struct Reader {
  let file: String

  func line(_ node: Node?) -> Int? { node?.mark.map { $0.line } }

  func error(_ node: Node?, _ key: String, _ message: String, _ hint: String) -> PipelineError {
    PipelineError(file: file, key: key, line: line(node), message: message, hint: hint)
  }

  func mapping(_ node: Node, _ path: String, allowed: Set<String>) throws -> [String: Node] {
    guard case .mapping(let m) = node else {
      throw error(
        node, path.isEmpty ? "(top level)" : path, "expected a mapping of keys", "indent the keys under it")
    }
    var out: [String: Node] = [:]
    for (k, v) in m {
      guard case .scalar(let s) = k else {
        throw error(k, path, "keys must be plain strings", "quote the key")
      }
      let full = path.isEmpty ? s.string : "\(path).\(s.string)"
      guard allowed.contains(s.string) else {
        throw error(k, full, "unknown key", "known keys here: \(allowed.sorted().joined(separator: ", "))")
      }
      if out[s.string] != nil { throw error(k, full, "key given twice", "remove one of them") }
      out[s.string] = v
    }
    return out
  }

  func required(_ m: [String: Node], _ key: String, in parent: Node, prefix: String = "") throws -> Node {
    guard let v = m[key] else { throw error(parent, prefix + key, "required key is missing", "add it") }
    return v
  }

  func string(_ node: Node, _ key: String) throws -> String {
    guard case .scalar(let s) = node, node.tag.description != "tag:yaml.org,2002:null" else {
      throw error(node, key, "expected a string", "write a plain or quoted string")
    }
    return s.string
  }

  func int(_ node: Node, _ key: String, range: ClosedRange<Int>? = nil) throws -> Int {
    guard case .scalar(let s) = node, let v = Int(s.string.replacingOccurrences(of: "_", with: "")) else {
      throw error(
        node, key, "expected an integer, found '\(node.scalar?.string ?? "a collection")'",
        "write a whole number")
    }
    if let range, !range.contains(v) {
      throw error(
        node, key, "\(v) is outside \(range.lowerBound)...\(range.upperBound)", "choose a value in range")
    }
    return v
  }

  func bool(_ node: Node, _ key: String) throws -> Bool {
    guard case .scalar(let s) = node else {
      throw error(node, key, "expected true or false", "write true or false")
    }
    switch s.string {
    case "true", "True", "yes": return true
    case "false", "False", "no": return false
    default: throw error(node, key, "expected true or false, found '\(s.string)'", "write true or false")
    }
  }

  func stringList(_ node: Node, _ key: String) throws -> [String] {
    guard case .sequence(let seq) = node else {
      throw error(node, key, "expected a list", "write [a, b] or one '- item' per line")
    }
    return try seq.map { try string($0, key) }
  }
}
