"""Kernel text formats: /proc/buddyinfo, /proc/pagetypeinfo, /proc/vmstat, debugfs extfrag (§4)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .constants import (
    MAX_ORDER,
    MIGRATE_TYPES,
    MIGRATETYPE_NAMES,
    PAGEBLOCK_NR_PAGES,
    PAGEBLOCK_ORDER,
)
from .memory import fragmentation_index, unusable_free_index

if TYPE_CHECKING:
    from .kernel import Kernel

# Migratetypes shown by pagetypeinfo: the kernel prints every type it was built with. We
# model a kernel with CONFIG_CMA and CONFIG_MEMORY_ISOLATION, like most distributions.
SHOWN_TYPES = range(MIGRATE_TYPES)


def buddyinfo(k: Kernel) -> str:
    out = []
    for z in k.mem.zones:
        if not z.present:
            continue
        line = f"Node 0, zone {z.name:>8s} " + "".join(
            f"{z.nr_free(o):6d} " for o in range(MAX_ORDER)
        )
        out.append(line + "\n")
    return "".join(out)


def pagetypeinfo(k: Kernel) -> str:
    mem = k.mem
    out = [
        f"Page block order: {PAGEBLOCK_ORDER}\n",
        f"Pages per block:  {PAGEBLOCK_NR_PAGES}\n",
        "\n",
    ]
    out.append(
        f"{'Free pages count per migrate type at order':<43s} "
        + "".join(f"{o:6d} " for o in range(MAX_ORDER))
        + "\n"
    )
    for z in mem.zones:
        if not z.present:
            continue
        for mt in SHOWN_TYPES:
            row = f"Node {0:4d}, zone {z.name:>8s}, type {MIGRATETYPE_NAMES[mt]:>12s} "
            for o in range(MAX_ORDER):
                n = z.free_area[o][mt].count
                if k.v6:
                    # the walk stops at its 100000th entry: ++freecount >= 100000
                    row += f"{'>' if n >= 100000 else ''}{min(n, 100000):6d} "
                else:
                    row += f"{n:6d} "
            out.append(row + "\n")
    out.append(
        f"\n{'Number of blocks type ':<23s}"
        + "".join(f"{MIGRATETYPE_NAMES[mt]:>12s} " for mt in SHOWN_TYPES)
        + "\n"
    )
    for z in mem.zones:
        if not z.present:
            continue
        b0 = z.start >> PAGEBLOCK_ORDER
        b1 = (z.end + PAGEBLOCK_NR_PAGES - 1) >> PAGEBLOCK_ORDER
        counts = [int((mem.pb_mt[b0:b1] == mt).sum()) for mt in SHOWN_TYPES]
        out.append(f"Node 0, zone {z.name:>8s} " + "".join(f"{c:12d} " for c in counts) + "\n")
    return "".join(out)


def vmstat(k: Kernel) -> str:
    return "".join(f"{name} {value}\n" for name, value in k.vmstat.items())


def _c_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _c_mod(a: int, b: int) -> int:
    return a - _c_div(a, b) * b


def _index_row(values: list[int], wide: bool) -> str:
    # "%d.%03d " (or "%2d.%03d ") of index / 1000 and index % 1000 with C's truncating
    # division; Python's format prints a negative remainder as C does ("-500")
    fmt = "{:2d}.{:03d} " if wide else "{:d}.{:03d} "
    return "".join(fmt.format(_c_div(v, 1000), _c_mod(v, 1000)) for v in values)


def _index_file(k: Kernel, index, wide: bool) -> str:
    """One line per populated zone: 'Node %d, zone %8s ' then the index at each order."""
    out = []
    for z in k.mem.zones:
        if not z.present:
            continue
        vals = [index(*k.mem.contig_info(z, o), o) for o in range(MAX_ORDER)]
        out.append(f"Node 0, zone {z.name:>8s} " + _index_row(vals, wide) + "\n")
    return "".join(out)


def extfrag_index(k: Kernel) -> str:
    # "%2d.%03d " from 6.1 on (§4.7)
    return _index_file(k, fragmentation_index, wide=k.v6)


def unusable_index(k: Kernel) -> str:
    return _index_file(
        k, lambda fp, _total, suitable, o: unusable_free_index(fp, suitable, o), wide=False
    )


def trace(k: Kernel) -> str:
    return "".join(line + "\n" for line in k.trace_lines)


REPORTS = {
    "buddyinfo": buddyinfo,
    "pagetypeinfo": pagetypeinfo,
    "vmstat": vmstat,
    "extfrag": extfrag_index,
    "unusable": unusable_index,
    "trace": trace,
}
