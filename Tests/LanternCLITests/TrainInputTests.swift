// `lantern train` over every architecture and kind, from a job directory and from .npy files, and
// against bad settings and hostile input: each must train (exit 0, final/ with the documented
// `architecture`, tensors and shapes, a held-out line) or fail cleanly (a message naming the culprit,
// a non-zero exit code, no signal, no trap). Reruns (settings that may or may not change, damaged
// checkpoints) are in TrainProcessTests.swift.

import Foundation
import LanternDictionaries
import LanternFormats
import LanternTensor
import LanternTestSupport
import Testing

// MARK: - Helpers

/// .npy files made from the shared job: `lantern export-npy` of 8 shards per hook, concatenated
/// (8,192 rows: two 4,096-row blocks, one held out with --held-out-one-in 2).
enum TrainNPY {
  private static let made: Result<URL, any Error> = Result { try export() }

  /// The directory holding `<hook>.npy` for the resid_post, ln2 and mlp_out hooks.
  static func directory() throws -> URL { try made.get() }

  static func path(_ hook: String) throws -> String {
    try directory().appendingPathComponent("\(hook).npy").path
  }

  private static func export() throws -> URL {
    let job = try TrainJob.directory()
    let dir = TrainJob.root.appendingPathComponent("npy")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    for hook in [TrainJob.residPost1, TrainJob.ln2Normalized2, TrainJob.mlpOut2] {
      var rows: [Float] = []
      var width = 0
      for unit in 0..<8 {
        let shard = job.appendingPathComponent(String(format: "shards/\(hook)/u%06d.lshard", unit))
        let prefix = dir.appendingPathComponent("\(hook)-\(unit)")
        let r = try runProcess(["export-npy", shard.path, "--out", prefix.path], logs: prefix)
        guard r.status == 0 else { throw FixtureError("export-npy \(shard.path): \(r.stderr)") }
        let t = try NPY.readFloat32(URL(fileURLWithPath: prefix.path + ".activations.npy"))
        width = t.shape[1]
        rows += t.buffer
      }
      let count = rows.count / width
      try rows.withUnsafeBufferPointer {
        try NPY.writeFloat32(
          $0.baseAddress!, shape: [count, width], to: dir.appendingPathComponent("\(hook).npy"))
      }
    }
    return dir
  }
}

/// The `architecture` in cfg.json for a training architecture and kind (docs/dictionary-format.md).
func exportedArchitecture(_ arch: String, _ kind: String) -> String {
  let family = arch == "relu" ? "" : (arch == "topk" ? "topk" : "jumprelu")
  switch kind {
  case "sae": return arch == "relu" ? "standard" : family
  case "transcoder": return family.isEmpty ? "transcoder" : "\(family)_transcoder"
  case "skip-transcoder": return family.isEmpty ? "skip_transcoder" : "\(family)_skip_transcoder"
  default: return family.isEmpty ? "crosscoder" : "\(family)_crosscoder"
  }
}

/// The tensors and shapes sae_weights.safetensors must hold (docs/dictionary-format.md).
func expectedTensors(arch: String, kind: String, dIn: Int, dOut: Int, dSAE: Int, hooks: Int) -> [String:
  [Int]]
{
  var t: [String: [Int]]
  if kind == "crosscoder" {
    t = [
      "W_enc": [hooks, dIn, dSAE], "b_enc": [dSAE], "W_dec": [dSAE, hooks, dOut], "b_dec": [hooks, dOut],
    ]
  } else {
    t = ["W_enc": [dIn, dSAE], "b_enc": [dSAE], "W_dec": [dSAE, dOut], "b_dec": [dOut]]
  }
  if arch != "relu" && arch != "topk" { t["threshold"] = [dSAE] }
  if kind == "skip-transcoder" { t["W_skip"] = [dOut, dIn] }
  return t
}

func readConfig(_ out: URL) throws -> [String: Any] {
  let data = try Data(contentsOf: out.appendingPathComponent("final/cfg.json"))
  return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

/// One architecture × kind case of the "everything trains" tests.
struct TrainCase: CustomTestStringConvertible, Sendable {
  let arch: String
  let kind: String
  var testDescription: String { "\(arch) \(kind)" }
}

let allArchitectures = ["relu", "topk", "batchtopk", "jumprelu", "matryoshka"]

/// Trains `line` on `data` and checks the exit, the held-out line and final/'s cfg.json and tensors.
/// `check` then looks at the output directory and the result before it is removed.
func expectTrains(
  _ line: TrainCommandLine, data: String, dIn: Int, dOut: Int, hooks: Int,
  check: (URL, ProcessResult) throws -> Void = { _, _ in }
) throws {
  let root = try Fixtures.temporaryDirectory("train-case")
  defer { try? FileManager.default.removeItem(at: root) }
  let out = root.appendingPathComponent("out")
  let r = try runProcess(line.arguments(data: data, out: out), logs: root.appendingPathComponent("log"))
  #expect(r.reason == .exit)
  try #require(r.status == 0, "\(line.arch) \(line.kind): \(r.stderr)")
  #expect(r.stdout.contains("held out ("), "no held-out line: \(r.stdout)")
  let cfg = try readConfig(out)
  #expect(cfg["architecture"] as? String == exportedArchitecture(line.arch, line.kind))
  #expect(cfg["d_sae"] as? Int == line.dSAE)
  #expect(cfg["d_in"] as? Int == dIn)
  if line.kind == "crosscoder" { #expect(cfg["n_hooks"] as? Int == hooks) }
  if line.kind != "sae" { #expect(cfg["d_out"] as? Int == dOut) }
  if line.arch == "topk" { #expect(cfg["k"] as? Int == line.k) }
  let weights = try SafetensorsFile(url: out.appendingPathComponent("final/sae_weights.safetensors"))
  var shapes: [String: [Int]] = [:]
  for name in weights.tensorNames { shapes[name] = try weights.shape(of: name) }
  #expect(
    shapes
      == expectedTensors(
        arch: line.arch, kind: line.kind, dIn: dIn, dOut: dOut, dSAE: line.dSAE, hooks: hooks))
  let sparsity = try SafetensorsFile(url: out.appendingPathComponent("final/sparsity.safetensors"))
  #expect(try sparsity.shape(of: "sparsity") == [line.dSAE])
  try check(out, r)
}

/// The exported dictionary, read by Lantern's importer and run with its naive SAELens semantics on
/// the raw held-out rows, gives the held-out FVU the trainer printed (which it measured in its own
/// scaled training layout): the export's folding is consistent end to end. Only for architectures
/// whose inference activation is the training one (not batchtopk/matryoshka, which export a threshold).
func expectExportReproducesHeldOutFVU(
  out: URL, result: ProcessResult, inputs: URL, targets: URL?, heldOutBlock: Int, blockRows: Int
) throws {
  let printed = try #require(result.stdout.firstMatch(of: /held out \((\d+) rows[^:]*: FVU (\d+\.\d+)/))
  try #require(Int(printed.1) == blockRows, "rows were filtered from the held-out block: \(result.stdout)")
  let imported = try DictionaryImporter.read(out.appendingPathComponent("final")).dictionary
  func block(_ url: URL) throws -> Tensor {
    let t = try NPY.readFloat32(url)
    let d = t.shape[1]
    let rows = Array(t.buffer[(heldOutBlock * blockRows * d)..<((heldOutBlock + 1) * blockRows * d)])
    return Tensor(shape: [blockRows, d], values: rows)
  }
  let x = try block(inputs)
  let y = try targets.map(block) ?? x
  let yHat = imported.referenceDecode(imported.referenceEncode(x), input: x)
  let d = y.shape[1]
  var mean = [Double](repeating: 0, count: d)
  for i in 0..<y.count { mean[i % d] += Double(y.pointer[i]) / Double(blockRows) }
  var sse = 0.0
  var total = 0.0
  for i in 0..<y.count {
    sse += (Double(yHat.pointer[i]) - Double(y.pointer[i])) * (Double(yHat.pointer[i]) - Double(y.pointer[i]))
    total += (Double(y.pointer[i]) - mean[i % d]) * (Double(y.pointer[i]) - mean[i % d])
  }
  let fvu = sse / total
  let reported = try #require(Double(printed.2))
  #expect(
    abs(fvu - reported) <= 1e-4 + 1e-3 * reported,
    "exported dictionary FVU \(fvu), trainer printed \(reported)")
}

/// A short run for the "everything trains" and the refusal tests.
func shortRun(_ arch: String, _ kind: String) -> TrainCommandLine {
  var line = TrainCommandLine(arch: arch, kind: kind, dSAE: 128, tokens: 4096, checkpointEvery: 8)
  switch kind {
  case "transcoder", "skip-transcoder":
    line.hooks = [TrainJob.ln2Normalized2]
    line.targetHook = TrainJob.mlpOut2
  case "crosscoder":
    line.hooks = [TrainJob.residPost0, TrainJob.residPost1, TrainJob.residPost2]
  default:
    break
  }
  return line
}

/// Runs `arguments` and expects a clean failure whose stderr names every string of `names`.
func expectRefusal(_ arguments: [String], naming names: [String], in root: URL, _ what: String) throws {
  let r = try runProcess(arguments, logs: root.appendingPathComponent("refused-\(UUID().uuidString)"))
  #expect(r.failedCleanly, "\(what): reason \(r.reason) status \(r.status): \(r.stderr)")
  #expect(r.stderr.contains("HINT"), "\(what): no hint: \(r.stderr)")
  for name in names {
    #expect(r.stderr.contains(name), "\(what): the message does not name '\(name)': \(r.stderr)")
  }
}

// MARK: - Every architecture and kind trains

@Test(
  arguments: allArchitectures.flatMap { a in
    ["sae", "transcoder", "skip-transcoder", "crosscoder"].map { TrainCase(arch: a, kind: $0) }
  })
func everyArchitectureAndKindTrainsFromAJobDirectory(_ c: TrainCase) throws {
  let hooks = c.kind == "crosscoder" ? 3 : 1
  try expectTrains(shortRun(c.arch, c.kind), data: TrainJob.directory().path, dIn: 64, dOut: 64, hooks: hooks)
}

@Test(
  arguments: allArchitectures.flatMap { a in
    ["sae", "transcoder", "skip-transcoder"].map { TrainCase(arch: a, kind: $0) }
  })
func everyArchitectureAndKindTrainsFromNPY(_ c: TrainCase) throws {
  var line = shortRun(c.arch, c.kind)
  line.hooks = []
  line.targetHook = nil
  line.heldOutOneIn = 2
  let input = URL(
    fileURLWithPath: try TrainNPY.path(c.kind == "sae" ? TrainJob.residPost1 : TrainJob.ln2Normalized2))
  let target = c.kind == "sae" ? nil : URL(fileURLWithPath: try TrainNPY.path(TrainJob.mlpOut2))
  if let target { line.extra += ["--target-data", target.path] }
  let split = HeldOutSplit(oneIn: 2, seed: 7)
  let heldOut = try #require((0..<2).first { split.isHeldOut(unitIndex: $0) })
  try expectTrains(line, data: input.path, dIn: 64, dOut: 64, hooks: 1) { out, result in
    guard ["relu", "topk", "jumprelu"].contains(c.arch) else { return }
    try expectExportReproducesHeldOutFVU(
      out: out, result: result, inputs: input, targets: target, heldOutBlock: heldOut, blockRows: 4096)
  }
}

/// A crosscoder over two hooks (the smallest case) from a job directory.
@Test func crosscoderOverTwoHooksTrains() throws {
  var line = shortRun("topk", "crosscoder")
  line.hooks = [TrainJob.residPost1, TrainJob.residPost2]
  try expectTrains(line, data: TrainJob.directory().path, dIn: 64, dOut: 64, hooks: 2)
}

// MARK: - Bad settings and hostile input

@Test func unknownHookIsRefusedListingTheAvailableHooks() throws {
  let root = try Fixtures.temporaryDirectory("train-bad")
  defer { try? FileManager.default.removeItem(at: root) }
  var line = shortRun("topk", "sae")
  line.hooks = ["blocks.9.hook_resid_post"]
  try expectRefusal(
    line.arguments(data: try TrainJob.directory().path, out: root.appendingPathComponent("out")),
    naming: ["blocks.9.hook_resid_post"] + TrainJob.hooks, in: root, "unknown hook")
}

@Test func crosscoderHooksOfDifferentWidthsAreRefusedNamingTheHook() throws {
  let root = try Fixtures.temporaryDirectory("train-bad")
  defer { try? FileManager.default.removeItem(at: root) }
  var line = shortRun("topk", "crosscoder")
  line.hooks = [TrainJob.residPost2, TrainJob.mlpPost2]  // d_model 64, d_mlp 160
  try expectRefusal(
    line.arguments(data: try TrainJob.directory().path, out: root.appendingPathComponent("out")),
    naming: [TrainJob.mlpPost2, "160", "64"], in: root, "crosscoder width mismatch")
}

@Test func kNotBelowDSAEIsRefusedNamingK() throws {
  let root = try Fixtures.temporaryDirectory("train-bad")
  defer { try? FileManager.default.removeItem(at: root) }
  for arch in ["topk", "batchtopk", "matryoshka"] {
    var line = shortRun(arch, "sae")
    line.dSAE = 64
    line.k = 64
    try expectRefusal(
      line.arguments(data: try TrainJob.directory().path, out: root.appendingPathComponent("out-\(arch)")),
      naming: ["--k", "64"], in: root, "\(arch) k = d_sae")
  }
}

@Test func dSAEAndExpansionMustBeGivenExactlyOnce() throws {
  let root = try Fixtures.temporaryDirectory("train-bad")
  defer { try? FileManager.default.removeItem(at: root) }
  let job = try TrainJob.directory().path
  let base = shortRun("topk", "sae").arguments(data: job, out: root.appendingPathComponent("out"))
  try expectRefusal(base + ["--expansion", "2"], naming: ["--d-sae", "--expansion"], in: root, "both given")
  var neither = base
  let i = try #require(neither.firstIndex(of: "--d-sae"))
  neither.removeSubrange(i...(i + 1))
  try expectRefusal(neither, naming: ["--d-sae", "--expansion"], in: root, "neither given")
  #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("out/final").path))
}

@Test func jobDirectoryWithNoCommittedUnitIsRefusedAsEmpty() throws {
  let root = try Fixtures.temporaryDirectory("train-bad")
  defer { try? FileManager.default.removeItem(at: root) }
  let job = try TrainJob.copy(into: root)
  try Data().write(to: job.appendingPathComponent("manifest.jsonl"))
  try expectRefusal(
    shortRun("topk", "sae").arguments(data: job.path, out: root.appendingPathComponent("out")),
    naming: [job.path, "no committed unit"], in: root, "empty manifest")
}

@Test func npyWithZeroRowsIsRefusedAsEmpty() throws {
  let root = try Fixtures.temporaryDirectory("train-bad")
  defer { try? FileManager.default.removeItem(at: root) }
  let empty = root.appendingPathComponent("empty.npy")
  let zero: Float = 0
  try withUnsafePointer(to: zero) { try NPY.writeFloat32($0, shape: [0, 64], to: empty) }
  var line = shortRun("topk", "sae")
  line.hooks = []
  try expectRefusal(
    line.arguments(data: empty.path, out: root.appendingPathComponent("out")),
    naming: [empty.path, "0 rows"],
    in: root, "empty .npy")
}

/// Bytes flipped in the middle of a committed shard: the error names that shard file, whether the
/// unit is trained on or held out.
@Test func corruptShardIsRefusedNamingTheShardFile() throws {
  let root = try Fixtures.temporaryDirectory("train-bad")
  defer { try? FileManager.default.removeItem(at: root) }
  let job = try TrainJob.copy(into: root)
  // One unit trained on (the damage is found when the run first reads it, before any step) and one
  // held out (found by the held-out pass after the last step), chosen by the run's split (seed 7,
  // one in 5).
  let split = HeldOutSplit(oneIn: 5, seed: 7)
  let heldOut = try #require((0..<15).first { split.isHeldOut(unitIndex: $0) })
  let trained = try #require((0..<15).first { !split.isHeldOut(unitIndex: $0) })
  for unit in [trained, heldOut].map({ String(format: "u%06d", $0) }) {
    let shard = job.appendingPathComponent("shards/\(TrainJob.residPost1)/\(unit).lshard")
    var bytes = try Data(contentsOf: shard)
    for i in (bytes.count / 2)..<(bytes.count / 2 + 16) { bytes[i] ^= 0x5A }
    try bytes.write(to: shard)
    try expectRefusal(
      shortRun("topk", "sae").arguments(data: job.path, out: root.appendingPathComponent("out-\(unit)")),
      naming: ["\(unit).lshard"], in: root, "corrupt shard \(unit)")
    let line = shortRun("topk", "sae")
    let steps = checkpointSteps(root.appendingPathComponent("out-\(unit)"))
    #expect(
      unit == String(format: "u%06d", heldOut) ? steps.last == line.totalSteps : steps.isEmpty, "\(steps)")
    try FileManager.default.removeItem(at: shard)
    try FileManager.default.copyItem(
      at: try TrainJob.directory().appendingPathComponent("shards/\(TrainJob.residPost1)/\(unit).lshard"),
      to: shard)
  }
}

@Test func truncatedOrGarbageNPYIsRefusedNamingTheFile() throws {
  let root = try Fixtures.temporaryDirectory("train-bad")
  defer { try? FileManager.default.removeItem(at: root) }
  let good = try Data(contentsOf: URL(fileURLWithPath: try TrainNPY.path(TrainJob.residPost1)))
  var line = shortRun("topk", "sae")
  line.hooks = []
  var garbage = SplitMix64(seed: 3)
  let cases: [(String, Data)] = [
    ("truncated-data.npy", good.prefix(good.count / 2)),
    ("truncated-header.npy", good.prefix(40)),
    ("garbage.npy", Data((0..<4096).map { _ in UInt8(truncatingIfNeeded: garbage.next()) })),
    ("empty-file.npy", Data()),
  ]
  for (name, bytes) in cases {
    let file = root.appendingPathComponent(name)
    try bytes.write(to: file)
    try expectRefusal(
      line.arguments(data: file.path, out: root.appendingPathComponent("out-\(name)")), naming: [file.path],
      in: root, name)
  }
  // A transcoder's target file with another row count.
  let short = root.appendingPathComponent("short-target.npy")
  let rows = [Float](repeating: 1, count: 100 * 64)
  try rows.withUnsafeBufferPointer { try NPY.writeFloat32($0.baseAddress!, shape: [100, 64], to: short) }
  var transcoder = shortRun("topk", "transcoder")
  transcoder.hooks = []
  transcoder.targetHook = nil
  transcoder.extra = ["--target-data", short.path]
  try expectRefusal(
    transcoder.arguments(
      data: try TrainNPY.path(TrainJob.ln2Normalized2), out: root.appendingPathComponent("t")),
    naming: [short.path, "100"], in: root, "target row count")
}

@Test func nonexistentDataPathIsRefusedNamingIt() throws {
  let root = try Fixtures.temporaryDirectory("train-bad")
  defer { try? FileManager.default.removeItem(at: root) }
  let out = root.appendingPathComponent("out")
  for path in ["/nonexistent/job", "/nonexistent/acts.npy"] {
    var line = shortRun("topk", "sae")
    if path.hasSuffix(".npy") { line.hooks = [] }
    try expectRefusal(line.arguments(data: path, out: out), naming: [path], in: root, path)
  }
}

/// A dictionary too large for this machine's memory is refused naming the setting, before anything
/// is allocated (it used to abort: "Fatal error: failed to allocate ... bytes"); so is an expansion
/// whose d_sae overflows.
@Test func dictionaryTooLargeForMemoryIsRefusedNamingTheSetting() throws {
  let root = try Fixtures.temporaryDirectory("train-bad")
  defer { try? FileManager.default.removeItem(at: root) }
  let job = try TrainJob.directory().path
  let base = shortRun("topk", "sae").arguments(data: job, out: root.appendingPathComponent("out"))
  var derived = base
  let i = try #require(derived.firstIndex(of: "--d-sae"))
  derived.removeSubrange(i...(i + 1))
  try expectRefusal(
    base + ["--d-sae", "100000000000"], naming: ["--d-sae", "GiB"], in: root, "huge --d-sae")
  try expectRefusal(
    derived + ["--expansion", "100000000000"], naming: ["--expansion", "GiB"], in: root, "huge --expansion")
  try expectRefusal(
    derived + ["--expansion", "4611686018427387904"], naming: ["--expansion", "overflows"], in: root,
    "overflowing --expansion")
}

/// Coefficients that are NaN or negative are refused naming the option (a NaN AuxK coefficient used
/// to switch AuxK off silently).
@Test func nonFiniteOrNegativeCoefficientsAreRefusedNamingThem() throws {
  let root = try Fixtures.temporaryDirectory("train-bad")
  defer { try? FileManager.default.removeItem(at: root) }
  let base = shortRun("topk", "sae").arguments(
    data: try TrainJob.directory().path, out: root.appendingPathComponent("out"))
  for (option, value) in [
    ("--auxk-coefficient", "nan"), ("--auxk-coefficient", "-1"), ("--clip-norm", "nan"), ("--lr", "nan"),
    ("--l1", "nan"), ("--dead-after-tokens", "-5"),
  ] {
    try expectRefusal(base + ["\(option)=\(value)"], naming: [option], in: root, "\(option) \(value)")
  }
}

/// Rows holding NaN or ±Inf (one in each 4,096-row block) are dropped by the default norm filter and
/// counted; with the filter off (--max-norm-multiple 0) training stops with a clear non-finite error.
@Test func nonFiniteRowsAreDroppedByDefaultAndOtherwiseFailCleanly() throws {
  let root = try Fixtures.temporaryDirectory("train-bad")
  defer { try? FileManager.default.removeItem(at: root) }
  let t = try NPY.readFloat32(URL(fileURLWithPath: try TrainNPY.path(TrainJob.residPost1)))
  var line = shortRun("topk", "sae")
  line.hooks = []
  line.heldOutOneIn = 2
  for (name, value) in [("nan", Float.nan), ("inf", Float.infinity)] {
    var rows = Array(t.buffer)
    let d = t.shape[1]
    for row in [100, 4096 + 100] { rows[row * d + 3] = value }
    let file = root.appendingPathComponent("\(name).npy")
    try rows.withUnsafeBufferPointer { try NPY.writeFloat32($0.baseAddress!, shape: t.shape, to: file) }
    let r = try runProcess(
      line.arguments(data: file.path, out: root.appendingPathComponent("out-\(name)")),
      logs: root.appendingPathComponent(name))
    #expect(r.status == 0, "\(name): \(r.stderr)")
    #expect(r.stdout.contains("1 norm outliers dropped"), "\(name): \(r.stdout)")
    let heldOut = r.stdout.split(separator: "\n").first { $0.hasPrefix("held out (4095 rows") }
    #expect(
      heldOut != nil && !heldOut!.lowercased().contains("nan"), "the held-out row is dropped too: \(r.stdout)"
    )
    var unfiltered = line
    unfiltered.extra = ["--max-norm-multiple", "0"]
    try expectRefusal(
      unfiltered.arguments(data: file.path, out: root.appendingPathComponent("unfiltered-\(name)")),
      naming: ["not finite"], in: root, "\(name) unfiltered")
  }
}

/// An --out that cannot be a directory (an existing file, a path under /proc) is a Lantern error
/// naming --out (it was a raw Foundation error, exit 1).
@Test func unusableOutputDirectoryIsRefusedNamingIt() throws {
  let root = try Fixtures.temporaryDirectory("train-bad")
  defer { try? FileManager.default.removeItem(at: root) }
  let file = root.appendingPathComponent("a-file")
  try Data("x".utf8).write(to: file)
  for out in [file, URL(fileURLWithPath: "/proc/lantern-cannot-create")] {
    let r = try runProcess(
      shortRun("topk", "sae").arguments(data: try TrainJob.directory().path, out: out),
      logs: root.appendingPathComponent("log-\(out.lastPathComponent)"))
    #expect(r.failedCleanly && r.status == 6, "\(out.path): \(r.status) \(r.stderr)")
    #expect(r.stderr.contains("--out") && r.stderr.contains(out.path), "\(r.stderr)")
  }
}

/// A damaged job.yaml is a data error naming the file (exit 6 like every other bad input; it was exit 1).
@Test func damagedJobSpecIsRefusedNamingTheFile() throws {
  let root = try Fixtures.temporaryDirectory("train-bad")
  defer { try? FileManager.default.removeItem(at: root) }
  let job = try TrainJob.copy(into: root)
  let spec = job.appendingPathComponent("job.yaml")
  try Data("{{{ not a spec\n".utf8).write(to: spec)
  let r = try runProcess(
    shortRun("topk", "sae").arguments(data: job.path, out: root.appendingPathComponent("out")),
    logs: root.appendingPathComponent("log"))
  #expect(r.failedCleanly && r.status == 6, "\(r.status) \(r.stderr)")
  #expect(r.stderr.contains(spec.path), "\(r.stderr)")
}

// MARK: - More sources and shapes

/// A float16 .npy trains to the same weights as a float32 .npy holding the same (f16-rounded) values:
/// the half-precision decode is exact end to end. The float16 file is the float32 file with its descr
/// changed to '<f2' (same header length) and its data converted.
@Test func float16NPYTrainsLikeTheFloat32FileOfTheSameValues() throws {
  let root = try Fixtures.temporaryDirectory("train-npy")
  defer { try? FileManager.default.removeItem(at: root) }
  let t = try NPY.readFloat32(URL(fileURLWithPath: try TrainNPY.path(TrainJob.residPost1)))
  let halves = t.buffer.map { Float16($0) }
  let rounded = halves.map { Float($0) }
  let f32 = root.appendingPathComponent("acts32.npy")
  try rounded.withUnsafeBufferPointer { try NPY.writeFloat32($0.baseAddress!, shape: t.shape, to: f32) }
  let bytes = try Data(contentsOf: f32)
  let header = bytes.prefix(bytes.count - rounded.count * 4)
  let descr = try #require(header.range(of: Data("'<f4'".utf8)))
  var f16Bytes = header
  f16Bytes.replaceSubrange(descr, with: Data("'<f2'".utf8))
  halves.withUnsafeBytes { f16Bytes.append(contentsOf: $0) }
  let f16 = root.appendingPathComponent("acts16.npy")
  try f16Bytes.write(to: f16)

  var line = shortRun("topk", "sae")
  line.hooks = []
  line.heldOutOneIn = 2
  var outs: [URL] = []
  for file in [f32, f16] {
    let out = root.appendingPathComponent("out-\(file.lastPathComponent)")
    let r = try runProcess(line.arguments(data: file.path, out: out), logs: out)
    try #require(r.status == 0, "\(file.lastPathComponent): \(r.stderr)")
    outs.append(out)
  }
  for name in ["sae_weights.safetensors", "sparsity.safetensors"] {
    let a = try Data(contentsOf: outs[0].appendingPathComponent("final/\(name)"))
    let b = try Data(contentsOf: outs[1].appendingPathComponent("final/\(name)"))
    #expect(a == b, "final/\(name) differs between the float32 and float16 files")
  }
}

/// A transcoder (and a skip transcoder) whose target is wider than its input: ln2 (d_model 64) →
/// mlp.hook_post (d_mlp 160); W_dec [S, 160], W_skip [160, 64].
@Test(arguments: ["transcoder", "skip-transcoder"])
func transcoderToAWiderHookTrains(_ kind: String) throws {
  var line = shortRun("relu", kind)
  line.targetHook = TrainJob.mlpPost2
  try expectTrains(line, data: TrainJob.directory().path, dIn: 64, dOut: 160, hooks: 1)
}
