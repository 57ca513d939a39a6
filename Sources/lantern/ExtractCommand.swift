// `lantern extract`: activation extraction on one machine into a resumable job directory.

import ArgumentParser
import Foundation
import LanternExtraction
import LanternPipeline

struct ExtractCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "extract",
    abstract: "Extract activations at hook points over a corpus into compressed, checksummed shards.",
    discussion: "Rerunning the same command on the same --out directory resumes: committed units are skipped."
  )

  @Option(help: "A Hugging Face directory or a .gguf file.") var model: String
  @Option(help: "A corpus file or directory (.txt, .jsonl, .jsonl.gz, .npy, .bin).") var corpus: String
  @Option(help: "Comma-separated hook names (TransformerLens names).") var hooks: String
  @Option(name: .customLong("context-size"), help: "Tokens per context window.") var contextSize = 128
  @Option(help: "Token budget (default: the whole corpus).") var tokens: Int?
  @Option(help: "Stored precision: bf16, f16 or f32.") var dtype = "bf16"
  @Option(name: .customLong("shard-rows"), help: "Rows (tokens) per shard; rounded to whole windows.")
  var shardRows = 32_768
  @Option(name: .customLong("batch-size"), help: "Context windows per forward pass.") var batchSize = 8
  @Option(help: "Compute threads (part of the job: results are reproducible per thread count).")
  var threads = ProcessInfo.processInfo.activeProcessorCount
  @Option(help: "GEMM compute type: fp32 or bf16 (oneDNN, AMX/AVX512_BF16 CPUs; part of the job).")
  var compute = "fp32"
  @Option(help: "The job directory.") var out: String
  @Option(help: "concat (pack documents with a separator) or per-document.") var packing = "concat"
  @Flag(inversion: .prefixedNo, help: "Start each window with BOS.") var prependBos = true
  @Option(name: .customLong("corpus-format"), help: "auto, lines, files, jsonl or tokens.") var corpusFormat =
    "auto"
  @Option(name: .customLong("text-field"), help: "JSON field with the text (jsonl).") var textField = "text"
  @Option(name: .customLong("token-dtype"), help: "uint16 or uint32 for raw .bin token files.")
  var tokenDtype = "uint16"
  @Flag(name: .customLong("skip-bad-records"), help: "Count and skip malformed records instead of failing.")
  var skipBadRecords = false
  @Option(help: "Seed recorded in the job and every shard.") var seed: UInt64 = 0

  func run() throws {
    var corpusSettings = CorpusSettings(path: corpus)
    corpusSettings.format = corpusFormat
    corpusSettings.textField = textField
    corpusSettings.tokenDType = tokenDtype
    corpusSettings.skipBadRecords = skipBadRecords
    var s = ExtractionSettings(
      model: model, corpus: corpusSettings, hooks: hooks.split(separator: ",").map(String.init))
    s.contextSize = contextSize
    s.maxTokens = tokens
    s.dtype = dtype
    s.windowsPerUnit = max(1, shardRows / max(1, contextSize))
    s.batchSize = batchSize
    s.threads = threads
    s.compute = compute
    s.packing = packing
    s.prependBOS = prependBos
    try s.validate(source: "command line")
    try runExtraction(settings: s, seed: seed, jobDirectory: out)
  }
}

/// Opens the job, runs every pending unit with a live progress line, prints the report.
func runExtraction(settings: ExtractionSettings, seed: UInt64, jobDirectory: String) throws {
  let job = try ExtractionJob(
    settings: settings, seed: seed, directory: URL(fileURLWithPath: jobDirectory), log: log)
  let pending = job.pendingUnits.count
  log(
    "job \(jobDirectory): \(job.plan.units.count) units, \(job.plan.totals.tokens) tokens; "
      + "\(job.plan.units.count - pending) already committed, \(pending) to do")
  let isTTY = isatty(STDERR_FILENO) != 0
  let report = try job.run { line in
    FileHandle.standardError.write(Data((isTTY ? "\r\u{1B}[K" + line : line + "\n").utf8))
  }
  if isTTY { FileHandle.standardError.write(Data("\n".utf8)) }
  let ratio = report.bytes > 0 ? Double(report.rawFloat32Bytes) / Double(report.bytes) : 0
  print(
    String(
      format:
        "extracted %d tokens in %d units (%d skipped) in %@: %.0f tokens/s; %@ of shards, %.2f× smaller than fp32",
      report.tokens, report.unitsDone, report.unitsSkipped, formatDuration(report.seconds),
      report.tokensPerSecond,
      formatBytes(report.bytes), ratio))
  print("shards: \((jobDirectory as NSString).appendingPathComponent("shards"))")
}
