"""`python -m simulator bench`: engine speed and memory on fragmented zones.

Every figure is measured in the same process run, and each ratio compares against a
baseline measured on the same layout in that run.
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc

import numpy as np

from . import ENGINE_VERSION, Scenario, Simulation
from .constants import K_ANON, K_FILE, K_FREE


def bench_scenario(gib: float, profile: str) -> Scenario:
    pages = int(gib * 262144)
    return Scenario.from_dict(
        {
            "name": f"bench {gib:g} GiB",
            "profile": profile,
            "memory": {"zones": [{"name": "Normal", "pages": pages}], "pcp": "simple"},
            "layout": {
                "free": 0.3,
                "fragmentation": 0.8,
                "mix": {"anon": 0.6, "file": 0.3, "unmovable": 0.07, "reclaimable": 0.03},
            },
            "timeline": [{"at_ms": 0, "action": "compact_memory"}],
            **({"sysctl": {"compaction_proactiveness": 0}}),
        }
    )


def floor_pass(kind: np.ndarray) -> tuple[float, int]:
    """The floor no faithful engine can beat: movable pages from the bottom swapped into
    free pages from the top until the scanners meet, all vectorised."""
    t = time.perf_counter()
    k = kind.copy()
    movable = np.flatnonzero((k == K_ANON) | (k == K_FILE))
    free = np.flatnonzero(k == K_FREE)[::-1]
    n = min(len(movable), len(free))
    # pair i-th movable (ascending) with i-th free (descending) while movable < free
    m, f = movable[:n], free[:n]
    ok = m < f
    cnt = int(np.argmin(ok)) if not ok.all() else n
    m, f = m[:cnt], f[:cnt]
    k[f] = k[m]
    k[m] = K_FREE
    return time.perf_counter() - t, cnt


def run_engine(sc: Scenario, profile: str) -> dict:
    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    sim = Simulation(sc, seed=1, profile=profile)
    t_build = time.perf_counter() - t0
    base_mem = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    t1 = time.perf_counter()
    sim.run()
    t_run = time.perf_counter() - t1
    cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    c = sim.counters()
    return {
        "sim": sim,
        "build_s": t_build,
        "run_s": t_run,
        "state_bytes": base_mem,
        "peak_bytes": peak,
        "scanned": c["compact_migrate_scanned"] + c["compact_free_scanned"],
        "migrated": c["pgmigrate_success"],
    }


def main(args) -> int:
    sizes = [float(s) for s in args.sizes.split(",") if s]
    for s in sizes:
        if not 0.0625 <= s <= 64:
            print(
                f"error: --sizes: each size must be from 0.0625 to 64 GiB (got {s})",
                file=sys.stderr,
            )
            return 2
    print(f"pagemig engine {ENGINE_VERSION} bench, profile {args.profile}, numpy {np.__version__}")
    print(
        f"{'zone':>8s} {'pages':>10s} {'build s':>8s} {'compact s':>10s} {'scanned/s':>12s} {'migrated/s':>11s} {'B/page':>7s} {'peak B/page':>11s} {'floor s':>8s} {'vs floor':>9s}"
    )
    for gib in sizes:
        sc = bench_scenario(gib, args.profile)
        r = run_engine(sc, args.profile)
        sim = r["sim"]
        # the floor runs on the same initial layout, rebuilt from the same seed
        layout = Simulation(sc, seed=1, profile=args.profile).k.mem.kind
        t_floor, _ = floor_pass(layout)
        t_floor = min(t_floor, floor_pass(layout)[0])
        n = sim.npages
        print(
            f"{gib:>6g}Gi {n:>10d} {r['build_s']:>8.2f} {r['run_s']:>10.3f} {r['scanned'] / r['run_s']:>12.0f} "
            f"{r['migrated'] / r['run_s']:>11.0f} {r['state_bytes'] / n:>7.2f} {(r['state_bytes'] + r['peak_bytes']) / n:>11.2f} "
            f"{t_floor:>8.4f} {r['run_s'] / t_floor:>8.1f}x",
            flush=True,
        )
        if args.reference and gib <= 1:
            ref = _reference(sc, args.profile)
            if ref is None:
                print("  reference: tests/reference_compaction.py not found (run from a checkout)")
            else:
                print(
                    f"  per-page reference: {ref:.2f} s  engine is {ref / r['run_s']:.1f}x faster"
                )
        del sim, r
        gc.collect()
    return 0


def _reference(sc: Scenario, profile: str) -> float | None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "tests" / "reference_compaction.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("reference_compaction", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sim = Simulation(sc, seed=1, profile=profile)
    t = time.perf_counter()
    mod.compact_memory_reference(sim)
    return time.perf_counter() - t
