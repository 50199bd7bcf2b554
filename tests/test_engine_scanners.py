"""The 6.18 fast searches and the free scanner's stride and skip bits (kernel-spec §2.4, §2.6, §2.11).

Layouts are anon everywhere except the free blocks named in each test, so every pageblock
is MOVABLE and the boot-time free lists hold those blocks in ascending pfn order.
"""

import pytest

from simulator.compaction import CompactControl
from simulator.constants import (
    K_ANON,
    K_FREE,
    K_TARGET,
    MIGRATE_ASYNC,
    MIGRATE_MOVABLE,
    MIGRATE_SYNC,
    MIGRATE_SYNC_LIGHT,
    MIGRATE_UNMOVABLE,
)
from tests.engine_helpers import make_sim, trace_events


def anon_except(pages, free_spans):
    """Explicit ranges: anon on every pfn of [0, pages) outside the (start, count) spans."""
    ranges, pos = [], 0
    for start, count in sorted(free_spans):
        if start > pos:
            ranges.append({"start": pos, "count": start - pos, "kind": "anon"})
        pos = start + count
    if pos < pages:
        ranges.append({"start": pos, "count": pages - pos, "kind": "anon"})
    return ranges


def kcompactd_cc(order, migrate_pfn, free_pfn, **kw):
    """kcompactd's compact_control (§2.2 6.18: SYNC_LIGHT, skip hints honoured)."""
    cc = CompactControl(0, order, MIGRATE_SYNC_LIGHT, MIGRATE_UNMOVABLE, "kcompactd", **kw)
    cc.migrate_pfn, cc.free_pfn = migrate_pfn, free_pfn
    return cc


def direct_cc(order, mode, migratetype, migrate_pfn, free_pfn):
    cc = CompactControl(
        0, order, mode, migratetype, "direct", direct=True, memalloc=True, wmark="min"
    )
    cc.migrate_pfn, cc.free_pfn = migrate_pfn, free_pfn
    return cc


def first_source_block(sim):
    """Where the migrate scanner's first isolate_migratepages_block() call started."""
    line = trace_events(sim, "mm_compaction_isolate_migratepages")[0]
    return int(line.split("range=(")[1].split(" ~")[0], 16)


# -- fast_find_migrateblock() (§2.4) ------------------------------------------------------
# cc.fast_search_fail, the counter in freelist_scan_limit(), goes up by one per search that
# finds no block and back to 0 when one is found (6.18 mm/compaction.c
# fast_find_migrateblock(); the spec names it only in the limit's formula).


@pytest.mark.parametrize(
    ("free_start", "source", "fails"),
    [
        # migrate_pfn at the zone start: bound = 0 + (4096 - 0)/2 = 2048
        (2040, 1536, 0),  # order-3 block at 2040 < 2048: its pageblock 1536 is the source
        (2048, 0, 1),  # 2048 is not below the bound: linear scan from 0, one more failure
    ],
)
def test_v618_fast_find_migrateblock_at_the_zone_start_looks_below_half_the_distance(
    free_start, source, fails
):
    """§2.4: a free page below migrate_pfn + (free_pfn - migrate_pfn)/2 picks the source."""
    sim = make_sim(anon_except(8192, [(free_start, 8)]), pages=8192)
    assert sim.k.mem.free_list(sim.k.mem.zones[0], 3, MIGRATE_MOVABLE) == [free_start]
    cc = kcompactd_cc(9, 0, 4096)
    sim.c.isolate_migratepages(cc)
    assert first_source_block(sim) == source
    assert cc.nr_migratepages == 32  # the chosen block is all anon apart from the free one
    assert cc.fast_search_fail == fails


@pytest.mark.parametrize(
    ("free_start", "source", "fails"),
    [
        # migrate_pfn = 512 is past the zone start: bound = 512 + (8704 - 512)/8 = 1536
        (1528, 1024, 0),
        # 1536 would be below the start-of-scan bound 512 + 8192/2 = 4608, not this one
        (1536, 512, 1),
    ],
)
def test_v618_fast_find_migrateblock_after_the_start_looks_below_an_eighth_of_the_distance(
    free_start, source, fails
):
    """§2.4: once the scan has started the bound is (free_pfn - migrate_pfn)/8 ahead."""
    sim = make_sim(anon_except(16384, [(free_start, 8)]), pages=16384)
    cc = kcompactd_cc(9, 512, 8704)
    sim.c.isolate_migratepages(cc)
    assert first_source_block(sim) == source
    assert cc.fast_search_fail == fails


@pytest.mark.parametrize(
    ("cc_order", "free_order", "source", "fails"),
    [
        (9, 8, 1536, 0),  # orders order-1 = 8 ...
        (9, 3, 1536, 0),  # ... down to PAGE_ALLOC_COSTLY_ORDER = 3 are searched
        (9, 2, 0, 1),  # order 2 is not: the search fails
        (4, 3, 1536, 0),  # order 4 searches order 3 only
        (3, 2, 0, 0),  # order 3 is not costly: no fast search at all, no failure counted
    ],
)
def test_v618_fast_find_migrateblock_searches_orders_below_the_request_down_to_3(
    cc_order, free_order, source, fails
):
    """§2.4: only for order > PAGE_ALLOC_COSTLY_ORDER; MOVABLE lists of orders
    order-1 down to 3. The free block ends at 2047, below the bound 2048."""
    size = 1 << free_order
    sim = make_sim(anon_except(8192, [(2048 - size, size)]), pages=8192)
    cc = kcompactd_cc(cc_order, 0, 4096)
    sim.c.isolate_migratepages(cc)
    assert first_source_block(sim) == source
    assert cc.fast_search_fail == fails


@pytest.mark.parametrize(
    ("cc", "source"),
    [
        (lambda: direct_cc(9, MIGRATE_SYNC_LIGHT, MIGRATE_MOVABLE, 0, 4096), 1536),
        (lambda: direct_cc(9, MIGRATE_SYNC_LIGHT, MIGRATE_UNMOVABLE, 0, 4096), 0),
        (lambda: kcompactd_cc(9, 0, 4096, ignore_skip_hint=True), 0),
        (lambda: kcompactd_cc(9, 0, 4096), 1536),
    ],
    ids=["direct-movable", "direct-unmovable", "ignore-skip-hint", "kcompactd"],
)
def test_v618_fast_find_migrateblock_serves_kcompactd_and_movable_direct_requests(cc, source):
    """§2.4: it runs only with !ignore_skip_hint and for kcompactd or a MOVABLE direct
    request (SYNC_LIGHT here, so suitable_migration_source() accepts every block)."""
    sim = make_sim(anon_except(8192, [(2040, 8)]), pages=8192)
    control = cc()
    sim.c.isolate_migratepages(control)
    assert first_source_block(sim) == source
    assert control.fast_search_fail == 0


@pytest.mark.parametrize(
    ("skipped_entries", "source", "fails"),
    [
        (2, 1024, 0),  # the good entry is the 3rd: within the limit
        (3, 0, 5),  # the good entry is the 4th: never examined
    ],
)
def test_v618_fast_find_migrateblock_examines_at_most_freelist_scan_limit_entries(
    skipped_entries, source, fails
):
    """§2.4: at most (32 >> fast_search_fail) + 1 entries are examined, and entries whose
    pageblock is marked skip are passed over. fast_search_fail = 4 gives 32 >> 4 + 1 = 3."""
    skipped = [520 + 16 * i for i in range(skipped_entries)]  # order-3 blocks in block 1
    sim = make_sim(anon_except(8192, [(p, 8) for p in [*skipped, 1032]]), pages=8192)
    mem = sim.k.mem
    assert mem.free_list(mem.zones[0], 3, MIGRATE_MOVABLE) == [*skipped, 1032]
    mem.pb_skip[1] = True
    cc = kcompactd_cc(9, 0, 4096)
    cc.fast_search_fail = 4
    sim.c.isolate_migratepages(cc)
    assert first_source_block(sim) == source
    assert cc.fast_search_fail == fails


# -- fast_isolate_freepages() (§2.6) --------------------------------------------------------
# migrate_pfn 0, free_pfn 4096: top quarter from 4096 - 4096/4 = 3072, top half from 2048.
# Block 0 is free (one order-9 block, not searched for an order-3 request) so that the
# order-0 watermark always allows the isolation.


def fast_sim(free_starts, order=2):
    spans = [(0, 512)] + [(p, 1 << order) for p in free_starts]
    return make_sim(anon_except(8192, spans), pages=8192)


def fast_taken(sim):
    return trace_events(sim, "mm_compaction_fast_isolate_freepages")[0].rsplit("nr_taken=", 1)[1]


@pytest.mark.parametrize(
    ("free_start", "taken"),
    [
        (3072, "4"),  # the first pfn of the top quarter
        (3068, "4"),  # below the quarter but in the top half: the fallback takes it
        (2048, "4"),  # the first pfn of the top half
        (2044, "0"),  # below the top half: not a fast-search candidate
    ],
)
def test_v618_fast_isolate_freepages_takes_a_page_from_the_top_half_only(free_start, taken):
    """§2.6: a page in the top quarter of the search space, falling back to the top half."""
    sim = fast_sim([free_start])
    cc = kcompactd_cc(3, 0, 4096)
    cc.nr_migratepages = 4
    sim.c.fast_isolate_freepages(cc)
    assert fast_taken(sim) == taken
    assert list(cc.freepages_618[2]) == ([free_start] if taken == "4" else [])
    assert cc.nr_freepages == int(taken)


def test_v618_fast_isolate_freepages_prefers_the_top_quarter_to_the_top_half():
    """§2.6: a top-half candidate met first on the list loses to a top-quarter one."""
    sim = fast_sim([2048, 3072])
    mem = sim.k.mem
    fl = mem.zones[0].free_area[2][MIGRATE_MOVABLE]
    fl.rotate_to_tail(2048, mem.f, mem.a, mem.t)  # the reverse walk now meets 2048 first
    assert list(fl.walk_reverse(mem.f, mem.a, mem.t)) == [2048, 3072]
    cc = kcompactd_cc(3, 0, 4096)
    cc.nr_migratepages = 4
    sim.c.fast_isolate_freepages(cc)
    assert list(cc.freepages_618[2]) == [3072]
    assert mem.kind[2048] == K_FREE and mem.kind[3072] == K_TARGET


@pytest.mark.parametrize(
    ("cc", "isolated"),
    [
        (lambda: kcompactd_cc(3, 0, 4096), [3072, 3080]),
        (lambda: direct_cc(3, MIGRATE_ASYNC, MIGRATE_MOVABLE, 0, 4096), [3080]),
    ],
    ids=["kcompactd", "direct-async"],
)
def test_v618_fast_isolation_takes_the_rest_of_the_pageblock_except_in_async_direct(cc, isolated):
    """§2.6: fast_isolate_around() isolates the rest of the found page's pageblock,
    except in ASYNC direct compaction. The highest candidate (3080) is met first."""
    sim = fast_sim([3072, 3080])
    control = cc()
    control.nr_migratepages = 32
    sim.c.isolate_freepages(control)
    assert sorted(control.freepages_618[2]) == isolated
    assert control.nr_freepages == 4 * len(isolated)


# -- the linear free scanner: stride and skip bits (§2.6, §2.11) ----------------------------
# Zone of 8 blocks; block 0 free (watermark headroom, below the scan: low_pfn = 512);
# block 7 holds free order-0 pages at 3584 and 3586; blocks 1..6 hold no free page.


def stride_sim(profile):
    spans = [(0, 512), (3584, 1), (3586, 1)]
    sim = make_sim(anon_except(4096, spans), pages=4096, profile=profile)
    cc = CompactControl(0, -1, MIGRATE_ASYNC, MIGRATE_MOVABLE, "direct", direct=True)
    cc.migrate_pfn, cc.free_pfn = 0, 3584
    cc.nr_migratepages = 32  # never reached: every block from 7 down to 1 is scanned
    return sim, cc


def test_v618_async_free_scanner_stride_starts_at_32_drops_to_1_and_doubles():
    """§2.6 6.18: stride COMPACT_CLUSTER_MAX under ASYNC; 1 after a block that yields
    pages, else doubled up to 32. A block with no free page scanned at stride s counts
    512/s pfns. Order -1 keeps fast_isolate_freepages() (order > 0 only) out of the way."""
    sim, cc = stride_sim("v6.18")
    sim.c.isolate_freepages(cc)
    lines = trace_events(sim, "mm_compaction_isolate_freepages")
    assert lines == [
        "range=(0xe00 ~ 0x1000) nr_scanned=16 nr_taken=1",  # stride 32: 3586 is stepped over
        "range=(0xc00 ~ 0xe00) nr_scanned=512 nr_taken=0",  # stride 1
        "range=(0xa00 ~ 0xc00) nr_scanned=256 nr_taken=0",  # 2
        "range=(0x800 ~ 0xa00) nr_scanned=128 nr_taken=0",  # 4
        "range=(0x600 ~ 0x800) nr_scanned=64 nr_taken=0",  # 8
        "range=(0x400 ~ 0x600) nr_scanned=32 nr_taken=0",  # 16
        "range=(0x200 ~ 0x400) nr_scanned=16 nr_taken=0",  # 32, the cap
    ]
    assert sim.k.mem.kind[3586] == K_FREE and sim.k.mem.kind[3584] == K_TARGET


def test_v48_async_free_scanner_visits_every_pfn():
    """§2.6 4.8: no stride; isolate_freepages_block() counts every pfn it visits."""
    sim, cc = stride_sim("v4.8")
    sim.c.isolate_freepages(cc)
    lines = trace_events(sim, "mm_compaction_isolate_freepages")
    assert lines[0] == "range=(0xe00 ~ 0x1000) nr_scanned=512 nr_taken=2"
    assert lines[1:] == [
        f"range=({s:#x} ~ {s + 512:#x}) nr_scanned=512 nr_taken=0" for s in range(3072, 511, -512)
    ]


@pytest.mark.parametrize(
    ("profile", "skipped"),
    [
        ("v6.18", [1, 2, 3, 4, 5, 6, 7]),  # every block whose end was reached
        ("v4.8", [1, 2, 3, 4, 5, 6]),  # block 7 gave two pages: no skip bit
    ],
)
def test_free_scanner_skip_bit_at_every_block_end_in_v618_only_when_empty_in_v48(profile, skipped):
    """§2.11: 6.18's free scanner sets the skip bit whenever it reaches a block's end;
    4.8 only when the fully scanned block gave nothing (§2.6)."""
    sim, cc = stride_sim(profile)
    sim.c.isolate_freepages(cc)
    assert [b for b in range(8) if sim.k.mem.pb_skip[b]] == skipped


@pytest.mark.parametrize("profile", ["v4.8", "v6.18"])
def test_free_scanner_stopping_inside_a_block_sets_no_skip_bit(profile):
    """§2.6 / §2.11: isolation stops once nr_freepages >= nr_migratepages; a block whose
    end was not reached keeps its skip bit clear in both profiles."""
    sim, cc = stride_sim(profile)
    cc.mode = MIGRATE_SYNC
    cc.nr_migratepages = 1
    sim.c.isolate_freepages(cc)
    assert trace_events(sim, "mm_compaction_isolate_freepages") == [
        "range=(0xe00 ~ 0xe01) nr_scanned=1 nr_taken=1"
    ]
    assert not sim.k.mem.pb_skip.any()


# -- __isolate_free_page() watermark (§2.6) -------------------------------------------------
# Free: 200 order-0 pages (even pfns 0..398) and one order-3 block at 2040: 208 pages.
# Isolating the order-3 block needs free > mark + 8: mark = min in 6.18, low in 4.8.


def watermark_sim(profile, wmark_min, wmark_low):
    spans = [(p, 1) for p in range(0, 400, 2)] + [(2040, 8)]
    sim = make_sim(anon_except(2048, spans), profile=profile)
    z = sim.k.mem.zones[0]
    assert z.nr_free_pages == 208 and z.nr_free(3) == 1
    z.wmark_min, z.wmark_low = wmark_min, wmark_low
    return sim


@pytest.mark.parametrize(
    ("profile", "wmark_min", "wmark_low", "isolated"),
    [
        ("v6.18", 150, 200, 8),  # 208 > 150 + 8: low (200 + 8 = 208) is not consulted
        ("v6.18", 199, 199, 8),  # 208 > 199 + 8
        ("v6.18", 200, 200, 0),  # 208 <= 200 + 8
        ("v4.8", 150, 200, 0),  # 208 <= 200 + 8: min is not consulted
        ("v4.8", 150, 199, 8),  # 208 > 199 + 8
    ],
)
def test_isolating_a_free_block_checks_min_in_v618_and_low_in_v48(
    profile, wmark_min, wmark_low, isolated
):
    """§2.6: __isolate_free_page() fails if the order-0 watermark low + 2^order (4.8),
    min + 2^order (6.18) would break; __zone_watermark_ok fails if free <= mark (§3.5)."""
    sim = watermark_sim(profile, wmark_min, wmark_low)
    assert sim.k.mem.isolate_free_page(2040, 3) == isolated
    assert sim.k.mem.zones[0].nr_free(3) == (0 if isolated else 1)


@pytest.mark.parametrize(
    ("profile", "line"),
    [
        # stride 1 (SYNC): 1536..2040 visited, the block taken whole (6.18 counts its tail)
        ("v6.18", "range=(0x600 ~ 0x800) nr_scanned=512 nr_taken=8"),
        # the isolation fails at the head 2040: the block scan stops there
        ("v4.8", "range=(0x600 ~ 0x7f8) nr_scanned=505 nr_taken=0"),
    ],
)
def test_free_scanner_isolates_with_min_below_low_only_in_v618(profile, line):
    """§2.6: with min 150 and low 200, 208 free pages allow an order-3 target in 6.18
    (208 > 158) but not in 4.8 (208 <= 208), where the scan of that block stops."""
    sim = watermark_sim(profile, 150, 200)
    cc = CompactControl(0, -1, MIGRATE_SYNC, MIGRATE_UNMOVABLE, "compact_memory")
    cc.migrate_pfn, cc.free_pfn = 0, 1536
    cc.nr_migratepages = 8
    sim.c.isolate_freepages(cc)
    assert trace_events(sim, "mm_compaction_isolate_freepages") == [line]
    assert cc.nr_freepages == (8 if profile == "v6.18" else 0)
    assert (sim.k.mem.kind[2040:2048] == K_TARGET).all() == (profile == "v6.18")
    assert sim.k.mem.kind[2039] == K_ANON
