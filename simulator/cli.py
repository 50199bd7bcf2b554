"""Command line: `python -m simulator run SCENARIO`, in the spirit of the OSTEP simulators.

The seed is always printed so any run can be repeated; bad input exits non-zero with a
message naming the field.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import ENGINE_VERSION, PRESETS, Scenario, ScenarioError, Simulation
from .constants import PROFILES
from .procfs import REPORTS

DEFAULT_REPORTS = "buddyinfo,vmstat"

MAX_TICKS = 10**9  # --max-ticks: the most a run may tick


def _load(spec: str) -> Scenario:
    if spec in PRESETS:
        return Scenario.from_dict(PRESETS[spec])
    p = Path(spec)
    if not p.exists():
        raise ScenarioError(
            [
                _fe(
                    "SCENARIO",
                    f"{spec!r} is neither a file nor a preset ({', '.join(sorted(PRESETS))})",
                )
            ]
        )
    return Scenario.from_file(p)


def _fe(field: str, msg: str):
    from .scenario import FieldError

    return FieldError(field, msg)


def _progress(sim: Simulation, started: float) -> None:
    jobs = sim.jobs
    cc = jobs[0].cc if jobs and jobs[0].cc else None
    where = ""
    if cc is not None:
        z = sim.k.mem.zones[cc.zone]
        span = max(1, z.end - z.start)
        frac = min(1.0, max(0.0, (cc.migrate_pfn - z.start) / span + (z.end - cc.free_pfn) / span))
        bar = "#" * int(frac * 30)
        where = f"[{bar:<30s}] {jobs[0].kind} {z.name}"
    sys.stderr.write(
        f"\r{where} t={sim.time_ns / 1e6:9.2f} ms  {time.perf_counter() - started:6.1f}s "
    )
    sys.stderr.flush()


def cmd_run(args: argparse.Namespace) -> int:
    reports = [r for r in args.report.split(",") if r]
    for r in reports:
        if r not in REPORTS:
            print(
                f"error: --report: unknown report {r!r}; choose from {', '.join(REPORTS)}",
                file=sys.stderr,
            )
            return 2
    try:
        scenario = _load(args.scenario)
        seed = scenario.data["seed"] if args.seed is None else args.seed
        sim = Simulation(scenario, seed=seed, profile=args.profile)
    except ScenarioError as e:
        for err in e.errors:
            print(f"error: {err.field}: {err.message}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    show = sys.stderr.isatty() and not args.no_progress
    last = 0.0

    def progress(s: Simulation) -> None:
        nonlocal last
        now = time.perf_counter()
        if show and now - last > 0.2:
            last = now
            _progress(s, started)

    sim.run(max_ticks=args.max_ticks, progress=progress if show else None)
    if show:
        sys.stderr.write("\n")
    elapsed = time.perf_counter() - started
    if args.json:
        out = {
            "engine_version": ENGINE_VERSION,
            "scenario": scenario.name,
            "seed": sim.seed,
            "profile": sim.profile,
            "pages": sim.npages,
            "done": sim.done,
            "metrics": sim.metrics(),
            "reports": {r: sim.report(r) for r in reports},
            "violations": sim.k.violations,
            "elapsed_s": round(elapsed, 3),
        }
        print(json.dumps(out, indent=2))
        return 0
    print(
        f"pagemig {ENGINE_VERSION}  scenario: {scenario.name}  profile: {sim.profile}  seed: {sim.seed}"
    )
    print(
        f"pages: {sim.npages}  simulated: {sim.time_ns / 1e6:.3f} ms  wall: {elapsed:.2f} s  {'finished' if sim.done else 'stopped at --max-ticks'}"
    )
    m = sim.metrics()
    print(
        f"compaction outcomes: {m['compact_outcomes'] or 'none'}  fragindex(order {m['fragindex_order']}): {m['fragindex']}"
    )
    for d in m["drivers"]:
        print(
            f"driver {d['name']}: migrated {d['migrated']}  -EAGAIN {d['eagain']}  errors {d['errors']}  putback {d['putback']}"
        )
    for v in sim.k.violations[:20]:
        print(f"VIOLATION pfn {v['pfn']:#x} driver {v['driver']}: {v['rule']}")
    if len(sim.k.violations) > 20:
        print(f"... and {len(sim.k.violations) - 20} more violations")
    for r in reports:
        print(f"\n# {r}")
        sys.stdout.write(sim.report(r))
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    for name, d in sorted(PRESETS.items()):
        print(f"{name:24s} {d.get('profile', 'v6.18'):6s} {d.get('name', '')}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        sc = _load(args.scenario)
    except ScenarioError as e:
        for err in e.errors:
            print(f"error: {err.field}: {err.message}", file=sys.stderr)
        return 2
    print(f"ok: {sc.name} ({sc.total_pages} pages)")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import main as bench_main

    return bench_main(args)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m simulator", description=f"pagemig engine {ENGINE_VERSION}"
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run a scenario (a TOML/JSON file or a preset name)")
    run.add_argument("scenario")
    run.add_argument(
        "-s", "--seed", type=int, default=None, help="random seed (default: the scenario's, else 1)"
    )
    run.add_argument(
        "--profile", choices=PROFILES, default=None, help="kernel profile (default: the scenario's)"
    )
    run.add_argument("--report", default=DEFAULT_REPORTS, help=f"comma list of {','.join(REPORTS)}")
    run.add_argument("--json", action="store_true", help="print one JSON document")
    run.add_argument("--max-ticks", type=int, default=MAX_TICKS)
    run.add_argument("--no-progress", action="store_true")
    run.set_defaults(func=cmd_run)
    sub.add_parser("presets", help="list the preset scenarios").set_defaults(func=cmd_presets)
    val = sub.add_parser("validate", help="check a scenario file")
    val.add_argument("scenario")
    val.set_defaults(func=cmd_validate)
    b = sub.add_parser("bench", help="measure the engine (see benchmarks/README.md)")
    b.add_argument("--sizes", default="1,16,64", help="zone sizes in GiB, comma separated")
    b.add_argument("--profile", choices=PROFILES, default="v6.18")
    b.add_argument(
        "--reference", action="store_true", help="also run the per-page reference at 1 GiB (slow)"
    )
    b.add_argument(
        "--no-memory", action="store_true", help="skip the (slow) tracemalloc memory pass"
    )
    b.set_defaults(func=cmd_bench)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if getattr(args, "seed", None) is not None and not 0 <= args.seed < 2**32:
        print("error: --seed: must be from 0 to 4294967295", file=sys.stderr)
        return 2
    if getattr(args, "max_ticks", None) is not None and not 1 <= args.max_ticks <= MAX_TICKS:
        print(f"error: --max-ticks: must be from 1 to {MAX_TICKS}", file=sys.stderr)
        return 2
    return args.func(args)
