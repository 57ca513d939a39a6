// CURVE authentication with an allow-list, through ZeroMQ's ZAP protocol (RFC 27/ZAP).
//
// A CURVE server without a ZAP handler admits any client that knows the server's public key
// (PLATFORM.md): encryption without authentication. This handler answers every ZAP request on
// inproc://zeromq.zap.01, admitting only CURVE clients whose public key is listed. It must echo
// the request id, or every handshake fails silently. Denials are counted and reported.

import CZeroMQ
import Foundation
import Synchronization

/// Runs a ZAP handler thread for a context; stop it before the context goes away.
public final class CurveAuthenticator: @unchecked Sendable {
  private let socket: ZMQSocket
  private let allowed: Set<[UInt8]>
  private let running = Atomic<Bool>(true)
  private let finished = DispatchSemaphore(value: 0)
  /// Number of denied handshakes so far.
  public let denials = Atomic<Int>(0)
  /// Called (on the handler thread) for each denied handshake with the peer address.
  private let onDenied: @Sendable (String) -> Void

  /// Starts the handler, admitting only `allowedPublicKeys` (Z85 text). Invalid keys throw.
  public init(
    context: ZMQContext, allowedPublicKeys: [String],
    onDenied: @escaping @Sendable (String) -> Void = { _ in }
  ) throws {
    var keys = Set<[UInt8]>()
    for k in allowedPublicKeys {
      guard let raw = z85DecodeKey(k) else {
        throw TransportError.invalidKey(k)
      }
      keys.insert(raw)
    }
    allowed = keys
    self.onDenied = onDenied
    socket = try ZMQSocket(context, .rep)
    try socket.bind("inproc://zeromq.zap.01")
    let thread = Thread { [self] in self.loop() }
    thread.start()
  }

  /// Stops the handler thread and closes its socket.
  public func stop() {
    guard running.exchange(false, ordering: .sequentiallyConsistent) else { return }
    finished.wait()
  }

  deinit { stop() }

  private func loop() {
    while running.load(ordering: .acquiring) {
      guard let received = try? socket.receive(timeoutMs: 100), case .message(let frames) = received else {
        continue
      }
      // 1.0, request id, domain, address, identity, mechanism, credentials...
      guard frames.count >= 6 else { continue }
      let requestID = frames[1]
      let address = String(decoding: frames[3], as: UTF8.self)
      let mechanism = String(decoding: frames[5], as: UTF8.self)
      let ok = mechanism == "CURVE" && frames.count >= 7 && allowed.contains(frames[6])
      if !ok {
        denials.add(1, ordering: .relaxed)
        onDenied(address)
      }
      let reply: [[UInt8]] = [
        Array("1.0".utf8), requestID, Array((ok ? "200" : "400").utf8),
        Array((ok ? "OK" : "key not allowed").utf8),
        ok ? Array("worker".utf8) : [], [],
      ]
      _ = try? socket.send(reply, block: true)
    }
    socket.close()
    finished.signal()
  }
}

extension TransportError {
  static func invalidKey(_ key: String) -> TransportError {
    TransportError(
      operation: "curve key", code: EINVAL, detail: "'\(key)' is not a 40-character Z85 CURVE key")
  }

  init(operation: String, code: Int32, detail: String) {
    self.operation = operation
    self.code = code
    self.detail = detail
  }
}

extension ZMQSocket {
  /// Makes this socket a CURVE server that authenticates through the ZAP handler.
  public func makeCurveServer(secretKey: String) throws {
    try set(ZMQ_CURVE_SERVER, 1)
    try set(ZMQ_CURVE_SECRETKEY, string: secretKey)
    try set(ZMQ_ZAP_DOMAIN, string: "lantern")
  }

  /// Makes this socket a CURVE client of a server with `serverKey`.
  public func makeCurveClient(serverKey: String, keys: CurveKeyPair) throws {
    try set(ZMQ_CURVE_SERVERKEY, string: serverKey)
    try set(ZMQ_CURVE_PUBLICKEY, string: keys.publicKey)
    try set(ZMQ_CURVE_SECRETKEY, string: keys.secretKey)
  }
}
