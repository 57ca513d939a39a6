// The simulated cluster's moving parts: the event loop, simulated links, worker processes with their
// executors, the shared file system, the manifest writer and the journal. See Simulation.swift.

struct TempKey: Hashable {
  var unit: String
  var attempt: Attempt
}

struct SimWorker {
  var state: WorkerState?
  var life = 0
  var socket = 0
  var connected = false
  var exited = false
  var pausedUntil: Int64 = 0
  var run = 0
  var running: Assignment?
  var scheduledTick: Int64?
  var linkToWorker: Int64 = 0
  var linkToCoordinator: Int64 = 0
}

struct Simulation {
  let config: SimulationConfig
  var random: SplitMix64
  var queue = EventQueue()
  var now: Int64 = 0
  var report = SimulationReport()
  var units: [WorkUnit]
  var unitIndex: [String: Int] = [:]
  var workers: [SimWorker]
  var peerIndex: [PeerID: Int] = [:]
  var coordinator: CoordinatorState?
  var coordinatorLife = 0
  var journal = Journal.header
  var durableJournal = Journal.header.count
  var manifest: [ManifestEntry] = []
  var committed: [Bool]
  var pendingManifest: [Int: ManifestEntry] = [:]
  var manifestCounter = 0
  var temporaries: Set<TempKey> = []
  var finals: Set<String> = []
  var authorizedEver: Set<TempKey> = []
  var lastSweep: Int64 = 0

  init(_ config: SimulationConfig) {
    self.config = config
    random = SplitMix64(seed: config.seed)
    units = (0..<config.units).map { index in
      WorkUnit(id: "u\(index)", kind: "extract", spec: Array("{\"unit\":\(index)}".utf8))
    }
    for (index, unit) in units.enumerated() { unitIndex[unit.id] = index }
    workers = Array(repeating: SimWorker(), count: config.workers)
    for index in 0..<config.workers { peerIndex[PeerID("w\(index)")] = index }
    committed = Array(repeating: false, count: config.units)
  }

  mutating func chance(_ probability: Double) -> Bool {
    probability > 0 && Double(random.next() >> 11) / Double(1 << 53) < probability
  }

  mutating func uniform(_ range: ClosedRange<Int64>) -> Int64 {
    range.lowerBound + Int64(random.next() % UInt64(range.upperBound - range.lowerBound + 1))
  }

  mutating func violation(_ text: String) {
    if report.violations.count < 20 { report.violations.append("t=\(now) ms: " + text) }
  }

  // MARK: loop

  mutating func run() {
    restartCoordinator()
    for worker in workers.indices { queue.push(uniform(0...1000), .restart(worker: worker)) }
    let mean = (config.unitMs.lowerBound + config.unitMs.upperBound) / 2
    let expected = Int64(config.units / max(1, config.workers) + 1) * mean
    for _ in 0..<config.coordinatorCrashes {
      queue.push(uniform(1000...max(1001, expected)), .crashCoordinator)
    }
    queue.push(250, .coordinatorTick)
    while !report.ended, report.violations.isEmpty, report.events < config.maxEvents, let entry = queue.pop()
    {
      if entry.time > config.maxSimulatedMs { break }
      now = max(now, entry.time)
      if let (worker, life) = entry.event.pausable, workers[worker].life == life,
        workers[worker].pausedUntil > now
      {
        if case .workerTick = entry.event { workers[worker].scheduledTick = workers[worker].pausedUntil }
        queue.push(workers[worker].pausedUntil, entry.event)
        continue
      }
      report.events += 1
      process(entry.event, at: entry.time)
    }
    report.simulatedMs = now
    report.manifestEntries = manifest.count
  }

  mutating func process(_ event: SimEvent, at time: Int64) {
    switch event {
    case .toCoordinator(let peer, let frames, let life):
      guard life == coordinatorLife, coordinator != nil else { return }
      report.messagesToCoordinator += 1
      coordinatorHandle(.received(peer: peer, frames: frames, now: now))
    case .toWorker(let worker, let frames, let life, let socket):
      guard workers[worker].life == life, workers[worker].socket == socket, workers[worker].state != nil
      else { return }
      report.messagesToWorkers += 1
      workerHandle(worker, .received(frames: frames, now: now))
    case .coordinatorTick:
      queue.push(now + 250, .coordinatorTick)
      guard coordinator != nil else { return }
      coordinatorHandle(.tick(now: now))
      if now - lastSweep >= 10_000 { sweep() }
    case .workerTick(let worker, let life):
      guard workers[worker].life == life, workers[worker].scheduledTick == time else { return }
      workers[worker].scheduledTick = nil
      workerHandle(worker, .tick(now: now))
    case .progress(let worker, let life, let run, let step, let steps):
      guard workers[worker].life == life, workers[worker].run == run else { return }
      workerHandle(worker, .progress(completed: UInt64(step), total: UInt64(steps), now: now))
      if step + 1 < steps {
        queue.push(
          now + config.progressEveryMs,
          .progress(worker: worker, life: life, run: run, step: step + 1, steps: steps))
      }
    case .finishUnit(let worker, let life, let run):
      guard workers[worker].life == life, workers[worker].run == run, let unit = workers[worker].running
      else { return }
      temporaries.insert(TempKey(unit: unit.unit, attempt: unit.attempt))
      workers[worker].running = nil
      workerHandle(worker, .outputsWritten(now: now))
    case .publishDone(let worker, let life, let unit, let attempt):
      guard workers[worker].life == life, workers[worker].state != nil else { return }
      if temporaries.remove(TempKey(unit: unit, attempt: attempt)) != nil {
        finals.insert(unit)
        let output = OutputRecord(path: "shards/\(unit).lshard", size: 4096, checksum: "crc32:\(unit)")
        workerHandle(worker, .published(outputs: [output], now: now))
      } else {
        report.publishesFailed += 1
        workerHandle(worker, .publishFailed(reason: "temporary missing", now: now))
      }
    case .manifestDone(let id, let life):
      guard life == coordinatorLife, let entry = pendingManifest.removeValue(forKey: id) else { return }
      if finals.contains(entry.unit) {
        appendManifest(entry)
        coordinatorHandle(.manifestAppended(unit: entry.unit, attempt: entry.attempt, now: now))
      } else {
        coordinatorHandle(
          .manifestRejected(unit: entry.unit, attempt: entry.attempt, reason: "missing", now: now))
      }
    case .kill(let worker, let life):
      guard workers[worker].life == life, workers[worker].state != nil else { return }
      kill(worker)
    case .restart(let worker):
      startWorker(worker)
    case .pause(let worker, let life, let ms):
      guard workers[worker].life == life, workers[worker].state != nil else { return }
      report.workerPauses += 1
      workers[worker].pausedUntil = max(workers[worker].pausedUntil, now + ms)
    case .crashCoordinator:
      crashCoordinator()
    case .restartCoordinator:
      restartCoordinator()
    }
  }

  // MARK: links

  /// When a message sent now arrives: random latency, an occasional stall, never before the previous one.
  mutating func linkTime(after last: Int64) -> Int64 {
    var time = now + uniform(config.latencyMs)
    if chance(config.stallProbability) { time += config.stallMs }
    return max(time, last)
  }

  mutating func sendToCoordinator(from worker: Int, _ message: Message) {
    guard coordinator != nil, workers[worker].connected else { return }
    let frames = message.encode()
    let time = linkTime(after: workers[worker].linkToCoordinator)
    workers[worker].linkToCoordinator = time
    let event = SimEvent.toCoordinator(peer: PeerID("w\(worker)"), frames: frames, life: coordinatorLife)
    queue.push(time, event)
    if chance(config.duplicateProbability) {
      report.duplicates += 1
      queue.push(time, event)
    }
  }

  mutating func sendToWorker(_ peer: PeerID, _ message: Message) {
    guard let worker = peerIndex[peer], workers[worker].state != nil, workers[worker].connected else {
      return
    }
    let frames = message.encode()
    let time = linkTime(after: workers[worker].linkToWorker)
    workers[worker].linkToWorker = time
    let event = SimEvent.toWorker(
      worker: worker, frames: frames, life: workers[worker].life, socket: workers[worker].socket)
    queue.push(time, event)
    if chance(config.duplicateProbability) {
      report.duplicates += 1
      queue.push(time, event)
    }
  }
}
