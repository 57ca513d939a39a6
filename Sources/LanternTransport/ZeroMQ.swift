// A thin, safe layer over libzmq 4.3 for the cluster: contexts, sockets, multipart messages,
// polling, and the options PLATFORM.md says must be set deliberately.
//
// - Linger is set on every socket (the default -1 makes zmq_ctx_term block forever).
// - Blocking calls are retried on EINTR (signal handlers for SIGTERM drain are installed).
// - zmq_msg_t is kept at a stable heap address, never copied by value.
// - Received multipart messages are bounded in frame count and total size, on top of
//   ZMQ_MAXMSGSIZE (which drops oversized frames and disconnects the peer silently).
// Left out: zero-copy sends, the DRAFT poller API (not in Debian's libzmq).

import CZeroMQ
import Foundation

/// Errors from the transport, naming the endpoint or operation.
public struct TransportError: Error, CustomStringConvertible, Sendable {
  public let operation: String
  public let code: Int32
  public let detail: String
  public var description: String {
    "zeromq \(operation): \(detail) (errno \(code)) ---> HINT: check the address, the port and that the peer runs"
  }
  init(_ operation: String) {
    self.operation = operation
    code = zmq_errno()
    detail = String(cString: zmq_strerror(code))
  }
}

/// A ZeroMQ context (one per process).
public final class ZMQContext: @unchecked Sendable {
  let handle: UnsafeMutableRawPointer

  public init() {
    handle = zmq_ctx_new()
  }

  deinit {
    while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
  }
}

/// Socket kinds Lantern uses.
public enum ZMQSocketKind: Sendable {
  case router, dealer, rep, req, pair
  var raw: Int32 {
    switch self {
    case .router: return ZMQ_ROUTER
    case .dealer: return ZMQ_DEALER
    case .rep: return ZMQ_REP
    case .req: return ZMQ_REQ
    case .pair: return ZMQ_PAIR
    }
  }
}

/// One ZeroMQ socket. Not thread-safe: use it from one thread at a time.
public final class ZMQSocket: @unchecked Sendable {
  let handle: UnsafeMutableRawPointer
  private let message: UnsafeMutablePointer<zmq_msg_t>
  private var closed = false
  /// Refuse received messages with more frames than this.
  public var maxFrames = 64
  /// Refuse received messages larger than this in total.
  public var maxMessageBytes = 1 << 20

  /// Creates a socket with linger `lingerMs` (default 0: pending messages are dropped on close).
  public init(_ context: ZMQContext, _ kind: ZMQSocketKind, lingerMs: Int32 = 0) throws {
    guard let h = zmq_socket(context.handle, kind.raw) else { throw TransportError("socket") }
    handle = h
    message = .allocate(capacity: 1)
    try set(ZMQ_LINGER, lingerMs)
  }

  deinit {
    close()
    message.deallocate()
  }

  /// Closes the socket (idempotent).
  public func close() {
    if closed { return }
    closed = true
    zmq_close(handle)
  }

  /// Sets an integer option.
  public func set(_ option: Int32, _ value: Int32) throws {
    var v = value
    guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size) == 0 else {
      throw TransportError("setsockopt \(option)")
    }
  }

  /// Sets a 64-bit integer option (ZMQ_MAXMSGSIZE).
  public func set64(_ option: Int32, _ value: Int64) throws {
    var v = value
    guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int64>.size) == 0 else {
      throw TransportError("setsockopt \(option)")
    }
  }

  /// Sets a binary or string option.
  public func set(_ option: Int32, bytes: [UInt8]) throws {
    guard bytes.withUnsafeBytes({ zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }) == 0 else {
      throw TransportError("setsockopt \(option)")
    }
  }

  /// Sets a string option (NUL-terminated, as libzmq expects for Z85 keys).
  public func set(_ option: Int32, string: String) throws {
    guard string.withCString({ zmq_setsockopt(handle, option, $0, strlen($0)) }) == 0 else {
      throw TransportError("setsockopt \(option)")
    }
  }

  public func bind(_ endpoint: String) throws {
    guard zmq_bind(handle, endpoint) == 0 else { throw TransportError("bind \(endpoint)") }
  }

  public func connect(_ endpoint: String) throws {
    guard zmq_connect(handle, endpoint) == 0 else { throw TransportError("connect \(endpoint)") }
  }

  /// The endpoint actually bound (resolves `tcp://127.0.0.1:*` to its port).
  public var lastEndpoint: String {
    var buffer = [CChar](repeating: 0, count: 256)
    var size = buffer.count
    _ = zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size)
    return String(cString: buffer)
  }

  /// Sends a multipart message. Returns false if it could not be queued without blocking
  /// (EAGAIN) or the peer is unknown to a ROUTER with ROUTER_MANDATORY (EHOSTUNREACH).
  @discardableResult
  public func send(_ frames: [[UInt8]], block: Bool = false) throws -> Bool {
    for (i, frame) in frames.enumerated() {
      var flags: Int32 = i < frames.count - 1 ? ZMQ_SNDMORE : 0
      if !block { flags |= ZMQ_DONTWAIT }
      while true {
        let rc = frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) }
        if rc >= 0 { break }
        let e = zmq_errno()
        if e == EINTR { continue }
        if (e == EAGAIN || e == EHOSTUNREACH) && i == 0 { return false }
        throw TransportError("send")
      }
    }
    return true
  }

  /// Receives one multipart message, waiting up to `timeoutMs` (-1: forever; 0: don't wait).
  /// Returns nil on timeout. A message over `maxFrames` / `maxMessageBytes` is drained and
  /// reported as `.oversized` with the frames read so far (the routing id comes first on a ROUTER).
  public func receive(timeoutMs: Int32 = -1) throws -> Received? {
    if timeoutMs >= 0 {
      guard try poll([self], timeoutMs: timeoutMs).first == true else { return nil }
    }
    var frames: [[UInt8]] = []
    var total = 0
    var oversized = false
    while true {
      zmq_msg_init(message)
      defer { zmq_msg_close(message) }
      while zmq_msg_recv(message, handle, ZMQ_DONTWAIT) < 0 {
        let e = zmq_errno()
        if e == EINTR { continue }
        if e == EAGAIN && frames.isEmpty { return nil }
        if e == EAGAIN { continue }  // the rest of a multipart message arrives atomically
        throw TransportError("receive")
      }
      let size = zmq_msg_size(message)
      total += size
      if frames.count >= maxFrames || total > maxMessageBytes { oversized = true }
      if !oversized || frames.isEmpty {
        let data = zmq_msg_data(message)!.assumingMemoryBound(to: UInt8.self)
        frames.append(Array(UnsafeBufferPointer(start: data, count: min(size, maxMessageBytes))))
      }
      if zmq_msg_more(message) == 0 { break }
    }
    return oversized ? .oversized(frames) : .message(frames)
  }

  /// A received message.
  public enum Received: Sendable {
    case message([[UInt8]])
    /// Over the frame or size limit; holds the first frame(s) only (the routing id on a ROUTER).
    case oversized([[UInt8]])
  }
}

/// Waits until one of `sockets` is readable or `timeoutMs` passes; returns readability per socket.
public func poll(_ sockets: [ZMQSocket], timeoutMs: Int32) throws -> [Bool] {
  var items = sockets.map { zmq_pollitem_t(socket: $0.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0) }
  while zmq_poll(&items, Int32(items.count), Int(timeoutMs)) < 0 {
    if zmq_errno() == EINTR { continue }
    throw TransportError("poll")
  }
  return items.map { $0.revents & Int16(ZMQ_POLLIN) != 0 }
}

/// A CURVE key pair in Z85 text (40 characters each).
public struct CurveKeyPair: Sendable, Equatable {
  public let publicKey: String
  public let secretKey: String

  /// Generates a fresh key pair (libzmq's zmq_curve_keypair).
  public static func generate() throws -> CurveKeyPair {
    var pub = [CChar](repeating: 0, count: 41)
    var sec = [CChar](repeating: 0, count: 41)
    guard zmq_curve_keypair(&pub, &sec) == 0 else { throw TransportError("curve_keypair") }
    return CurveKeyPair(publicKey: String(cString: pub), secretKey: String(cString: sec))
  }

  public init(publicKey: String, secretKey: String) {
    self.publicKey = publicKey
    self.secretKey = secretKey
  }
}

/// Decodes a Z85 key to its 32 bytes, or nil if it is not a valid 40-character Z85 key.
public func z85DecodeKey(_ text: String) -> [UInt8]? {
  guard text.utf8.count == 40 else { return nil }
  var out = [UInt8](repeating: 0, count: 32)
  let ok = text.withCString { zmq_z85_decode(&out, $0) } != nil
  return ok ? out : nil
}

/// The linked libzmq version, e.g. "4.3.4".
public var zeroMQVersion: String {
  var major: Int32 = 0
  var minor: Int32 = 0
  var patch: Int32 = 0
  zmq_version(&major, &minor, &patch)
  return "\(major).\(minor).\(patch)"
}

/// True when libzmq was built with CURVE security.
public var zeroMQHasCurve: Bool { zmq_has("curve") != 0 }
