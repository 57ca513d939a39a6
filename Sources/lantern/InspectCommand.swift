// `lantern inspect SHARD`: a shard's header and statistics; `lantern export-npy` writes a row
// range as plain .npy arrays.

import ArgumentParser
import Foundation
import LanternShards

struct InspectCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "inspect", abstract: "Show a shard's header and statistics.")

  @Argument(help: "An .lshard file.") var shard: String

  func run() throws {
    let r = try ShardReader(path: shard)
    let i = r.info
    print("shard:        \(shard)")
    print("hook:         \(i.hook)  (unit \(i.unitID))")
    print("model:        \(i.architecture)  weights \(i.weightsHash)")
    print("tokenizer:    \(i.tokenizerHash)")
    print("rows:         \(r.rowCount) × d \(i.d), \(i.dtype), layout \(i.layout), \(r.blocks.count) blocks")
    print(
      "windows:      context \(i.contextSize), prepend_bos \(i.prependBOS), packing \(i.packing), seed \(i.seed)"
    )
    for (k, v) in i.provenance.sorted(by: { $0.key < $1.key }) { print("provenance:   \(k) = \(v)") }
    let raw32 = r.rowCount * i.d * 4
    print(
      String(
        format: "size:         %d bytes; %.2f× smaller than fp32, %.2f× than raw %@", Int(r.fileSize),
        Double(raw32) / Double(max(1, r.fileSize)),
        Double(r.rowCount * i.d * i.dtype.elementSize) / Double(max(1, r.fileSize)), i.dtype.description))
    var norms: [Float] = []
    var documents = Set<Int64>()
    try r.forEachBlock { b in
      norms += b.norms
      documents.formUnion(b.documentIDs)
    }
    norms.sort()
    if !norms.isEmpty {
      let q = { (p: Double) in norms[min(norms.count - 1, Int(p * Double(norms.count)))] }
      print(
        String(
          format: "row L2 norms: min %.3g  median %.3g  p99 %.3g  max %.4g", norms[0], q(0.5), q(0.99),
          norms.last!))
    }
    print("documents:    \(documents.filter { $0 >= 0 }.count) distinct")
  }
}

struct ExportNPYCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export-npy",
    abstract: "Write a shard's rows (or a range) as .npy: activations, token ids, positions.")

  @Argument(help: "An .lshard file.") var shard: String
  @Option(help: "Row range START:END (default: all).") var rows: String?
  @Option(help: "Output prefix: writes PREFIX.activations.npy, PREFIX.tokens.npy, PREFIX.positions.npy.")
  var out: String

  func run() throws {
    let r = try ShardReader(path: shard)
    var range: Range<Int>? = nil
    if let rows {
      let parts = rows.split(separator: ":", omittingEmptySubsequences: false)
      guard parts.count == 2, let a = parts[0].isEmpty ? 0 : Int(parts[0]),
        let b = parts[1].isEmpty ? r.rowCount : Int(parts[1]), 0 <= a, a <= b, b <= r.rowCount
      else {
        throw CLIError("--rows '\(rows)': expected START:END within 0...\(r.rowCount)")
      }
      range = a..<b
    }
    try r.exportNPY(
      rows: range, activations: URL(fileURLWithPath: out + ".activations.npy"),
      tokenIDs: URL(fileURLWithPath: out + ".tokens.npy"),
      positions: URL(fileURLWithPath: out + ".positions.npy"))
    print("wrote \(out).activations.npy, \(out).tokens.npy, \(out).positions.npy")
  }
}
