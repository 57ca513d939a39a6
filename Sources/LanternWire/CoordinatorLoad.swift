// A capacity driver for benchmarks: N scripted workers feed a CoordinatorState M encoded messages in
// steady state (READY, then per unit: PROGRESS × k, COMMIT, COMMITTED; HEARTBEAT when idle), with ticks
// every quarter of a simulated second and the manifest confirmed at once. Each worker speaks once per
// simulated second, round robin, so no lease or liveness expires. It returns counts only; the caller
// (`lantern bench`) times it. The full fault-injecting simulator is Simulation.swift.

/// Counts from a `CoordinatorLoad.run`.
public struct CoordinatorLoadReport: Equatable, Sendable {
  /// Simulated workers.
  public var workers = 0
  /// Messages fed to the coordinator (each decoded from frames).
  public var messages = 0
  /// Ticks fed.
  public var ticks = 0
  /// Manifest confirmations fed.
  public var confirmations = 0
  /// Actions the coordinator returned.
  public var actions = 0
  /// Messages the coordinator sent.
  public var sent = 0
  /// Journal records appended.
  public var journalRecords = 0
  /// Units committed.
  public var commits = 0
  /// Units leased.
  public var assignments = 0
  /// Simulated time covered, milliseconds.
  public var simulatedMs: Int64 = 0

  /// All events fed (messages, ticks, confirmations): the "task events" of a capacity figure.
  public var events: Int { messages + ticks + confirmations }
}

/// The coordinator capacity benchmark's driver.
public enum CoordinatorLoad {
  private struct Scripted {
    var assignment: Assignment?
    var progress: UInt64 = 0
    var target: UInt64 = 0
    var committing = false
  }

  /// Drives a coordinator with `workers` scripted workers for `messages` worker messages.
  ///
  /// - Parameters:
  ///   - workers: simulated workers, at least 1.
  ///   - messages: worker messages to feed (ticks and manifest confirmations come on top).
  ///   - progressPerUnit: PROGRESS messages each unit sends before its COMMIT.
  ///   - seed: varies the number of PROGRESS messages per unit (±50 %).
  public static func run(workers: Int, messages: Int, progressPerUnit: Int = 4, seed: UInt64 = 1)
    -> CoordinatorLoadReport
  {
    let workers = max(1, workers)
    var random = SplitMix64(seed: seed)
    var report = CoordinatorLoadReport()
    report.workers = workers
    let unitCount = messages / max(1, progressPerUnit + 2) + 2 * workers
    let units = (0..<unitCount).map {
      WorkUnit(id: "unit-\($0)", kind: "extract", spec: Array("{\"n\":\($0)}".utf8))
    }
    var config = CoordinatorConfig(jobID: "capacity")
    config.progressLeaseMs = 600_000
    guard var coordinator = try? CoordinatorState(units: units, config: config) else { return report }
    var scripted = Array(repeating: Scripted(), count: workers)
    let peers = (0..<workers).map { PeerID("bench-\($0)") }
    var slotOf: [PeerID: Int] = [:]
    for (index, peer) in peers.enumerated() { slotOf[peer] = index }
    var now: Int64 = 0
    var confirm: [(String, Attempt)] = []

    func absorb(_ actions: [CoordinatorAction]) {
      report.actions += actions.count
      for action in actions {
        switch action {
        case .send(let peer, let message):
          report.sent += 1
          guard let index = slotOf[peer] else { continue }
          switch message {
          case .assign(let assignment):
            report.assignments += 1
            let target = UInt64(progressPerUnit / 2) + random.next() % UInt64(progressPerUnit + 1)
            scripted[index] = Scripted(assignment: assignment, target: target)
          case .ack, .refuse, .revoke: scripted[index] = Scripted()
          default: break
          }
        case .disconnect: report.sent += 1
        case .appendJournal: report.journalRecords += 1
        case .appendManifest(let entry): confirm.append((entry.unit, entry.attempt))
        default: break
        }
      }
    }

    absorb(coordinator.handle(.start(journal: [], manifest: [], now: now)))
    let capabilities = Capabilities(cores: 8, memoryBytes: 32 << 30, kinds: ["extract"])
    let tickEvery = max(1, workers / 4)
    for step in 0..<messages {
      let index = step % workers
      now = Int64(step) * 1000 / Int64(workers)
      let message: Message
      if step < workers {
        message = .ready(Ready(capabilities: capabilities, holding: nil, incarnation: 1, sequence: 1))
      } else if let assignment = scripted[index].assignment {
        if scripted[index].committing {
          message = .committed(
            unit: assignment.unit, attempt: assignment.attempt,
            outputs: [
              OutputRecord(path: "shards/\(assignment.unit).lshard", size: 1 << 20, checksum: "crc32:0")
            ])
          scripted[index].assignment = nil
        } else if scripted[index].progress < scripted[index].target {
          scripted[index].progress += 1
          message = .progress(
            unit: assignment.unit, attempt: assignment.attempt, completed: scripted[index].progress, total: 0)
        } else {
          scripted[index].committing = true
          message = .commit(unit: assignment.unit, attempt: assignment.attempt)
        }
      } else {
        message = .heartbeat
      }
      report.messages += 1
      absorb(coordinator.handle(.received(peer: peers[index], frames: message.encode(), now: now)))
      while let (unit, attempt) = confirm.popLast() {
        report.confirmations += 1
        absorb(coordinator.handle(.manifestAppended(unit: unit, attempt: attempt, now: now)))
      }
      if step % tickEvery == tickEvery - 1 {
        report.ticks += 1
        absorb(coordinator.handle(.tick(now: now)))
      }
    }
    report.commits = coordinator.counters.commits
    report.simulatedMs = now
    return report
  }
}
