// The ZeroMQ layer over real sockets on loopback: ROUTER/DEALER round trips, oversized messages,
// CURVE with the ZAP allow-list (a listed key is admitted, an unlisted one is refused).

import CZeroMQ
import Foundation
import LanternTransport
import Testing

func routerDealerPair(_ ctx: ZMQContext, id: String) throws -> (ZMQSocket, ZMQSocket) {
  let router = try ZMQSocket(ctx, .router)
  try router.set(ZMQ_ROUTER_MANDATORY, 1)
  try router.bind("tcp://127.0.0.1:*")
  let dealer = try ZMQSocket(ctx, .dealer)
  try dealer.set(ZMQ_ROUTING_ID, bytes: Array(id.utf8))
  try dealer.connect(router.lastEndpoint)
  return (router, dealer)
}

@Test func routerAndDealerExchangeMultipartMessages() throws {
  let ctx = ZMQContext()
  let (router, dealer) = try routerDealerPair(ctx, id: "w1")
  #expect(try dealer.send([Array("READY".utf8), [1, 2, 3]], block: true))
  guard case .message(let frames)? = try router.receive(timeoutMs: 2000) else {
    Issue.record("no message")
    return
  }
  #expect(frames == [Array("w1".utf8), Array("READY".utf8), [1, 2, 3]])
  #expect(try router.send([Array("w1".utf8), Array("TASK".utf8)], block: true))
  guard case .message(let reply)? = try dealer.receive(timeoutMs: 2000) else {
    Issue.record("no reply")
    return
  }
  #expect(reply == [Array("TASK".utf8)])
  // ROUTER_MANDATORY: sending to an unknown peer is reported, not silently dropped.
  #expect(try !router.send([Array("nobody".utf8), Array("x".utf8)]))
  router.close()
  dealer.close()
}

@Test func oversizedMessagesAreFlaggedWithTheirSender() throws {
  let ctx = ZMQContext()
  let (router, dealer) = try routerDealerPair(ctx, id: "big")
  router.maxMessageBytes = 1000
  try dealer.send([[UInt8](repeating: 7, count: 5000)], block: true)
  guard case .oversized(let frames)? = try router.receive(timeoutMs: 2000) else {
    Issue.record("not flagged as oversized")
    return
  }
  #expect(frames.first == Array("big".utf8))
  router.close()
  dealer.close()
}

@Test(.enabled(if: zeroMQHasCurve, "this libzmq has no CURVE"))
func curveAdmitsOnlyListedWorkers() throws {
  let ctx = ZMQContext()
  let server = try CurveKeyPair.generate()
  let good = try CurveKeyPair.generate()
  let bad = try CurveKeyPair.generate()
  let auth = try CurveAuthenticator(context: ctx, allowedPublicKeys: [good.publicKey])
  defer { auth.stop() }
  let router = try ZMQSocket(ctx, .router)
  try router.makeCurveServer(secretKey: server.secretKey)
  try router.bind("tcp://127.0.0.1:*")
  func client(_ keys: CurveKeyPair, _ id: String) throws -> ZMQSocket {
    let s = try ZMQSocket(ctx, .dealer)
    try s.set(ZMQ_ROUTING_ID, bytes: Array(id.utf8))
    try s.set(ZMQ_RECONNECT_IVL_MAX, 1000)
    try s.makeCurveClient(serverKey: server.publicKey, keys: keys)
    try s.connect(router.lastEndpoint)
    return s
  }
  let intruder = try client(bad, "intruder")
  let worker = try client(good, "worker")
  try intruder.send([Array("HELLO".utf8)])
  try worker.send([Array("HELLO".utf8)])
  var senders: Set<String> = []
  let deadline = Date().addingTimeInterval(3)
  while Date() < deadline {
    if case .message(let frames)? = try router.receive(timeoutMs: 100) {
      senders.insert(String(decoding: frames[0], as: UTF8.self))
    }
  }
  #expect(senders == ["worker"])
  #expect(auth.denials.load(ordering: .relaxed) >= 1)
  for s in [intruder, worker, router] { s.close() }
  #expect(throws: TransportError.self) { try CurveAuthenticator(context: ctx, allowedPublicKeys: ["short"]) }
}
