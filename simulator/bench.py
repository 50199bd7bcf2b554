"""`python -m simulator bench`: engine speed and memory on fragmented zones.

Every figure is measured in the same process run, and each ratio compares against a
baseline measured on the same layout in that run. Times are CPU seconds of this process
(time.process_time), so other load on the machine disturbs them less than wall time.
Freed memory stays in the process (keep_freed_memory()), and up to 1 GiB a warm-up run at
the same size comes first, so the figures are of a warm process; the first run at each
size, cold, is printed too.
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc

import numpy as np

from . import ENGINE_VERSION, Scenario, Simulation
from .constants import K_ANON, K_FILE, K_FREE

SMALL_REPS = 3  # runs of the engine and of the reference at sizes up to 1 GiB


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
    t = time.process_time()
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
    return time.process_time() - t, cnt


def run_engine(sc: Scenario, profile: str) -> dict:
    """Time a full compaction without instrumentation."""
    gc.collect()
    t0 = time.process_time()
    sim = Simulation(sc, seed=1, profile=profile)
    t_build = time.process_time() - t0
    t1 = time.process_time()
    sim.run()
    t_run = time.process_time() - t1
    c = sim.counters()
    return {
        "sim": sim,
        "build_s": t_build,
        "run_s": t_run,
        "scanned": c["compact_migrate_scanned"] + c["compact_free_scanned"],
        "migrated": c["pgmigrate_success"],
    }


def measure_memory(sc: Scenario, profile: str) -> dict:
    """A second run under tracemalloc (which slows Python ~5x, so it is not timed).

    state: what the engine holds after construction (page arrays, free lists, ...);
    peak: the most it holds at once during the compaction, bounded logs included.
    """
    gc.collect()
    sim = Simulation(sc, seed=1, profile=profile)
    tracemalloc.start()
    # numpy reports its buffers to tracemalloc; measure the engine's footprint directly
    state = _footprint(sim)
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    sim.run()
    peak = tracemalloc.get_traced_memory()[1] - base
    logs = _log_bytes(sim)
    tracemalloc.stop()
    return {"state": state, "peak": state + peak, "logs": logs}


def _footprint(sim: Simulation) -> int:
    mem = sim.k.mem
    n = (
        mem.kind.nbytes
        + mem.flags.nbytes
        + mem.aux.nbytes
        + mem.token.nbytes
        + mem.pb_mt.nbytes
        + mem.pb_skip.nbytes
        + mem.zone_of_block.nbytes
    )
    for z in mem.zones:
        for row in z.free_area:
            for fl in row:
                n += fl.head.itemsize * len(fl.head) + fl.tail.itemsize * len(fl.tail)
        n += 8 * z.pcp_count
    return n


def _log_bytes(sim: Simulation) -> int:
    h = sim.k.history
    return len(h) * 21 + sum(len(line) + 49 for line in sim.k.trace_lines)


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory in the process rather than hand it back to the OS
    (the default gives back the top of the heap above 128 KiB to 64 MiB, depending on
    history). A compaction allocates and frees megabytes of numpy temporaries; memory
    handed back must be faulted in again by the next run, a few us a page on a VM, so
    timings would depend on what happened to be given back. Returns whether it applied
    (not on other C libraries)."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    return bool(mallopt(m_mmap_threshold, 32 << 20)) and bool(mallopt(m_trim_threshold, 1 << 30))


def main(args) -> int:
    sizes = [float(s) for s in args.sizes.split(",") if s]
    for s in sizes:
        if not 0.0625 <= s <= 64:
            print(
                f"error: --sizes: each size must be from 0.0625 to 64 GiB (got {s})",
                file=sys.stderr,
            )
            return 2
    kept = keep_freed_memory()
    print(f"pagemig engine {ENGINE_VERSION} bench, profile {args.profile}, numpy {np.__version__}")
    print("a fragmented zone (30% free, fragmentation 0.8) compacted once through compact_memory")
    print(
        "vs floor: engine time / a minimal vectorised two-scanner pass (target: 20x at most, 16 GiB)"
    )
    print(
        f"CPU seconds; up to 1 GiB the best of {SMALL_REPS} runs after a warm-up run at the same "
        "size (engine and reference alike), one run above"
    )
    print(
        "freed memory stays in this process (glibc mallopt): no run pays page faults for "
        "memory an earlier one freed"
        if kept
        else "freed memory may go back to the OS (mallopt not available): timings may vary"
    )
    # the first compaction in a process pays for imports and first-touch allocations
    run_engine(bench_scenario(0.0625, args.profile), args.profile)
    print(
        f"{'zone':>7s} {'pages':>10s} {'build s':>8s} {'compact s':>10s} {'scanned/s':>11s} {'migrated/s':>11s} "
        f"{'state B/pg':>10s} {'peak B/pg':>9s} {'logs MB':>8s} {'floor s':>8s} {'vs floor':>9s}"
    )
    for gib in sizes:
        sc = bench_scenario(gib, args.profile)
        reps = SMALL_REPS if gib <= 1 else 1
        first = None
        if gib <= 1:
            # a warm-up run at this size: the first one pays for growing the heap
            first = run_engine(sc, args.profile)["run_s"]
        r = min((run_engine(sc, args.profile) for _ in range(reps)), key=lambda x: x["run_s"])
        sim = r["sim"]
        n = sim.npages
        del r["sim"], sim
        gc.collect()
        layout = Simulation(sc, seed=1, profile=args.profile).k.mem.kind
        t_floor = min(floor_pass(layout)[0] for _ in range(3))
        del layout
        gc.collect()
        m = (
            measure_memory(sc, args.profile)
            if not args.no_memory
            else {"state": 0, "peak": 0, "logs": 0}
        )
        print(
            f"{gib:>5g}Gi {n:>10d} {r['build_s']:>8.2f} {r['run_s']:>10.3f} {r['scanned'] / r['run_s']:>11.0f} "
            f"{r['migrated'] / r['run_s']:>11.0f} {m['state'] / n:>10.2f} {m['peak'] / n:>9.2f} {m['logs'] / 1e6:>8.1f} "
            f"{t_floor:>8.4f} {r['run_s'] / t_floor:>8.1f}x",
            flush=True,
        )
        if first is not None:
            print(f"  first run at this size (cold heap): {first:.3f} s", flush=True)
        if args.reference and gib <= 1:
            # a warm-up run and the best of SMALL_REPS, as for the engine
            refs = [_reference(sc, args.profile) for _ in range(SMALL_REPS + 1)][1:]
            ref = None if refs[0] is None else min(refs)
            if ref is None:
                print("  reference: tests/reference_compaction.py not found (run from a checkout)")
            else:
                print(
                    f"  per-page reference: {ref:.2f} s; engine is {_ratio(ref, r['run_s'])}"
                    " (target: at least 50x faster at 1 GiB)",
                    flush=True,
                )
        gc.collect()
    return 0


def _ratio(ref_s: float, engine_s: float) -> str:
    if engine_s <= ref_s:
        return f"{ref_s / engine_s:.1f}x faster"
    return f"{engine_s / ref_s:.1f}x slower"


def _reference(sc: Scenario, profile: str) -> float | None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "tests" / "reference_compaction.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("reference_compaction", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["reference_compaction"] = mod  # dataclasses look their module up here
    spec.loader.exec_module(mod)
    ref = mod.ReferenceKernel(Simulation(sc, seed=1, profile=profile))
    t = time.process_time()
    ref.compact_memory()
    return time.process_time() - t
