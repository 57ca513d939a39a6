// The coordinator's and workers' real state machines over real ZeroMQ sockets on loopback, with
// hundreds of simulated workers in one process: work is instant (no model), so this exercises the
// protocol and the transport at scale. Every unit must be committed exactly once. (Thousands of
// workers run in-process in LanternWireTests; one process's ZeroMQ context is limited to ~1000
// sockets.)

import CZeroMQ
import Foundation
import LanternTransport
import LanternWire
import Testing

@Test func nineHundredWorkersOverLoopbackCommitEveryUnitOnce() throws {
  let workerCount = 900
  let unitCount = 9000
  let ctx = ZMQContext()
  let router = try ZMQSocket(ctx, .router)
  try router.set(ZMQ_ROUTER_MANDATORY, 1)
  try router.bind("tcp://127.0.0.1:*")
  let endpoint = router.lastEndpoint
  var config = CoordinatorConfig(jobID: "loopback")
  config.heartbeatMs = 500
  var coordinator = try CoordinatorState(
    units: (0..<unitCount).map { WorkUnit(id: String(format: "u%06d", $0), kind: "extract", spec: []) },
    config: config)
  func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
  var committed: [String: Int] = [:]
  var finished = false

  func runCoordinator(_ actions: [CoordinatorAction]) throws {
    var queue = actions[...]
    while let a = queue.popFirst() {
      switch a {
      case .send(let peer, let m): _ = try router.send([peer.bytes] + m.encode())
      case .disconnect(let peer, let code, let reason):
        _ = try router.send([peer.bytes] + Message.disconnect(code: code, reason: reason).encode())
      case .appendManifest(let entry):
        committed[entry.unit, default: 0] += 1
        queue.append(
          contentsOf: coordinator.handle(
            .manifestAppended(unit: entry.unit, attempt: entry.attempt, now: now())))
      case .jobFinished: finished = true
      case .jobFailed(let f): Issue.record("job failed: \(f)")
      case .halt(let r): Issue.record("halt: \(r)")
      case .appendJournal, .log: break
      }
    }
  }

  struct SimWorker {
    var state: WorkerState
    var socket: ZMQSocket?
    var pending: [WorkerEvent] = []
  }
  var workers: [SimWorker] = try (0..<workerCount).map { i in
    var c = WorkerConfig(
      workerID: "sim-\(i)", capabilities: Capabilities(cores: 1, memoryBytes: 1 << 30, kinds: ["extract"]),
      incarnation: 1)
    c.heartbeatMs = 500
    return SimWorker(state: try WorkerState(config: c))
  }
  func runWorker(_ i: Int, _ actions: [WorkerAction]) throws {
    for a in actions {
      switch a {
      case .connect:
        let s = try ZMQSocket(ctx, .dealer)
        try s.set(ZMQ_ROUTING_ID, bytes: Array("sim-\(i)".utf8))
        try s.connect(endpoint)
        workers[i].socket = s
      case .closeConnection:
        workers[i].socket?.close()
        workers[i].socket = nil
      case .send(let m): _ = try workers[i].socket?.send(m.encode())
      case .startUnit: workers[i].pending.append(.outputsWritten(now: now()))
      case .publishOutputs(let unit, _):
        workers[i].pending.append(
          .published(
            outputs: [OutputRecord(path: "shards/h/\(unit).lshard", size: 1, checksum: "crc32:0")], now: now()
          ))
      case .cancelUnit, .discardOutputs, .unitCommitted, .log, .exit: break
      }
    }
  }

  try runCoordinator(coordinator.handle(.start(journal: [], manifest: [], now: now())))
  for i in 0..<workerCount { try runWorker(i, workers[i].state.handle(.start(now: now()))) }
  let deadline = Date().addingTimeInterval(120)
  while !finished && Date() < deadline {
    while let r = try router.receive(timeoutMs: 0) {
      if case .message(let f) = r, let id = f.first {
        try runCoordinator(
          coordinator.handle(.received(peer: PeerID(id), frames: Array(f.dropFirst()), now: now())))
      }
    }
    try runCoordinator(coordinator.handle(.tick(now: now())))
    for i in 0..<workerCount {
      let events = workers[i].pending
      workers[i].pending = []
      for e in events { try runWorker(i, workers[i].state.handle(e)) }
      while let s = workers[i].socket, let r = try s.receive(timeoutMs: 0) {
        if case .message(let f) = r {
          try runWorker(i, workers[i].state.handle(.received(frames: f, now: now())))
        }
      }
      try runWorker(i, workers[i].state.handle(.tick(now: now())))
    }
  }
  #expect(finished, "the job finished within the time bound")
  #expect(committed.count == unitCount)
  #expect(committed.values.allSatisfy { $0 == 1 }, "every unit committed exactly once")
  for w in workers { w.socket?.close() }
  router.close()
}
