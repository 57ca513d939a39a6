// LanternWire: the cluster protocol LWP/1 (docs/protocol.md) as pure values and state machines, with
// no sockets, files or clocks, so that every rule of the protocol can be tested as values and the
// coordinator's capacity measured without a network.
//
// Map of the module, in the order the spec reads:
//   Message.swift, Message+Codec.swift   commands as values; `encode()` to frames, strict `decode(_:)`
//   Bytes.swift                          big-endian fields, field rules, `Limits`, pure-Swift `CRC32`
//   WireError.swift                      the module's one error type (command, field, offset, hint)
//   Journal.swift                        coordinator journal records, framing, torn-tail-tolerant replay
//   CoordinatorTypes.swift, Coordinator*.swift
//                                        `CoordinatorState`: events in, `CoordinatorAction`s out
//   Worker.swift, Worker+Messages.swift  `WorkerState`: events in, `WorkerAction`s out
//   Simulation*.swift                    a seeded in-memory cluster with faults (`SimulationReport.run`)
//   CoordinatorLoad.swift                a steady-state capacity driver for `lantern bench`
//
// An I/O loop (the socket layer) owns one state machine, feeds it every received message, a tick
// every H/4 and the executor's or manifest writer's results, and carries out the returned actions in
// order — making a journal append with `requiresSync` durable before any later send of the same list.
// Leaves out: ZeroMQ (ROUTER/DEALER sockets, CURVE/ZAP), the journal and manifest files, the orphan
// sweep's directory walk, signal handling and the unit executors.
