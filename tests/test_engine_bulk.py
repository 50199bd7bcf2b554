"""The bulk paths of the migration hot loop agree with their per-page counterparts.

compaction_alloc_many() must hand out what successive compaction_alloc() calls would,
and migrate_pages() given such a bulk hand-out must behave exactly as with single
alloc() calls only: same results, same page state, same order of allocations and frees.
"""

from __future__ import annotations

import copy
import functools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.compaction import CompactControl, Compactor
from simulator.constants import (
    F_DIRTY,
    F_LOCKED,
    F_WRITEBACK,
    K_TARGET,
    MAX_ORDER,
    MIGRATE_ASYNC,
    MIGRATE_MOVABLE,
    MIGRATE_SYNC,
    MIGRATE_SYNC_LIGHT,
)
from simulator.migrate import migrate_pages
from tests.engine_helpers import make_sim
from tests.reference_compaction import compact_memory_reference
from tests.test_reference import CASES, assert_agree, run_both, scenario

PROFILES = ("v4.8", "v6.18")


class NoScanner(Exception):
    pass


@functools.cache
def _compactor(profile: str) -> Compactor:
    c = make_sim(profile=profile, pages=1024).c

    def no_scanner(cc: CompactControl) -> None:
        raise NoScanner

    c.isolate_freepages = no_scanner
    return c


def control(profile: str, blocks: list[tuple[int, int]]) -> tuple:
    """A Compactor whose free scanner must not run, and a cc holding `blocks`."""
    c = _compactor(profile)
    cc = CompactControl(
        zone=0, order=-1, mode=MIGRATE_SYNC, migratetype=MIGRATE_MOVABLE, source="t"
    )
    base = 0
    for order, count in blocks:
        for _ in range(count):
            if profile == "v6.18":
                cc.freepages_618[order].append(base)
            else:
                cc.freepages.append(base)
            cc.nr_freepages += 1 << order if profile == "v6.18" else 1
            base += 1 << MAX_ORDER
    cc.nr_migratepages = 1000
    return c, cc


def state(cc: CompactControl) -> tuple:
    return (
        list(cc.freepages),
        [list(q) for q in cc.freepages_618],
        cc.nr_freepages,
        cc.nr_migratepages,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    profile=st.sampled_from(PROFILES),
    blocks=st.lists(st.tuples(st.integers(0, MAX_ORDER - 1), st.integers(1, 3)), max_size=5),
    ops=st.lists(
        st.one_of(st.tuples(st.just("many"), st.integers(0, 700)), st.tuples(st.just("free"))),
        max_size=8,
    ),
)
def test_alloc_many_hands_out_what_single_calls_would(profile, blocks, ops) -> None:
    c1, cc1 = control(profile, blocks)
    c2, cc2 = control(profile, blocks)
    freed = 1 << 30
    for op in ops:
        if op[0] == "free":
            c1.compaction_free(cc1, freed)
            c2.compaction_free(cc2, freed)
            freed += 1
            continue
        got = c1.compaction_alloc_many(cc1, op[1])
        single: list[int] = []
        for _ in range(op[1]):
            # a snapshot first: a call that needs the free scanner must not count
            before = copy.deepcopy(cc2)
            try:
                single.append(c2.compaction_alloc(cc2))
            except NoScanner:
                cc2 = before
                break
        assert got == single
        assert state(cc1) == state(cc2)


def migrate_case(profile, kinds, flag_bits, targets, caps, mode, use_bulk):
    """Isolate pages of the given kinds and flags, then migrate them to a pool of targets.
    Returns everything observable."""
    ranges = [{"start": i, "count": 1, "kind": kd} for i, kd in enumerate(kinds)]
    sim = make_sim(ranges, profile=profile, pages=2048)
    k, mem = sim.k, sim.k.mem
    n = len(kinds)
    for i, bits in enumerate(flag_bits[:n]):
        mem.flags[i] |= bits
    for p in range(n):
        k.isolate_lru_page(p)
    pool = list(range(1024, 1024 + targets))
    mem.kind[1024 : 1024 + targets] = K_TARGET
    log: list[tuple[str, int]] = []
    caps_left = list(caps)

    def alloc() -> int:
        p = pool.pop(0) if pool else -1
        log.append(("alloc", p))
        return p

    def alloc_many(m: int) -> list[int]:
        # a hand-out may stop short anywhere before the pool is empty
        cap = caps_left.pop(0) if caps_left else m
        got = pool[: min(m, cap)]
        del pool[: len(got)]
        log.extend(("alloc", p) for p in got)
        return got

    def free(p: int) -> None:
        log.append(("free", p))
        pool.insert(0, p)

    result = migrate_pages(
        k, list(range(n)), alloc, free, mode, 0, False, alloc_many if use_bulk else None
    )
    hist = k.history
    return (
        result,
        log,
        mem.kind.tolist(),
        mem.flags.tolist(),
        mem.token.tolist(),
        dict(k.vmstat),
        list(k.trace_lines),
        [list(col) for col in (hist.t, hist.pfn, hist.code, hist.arg)],
        k.nr_isolated,
        k.time_ns,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    profile=st.sampled_from(PROFILES),
    kinds=st.lists(st.sampled_from(["anon", "anon", "file"]), min_size=1, max_size=80),
    flag_bits=st.lists(
        st.sampled_from([0, 0, 0, 0, F_LOCKED, F_WRITEBACK, F_DIRTY, F_LOCKED | F_WRITEBACK]),
        max_size=80,
    ),
    targets=st.integers(0, 100),
    caps=st.lists(st.integers(0, 10), max_size=10),
    mode=st.sampled_from([MIGRATE_ASYNC, MIGRATE_SYNC_LIGHT, MIGRATE_SYNC]),
)
def test_migrate_pages_bulk_runs_match_single_allocations(
    profile, kinds, flag_bits, targets, caps, mode
) -> None:
    bulk = migrate_case(profile, kinds, flag_bits, targets, caps, mode, True)
    single = migrate_case(profile, kinds, flag_bits, targets, caps, mode, False)
    for a, b in zip(bulk, single, strict=True):
        assert a == b


def test_alloc_many_splits_a_block_like_single_calls() -> None:
    """6.18: taking 5 pages of an order-3 block leaves 5-7 as an order-0 and an order-1 block."""
    c, cc = control("v6.18", [(3, 1)])
    assert c.compaction_alloc_many(cc, 5) == [0, 1, 2, 3, 4]
    assert [list(q) for q in cc.freepages_618[:3]] == [[5], [6], []]
    assert np.array(c.compaction_alloc_many(cc, 9)).tolist() == [5, 6, 7]


@pytest.fixture(params=[16, 0], ids=["bulk skip when worth it", "bulk skip always"])
def bulk_skip(request, monkeypatch):
    monkeypatch.setattr(Compactor, "bulk_skip_min_heads", request.param)
    return request.param


@pytest.mark.parametrize("profile", PROFILES)
def test_migrate_scanner_over_a_free_block_larger_than_a_pageblock_matches_reference(
    profile, bulk_skip
) -> None:
    """An order-10 free block at a pageblock start: the migrate scanner skips past the end
    of the pageblock it scans (4.8 counts one pfn for it, 6.18 all 1024), and the bulk
    skip of free blocks must account for it like the per-pfn walk."""
    ranges = [
        {"start": 0, "count": 700, "kind": "anon"},
        {"start": 2048, "count": 300, "kind": "file"},
        {"start": 3072, "count": 1024, "kind": "anon"},
        {"start": 5000, "count": 20, "kind": "unmovable"},
    ]
    # targets for the free scanner: order-0 holes between anon pages at the top
    ranges += [{"start": p, "count": 1, "kind": "anon"} for p in range(5120, 8192, 2)]
    sim = make_sim(ranges, profile=profile, pages=8192, pcp="simple")
    ref = compact_memory_reference(sim)
    while not sim.done:
        sim.step(256)
    assert_agree(sim, ref)
    lines = [line for line in sim.k.trace_lines if "range=(0x400 ~ 0x600)" in line]
    assert lines and lines[0].endswith(f"nr_scanned={1 if profile == 'v4.8' else 1024} nr_taken=0")


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(
    "case", ["mostly free, scattered", "free memory at the top", "two drivers and LRU flags"]
)
def test_bulk_free_block_skip_everywhere_matches_reference(profile, case, monkeypatch) -> None:
    """With the migrate scanner's bulk skip of free blocks forced on for every scan, the
    engine still agrees with the per-page reference."""
    monkeypatch.setattr(Compactor, "bulk_skip_min_heads", 0)
    sim, ref = run_both(scenario(profile, **CASES[case]), seed=5)
    assert_agree(sim, ref)
    sim, ref = run_both(scenario(profile, kcompactd_order=9, **CASES[case]), seed=5)
    assert_agree(sim, ref)
