"""Kernel text formats and fragmentation metrics (kernel-spec §4, §5)."""

import pickle

import pytest

from simulator.constants import MIGRATE_MOVABLE
from simulator.kernel import TraceLog
from simulator.memory import extfrag_for_order, fragmentation_index, unusable_free_index
from simulator.procfs import _index_row
from tests.engine_helpers import make_sim, run_to_end, trace_events


def test_fragmentation_index_formula_uses_integer_division():
    """§4.2: 1000 - (1000 + free*1000/2^order) / blocks."""
    # 100 order-0 pages: order 3 -> 1000 - (1000 + 100000/8)/100 = 1000 - 135 = 865
    assert fragmentation_index(100, 100, 0, 3) == 865
    assert fragmentation_index(0, 0, 0, 3) == 0
    assert fragmentation_index(64, 2, 1, 3) == -1000


def test_fragmentation_index_can_be_negative_without_being_minus_1000():
    """§4.2: a single free order-0 page at order 1 gives -500."""
    assert fragmentation_index(1, 1, 0, 1) == -500


def test_unusable_index_and_extfrag_for_order():
    """§4.3 and §4.4."""
    assert unusable_free_index(0, 0, 3) == 1000
    # 100 free pages, 8 of them in one order-3 block
    assert unusable_free_index(100, 1, 3) == 920
    assert extfrag_for_order(100, 1, 3) == 92
    assert extfrag_for_order(0, 0, 9) == 0


@pytest.mark.parametrize(
    "value,v48,v6",
    [
        (-1000, "-1.000 ", "-1.000 "),
        (987, "0.987 ", " 0.987 "),
        (-500, "0.-500 ", " 0.-500 "),
        (1000, "1.000 ", " 1.000 "),
    ],
)
def test_extfrag_index_printing_per_profile(value, v48, v6):
    """§4.7: '%d.%03d ' in 4.8, '%2d.%03d ' in 6.x, with C's truncating / and %."""
    assert _index_row([value], wide=False) == v48
    assert _index_row([value], wide=True) == v6


def test_buddyinfo_line_format():
    """§4.5: 'Node %d, zone %8s ' then '%6lu ' per order, trailing space kept."""
    sim = make_sim(
        [{"start": 0, "count": 1, "kind": "anon"}, {"start": 2, "count": 1, "kind": "unmovable"}]
    )
    assert (
        sim.report("buddyinfo")
        == "Node 0, zone   Normal      2      0      1      1      1      1      1      1      1      1      1 \n"
    )


def test_pagetypeinfo_header_and_sections():
    """§4.6: header lines, free counts per type with '%4d' node width, block counts with '%d'."""
    sim = make_sim([{"start": 0, "count": 512, "kind": "unmovable"}], profile="v4.8")
    text = sim.report("pagetypeinfo").splitlines()
    assert text[0] == "Page block order: 9"
    assert text[1] == "Pages per block:  512"
    assert text[2] == ""
    assert text[3].startswith("Free pages count per migrate type at order       0      1 ")
    assert text[4].startswith("Node    0, zone   Normal, type    Unmovable      0")
    assert (
        "Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic          CMA      Isolate "
        in text
    )
    assert (
        text[-1]
        == "Node 0, zone   Normal            1            3            0            0            0            0 "
    )


def test_vmstat_lines_differ_per_profile():
    """§4.8: 6.18 adds the thp_migration_* and compact_daemon_*_scanned lines."""
    v48 = make_sim([{"start": 0, "count": 1, "kind": "anon"}], profile="v4.8").report("vmstat")
    v6 = make_sim([{"start": 0, "count": 1, "kind": "anon"}], profile="v6.18").report("vmstat")
    assert [line.split()[0] for line in v48.splitlines()] == [
        "pgmigrate_success",
        "pgmigrate_fail",
        "compact_migrate_scanned",
        "compact_free_scanned",
        "compact_isolated",
        "compact_stall",
        "compact_fail",
        "compact_success",
        "compact_daemon_wake",
    ]
    assert "thp_migration_split 0" in v6 and "compact_daemon_free_scanned 0" in v6


def test_trace_lines_follow_the_tracepoint_formats():
    """§5: begin/end/isolate/migrate_pages formats; 6.18 mm_migrate_pages has the thp fields."""
    for profile in ("v4.8", "v6.18"):
        sim = make_sim(
            [{"start": p, "count": 1, "kind": "anon"} for p in range(0, 2048, 2)],
            profile=profile,
            timeline=[{"at_ms": 0, "action": "compact_memory"}],
        )
        run_to_end(sim)
        begin = trace_events(sim, "mm_compaction_begin")[0]
        assert begin == "zone_start=0x0 migrate_pfn=0x0 free_pfn=0x600 zone_end=0x800, mode=sync"
        assert trace_events(sim, "mm_compaction_end")[-1].endswith(", mode=sync status=complete")
        mp = trace_events(sim, "mm_migrate_pages")[0]
        if profile == "v4.8":
            assert mp == "nr_succeeded=32 nr_failed=0 mode=MIGRATE_SYNC reason=compaction"
        else:
            # last_migrated_pfn starts at 0, so in a zone starting in pageblock 0 the first
            # iteration has finish_pageblock set and isolates the whole block (§2.3, §2.5)
            assert (
                mp
                == "nr_succeeded=256 nr_failed=0 nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 nr_split=0 mode=MIGRATE_SYNC reason=compaction"
            )
            assert (
                trace_events(sim, "mm_migrate_pages_start")[0]
                == "mode=MIGRATE_SYNC reason=compaction"
            )
        line = next(line for line in sim.k.trace_lines if "mm_compaction_begin" in line)
        assert line.startswith("              sh-1200  [000] .... ")
        import re

        assert re.search(r"(\S+): (mm_\w+): (.*)$", line).group(2) == "mm_compaction_begin"


def test_status_strings_per_profile():
    """§2.9: 4.8 prints 'partial', 6.18 'success'."""
    from simulator.constants import COMPACT_SUCCESS, status_name

    assert status_name(COMPACT_SUCCESS, "v4.8") == "partial"
    assert status_name(COMPACT_SUCCESS, "v6.18") == "success"


def _parts(i: int) -> tuple:
    return (i * 1000, "head ", "ev", "n=%d", (i,))


def test_trace_ring_keeps_the_last_maxlen_lines_across_single_entries_and_batches():
    ring = TraceLog(maxlen=5)
    ring.append("first")
    ring.extend([_parts(1), _parts(2)])
    ring.add_batch(3, lambda: [_parts(3), _parts(4), _parts(5)])
    ring.append(_parts(6))
    assert len(ring) == 5
    texts = [line.rsplit(": ", 1)[1] for line in ring]
    assert texts == ["n=2", "n=3", "n=4", "n=5", "n=6"]
    assert ring[0].endswith("n=2") and ring[-1].endswith("n=6")
    with pytest.raises(IndexError):
        ring[5]


def test_trace_batch_pushed_out_of_the_ring_is_never_built():
    built = []

    def build():
        built.append(1)
        return [_parts(0)] * 4

    ring = TraceLog(maxlen=3)
    ring.add_batch(4, build)
    ring.extend([_parts(1), _parts(2), _parts(3)])
    assert [line[-3:] for line in ring] == ["n=1", "n=2", "n=3"]
    assert built == []


def test_trace_batch_is_built_once_and_must_give_its_count():
    calls = []
    ring = TraceLog(maxlen=10)
    ring.add_batch(2, lambda: calls.append(1) or [_parts(1), _parts(2)])
    assert list(ring) == list(ring)
    assert calls == [1]
    bad = TraceLog(maxlen=10)
    bad.add_batch(3, lambda: [_parts(1)])
    with pytest.raises(AssertionError, match="built 1 entries, not 3"):
        list(bad)


def test_trace_ring_pickles_as_formatted_lines():
    ring = TraceLog(maxlen=2)
    ring.add_batch(3, lambda: [_parts(1), _parts(2), _parts(3)])
    copy = pickle.loads(pickle.dumps(ring))
    assert list(copy) == list(ring) == [ring[0], ring[1]]
    assert copy.maxlen == 2 and len(copy) == 2


def test_trace_ring_index_reads_one_line_and_builds_only_its_batch():
    built = []

    def build(tag: int, n: int):
        def entries():
            built.append(tag)
            return [_parts(tag * 10 + j) for j in range(n)]

        return entries

    ring = TraceLog(maxlen=6)
    ring.add_batch(4, build(1, 4))  # two of its entries are pushed out below
    ring.append(_parts(50))
    ring.add_batch(3, build(2, 3))
    assert [ring[i][-4:] for i in (0, 1)] == ["n=12", "n=13"]
    assert built == [1]
    assert ring[-1].endswith("n=22") and ring[2].endswith("n=50")
    assert built == [1, 2]
    assert [ring[i] for i in range(len(ring))] == list(ring)


# Three 2048-page zones with hand-checkable free lists (§3.2: a free block is a buddy
# of the largest order its alignment and free neighbours allow):
#   DMA    [0, 2048):    anon at 0, unmovable at 2 -> free blocks 1 (o0), 3 (o0), 4 (o2),
#                        8 (o3), 16 (o4), ..., 1024 (o10); nr_free = 2,0,1,1,1,1,1,1,1,1,1;
#                        free_pages = 2046
#   DMA32  [2048, 4096): anon at every even pfn -> 1024 order-0 blocks, free_pages = 1024
#   Normal [4096, 6144): anon except pfn 6143 -> one order-0 block, free_pages = 1
THREE_ZONES = [
    {"name": "DMA", "pages": 2048},
    {"name": "DMA32", "pages": 2048},
    {"name": "Normal", "pages": 2048},
]
THREE_ZONE_RANGES = (
    [{"start": 0, "count": 1, "kind": "anon"}, {"start": 2, "count": 1, "kind": "unmovable"}]
    + [{"start": p, "count": 1, "kind": "anon"} for p in range(2048, 4096, 2)]
    + [{"start": 4096, "count": 2047, "kind": "anon"}]
)


@pytest.mark.parametrize("profile", ["v4.8", "v6.18"])
def test_unusable_index_file_prints_every_zone_with_three_decimals(profile):
    """§4.3 + §4.7: (free_pages - (suitable << order)) * 1000 / free_pages, printed
    'Node %d, zone %8s ' then '%d.%03d ' per order in both versions.

    DMA: pages in blocks of order >= o are 2046, 2044, 2044, 2040, 2032, 2016, 1984, 1920,
    1792, 1536, 1024, so the index is (2046 - that) * 1000 // 2046 = 0, 0 (2000//2046),
    0, 2 (6000//2046), 6 (14000//2046), 14, 30, 61, 124, 249, 499.
    DMA32 and Normal: every free page is order 0, so 0 at order 0 and 1000 above.
    """
    sim = make_sim(THREE_ZONE_RANGES, profile=profile, zones=THREE_ZONES)
    assert sim.report("unusable") == (
        "Node 0, zone      DMA 0.000 0.000 0.000 0.002 0.006 0.014 0.030 0.061 0.124 0.249 0.499 \n"
        "Node 0, zone    DMA32 0.000 1.000 1.000 1.000 1.000 1.000 1.000 1.000 1.000 1.000 1.000 \n"
        "Node 0, zone   Normal 0.000 1.000 1.000 1.000 1.000 1.000 1.000 1.000 1.000 1.000 1.000 \n"
    )


@pytest.mark.parametrize(
    "profile,text",
    [
        (
            "v4.8",
            "Node 0, zone      DMA"
            " -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 \n"
            "Node 0, zone    DMA32"
            " -1.000 0.500 0.750 0.875 0.937 0.968 0.984 0.992 0.996 0.998 0.999 \n"
            "Node 0, zone   Normal"
            " -1.000 0.-500 0.-250 0.-125 0.-62 0.-31 0.-15 0.-07 0.-03 0.-01 0.000 \n",
        ),
        (
            "v6.18",
            "Node 0, zone      DMA"
            " -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 \n"
            "Node 0, zone    DMA32"
            " -1.000  0.500  0.750  0.875  0.937  0.968  0.984  0.992  0.996  0.998  0.999 \n"
            "Node 0, zone   Normal"
            " -1.000  0.-500  0.-250  0.-125  0.-62  0.-31  0.-15  0.-07  0.-03  0.-01  0.000 \n",
        ),
    ],
)
def test_extfrag_index_file_pads_non_negative_values_in_v618_only(profile, text):
    """§4.2 + §4.7: the whole debugfs extfrag_index file, '%d.%03d ' (4.8) / '%2d.%03d '
    (6.x) of index/1000 and index%1000 with C's truncation.

    Order 0 always has a free block (suitable > 0): -1000. DMA has an order-10 block, so
    -1000 at every order. DMA32 (1024 blocks, 1024 pages), order o >= 1:
    1000 - (1000 + 1024000 / 2^o) / 1024 = 500, 750, 875, 937, 968, 984, 992, 996, 998, 999.
    Normal (1 block, 1 page): 1000 - (1000 + 1000 / 2^o) = -(1000 >> o) = -500, -250, -125,
    -62, -31, -15, -7, -3, -1, 0; C prints -7 % 1000 with '%03d' as '-07'.
    """
    sim = make_sim(THREE_ZONE_RANGES, profile=profile, zones=THREE_ZONES)
    assert sim.report("extfrag") == text


@pytest.mark.parametrize("profile", ["v4.8", "v6.18"])
def test_pagetypeinfo_whole_file_for_three_block_types(profile):
    """§4.6 (names §3.1), the whole file. Counts far below the 6.x 100000 cap print alike.

    Block 0: unmovable 0..499, free 500..511 = 500 (o2) + 504 (o3); block 1: reclaimable
    512..1019, free 1020..1023 (o2); blocks 2-3: one free order-10 block at 1024. A block
    takes the type of its most common allocation, MOVABLE if it has none (the simulator's
    rule for explicit layouts), so the free blocks are on the Unmovable (o2, o3),
    Reclaimable (o2) and Movable (o10) lists, and the block counts are 1, 2, 1.
    """
    sim = make_sim(
        [
            {"start": 0, "count": 500, "kind": "unmovable"},
            {"start": 512, "count": 508, "kind": "reclaimable"},
        ],
        profile=profile,
    )
    assert sim.report("pagetypeinfo") == (
        "Page block order: 9\n"
        "Pages per block:  512\n"
        "\n"
        "Free pages count per migrate type at order       0      1      2      3      4      5      6      7      8      9     10 \n"
        "Node    0, zone   Normal, type    Unmovable      0      0      1      1      0      0      0      0      0      0      0 \n"
        "Node    0, zone   Normal, type      Movable      0      0      0      0      0      0      0      0      0      0      1 \n"
        "Node    0, zone   Normal, type  Reclaimable      0      0      1      0      0      0      0      0      0      0      0 \n"
        "Node    0, zone   Normal, type   HighAtomic      0      0      0      0      0      0      0      0      0      0      0 \n"
        "Node    0, zone   Normal, type          CMA      0      0      0      0      0      0      0      0      0      0      0 \n"
        "Node    0, zone   Normal, type      Isolate      0      0      0      0      0      0      0      0      0      0      0 \n"
        "\n"
        "Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic          CMA      Isolate \n"
        "Node 0, zone   Normal            1            2            1            0            0            0 \n"
    )


def _enomem_run(profile: str):
    """compact_memory over anon pfns 0..31 with the rest free: the free scanner finds no
    target and migrate_pages() stops with -ENOMEM at the first page (see
    test_engine_trace.test_migratepages_line_after_enomem_counts_every_page_still_on_the_list)."""
    sim = make_sim(
        [{"start": 0, "count": 32, "kind": "anon"}],
        profile=profile,
        timeline=[{"at_ms": 0, "action": "compact_memory"}],
    )
    run_to_end(sim)
    return sim


def test_vmstat_v48_whole_file_after_a_compaction_that_ran_out_of_targets():
    """§4.8 names in order, §2.15 values, one 'name value' line each.

    pgmigrate_fail 1: -ENOMEM counts the failing page only (§1.3). compact_migrate_scanned
    32: pfns 0..31, where 32 isolations stop the block (§2.5). compact_free_scanned 512:
    pageblock 0x600 scanned with nothing taken; 0x400 and 0x200 rejected unscanned (§2.6).
    compact_isolated 32 (migrate side only). No direct compaction, no kcompactd.
    """
    assert _enomem_run("v4.8").report("vmstat") == (
        "pgmigrate_success 0\n"
        "pgmigrate_fail 1\n"
        "compact_migrate_scanned 32\n"
        "compact_free_scanned 512\n"
        "compact_isolated 32\n"
        "compact_stall 0\n"
        "compact_fail 0\n"
        "compact_success 0\n"
        "compact_daemon_wake 0\n"
    )


def test_vmstat_v618_lines_after_a_compaction_that_ran_out_of_targets():
    """§4.8 names, §2.15 values. The spec does not give where 6.18 puts the added names,
    so the lines are compared as a set.

    pgmigrate_fail 1: failed_pages = the failing folio + 0 retry folios (§1.5).
    compact_migrate_scanned 512: the first iteration has finish_pageblock (§2.3) and
    scans block 0 whole, buddy skips counting their size (§2.5): 32 + 32 + 64 + 128 + 256.
    compact_free_scanned 512 (§2.6, as in 4.8). compact_isolated 32. Not kcompactd, so
    the compact_daemon_* counters stay 0; no THP.
    """
    text = _enomem_run("v6.18").report("vmstat")
    assert text.endswith("\n")
    assert sorted(text.splitlines()) == sorted(
        [
            "pgmigrate_success 0",
            "pgmigrate_fail 1",
            "thp_migration_success 0",
            "thp_migration_fail 0",
            "thp_migration_split 0",
            "compact_migrate_scanned 512",
            "compact_free_scanned 512",
            "compact_isolated 32",
            "compact_stall 0",
            "compact_fail 0",
            "compact_success 0",
            "compact_daemon_wake 0",
            "compact_daemon_migrate_scanned 0",
            "compact_daemon_free_scanned 0",
        ]
    )


@pytest.mark.parametrize(
    ("count", "v618"), [(99_999, " 99999 "), (100_000, ">100000 "), (250_000, ">100000 ")]
)
def test_pagetypeinfo_caps_a_long_free_list_at_100000_in_v618_only(count, v618):
    """§4.6: 6.x stops walking a free list at its 100000th entry (++freecount >= 100000)
    and prints it with a ">"; 4.8 counts the whole list."""
    texts = {}
    for profile in ("v4.8", "v6.18"):
        sim = make_sim([{"start": 0, "count": 1, "kind": "anon"}], profile=profile)
        sim.k.mem.zones[0].free_area[0][MIGRATE_MOVABLE].count = count
        (row,) = [r for r in sim.report("pagetypeinfo").splitlines() if "Movable" in r][:1]
        texts[profile] = row.split("type      Movable ", 1)[1]
    assert texts["v6.18"].startswith(v618)
    assert texts["v4.8"].startswith(f"{count:6d} ")
