"""Invariants of the simulated memory, checked by the tests and by `simulator check`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .constants import (
    F_BUDDY,
    F_ISOLATED,
    K_FREE,
    K_HOLE,
    K_PCP,
    K_TARGET,
    MAX_ORDER,
    MIGRATE_PCPTYPES,
    MIGRATE_TYPES,
    PAGEBLOCK_ORDER,
)

if TYPE_CHECKING:
    from .engine import Simulation


def check_invariants(sim: Simulation, idle: bool | None = None) -> list[str]:
    """Returns a list of problems (empty when the state is consistent).

    idle: no compaction in progress, so nothing may be isolated. Defaults to "no job".
    """
    k = sim.k
    mem = k.mem
    problems: list[str] = []
    if idle is None:
        idle = not sim.jobs
    kind, flags, aux = mem.kind, mem.flags, mem.aux
    covered = np.zeros(mem.npages, dtype=np.int32)
    for z in mem.zones:
        heads = np.flatnonzero((flags[z.start : z.end] & F_BUDDY) != 0) + z.start
        orders = aux[heads] & 0xF
        mts = aux[heads] >> 4
        free_total = 0
        for o in range(MAX_ORDER):
            hs = heads[orders == o]
            if len(hs) and np.any(hs % (1 << o)):
                problems.append(
                    f"zone {z.name}: order-{o} block not aligned at {int(hs[hs % (1 << o) != 0][0])}"
                )
            if len(hs) and np.any(hs + (1 << o) > z.end):
                problems.append(f"zone {z.name}: order-{o} block crosses the zone end")
            for h in hs.tolist():
                covered[h : h + (1 << o)] += 1
            free_total += len(hs) << o
            for mt in range(MIGRATE_TYPES):
                fl = z.free_area[o][mt]
                live = list(fl.walk(mem.f, mem.a, mem.t))
                n_heads = int(np.count_nonzero((orders == o) & (mts == mt)))
                if fl.count != len(live) or len(live) != n_heads or len(set(live)) != len(live):
                    problems.append(
                        f"zone {z.name}: list order {o} type {mt}: count {fl.count}, walk {len(live)}, heads {n_heads}"
                    )
        if free_total != z.nr_free_pages:
            problems.append(
                f"zone {z.name}: NR_FREE_PAGES {z.nr_free_pages} but free blocks hold {free_total}"
            )
        # fully merged: a free block whose buddy is a free block of the same order would
        # have been merged (orders below MAX_ORDER-1, same zone, mergeable types)
        for o in range(MAX_ORDER - 1):
            hs = heads[orders == o]
            if not len(hs):
                continue
            hset = set(hs.tolist())
            for h in hs.tolist():
                b = h ^ (1 << o)
                if b in hset and h < b and z.start <= b < z.end:
                    mt_h, mt_b = int(aux[h] >> 4), int(aux[b] >> 4)
                    if (
                        o >= PAGEBLOCK_ORDER
                        and mt_h != mt_b
                        and (mt_h >= MIGRATE_PCPTYPES or mt_b >= MIGRATE_PCPTYPES)
                    ):
                        continue
                    problems.append(
                        f"zone {z.name}: buddies {h:#x} and {b:#x} of order {o} both free but not merged"
                    )
                    break
        pcp_total = sum(len(lst) for lst in z.pcp_lists)
        if pcp_total != z.pcp_count:
            problems.append(f"zone {z.name}: pcp_count {z.pcp_count} but lists hold {pcp_total}")
        for lst in z.pcp_lists:
            for p in lst:
                if kind[p] != K_PCP:
                    problems.append(f"pcp page {p:#x} has kind {int(kind[p])}")
                    break
    free_mask = kind == K_FREE
    if np.any(covered[free_mask] != 1):
        bad = int(np.flatnonzero(free_mask & (covered != 1))[0])
        problems.append(f"free page {bad:#x} covered by {int(covered[bad])} buddy blocks")
    if np.any(covered[~free_mask] != 0):
        bad = int(np.flatnonzero(~free_mask & (covered != 0))[0])
        problems.append(f"page {bad:#x} (kind {int(kind[bad])}) lies inside a free block")
    if np.count_nonzero(kind == K_PCP) != sum(z.pcp_count for z in mem.zones):
        problems.append("pages marked pcp differ from the pcp lists")
    used = (kind != K_FREE) & (kind != K_PCP) & (kind != K_HOLE) & (kind != K_TARGET)
    toks = mem.token[used]
    nz = toks[toks != 0]
    if len(np.unique(nz)) != len(nz):
        problems.append("a content token is present more than once")
    if idle:
        if np.any(flags & F_ISOLATED):
            problems.append(
                f"{int(np.count_nonzero(flags & F_ISOLATED))} pages still isolated while idle"
            )
        if np.any(kind == K_TARGET):
            problems.append(
                f"{int(np.count_nonzero(kind == K_TARGET))} free pages still isolated as targets while idle"
            )
        if k.nr_isolated != 0:
            problems.append(f"nr_isolated is {k.nr_isolated} while idle")
    return problems


def tokens(sim: Simulation) -> np.ndarray:
    """Sorted content tokens of every allocated page (0 = content destroyed)."""
    mem = sim.k.mem
    kind = mem.kind
    used = (kind != K_FREE) & (kind != K_PCP) & (kind != K_HOLE) & (kind != K_TARGET)
    return np.sort(mem.token[used])
