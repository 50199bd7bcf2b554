"""Kernel text formats and fragmentation metrics (kernel-spec §4, §5)."""

import pickle

import pytest

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
