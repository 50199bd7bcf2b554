"""pagemig engine: a numpy model of Linux page migration and memory compaction."""

ENGINE_VERSION = "0.1.0"
