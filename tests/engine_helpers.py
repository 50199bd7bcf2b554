"""Small explicit layouts for the engine's rule tests."""

from __future__ import annotations

from simulator import Scenario, Simulation
from simulator.compaction import CompactControl
from simulator.constants import MIGRATE_SYNC, MIGRATE_UNMOVABLE


def make_sim(
    ranges=(),
    pages=2048,
    profile="v6.18",
    pcp="off",
    drivers=(),
    timeline=None,
    zones=None,
    **extra,
) -> Simulation:
    raw = {
        "profile": profile,
        "memory": {"zones": zones or [{"name": "Normal", "pages": pages}], "pcp": pcp},
        "layout": {"mode": "explicit", "ranges": list(ranges)},
        "drivers": list(drivers),
        "timeline": timeline if timeline is not None else [],
        "sysctl": {"compaction_proactiveness": 0},
        **extra,
    }
    return Simulation(Scenario.from_dict(raw), seed=1, profile=profile)


def run_to_end(sim: Simulation, limit: int = 100_000) -> None:
    n = 0
    while not sim.done and n < limit:
        sim.step(64)
        n += 64
    assert sim.done, "simulation did not finish"


def trace_events(sim: Simulation, name: str) -> list[str]:
    return [line.split(f" {name}: ", 1)[1] for line in sim.k.trace_lines if f" {name}: " in line]


def cc_for(sim: Simulation, mode=MIGRATE_SYNC, order=-1, **kw) -> CompactControl:
    """A compact_control over the whole first zone, the free scanner parked at its last
    pageblock."""
    cc = CompactControl(
        0,
        order,
        mode,
        kw.pop("migratetype", MIGRATE_UNMOVABLE),
        kw.pop("source", "compact_memory"),
        **kw,
    )
    z = sim.k.mem.zones[0]
    cc.migrate_pfn = z.start
    cc.free_pfn = z.end - 512
    return cc
