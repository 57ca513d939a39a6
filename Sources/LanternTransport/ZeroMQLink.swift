// Links libzmq so the foundation proves the library builds everywhere; the cluster transport
// (a later issue) builds on this module.

import CZeroMQ

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
