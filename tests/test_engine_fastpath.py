"""The compaction fast forward (`Simulation.fast_forward`) changes nothing observable.

With `fast_forward = True` the engine may compute several ticks of a full compaction
(compact_memory: simulator/fastpath.py in v6.18, simulator/fastpath48.py in v4.8) at once
in numpy; with `fast_forward = False` it runs the plain tick-by-tick engine. Every test
here runs the same scenario, seed and profile in both modes and requires them to be
indistinguishable: the same StepResults step for step (pfns, display states, tick, time,
events, done), the same pages, free lists, pcp lists and pageblock bits, the same trace,
counters, per-page history log, reports, metrics, driver statistics, scheduler state and
random-generator state, and (mid-run) the same compact_control state, so a snapshot taken
in one mode continues identically in the other.

The fast path takes over only in the states it models, so the tests also check that the
runs migrate pages (pgmigrate_success) and, where the fast path is expected, that it ran
(fewer ticks through Compactor.tick than in the exact engine).
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from simulator import PRESETS, Scenario, ScenarioError, Simulation
from simulator.arrays import offsets, ranges
from simulator.bench import bench_scenario
from simulator.constants import K_COMPOUND_HEAD, K_COMPOUND_TAIL, K_DRIVER, K_HOLE, K_TARGET
from simulator.fastpath import _Column, _stable_order, bad_kinds
from simulator.freelist import FreeList
from simulator.kernel import COST_TICK
from simulator.procfs import REPORTS
from tests.test_determinism import drive_with_live_changes, final_state

PROFILES = ("v4.8", "v6.18")
MAX_STEPS = 200_000
STEP_SIZES = (1, 7, 64, 256)
# a fixed "random" mixture, so the step tests are reproducible
MIXED_SIZES = tuple(
    random.Random(2024).choice((1, 2, 3, 5, 7, 16, 64, 100, 256, 1000)) for _ in range(29)
)

# -- cases: presets and benchmark zones in both profiles ---------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[], Scenario]
    profile: str
    seed: int
    migrates: bool  # the run must migrate pages (guards against vacuous comparisons)
    compact_memory: bool  # the timeline has a compact_memory (the fast path's target)
    fast_expected: bool = False  # the fast path must take over some ticks of this run


def _preset(name: str) -> Callable[[], Scenario]:
    return lambda: Scenario.from_dict(PRESETS[name])


def _bench(gib: float, profile: str) -> Callable[[], Scenario]:
    return lambda: bench_scenario(gib, profile)


def _has_compact_memory(raw: dict) -> bool:
    tl = raw.get("timeline") or [{"action": "compact_memory"}]
    return any(ev.get("action") == "compact_memory" for ev in tl)


PRESET_CASES = [
    Case(
        f"{name}-{profile}",
        _preset(name),
        profile,
        11,
        # proactive compaction does not exist in v4.8: that run only frees pages
        not (name == "proactive" and profile == "v4.8"),
        _has_compact_memory(PRESETS[name]),
        # plain LRU zones compacted by compact_memory: the fast path's home ground (the
        # 4.8 unmovable_pollution zones are too small for it)
        (profile, name) in (("v6.18", "lru_only"), ("v6.18", "unmovable_pollution"))
        or (profile, name) == ("v4.8", "lru_only"),
    )
    for name in sorted(PRESETS)
    for profile in PROFILES
]
BENCH_CASES = [
    Case(f"bench-{gib:g}GiB-{profile}", _bench(gib, profile), profile, 1, True, True, True)
    for profile in ("v6.18", "v4.8")
    for gib in (0.0625, 0.25)
]
CASES = PRESET_CASES + BENCH_CASES
V618_CASES = [c for c in CASES if c.profile == "v6.18"]
V48_BENCH_CASES = [c for c in BENCH_CASES if c.profile == "v4.8"]
COMPACT_CASES = [c for c in CASES if c.compact_memory]


def build(scenario: Scenario | dict, profile: str, seed: int, fast: bool) -> Simulation:
    sc = scenario if isinstance(scenario, Scenario) else Scenario.from_dict(scenario)
    sim = Simulation(sc, seed=seed, profile=profile)
    sim.fast_forward = fast
    return sim


def build_pair(case: Case) -> tuple[Simulation, Simulation]:
    """(exact, fast) simulations of a case; a preset invalid in a profile is skipped."""
    try:
        return (
            build(case.make(), case.profile, case.seed, False),
            build(case.make(), case.profile, case.seed, True),
        )
    except ScenarioError as e:
        pytest.skip(f"{case.id} is not valid: {e}")


# -- observation --------------------------------------------------------------------------------

HISTORY_DTYPE = np.dtype([("t", "<i8"), ("pfn", "<u4"), ("code", "u1"), ("arg", "<i8")])
FINAL_FIELDS = (
    "page kind",
    "page flags",
    "aux of used pages",
    "token of used pages",
    "aux (order/type) of free heads",
    "buddy free lists",
    "pcp lists",
    "pageblock migratetypes",
    "pageblock skip bits",
    "trace",
    "counters",
    "buddyinfo",
)
# the compact_control fields as the tick-by-tick engine defines them; a field the fast
# path adds for its own bookkeeping is deliberately not compared
CC_FIELDS = (
    "zone",
    "order",
    "mode",
    "migratetype",
    "source",
    "direct",
    "whole_zone",
    "ignore_skip_hint",
    "ignore_block_suitable",
    "proactive",
    "memalloc",
    "wmark",
    "migrate_pfn",
    "free_pfn",
    "last_migrated_pfn",
    "migratepages",
    "freepages",
    "freepages_618",
    "nr_freepages",
    "nr_migratepages",
    "contended",
    "finish_pageblock",
    "fast_search_fail",
    "fast_start_pfn",
    "search_order",
    "total_migrate_scanned",
    "total_free_scanned",
    "update_cached",
    "phase",
    "result",
    "captured",
    "rescan",
)
ZONE_FIELDS = (
    "present",
    "nr_free_pages",
    "wmark_min",
    "wmark_low",
    "wmark_high",
    "pcp_count",
    "compact_cached_migrate_pfn",
    "compact_cached_free_pfn",
    "compact_init_migrate_pfn",
    "compact_init_free_pfn",
    "compact_blockskip_flush",
    "compact_considered",
    "compact_defer_shift",
    "compact_order_failed",
)


def history_log(sim: Simulation, since: int = 0) -> np.ndarray:
    """The per-page history log (simulator/history.py) as one record per entry: all of it,
    or the entries added after the first `since` ever added (dropped ones included)."""
    h = sim.k.history
    new = max(0, len(h) + h.dropped - since)
    start = max(0, len(h) - new)
    out = np.empty(len(h) - start, dtype=HISTORY_DTYPE)
    # np.array copies: a live buffer view would stop the log's arrays from growing
    out["t"] = np.array(h.t[start:], dtype=np.int64)
    out["pfn"] = np.array(h.pfn[start:], dtype=np.uint32)
    out["code"] = np.array(h.code[start:], dtype=np.uint8)
    out["arg"] = np.array(h.arg[start:], dtype=np.int64)
    return out


def history_total(sim: Simulation) -> int:
    """Entries ever added to the history log."""
    return len(sim.k.history) + sim.k.history.dropped


def _plain(v):
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (list, tuple, deque)):
        return [_plain(x) for x in v]
    return v


def cc_state(cc) -> dict | None:
    if cc is None:
        return None
    return {f: _plain(getattr(cc, f)) for f in CC_FIELDS}


def observe_mid(sim: Simulation, history_since: int = 0) -> dict[str, object]:
    """What can be seen (or carried in a snapshot) between two steps. Of the history log,
    the length, the entries dropped and the entries added after the first history_since
    (callers comparing step by step pass what both logs had already been shown equal
    for, so a long run is not compared over and over)."""
    k = sim.k
    return {
        "tick_count": sim.tick_count,
        "time_ns": sim.time_ns,
        "done": sim.done,
        "counters": sim.counters(),
        "metrics": json.loads(json.dumps(sim.metrics(), default=int)),
        "history length": len(k.history),
        "history dropped": k.history.dropped,
        "history log (new entries)" if history_since else "history log": history_log(
            sim, history_since
        ),
        "violations": json.loads(json.dumps(k.violations, default=int)),
        "drivers": [
            {**d.to_dict(), "injection": dataclasses.asdict(d.injection)} for d in k.drivers
        ],
        "zones": [{f: _plain(getattr(z, f)) for f in ZONE_FIELDS} for z in k.mem.zones],
        "scheduler": {
            "tl_index": sim.tl_index,
            "outcomes": dict(sim.outcomes),
            "alloc_failures": sim.alloc_failures,
            "kcompactd_max_order": sim.kcompactd_max_order,
            "next_proactive_ns": sim.next_proactive_ns,
            "proactive_defer": sim.proactive_defer,
        },
        "jobs": [
            {
                "kind": j.kind,
                "zones": list(j.zones),
                "order": j.order,
                "migratetype": j.migratetype,
                "prio": j.prio,
                "retries": j.retries,
                "count": j.count,
                "zi": j.zi,
                "rc": j.rc,
                "stats": repr(sorted(j.stats.items())),
            }
            for j in sim.jobs
        ],
        "compact_control (internal, carried by snapshots)": [cc_state(j.cc) for j in sim.jobs],
        "kernel": {
            "next_token": k.next_token,
            "nr_isolated": k.nr_isolated,
            "sysctl": dict(k.sysctl),
            "lru_written": sorted(k.lru_written),
            "capture": k.mem.capture,
            "captured": int(k.mem.captured),
        },
        "rng state": k.rng.bit_generator.state,
        "page kind": k.mem.kind.copy(),
        "page flags": k.mem.flags.copy(),
        "pageblock migratetypes": k.mem.pb_mt.copy(),
        "pageblock skip bits": k.mem.pb_skip.copy(),
    }


def observe_all(sim: Simulation) -> dict[str, object]:
    """Everything observable: observe_mid, final_state (tests/test_determinism.py) field by
    field, the full trace and every /proc report."""
    obs = observe_mid(sim)
    fs = final_state(sim)
    assert len(fs) == len(FINAL_FIELDS), "final_state changed shape: update FINAL_FIELDS"
    mem = sim.k.mem
    dtypes = {
        "page kind": mem.kind.dtype,
        "page flags": mem.flags.dtype,
        "aux of used pages": mem.aux.dtype,
        "token of used pages": mem.token.dtype,
        "aux (order/type) of free heads": mem.aux.dtype,
        "pageblock migratetypes": mem.pb_mt.dtype,
        "pageblock skip bits": mem.pb_skip.dtype,
    }
    for name, value in zip(FINAL_FIELDS, fs, strict=True):
        if name in dtypes:
            value = np.frombuffer(value, dtype=dtypes[name])
        elif name == "trace":
            value = list(value)
        obs[name] = value
    for name in REPORTS:
        obs[f"report {name}"] = sim.report(name)
    obs["final_state (tests/test_determinism.py)"] = fs
    return obs


# -- comparison with readable failures ----------------------------------------------------------


def _short(v, n: int = 400) -> str:
    s = repr(v)
    return s if len(s) <= n else s[: n - 3] + "..."


def _seq_diff(a: Sequence, b: Sequence) -> str:
    i = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    ea = _short(a[i]) if i < len(a) else "<ends>"
    eb = _short(b[i]) if i < len(b) else "<ends>"
    prev = f"\n    (line before: {_short(a[i - 1])})" if 0 < i <= len(a) else ""
    return (
        f"{len(a)} vs {len(b)} items; first difference at index {i}:"
        f"\n    exact: {ea}\n    fast:  {eb}{prev}"
    )


def _describe(a, b) -> str:
    if isinstance(a, np.ndarray):
        if a.shape != b.shape:
            n = min(len(a), len(b))
            same = np.flatnonzero(a[:n] != b[:n])
            i = int(same[0]) if len(same) else n
            return (
                f"length {len(a)} vs {len(b)}; first difference at index {i}: "
                f"exact={a[i] if i < len(a) else '<ends>'} fast={b[i] if i < len(b) else '<ends>'}"
            )
        diff = np.flatnonzero(a != b)
        i = int(diff[0])
        return (
            f"{len(diff)} of {len(a)} entries differ; first at index {i}: "
            f"exact={a[i]!r} fast={b[i]!r}"
        )
    if isinstance(a, str):
        return "lines " + _seq_diff(a.splitlines(), b.splitlines())
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(set(a) | set(b), key=str)
        bad = [key for key in keys if a.get(key, "<missing>") != b.get(key, "<missing>")]
        return "; ".join(
            f"[{key!r}] exact={_short(a.get(key, '<missing>'), 200)} "
            f"fast={_short(b.get(key, '<missing>'), 200)}"
            for key in bad[:6]
        )
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return _seq_diff(a, b)
    return f"exact={_short(a)} fast={_short(b)}"


def _equal(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and np.array_equal(a, b)
        )
    return a == b


def assert_same(exact: dict, fast: dict, where: str) -> None:
    assert exact.keys() == fast.keys()
    bad = [key for key in exact if not _equal(exact[key], fast[key])]
    if bad:
        details = "\n".join(f"  {key}: {_describe(exact[key], fast[key])}" for key in bad)
        pytest.fail(f"{where}: fast forward differs from the exact engine in {bad}:\n{details}")


def step_fields(res) -> dict[str, object]:
    return {
        "pfns": res.pfns,
        "states": res.states,
        "tick": res.tick,
        "time_ns": res.time_ns,
        # all of each event, including the trace line and a violation's details
        "events": [json.loads(json.dumps(e, sort_keys=True, default=repr)) for e in res.events],
        "done": res.done,
    }


def assert_same_step(exact_res, fast_res, where: str) -> None:
    assert_same(step_fields(exact_res), step_fields(fast_res), where)


def assert_same_end(exact: Simulation | dict, fast: Simulation, where: str) -> None:
    """Everything observable at the end is the same; `exact` may be given as its
    observe_all() already."""
    a = exact if isinstance(exact, dict) else observe_all(exact)
    b = observe_all(fast)
    # the trace first: its first differing line is usually the best clue
    if a["trace"] != b["trace"]:
        pytest.fail(f"{where}: trace differs: {_seq_diff(a['trace'], b['trace'])}")
    assert_same(a, b, where)


def lockstep(
    exact: Simulation,
    fast: Simulation,
    sizes: Sequence[int],
    where: str,
    *,
    live: Callable[[int, Simulation], None] | None = None,
    observe: bool = True,
    switch: Callable[[int], bool] | None = None,
    check: Callable[[Simulation, Simulation, str], None] | None = None,
) -> int:
    """Step both simulations by the same sizes (cycled) and compare every StepResult and,
    with observe, everything observable after every step; then compare the end. `live(i,
    sim)` makes the same live change to both before step i; `switch(i)` gives the fast
    simulation's fast_forward for step i; `check(exact, fast, where)` runs after each step.
    Returns the number of steps."""
    i = 0
    seen = 0  # history entries already shown equal
    while not (exact.done and fast.done):
        assert i < MAX_STEPS, f"{where}: did not finish"
        n = sizes[i % len(sizes)]
        if live is not None:
            live(i, exact)
            live(i, fast)
        if switch is not None:
            fast.fast_forward = switch(i)
        here = f"{where}, step {i} (by {n}, tick {exact.tick_count})"
        assert_same_step(exact.step(n), fast.step(n), here)
        if observe:
            assert_same(observe_mid(exact, seen), observe_mid(fast, seen), here)
            seen = history_total(exact)
        if check is not None:
            check(exact, fast, here)
        i += 1
    assert_same_end(exact, fast, f"{where}, at the end")
    return i


def assert_migrated(sim: Simulation, case: Case) -> None:
    if case.migrates:
        assert sim.counters()["pgmigrate_success"] > 0, f"{case.id}: nothing was migrated"


def count_compactor_ticks(sim: Simulation, calls: list[int] | None = None) -> list[int]:
    """Count the ticks that go through Compactor.tick (one per compact_zone() iteration in
    the exact engine; the fast path does its ticks without it). The Compactor is not part
    of a snapshot, so this instance-level wrapper never ends up in one."""
    calls = [0] if calls is None else calls
    tick = sim.c.tick

    def counting(cc):
        calls[0] += 1
        return tick(cc)

    sim.c.tick = counting
    return calls


def assert_fast_path_taken(case: Case, exact_calls: list[int], fast_calls: list[int]) -> None:
    """The fast path only ever replaces ticks; where it is expected, it replaced some (so
    the comparison is not of two identical code paths)."""
    assert fast_calls[0] <= exact_calls[0], "fast mode went through Compactor.tick more often"
    if case.fast_expected:
        assert fast_calls[0] < exact_calls[0], f"{case.id}: the fast path never took over"


# -- 1. whole runs ------------------------------------------------------------------------------


def test_fast_forward_is_on_by_default() -> None:
    """The fast path is what every caller gets (the site, the CLI, bench) unless a test
    turns it off on an instance."""
    assert Simulation.fast_forward is True
    sim = Simulation(bench_scenario(0.0625, "v6.18"), seed=1)
    assert sim.fast_forward is True
    sim.fast_forward = False
    assert Simulation.fast_forward is True, "setting it on an instance changed the class"


def test_v48_fast_path_leaves_the_tick_after_which_the_scanners_meet_to_the_tick_loop():
    """The 4.8 fast path lets the free scanner come down to the pageblock above the
    migrate scanner's (isolate_freepages() stops at pageblock_end_pfn(migrate_pfn), and
    owed merges stay within their max-order block). Then the migrate scanner's next
    isolation can reach the free scanner's pageblock, and compact_finished() ends the
    compaction after that tick (compact_scanners_met()): that tick must be the tick
    loop's. A layout found by the random comparison below, where it was not."""
    ranges = [
        (0, 157, "anon"), (157, 918, "anon"), (1075, 681, "reclaimable"),
        (1756, 543, "file"), (2299, 1179, "anon"), (3791, 1464, "file"),
        (5416, 320, "file"), (5736, 50, "anon"), (5786, 1431, "anon"),
        (7217, 1274, "file"), (8491, 764, "file"), (9255, 661, "anon"),
        (10839, 531, "anon"), (11370, 730, "file"), (12100, 1099, "anon"),
        (14326, 1034, "reclaimable"),
    ]  # fmt: skip
    raw = {
        "profile": "v4.8",
        "memory": {
            "zones": [{"name": "DMA32", "pages": 1024}, {"name": "Normal", "pages": 14336}],
            "pcp": "simple",
        },
        "layout": {
            "mode": "explicit",
            "ranges": [{"start": a, "count": n, "kind": k} for a, n, k in ranges],
        },
        "kcompactd": False,
        "sysctl": {"compaction_proactiveness": 0},
        "timeline": [{"at_ms": 0, "action": "compact_memory"}],
    }
    exact, fast = build(raw, "v4.8", 0, False), build(raw, "v4.8", 0, True)
    calls = count_compactor_ticks(exact), count_compactor_ticks(fast)
    exact.run()
    fast.run()
    assert_same_end(exact, fast, "run()")
    assert calls[1][0] < calls[0][0] // 2, "the fast path did not take over"


@pytest.mark.parametrize("gib", [0.25, 1])
def test_the_v48_fast_path_does_nearly_every_tick_of_the_benchmark_compaction(
    monkeypatch, gib: float
) -> None:
    """In v4.8, Simulation._fast_ticks hands the compaction to fastpath48.fast_forward_48:
    counted through a wrapper, it does at least 95% of the ticks of the benchmark zone's
    compact_memory (the tick loop keeps the last few, where the scanners meet), and the
    run is identical to the exact one. So the v4.8 comparisons in this file compare two
    different code paths."""
    import simulator.engine as engine

    done = {"calls": 0, "ticks": 0}
    real = engine.fast_forward_48

    def counting(c, cc, max_ticks, deadline_ns):
        n = real(c, cc, max_ticks, deadline_ns)
        done["calls"] += n > 0
        done["ticks"] += n
        return n

    monkeypatch.setattr(engine, "fast_forward_48", counting)
    case = Case(f"bench-{gib:g}GiB-v4.8", _bench(gib, "v4.8"), "v4.8", 1, True, True, True)
    exact, fast = build_pair(case)
    calls = count_compactor_ticks(exact), count_compactor_ticks(fast)
    exact.run()
    assert done["ticks"] == 0, "the exact engine ran the fast path"
    fast.run()
    assert_same_end(exact, fast, case.id)
    assert_migrated(exact, case)
    assert done["ticks"] >= 0.95 * fast.tick_count, (done, fast.tick_count)
    assert calls[1][0] + done["ticks"] == calls[0][0], "ticks went missing or were doubled"
    assert done["calls"] >= 1


def _first_block_scenario(first: str) -> dict:
    """32 pageblocks of scattered anon pages over free ones; pageblock 0 holds the same
    ("lru") or only unmovable pages ("unmovable")."""
    ranges = [{"start": p, "count": 40, "kind": "anon"} for p in range(512, 16384 - 40, 96)]
    if first == "unmovable":
        ranges.insert(0, {"start": 0, "count": 512, "kind": "unmovable"})
    else:
        ranges[:0] = [{"start": p, "count": 40, "kind": "anon"} for p in range(0, 480, 96)]
    return {
        "name": f"first block {first}",
        "profile": "v6.18",
        "memory": {"zones": [{"name": "Normal", "pages": 16384}], "pcp": "simple"},
        "layout": {"mode": "explicit", "ranges": ranges},
        "timeline": [{"at_ms": 0, "action": "compact_memory"}],
        "sysctl": {"compaction_proactiveness": 0},
    }


@pytest.mark.parametrize("first", ["lru", "unmovable"])
def test_the_v618_fast_path_takes_the_zones_first_pageblock_with_finish_pageblock_set(
    monkeypatch, first: str
) -> None:
    """compact_zone() starts with last_migrated_pfn = 0, so in the zone's first pageblock
    finish_pageblock is set and the migrate scanner takes every LRU page of the block in
    one isolation (more than COMPACT_CLUSTER_MAX) and updates the cached migrate pfn
    without a skip bit; with no LRU page it sets the skip bit. The fast path does that
    block itself (its first working call starts at pfn 0) and the run is identical."""
    import simulator.engine as engine

    starts = []
    real = engine.fast_forward

    def recording(c, cc, max_ticks, deadline_ns):
        p0 = cc.migrate_pfn
        n = real(c, cc, max_ticks, deadline_ns)
        if n:
            starts.append(p0)
        return n

    monkeypatch.setattr(engine, "fast_forward", recording)
    raw = _first_block_scenario(first)
    exact, fast = build(raw, "v6.18", 1, False), build(raw, "v6.18", 1, True)
    exact.run()
    fast.run()
    assert starts and starts[0] == 0, starts
    assert_same_end(exact, fast, f"first block {first}")
    first_isolation = next(
        ln for ln in fast.k.trace_lines if "mm_compaction_isolate_migratepages" in ln
    )
    taken = 200 if first == "lru" else 0  # five runs of 40 anon pages
    assert first_isolation.endswith(f"range=(0x0 ~ 0x200) nr_scanned=512 nr_taken={taken}")
    assert bool(fast.k.mem.pb_skip[0]) is (first == "unmovable")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_run_to_the_end_is_identical_with_and_without_fast_forward(case: Case) -> None:
    """Simulation.run() (no per-step output: mem.changed is None) ends in the same pages,
    free lists, trace, counters, history log, reports, tick count and simulated time."""
    exact, fast = build_pair(case)
    calls = count_compactor_ticks(exact), count_compactor_ticks(fast)
    exact.run()
    fast.run()
    assert_same_end(exact, fast, case.id)
    assert_migrated(exact, case)
    assert_fast_path_taken(case, *calls)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_one_huge_step_is_identical_with_and_without_fast_forward(case: Case) -> None:
    """A single step of a million ticks gives the fast path all the room it can take: the
    one StepResult (every changed pfn, all events) and the end state are the same."""
    exact, fast = build_pair(case)
    calls = count_compactor_ticks(exact), count_compactor_ticks(fast)
    lockstep(exact, fast, [1_000_000], case.id, observe=False)
    assert_migrated(exact, case)
    assert_fast_path_taken(case, *calls)


# -- 2. step by step ----------------------------------------------------------------------------

STEP_CASES = [(c, n) for c in V618_CASES + V48_BENCH_CASES for n in STEP_SIZES] + [
    (c, n) for c in CASES for n in ("mixed",)
]


@pytest.mark.parametrize(
    ("case", "size"), STEP_CASES, ids=lambda x: x.id if isinstance(x, Case) else f"by-{x}"
)
def test_stepping_gives_identical_step_results_and_state_after_every_step(
    case: Case, size: int | str
) -> None:
    """Stepped by the same sizes, both modes give the same StepResult for every step (pfns,
    display states, tick, time_ns, events, done) and the same observable state (metrics
    with the scanner positions, counters, history, pages, compact_control) between steps:
    a fast forward must stop exactly where the step ends."""
    exact, fast = build_pair(case)
    calls = count_compactor_ticks(exact), count_compactor_ticks(fast)
    sizes = MIXED_SIZES if size == "mixed" else [size]
    steps = lockstep(exact, fast, sizes, f"{case.id} by {size}")
    assert steps >= 1
    assert_migrated(exact, case)
    if size != 1:  # one tick per step leaves the fast path no room
        assert_fast_path_taken(case, *calls)
    else:
        assert calls[1][0] <= calls[0][0]


def test_switching_fast_forward_on_and_off_between_steps_changes_nothing() -> None:
    """A simulation whose fast_forward flips between steps (one restored from a snapshot of
    either mode, or changed live) runs exactly like the exact engine."""
    rnd = random.Random(7)
    for case in [
        BENCH_CASES[1],
        V48_BENCH_CASES[1],
        *(c for c in V618_CASES if c.id.startswith("zsmalloc")),
    ]:
        exact, fast = build_pair(case)
        flips = [rnd.random() < 0.5 for _ in range(10_000)]
        lockstep(exact, fast, (3, 1, 16, 5, 64), case.id, switch=flips.__getitem__)
        assert_migrated(exact, case)


def test_live_injection_and_sysctl_changes_between_steps_give_identical_runs() -> None:
    """The site changes fault injection and sysctls between steps while a compaction runs
    (tests/test_determinism.drive_with_live_changes); both modes must follow them alike."""
    name = "zsmalloc_eagain_storm"
    runs = []
    for fast in (False, True):
        sim = build(Scenario.from_dict(PRESETS[name]), "v6.18", 11, fast)
        runs.append((sim, drive_with_live_changes(sim)))
    (exact, steps_exact), (fast, steps_fast) = runs
    for i, (x, y) in enumerate(zip(steps_exact, steps_fast, strict=False)):
        assert x == y, f"{name}: step {i} differs"
    assert len(steps_exact) == len(steps_fast)
    assert_same_end(exact, fast, name)


def test_a_second_compact_memory_written_mid_compaction_gives_identical_runs() -> None:
    """write_sysctl("compact_memory", 1) and a new extfrag_threshold between steps, in the
    middle of a full compaction, queue a second one; both modes run it alike."""

    def live(i: int, sim: Simulation) -> None:
        if i == 4:
            sim.write_sysctl("compact_memory", 1)
        if i == 9:
            sim.write_sysctl("extfrag_threshold", 0)
            sim.write_sysctl("compact_memory", 1)

    exact, fast = build_pair(BENCH_CASES[1])
    lockstep(exact, fast, (7, 3), "bench 0.25 GiB with live compact_memory", live=live)
    begins = sum(" mm_compaction_begin: " in ln for ln in exact.k.trace_lines)
    assert begins == 3


# -- 3. snapshots -------------------------------------------------------------------------------


def compaction_active(sim: Simulation) -> bool:
    j = sim.jobs[0] if sim.jobs else None
    return (
        j is not None
        and j.kind == "compact_memory"
        and j.cc is not None
        and j.cc.phase in ("isolate", "migrate")
    )


SNAPSHOT_CASES = [c for c in COMPACT_CASES if c.profile == "v6.18"] + [
    c for c in COMPACT_CASES if c.id == "lru_only-v4.8"
]


@pytest.mark.parametrize("case", SNAPSHOT_CASES, ids=lambda c: c.id)
def test_snapshot_taken_mid_compaction_in_fast_mode_continues_like_the_exact_run(
    case: Case,
) -> None:
    """A snapshot taken partway through a full compaction in fast mode, restored (into fast
    mode or into the exact engine), continues step for step like the uninterrupted exact
    run, and so does the original after being snapshotted; a snapshot of the exact engine
    restored into fast mode does too. Simulation.restore builds a new Compactor, so nothing
    the fast path keeps outside the pickled state may matter."""
    sizes = (3, 16, 5, 32)
    exact_ref, _ = build_pair(case)
    ref_steps, active = [], []
    while not exact_ref.done:
        ref_steps.append(exact_ref.step(sizes[len(ref_steps) % len(sizes)]))
        active.append(compaction_active(exact_ref))
    assert_migrated(exact_ref, case)
    ref_end = observe_all(exact_ref)
    during = [i for i, a in enumerate(active) if a]
    assert during, f"{case.id}: no step ended inside a full compaction"
    cuts = sorted({during[0], during[len(during) // 3], during[2 * len(during) // 3], during[-1]})
    fast_ran_after_restore = 0
    for cut in cuts:
        for source_fast in (True, False):
            _, src = build_pair(case)
            src.fast_forward = source_fast
            for i in range(cut + 1):
                n = sizes[i % len(sizes)]
                assert_same_step(ref_steps[i], src.step(n), f"{case.id} step {i}")
            assert compaction_active(src)
            blob = src.snapshot()
            targets = {"original": src}
            for restored_fast in (True, False):
                sim = Simulation.restore(blob)
                sim.fast_forward = restored_fast
                targets[f"restored into {'fast' if restored_fast else 'exact'} mode"] = sim
            calls = {}
            for label, sim in targets.items():
                where = (
                    f"{case.id}: snapshot of the {'fast' if source_fast else 'exact'} engine "
                    f"after step {cut}, {label}"
                )
                calls[label] = count_compactor_ticks(sim)
                for i in range(cut + 1, len(ref_steps)):
                    n = sizes[i % len(sizes)]
                    assert_same_step(ref_steps[i], sim.step(n), f"{where}, step {i}")
                assert sim.done, f"{where}: not done when the exact run was"
                assert_same_end(ref_end, sim, where)
            fast, exact = calls["restored into fast mode"], calls["restored into exact mode"]
            assert fast[0] <= exact[0]
            fast_ran_after_restore += fast[0] < exact[0]
    if case.fast_expected:
        assert fast_ran_after_restore, f"{case.id}: the fast path never ran after a restore"


# -- edges of a fast forward ---------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_timeline_events_exactly_at_and_next_to_tick_boundaries_fire_identically(
    profile: str,
) -> None:
    """An event due exactly at the time a compaction tick ends, or when the next tick
    starts and checks the timeline (or 1 ns either side), must fire at the same tick in
    both modes: a fast forward has to stop before the tick at which a timeline event
    becomes due. Each kind of action is tried at several ticks."""
    base = bench_scenario(0.0625, profile).to_dict()
    probe = build(base, profile, 1, False)
    times = []
    while not probe.done:
        probe.step(1)
        if compaction_active(probe):
            times.append(probe.time_ns)
    assert len(times) >= 10
    actions = [
        {"action": "alloc", "count": 40, "order": 0, "type": "movable"},
        {"action": "free", "count": 200, "type": "movable"},
        {"action": "alloc_high_order", "order": 9, "count": 1, "type": "movable"},
        {"action": "compact_memory"},
        {"action": "alloc", "count": 3, "order": 2, "type": "unmovable"},
        {"action": "kcompactd_wake", "order": 4},
        {"action": "sysctl", "name": "extfrag_threshold", "value": 0},
    ]
    # every third tick; in 4.8, which takes several times more, about as many in all
    stride = 3 if profile == "v6.18" else max(3, len(times) // 24)
    picked = times[1:-1:stride] + [times[-1]]
    tried = 0
    for n, t in enumerate(picked):
        # at the end of a tick, and when the next tick's start (+COST_TICK) checks the timeline
        for off in (-1, 0, 1, COST_TICK - 1, COST_TICK, COST_TICK + 1):
            at_ms = (t + off) / 1_000_000
            if at_ms * 1_000_000 != t + off:
                continue  # not exactly representable: not a boundary test
            raw = json.loads(json.dumps(base))
            ev = {"at_ms": at_ms, **actions[(n + off) % len(actions)]}
            raw["timeline"] = [raw["timeline"][0], ev]
            exact, fast = build(raw, profile, 1, False), build(raw, profile, 1, True)
            lockstep(exact, fast, [4096], f"{ev} (tick ends at {t} ns)", observe=False)
            tried += 1
    assert tried >= 40


def _zone_with_holes(holes: list[int]) -> dict:
    """A v4.8 zone of 64 pageblocks: LRU pages in runs of 7 every 10 pfns up to pageblock
    44, free above; a one-page hole at each pfn in `holes`."""
    ranges = []
    for b in range(44):
        for off in range(0, 512, 10):
            s, e = b * 512 + off, b * 512 + off + 7
            kind = "anon" if off % 20 else "file"
            for h in sorted(h for h in holes if s <= h < e):
                if h > s:
                    ranges.append({"start": s, "count": h - s, "kind": kind})
                s = h + 1
            if e > s:
                ranges.append({"start": s, "count": e - s, "kind": kind})
    ranges += [{"start": h, "count": 1, "kind": "hole"} for h in holes]
    return {
        "profile": "v4.8",
        "memory": {"zones": [{"name": "Normal", "pages": 64 * 512}], "pcp": "simple"},
        "layout": {"mode": "explicit", "ranges": sorted(ranges, key=lambda r: r["start"])},
        "timeline": [{"at_ms": 0, "action": "compact_memory"}],
    }


@pytest.mark.parametrize(
    "holes",
    [[10 * 512 + 511], [20 * 512], [12 * 512 + 511, 13 * 512, 30 * 512 + 200], [9 * 512 + 505]],
    ids=str,
)
def test_v48_pageblocks_with_a_hole_at_either_end_are_passed_over_identically(
    holes: list[int],
) -> None:
    """pageblock_pfn_to_page() fails for a pageblock whose first or last pfn is a hole:
    the 4.8 migrate scanner passes over it whole, in the tick that scans the next one,
    even when the hole comes after LRU pages the scanner could have taken. A hole inside
    a pageblock only ends the scan's bulk handling there."""
    raw = _zone_with_holes(holes)
    for sizes in ((1_000_000,), (64,), (7,)):
        exact, fast = build(raw, "v4.8", 1, False), build(raw, "v4.8", 1, True)
        calls = count_compactor_ticks(exact), count_compactor_ticks(fast)
        lockstep(exact, fast, sizes, f"holes at {holes}, steps {sizes}")
        assert calls[1][0] < calls[0][0], "the fast path never took over"


def free_list_entries(sim: Simulation) -> list[tuple[int, int]]:
    """(live, dead) entries of each buddy free list (dead ones are lazily removed)."""
    return [
        (fl.count, len(fl.head) + len(fl.tail) - fl.tail_start - fl.count)
        for z in sim.k.mem.zones
        for row in z.free_area
        for fl in row
    ]


def test_free_lists_are_pruned_at_least_as_often_in_fast_mode(monkeypatch) -> None:
    """Every 1024th tick the engine prunes dead free-list entries (Simulation._tick); a
    fast forward across that tick prunes after it, so no list may ever hold more dead
    entries than in the exact engine (else they pile up: memory), and pruning changes
    nothing observable. The real threshold (dead > live + 4096) needs GiB-sized zones, so
    here both modes prune whenever a list has any dead entry; with the tick counter
    started just below a multiple of 1024, that tick falls at different points of the
    compaction."""
    pruned: dict[int, int] = {}
    gc = FreeList._gc

    def eager_gc(self, flags, aux, token) -> None:
        if len(self.head) + len(self.tail) - self.tail_start - self.count > 0:
            pruned[id(flags)] = pruned.get(id(flags), 0) + 1
            gc(self, flags, aux, token)

    def no_more_dead(exact: Simulation, fast: Simulation, where: str) -> None:
        a, b = free_list_entries(exact), free_list_entries(fast)
        assert [x[0] for x in a] == [x[0] for x in b], f"{where}: live entries differ"
        worse = [(i, x[1], y[1]) for i, (x, y) in enumerate(zip(a, b, strict=True)) if y[1] > x[1]]
        assert not worse, f"{where}: more dead entries in fast mode (list, exact, fast): {worse}"

    monkeypatch.setattr(FreeList, "maybe_gc", eager_gc)
    fast_pruned = 0
    alive = []
    for case in BENCH_CASES:
        for before in (0, 1, 2, 5, 20, 37):
            exact, fast = build_pair(case)
            alive.append((exact, fast))  # so no id() in `pruned` is reused
            exact.tick_count = fast.tick_count = 1024 - before
            where = f"{case.id}, pruning {before} ticks in"
            lockstep(exact, fast, (64,), where, check=no_more_dead)
            fast_pruned += pruned.get(id(fast.k.mem.f), 0)
    assert fast_pruned > 0, "no free list was ever pruned in fast mode"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("pcp_high", [None, 1000], ids=lambda h: f"pcp_high={h}")
def test_pages_freed_onto_the_pcp_lists_during_a_compaction_drain_identically(
    pcp_high: int | None, profile: str
) -> None:
    """Pages freed anywhere in the zone while compact_memory runs wait on the pcp lists
    (up to pcp_high of them) and drain into the buddy lists later, during the ticks the
    fast path computes, maybe right where the free scanner is about to read; some owe
    merges. Both modes must see the same free blocks."""
    raw = bench_scenario(0.25, profile).to_dict()
    if pcp_high is not None:
        raw["memory"]["pcp_high"] = pcp_high
    for at_us, count in ((0, 200), (50, 20), (600, 2000), (1500, 200)):
        raw["timeline"] = [
            {"at_ms": 0, "action": "compact_memory"},
            {"at_ms": at_us / 1000, "action": "free", "count": count, "type": "movable"},
        ]
        for sizes in ((4096,), (64,)):
            exact, fast = build(raw, profile, 1, False), build(raw, profile, 1, True)
            where = f"free {count} at {at_us} us, steps {sizes}"
            lockstep(exact, fast, sizes, where, observe=sizes != (4096,))


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("order_type", [(9, "unmovable"), (9, "movable")], ids=str)
@pytest.mark.parametrize("at_ms", [1.0, 2.0])
def test_a_full_compaction_resumed_after_a_direct_compaction_preempted_it_is_identical(
    at_ms: float, order_type: tuple[int, str], profile: str
) -> None:
    """A high-order allocation in the middle of compact_memory stalls in direct
    compaction, which runs first (with its own comm "alloc" in the trace, its capture
    control); then the full compaction resumes where it was. What the resumed compaction
    traces, under which comm, and all else must not depend on the mode."""
    order, typ = order_type
    raw = bench_scenario(0.25, profile).to_dict()
    raw["layout"]["fragmentation"] = 1.0  # no free order-9 block at the start
    raw["timeline"].append(
        {"at_ms": at_ms, "action": "alloc_high_order", "order": order, "count": 2, "type": typ}
    )
    for sizes in ((1_000_000,), (64,), (5, 17)):
        exact, fast = build(raw, profile, 1, False), build(raw, profile, 1, True)
        lockstep(exact, fast, sizes, f"direct compaction at {at_ms} ms, steps {sizes}")
    trace = list(exact.k.trace_lines)
    direct = next(i for i, ln in enumerate(trace) if " mm_compaction_try_to_compact_pages: " in ln)
    first_end = next(i for i, ln in enumerate(trace) if " mm_compaction_end: " in ln)
    assert direct < first_end, "the direct compaction did not preempt compact_memory"
    assert exact.counters()["compact_stall"] > 0


def test_history_log_bound_drops_the_same_entries() -> None:
    """The history log drops its oldest half when it exceeds `keep` entries (1 << 19 by
    default: a compaction of a few GiB). Whether that happens once after one big append or
    per tick changes which entries survive, so batching the log across ticks is visible in
    page_info(). A small bound makes this reachable in a small zone."""
    # both fast paths append their ticks' history in the same pieces when the bound would
    # be crossed, so even a bound below what one fast forward appends drops the same
    # entries by the end of every step
    for keep in (40, 70, 600, 1000, 4099):
        for sizes in ((1_000_000,), (64,), (5,)):
            exact, fast = build_pair(BENCH_CASES[1])
            exact.k.history.keep = fast.k.history.keep = keep
            lockstep(exact, fast, sizes, f"bench 0.25 GiB, history keep={keep}")
            assert exact.k.history.dropped > 0
            for pfn in range(0, exact.npages, 997):
                assert exact.page_info(pfn) == fast.page_info(pfn), f"page_info({pfn})"
    for keep in (40, 600, 4099):
        for sizes in ((1_000_000,), (64,), (5, 333)):
            exact, fast = build_pair(V48_BENCH_CASES[1])
            exact.k.history.keep = fast.k.history.keep = keep
            lockstep(exact, fast, sizes, f"bench 0.25 GiB v4.8, history keep={keep}")
            assert exact.k.history.dropped > 0


# -- 4. random small scenarios ---------------------------------------------------------------------

DRIVER_PRESETS = {
    "v6.18": ("zsmalloc", "virtio_balloon", "vmw_balloon"),
    "v4.8": ("zsmalloc", "virtio_balloon"),
}
KIND_WEIGHTS = {
    "free": 30,
    "anon": 30,
    "file": 20,
    "unmovable": 6,
    "reclaimable": 4,
    "pinned": 3,
    "compound": 0,  # drawn: compound pages end a fast forward
    "reserved": 1,
    "hole": 0,  # drawn
}


def explicit_ranges(
    seed: int, total: int, run: int, orders: list[int], compound: float, hole: float
) -> list[dict]:
    """Consecutive ranges of random kinds (compound ones aligned to their order); pfns left
    out are free."""
    rnd = random.Random(seed)
    weights_by_kind = {**KIND_WEIGHTS, "compound": compound, "hole": hole}
    names, weights = list(weights_by_kind), list(weights_by_kind.values())
    ranges = []
    pfn = 0
    while pfn < total and len(ranges) < 9_000:  # the schema allows 10,000 ranges
        kind = rnd.choices(names, weights)[0]
        if kind == "compound":
            order = rnd.choice(orders)
            size = 1 << order
            start = -(-pfn // size) * size
            room = (total - start) // size
            if room <= 0:
                break
            count = size * rnd.randint(1, min(room, max(1, 2048 >> order)))
            ranges.append({"start": start, "count": count, "kind": "compound", "order": order})
            pfn = start + count
            continue
        count = min(rnd.randint(1, run), total - pfn)
        if kind != "free":
            ranges.append({"start": pfn, "count": count, "kind": kind})
        pfn += count
    return ranges


@st.composite
def drivers_st(draw, profile: str, total: int) -> list[dict]:
    out = []
    for i in range(draw(st.sampled_from([0, 0, 1, 2]))):
        d: dict = {"name": f"drv{i}", "pages": draw(st.integers(1, max(1, total // 8)))}
        preset = draw(st.sampled_from((None, *DRIVER_PRESETS[profile])))
        if preset:
            d["preset"] = preset
        else:
            d["isolate_refuse_rate"] = draw(st.sampled_from([0.0, 0.0, 0.1]))
            d["migrate"] = {
                "EAGAIN": draw(st.sampled_from([0.0, 0.1, 0.4])),
                "EBUSY": draw(st.sampled_from([0.0, 0.05])),
                "EINVAL": draw(st.sampled_from([0.0, 0.05])),
                "ENOMEM": draw(st.sampled_from([0.0, 0.0, 0.01])),
            }
            modes = ["no_copy", "lose_on_putback", "touch_lru_isolated"]
            if profile == "v4.8":
                modes.append("forget_clear_movable")
            if draw(st.integers(0, 5)) == 0:
                d["buggy"] = [draw(st.sampled_from(modes))]
        # scattered driver pages leave the fast path no room: mostly keep them together
        placement = draw(st.sampled_from(["scattered", "clustered", "clustered", "range"]))
        d["placement"] = placement
        if placement == "range":
            lo = 512 * draw(st.integers(0, total // 512 - 1))
            hi = min(total, lo + d["pages"] + draw(st.integers(0, 4096)))
            d["pages"] = min(d["pages"], hi - lo)
            d["range"] = [lo, hi]
        if draw(st.booleans()):
            d["injection"] = injection_st(draw, total)
        out.append(d)
    return out


def injection_st(draw, total: int) -> dict:
    inj = {
        "probability": draw(st.sampled_from([10, 50, 100])),
        "errno": draw(st.sampled_from(["EAGAIN", "EBUSY", "EINVAL", "ENOMEM"])),
        "interval": draw(st.integers(1, 3)),
        "times": draw(st.sampled_from([-1, 3, 40])),
    }
    if draw(st.booleans()):
        # a time window opening or closing during the compaction (times in simulated ms)
        start = draw(st.integers(0, 2000)) / 1000
        inj["start_ms"] = start
        inj["end_ms"] = start + draw(st.integers(1, 2000)) / 1000
    if draw(st.booleans()):
        lo = draw(st.integers(0, total - 2))
        inj["pfn_start"] = lo
        inj["pfn_end"] = draw(st.integers(lo + 1, total))
    if draw(st.booleans()):
        inj["space"] = 4096 * draw(st.integers(1, 50))
    return inj


@st.composite
def small_scenarios(draw, profile: str) -> dict:
    """1 or 2 zones of 8..96 pageblocks in all, generated or explicit layouts (compound
    pages, holes, pinned and reserved pages), drivers, flags, and a timeline with
    compact_memory plus actions that land while it runs."""
    # the fast path needs room between the scanners: mostly zones of 30 pageblocks or more
    if draw(st.sampled_from(["large", "large", "large", "small"])) == "large":
        blocks = draw(st.integers(30, 96))
    else:
        blocks = draw(st.integers(8, 29))
    total = 512 * blocks
    if draw(st.booleans()):
        zones = [{"name": "Normal", "pages": total}]
    else:
        low = draw(st.integers(2, blocks - 2))
        zones = [
            {"name": "DMA32", "pages": 512 * low},
            {"name": "Normal", "pages": 512 * (blocks - low)},
        ]
    if draw(st.sampled_from(["generate", "generate", "explicit"])) == "generate":
        mix = {
            "anon": draw(st.sampled_from([0.0, 0.3, 0.6])),
            "file": draw(st.sampled_from([0.0, 0.3])),
            "unmovable": draw(st.sampled_from([0.0, 0.05, 0.2])),
            "reclaimable": draw(st.sampled_from([0.0, 0.05])),
            "pinned": draw(st.sampled_from([0.0, 0.02, 0.1])),
        }
        if sum(mix.values()) == 0:
            mix["anon"] = 1.0
        layout: dict = {
            "free": draw(st.floats(0.05, 0.6)),
            "fragmentation": draw(st.floats(0.0, 1.0)),
            "mix": mix,
        }
    else:
        layout = {
            "mode": "explicit",
            "ranges": explicit_ranges(
                draw(st.integers(0, 2**32 - 1)),
                total,
                draw(st.sampled_from([16, 64, 300, 1500])),
                draw(st.lists(st.integers(1, 9), min_size=1, max_size=3)),
                draw(st.sampled_from([0.0, 0.0, 0.5, 5.0])),
                draw(st.sampled_from([0.0, 0.0, 0.3])),
            ),
        }
    # locked or writeback LRU pages end a fast forward: mostly none, sometimes a few
    slow = draw(st.sampled_from([False, False, True]))
    for key in ("locked", "writeback"):
        layout[key] = draw(st.sampled_from([0.0, 0.0005, 0.003, 0.05, 0.3])) if slow else 0.0
    for key in ("dirty", "unevictable"):
        layout[key] = draw(st.sampled_from([0.0, 0.0, 0.05, 0.3]))
    drivers = draw(drivers_st(profile, total))
    # a compaction of this zone takes about total/10 us of simulated time
    span_us = max(200, total // 6)

    def at() -> float:
        return draw(st.integers(0, span_us)) / 1000

    timeline = [{"at_ms": draw(st.integers(0, 100)) / 1000, "action": "compact_memory"}]
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(
            st.sampled_from(
                [
                    "alloc",
                    "free",
                    "alloc_high_order",
                    "compact_memory",
                    "sysctl",
                    "kcompactd_wake",
                    "driver",
                    "inject",
                ]
            )
        )
        typ = draw(st.sampled_from(["movable", "unmovable", "reclaimable"]))
        if kind == "alloc":
            ev = {
                "action": "alloc",
                "count": draw(st.integers(1, 400)),
                "order": draw(st.integers(0, 4)),
                "type": typ,
            }
        elif kind == "free":
            ev = {"action": "free", "count": draw(st.integers(1, 400)), "type": typ}
        elif kind == "alloc_high_order":
            ev = {
                "action": "alloc_high_order",
                "order": draw(st.integers(1, 10)),
                "count": draw(st.integers(1, 3)),
                "type": typ,
            }
        elif kind == "compact_memory":
            ev = {"action": "compact_memory"}
        elif kind == "sysctl":
            name, value = draw(
                st.sampled_from(
                    [
                        ("compact_memory", 1),
                        ("compact_memory", 2),  # -EINVAL in v6.18
                        ("extfrag_threshold", 0),
                        ("extfrag_threshold", 1000),
                        ("compact_unevictable_allowed", 0),
                    ]
                    + ([("compaction_proactiveness", 30)] if profile == "v6.18" else [])
                )
            )
            ev = {"action": "sysctl", "name": name, "value": value}
        elif kind == "kcompactd_wake":
            ev = {"action": "kcompactd_wake", "order": draw(st.integers(1, 10))}
        elif not drivers:
            continue
        elif kind == "driver":
            ev = {
                "action": draw(
                    st.sampled_from(["balloon_inflate", "balloon_deflate", "driver_grow"])
                ),
                "driver": draw(st.sampled_from([d["name"] for d in drivers])),
                "pages": draw(st.integers(1, 300)),
            }
        else:
            ev = {
                "action": "inject",
                "driver": draw(st.sampled_from([d["name"] for d in drivers])),
                "injection": injection_st(draw, total),
            }
        timeline.append({"at_ms": at(), **ev})
    memory: dict = {"zones": zones, "pcp": draw(st.sampled_from(["simple", "off"]))}
    if draw(st.booleans()):
        # pcp sizes decide when frees drain into the buddy lists (owed merges), the min
        # watermark how much the free scanner may take
        memory["pcp_high"] = draw(st.sampled_from([0, 1, 8, 64, 1000]))
        memory["pcp_batch"] = draw(st.sampled_from([1, 3, 31, 63]))
        memory["min_free_kbytes"] = draw(st.sampled_from([128, 1024, 8192]))
    return {
        "profile": profile,
        "memory": memory,
        "layout": layout,
        "drivers": drivers,
        # any LRU -EAGAIN rate turns the fast path off
        "lru_eagain_rate": draw(st.sampled_from([0.0, 0.0, 0.0, 0.0, 0.1])),
        "kcompactd": draw(st.booleans()),
        "sysctl": {
            "compaction_proactiveness": draw(st.sampled_from([0, 0, 20]))
            if profile == "v6.18"
            else 0,
            "extfrag_threshold": draw(st.sampled_from([500, 500, 0, 1000])),
            "compact_unevictable_allowed": draw(st.sampled_from([1, 1, 0])),
        },
        "timeline": timeline,
    }


@st.composite
def step_plans(draw, drivers: list[str]) -> dict:
    """How to drive the pair: run() or steps of random sizes, live changes before some
    steps, and maybe a snapshot/restore of the fast simulation."""
    sizes = draw(
        st.lists(st.sampled_from([64, 4096, 256, 7, 1, 2, 3, 5, 16, 100]), min_size=1, max_size=6)
    )
    live = {}
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, 60))
        options = [
            ("write_sysctl", ("compact_memory", 1)),
            ("write_sysctl", ("extfrag_threshold", draw(st.sampled_from([0, 500, 1000])))),
            ("write_sysctl", ("compact_unevictable_allowed", draw(st.integers(0, 1)))),
        ]
        if drivers:
            knobs = {
                "probability": draw(st.sampled_from([0, 50, 100])),
                "errno": draw(st.sampled_from(["EAGAIN", "EBUSY", "EINVAL"])),
            }
            options.append(("set_injection", (draw(st.sampled_from(drivers)),), knobs))
        live.setdefault(i, []).append(draw(st.sampled_from(options)))
    return {
        "run": draw(st.integers(0, 4)) == 0,
        "sizes": sizes,
        "live": live,
        "restore_at": draw(st.none() | st.integers(0, 60)),
        "bulk_skip": draw(st.booleans()),
    }


# a random scenario is followed this far at most (the ones that end do so well before)
RANDOM_MAX_STEPS = 1_500
RANDOM_MAX_TICKS = 2_500
HYPOTHESIS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


@settings(max_examples=60, **HYPOTHESIS)
@given(data=st.data())
def test_random_small_v618_scenarios_are_identical_with_and_without_fast_forward(data) -> None:
    """Random small zones (1 or 2 zones, 8..96 pageblocks, pcp on or off, generated or
    explicit layouts with compound pages, flags, drivers with fault injection) whose
    timelines allocate, free, ask for high orders, inject faults and start more
    compactions while a full compaction runs, stepped by random sizes with live changes
    and a snapshot/restore: both modes agree after every step and at the end."""
    check_random_scenario(data, "v6.18")


@settings(max_examples=300, **HYPOTHESIS)
@given(data=st.data())
def test_random_small_v48_scenarios_are_identical_with_and_without_fast_forward(data) -> None:
    """The same in v4.8 (simulator/fastpath48.py)."""
    check_random_scenario(data, "v4.8")


def check_random_scenario(data, profile: str) -> None:
    raw = data.draw(small_scenarios(profile), label="scenario")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    plan = data.draw(step_plans([d["name"] for d in raw["drivers"]]), label="plan")
    exact, fast = build(raw, profile, seed, False), build(raw, profile, seed, True)
    if plan["bulk_skip"]:
        # the migrate scanner's bulk skip of free blocks everywhere (see Compactor)
        exact.c.bulk_skip_min_heads = fast.c.bulk_skip_min_heads = 0
    calls = count_compactor_ticks(exact), count_compactor_ticks(fast)
    event(f"{raw['layout'].get('mode', 'generate')} layout")

    def report() -> None:
        event("pages migrated" if exact.counters()["pgmigrate_success"] else "nothing migrated")
        event("fast path took over" if calls[1][0] < calls[0][0] else "fast path never ran")
        assert calls[1][0] <= calls[0][0]

    if plan["run"]:
        exact.run(max_ticks=RANDOM_MAX_TICKS)
        fast.run(max_ticks=RANDOM_MAX_TICKS)
        assert_same_end(exact, fast, "run()")
        report()
        return
    sims = {"exact": exact, "fast": fast}

    def live(i: int, sim: Simulation) -> None:
        for name, args, *kw in plan["live"].get(i, []):
            getattr(sim, name)(*args, **(kw[0] if kw else {}))

    i = 0
    seen = 0  # history entries already shown equal
    while not (sims["exact"].done and sims["fast"].done):
        if i == RANDOM_MAX_STEPS or sims["exact"].tick_count >= RANDOM_MAX_TICKS:
            # some random scenarios never end (a compaction retrying a failing driver):
            # what both modes did so far must still agree
            event("stopped before the end")
            break
        if i == plan["restore_at"]:
            sims["fast"] = Simulation.restore(sims["fast"].snapshot())
            assert sims["fast"].fast_forward is True
            if plan["bulk_skip"]:  # restore builds a new Compactor
                sims["fast"].c.bulk_skip_min_heads = 0
            count_compactor_ticks(sims["fast"], calls[1])
        n = plan["sizes"][i % len(plan["sizes"])]
        for sim in sims.values():
            live(i, sim)
        here = f"step {i} (by {n}, tick {sims['exact'].tick_count})"
        assert_same_step(sims["exact"].step(n), sims["fast"].step(n), here)
        assert_same(observe_mid(sims["exact"], seen), observe_mid(sims["fast"], seen), here)
        seen = history_total(sims["exact"])
        i += 1
    assert_same_end(sims["exact"], sims["fast"], "at the end")
    report()


@pytest.mark.parametrize(("profile", "gib"), [("v6.18", 10), ("v4.8", 2)])
def test_run_with_a_progress_callback_ends_like_run_without_one(profile: str, gib: int) -> None:
    """run() steps 4096 ticks at a time for its progress callback and in far bigger steps
    without one (so the fast path is cut less often); the end is the same."""
    sc = bench_scenario(gib, profile)
    watched, plain = Simulation(sc, seed=1), Simulation(sc, seed=1)
    seen: list[int] = []
    watched.run(progress=lambda s: seen.append(s.tick_count))
    plain.run()
    assert len(seen) >= 2 and seen[0] >= 4096, seen
    assert plain.tick_count == watched.tick_count == seen[-1]
    assert_same_end(watched, plain, f"{profile} {gib} GiB, progress vs none")


@pytest.mark.parametrize("n", [0, 1, 7, 40_000, (1 << 16) - 1, 1 << 16, 70_000])
@pytest.mark.parametrize("top", [2, 16, 1 << 16])
def test_packed_stable_order_is_a_stable_argsort(n: int, top: int) -> None:
    """The hand-out order's sort packs key and index into 32 bits when both fit; it must
    order ties by index exactly as a stable argsort does, and fall back past 2**16."""
    key = np.random.default_rng(n + top).integers(0, top, n)
    assert (_stable_order(key, top <= 1 << 16) == np.argsort(key, kind="stable")).all()


def test_bad_kinds_are_exactly_the_kinds_the_fast_paths_leave_to_the_tick_loop() -> None:
    kinds = np.arange(16, dtype=np.uint8)
    bad = {K_COMPOUND_HEAD, K_COMPOUND_TAIL, K_DRIVER, K_HOLE, K_TARGET}
    assert bad_kinds(kinds).tolist() == [k in bad for k in range(16)]


def test_column_appends_and_running_totals_match_concatenation_across_growth() -> None:
    """The free scanner's head arrays append in place; views taken before a growth keep
    what they held, and the running totals continue from the last one."""
    rng = np.random.default_rng(5)
    values, totals = _Column(), _Column(0)
    want_v, want_t = np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64)
    for size in (0, 3, 1, 50, 2, 400, 7):
        new = rng.integers(1, 9, size)
        before = totals.buf[: totals.n]
        snapshot = before.copy()
        got_v, got_t = values.extend(new), totals.extend_cumsum(new)
        want_v = np.concatenate((want_v, new))
        want_t = np.concatenate((want_t, want_t[-1] + np.cumsum(new)))
        assert got_v.tolist() == want_v.tolist() and got_t.tolist() == want_t.tolist()
        assert (before == snapshot).all()


def test_ranges_and_offsets_flatten_runs_in_order() -> None:
    starts, lens = np.array([5, 0, 9, 2]), np.array([3, 0, 1, 2])
    assert ranges(starts, lens).tolist() == [5, 6, 7, 9, 2, 3]
    assert offsets(lens).tolist() == [0, 1, 2, 0, 0, 1]
    assert ranges(starts[:0], lens[:0]).tolist() == offsets(lens[:0]).tolist() == []
