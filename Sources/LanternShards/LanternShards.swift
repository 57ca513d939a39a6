// LanternShards: corpora, context windows, the work-unit plan, the shard format, manifests.
