// LanternWire: the cluster protocol (docs/protocol.md) as pure values and state machines, no sockets.
