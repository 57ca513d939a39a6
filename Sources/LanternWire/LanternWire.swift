// LanternWire: the cluster protocol as pure values and state machines (no sockets).
