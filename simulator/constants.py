"""Kernel constants and the simulator's own codes.

Numbers follow x86-64 (kernel-spec §0): 4 KiB pages, pageblock_order 9, orders 0..10.
"""

from __future__ import annotations

PAGE_SHIFT = 12
PAGEBLOCK_ORDER = 9
PAGEBLOCK_NR_PAGES = 1 << PAGEBLOCK_ORDER
MAX_ORDER = 11  # exclusive bound, as in 4.8 (6.18: MAX_PAGE_ORDER = 10 inclusive)
NR_ORDERS = MAX_ORDER
PAGE_ALLOC_COSTLY_ORDER = 3
COMPACT_CLUSTER_MAX = 32
COMPACTION_HPAGE_ORDER = 9
COMPACT_MAX_DEFER_SHIFT = 6
MAX_PAGES = 1 << 24  # 64 GiB: the engine packs pfns in 24 bits in places

PROFILES = ("v4.8", "v6.18")

# Migratetypes (§3.1)
MIGRATE_UNMOVABLE = 0
MIGRATE_MOVABLE = 1
MIGRATE_RECLAIMABLE = 2
MIGRATE_PCPTYPES = 3
MIGRATE_HIGHATOMIC = 3
MIGRATE_CMA = 4
MIGRATE_ISOLATE = 5
MIGRATE_TYPES = 6
MIGRATETYPE_NAMES = ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "CMA", "Isolate")

# §3.4 fallback tables (identical in both profiles)
FALLBACKS = {
    MIGRATE_UNMOVABLE: (MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE),
    MIGRATE_RECLAIMABLE: (MIGRATE_UNMOVABLE, MIGRATE_MOVABLE),
    MIGRATE_MOVABLE: (MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE),
}

# Page kinds: what occupies a pfn. One byte per pfn.
K_FREE = 0  # in the buddy allocator (head or tail of a free block)
K_PCP = 1  # free, sitting on a per-cpu list (not merged, no PageBuddy)
K_ANON = 2
K_FILE = 3
K_DRIVER = 4  # non-LRU movable page owned by a driver
K_UNMOVABLE = 5
K_RECLAIMABLE = 6
K_PINNED = 7  # anon page with an extra (e.g. GUP) reference
K_COMPOUND_HEAD = 8
K_COMPOUND_TAIL = 9
K_RESERVED = 10
K_HOLE = 11
K_TARGET = 12  # free page isolated by the free scanner, waiting to be a migration target
KIND_NAMES = (
    "free",
    "free_pcp",
    "lru_anon",
    "lru_file",
    "driver",
    "unmovable",
    "reclaimable",
    "pinned",
    "compound_head",
    "compound_tail",
    "reserved",
    "hole",
    "free_isolated",
)
KIND_BY_NAME = {n: i for i, n in enumerate(KIND_NAMES)}

# A driver page's aux byte: the driver's id (1..127), and this bit once the driver no
# longer has the page in its own structures (a buggy putback_page() lost it).
A_DRIVER_ID = 0x7F
A_LOST = 0x80
# Per-page flags, one byte. PG_isolated is an alias of PG_reclaim in the kernel (§6).
F_LOCKED = 1 << 0
F_DIRTY = 1 << 1
F_WRITEBACK = 1 << 2
F_LRU = 1 << 3
F_ISOLATED = 1 << 4
F_MOVABLE = 1 << 5  # 4.8: PAGE_MAPPING_MOVABLE in page->mapping; 6.18: PG_movable_ops
F_BUDDY = 1 << 6  # PageBuddy: only on the head of a free block
F_UNEVICTABLE = 1 << 7
FLAG_NAMES = (
    (F_LOCKED, "locked"),
    (F_DIRTY, "dirty"),
    (F_WRITEBACK, "writeback"),
    (F_LRU, "lru"),
    (F_ISOLATED, "isolated"),
    (F_MOVABLE, "movable"),
    (F_BUDDY, "buddy"),
    (F_UNEVICTABLE, "unevictable"),
)

# Display states streamed to viewers (docs/protocol.md).
S_FREE = 0
S_FREE_PCP = 1
S_ANON = 2
S_FILE = 3
S_DRIVER = 4
S_UNMOVABLE = 5
S_RECLAIMABLE = 6
S_PINNED = 7
S_COMPOUND = 8
S_RESERVED = 9
S_HOLE = 10
S_ISOLATED = 11
S_TARGET = 12
STATE_NAMES = (
    "free",
    "free_pcp",
    "lru_anon",
    "lru_file",
    "driver",
    "unmovable",
    "reclaimable",
    "pinned",
    "compound",
    "reserved",
    "hole",
    "isolated",
    "free_isolated",
)

# Migration modes (§1.1)
MIGRATE_ASYNC = 0
MIGRATE_SYNC_LIGHT = 1
MIGRATE_SYNC = 2
MODE_NAMES = ("MIGRATE_ASYNC", "MIGRATE_SYNC_LIGHT", "MIGRATE_SYNC")

# Migration reasons (§1.2), trace strings per profile
REASONS_48 = (
    "compaction",
    "memory_failure",
    "memory_hotplug",
    "syscall_or_cpuset",
    "mempolicy_mbind",
    "numa_misplaced",
    "cma",
)
REASONS_618 = (
    "compaction",
    "memory_failure",
    "memory_hotplug",
    "syscall_or_cpuset",
    "mempolicy_mbind",
    "numa_misplaced",
    "contig_range",
    "longterm_pin",
    "demotion",
    "damon",
)
MR_COMPACTION = 0

# errnos as the kernel returns them (negative)
EAGAIN = -11
ENOMEM = -12
EBUSY = -16
EINVAL = -22
ENOSYS = -38
ERRNO_BY_NAME = {"EAGAIN": EAGAIN, "ENOMEM": ENOMEM, "EBUSY": EBUSY, "EINVAL": EINVAL}
ERRNO_NAMES = {v: k for k, v in ERRNO_BY_NAME.items()} | {ENOSYS: "ENOSYS", 0: "0"}

# compact_result (§2.9). 4.8 numbering; 6.18 renames PARTIAL to SUCCESS.
COMPACT_NOT_SUITABLE_ZONE = 0
COMPACT_SKIPPED = 1
COMPACT_DEFERRED = 2
COMPACT_NO_SUITABLE_PAGE = 3
COMPACT_CONTINUE = 4
COMPACT_COMPLETE = 5
COMPACT_PARTIAL_SKIPPED = 6
COMPACT_CONTENDED = 7
COMPACT_SUCCESS = 8  # COMPACT_PARTIAL in 4.8
_STATUS_48 = (
    "not_suitable_zone",
    "skipped",
    "deferred",
    "no_suitable_page",
    "continue",
    "complete",
    "partial_skipped",
    "contended",
    "partial",
)
_STATUS_618 = _STATUS_48[:8] + ("success",)


def status_name(result: int, profile: str) -> str:
    return (_STATUS_48 if profile == "v4.8" else _STATUS_618)[result]


def mode_trace(mode: int) -> str:
    """mm_compaction_begin/end print only sync or async."""
    return "async" if mode == MIGRATE_ASYNC else "sync"


ZONE_NAMES = ("DMA", "DMA32", "Normal", "HighMem", "Movable", "Device")
