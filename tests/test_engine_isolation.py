"""Which pages the migrate scanner isolates (kernel-spec §2.4, §2.5, §1.6).

Every layout is explicit. The expected pfns and trace lines follow from the per-pfn rules
of isolate_migratepages_block(): nr_scanned++ per pfn visited, list_add() at the head of
cc->migratepages, and a stop after COMPACT_CLUSTER_MAX (32) isolations with
low_pfn one past the last isolated pfn.
"""

import pytest

from simulator.compaction import ISOLATE_NONE, ISOLATE_SUCCESS
from simulator.constants import (
    F_DIRTY,
    F_ISOLATED,
    F_LOCKED,
    F_LRU,
    F_UNEVICTABLE,
    F_WRITEBACK,
    MIGRATE_ASYNC,
    MIGRATE_MOVABLE,
    MIGRATE_SYNC,
    MIGRATE_SYNC_LIGHT,
    MIGRATE_UNMOVABLE,
)
from tests.engine_helpers import cc_for, make_sim, trace_events

PROFILES = ["v4.8", "v6.18"]
ALL_MODES = [MIGRATE_ASYNC, MIGRATE_SYNC_LIGHT, MIGRATE_SYNC]

# One LRU page at pfn 3 refused, the rest of 0..63 taken: 0, 1, 2, 4..32 (32 pages), so
# the scan stops one past pfn 32 after visiting 33 pfns.
SKIPS_PFN_3 = "range=(0x0 ~ 0x21) nr_scanned=33 nr_taken=32"
# Nothing refused: 0..31 taken, the scan stops one past pfn 31.
TAKES_0_TO_31 = "range=(0x0 ~ 0x20) nr_scanned=32 nr_taken=32"
# ISOLATE_ASYNC_MIGRATE (mode != MIGRATE_SYNC) refuses the page at pfn 3; SYNC takes it
ONLY_SYNC_TAKES_PFN_3 = [
    (MIGRATE_ASYNC, SKIPS_PFN_3),
    (MIGRATE_SYNC_LIGHT, SKIPS_PFN_3),
    (MIGRATE_SYNC, TAKES_0_TO_31),
]


def scan_first_block(kind, profile, mode=MIGRATE_SYNC, flags=None, sysctl=None):
    """Pages 0..63 of `kind` (the rest free), extra flags per pfn; one isolate_migratepages()
    call that ignores skip bits. Returns (sim, cc, the isolate trace line)."""
    sim = make_sim([{"start": 0, "count": 64, "kind": kind}], profile=profile)
    for pfn, flag in (flags or {}).items():
        sim.k.mem.flags[pfn] |= flag
    sim.k.sysctl.update(sysctl or {})
    cc = cc_for(sim, mode=mode, ignore_skip_hint=True)
    assert sim.c.isolate_migratepages(cc) == ISOLATE_SUCCESS
    (line,) = trace_events(sim, "mm_compaction_isolate_migratepages")
    return sim, cc, line


def _without(pfn, last=32):
    """The isolation list when pfn is refused: newest first, up to `last`."""
    return [p for p in range(last, -1, -1) if p != pfn]


# -- pinned anon pages (§2.5) -------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_pinned_anon_page_is_not_isolated_for_migration(profile):
    """§2.5: 4.8 'no mapping, page_count > page_mapcount' and 6.18 'refcount-1 > mapcount'
    are both a failure: pfn 3 is passed over, 0..2 and 4..32 make the 32."""
    sim = make_sim(
        [{"start": 0, "count": 64, "kind": "anon"}, {"start": 3, "count": 1, "kind": "pinned"}],
        profile=profile,
    )
    cc = cc_for(sim, ignore_skip_hint=True)
    sim.c.isolate_migratepages(cc)
    assert trace_events(sim, "mm_compaction_isolate_migratepages") == [SKIPS_PFN_3]
    assert cc.migratepages == _without(3)
    assert cc.migrate_pfn == 33
    assert sim.k.mem.flags[3] & (F_LRU | F_ISOLATED) == F_LRU  # left on the LRU
    assert sim.k.vmstat["compact_isolated"] == 32


# -- unevictable pages (§2.4 isolation mode, §2.5) ------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("allowed,expect", [(1, TAKES_0_TO_31), (0, SKIPS_PFN_3)])
def test_unevictable_page_is_isolated_only_when_compact_unevictable_allowed(
    profile, allowed, expect
):
    """§2.4: ISOLATE_UNEVICTABLE iff compact_unevictable_allowed; §2.5: __isolate_lru_page
    (4.8) / the 6.18 LRU checks fail an unevictable page without it."""
    sim, cc, line = scan_first_block(
        "anon",
        profile,
        flags={3: F_UNEVICTABLE},
        sysctl={"compact_unevictable_allowed": allowed},
    )
    assert line == expect
    assert bool(sim.k.mem.flags[3] & F_ISOLATED) == bool(allowed)


@pytest.mark.parametrize(
    "profile,kind,expect",
    [
        ("v4.8", "file", TAKES_0_TO_31),  # __isolate_lru_page takes no page lock
        ("v4.8", "anon", TAKES_0_TO_31),
        ("v6.18", "file", SKIPS_PFN_3),  # mapping && unevictable: folio_trylock fails
        ("v6.18", "anon", TAKES_0_TO_31),  # no mapping: no trylock needed
    ],
)
def test_v618_locked_unevictable_file_page_fails_the_folio_trylock_even_in_sync(
    profile, kind, expect
):
    """§2.5 6.18: 'mapping with unevictable (... needs a folio trylock)', in every mode;
    4.8's __isolate_lru_page has no such check. MIGRATE_SYNC, unevictable allowed."""
    sim, cc, line = scan_first_block(
        kind,
        profile,
        mode=MIGRATE_SYNC,
        flags={3: F_UNEVICTABLE | F_LOCKED},
        sysctl={"compact_unevictable_allowed": 1},
    )
    assert line == expect


# -- ISOLATE_ASYNC_MIGRATE: mode != MIGRATE_SYNC (§2.4, §2.5) -------------------------------


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("mode,expect", ONLY_SYNC_TAKES_PFN_3)
def test_writeback_page_is_isolated_only_in_sync_mode(profile, mode, expect):
    """§2.4: ISOLATE_ASYNC_MIGRATE when mode != SYNC; §2.5: with it, a writeback page fails."""
    sim, cc, line = scan_first_block("file", profile, mode=mode, flags={3: F_WRITEBACK})
    assert line == expect
    assert bool(sim.k.mem.flags[3] & F_ISOLATED) == (mode == MIGRATE_SYNC)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("mode,expect", ONLY_SYNC_TAKES_PFN_3)
def test_dirty_file_page_without_migratepage_is_isolated_only_in_sync_mode(profile, mode, expect):
    """§2.5: with ISOLATE_ASYNC_MIGRATE, 'a dirty page whose mapping has no ->migratepage'
    (6.18: no migrate_folio) fails. A dirty anon page (pfn 5) has no mapping and is
    taken in every mode."""
    sim = make_sim(
        [{"start": 0, "count": 64, "kind": "file"}, {"start": 5, "count": 1, "kind": "anon"}],
        profile=profile,
    )
    sim.k.file_migratepage = False
    sim.k.mem.flags[3] |= F_DIRTY
    sim.k.mem.flags[5] |= F_DIRTY
    cc = cc_for(sim, mode=mode, ignore_skip_hint=True)
    sim.c.isolate_migratepages(cc)
    assert trace_events(sim, "mm_compaction_isolate_migratepages") == [expect]
    assert sim.k.mem.flags[5] & F_ISOLATED


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("mode", ALL_MODES)
def test_dirty_file_page_with_migratepage_is_isolated_in_every_mode(profile, mode):
    """§2.5: only a dirty page *without* ->migratepage is refused under ASYNC_MIGRATE."""
    sim, cc, line = scan_first_block("file", profile, mode=mode, flags={3: F_DIRTY})
    assert line == TAKES_0_TO_31


@pytest.mark.parametrize(
    "profile,mode,expect",
    [
        ("v4.8", MIGRATE_ASYNC, TAKES_0_TO_31),  # __isolate_lru_page never locks the page
        ("v4.8", MIGRATE_SYNC_LIGHT, TAKES_0_TO_31),
        ("v4.8", MIGRATE_SYNC, TAKES_0_TO_31),
        ("v6.18", MIGRATE_ASYNC, SKIPS_PFN_3),  # dirty under ASYNC_MIGRATE: trylock fails
        ("v6.18", MIGRATE_SYNC_LIGHT, SKIPS_PFN_3),
        ("v6.18", MIGRATE_SYNC, TAKES_0_TO_31),  # no ASYNC_MIGRATE: no trylock
    ],
)
def test_v618_dirty_locked_page_fails_the_folio_trylock_under_async_migrate(profile, mode, expect):
    """§2.5 6.18: 'ASYNC_MIGRATE with dirty ... needs a folio trylock', even for an anon
    page (no mapping, so migrate_folio is not the question); 4.8 has no trylock."""
    sim, cc, line = scan_first_block("anon", profile, mode=mode, flags={3: F_DIRTY | F_LOCKED})
    assert line == expect


# -- skip_on_failure: direct ASYNC compaction (§2.5 step 2 and 'Failure with ...') ----------


def _direct(profile, pinned, mode=MIGRATE_ASYNC, order=4):
    sim = make_sim(
        [
            {"start": 0, "count": 64, "kind": "anon"},
            {"start": pinned, "count": 1, "kind": "pinned"},
        ],
        profile=profile,
    )
    cc = cc_for(
        sim, mode=mode, order=order, direct=True, source="direct", migratetype=MIGRATE_MOVABLE
    )
    assert sim.c.isolate_migratepages(cc) == ISOLATE_SUCCESS
    return sim, cc


@pytest.mark.parametrize("profile", PROFILES)
def test_direct_async_failure_puts_back_the_order_block_and_jumps_to_the_next(profile):
    """§2.5: skip_on_failure = direct && ASYNC, order-4 (16-pfn) blocks. In [0,16) pfns
    0..4 are isolated, pinned 5 fails: 0..4 go back and the scan jumps to 16 (6 scanned).
    [16,32) is isolated whole (16 scanned); at 32 = next_skip_pfn with pages isolated
    the scan stops to migrate them: nr_scanned 6 + 16 = 22, nr_taken 16."""
    sim, cc = _direct(profile, pinned=5)
    mem = sim.k.mem
    assert trace_events(sim, "mm_compaction_isolate_migratepages") == [
        "range=(0x0 ~ 0x20) nr_scanned=22 nr_taken=16"
    ]
    assert cc.migratepages == list(range(31, 15, -1)) and cc.nr_migratepages == 16
    assert all(mem.flags[p] & (F_LRU | F_ISOLATED) == F_LRU for p in range(5))
    assert sim.k.nr_isolated == 16
    assert sim.k.vmstat["compact_isolated"] == 16


@pytest.mark.parametrize("profile", PROFILES)
def test_direct_async_stops_at_the_end_of_a_fully_isolated_order_block(profile):
    """§2.5 skip_on_failure: once an order-aligned block is isolated whole, reaching
    next_skip_pfn ends the scan; the pinned page at 20 is never visited."""
    sim, cc = _direct(profile, pinned=20)
    assert trace_events(sim, "mm_compaction_isolate_migratepages") == [
        "range=(0x0 ~ 0x10) nr_scanned=16 nr_taken=16"
    ]
    assert cc.migratepages == list(range(15, -1, -1))


@pytest.mark.parametrize("profile", PROFILES)
def test_direct_sync_light_compaction_does_not_skip_on_failure(profile):
    """§2.5: skip_on_failure needs ASYNC. Under SYNC_LIGHT the pinned page 5 is only
    passed over: 0..4 and 6..32 make the 32 (33 pfns scanned)."""
    sim, cc = _direct(profile, pinned=5, mode=MIGRATE_SYNC_LIGHT)
    assert trace_events(sim, "mm_compaction_isolate_migratepages") == [
        "range=(0x0 ~ 0x21) nr_scanned=33 nr_taken=32"
    ]
    assert cc.migratepages == _without(5)


# -- 6.18: the skip bit read at a pageblock's first pfn (§2.5 6.18 differences) ------------


def _block_with_skip_bit(profile):
    sim = make_sim([{"start": 0, "count": 512, "kind": "anon"}], profile=profile)
    sim.k.mem.pb_skip[0] = True
    cc = cc_for(sim, mode=MIGRATE_SYNC_LIGHT, order=9, source="kcompactd")
    return sim, cc


def test_v618_skip_bit_at_a_pageblocks_first_pfn_aborts_the_block():
    """§2.5 6.18: 'At the first pfn of a pageblock ... a set skip bit aborts the whole block:
    low_pfn = end_pfn'. Only that first pfn is counted (nr_scanned++ comes first); nothing
    is isolated, no error, and the position moves to the block end."""
    sim, cc = _block_with_skip_bit("v6.18")
    z = sim.k.mem.zones[0]
    assert sim.c.isolate_migratepages_block(cc, 0, 512) is False
    assert trace_events(sim, "mm_compaction_isolate_migratepages") == [
        "range=(0x0 ~ 0x200) nr_scanned=1 nr_taken=0"
    ]
    assert cc.nr_migratepages == 0 and cc.migratepages == []
    assert cc.migrate_pfn == 512
    # low_pfn == end_pfn with nothing isolated: update_cached_migrate() for a SYNC_LIGHT run
    assert z.compact_cached_migrate_pfn[0] >= 512 and z.compact_cached_migrate_pfn[1] >= 512


def test_v48_block_scan_does_not_read_the_skip_bit():
    """§2.5 4.8 has no skip-bit check inside isolate_migratepages_block (only §2.4's
    per-block check in isolate_migratepages): the marked block yields 0..31."""
    sim, cc = _block_with_skip_bit("v4.8")
    assert sim.c.isolate_migratepages_block(cc, 0, 512) == 32
    assert trace_events(sim, "mm_compaction_isolate_migratepages") == [TAKES_0_TO_31]


def test_v618_skip_bit_is_not_read_when_the_scan_resumes_mid_block():
    """§2.5 6.18: the check is made at the first pfn of a pageblock only; a scan resuming
    at pfn 32 of a marked block isolates 32..63."""
    sim, cc = _block_with_skip_bit("v6.18")
    cc.migrate_pfn = 32
    assert sim.c.isolate_migratepages_block(cc, 32, 512) is False
    assert trace_events(sim, "mm_compaction_isolate_migratepages") == [
        "range=(0x20 ~ 0x40) nr_scanned=32 nr_taken=32"
    ]
    assert cc.migratepages == list(range(63, 31, -1))


def test_v618_ignore_skip_hint_scans_a_marked_block():
    """§2.5 6.18 / §2.11: isolation_suitable() is true with ignore_skip_hint, so the
    first-pfn check does not abort."""
    sim, cc = _block_with_skip_bit("v6.18")
    cc.ignore_skip_hint = True
    sim.c.isolate_migratepages_block(cc, 0, 512)
    assert trace_events(sim, "mm_compaction_isolate_migratepages") == [TAKES_0_TO_31]


# -- 6.18 suitable_migration_source() (§2.4) -------------------------------------------------

# block 0: anon 0..7 among 504 unmovable pages (UNMOVABLE block); block 1: anon 512..611
# (MOVABLE); blocks 2 and 3 free (MOVABLE). Order 3: skip_on_failure ends the scan after
# the first fully isolated 8-pfn block.
MIXED = [
    {"start": 0, "count": 8, "kind": "anon"},
    {"start": 8, "count": 504, "kind": "unmovable"},
    {"start": 512, "count": 100, "kind": "anon"},
]
BLOCK0 = "range=(0x0 ~ 0x8) nr_scanned=8 nr_taken=8"
BLOCK1 = "range=(0x200 ~ 0x208) nr_scanned=8 nr_taken=8"


@pytest.mark.parametrize(
    "profile,mode,request_mt,expect",
    [
        # 6.18 ASYNC direct: a MOVABLE request needs a MOVABLE/CMA block, others an equal type
        ("v6.18", MIGRATE_ASYNC, MIGRATE_MOVABLE, BLOCK1),
        ("v6.18", MIGRATE_ASYNC, MIGRATE_UNMOVABLE, BLOCK0),
        # 4.8 migrate_async_suitable(): MOVABLE or CMA whatever the request
        ("v4.8", MIGRATE_ASYNC, MIGRATE_MOVABLE, BLOCK1),
        ("v4.8", MIGRATE_ASYNC, MIGRATE_UNMOVABLE, BLOCK1),
        # no block-type test outside ASYNC: block 0 scanned whole, its 8 anon pages taken
        (
            "v6.18",
            MIGRATE_SYNC_LIGHT,
            MIGRATE_MOVABLE,
            "range=(0x0 ~ 0x200) nr_scanned=512 nr_taken=8",
        ),
    ],
)
def test_async_direct_compaction_scans_only_blocks_of_a_suitable_migratetype(
    profile, mode, request_mt, expect
):
    """§2.4: 6.18 suitable_migration_source() vs 4.8 migrate_async_suitable()."""
    sim = make_sim(MIXED, profile=profile)
    assert list(sim.k.mem.pb_mt[:4]) == [MIGRATE_UNMOVABLE] + [MIGRATE_MOVABLE] * 3
    cc = cc_for(sim, mode=mode, order=3, direct=True, source="direct", migratetype=request_mt)
    assert sim.c.isolate_migratepages(cc) == ISOLATE_SUCCESS
    assert trace_events(sim, "mm_compaction_isolate_migratepages") == [expect]
    assert cc.nr_migratepages == 8


def test_v618_block_of_the_wrong_type_still_advances_the_cached_migrate_pfn():
    """§2.4 6.18: 'Such a skipped block still advances the cached migrate pfn' (the async
    one, [0]; §2.1 [1] is the sync one and stays put)."""
    sim = make_sim(MIXED, profile="v6.18")
    z = sim.k.mem.zones[0]
    assert z.compact_cached_migrate_pfn == [0, 0]
    cc = cc_for(
        sim, mode=MIGRATE_ASYNC, order=3, direct=True, source="direct", migratetype=MIGRATE_MOVABLE
    )
    sim.c.isolate_migratepages(cc)
    assert z.compact_cached_migrate_pfn[0] >= 512
    assert z.compact_cached_migrate_pfn[1] == 0


def test_v618_unmovable_request_walks_past_movable_blocks_to_the_free_scanner():
    """§2.4 6.18: from pfn 512 an UNMOVABLE ASYNC direct request finds only MOVABLE blocks
    (1 and 2) below free_pfn 1536: nothing is scanned, ISOLATE_NONE, migrate_pfn 1536."""
    sim = make_sim(MIXED, profile="v6.18")
    cc = cc_for(
        sim,
        mode=MIGRATE_ASYNC,
        order=3,
        direct=True,
        source="direct",
        migratetype=MIGRATE_UNMOVABLE,
    )
    cc.migrate_pfn = 512
    assert sim.c.isolate_migratepages(cc) == ISOLATE_NONE
    assert trace_events(sim, "mm_compaction_isolate_migratepages") == []
    assert cc.migrate_pfn == 1536 and cc.nr_migratepages == 0
