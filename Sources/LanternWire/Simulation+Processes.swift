// The simulated processes: how the simulation carries out coordinator and worker actions, runs units,
// kills and restarts workers, crashes the coordinator (tearing its journal's unsynced tail) and
// restarts it from the journal and the manifest. See Simulation.swift.

extension Simulation {
  // MARK: coordinator

  mutating func coordinatorHandle(_ event: CoordinatorEvent) {
    // Mutate in place: a copy would duplicate every array of the state on its first write.
    guard let actions = coordinator?.handle(event) else { return }
    report.coordinatorActions += actions.count
    for action in actions {
      switch action {
      case .send(let peer, let message):
        switch message {
        case .assign: report.assignments += 1
        case .authorize(let unit, let attempt, _):
          authorizedEver.insert(TempKey(unit: unit, attempt: attempt))
        default: break
        }
        sendToWorker(peer, message)
      case .disconnect(let peer, let code, let reason):
        sendToWorker(peer, .disconnect(code: code, reason: reason))
      case .appendJournal(let record):
        journal += Journal.encode(record)
        if record.requiresSync { durableJournal = journal.count }
      case .appendManifest(let entry):
        if !authorizedEver.contains(TempKey(unit: entry.unit, attempt: entry.attempt)) {
          violation("unit \(entry.unit) attempt \(entry.attempt) recorded without authorization")
        }
        manifestCounter += 1
        pendingManifest[manifestCounter] = entry
        queue.push(now + 2, .manifestDone(id: manifestCounter, life: coordinatorLife))
      case .log:
        break
      case .jobFinished:
        report.ended = true
        report.finished = true
      case .jobFailed(let failures):
        report.ended = true
        report.failedUnits = failures
      case .halt(let reason):
        violation("coordinator halted: \(reason)")
        report.ended = true
      }
    }
  }

  mutating func appendManifest(_ entry: ManifestEntry) {
    guard let unit = unitIndex[entry.unit] else {
      return violation("manifest entry for unknown unit \(entry.unit)")
    }
    if committed[unit] { violation("unit \(entry.unit) committed twice (attempt \(entry.attempt))") }
    committed[unit] = true
    manifest.append(entry)
  }

  /// Deletes temporaries whose attempt can no longer be committed.
  mutating func sweep() {
    guard let state = coordinator else { return }
    lastSweep = now
    let dead = temporaries.filter { !state.attemptIsLive(unit: $0.unit, attempt: $0.attempt) }
    report.temporariesSwept += dead.count
    temporaries.subtract(dead)
  }

  mutating func crashCoordinator() {
    guard coordinator != nil else { return }
    coordinator = nil
    coordinatorLife += 1
    // Unsynced journal bytes may be lost, possibly mid-record.
    journal.removeLast(Int(uniform(0...Int64(journal.count - durableJournal))))
    durableJournal = journal.count
    // A manifest line being written at the crash may or may not have reached the disk.
    for id in pendingManifest.keys.sorted() where chance(0.5) { appendManifest(pendingManifest[id]!) }
    pendingManifest.removeAll()
    queue.push(now + config.coordinatorDowntimeMs, .restartCoordinator)
  }

  mutating func restartCoordinator() {
    let replay: JournalReplay
    do {
      replay = try Journal.replay(journal)
    } catch {
      violation("journal replay failed: \(error)")
      report.ended = true
      return
    }
    journal = replay.validLength == 0 ? Journal.header : Array(journal[0..<replay.validLength])
    durableJournal = journal.count
    var settings = config.coordinator
    settings.jobID = "simulation"
    do {
      coordinator = try CoordinatorState(units: units, config: settings)
    } catch {
      violation("coordinator rejected its configuration: \(error)")
      report.ended = true
      return
    }
    if coordinatorLife > 0 { report.coordinatorRestarts += 1 }
    coordinatorHandle(.start(journal: replay.records, manifest: manifest, now: now))
  }

  // MARK: workers

  mutating func startWorker(_ worker: Int) {
    guard workers[worker].state == nil, !workers[worker].exited else { return }
    workers[worker].life += 1
    workers[worker].pausedUntil = 0
    workers[worker].scheduledTick = nil
    let capabilities = Capabilities(cores: 2, memoryBytes: 8 << 30, kinds: ["extract"])
    let settings = WorkerConfig(
      workerID: "w\(worker)", capabilities: capabilities, incarnation: UInt64(workers[worker].life))
    workers[worker].state = try? WorkerState(config: settings)
    workerHandle(worker, .start(now: now))
  }

  mutating func kill(_ worker: Int) {
    report.workerDeaths += 1
    workers[worker].state = nil
    workers[worker].run += 1
    workers[worker].running = nil
    workers[worker].socket += 1
    workers[worker].connected = false
    workers[worker].scheduledTick = nil
    queue.push(now + config.restartDelayMs, .restart(worker: worker))
  }

  mutating func workerHandle(_ worker: Int, _ event: WorkerEvent) {
    guard let actions = workers[worker].state?.handle(event) else { return }
    let life = workers[worker].life
    for action in actions {
      guard workers[worker].state != nil, workers[worker].life == life else { return }
      switch action {
      case .connect:
        workers[worker].socket += 1
        workers[worker].connected = true
      case .closeConnection:
        workers[worker].socket += 1
        workers[worker].connected = false
      case .send(let message):
        sendToCoordinator(from: worker, message)
      case .startUnit(let assignment):
        startUnit(worker, assignment)
      case .cancelUnit:
        workers[worker].run += 1
        workers[worker].running = nil
      case .discardOutputs(let unit, let attempt):
        temporaries.remove(TempKey(unit: unit, attempt: attempt))
      case .publishOutputs(let unit, let attempt):
        queue.push(now + 2, .publishDone(worker: worker, life: life, unit: unit, attempt: attempt))
      case .unitCommitted, .log:
        break
      case .exit(let reason):
        if case .rejected = reason { report.workersRejected += 1 }
        workers[worker].exited = true
        workers[worker].state = nil
        workers[worker].connected = false
        return
      }
    }
    if let wake = workers[worker].state?.nextWakeup {
      let time = max(wake, now)
      if workers[worker].scheduledTick.map({ time < $0 }) ?? true {
        workers[worker].scheduledTick = time
        queue.push(time, .workerTick(worker: worker, life: life))
      }
    }
  }

  mutating func startUnit(_ worker: Int, _ assignment: Assignment) {
    workers[worker].run += 1
    workers[worker].running = assignment
    let run = workers[worker].run
    let life = workers[worker].life
    let duration = uniform(config.unitMs)
    if let index = unitIndex[assignment.unit], index < config.poisonUnits {
      queue.push(now + duration / 4, .kill(worker: worker, life: life))
      return
    }
    if chance(config.deathProbability) {
      queue.push(now + uniform(0...duration), .kill(worker: worker, life: life))
    }
    if chance(config.pauseProbability) {
      queue.push(now + uniform(0...duration), .pause(worker: worker, life: life, ms: uniform(config.pauseMs)))
    }
    let steps = max(1, duration / config.progressEveryMs)
    queue.push(
      now + config.progressEveryMs, .progress(worker: worker, life: life, run: run, step: 1, steps: steps + 1)
    )
    queue.push(now + duration, .finishUnit(worker: worker, life: life, run: run))
  }
}
