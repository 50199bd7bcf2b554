"""Tracepoint text after 'event: ' for compaction, deferral, kcompactd and fallback events
(kernel-spec §5), with the values worked out by hand from the layouts below.

Watermarks of the 2048-page (8 MiB) zone used throughout (§3.5): min_free_kbytes =
isqrt(8192 * 16) = 362, so min = 362 >> 2 = 90 pages; tmp = max(90 / 4, 2048 * 10 / 10000)
= 22, so low = 112.
"""

import re

import pytest

from simulator.memory import page_pointer
from tests.engine_helpers import make_sim, run_to_end, trace_events


def _every_other_page(kind: str) -> list[dict]:
    """A page of `kind` at every even pfn of the zone: 1024 free order-0 pages, no two of
    them buddies (§3.2), so no free block of order >= 1 exists."""
    return [{"start": p, "count": 1, "kind": kind} for p in range(0, 2048, 2)]


def _events(sim, *names: str) -> list[tuple[str, str]]:
    """(event, text) of the named events, in trace order."""
    out = []
    for line in sim.k.trace_lines:
        m = re.search(r"(\S+): (mm_\w+): (.*)$", line)  # the parser §5 prescribes
        if m and m.group(2) in names:
            out.append((m.group(2), m.group(3)))
    return out


# -- mm_compaction_try_to_compact_pages ---------------------------------------------------------


# 4.8 gfp.h bits: HIGHMEM 0x2, MOVABLE 0x8, RECLAIMABLE 0x10, IO 0x40, FS 0x80, NOWARN 0x200,
# COMP 0x4000, NOMEMALLOC 0x10000, HARDWALL 0x20000, DIRECT_RECLAIM 0x400000,
# KSWAPD_RECLAIM 0x2000000. GFP_TRANSHUGE = (HIGHUSER_MOVABLE | COMP | NOMEMALLOC | NOWARN)
# & ~RECLAIM | DIRECT_RECLAIM = 0x4342ca; GFP_KERNEL = RECLAIM | IO | FS = 0x24000c0.
# 6.x show_gfp_flags() takes the first matching name of mmflags.h in its order (composite
# masks, then one bit at a time from the lowest).
@pytest.mark.parametrize(
    "profile,prio,gfp_type,gfp",
    [
        ("v4.8", 1, "movable", "0x4342ca"),
        ("v4.8", 1, "unmovable", "0x24042c0"),
        ("v4.8", 1, "reclaimable", "0x24042d0"),
        ("v6.18", 2, "movable", "GFP_TRANSHUGE"),
        ("v6.18", 2, "unmovable", "GFP_KERNEL|__GFP_NOWARN|__GFP_COMP"),
        ("v6.18", 2, "reclaimable", "GFP_KERNEL|__GFP_RECLAIMABLE|__GFP_NOWARN|__GFP_COMP"),
    ],
)
def test_try_to_compact_pages_prints_gfp_mask_in_hex_in_v48_and_as_flag_names_in_v618(
    profile, prio, gfp_type, gfp
):
    """§5: 4.8 prints gfp_mask with 0x%x, 6.18 symbolically; the mask is the request's
    (its migratetype, §2.2), with direct reclaim, as any that compacts directly has.

    No free block of order >= 4 exists, so the order-4 allocation goes to direct
    compaction at the initial priority, COMPACT_PRIO_ASYNC (§2.2: 1 in 4.8, 2 in 6.18).
    """
    sim = make_sim(
        _every_other_page("anon"),
        profile=profile,
        timeline=[
            {"at_ms": 0, "action": "alloc_high_order", "order": 4, "type": gfp_type, "count": 1}
        ],
    )
    run_to_end(sim)
    lines = trace_events(sim, "mm_compaction_try_to_compact_pages")
    assert lines[0] == f"order=4 gfp_mask={gfp} priority={prio}"


# -- mm_page_alloc_extfrag ---------------------------------------------------------------------

# page=%p: the spec gives no value for the pointer, so only its shape is checked here
# (its value: test_page_pointer_is_the_struct_page_address_in_v48_and_hashed_in_v618)
_PAGE = r"page=[0-9a-f]{16} "


def assert_one_extfrag_line(ranges, profile, rest):
    """One order-0 UNMOVABLE allocation on this layout falls back once: its extfrag line
    is page=%p then `rest`."""
    sim = make_sim(
        ranges,
        profile=profile,
        timeline=[{"at_ms": 0, "action": "alloc", "count": 1, "order": 0, "type": "unmovable"}],
    )
    run_to_end(sim)
    lines = trace_events(sim, "mm_page_alloc_extfrag")
    assert len(lines) == 1
    assert re.fullmatch(_PAGE + re.escape(rest), lines[0]), lines[0]


@pytest.mark.parametrize(
    "profile,rest",
    [
        (
            "v4.8",
            "pfn=1024 alloc_order=0 fallback_order=10 pageblock_order=9 "
            "alloc_migratetype=0 fallback_migratetype=1 fragmenting=0 change_ownership=1",
        ),
        (
            "v6.18",
            "pfn=0x400 alloc_order=0 fallback_order=10 pageblock_order=9 "
            "alloc_migratetype=0 fallback_migratetype=1 fragmenting=0 change_ownership=1",
        ),
    ],
)
def test_extfrag_line_for_a_whole_block_claim_prints_pfn_decimal_in_v48_hex_in_v618(profile, rest):
    """§5 mm_page_alloc_extfrag: 4.8 'pfn=%lu', 6.18 'pfn=0x%lx'.

    pfns 0..1023 are anon (two MOVABLE pageblocks), 1024..2047 one free order-10 block on
    the MOVABLE list. An order-0 UNMOVABLE request has no UNMOVABLE page, so the fallback
    (§3.4; 4.8 search from order 10 down, 6.18 CLAIM from order 10 down) takes the order-10
    block and, its order being >= pageblock_order, retypes both pageblocks it covers:
    change_ownership = 1, fragmenting = (10 < 9) = 0. expand() keeps the lowest page
    (§3.3), pfn 1024 = 0x400.
    """
    assert_one_extfrag_line([{"start": 0, "count": 1024, "kind": "anon"}], profile, rest)


@pytest.mark.parametrize(
    "profile,rest",
    [
        # 4.8 __rmqueue_fallback: the largest fallback block first, the order-7 one at 128
        (
            "v4.8",
            "pfn=128 alloc_order=0 fallback_order=7 pageblock_order=9 "
            "alloc_migratetype=0 fallback_migratetype=1 fragmenting=1 change_ownership=0",
        ),
        # 6.18: CLAIM fails, then STEAL takes the smallest block, the order-6 one at 64
        (
            "v6.18",
            "pfn=0x40 alloc_order=0 fallback_order=6 pageblock_order=9 "
            "alloc_migratetype=0 fallback_migratetype=1 fragmenting=1 change_ownership=0",
        ),
    ],
)
def test_extfrag_line_for_a_fragmenting_fallback_per_profile(profile, rest):
    """§5 mm_page_alloc_extfrag with fragmenting=1 and change_ownership=0, per profile.

    Only pfns 64..255 are free: an order-6 block at 64 and an order-7 block at 128, both in
    MOVABLE pageblock 0, whose other 320 pages are anon. 192 free pages > low watermark
    112, so an order-0 UNMOVABLE request may fall back (§3.4):
    4.8 searches from order 10 down and takes the order-7 block; move_freepages_block moves
    192 < 256 pages, so the block stays MOVABLE.
    6.18 CLAIM: free 192 + alike (512 - 192 free - 320 movable = 0) < 256 at order 7 and
    again at order 6, so nothing is claimed; STEAL then takes the smallest fallback block
    from the request order up, the order-6 one, without retyping.
    Either way the block type stays MOVABLE (change_ownership = 0) and fallback_order < 9
    (fragmenting = 1); expand() hands out the lowest page of the block (§3.3).
    """
    anon = [
        {"start": 0, "count": 64, "kind": "anon"},
        {"start": 256, "count": 1792, "kind": "anon"},
    ]
    assert_one_extfrag_line(anon, profile, rest)


# -- mm_compaction_migratepages ------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["v4.8", "v6.18"])
def test_migratepages_line_counts_permanently_failed_pages_as_failed(profile):
    """§5 'nr_migrated=%lu nr_failed=%lu'.

    compact_memory (SYNC). Block 0 holds 4 driver pages that always return -EBUSY (pfns
    0..3) and 28 anon pages (4..31); its other pages are free. The isolated batch is those
    32 pages: COMPACT_CLUSTER_MAX in 4.8 (§2.5), the whole pageblock in 6.18, where the
    first iteration has finish_pageblock set (§2.3). Block 3 has anon pages at even pfns,
    so its 256 free order-0 pages are the targets (§2.6). The 28 anon pages move; the 4
    driver pages fail permanently (6.18 retries them once in the sync phase, §1.5).
    4.8: nr_failed = migrate rc = 4, nr_migrated = 32 - 4; 6.18: nr_migrated =
    nr_succeeded = 28, nr_failed = 32 - 28. Afterwards the migrate scanner finds nothing
    else to isolate before it meets the free scanner, so there is one such line.
    """
    sim = make_sim(
        [{"start": 4, "count": 28, "kind": "anon"}]
        + [{"start": p, "count": 1, "kind": "anon"} for p in range(1536, 2048, 2)],
        profile=profile,
        drivers=[
            {
                "name": "d",
                "pages": 4,
                "placement": "range",
                "range": [0, 4],
                "migrate": {"EBUSY": 1.0},
            }
        ],
        timeline=[{"at_ms": 0, "action": "compact_memory"}],
    )
    run_to_end(sim)
    assert trace_events(sim, "mm_compaction_migratepages") == ["nr_migrated=28 nr_failed=4"]


@pytest.mark.parametrize("profile", ["v4.8", "v6.18"])
def test_migratepages_line_after_enomem_counts_every_page_still_on_the_list(profile):
    """§5: after -ENOMEM, 4.8 counts the pages left on the list and 6.18 uses
    nr_migratepages - nr_succeeded; both give 32, while mm_migrate_pages says 1.

    pfns 0..31 are anon; the free pages 32..2047 form buddies of orders 5..10 at 32, 64,
    128, 256, 512 and 1024 (§3.2). The free scanner (§2.6) scans pageblock 0x600, a tail
    of the order-10 block with no PageBuddy head in it, and rejects 0x400 and 0x200, whose
    first pages are free blocks of order >= pageblock_order. compaction_alloc() returns
    NULL, so migrate_pages() stops with -ENOMEM at the first page: 4.8 (§1.3) and 6.18
    (§1.5) both count 1 failure, and all 32 pages are still on cc->migratepages.
    """
    sim = make_sim(
        [{"start": 0, "count": 32, "kind": "anon"}],
        profile=profile,
        timeline=[{"at_ms": 0, "action": "compact_memory"}],
    )
    run_to_end(sim)
    assert trace_events(sim, "mm_compaction_migratepages") == ["nr_migrated=0 nr_failed=32"]
    assert trace_events(sim, "mm_migrate_pages")[0].startswith("nr_succeeded=0 nr_failed=1 ")


# -- kcompactd wake-up and deferral ------------------------------------------------------------


@pytest.mark.parametrize("profile", ["v4.8", "v6.18"])
def test_kcompactd_wake_lines_print_nid_order_and_padded_zone_name(profile):
    """§5 'nid=%d order=%d classzone_idx=%-8s' for both wake events, in both profiles.

    1024 free order-0 pages: fragindex(4) = 1000 - (1000 + 1024000/16)/1024 = 937 > 500
    (§4.2), and the order-0 check (4.8 low 112 + 32; 6.18 min 90 + 32 + (low - min) 22)
    passes, so the zone is suitable (CONTINUE, §2.8) and the woken kcompactd runs once.
    """
    sim = make_sim(
        _every_other_page("anon"),
        profile=profile,
        timeline=[{"at_ms": 0, "action": "kcompactd_wake", "order": 4}],
    )
    run_to_end(sim)
    assert _events(sim, "mm_compaction_wakeup_kcompactd", "mm_compaction_kcompactd_wake") == [
        ("mm_compaction_wakeup_kcompactd", "nid=0 order=4 classzone_idx=Normal  "),
        ("mm_compaction_kcompactd_wake", "nid=0 order=4 classzone_idx=Normal  "),
    ]


@pytest.mark.parametrize("profile", ["v4.8", "v6.18"])
def test_deferral_lines_show_the_zone_state_after_each_update(profile):
    """§5 'node=%d zone=%-8s order=%d order_failed=%d consider=%u limit=%lu' (limit =
    1 << defer_shift), with the state after the update as §2.10 describes it.

    Unmovable pages at every even pfn: nothing can be migrated, so each kcompactd run ends
    COMPLETE and kcompactd defers (§2.12). The zone state starts at 0 (§2.1), so
    order_failed = min(0, 4) = 0 throughout. Four wake-ups, 10 ms apart:
    1. deferred? ++considered = 1 >= limit 1: no. Runs, fails: considered 0, shift 1.
    2. ++considered = 1 < limit 2: deferred.
    3. ++considered = 2 >= 2: runs, fails: considered 0, shift 2.
    4. ++considered = 1 < limit 4: deferred.
    Suitability (§2.8) is as in the wake test: fragindex(4) = 937 > 500.
    """
    sim = make_sim(
        _every_other_page("unmovable"),
        profile=profile,
        timeline=[{"at_ms": t, "action": "kcompactd_wake", "order": 4} for t in (0, 10, 20, 30)],
    )
    run_to_end(sim)
    names = (
        "mm_compaction_defer_compaction",
        "mm_compaction_deferred",
        "mm_compaction_defer_reset",
    )
    head = "node=0 zone=Normal   order=4 order_failed=0"  # zone=%-8s: 'Normal' + 2 spaces
    assert _events(sim, *names) == [
        ("mm_compaction_defer_compaction", f"{head} consider=0 limit=2"),
        ("mm_compaction_deferred", f"{head} consider=1 limit=2"),
        ("mm_compaction_defer_compaction", f"{head} consider=0 limit=4"),
        ("mm_compaction_deferred", f"{head} consider=1 limit=4"),
    ]


@pytest.mark.parametrize("profile", ["v4.8", "v6.18"])
def test_defer_reset_lines_after_direct_compaction_then_successful_allocation(profile):
    """§5 mm_compaction_defer_reset, twice, as §2.10 says a successful direct compaction
    resets: first 'the watermark is now ok' (alloc_success false), then the allocation
    itself (true).

    Direct compaction at ASYNC priority (not the minimum) checks deferral first:
    ++considered = 1 >= 1 << 0, not deferred. Compaction frees an order-4 block, so
    defer_reset(false): order_failed = 4 + 1 = 5, considered stays 1, shift 0 (limit 1).
    The allocation succeeds: defer_reset(true) zeroes considered and shift; order 4 <
    order_failed 5 leaves order_failed.
    """
    sim = make_sim(
        _every_other_page("anon"),
        profile=profile,
        timeline=[
            {"at_ms": 0, "action": "alloc_high_order", "order": 4, "type": "movable", "count": 1}
        ],
    )
    run_to_end(sim)
    resets = trace_events(sim, "mm_compaction_defer_reset")
    assert resets[:2] == [
        "node=0 zone=Normal   order=4 order_failed=5 consider=1 limit=1",
        "node=0 zone=Normal   order=4 order_failed=5 consider=0 limit=1",
    ]


def test_page_pointer_is_the_struct_page_address_in_v48_and_hashed_in_v618():
    """%p of a struct page: 4.8 prints the pointer, vmemmap (0xffffea0000000000 on
    x86-64 without KASLR) + pfn * sizeof(struct page) (64); 6.x hashes pointers and
    prints the top 32 bits of the 64-bit hash, so 8 zeros then 8 hex digits, the same
    pointer always giving the same text."""
    assert page_pointer(1024, v6=False) == "ffffea0000010000"
    assert page_pointer(0, v6=False) == "ffffea0000000000"
    hashed = {page_pointer(pfn, v6=True) for pfn in range(4096)}
    assert len(hashed) == 4096
    assert all(re.fullmatch(r"00000000[0-9a-f]{8}", h) for h in hashed)
    assert page_pointer(1024, v6=True) == page_pointer(1024, v6=True)
