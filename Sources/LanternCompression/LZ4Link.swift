// Links liblz4 so the foundation proves the library builds everywhere; the shard format
// (a later issue) builds on this module.

import CLZ4

/// The linked liblz4 version, e.g. "1.9.4".
public var lz4Version: String { String(cString: LZ4_versionString()) }
