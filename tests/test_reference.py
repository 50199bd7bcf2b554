"""The engine agrees exactly with the per-page reference (tests/reference_compaction.py).

Both start from the same freshly built Simulation; the engine then runs (a write to
compact_memory, a kcompactd wake-up, direct compaction at each priority, proactive
compaction, or a whole timeline of allocations and frees, kernel-spec §2.2) and the
reference does the same page by page. Everything observable must be equal: page kinds,
flags and content tokens, pageblock types and skip bits, the buddy free lists in list
order (§3.2), the pcp lists (§2.16), the cached scanner pfns (§2.1), the vmstat counters
(§2.15), the trace lines (§5, without the timestamp prefix), driver statistics and the
contract violations of buggy drivers (seed document, §6).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import Scenario, Simulation
from simulator.constants import COMPACT_MAX_DEFER_SHIFT, K_FREE, K_HOLE, K_PCP, K_TARGET
from tests.reference_compaction import (
    FREE_KINDS,
    ReferenceKernel,
    compact_memory_reference,
    engine_free_lists,
    engine_pcp_lists,
    engine_trace,
    engine_violations,
    kcompactd_reference,
)


def scenario(
    profile: str,
    blocks: int = 4,
    free: float = 0.3,
    fragmentation: float = 0.9,
    mix: dict | None = None,
    pcp: str = "simple",
    drivers: list | None = None,
    flags: dict | None = None,
    lru_eagain_rate: float = 0.0,
    zones: list | None = None,
    pcp_high: int | None = None,
    pcp_batch: int | None = None,
    kcompactd_order: int | None = None,
) -> dict:
    memory: dict = {"zones": zones or [{"name": "Normal", "pages": blocks * 512}], "pcp": pcp}
    if pcp_high:
        memory["pcp_high"] = pcp_high
    if pcp_batch:
        memory["pcp_batch"] = pcp_batch
    layout = {"free": free, "fragmentation": fragmentation, **(flags or {})}
    if mix:
        layout["mix"] = mix
    return {
        "profile": profile,
        "memory": memory,
        "layout": layout,
        "drivers": drivers or [],
        "lru_eagain_rate": lru_eagain_rate,
        "kcompactd": kcompactd_order is not None,
        "sysctl": {"compaction_proactiveness": 0},
        "timeline": [
            {"at_ms": 0, "action": "compact_memory"}
            if kcompactd_order is None
            else {"at_ms": 0, "action": "kcompactd_wake", "order": kcompactd_order}
        ],
    }


def run_both(raw: dict, seed: int) -> tuple[Simulation, ReferenceKernel]:
    sim = Simulation(Scenario.from_dict(raw), seed=seed, profile=raw["profile"])
    (event,) = raw["timeline"]
    if event["action"] == "kcompactd_wake":
        ref = kcompactd_reference(sim, event["order"])
    else:
        ref = compact_memory_reference(sim)
    n = 0
    while not sim.done:
        sim.step(256)
        n += 1
        assert n < 100_000, "engine did not finish"
    return sim, ref


def first_difference(a: np.ndarray, b: list, mask: np.ndarray | None = None) -> str | None:
    b_arr = np.asarray(b, dtype=np.int64)
    diff = a.astype(np.int64) != b_arr
    if mask is not None:
        diff &= mask
    if not diff.any():
        return None
    i = int(np.flatnonzero(diff)[0])
    return f"pfn {i:#x}: engine {int(a[i])}, reference {int(b_arr[i])}"


def assert_agree(sim: Simulation, ref: ReferenceKernel) -> None:
    from simulator.kernel import TRACE_KEEP

    mem = sim.k.mem
    assert len(sim.k.trace_lines) < TRACE_KEEP, "the engine's trace ring wrapped"
    # trace first: the earliest divergence is the most useful message
    et, rt = engine_trace(sim), ref.trace
    for i, (e, r) in enumerate(zip(et, rt, strict=False)):
        assert e == r, f"trace line {i}: engine {e} != reference {r}"
    assert len(et) == len(rt), f"trace length: engine {len(et)}, reference {len(rt)}"
    assert sim.counters() == ref.vmstat
    assert (d := first_difference(mem.kind, ref.kind)) is None, f"kind {d}"
    assert (d := first_difference(mem.flags, ref.flags)) is None, f"flags {d}"
    allocated = ~np.isin(mem.kind, (K_FREE, K_PCP, K_TARGET, K_HOLE))
    assert (d := first_difference(mem.token, ref.token, allocated)) is None, f"token {d}"
    assert (d := first_difference(mem.aux, ref.aux, allocated)) is None, f"aux {d}"
    assert mem.pb_mt.tolist() == ref.pb_mt
    assert mem.pb_skip.tolist() == ref.pb_skip
    assert engine_free_lists(sim) == ref.free_lists()
    assert engine_pcp_lists(sim) == ref.pcp_lists()
    assert engine_violations(sim) == ref.violations
    assert [d.to_dict() for d in sim.k.drivers] == [d.to_dict() for d in ref.drivers]
    for z, rz in zip(mem.zones, ref.zones, strict=True):
        assert z.nr_free_pages == rz.nr_free_pages
        assert z.compact_cached_migrate_pfn == rz.cached_migrate_pfn
        assert z.compact_cached_free_pfn == rz.cached_free_pfn
    assert sim.k.nr_isolated == ref.nr_isolated == 0


PROFILES = ("v4.8", "v6.18")

CASES = {
    "lru only, pcp on": dict(mix={"anon": 0.6, "file": 0.4}),
    "lru only, pcp off": dict(mix={"anon": 0.6, "file": 0.4}, pcp="off"),
    "mixed kinds, few free pages": dict(free=0.15, blocks=6),
    "mostly free, scattered": dict(free=0.7, fragmentation=1.0, blocks=3),
    "free memory at the top": dict(free=0.4, fragmentation=0.0),
    "locked, writeback and dirty pages": dict(
        flags={"locked": 0.1, "writeback": 0.1, "dirty": 0.2, "unevictable": 0.05}
    ),
    "transient refcount -EAGAIN on LRU pages": dict(lru_eagain_rate=0.3, pcp="off"),
    "small pcp that drains often": dict(pcp_high=8, pcp_batch=3, blocks=4),
    "two zones": dict(zones=[{"name": "DMA32", "pages": 1024}, {"name": "Normal", "pages": 2048}]),
    "driver with -EAGAIN and -EBUSY": dict(
        drivers=[{"name": "drv", "pages": 300, "migrate": {"EAGAIN": 0.3, "EBUSY": 0.1}}]
    ),
    "driver refusing isolation": dict(
        drivers=[{"name": "drv", "pages": 200, "isolate_refuse_rate": 0.3}]
    ),
    "driver with an -EAGAIN injection storm": dict(
        drivers=[
            {
                "name": "drv",
                "pages": 300,
                "injection": {"probability": 60, "errno": "EAGAIN", "interval": 2, "times": 500},
            }
        ]
    ),
    "driver with -EBUSY injection in a pfn range": dict(
        drivers=[
            {
                "name": "drv",
                "pages": 300,
                "injection": {"probability": 100, "errno": "EBUSY", "pfn_start": 0, "pfn_end": 900},
            }
        ]
    ),
    "driver that always returns -EAGAIN": dict(
        drivers=[{"name": "drv", "pages": 40, "migrate": {"EAGAIN": 1.0}}], free=0.5
    ),
    "buggy driver losing pages and not copying": dict(
        drivers=[
            {
                "name": "bad",
                "pages": 200,
                "migrate": {"EAGAIN": 0.2, "EBUSY": 0.2},
                "buggy": ["no_copy", "lose_on_putback", "touch_lru_isolated"],
            }
        ]
    ),
    "two drivers and LRU flags": dict(
        drivers=[
            {"name": "a", "pages": 150, "migrate": {"EAGAIN": 0.2}},
            {"name": "b", "pages": 150, "placement": "clustered", "migrate": {"EINVAL": 0.1}},
        ],
        flags={"locked": 0.05, "writeback": 0.05, "dirty": 0.1},
        blocks=8,
    ),
}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("case", list(CASES))
def test_compact_memory_matches_reference(case: str, profile: str) -> None:
    """compact_memory (§2.2: order -1, SYNC, ignore_skip_hint) gives the same pages, free
    lists, counters and trace in the engine and in the per-page reference."""
    sim, ref = run_both(scenario(profile, **CASES[case]), seed=7)
    assert_agree(sim, ref)
    # the comparison is not vacuous: pages did move
    assert ref.vmstat["pgmigrate_success"] > 0 or CASES[case].get("free", 0.3) >= 0.7


def test_forget_clear_movable_matches_reference_in_v48() -> None:
    """The v4.8-only buggy mode (§6: __ClearPageMovable) is reported identically."""
    raw = scenario(
        "v4.8",
        drivers=[{"name": "bad", "pages": 200, "buggy": ["forget_clear_movable"]}],
    )
    sim, ref = run_both(raw, seed=3)
    assert_agree(sim, ref)
    assert any(mode == "forget_clear_movable" for _, mode in ref.violations)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    profile=st.sampled_from(PROFILES),
    blocks=st.integers(2, 16),
    free=st.floats(0.05, 0.8),
    fragmentation=st.floats(0.0, 1.0),
    pcp=st.sampled_from(["simple", "off"]),
    driver_pages=st.integers(0, 200),
    eagain=st.floats(0.0, 0.5),
    ebusy=st.floats(0.0, 0.3),
    locked=st.floats(0.0, 0.2),
    writeback=st.floats(0.0, 0.2),
    lru_eagain=st.sampled_from([0.0, 0.0, 0.2]),
    kcompactd_order=st.sampled_from([None, None, 9, 9, 4, 2, 10]),
    direct=st.sampled_from([None, None, (9, 1), (9, 0), (4, 1), (10, 2)]),
    two_zones=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_random_small_zones_match_reference(
    profile,
    blocks,
    free,
    fragmentation,
    pcp,
    driver_pages,
    eagain,
    ebusy,
    locked,
    writeback,
    lru_eagain,
    kcompactd_order,
    direct,
    two_zones,
    seed,
) -> None:
    """Generated fragmented layouts of 2-16 pageblocks agree with the reference, for
    compact_memory, kcompactd wake-ups and direct compaction of several orders and
    migratetypes at every priority (§1-§3, §2.2, §2.12)."""
    drivers = []
    if driver_pages:
        drivers.append(
            {"name": "drv", "pages": driver_pages, "migrate": {"EAGAIN": eagain, "EBUSY": ebusy}}
        )
    raw = scenario(
        profile,
        blocks=blocks,
        free=free,
        fragmentation=fragmentation,
        pcp=pcp,
        drivers=drivers,
        flags={"locked": locked, "writeback": writeback, "dirty": 0.1},
        lru_eagain_rate=lru_eagain,
        kcompactd_order=kcompactd_order,
        zones=[
            {"name": "DMA32", "pages": 512 * (1 + blocks // 2)},
            {"name": "Normal", "pages": 512 * (1 + (blocks + 1) // 2)},
        ]
        if two_zones
        else None,
    )
    if direct is None:
        sim, ref = run_both(raw, seed)
        assert_agree(sim, ref)
        return
    order, mt = direct
    raw["timeline"] = []
    sim = Simulation(Scenario.from_dict(raw), seed=seed, profile=profile)
    ref = ReferenceKernel(sim)
    for prio in [2, 1, 1, 0] if profile == "v6.18" else [1, 0, 0]:
        assert engine_try_to_compact_pages(sim, order, mt, prio) == ref.try_to_compact_pages(
            order, mt, prio
        )
        assert_agree(sim, ref)


KCOMPACTD_CASES = {
    "fragmented LRU zone": dict(free=0.4, fragmentation=0.95, blocks=8),
    "fragmented, pcp off": dict(free=0.4, fragmentation=0.95, blocks=8, pcp="off"),
    "little free memory": dict(free=0.12, fragmentation=1.0, blocks=8),
    "mixed kinds and flags": dict(
        free=0.35,
        blocks=12,
        flags={"locked": 0.1, "writeback": 0.1, "dirty": 0.2},
        mix={"anon": 0.5, "file": 0.3, "unmovable": 0.1, "reclaimable": 0.1},
    ),
    "driver with -EAGAIN and -EBUSY": dict(
        free=0.4,
        blocks=8,
        drivers=[{"name": "drv", "pages": 300, "migrate": {"EAGAIN": 0.3, "EBUSY": 0.1}}],
    ),
    "two zones": dict(
        free=0.4,
        zones=[{"name": "DMA32", "pages": 2048}, {"name": "Normal", "pages": 4096}],
    ),
}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("case", list(KCOMPACTD_CASES))
@pytest.mark.parametrize("order", [9, 4])
def test_kcompactd_matches_reference(case: str, profile: str, order: int) -> None:
    """A kcompactd wake-up (§2.12: SYNC_LIGHT, deferral, suitability §2.8, compact_finished
    §2.7, and in 6.18 the fast free-list searches §2.4/§2.6) agrees with the reference."""
    sim, ref = run_both(scenario(profile, kcompactd_order=order, **KCOMPACTD_CASES[case]), seed=5)
    assert_agree(sim, ref)


def engine_try_to_compact_pages(sim: Simulation, order: int, mt: int, prio: int) -> int:
    """Drive the engine's direct-compaction job for one priority and stop before the
    allocation and retry logic of the slow path (which is the allocator, not compaction)."""
    from simulator.engine import Job

    zones = [z.index for z in reversed(sim.k.mem.zones) if z.present]
    job = Job("direct", zones, order=order, migratetype=mt, prio=prio)
    sim._direct_done = lambda job: None
    sim.jobs = [job]
    n = 0
    while job in sim.jobs:
        sim._advance_job(job)
        n += 1
        assert n < 1_000_000
    return job.rc


DIRECT_CASES = {
    "fragmented LRU zone": dict(free=0.4, fragmentation=0.95, blocks=8),
    "pcp off": dict(free=0.4, fragmentation=0.95, blocks=8, pcp="off"),
    "locked, dirty and writeback pages": dict(
        free=0.4, blocks=8, flags={"locked": 0.1, "writeback": 0.1, "dirty": 0.3}
    ),
    "unmovable pollution": dict(
        free=0.35,
        blocks=12,
        mix={"anon": 0.5, "file": 0.2, "unmovable": 0.2, "reclaimable": 0.1},
    ),
    "driver with -EAGAIN and -EBUSY": dict(
        free=0.4,
        blocks=8,
        drivers=[{"name": "drv", "pages": 300, "migrate": {"EAGAIN": 0.3, "EBUSY": 0.1}}],
    ),
    "two zones": dict(
        free=0.4, zones=[{"name": "DMA32", "pages": 2048}, {"name": "Normal", "pages": 4096}]
    ),
    "mostly free, pcp off": dict(free=0.75, fragmentation=0.6, blocks=8, pcp="off"),
}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("case", list(DIRECT_CASES))
@pytest.mark.parametrize("mt", [1, 0])
def test_direct_compaction_matches_reference(case: str, profile: str, mt: int) -> None:
    """try_to_compact_pages at order 9 (§2.2: ASYNC with skip_on_failure and PF_MEMALLOC,
    then SYNC_LIGHT, deferral §2.10, 6.18 compaction_capture §3.2) agrees with the
    reference priority by priority."""
    raw = scenario(profile, **DIRECT_CASES[case])
    raw["timeline"] = []
    sim = Simulation(Scenario.from_dict(raw), seed=9, profile=profile)
    ref = ReferenceKernel(sim)
    # ASYNC, then SYNC_LIGHT twice (deferral), then 6.18's SYNC_FULL (whole zone,
    # ignore_skip_hint, ignore_block_suitable, no deferral)
    prios = [2, 1, 1, 0] if profile == "v6.18" else [1, 0, 0]
    for prio in prios:
        rc_engine = engine_try_to_compact_pages(sim, 9, mt, prio)
        rc_ref = ref.try_to_compact_pages(9, mt, prio)
        assert_agree(sim, ref)
        assert rc_engine == rc_ref


@pytest.mark.parametrize("profile", PROFILES)
def test_bench_layout_of_256_mib_matches_reference(profile: str) -> None:
    """The benchmark's fragmented layout (simulator.bench, here 256 MiB) compacted through
    compact_memory agrees with the reference: long free lists, many pcp drains (§2.16)."""
    from simulator.bench import bench_scenario

    sim = Simulation(bench_scenario(0.25, profile), seed=1, profile=profile)
    ref = compact_memory_reference(sim)
    while not sim.done:
        sim.step(4096)
    assert_agree(sim, ref)
    assert ref.vmstat["pgmigrate_success"] > 10_000


@pytest.mark.parametrize("proactiveness", [20, 60, 90])
@pytest.mark.parametrize("case", ["fragmented LRU zone", "two zones", "mostly free, pcp off"])
def test_proactive_compaction_matches_reference(case: str, proactiveness: int) -> None:
    """6.18 proactive compaction (§2.13: compact_node(proactive), SYNC_LIGHT, stopping per
    zone once the unweighted score is at or below 100 - proactiveness) agrees with the
    reference, daemon scan counters included (§2.15)."""
    from simulator.engine import Job

    raw = scenario("v6.18", **DIRECT_CASES[case])
    raw["timeline"] = []
    raw["sysctl"]["compaction_proactiveness"] = proactiveness
    sim = Simulation(Scenario.from_dict(raw), seed=3, profile="v6.18")
    ref = ReferenceKernel(sim)
    zones = [z.index for z in sim.k.mem.zones if z.present]
    job = Job("proactive", zones, stats={"prev_score": sim.c.fragmentation_score_node()})
    sim.jobs = [job]
    while job in sim.jobs:
        sim._advance_job(job)
    ref.proactive_compact_node()
    assert_agree(sim, ref)
    ends = [text for event, text in ref.trace if event == "mm_compaction_end"]
    assert ends, "no compact_zone ran"


def run_timeline_both(raw: dict, seed: int) -> tuple[Simulation, ReferenceKernel]:
    """The engine runs the scenario's timeline; the reference runs the same actions one
    after the other. Events are far enough apart that the engine finishes each action's
    compaction first; this is checked, so a comparison never rests on a different order."""
    sim = Simulation(Scenario.from_dict(raw), seed=seed, profile=raw["profile"])
    ref = ReferenceKernel(sim)
    apply = sim._apply

    def apply_when_idle(ev: dict) -> None:
        assert not sim.jobs, f"{ev['action']} fired while compaction was still running"
        apply(ev)

    sim._apply = apply_when_idle
    n = 0
    while not sim.done:
        sim.step(512)
        n += 1
        assert n < 100_000
    ref.run_timeline(sim.scenario.data["timeline"])  # the validated events, defaults filled
    return sim, ref


def workload(profile: str, events: list[tuple], **kw) -> dict:
    raw = scenario(profile, **kw)
    raw["kcompactd"] = True
    raw["timeline"] = [{"at_ms": 10_000 * i, **ev} for i, ev in enumerate(events)]
    return raw


WORKLOADS = {
    "allocations and frees of every type": [
        {"action": "alloc", "count": 300, "order": 0, "type": "unmovable"},
        {"action": "free", "count": 200, "type": "movable"},
        {"action": "alloc", "count": 40, "order": 2, "type": "reclaimable"},
        {"action": "alloc", "count": 200, "order": 0, "type": "movable"},
        {"action": "compact_memory"},
        {"action": "free", "count": 100, "type": "unmovable"},
    ],
    "THP allocations: direct compaction, kcompactd, capture": [
        {"action": "alloc_high_order", "order": 9, "count": 2, "type": "movable"},
        {"action": "free", "count": 300, "type": "movable"},
        {"action": "alloc_high_order", "order": 9, "count": 3, "type": "movable"},
        {"action": "alloc_high_order", "order": 4, "count": 4, "type": "unmovable"},
    ],
    "balloon inflate and deflate around compaction": [
        {"action": "balloon_inflate", "driver": "drv", "pages": 300},
        {"action": "kcompactd_wake", "order": 9},
        {"action": "balloon_deflate", "driver": "drv", "pages": 150},
        {"action": "alloc_high_order", "order": 9, "count": 1, "type": "movable"},
    ],
}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("pcp", ["simple", "off"])
@pytest.mark.parametrize("name", list(WORKLOADS))
def test_timeline_workloads_match_reference(name: str, pcp: str, profile: str) -> None:
    """Whole timelines agree with the reference: allocation with fallback and stealing
    (§3.3, §3.4), frees through the pcp lists (§2.16), the allocation slow path with direct
    compaction, capture and kcompactd (§2.2, §2.12), balloon pages (§6)."""
    raw = workload(
        profile,
        WORKLOADS[name],
        free=0.45,
        blocks=10,
        pcp=pcp,
        mix={"anon": 0.5, "file": 0.3, "unmovable": 0.15, "reclaimable": 0.05},
        drivers=[{"name": "drv", "pages": 100, "migrate": {"EAGAIN": 0.2, "EBUSY": 0.05}}],
    )
    sim, ref = run_timeline_both(raw, seed=21)
    assert_agree(sim, ref)


event_st = st.one_of(
    st.builds(
        dict,
        action=st.just("alloc"),
        count=st.integers(1, 400),
        order=st.sampled_from([0, 0, 1, 3, 5]),
        type=st.sampled_from(["movable", "unmovable", "reclaimable"]),
    ),
    st.builds(
        dict,
        action=st.just("free"),
        count=st.integers(1, 400),
        type=st.sampled_from(["movable", "unmovable", "reclaimable"]),
    ),
    st.builds(
        dict,
        action=st.just("alloc_high_order"),
        order=st.sampled_from([9, 9, 4, 10, 2]),
        count=st.integers(1, 3),
        type=st.sampled_from(["movable", "movable", "unmovable"]),
    ),
    st.builds(dict, action=st.just("kcompactd_wake"), order=st.sampled_from([9, 4, 1])),
    st.builds(dict, action=st.just("compact_memory")),
    st.builds(
        dict,
        action=st.just("sysctl"),
        name=st.just("extfrag_threshold"),
        value=st.sampled_from([0, 300, 1000]),
    ),
    st.builds(
        dict,
        action=st.just("sysctl"),
        name=st.just("compact_unevictable_allowed"),
        value=st.sampled_from([0, 1]),
    ),
    st.builds(
        dict,
        action=st.just("inject"),
        driver=st.just("drv"),
        injection=st.builds(
            dict,
            probability=st.sampled_from([0, 30, 100]),
            errno=st.sampled_from(["EAGAIN", "EBUSY", "EINVAL"]),
            interval=st.integers(1, 3),
            times=st.sampled_from([-1, 3, 20]),
        ),
    ),
    st.builds(
        dict,
        action=st.sampled_from(["balloon_inflate", "balloon_deflate"]),
        driver=st.just("drv"),
        pages=st.integers(1, 200),
    ),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    profile=st.sampled_from(PROFILES),
    blocks=st.integers(2, 12),
    free=st.floats(0.1, 0.8),
    fragmentation=st.floats(0.0, 1.0),
    pcp=st.sampled_from(["simple", "off"]),
    events=st.lists(event_st, min_size=1, max_size=6),
    seed=st.integers(0, 2**16),
)
def test_random_timelines_match_reference(
    profile, blocks, free, fragmentation, pcp, events, seed
) -> None:
    """Random timelines of allocations, frees, THP requests, kcompactd wake-ups, balloon
    changes and compact_memory agree with the reference (§1-§3, §2.2, §2.12)."""
    raw = workload(
        profile,
        events,
        flags={"unevictable": 0.1, "locked": 0.05, "dirty": 0.1},
        blocks=blocks,
        free=free,
        fragmentation=fragmentation,
        pcp=pcp,
        mix={"anon": 0.5, "file": 0.3, "unmovable": 0.15, "reclaimable": 0.05},
        drivers=[{"name": "drv", "pages": 50, "migrate": {"EAGAIN": 0.2, "EBUSY": 0.05}}],
    )
    sim, ref = run_timeline_both(raw, seed)
    assert_agree(sim, ref)


def explicit(profile: str, pages: int, ranges: list[dict], **kw) -> dict:
    raw = scenario(profile, blocks=pages // 512, **kw)
    raw["layout"] = {"mode": "explicit", "ranges": ranges, "locked": 0.05, "dirty": 0.1}
    return raw


EXPLICIT_LAYOUTS = {
    "THP-sized and small compound pages, a hole, reserved pages": (
        4096,
        [
            {"start": 0, "count": 300, "kind": "anon"},
            {"start": 320, "count": 64, "kind": "compound", "order": 4},
            {"start": 512, "count": 512, "kind": "compound", "order": 9},
            {"start": 1100, "count": 200, "kind": "file"},
            {"start": 1400, "count": 40, "kind": "reserved"},
            {"start": 1536, "count": 512, "kind": "hole"},
            {"start": 2100, "count": 700, "kind": "anon"},
            {"start": 2900, "count": 20, "kind": "unmovable"},
            {"start": 3000, "count": 100, "kind": "pinned"},
        ],
    ),
    "order-10 compound page and scattered anon": (
        4096,
        [
            {"start": 0, "count": 1024, "kind": "compound", "order": 10},
            {"start": 1100, "count": 900, "kind": "anon"},
            {"start": 2500, "count": 300, "kind": "file"},
        ],
    ),
}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("name", list(EXPLICIT_LAYOUTS))
@pytest.mark.parametrize("what", ["compact_memory", "kcompactd", "direct"])
def test_explicit_layouts_with_compound_pages_and_holes_match_reference(
    what: str, name: str, profile: str
) -> None:
    """Compound pages are skipped whole by both scanners (§2.5, §2.6; 6.18 pageblock skip
    persistence for order >= 9, §2.4), holes invalidate their pageblocks and reserved or
    pinned pages fail isolation; engine and reference agree on all of it."""
    pages, ranges = EXPLICIT_LAYOUTS[name]
    raw = explicit(profile, pages, ranges, pcp="off")
    if what == "kcompactd":
        raw["kcompactd"] = True
        raw["timeline"] = [{"at_ms": 0, "action": "kcompactd_wake", "order": 9}]
        sim, ref = run_both(raw, seed=2)
        assert_agree(sim, ref)
    elif what == "compact_memory":
        sim, ref = run_both(raw, seed=2)
        assert_agree(sim, ref)
    else:
        raw["timeline"] = []
        sim = Simulation(Scenario.from_dict(raw), seed=2, profile=profile)
        ref = ReferenceKernel(sim)
        for prio in [2, 1, 0] if profile == "v6.18" else [1, 0]:
            assert engine_try_to_compact_pages(sim, 9, 1, prio) == ref.try_to_compact_pages(
                9, 1, prio
            )
            assert_agree(sim, ref)


def restart_layout(profile: str) -> dict:
    """An order-10 compound page over pageblocks 0-1, a hole as pageblock 3, and one
    unmovable page in each of the other pageblocks, so that no order-9 page can be made."""
    ranges = [
        {"start": 0, "count": 1024, "kind": "compound", "order": 10},
        {"start": 1536, "count": 512, "kind": "hole"},
    ]
    for block in (2, 4, 5, 6, 7):
        ranges.append({"start": block * 512, "count": 260, "kind": "anon"})
        ranges.append({"start": block * 512 + 400, "count": 1, "kind": "unmovable"})
    return explicit(profile, 4096, ranges, pcp="off")


TWO_ZONES = [{"name": "DMA32", "pages": 2048}, {"name": "Normal", "pages": 2560}]

RESTART_CASES = {
    # layout (None: restart_layout()), seed, movable pages freed before the restarting
    # attempt, and whether kswapd goes to sleep (reset_isolation_suitable(pgdat)) first
    "fragmented zone, pages freed": (DIRECT_CASES["pcp off"], 9, 150, False),
    "fragmented zone, nothing freed": (DIRECT_CASES["pcp off"], 9, 0, False),
    "kswapd resets first": (DIRECT_CASES["pcp off"], 9, 150, True),
    "order-10 compound page and a hole": (None, 9, 100, False),
    # found with random layouts: in 6.18 the first needs the 1-in-8 sample of
    # __reset_isolation_pfn(), the second its MOVABLE-only free scanner restart point
    "sampled LRU pages": (dict(blocks=8, free=0.49, fragmentation=0.97, pcp="off"), 1363, 0, False),
    "free pages in a non-movable block": (
        dict(blocks=9, free=0.27, fragmentation=0.66),
        42,
        50,
        False,
    ),
    "two zones": (dict(free=0.4, fragmentation=0.73, zones=TWO_ZONES), 8764, 0, False),
}


def zone_compaction_state(zones: list, engine: bool) -> list[tuple]:
    """The per-zone state of §2.1 and §2.10 that assert_agree() does not compare."""
    if engine:
        return [
            (
                z.compact_init_migrate_pfn,
                z.compact_init_free_pfn,
                z.compact_blockskip_flush,
                z.compact_considered,
                z.compact_defer_shift,
                z.compact_order_failed,
            )
            for z in zones
        ]
    return [
        (
            z.init_migrate_pfn,
            z.init_free_pfn,
            z.blockskip_flush,
            z.considered,
            z.defer_shift,
            z.order_failed,
        )
        for z in zones
    ]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("case", list(RESTART_CASES))
def test_compaction_restarting_reset_matches_reference(case: str, profile: str) -> None:
    """Failed SYNC_LIGHT direct compactions at order 9 defer the zone six times (§2.10);
    after the 63 attempts skipped at the capped shift, the 64th finds
    compaction_restarting() true and calls __reset_isolation_suitable() (§2.11): 4.8
    clears every skip bit; 6.18 acts only if compact_blockskip_flush is still set (by
    the last direct compaction whose scanners met, unless kswapd's reset consumed it),
    then samples the pageblocks from both ends for the restart points and
    compact_init_*_pfn. Engine and reference agree on that attempt and on the ones after
    it (6.18 SYNC_FULL, then SYNC_LIGHT again)."""
    kw, seed, nr_free, kswapd_first = RESTART_CASES[case]
    raw = scenario(profile, **kw) if kw is not None else restart_layout(profile)
    raw["timeline"] = []
    sim = Simulation(Scenario.from_dict(raw), seed=seed, profile=profile)
    assert not sim.kcompactd_enabled  # sim.kswapd_sleep() wakes nothing
    ref = ReferenceKernel(sim)
    # a spy on the reference's reset: this scenario must reach it
    resets = []
    reset = ref.reset_isolation_suitable

    def spy(z) -> None:
        flush, before = z.blockskip_flush, list(ref.pb_skip)
        reset(z)
        resets.append((flush, before, list(ref.pb_skip)))

    ref.reset_isolation_suitable = spy
    sync_light = 1 if profile == "v6.18" else 0
    z, ez = ref.zones[-1], sim.k.mem.zones[-1]
    attempts = 0
    while not (z.defer_shift == COMPACT_MAX_DEFER_SHIFT and z.considered == 63):
        rc = engine_try_to_compact_pages(sim, 9, 1, sync_light)
        assert rc == ref.try_to_compact_pages(9, 1, sync_light)
        attempts += 1
    # six compactions that failed, with 1, 3, 7, 15, 31 and 63 deferred attempts after them
    assert attempts == 6 + 1 + 3 + 7 + 15 + 31 + 63
    assert not resets and z.blockskip_flush and ez.compact_blockskip_flush
    assert_agree(sim, ref)
    if kswapd_first:
        sim.kswapd_sleep(9)
        for rz in ref.zones:  # reset_isolation_suitable(pgdat)
            if rz.present and rz.blockskip_flush:
                ref.reset_isolation_suitable(rz)
        assert len(resets) == 1 and not z.blockskip_flush
        assert_agree(sim, ref)
        assert zone_compaction_state(sim.k.mem.zones, True) == zone_compaction_state(
            ref.zones, False
        )
        resets.clear()
    if nr_free:
        sim._free(nr_free, "movable")
        ref.free_random(nr_free, FREE_KINDS["movable"], None)
    for i, prio in enumerate([sync_light, 0, sync_light] if profile == "v6.18" else [0, 0]):
        rc = engine_try_to_compact_pages(sim, 9, 1, prio)
        assert rc == ref.try_to_compact_pages(9, 1, prio)
        if i == 0:
            # the 64th attempt reached the reset, once; with compact_blockskip_flush set
            # unless kswapd's reset came first, and then 6.18's reset changes nothing
            ((flush, before, after),) = resets
            assert flush == (not kswapd_first)
            if profile == "v6.18":
                assert (after != before) == flush
            else:
                assert not any(after)
        assert_agree(sim, ref)
        assert zone_compaction_state(sim.k.mem.zones, True) == zone_compaction_state(
            ref.zones, False
        )
    if profile == "v6.18" and nr_free and not kswapd_first:
        # compact_init_free_pfn is written only by __reset_isolation_suitable(): the
        # engine's reset found the same free scanner restart point
        assert ez.compact_init_free_pfn == z.init_free_pfn > 0
