// An in-memory cluster: one CoordinatorState and many WorkerStates exchanging encoded frames over
// simulated links (per-connection FIFO with random latency, stalls and duplicated deliveries), with
// simulated executors, a shared file system (temporaries, renames, an orphan sweep), a manifest writer
// and a journal whose unsynced tail is torn when the coordinator crashes. Workers are killed, restarted
// under the same id, and paused past their leases; the coordinator is crashed and restarted from its
// journal. Everything is driven by one seeded generator and a time-ordered event queue, so a run is
// exactly reproducible. The run checks exactly-once commitment as it goes and stops at the first
// violation.
// Leaves out: real sockets and files, worker drain (tested on its own), the CPU cost of units.

/// SplitMix64: a small, seeded generator, so simulations replay exactly.
public struct SplitMix64: RandomNumberGenerator, Sendable {
  var state: UInt64

  /// A generator seeded with `seed`.
  public init(seed: UInt64) { state = seed }

  /// The next 64 random bits.
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// The shape of a simulated cluster and its faults. Probabilities are per unit started by a worker.
public struct SimulationConfig: Sendable {
  /// Worker slots (ids `w0`, `w1`, ...).
  public var workers = 100
  /// Units in the job.
  public var units = 1000
  /// Seed of every random choice.
  public var seed: UInt64 = 1
  /// Compute time of a unit, milliseconds.
  public var unitMs: ClosedRange<Int64> = 2000...8000
  /// A worker reports progress this often while running, milliseconds.
  public var progressEveryMs: Int64 = 2000
  /// One-way latency of a message, milliseconds.
  public var latencyMs: ClosedRange<Int64> = 1...20
  /// Probability that a message stalls its link for `stallMs` (later messages queue behind it).
  public var stallProbability = 0.0
  /// Length of a stall, milliseconds.
  public var stallMs: Int64 = 2500
  /// Probability that a message is delivered twice.
  public var duplicateProbability = 0.0
  /// Probability that the worker is killed (kill -9) during the unit.
  public var deathProbability = 0.0
  /// Probability that the worker is paused (SIGSTOP) during the unit.
  public var pauseProbability = 0.0
  /// Length of a pause, milliseconds.
  public var pauseMs: ClosedRange<Int64> = 5000...60_000
  /// A killed worker's slot restarts under the same id after this, milliseconds.
  public var restartDelayMs: Int64 = 3000
  /// The first `poisonUnits` units crash every worker that runs them.
  public var poisonUnits = 0
  /// Times the coordinator is killed during the run (each time restarted from its journal).
  public var coordinatorCrashes = 0
  /// How long the coordinator stays down, milliseconds.
  public var coordinatorDowntimeMs: Int64 = 5000
  /// Coordinator timings and budgets (the job id is set by the simulation).
  public var coordinator = CoordinatorConfig(jobID: "simulation")
  /// The run stops (unfinished) after this much simulated time.
  public var maxSimulatedMs: Int64 = 36_000_000
  /// The run stops (unfinished) after this many events.
  public var maxEvents = 10_000_000

  /// A configuration with `workers` slots and `units` units, no faults, leases shortened for speed.
  public init(workers: Int = 100, units: Int = 1000, seed: UInt64 = 1) {
    self.workers = workers
    self.units = units
    self.seed = seed
    coordinator.progressLeaseMs = 30_000
    coordinator.commitLeaseMs = 10_000
  }
}

/// What a simulated run did.
public struct SimulationReport: Equatable, Sendable {
  /// Events processed (deliveries, ticks, executor steps, faults).
  public var events = 0
  /// Messages delivered to the coordinator (duplicates included).
  public var messagesToCoordinator = 0
  /// Messages delivered to workers (duplicates included).
  public var messagesToWorkers = 0
  /// Extra copies delivered.
  public var duplicates = 0
  /// Actions the coordinator returned.
  public var coordinatorActions = 0
  /// ASSIGNs sent.
  public var assignments = 0
  /// Lines in the manifest at the end.
  public var manifestEntries = 0
  /// Whether the job ended (finished or failed) within the limits.
  public var ended = false
  /// Whether every unit was committed.
  public var finished = false
  /// Given-up units, as the coordinator reported them.
  public var failedUnits: [UnitFailure] = []
  /// Workers killed (kill -9), including by poison units.
  public var workerDeaths = 0
  /// Workers paused (SIGSTOP).
  public var workerPauses = 0
  /// Coordinator restarts from its journal.
  public var coordinatorRestarts = 0
  /// Workers that exited because the coordinator rejected them (excluded).
  public var workersRejected = 0
  /// Temporaries removed by the orphan sweep.
  public var temporariesSwept = 0
  /// Publishes (renames) that found their temporary gone.
  public var publishesFailed = 0
  /// Simulated time at the end, milliseconds.
  public var simulatedMs: Int64 = 0
  /// Broken invariants (a unit committed twice, an unauthorized commit, a journal that failed to replay).
  public var violations: [String] = []
}

extension SimulationReport {
  /// Runs a seeded simulation of `config` and checks exactly-once commitment throughout.
  public static func run(_ config: SimulationConfig) -> SimulationReport {
    var simulation = Simulation(config)
    simulation.run()
    return simulation.report
  }
}

enum SimEvent {
  case toCoordinator(peer: PeerID, frames: [[UInt8]], life: Int)
  case toWorker(worker: Int, frames: [[UInt8]], life: Int, socket: Int)
  case coordinatorTick
  case workerTick(worker: Int, life: Int)
  case progress(worker: Int, life: Int, run: Int, step: Int64, steps: Int64)
  case finishUnit(worker: Int, life: Int, run: Int)
  case publishDone(worker: Int, life: Int, unit: String, attempt: Attempt)
  case manifestDone(id: Int, life: Int)
  case kill(worker: Int, life: Int)
  case restart(worker: Int)
  case pause(worker: Int, life: Int, ms: Int64)
  case crashCoordinator
  case restartCoordinator

  /// The worker whose process this event runs in (deferred while the worker is paused).
  var pausable: (worker: Int, life: Int)? {
    switch self {
    case .toWorker(let worker, _, let life, _), .workerTick(let worker, let life),
      .progress(let worker, let life, _, _, _), .finishUnit(let worker, let life, _),
      .publishDone(let worker, let life, _, _):
      return (worker, life)
    default: return nil
    }
  }
}

/// A binary min-heap of events ordered by (time, insertion order).
struct EventQueue {
  struct Entry {
    var time: Int64
    var order: UInt64
    var event: SimEvent
  }

  private var heap: [Entry] = []
  private var counter: UInt64 = 0

  var isEmpty: Bool { heap.isEmpty }

  private static func before(_ a: Entry, _ b: Entry) -> Bool {
    a.time < b.time || (a.time == b.time && a.order < b.order)
  }

  mutating func push(_ time: Int64, _ event: SimEvent) {
    counter += 1
    heap.append(Entry(time: time, order: counter, event: event))
    var child = heap.count - 1
    while child > 0 {
      let parent = (child - 1) / 2
      if !Self.before(heap[child], heap[parent]) { break }
      heap.swapAt(child, parent)
      child = parent
    }
  }

  mutating func pop() -> Entry? {
    guard !heap.isEmpty else { return nil }
    heap.swapAt(0, heap.count - 1)
    let top = heap.removeLast()
    var parent = 0
    while true {
      let left = 2 * parent + 1
      let right = left + 1
      var smallest = parent
      if left < heap.count && Self.before(heap[left], heap[smallest]) { smallest = left }
      if right < heap.count && Self.before(heap[right], heap[smallest]) { smallest = right }
      if smallest == parent { break }
      heap.swapAt(parent, smallest)
      parent = smallest
    }
    return top
  }
}
