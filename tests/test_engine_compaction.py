"""compact_zone() and its scanners (kernel-spec §2)."""

import pytest

from simulator.check import check_invariants, tokens
from simulator.compaction import CompactControl, scanners_met
from simulator.constants import (
    COMPACT_CONTINUE,
    COMPACT_SKIPPED,
    COMPACT_SUCCESS,
    F_ISOLATED,
    K_ANON,
    K_FREE,
    MIGRATE_ASYNC,
    MIGRATE_MOVABLE,
    MIGRATE_SYNC,
    MIGRATE_SYNC_LIGHT,
    MIGRATE_UNMOVABLE,
)
from tests.engine_helpers import cc_for, make_sim, run_to_end, trace_events

PROFILES = ["v4.8", "v6.18"]


@pytest.mark.parametrize("profile,scanned", [("v4.8", 33), ("v6.18", 48)])
def test_migrate_scanner_skips_free_blocks_counting_them_per_profile(profile, scanned):
    """§2.5: PageBuddy skips 2^order-1 pfns; 4.8 counts only the head, 6.18 the whole block."""
    sim = make_sim(
        [{"start": 0, "count": 16, "kind": "anon"}, {"start": 32, "count": 480, "kind": "anon"}],
        profile=profile,
    )
    cc = cc_for(sim, ignore_skip_hint=True)
    sim.c.isolate_migratepages(cc)
    line = trace_events(sim, "mm_compaction_isolate_migratepages")[0]
    assert line == f"range=(0x0 ~ 0x30) nr_scanned={scanned} nr_taken=32"
    assert cc.nr_migratepages == 32 and cc.migrate_pfn == 0x30


def test_isolated_pages_are_queued_newest_first():
    """§2.5: list_add() at the head of cc->migratepages."""
    sim = make_sim([{"start": 0, "count": 512, "kind": "anon"}])
    cc = cc_for(sim, ignore_skip_hint=True)
    sim.c.isolate_migratepages(cc)
    assert cc.migratepages == list(range(31, -1, -1))
    assert all(sim.k.mem.flags[p] & F_ISOLATED for p in range(32))


@pytest.mark.parametrize("profile", PROFILES)
def test_compound_pages_are_skipped_as_failures(profile):
    """§2.5: PageCompound skips 2^order-1 pfns and is a failure."""
    sim = make_sim(
        [
            {"start": 512, "count": 512, "kind": "compound", "order": 9},
            {"start": 1024, "count": 10, "kind": "anon"},
        ],
        profile=profile,
    )
    cc = cc_for(sim, ignore_skip_hint=True)
    cc.migrate_pfn = 512
    cc.free_pfn = 1536
    first = sim.c.isolate_migratepages(cc)
    lines = trace_events(sim, "mm_compaction_isolate_migratepages")
    if profile == "v4.8":
        # one block per call: the compound block is scanned (head counted once) and yields nothing
        assert first == 1  # ISOLATE_NONE
        assert lines[0] == "range=(0x200 ~ 0x400) nr_scanned=1 nr_taken=0"
        sim.c.isolate_migratepages(cc)
    else:
        # 6.18: a compound page of order >= pageblock_order makes the block a persistent skip
        assert lines[0] == "range=(0x400 ~ 0x600) nr_scanned=512 nr_taken=10"
    assert cc.nr_migratepages == 10


def test_v618_skips_both_pageblocks_of_an_order10_compound_page_as_persistent():
    """§2.4/§2.5 6.18: suitable_migration_source() passes over a pageblock for which
    pageblock_skip_persistent() holds: its first page's compound_head() has order >=
    pageblock_order. For an order-10 page that is its second pageblock too (whose first
    page is a tail), so the scan goes from 0 straight to the anon pages at 1024."""
    sim = make_sim(
        [
            {"start": 0, "count": 1024, "kind": "compound", "order": 10},
            {"start": 1024, "count": 10, "kind": "anon"},
        ],
        profile="v6.18",
    )
    cc = cc_for(sim, ignore_skip_hint=True)
    cc.free_pfn = 1536
    sim.c.isolate_migratepages(cc)
    lines = trace_events(sim, "mm_compaction_isolate_migratepages")
    assert lines == ["range=(0x400 ~ 0x600) nr_scanned=512 nr_taken=10"]
    assert cc.nr_migratepages == 10


def test_an_already_isolated_driver_page_is_skipped_without_calling_the_driver():
    """§2.5: '!PageLRU: if __PageMovable && !PageIsolated -> isolate_movable_page'."""
    sim = make_sim(drivers=[{"name": "d", "pages": 4, "placement": "range", "range": [0, 4]}])
    sim.k.mem.flags[1] |= F_ISOLATED
    drv = sim.k.drivers[0]
    cc = cc_for(sim, ignore_skip_hint=True)
    sim.c.isolate_migratepages(cc)
    assert drv.isolated == 3
    assert sorted(cc.migratepages) == [0, 2, 3]


def _free_scanner_sim(profile, free_top):
    # blocks 1..6 free (so watermarks hold), block 7 anon except `free_top` (start, count)
    start, count = free_top
    ranges = [
        {"start": 0, "count": 512, "kind": "anon"},
        {"start": 3584, "count": start - 3584, "kind": "anon"},
    ]
    ranges.append({"start": start + count, "count": 4096 - start - count, "kind": "anon"})
    sim = make_sim(ranges, pages=4096, profile=profile)
    cc = cc_for(sim)
    cc.migrate_pfn = 0
    cc.free_pfn = 3584
    return sim, cc


def test_v48_free_scanner_hands_out_the_highest_pfn_of_the_last_block_first():
    """§2.6 4.8: map_pages() list_add()s every subpage, so the list is in reverse pfn order."""
    sim, cc = _free_scanner_sim("v4.8", (3592, 8))
    cc.nr_migratepages = 4
    assert sim.c.compaction_alloc(cc) == 3599
    assert sim.c.compaction_alloc(cc) == 3598


def test_v618_free_scanner_hands_out_ascending_pfns():
    """§2.6 6.18: blocks kept per order and split on demand: ascending from the lowest pfn."""
    sim, cc = _free_scanner_sim("v6.18", (3592, 8))
    cc.nr_migratepages = 4
    got = [sim.c.compaction_alloc(cc) for _ in range(4)]
    assert got == [3592, 3593, 3594, 3595]


def test_free_scanner_stops_once_it_has_as_many_pages_as_were_isolated():
    """§2.6: isolate_freepages_block stops as soon as nr_freepages >= nr_migratepages."""
    sim, cc = _free_scanner_sim("v4.8", (3588, 12))  # order-2 block at 3588, order-3 at 3592
    cc.nr_migratepages = 2
    sim.c.isolate_freepages(cc)
    assert cc.nr_freepages == 4
    assert sim.k.mem.kind[3592] == K_FREE
    assert (
        trace_events(sim, "mm_compaction_isolate_freepages")[0]
        == "range=(0xe00 ~ 0xe08) nr_scanned=5 nr_taken=4"
    )


def test_scanners_meet_when_the_free_pageblock_is_at_or_below_the_migrate_one():
    """§2.6: (free_pfn >> pageblock_order) <= (migrate_pfn >> pageblock_order)."""
    cc = CompactControl(0, -1, MIGRATE_SYNC, 0, "compact_memory")
    cc.migrate_pfn, cc.free_pfn = 1000, 1024
    assert not scanners_met(cc)
    cc.migrate_pfn, cc.free_pfn = 1030, 1024
    assert scanners_met(cc)
    cc.migrate_pfn, cc.free_pfn = 1023, 1024
    assert not scanners_met(cc)


@pytest.mark.parametrize("profile", PROFILES)
def test_deferral_skips_two_to_the_k_minus_one_attempts_after_k_failures(profile):
    """§2.10: after k failures (k <= 6) the next 2^k - 1 attempts are skipped."""
    sim = make_sim([{"start": 0, "count": 1, "kind": "anon"}], profile=profile)
    z = sim.k.mem.zones[0]
    c = sim.c
    for k in range(1, 8):
        c.defer_compaction(z, 9)
        skipped = 0
        while c.compaction_deferred(z, 9):
            skipped += 1
        assert skipped == (1 << min(k, 6)) - 1
    # §2.1: compact_order_failed starts at 0, and defer_compaction() keeps
    # min(order_failed, order) = min(0, 9): the failures never raise it
    assert z.compact_order_failed == 0
    c.compaction_defer_reset(z, 9, True)
    assert not c.compaction_deferred(z, 9) and z.compact_defer_shift == 0
    assert z.compact_order_failed == 10
    assert not c.compaction_deferred(z, 3)  # order below order_failed is never deferred


def test_defer_lowers_order_failed_and_restart_needs_a_full_cycle():
    """§2.10: order_failed = min(order_failed, order); restarting at shift 6 with 64 considered."""
    sim = make_sim([{"start": 0, "count": 1, "kind": "anon"}])
    z = sim.k.mem.zones[0]
    c = sim.c
    z.compact_order_failed = 10
    c.defer_compaction(z, 4)
    assert z.compact_order_failed == 4
    for _ in range(6):
        c.defer_compaction(z, 4)
    assert z.compact_defer_shift == 6
    assert not c.compaction_restarting(z, 4)
    while c.compaction_deferred(z, 4):
        pass
    assert c.compaction_restarting(z, 4)


@pytest.mark.parametrize("profile", PROFILES)
def test_suitability_needs_order0_headroom_of_twice_the_request(profile):
    """§2.8: order-0 watermark + (2 << order) must hold, otherwise SKIPPED."""
    # 2048 pages, only 300 free scattered as order-0 pages: no order-9 block
    ranges = [{"start": p, "count": 1, "kind": "anon"} for p in range(0, 600, 2)] + [
        {"start": 600, "count": 1448, "kind": "anon"}
    ]
    sim = make_sim(ranges, profile=profile)
    z = sim.k.mem.zones[0]
    assert z.nr_free_pages == 300
    assert sim.c.compaction_suitable(z, 9, "low") == COMPACT_SKIPPED  # 300 < low + 1024
    assert sim.c.compaction_suitable(z, 0, "low") == COMPACT_SUCCESS  # order 0 is already free


def test_v48_applies_the_fragindex_threshold_to_every_order_and_v618_only_to_costly_ones():
    """§2.8: 0 <= fragindex <= extfrag_threshold -> not suitable; 6.18 only for order > 3."""
    # 3072 free pages in 1536 order-1 blocks (§4.2, integer divisions):
    # fragindex(2) = 1000 - (1000 + 3072*1000/4)/1536 = 1000 - 769000/1536 = 1000 - 500 = 500
    ranges = [{"start": p, "count": 2, "kind": "anon"} for p in range(0, 6144, 4)]
    for profile, expect in (("v4.8", COMPACT_SKIPPED), ("v6.18", COMPACT_CONTINUE)):
        sim = make_sim(ranges, pages=6144, profile=profile)
        z = sim.k.mem.zones[0]
        assert sim.c.fragindex(z, 2) == 500
        assert sim.c.compaction_suitable(z, 2, "low") == expect
        line = trace_events(sim, "mm_compaction_suitable")[-1]
        assert line.endswith("not_suitable_zone" if profile == "v4.8" else "continue")


def test_proactive_watermarks_per_proactiveness():
    """§2.13 6.18: low = 100 - p; leeway = min(10, low/2); high = min(low + leeway, 100)."""
    sim = make_sim([{"start": 0, "count": 1, "kind": "anon"}])
    for p, low, high in ((20, 80, 90), (95, 5, 7), (0, 100, 100), (60, 40, 50)):
        sim.k.sysctl["compaction_proactiveness"] = p
        assert (sim.c.score_wmark(True), sim.c.score_wmark(False)) == (low, high)


def test_fragmentation_score_is_weighted_by_zone_size():
    """§2.13: weighted = present * score / (node_present + 1), summed over zones."""
    zones = [{"name": "DMA32", "pages": 1024}, {"name": "Normal", "pages": 3072}]
    ranges = [{"start": p, "count": 1, "kind": "anon"} for p in range(0, 4096, 2)]
    sim = make_sim(ranges, zones=zones)
    scores = [sim.c.fragmentation_score_zone(z) for z in sim.k.mem.zones]
    assert scores == [100, 100]  # only order-0 free pages: nothing suitable at order 9
    assert sim.c.fragmentation_score_node() == 1024 * 100 // 4097 + 3072 * 100 // 4097


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("pcp", ["off", "simple"])
def test_compact_memory_moves_movable_pages_up_and_frees_high_order_blocks(profile, pcp):
    """§2.2 compact_memory: order -1, SYNC, until the scanners meet: COMPLETE."""
    ranges = [{"start": p, "count": 1, "kind": "anon"} for p in range(0, 4096, 3)]
    sim = make_sim(
        ranges,
        pages=4096,
        profile=profile,
        pcp=pcp,
        timeline=[{"at_ms": 0, "action": "compact_memory"}],
    )
    before = tokens(sim)
    z = sim.k.mem.zones[0]
    order9_before = z.nr_free(9) + 2 * z.nr_free(10)
    run_to_end(sim)
    assert check_invariants(sim) == []
    assert (tokens(sim) == before).all()
    assert sim.metrics()["compact_outcomes"] == {"complete": 1}
    sim.k.mem.drain_pcp(z)
    assert z.nr_free(9) + 2 * z.nr_free(10) > order9_before
    ends = trace_events(sim, "mm_compaction_end")
    assert ends[-1].endswith("mode=sync status=complete")
    # counters agree with the trace
    taken = sum(
        int(line.rsplit("nr_taken=", 1)[1]) for line in sim.k.trace_lines if "isolate_" in line
    )
    assert sim.k.vmstat["compact_isolated"] == taken
    ok = sum(
        int(line.split("nr_succeeded=")[1].split()[0])
        for line in trace_events(sim, "mm_migrate_pages")
    )
    assert sim.k.vmstat["pgmigrate_success"] == ok > 0


def test_v618_compact_memory_accepts_only_one():
    """§2.2 / §2.14: 6.18 returns -EINVAL for any value other than 1; 4.8 accepts any."""
    sim = make_sim(
        [{"start": 0, "count": 100, "kind": "anon"}],
        timeline=[{"at_ms": 0, "action": "sysctl", "name": "compact_memory", "value": 2}],
    )
    run_to_end(sim)
    assert sim.k.vmstat["compact_migrate_scanned"] == 0
    sim48 = make_sim(
        [{"start": 0, "count": 100, "kind": "anon"}],
        profile="v4.8",
        timeline=[{"at_ms": 0, "action": "sysctl", "name": "compact_memory", "value": 2}],
    )
    run_to_end(sim48)
    assert sim48.k.vmstat["compact_migrate_scanned"] > 0


def test_v48_direct_async_skips_non_movable_blocks():
    """§2.4 4.8: in ASYNC mode blocks that are not MOVABLE or CMA are skipped."""
    sim = make_sim(
        [
            {"start": 0, "count": 400, "kind": "unmovable"},
            {"start": 400, "count": 112, "kind": "anon"},
            {"start": 512, "count": 100, "kind": "anon"},
        ],
        profile="v4.8",
    )
    assert sim.k.mem.pb_mt[0] == MIGRATE_UNMOVABLE
    cc = cc_for(
        sim, mode=MIGRATE_ASYNC, order=9, direct=True, source="direct", migratetype=MIGRATE_MOVABLE
    )
    sim.c.isolate_migratepages(cc)
    assert min(cc.migratepages) >= 512


def test_v48_sets_the_skip_bit_on_a_block_with_nothing_to_isolate():
    """§2.5 4.8 step 4 / §2.11: a fully scanned block with no isolation gets PB_migrate_skip."""
    sim = make_sim(
        [
            {"start": 0, "count": 512, "kind": "unmovable"},
            {"start": 512, "count": 10, "kind": "anon"},
        ],
        profile="v4.8",
    )
    cc = cc_for(sim, mode=MIGRATE_SYNC_LIGHT, order=9, source="kcompactd")
    sim.c.isolate_migratepages(cc)
    assert sim.k.mem.pb_skip[0]
    assert not sim.k.mem.pb_skip[1]


def test_v618_sets_the_skip_bit_even_with_ignore_skip_hint():
    """§2.5 6.18: only no_set_skip_hint suppresses the end-of-block skip bit."""
    sim = make_sim(
        [
            {"start": 0, "count": 512, "kind": "unmovable"},
            {"start": 512, "count": 10, "kind": "anon"},
        ],
        profile="v6.18",
    )
    cc = cc_for(sim, ignore_skip_hint=True)
    sim.c.isolate_migratepages(cc)
    assert sim.k.mem.pb_skip[0]


def test_direct_compaction_counts_a_stall_and_its_outcome():
    """§2.15: compact_stall, then compact_success or compact_fail after the freelist retry."""
    sim = make_sim(
        [{"start": p, "count": 1, "kind": "anon"} for p in range(0, 8192, 4)],
        pages=8192,
        profile="v4.8",
        timeline=[{"at_ms": 0, "action": "alloc_high_order", "order": 9, "count": 1}],
    )
    run_to_end(sim)
    v = sim.k.vmstat
    assert v["compact_stall"] >= 1
    assert v["compact_success"] + v["compact_fail"] == v["compact_stall"]
    assert v["compact_success"] == 1
    assert trace_events(sim, "mm_compaction_try_to_compact_pages")[0].startswith("order=9 ")


def test_kcompactd_wakes_for_a_failed_high_order_allocation():
    """§2.12: wakeup_kcompactd raises max_order; kcompactd_do_work counts compact_daemon_wake."""
    sim = make_sim(
        [{"start": p, "count": 1, "kind": "anon"} for p in range(0, 8192, 4)],
        pages=8192,
        timeline=[{"at_ms": 0, "action": "kcompactd_wake", "order": 9}],
    )
    run_to_end(sim)
    assert sim.k.vmstat["compact_daemon_wake"] == 1
    assert trace_events(sim, "mm_compaction_kcompactd_wake")[0].startswith("nid=0 order=9")
    assert sim.k.vmstat["compact_daemon_migrate_scanned"] > 0


def test_proactive_compaction_runs_when_the_score_is_above_the_high_watermark():
    """§2.13: kcompactd's 500 ms timer starts proactive compaction while score > wmark_high."""
    ranges = [{"start": p, "count": 1, "kind": "anon"} for p in range(0, 8192, 2)]
    sim = make_sim(
        ranges,
        pages=8192,
        timeline=[
            {"at_ms": 0, "action": "sysctl", "name": "compaction_proactiveness", "value": 50}
        ],
    )
    # 4096 free order-0 pages: zone score 100, node score 8192*100/8193 = 99 > wmark_high 60
    assert sim.c.fragmentation_score_node() == 99
    run_to_end(sim)
    assert sim.k.vmstat["compact_daemon_migrate_scanned"] > 0
    # Each pageblock the migrate scanner empties (256 anon moved into the 256 free pages of
    # a top block) becomes a free order-9 block: the zone score after s of them is
    # (4096 - 512*s)*100/4096, first <= wmark_low 50 at s = 4, so the run stops there
    # (§2.7 6.18 step 2) with the migrate scanner at block 4 and a node score of
    # 8192*50/8193 = 49. The score went down, so no 32 s back-off (§2.12) and no second
    # run (49 <= 60).
    z = sim.k.mem.zones[0]
    assert sim.c.fragmentation_score_zone(z) == 50
    assert sim.c.fragmentation_score_node() == 49
    assert sim.proactive_defer == 0
    assert sim.metrics()["compact_outcomes"] == {"success": 1}
    assert trace_events(sim, "mm_compaction_end")[0].startswith("zone_start=0x0 migrate_pfn=0x800 ")


def test_v618_direct_compaction_captures_a_freed_block_of_the_requested_order():
    """§3.2 compaction_capture(): a page freed during direct compaction that merges to
    exactly cc->order goes to the compactor, and counts as compact_success (§2.15)."""
    sim = make_sim(
        [{"start": p, "count": 1, "kind": "anon"} for p in range(0, 8192, 4)],
        pages=8192,
        profile="v6.18",
        pcp="off",
        timeline=[{"at_ms": 0, "action": "alloc_high_order", "order": 4, "count": 1}],
    )
    captured = []
    orig = sim.k.mem._capture

    def spy(pfn, order, mt, want):
        ok = orig(pfn, order, mt, want)
        if ok:
            captured.append((pfn, order))
        return ok

    sim.k.mem._capture = spy
    run_to_end(sim)
    assert len(captured) == 1 and captured[0][1] == 4
    pfn = captured[0][0]
    assert pfn % 16 == 0 and (sim.k.mem.kind[pfn : pfn + 16] == K_ANON).all()
    assert sim.k.vmstat["compact_success"] == 1 and sim.k.vmstat["compact_stall"] == 1
    assert check_invariants(sim) == []


def test_v48_has_no_capture():
    sim = make_sim(
        [{"start": p, "count": 1, "kind": "anon"} for p in range(0, 8192, 4)],
        pages=8192,
        profile="v4.8",
        pcp="off",
        timeline=[{"at_ms": 0, "action": "alloc_high_order", "order": 4, "count": 1}],
    )
    run_to_end(sim)
    assert sim.k.mem.captured == -1 and sim.k.vmstat["compact_success"] == 1


def _two_hundred_free_order0_pages(profile, wmark_min, wmark_low, timeline=None):
    """2048 pages, free only at the even pfns 0..398: 200 free order-0 pages, no block of
    order >= 1, so the order-N watermark check fails and the order-0 headroom decides.
    fragindex(3) = 1000 - (1000 + 200*1000/8)/200 = 870 and fragindex(4) =
    1000 - (1000 + 200*1000/16)/200 = 933, both above extfrag_threshold 500 (§4.2)."""
    ranges = [{"start": p, "count": 1, "kind": "anon"} for p in range(1, 400, 2)]
    ranges.append({"start": 400, "count": 1648, "kind": "anon"})
    sim = make_sim(ranges, profile=profile, timeline=timeline)
    z = sim.k.mem.zones[0]
    assert z.nr_free_pages == 200 and z.nr_free(0) == 200
    z.wmark_min, z.wmark_low = wmark_min, wmark_low
    return sim, z


@pytest.mark.parametrize(
    ("profile", "wmark", "order", "wmark_min", "wmark_low", "expect"),
    [
        # 6.18, costly order 4 with the direct compactor's min watermark: free must exceed
        # min + (2 << 4) + (low - min). 100 + 32 + 68 = 200: at the threshold, skipped,
        # although min + 32 = 132 alone would pass
        ("v6.18", "min", 4, 100, 168, COMPACT_SKIPPED),
        ("v6.18", "min", 4, 100, 167, COMPACT_CONTINUE),  # 199: one page below
        # 6.18, order 3 is not costly: min + (2 << 3) only; low does not count
        ("v6.18", "min", 3, 184, 250, COMPACT_SKIPPED),  # 184 + 16 = 200
        ("v6.18", "min", 3, 183, 250, COMPACT_CONTINUE),  # 199
        # 4.8: low + (2 << order) for every order; min does not count
        ("v4.8", "low", 4, 10, 168, COMPACT_SKIPPED),  # 168 + 32 = 200
        ("v4.8", "low", 4, 10, 167, COMPACT_CONTINUE),  # 199, fragindex 933 > 500
        ("v4.8", "low", 3, 10, 184, COMPACT_SKIPPED),  # 184 + 16 = 200
        ("v4.8", "low", 3, 10, 183, COMPACT_CONTINUE),  # 199, fragindex 870 > 500
    ],
)
def test_suitability_order0_headroom_at_the_exact_threshold(
    profile, wmark, order, wmark_min, wmark_low, expect
):
    """§2.8: SKIPPED unless the order-0 watermark holds, i.e. free > threshold (§3.5
    fails on free <= mark). 4.8: low + (2 << order). 6.18: wmark + compact_gap(order),
    plus (low - min) for order > 3; direct compaction's wmark is min."""
    sim, z = _two_hundred_free_order0_pages(profile, wmark_min, wmark_low)
    assert sim.c.compaction_suitable(z, order, wmark) == expect
    ret = "skipped" if expect == COMPACT_SKIPPED else "continue"
    assert trace_events(sim, "mm_compaction_suitable") == [
        f"node=0 zone=Normal   order={order} ret={ret}"
    ]


@pytest.mark.parametrize(
    ("profile", "wmark_min", "wmark_low", "ret"),
    [
        ("v6.18", 183, 300, "continue"),  # min 183 + 16 = 199 < 200: compaction runs
        ("v6.18", 184, 300, "skipped"),  # 184 + 16 = 200
        ("v4.8", 10, 183, "continue"),  # low 183 + 16 = 199 < 200
        ("v4.8", 10, 184, "skipped"),  # low 184 + 16 = 200
    ],
)
def test_direct_compaction_checks_suitability_against_min_in_v618_and_low_in_v48(
    profile, wmark_min, wmark_low, ret
):
    """§2.8: 6.18 direct compaction uses the allocation's watermark, normally min; 4.8's
    __compaction_suitable() always uses low. An order-3 allocation with 200 free order-0
    pages, at the exact order-0 threshold of each profile's watermark."""
    alloc = [{"at_ms": 0, "action": "alloc_high_order", "order": 3, "count": 1}]
    sim, z = _two_hundred_free_order0_pages(profile, wmark_min, wmark_low, alloc)
    z.wmark_high = 400
    run_to_end(sim)
    direct = [
        line.split(" mm_compaction_", 1)[1]
        for line in sim.k.trace_lines
        if line.lstrip().startswith("alloc-") and " mm_compaction_" in line
    ]
    assert direct[0].startswith("try_to_compact_pages: order=3 ")
    assert direct[1] == f"suitable: node=0 zone=Normal   order=3 ret={ret}"
    began = any(line.startswith("begin:") for line in direct)
    assert began == (ret == "continue")
