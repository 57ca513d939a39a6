// Running a whole extraction job in this process: every pending unit in plan order, each
// extracted to temporaries and committed (rename, fsync, manifest), with a live progress line.
// Killing the process at any moment loses nothing committed; running again resumes.

import Foundation
import LanternShards

/// Totals of a run, for the final report.
public struct ExtractionReport: Sendable {
  public var unitsDone = 0
  public var unitsSkipped = 0
  public var tokens = 0
  public var bytes = 0
  public var rows = 0
  public var rawFloat32Bytes = 0
  public var seconds = 0.0
  public var tokensPerSecond: Double { seconds > 0 ? Double(tokens) / seconds : 0 }
}

extension ExtractionJob {
  /// Extracts and commits every pending unit. `status` receives a progress line now and then.
  public func run(status: (String) -> Void = { _ in }) throws -> ExtractionReport {
    var report = ExtractionReport()
    let pending = pendingUnits
    report.unitsSkipped = plan.units.count - pending.count
    let totalTokens = pending.reduce(0) { $0 + $1.tokenCount }
    // Attempt numbers: this run's start time (seconds) in the high 32 bits, a counter below, so
    // temporaries of different runs never collide (LWP/1 uses the same shape with an epoch).
    let epoch = UInt64(UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970)))
    let start = Date()
    var lastStatus = Date.distantPast
    var counter: UInt64 = 0
    for unit in pending {
      counter += 1
      let before = report.tokens
      let output = try extract(unit: unit, attempt: epoch << 32 | counter) { windowsDone in
        let now = Date()
        guard now.timeIntervalSince(lastStatus) >= 1 else { return true }
        lastStatus = now
        let done = before + windowsDone * settings.contextSize
        let elapsed = now.timeIntervalSince(start)
        let rate = Double(done) / max(elapsed, 1e-9)
        let eta = rate > 0 ? Double(totalTokens - done) / rate : 0
        let ratio = report.bytes > 0 ? Double(report.rawFloat32Bytes) / Double(report.bytes) : 0
        status(
          String(
            format: "unit %d/%d  %d/%d tokens  %.0f tok/s  ETA %@  %@ written (%.2f× smaller than fp32)",
            report.unitsDone + 1, pending.count, done, totalTokens, rate, formatDuration(eta),
            formatBytes(report.bytes), ratio))
        return true
      }
      try directory.commit(
        unit: output.unit, attempt: output.attempt, tokens: output.tokens, files: output.files)
      report.unitsDone += 1
      report.tokens += output.tokens
      for f in output.files {
        report.bytes += f.bytes
        report.rows += f.rows
        report.rawFloat32Bytes += f.rows * 4 * hookWidth(f.hook)
      }
    }
    report.seconds = Date().timeIntervalSince(start)
    return report
  }
}

/// "1h02m", "3m05s", "12s".
public func formatDuration(_ seconds: Double) -> String {
  let s = Int(seconds.rounded())
  if s >= 3600 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
  if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
  return "\(s)s"
}

/// "1.5 GB", "12.0 MB", "512 B".
public func formatBytes(_ n: Int) -> String {
  let d = Double(n)
  if d >= 1e9 { return String(format: "%.2f GB", d / 1e9) }
  if d >= 1e6 { return String(format: "%.1f MB", d / 1e6) }
  if d >= 1e3 { return String(format: "%.1f kB", d / 1e3) }
  return "\(n) B"
}
