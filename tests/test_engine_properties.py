"""Property-based tests of the engine on random small scenarios, both profiles.

Properties (issue 2, "Done means" item 2):
* pages are conserved and every content token is present exactly once after any
  compaction-only run (migration moves content, it never copies or drops it: §1.4, §1.5);
* the buddy free lists agree with the page array and are fully merged wherever
  __free_one_page would merge (§3.2), with the pcp lists on or off and after draining
  them (§2.16);
* no page is isolated twice (§1.6: "A page is never isolated twice"; §2.5);
* no page is left isolated, and no free page left on a compactor's private list, when
  compact_zone returns (§2.3 putback_movable_pages / release_freepages);
* the vmstat counters equal what the trace lines report (§2.15, §5);
* each buggy-driver mode is reported as a contract violation naming the rule of the
  seed document, and a correct driver is never flagged (§6, seed document C.1-C.4).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import Scenario, Simulation
from simulator.check import check_invariants, tokens
from simulator.constants import F_ISOLATED, F_LRU, K_ANON, K_FILE, K_FREE, K_PCP, K_TARGET
from simulator.drivers import BUGGY_MODES, RULES

PROFILES = ("v4.8", "v6.18")
MAX_TICKS = 200_000
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# -- scenario strategies ----------------------------------------------------------------


@st.composite
def drivers_st(draw, total_pages: int, allow_buggy: bool = False) -> list[dict]:
    n = draw(st.integers(0, 2))
    out = []
    budget = total_pages // 4
    for i in range(n):
        eagain = draw(st.sampled_from([0.0, 0.1, 0.5]))
        ebusy = draw(st.sampled_from([0.0, 0.05, 0.2]))
        einval = draw(st.sampled_from([0.0, 0.05]))
        d = {
            "name": f"drv{i}",
            "pages": draw(st.integers(1, max(1, budget // 2))),
            "placement": draw(st.sampled_from(["scattered", "clustered"])),
            "isolate_refuse_rate": draw(st.sampled_from([0.0, 0.0, 0.2])),
            "migrate": {"EAGAIN": eagain, "EBUSY": ebusy, "EINVAL": einval},
        }
        if draw(st.booleans()):
            d["injection"] = {
                "probability": draw(st.sampled_from([10, 50, 100])),
                "errno": draw(st.sampled_from(["EAGAIN", "EBUSY"])),
                "interval": draw(st.integers(1, 3)),
                "times": draw(st.sampled_from([-1, 5, 50])),
            }
        out.append(d)
    return out


@st.composite
def scenarios(draw, profile: str, workload: bool = False) -> dict:
    if draw(st.booleans()):
        zones = [{"name": "Normal", "pages": 512 * draw(st.integers(2, 8))}]
    else:
        zones = [
            {"name": "DMA32", "pages": 512 * draw(st.integers(2, 3))},
            {"name": "Normal", "pages": 512 * draw(st.integers(2, 5))},
        ]
    total = sum(z["pages"] for z in zones)
    mix = {
        "anon": draw(st.sampled_from([0.0, 0.3, 0.6])),
        "file": draw(st.sampled_from([0.0, 0.3])),
        "unmovable": draw(st.sampled_from([0.0, 0.05, 0.2])),
        "reclaimable": draw(st.sampled_from([0.0, 0.05])),
        "pinned": draw(st.sampled_from([0.0, 0.02])),
    }
    if sum(mix.values()) == 0:
        mix["anon"] = 1.0
    layout = {
        "free": draw(st.floats(0.05, 0.8)),
        "fragmentation": draw(st.floats(0.0, 1.0)),
        "mix": mix,
        "locked": draw(st.sampled_from([0.0, 0.05, 0.2])),
        "writeback": draw(st.sampled_from([0.0, 0.05, 0.2])),
        "dirty": draw(st.sampled_from([0.0, 0.1, 0.3])),
        "unevictable": draw(st.sampled_from([0.0, 0.05])),
    }
    drivers = draw(drivers_st(total))
    events = []
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, 40))
        if draw(st.booleans()):
            events.append({"at_ms": at, "action": "compact_memory"})
        else:
            events.append(
                {"at_ms": at, "action": "kcompactd_wake", "order": draw(st.integers(1, 10))}
            )
    if workload:
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, 40))
            kind = draw(st.sampled_from(["alloc", "free", "alloc_high_order", "driver"]))
            typ = draw(st.sampled_from(["movable", "unmovable", "reclaimable"]))
            if kind == "alloc":
                events.append(
                    {
                        "at_ms": at,
                        "action": "alloc",
                        "count": draw(st.integers(1, 300)),
                        "order": draw(st.integers(0, 3)),
                        "type": typ,
                    }
                )
            elif kind == "free":
                events.append(
                    {"at_ms": at, "action": "free", "count": draw(st.integers(1, 300)), "type": typ}
                )
            elif kind == "alloc_high_order":
                events.append(
                    {
                        "at_ms": at,
                        "action": "alloc_high_order",
                        "order": draw(st.integers(1, 10)),
                        "count": draw(st.integers(1, 3)),
                        "type": typ,
                    }
                )
            elif drivers:
                events.append(
                    {
                        "at_ms": at,
                        "action": draw(st.sampled_from(["balloon_inflate", "balloon_deflate"])),
                        "driver": drivers[0]["name"],
                        "pages": draw(st.integers(1, 100)),
                    }
                )
    proactiveness = 0
    if profile == "v6.18":
        proactiveness = draw(st.sampled_from([0, 0, 50]))
    return {
        "profile": profile,
        "memory": {"zones": zones, "pcp": draw(st.sampled_from(["simple", "off"]))},
        "layout": layout,
        "drivers": drivers,
        "lru_eagain_rate": draw(st.sampled_from([0.0, 0.0, 0.1])),
        "kcompactd": True,
        "sysctl": {"compaction_proactiveness": proactiveness},
        "timeline": events,
    }


# -- instrumentation -------------------------------------------------------------------------


class Audit:
    """Wraps the kernel's isolation entry points and the compactor's end of compact_zone."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.double_isolation: list[int] = []
        self.bad_lru_isolation: list[int] = []
        self.leaks: list[str] = []
        self.isolations = 0
        self.compactions_ended = 0
        k, c = sim.k, sim.c
        orig_lru, orig_movable, orig_end = k.isolate_lru_page, k.isolate_movable_page, c.end
        orig_lru_bulk = getattr(k, "isolate_lru_pages", None)
        in_bulk = [False]

        def check_lru(pfn: int) -> None:
            f = int(k.mem.flags[pfn])
            if f & F_ISOLATED:
                self.double_isolation.append(pfn)
            if not f & F_LRU or int(k.mem.kind[pfn]) not in (K_ANON, K_FILE):
                self.bad_lru_isolation.append(pfn)

        def isolate_lru_page(pfn: int) -> None:
            if not in_bulk[0]:
                check_lru(pfn)
                self.isolations += 1
            orig_lru(pfn)

        def isolate_lru_pages(pfns: list[int]) -> None:
            if len(set(pfns)) != len(pfns):
                self.double_isolation.extend(pfns)
            for p in pfns:
                check_lru(p)
            self.isolations += len(pfns)
            in_bulk[0] = True
            try:
                orig_lru_bulk(pfns)
            finally:
                in_bulk[0] = False

        def isolate_movable_page(pfn: int) -> bool:
            was = int(k.mem.flags[pfn]) & F_ISOLATED
            ok = orig_movable(pfn)
            if ok:
                self.isolations += 1
                if was:
                    self.double_isolation.append(pfn)
            return ok

        def end(cc) -> None:
            orig_end(cc)
            self.compactions_ended += 1
            self.check_released(cc)

        k.isolate_lru_page = isolate_lru_page
        if orig_lru_bulk is not None:
            k.isolate_lru_pages = isolate_lru_pages
        k.isolate_movable_page = isolate_movable_page
        c.end = end

    def check_released(self, cc) -> None:
        """When compact_zone returns, its pages are all put back or migrated and its
        isolated free pages released; only other running compactions may hold pages."""
        mem = self.sim.k.mem
        if cc.migratepages or cc.nr_freepages or cc.freepages or any(cc.freepages_618):
            self.leaks.append(f"cc of zone {cc.zone} ended holding pages")
        others = [j.cc for j in self.sim.jobs if j.cc is not None and j.cc is not cc]
        held = {p for o in others for p in o.migratepages}
        isolated = set(np.flatnonzero(mem.flags & F_ISOLATED).tolist())
        if not isolated <= held:
            self.leaks.append(f"{len(isolated - held)} pages left isolated after compact_zone")
        targets = np.count_nonzero(mem.kind == K_TARGET)
        held_targets = sum(o.nr_freepages for o in others)
        if targets > held_targets:
            self.leaks.append(f"{targets} free pages left isolated after compact_zone")


def run(sim: Simulation) -> None:
    """Run to the end; after every step the isolation bookkeeping must match the pages:
    NR_ISOLATED equals the pages flagged isolated, all of them on some compactor's
    migratepages list, and free targets only on some compactor's private list (§2.3)."""
    n = 0
    mem = sim.k.mem
    while not sim.done:
        sim.step(16)
        n += 16
        assert n < MAX_TICKS, "simulation did not finish"
        isolated = np.flatnonzero(mem.flags & F_ISOLATED)
        assert len(isolated) == sim.k.nr_isolated
        ccs = [j.cc for j in sim.jobs if j.cc is not None]
        held = {p for cc in ccs for p in cc.migratepages}
        assert set(isolated.tolist()) <= held
        assert np.count_nonzero(mem.kind == K_TARGET) == sum(cc.nr_freepages for cc in ccs)


def trace_fields(sim: Simulation, event: str) -> list[dict[str, int]]:
    out = []
    for line in sim.k.trace_lines:
        if f" {event}: " in line:
            text = line.split(f" {event}: ", 1)[1]
            out.append({k: int(v, 0) for k, v in re.findall(r"(\w+)=(-?(?:0x)?[0-9a-f]+)\b", text)})
    return out


def assert_free_lists_sound(sim: Simulation) -> None:
    problems = check_invariants(sim)
    assert not problems, problems
    # after draining the pcp lists every free page is on a buddy list, fully merged
    mem = sim.k.mem
    for z in mem.zones:
        mem.drain_pcp(z)
    assert not np.any(mem.kind == K_PCP)
    problems = check_invariants(sim)
    assert not problems, problems


def assert_every_isolation_was_seen(sim: Simulation, audit: Audit) -> None:
    """The instrumented entry points saw every page the migration scanner took. Async
    direct compaction may put back a cc->order block's pages and then reports only what
    it kept (nr_taken, §2.5 skip_on_failure), so there it is a lower bound."""
    taken = sum(x["nr_taken"] for x in trace_fields(sim, "mm_compaction_isolate_migratepages"))
    if any(
        " mm_compaction_begin: " in ln and ln.endswith("mode=async") for ln in sim.k.trace_lines
    ):
        assert audit.isolations >= taken
    else:
        assert audit.isolations == taken


def assert_counters_match_trace(sim: Simulation) -> None:
    vm = sim.counters()
    migrated = trace_fields(sim, "mm_migrate_pages")
    assert vm["pgmigrate_success"] == sum(m["nr_succeeded"] for m in migrated)
    assert vm["pgmigrate_fail"] == sum(m["nr_failed"] for m in migrated)
    iso_m = trace_fields(sim, "mm_compaction_isolate_migratepages")
    iso_f = trace_fields(sim, "mm_compaction_isolate_freepages")
    fast_f = trace_fields(sim, "mm_compaction_fast_isolate_freepages")
    taken = sum(x["nr_taken"] for x in iso_m + iso_f + fast_f)
    assert vm["compact_isolated"] == taken
    if sim.profile == "v4.8":
        assert vm["compact_migrate_scanned"] == sum(x["nr_scanned"] for x in iso_m)
        assert vm["compact_free_scanned"] == sum(x["nr_scanned"] for x in iso_f)
    else:
        # 6.18 also counts fast_find_migrateblock's free-list entries (§2.15)
        assert vm["compact_migrate_scanned"] >= sum(x["nr_scanned"] for x in iso_m)
        assert vm["compact_free_scanned"] == sum(x["nr_scanned"] for x in iso_f + fast_f)
        assert vm["compact_daemon_migrate_scanned"] <= vm["compact_migrate_scanned"]
        assert vm["compact_daemon_free_scanned"] <= vm["compact_free_scanned"]
    wakes = sum(1 for line in sim.k.trace_lines if " mm_compaction_kcompactd_wake: " in line)
    assert vm["compact_daemon_wake"] == wakes
    assert vm["compact_stall"] == vm["compact_success"] + vm["compact_fail"]


# -- properties ------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
@SETTINGS
@given(data=st.data())
def test_compaction_only_runs_conserve_pages_and_tokens(profile: str, data) -> None:
    """After compact_memory / kcompactd runs, the multiset of content tokens and the
    number of pages of each owner are exactly as before (§1.4, §1.5), no page was
    isolated twice (§1.6), every compact_zone released all it held (§2.3), and the free
    lists are consistent and fully merged (§3.2)."""
    raw = data.draw(scenarios(profile))
    sim = Simulation(Scenario.from_dict(raw), seed=data.draw(st.integers(0, 2**16)))
    assert check_invariants(sim) == []  # the layout as built is already consistent
    audit = Audit(sim)
    before = tokens(sim)
    assert len(np.unique(before)) == len(before)
    allocated_before = int(np.count_nonzero(before))
    owners_before = np.bincount(sim.k.mem.aux[sim.k.mem.kind == 4] & 0x7F, minlength=40)
    run(sim)
    after = tokens(sim)
    assert np.array_equal(after, before), "content tokens changed"
    assert int(np.count_nonzero(after)) == allocated_before
    owners_after = np.bincount(sim.k.mem.aux[sim.k.mem.kind == 4] & 0x7F, minlength=40)
    assert np.array_equal(owners_after, owners_before), "driver pages not conserved"
    assert not audit.double_isolation
    assert not audit.bad_lru_isolation
    assert_every_isolation_was_seen(sim, audit)
    assert not audit.leaks, audit.leaks
    assert sim.k.violations == []  # correct drivers are never flagged
    assert_counters_match_trace(sim)
    assert_free_lists_sound(sim)


@pytest.mark.parametrize("profile", PROFILES)
@SETTINGS
@given(data=st.data())
def test_workloads_keep_state_consistent_and_counters_honest(profile: str, data) -> None:
    """With allocations, frees, high-order requests (direct compaction, kcompactd) and
    balloon changes: tokens stay unique, nothing is isolated twice or leaked, counters
    equal the trace (§2.15, §5), free lists are consistent (§3.2)."""
    raw = data.draw(scenarios(profile, workload=True))
    sim = Simulation(Scenario.from_dict(raw), seed=data.draw(st.integers(0, 2**16)))
    audit = Audit(sim)
    run(sim)
    toks = tokens(sim)
    nz = toks[toks != 0]
    assert len(np.unique(nz)) == len(nz)
    assert not np.any(toks == 0), "content lost with a correct driver"
    assert not audit.double_isolation
    assert not audit.bad_lru_isolation
    assert_every_isolation_was_seen(sim, audit)
    assert not audit.leaks, audit.leaks
    assert sim.k.violations == []
    assert_counters_match_trace(sim)
    assert_free_lists_sound(sim)


@pytest.mark.parametrize("profile", PROFILES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_step_sizes_reach_the_end_of_stepping_one_tick_at_a_time(profile: str, data) -> None:
    """How a caller steps changes nothing but when owed buddy merges are replayed
    (Memory.settle): random workloads stepped by random sizes end exactly like stepping by
    one tick, with the same trace, counters, pages and free lists."""
    raw = data.draw(scenarios(profile, workload=True))
    seed = data.draw(st.integers(0, 2**16))
    sizes = data.draw(st.lists(st.sampled_from([2, 7, 64, 500, 5000]), min_size=1, max_size=6))
    one = Simulation(Scenario.from_dict(raw), seed=seed)
    many = Simulation(Scenario.from_dict(raw), seed=seed)
    while not one.done:
        one.step(1)
    i = 0
    while not many.done:
        many.step(sizes[i % len(sizes)])
        i += 1
    assert list(many.k.trace_lines) == list(one.k.trace_lines)
    assert many.counters() == one.counters()
    a, b = one.k.mem, many.k.mem
    assert np.array_equal(a.kind, b.kind) and np.array_equal(a.flags, b.flags)
    used = ~np.isin(a.kind, [K_PCP, K_TARGET, K_FREE])
    assert np.array_equal(a.token[used], b.token[used])
    assert np.array_equal(a.pb_mt, b.pb_mt)
    for za, zb in zip(a.zones, b.zones, strict=True):
        for o in range(len(za.free_area)):
            for mt in range(len(za.free_area[o])):
                assert a.free_list(za, o, mt) == b.free_list(zb, o, mt)
        assert [list(x) for x in za.pcp_lists] == [list(x) for x in zb.pcp_lists]
        assert za.nr_free_pages == zb.nr_free_pages
    assert check_invariants(many) == []


# -- buggy drivers ------------------------------------------------------------------------------

# (6.18 has no __ClearPageMovable: its movable_ops flag is sticky, §6)
BUGGY_CASES = [
    (mode, p)
    for mode in BUGGY_MODES
    for p in PROFILES
    if mode != "forget_clear_movable" or p == "v4.8"
]


def buggy_scenario(profile: str, mode: str, seed: int) -> Simulation:
    # lose_on_putback needs failed migrations to put pages back; the others need calls
    rates = {"EBUSY": 0.5} if mode == "lose_on_putback" else {"EAGAIN": 0.1}
    raw = {
        "profile": profile,
        "memory": {"zones": [{"name": "Normal", "pages": 4096}], "pcp": "simple"},
        "layout": {"free": 0.35, "fragmentation": 0.9},
        "drivers": [
            {"name": "good", "pages": 200, "migrate": dict(rates)},
            {"name": "bad", "pages": 200, "migrate": dict(rates), "buggy": [mode]},
        ],
        "kcompactd": False,
        "sysctl": {"compaction_proactiveness": 0},
        "timeline": [{"at_ms": 0, "action": "compact_memory"}],
    }
    return Simulation(Scenario.from_dict(raw), seed=seed)


@pytest.mark.parametrize(("mode", "profile"), BUGGY_CASES)
def test_each_buggy_driver_mode_is_reported_with_its_rule(mode: str, profile: str) -> None:
    """Each buggy mode is caught as a contract violation that names the broken rule of
    the seed document; the correct driver next to it is never flagged (§6)."""
    sim = buggy_scenario(profile, mode, seed=4)
    events = []
    while not sim.done:
        events.extend(sim.step(64).events)
    viol = sim.k.violations
    assert viol, f"{mode} was not detected"
    assert {v["driver"] for v in viol} == {"bad"}
    assert {v["mode"] for v in viol} == {mode}
    assert all(v["rule"] == RULES[mode] for v in viol)
    reported = [e for e in events if e["event"] == "contract_violation"]
    assert len(reported) == len(viol)
    assert all(RULES[mode] in e["text"] for e in reported)
    bad = next(d for d in sim.k.drivers if d.name == "bad")
    if mode == "lose_on_putback":
        assert len(viol) == bad.putback
    elif mode == "touch_lru_isolated":
        calls = bad.migrated + bad.eagain + sum(bad.errors.values())
        assert len(viol) == calls
    else:  # no_copy, forget_clear_movable: every successful migration breaks the rule
        assert len(viol) == bad.migrated
    if mode == "no_copy":
        # the data loss itself is visible: one destroyed content token per violation
        assert int(np.count_nonzero(tokens(sim) == 0)) == len(viol)
    else:
        assert not np.any(tokens(sim) == 0)


def opportunities(drv, mode: str) -> int:
    """How often a driver with this buggy mode breaks its rule: at every putback
    (lose_on_putback), every migratepage() call (touch_lru_isolated), every successful
    migration (no_copy, forget_clear_movable; for no_copy at most that, see below)."""
    if mode == "lose_on_putback":
        return drv.putback
    if mode == "touch_lru_isolated":
        return drv.migrated + drv.eagain + sum(drv.errors.values())
    return drv.migrated


@pytest.mark.parametrize("profile", PROFILES)
@SETTINGS
@given(data=st.data())
def test_buggy_drivers_are_caught_at_every_breach_and_correct_ones_never(profile: str, data):
    """On random small scenarios, with a correct driver and a buggy one (a random set of
    the modes the profile has): every breach of a rule is reported once, naming the
    buggy driver and the rule, the correct driver never is, and each destroyed content
    token is one no_copy report (§6, seed document C)."""
    raw = data.draw(scenarios(profile))
    modes = [m for m in BUGGY_MODES if m != "forget_clear_movable" or profile == "v4.8"]
    buggy = data.draw(st.lists(st.sampled_from(modes), min_size=1, unique=True))
    rates = {"EAGAIN": 0.1, "EBUSY": data.draw(st.sampled_from([0.0, 0.3]))}
    raw["drivers"] = [
        {"name": "good", "pages": 64, "migrate": dict(rates)},
        {"name": "bad", "pages": 64, "migrate": dict(rates), "buggy": buggy},
    ]
    sim = Simulation(Scenario.from_dict(raw), seed=data.draw(st.integers(0, 2**16)))
    run(sim)
    viol = sim.k.violations
    assert {v["driver"] for v in viol} <= {"bad"}
    assert all(v["rule"] == RULES[v["mode"]] for v in viol)
    bad = next(d for d in sim.k.drivers if d.name == "bad")
    for mode in modes:
        reported = sum(1 for v in viol if v["mode"] == mode)
        if mode not in buggy:
            assert reported == 0, mode
        elif mode == "no_copy":
            # a page whose content is gone already loses nothing more when moved again
            # without a copy: every other such migration is caught
            assert (reported > 0) == (bad.migrated > 0)
            assert reported <= bad.migrated
        else:
            assert reported == opportunities(bad, mode), mode
    destroyed = int(np.count_nonzero(tokens(sim) == 0))
    assert destroyed == sum(1 for v in viol if v["mode"] == "no_copy")


@pytest.mark.parametrize("profile", PROFILES)
def test_the_checks_read_the_pages_not_the_drivers_declared_bugs(profile, monkeypatch):
    """A driver with no buggy mode declared whose callbacks misbehave anyway (here: no
    copy, and in 4.8 the old page left movable) is caught all the same: the VM checks
    what the pages look like after migratepage(), as the seed document's rules say what
    they must look like (C.2)."""
    from simulator.constants import F_MOVABLE
    from simulator.drivers import Driver

    def careless_move(self, mem, old, new, clear_movable):
        mem.f[new] = F_MOVABLE  # neither copied nor, in 4.8, cleared on the old page

    monkeypatch.setattr(Driver, "move_page", careless_move)
    sim = buggy_scenario(profile, "no_copy", seed=4)
    for d in sim.k.drivers:
        d.buggy = ()
    run(sim)
    migrated = sum(d.migrated for d in sim.k.drivers)
    assert migrated
    counts = {m: sum(1 for v in sim.k.violations if v["mode"] == m) for m in BUGGY_MODES}
    assert counts["no_copy"] == migrated
    assert counts["forget_clear_movable"] == (migrated if profile == "v4.8" else 0)
    assert counts["lose_on_putback"] == counts["touch_lru_isolated"] == 0


@pytest.mark.parametrize("profile", PROFILES)
def test_forget_clear_movable_is_rejected_outside_v48(profile: str) -> None:
    """The 6.18 movable_ops flag is sticky, so the mode cannot exist there (§6)."""
    if profile == "v4.8":
        buggy_scenario(profile, "forget_clear_movable", seed=1)
        return
    with pytest.raises(Exception, match="forget_clear_movable"):
        buggy_scenario(profile, "forget_clear_movable", seed=1)


@pytest.mark.parametrize("profile", PROFILES)
def test_fallback_does_not_claim_a_block_whose_pinned_lru_pages_make_it_mostly_movable(
    profile: str,
) -> None:
    """An unmovable allocation falling back to a MOVABLE block claims the block only if
    free + (512 - free - movable) >= 256, where 6.18 prep_move_freepages_block() counts
    PageLRU pages, pinned ones included, as movable (§3.4 CLAIM); 4.8 retypes only when
    move_freepages_block() moved >= 256 free pages (§3.4). Block 0: 150 anon + 150 pinned
    + 212 free, so neither profile may retype it."""
    from tests.engine_helpers import make_sim, run_to_end, trace_events

    sim = make_sim(
        ranges=[
            {"start": 0, "count": 150, "kind": "anon"},
            {"start": 150, "count": 150, "kind": "pinned"},
            {"start": 300, "count": 212, "kind": "free"},
            {"start": 512, "count": 512, "kind": "unmovable"},
        ],
        pages=1024,
        profile=profile,
        pcp="off",
        timeline=[{"at_ms": 0, "action": "alloc", "count": 1, "order": 0, "type": "unmovable"}],
        kcompactd=False,
    )
    assert sim.k.mem.pb_mt.tolist() == [1, 0]
    run_to_end(sim)
    assert sim.k.mem.pb_mt.tolist() == [1, 0]
    (line,) = trace_events(sim, "mm_page_alloc_extfrag")
    assert "fallback_migratetype=1" in line and line.endswith("change_ownership=0")
