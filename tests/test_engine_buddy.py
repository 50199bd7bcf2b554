"""Buddy allocator rules (kernel-spec §3) and watermarks (§3.5)."""

import numpy as np
import pytest

from simulator.constants import (
    F_BUDDY,
    K_ANON,
    K_FREE,
    MIGRATE_MOVABLE,
    MIGRATE_RECLAIMABLE,
    MIGRATE_UNMOVABLE,
)
from simulator.memory import pcp_drain_plan, setup_watermarks
from tests.engine_helpers import make_sim


def test_boot_free_memory_forms_maximal_aligned_blocks():
    """§3.2: free memory is held as head pfns of aligned blocks, PageBuddy only on heads."""
    sim = make_sim(
        [{"start": 0, "count": 1, "kind": "anon"}, {"start": 2, "count": 1, "kind": "unmovable"}]
    )
    z = sim.k.mem.zones[0]
    assert [z.nr_free(o) for o in range(11)] == [2, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    flags = sim.k.mem.flags
    assert flags[4] & F_BUDDY and not flags[5] & F_BUDDY and not flags[7] & F_BUDDY
    assert sim.k.mem.buddy_order(1024) == 10


def test_freeing_a_page_merges_with_free_buddies_up_to_the_largest_block():
    """§3.2: buddy = pfn ^ (1 << order); merge while the buddy is a free block of the same order."""
    sim = make_sim([{"start": 0, "count": 1, "kind": "anon"}])
    mem = sim.k.mem
    mem.free_pages(0, 0, use_pcp=False)
    z = mem.zones[0]
    assert [z.nr_free(o) for o in range(11)] == [0] * 10 + [2]
    assert mem.kind[0] == K_FREE and mem.buddy_order(0) == 10


def test_a_block_goes_to_the_list_tail_when_its_higher_buddy_is_free():
    """§3.2 placement: 'merge likely' puts the block at the tail, otherwise at the head."""
    # pfn 0..3 used except 2; pfn 4..7 free (order 2). Freeing 3 merges 2+3 into an order-1
    # block at 2 whose order-2 buddy (0) is not free, but the higher buddy of the combined
    # order-2 block (4) is free: so the order-1 block goes to the tail.
    sim = make_sim(
        [
            {"start": 0, "count": 2, "kind": "anon"},
            {"start": 3, "count": 1, "kind": "anon"},
            {"start": 8, "count": 8, "kind": "anon"},
            {"start": 100, "count": 1, "kind": "anon"},
        ]
    )
    mem = sim.k.mem
    z = mem.zones[0]
    # put another order-1 block on the list first: free 100's neighbour setup
    mem.free_pages(3, 0, use_pcp=False)
    order1 = mem.free_list(z, 1, MIGRATE_MOVABLE)
    assert order1[-1] == 2, order1


def test_allocation_splits_and_puts_upper_halves_on_the_lists():
    """§3.3: __rmqueue_smallest takes the smallest order; expand() frees the upper halves."""
    sim = make_sim(
        [{"start": 0, "count": 1024, "kind": "anon"}, {"start": 1024, "count": 512, "kind": "anon"}]
    )
    mem = sim.k.mem
    z = mem.zones[0]
    assert [z.nr_free(o) for o in range(11)] == [0] * 9 + [1, 0]
    pfn = mem.rmqueue(z, 0, MIGRATE_MOVABLE)
    assert pfn == 1536
    assert [z.nr_free(o) for o in range(11)] == [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
    assert mem.free_list(z, 8, MIGRATE_MOVABLE) == [1536 + 256]
    assert mem.free_list(z, 0, MIGRATE_MOVABLE) == [1537]


def test_fallback_steals_a_pageblock_when_half_of_it_moves_in_v48():
    """§3.4 4.8: an UNMOVABLE request can steal; >= 256 moved free pages retype the block."""
    sim = make_sim(
        [{"start": 0, "count": 100, "kind": "anon"}, {"start": 512, "count": 512, "kind": "anon"}],
        pages=1024,
        profile="v4.8",
    )
    mem = sim.k.mem
    z = mem.zones[0]
    assert mem.pb_mt[0] == MIGRATE_MOVABLE
    pfn = mem.rmqueue(z, 0, MIGRATE_UNMOVABLE)
    # the search runs from the highest order down: the order-8 block at 256 is taken first
    assert pfn == 256
    assert mem.pb_mt[0] == MIGRATE_UNMOVABLE  # all 412 free pages moved: >= 256
    assert mem.extfrag_events[-1] == (256, 0, 8, MIGRATE_UNMOVABLE, MIGRATE_MOVABLE, True)
    # move_freepages() and expand() both list_add() at the head
    assert mem.free_list(z, 7, MIGRATE_UNMOVABLE) == [384, 128]


def test_fallback_of_a_whole_pageblock_retypes_that_block():
    """§3.4: a fallback block of order >= pageblock_order has every pageblock it covers retyped."""
    sim = make_sim([{"start": 0, "count": 100, "kind": "anon"}], pages=1024, profile="v4.8")
    mem = sim.k.mem
    pfn = mem.rmqueue(mem.zones[0], 0, MIGRATE_UNMOVABLE)
    assert pfn == 512 and mem.pb_mt[1] == MIGRATE_UNMOVABLE and mem.pb_mt[0] == MIGRATE_MOVABLE


def test_movable_request_does_not_claim_a_small_fallback_block_in_v618():
    """§3.4 6.18: CLAIM needs order >= pageblock_order/2 for MOVABLE; STEAL takes without retyping."""
    sim = make_sim(
        [
            {"start": 0, "count": 1, "kind": "unmovable"},
            {"start": 2, "count": 1022, "kind": "unmovable"},
        ],
        pages=1024,
        profile="v6.18",
    )
    mem = sim.k.mem
    z = mem.zones[0]
    mem.pb_mt[0] = MIGRATE_UNMOVABLE
    # the only free page (pfn 1) sits on the UNMOVABLE list after retyping: move it
    order, mt = mem._del_from_list(z, 1)
    mem._add_to_list(z, 1, 0, MIGRATE_UNMOVABLE, False)
    pfn = mem.rmqueue(z, 0, MIGRATE_MOVABLE)
    assert pfn == 1
    assert mem.pb_mt[0] == MIGRATE_UNMOVABLE
    assert mem.extfrag_events[-1][5] is False


@pytest.mark.parametrize(
    "pages,expected",
    [
        # 8 MiB: min_free_kbytes = isqrt(8192*16) = 362 -> 90 pages; tmp = max(22, 2) = 22
        (2048, (90, 112, 134)),
        # 1 GiB: isqrt(1048576*16) = 4096 kB -> 1024 pages; tmp = max(256, 262) = 262
        (262144, (1024, 1286, 1548)),
    ],
)
def test_watermarks_follow_setup_per_zone_wmarks(pages, expected):
    """§3.5: min from min_free_kbytes; tmp = max(min/4, managed*10/10000); low = min+tmp; high = low+tmp."""
    sim = make_sim([{"start": 0, "count": 1, "kind": "anon"}], pages=pages)
    z = sim.k.mem.zones[0]
    assert (z.wmark_min, z.wmark_low, z.wmark_high) == expected


def test_min_free_kbytes_is_capped_differently_per_profile():
    """6.18 caps min_free_kbytes at 262144 (§3.5, calculate_min_free_kbytes()); 4.8 at
    65536, which the spec does not give: 4.8.15 mm/page_alloc.c init_per_zone_wmark_min()
    clamps to [128, 65536] (a later kernel raised the cap to 262144)."""
    for profile, cap in (("v4.8", 65536), ("v6.18", 262144)):
        sim = make_sim([{"start": 0, "count": 1, "kind": "anon"}], profile=profile)
        mem = sim.k.mem
        mem.zones[0].present = 1 << 40  # pretend a huge zone
        assert setup_watermarks(mem, None) == cap


def test_watermark_check_subtracts_the_request_and_needs_a_large_enough_block():
    """§3.5: free -= 2^order - 1; fail if free <= mark; order > 0 needs a list of order >= order."""
    sim = make_sim([{"start": 0, "count": 2048 - 8, "kind": "anon"}], pages=2048)
    mem = sim.k.mem
    z = mem.zones[0]
    assert z.nr_free_pages == 8  # one order-3 block
    assert mem.watermark_ok(z, 0, 7) and not mem.watermark_ok(z, 0, 8)
    assert mem.watermark_ok(z, 3, 0) and not mem.watermark_ok(z, 3, 1)  # 8 - 7 = 1 <= 1
    # no block of order 4 or more: no mark is low enough
    assert not mem.watermark_ok(z, 4, 0) and not mem.watermark_ok(z, 4, -100)


def test_isolating_a_large_free_block_makes_its_pageblock_movable():
    """§2.6: __isolate_free_page of order >= pageblock_order-1 turns the block MOVABLE."""
    sim = make_sim(
        [
            {"start": 0, "count": 256, "kind": "reclaimable"},
            {"start": 1536, "count": 512, "kind": "anon"},
        ]
    )
    mem = sim.k.mem
    mem.pb_mt[0] = MIGRATE_RECLAIMABLE
    assert mem.isolate_free_page(256, 8) == 256
    assert mem.pb_mt[0] == MIGRATE_MOVABLE
    assert mem.kind[256] == K_FREE and not mem.flags[256] & F_BUDDY


def test_pcp_frees_are_not_merged_until_drained():
    """§2.16: order-0 frees go to the pcp list; free_pcppages_bulk merges them later."""
    sim = make_sim([{"start": 0, "count": 2048, "kind": "anon"}], pcp="simple")
    mem = sim.k.mem
    z = mem.zones[0]
    assert z.pcp_batch == 1 and z.pcp_high == 6  # 2048 pages: batch 2/4 -> 1 -> 1
    for p in range(5):
        mem.free_pages(p, 0)
    assert z.pcp_count == 5 and z.nr_free_pages == 0
    mem.free_pages(5, 0)  # reaches high: drain one batch
    assert z.pcp_count == 5 and z.nr_free_pages == 1
    mem.drain_pcp(z)
    assert z.pcp_count == 0 and z.nr_free_pages == 6
    assert mem.kind[0] == K_FREE and mem.kind[6] == K_ANON


@pytest.mark.parametrize("profile", ["v4.8", "v6.18"])
def test_isolating_a_free_block_needs_free_pages_above_the_mark_plus_its_size(profile):
    """§2.6: __isolate_free_page() of order 8 needs free > mark + 256 (min and low set
    alike here; which one each profile reads is tested in test_engine_scanners.py)."""
    # two free order-8 blocks, at 1280 and 1792, between anon pages
    anon = [(0, 1280), (1536, 256)]
    sim = make_sim([{"start": a, "count": n, "kind": "anon"} for a, n in anon], profile=profile)
    mem = sim.k.mem
    z = mem.zones[0]
    assert z.nr_free_pages == 512 and mem.free_list(z, 8, MIGRATE_MOVABLE) == [1280, 1792]
    z.wmark_min = z.wmark_low = 255  # 512 > 255 + 256
    assert mem.isolate_free_page(1280, 8) == 256
    assert z.nr_free_pages == 256
    z.wmark_min = z.wmark_low = 0  # 256 > 0 + 256 fails by one page
    assert mem.isolate_free_page(1792, 8) == 0


@pytest.mark.parametrize(
    ("avail", "count", "plan"),
    [
        # §2.16 free_pcppages_bulk(): the first list looked at is 1 (++migratetype from 0);
        # batch_free counts lists looked at, empty ones too, so after an empty list the
        # next one gives two pages
        ([5, 3, 0], 6, [(1, 1), (0, 2), (1, 1), (0, 2)]),
        # the only non-empty list (batch_free reaches MIGRATE_PCPTYPES) gives all the rest
        ([0, 4, 0], 3, [(1, 1), (1, 2)]),
        # an emptied list leaves batch_free where it was: the leftover carries on
        ([1, 5, 5], 8, [(1, 1), (2, 1), (0, 1), (1, 1), (2, 1), (1, 2), (2, 1)]),
    ],
)
def test_pcp_drain_takes_the_lists_round_robin_from_movable(avail, count, plan):
    assert pcp_drain_plan(avail, count) == plan


def test_moving_the_first_entries_to_the_tail_again_and_again_leaves_no_trail_to_walk():
    """move_freelist_tail() (fast_find_migrateblock) of the list's first entries, over
    and over as a compaction that keeps revisiting one pageblock does: the list keeps its
    entries in kernel order, and their old slots are dropped rather than walked past on
    every later search (the walk to the first entry stays short)."""
    from simulator.freelist import FreeList

    n = 64
    flags = np.zeros(n, dtype=np.uint8)
    aux = np.zeros(n, dtype=np.uint8)
    token = np.zeros(n, dtype=np.uint32)
    fl = FreeList(code=3)
    for pfn in range(n):
        flags[pfn] = F_BUDDY
        aux[pfn] = 3
        fl.add(pfn, True, token)  # list order 0, 1, ..., n-1
    for i in range(20000):
        fl.rotate_to_tail(i % n, flags, aux, token)
    order = list(fl.walk(flags, aux, token))
    assert order == [(20000 + k) % n for k in range(n)]
    assert len(fl.head) + len(fl.tail) < 3 * 4096  # moved-from slots are reclaimed too
    assert fl.count == n
    # what a walk to the first entry steps over: nothing dead in front of it
    dead_in_front = 0
    for i in range(fl.tail_start, len(fl.tail)):
        if fl._live(fl.tail[i], (i << 1) | 1, flags, aux, token):
            break
        dead_in_front += 1
    assert not fl.head and dead_in_front == 0
