"""Many ticks of a full compaction at once, with the same result as ticking one by one.

A 16 GiB `compact_memory` takes thousands of compact_zone() iterations. Each one is a
handful of small numpy calls and trace lines, so ticking through them costs ~100x what the
page work itself does. In the steady state of a 6.18 full compaction (both scanners far
apart, plain LRU pages, nothing that can fail) every iteration follows from the page
arrays alone: which pages the migrate scanner takes from each pageblock, which free blocks
the free scanner takes and in which order compaction_alloc() hands their pages out, what
each trace line says and when. fast_forward() computes a run of whole pageblocks that way
and applies it with one bulk operation per array, then hands back to the tick loop, which
takes over wherever the steady state ends (a page that may fail, a driver page, scanners
close to meeting, a timeline event coming due, the end of the step).

What it reproduces, per migrate-scanner pageblock (6.18, cc->order == -1, MIGRATE_SYNC,
ignore_skip_hint), with c the pageblock's isolatable LRU pages:
- c == 0: one isolate tick that takes nothing; the block's skip bit is set;
- the zone's first pageblock (compact_zone() starts with last_migrated_pfn = 0, so
  finish_pageblock is set): one isolate tick that takes every LRU page of the block;
- otherwise an isolate tick for the first COMPACT_CLUSTER_MAX pages and a migrate tick, and
  when pages are left, a second isolate tick with finish_pageblock set that takes the
  rest of the block (a migrate tick follows if it took any).
Every migration succeeds at the first async pass of migrate_pages_sync(). The free scanner
runs whenever the isolated free pages run out, exactly as isolate_freepages() would.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .arrays import ranges
from .constants import (
    COMPACT_CLUSTER_MAX,
    COMPACT_CONTINUE,
    F_BUDDY,
    F_DIRTY,
    F_ISOLATED,
    F_LRU,
    F_UNEVICTABLE,
    K_COMPOUND_HEAD,
    K_COMPOUND_TAIL,
    K_DRIVER,
    K_HOLE,
    K_TARGET,
    MAX_ORDER,
    MIGRATE_CMA,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_SYNC,
    MODE_NAMES,
    MR_COMPACTION,
    PAGEBLOCK_NR_PAGES,
    PAGEBLOCK_ORDER,
    status_name,
)
from .kernel import COST_COPY, COST_SCAN, COST_TICK, H_OUT

if TYPE_CHECKING:
    from .compaction import CompactControl, Compactor

# The free scanner stays this far above the end of the migrate scanner's pageblock. A page
# freed below that end merges only within its aligned max-order block (2^10 pages), which
# ends at most one pageblock above it, so owed merges and what the free scanner reads or
# takes never meet. (An upper bound: the 4.8 fast path's free scanner uses the exact
# floor, see fast_forward_48(); it keeps this margin only for how far a call plans.)
MARGIN = 1 << PAGEBLOCK_ORDER
# Free blocks of this order or more retype their pageblock when isolated (6.18
# move_freepages_block() reorders free lists): left to the tick loop.
RETYPE_ORDER = PAGEBLOCK_ORDER - 1
MAX_BLOCK = 1 << (MAX_ORDER - 1)  # pages in the largest free block
FREE_CHUNK = 4096  # most free-scanner pageblocks prepared at once
# Most migrate-scanner pageblocks in one call: bigger runs cost as much per page, but
# their temporaries (~100 B per page of the run) add to the peak memory.
MAX_RUN_BLOCKS = 128
# A run that gets this close to where the scanners meet goes on to the end rather than
# leave a few pageblocks to a call of their own (each call costs ~0.5 ms of set-up).
TAIL_BLOCKS = MAX_RUN_BLOCKS // 4
_RANGE = "range=(%#x ~ %#x) nr_scanned=%d nr_taken=%d"
_MIGRATED = "nr_migrated=%d nr_failed=0"
_SLOW = 1 | 4  # F_LOCKED | F_WRITEBACK: such pages may wait or fail in migrate_pages()
# the page kinds the fast paths leave to the tick loop, as bits (every kind is below 16)
_BAD_KIND_BITS = np.uint16(
    sum(1 << k for k in (K_COMPOUND_HEAD, K_COMPOUND_TAIL, K_DRIVER, K_HOLE, K_TARGET))
)


def bad_kinds(kinds: np.ndarray) -> np.ndarray:
    """Whether each kind is one the fast paths leave to the tick loop: a shift of a bit
    mask, as a table lookup with a uint8 index costs numpy ~6x more."""
    return (np.right_shift(_BAD_KIND_BITS, kinds) & 1) != 0


def applicable(c: Compactor, cc: CompactControl) -> bool:
    """Whether cc is at the start of a pageblock in the steady state fast_forward() models."""
    k = c.k
    mem = c.mem
    return (
        k.v6
        and cc.phase == "isolate"
        and cc.order == -1
        and cc.mode == MIGRATE_SYNC
        and cc.ignore_skip_hint
        and not cc.ignore_block_suitable
        and not (cc.direct or cc.proactive or cc.rescan or cc.contended)
        and cc.nr_migratepages == 0
        and not cc.migratepages
        and cc.migrate_pfn % PAGEBLOCK_NR_PAGES == 0
        and mem.capture is None
        and not k.lru_eagain_rate
        and k.file_migratepage
        and cc.nr_freepages == sum(len(q) << o for o, q in enumerate(cc.freepages_618))
    )


def _handout(lists) -> np.ndarray:
    """The pfns successive compaction_alloc() calls take from cc->freepages[]: the lowest
    non-empty order first, and a split block's remainder before anything else, so each
    list's blocks in list order, each block in ascending pfn order."""
    parts = [np.asarray(lists[0], dtype=np.int64)]
    for order in range(1, MAX_ORDER):
        if lists[order]:
            heads = np.asarray(lists[order], dtype=np.int64)
            parts.append((heads[:, None] + np.arange(1 << order)).ravel())
    return np.concatenate(parts)


class _Column:
    """An append-only int64 array. np.concatenate copies everything at each append; this
    copies only when its spare room runs out, into a buffer a quarter bigger than needed."""

    __slots__ = ("buf", "n")

    def __init__(self, *first: int) -> None:
        self.buf = np.array(first, dtype=np.int64)
        self.n = len(first)

    def _room(self, k: int) -> np.ndarray:
        """The k slots after the filled part, growing the buffer if need be."""
        n = self.n
        if n + k > len(self.buf):
            buf = np.empty(n + k + ((n + k) >> 2), dtype=np.int64)
            buf[:n] = self.buf[:n]
            self.buf = buf
        self.n = n + k
        return self.buf[n : n + k]

    def extend(self, new: np.ndarray) -> np.ndarray:
        """Append new (an int64 array the caller gives up); returns the filled part (a
        view)."""
        if not self.n and new.dtype == np.int64:
            # the first part becomes the buffer: no copy
            self.buf, self.n = new, len(new)
        else:
            self._room(len(new))[:] = new
        return self.buf[: self.n]

    def extend_cumsum(self, new: np.ndarray) -> np.ndarray:
        """Append the running totals of new, continuing from the last value."""
        last = self.buf[self.n - 1]
        np.cumsum(new, out=self._room(len(new)))
        if last:
            self.buf[self.n - len(new) : self.n] += last
        return self.buf[: self.n]


class _FreeScanner:
    """isolate_freepages() runs ("episodes"), computed from the page arrays ahead of time.

    Pageblocks are prepared FREE_CHUNK at a time from the top down. The free block heads of
    the suitable ones are kept in scan order (pageblocks top down, heads in ascending pfn
    order within each) with running page totals, so an episode is a few bisections."""

    def __init__(self, c: Compactor, cc: CompactControl, zone, demand: int, low: int) -> None:
        self.mem = c.mem
        # 4.8 (fastpath48.py) plans its runs itself and counts only the heads of the blocks
        # it takes (_simple_visits())
        self.v6 = c.k.v6
        self.z = zone
        self.pos = cc.free_pfn  # isolate_start_pfn: where the next episode resumes
        self.blocks: list[tuple] = []  # (bstart, bend, suitable, bad, lo, hi), top down
        self.bi = 0  # index in self.blocks of the block holding self.pos
        self.next_prep = cc.free_pfn & ~(PAGEBLOCK_NR_PAGES - 1)
        self.lowest = self.next_prep  # lowest pageblock start an episode visited
        self.taken = 0
        self.demand = demand  # pages the migrate side may want
        # the heads of suitable blocks in scan order: pfn, order, and the pages before
        # each index (block_of() gives each one's index in self.blocks)
        self._heads = (_Column(), _Column(), _Column(0))
        self.pfn_np, self.order_np, self.cum = (c.buf for c in self._heads)
        self.big = np.zeros(0, dtype=np.int64)  # indexes of the heads of RETYPE_ORDER or more
        self.g = 0  # next head in scan order not taken or passed
        # suitable blocks without free blocks, and blocks the fast path cannot model,
        # before each block index
        self.empty_np = np.zeros(1, dtype=np.int64)
        self.bad_np = np.zeros(1, dtype=np.int64)
        # self.blocks' columns as arrays: bstart, bend, suitable, lo, hi
        self.cols = [
            np.zeros(0, dtype=t) for t in (np.int64, np.int64, np.bool_, np.int64, np.int64)
        ]
        # each call costs ~0.1 ms besides its pageblocks: as many as the demand will take
        # at the zone's average, down to `low` (below which no run may go), at once
        first = (self.next_prep - low) >> PAGEBLOCK_ORDER
        self._prepare(min(int(demand / self.rate() * 1.1) + 4, first) if first > 8 else 0)
        # a run that stepped by a stride may have passed free blocks below pos
        self.g = self._first_at_or_after(0, self.pos)

    def _prepare(self, chunk: int = 0) -> None:
        mem, z = self.mem, self.z
        top = self.next_prep + PAGEBLOCK_NR_PAGES
        if not chunk:
            # enough pageblocks for what is still wanted at the rate seen so far
            chunk = 8
            if self.blocks:
                chunk = int((self.demand - self.cum[-1]) / self.rate() * 1.1) + 4
        chunk = max(8, min(FREE_CHUNK, chunk))
        bottom = max(z.start, top - chunk * PAGEBLOCK_NR_PAGES) & ~(PAGEBLOCK_NR_PAGES - 1)
        self.next_prep = bottom - PAGEBLOCK_NR_PAGES
        end = min(top, z.end)
        nb = (top - bottom) >> PAGEBLOCK_ORDER
        bstarts = np.arange(top - PAGEBLOCK_NR_PAGES, bottom - 1, -PAGEBLOCK_NR_PAGES)
        bends = np.minimum(bstarts + PAGEBLOCK_NR_PAGES, z.end)
        # pageblock_pfn_to_page() and suitable_migration_target() (6.18, order -1)
        first = mem.flags[bstarts] & F_BUDDY
        mts = mem.pb_mt[bstarts >> PAGEBLOCK_ORDER]
        suitable = (
            (bstarts >= z.start)
            & (mem.kind[bstarts] != K_HOLE)
            & (mem.kind[bends - 1] != K_HOLE)
            & ~((first != 0) & ((mem.aux[bstarts] & 0xF) >= PAGEBLOCK_ORDER))
            & ((mts == MIGRATE_MOVABLE) | (mts == MIGRATE_CMA))
        )
        # the buddy flags of the suitable pageblocks, the pageblocks in scan order (top
        # down), so the heads come out in scan order: blocks top down, ascending within
        whole = end - bottom == nb * PAGEBLOCK_NR_PAGES
        if whole:
            flags = mem.flags[bottom:end].reshape(nb, PAGEBLOCK_NR_PAGES)[::-1]
            buddy = (flags & F_BUDDY) != 0  # (a new array, in the view's order)
        else:  # the zone ends inside the top pageblock
            buddy = np.zeros((nb, PAGEBLOCK_NR_PAGES), dtype=np.bool_)
            buddy.ravel()[: end - bottom] = (mem.flags[bottom:end] & F_BUDDY) != 0
            buddy = buddy[::-1].copy()
        buddy[~suitable] = False
        at = np.flatnonzero(buddy)
        blk = at >> PAGEBLOCK_ORDER  # index of each head's block, top down
        # (at = blk * PAGEBLOCK_NR_PAGES + offset, the head bstarts[blk] + offset)
        heads = np.subtract(at, blk << (PAGEBLOCK_ORDER + 1))
        heads += top - PAGEBLOCK_NR_PAGES
        if whole:
            # (a copy of the pageblocks' codes read in order, then the heads picked from
            # it in cache: ~2% less time at 1 GiB than a gather from the page array)
            codes = mem.aux[bottom:end].reshape(nb, PAGEBLOCK_NR_PAGES)[::-1].ravel()[at]
        else:
            codes = mem.aux[heads]
        orders = (codes & 0xF).astype(np.int64)
        # what the bulk isolation does not take ends the fast path: compound pages (the
        # per-pfn loop) and isolated free blocks
        bad_pages = mem.kind[bottom:end] == K_COMPOUND_HEAD
        bad_blk = np.zeros(nb, dtype=np.bool_)
        if bad_pages.any():
            bad_blk[nb - 1 - (np.flatnonzero(bad_pages) >> PAGEBLOCK_ORDER)] = True
        bad_blk[blk[(codes >> 4) == MIGRATE_ISOLATE]] = True
        bad = suitable & bad_blk
        # each block's first and end head (the heads come out block by block)
        lo = np.searchsorted(blk, np.arange(nb + 1))
        per_blk = np.diff(lo)
        lo += len(self.pfn_np)
        lo, hi = lo[:-1], lo[1:]
        self.big = np.concatenate(
            (self.big, np.flatnonzero(orders >= RETYPE_ORDER) + len(self.pfn_np))
        )
        pfns, ords, cum = self._heads
        self.pfn_np = pfns.extend(heads)
        self.order_np = ords.extend(orders)
        self.cum = cum.extend_cumsum(np.left_shift(1, orders))
        self.cols = [
            np.concatenate((col, new))
            for col, new in zip(self.cols, (bstarts, bends, suitable, lo, hi), strict=True)
        ]
        self.empty_np = np.concatenate(
            (self.empty_np, self.empty_np[-1] + np.cumsum(suitable & (per_blk == 0)))
        )
        self.bad_np = np.concatenate((self.bad_np, self.bad_np[-1] + np.cumsum(bad)))
        self.blocks.extend(
            zip(
                bstarts.tolist(),
                bends.tolist(),
                suitable.tolist(),
                bad.tolist(),
                lo.tolist(),
                hi.tolist(),
                strict=True,
            )
        )

    def rate(self) -> float:
        """Free pages per pageblock to expect below: as seen so far once 32 pageblocks
        with some are, but at least half the zone's average (the top of a zone may hold
        none)."""
        z = self.z
        avg = z.nr_free_pages * PAGEBLOCK_NR_PAGES / max(z.end - z.start, 1)
        seen, pages = len(self.blocks), float(self.cum[-1])
        return max(1.0, avg / 2, pages / seen if seen >= 32 and pages else avg)

    def block_of(self, heads: np.ndarray) -> np.ndarray:
        """The index in self.blocks of the block of each head (an index in scan order)."""
        return np.searchsorted(self.cols[3], heads, side="right") - 1

    def any_big(self, i0: int, i1: int) -> bool:
        """Whether a head from index i0 up to i1 has RETYPE_ORDER or more."""
        big = self.big
        return bool(big.searchsorted(i0) != big.searchsorted(i1))

    def _first_at_or_after(self, bi: int, pos: int) -> int:
        """The index of block bi's first head at or after pfn pos."""
        lo, hi = self.blocks[bi][4], self.blocks[bi][5]
        return lo + int(self.pfn_np[lo:hi].searchsorted(pos))

    def _explicit(self, need: int, floor: int, limit: int) -> tuple | None:
        """One free-scanner run whose stride changes on the way, block by block: ("x",
        visits, head ranges, pages) as episode() gives them, or None."""
        out: list[range] = []
        visits = self.episode(need, floor, limit, out)
        if visits is None:
            return None
        if self.bi < len(self.blocks):
            self.g = self._first_at_or_after(self.bi, self.pos)
        else:
            self.g = len(self.pfn_np)
        return ("x", visits, out, sum([v[4] for v in visits]))

    def episode(self, need: int, floor: int, limit: int, out: list) -> list | None:
        """One isolate_freepages() call that must isolate `need` pages, or None if it would
        go below `floor`, take more than `limit` pages in all, or meet a block it cannot
        model. Returns the visited blocks as (bstart, start, stop, nr_scanned, nr_taken,
        finished); appends the taken heads to `out` as ranges of indexes into
        self.pfn_np."""
        visited = []
        pos = self.pos
        bi = self.bi
        stride = 1  # MIGRATE_SYNC
        cum = self.cum
        while True:
            while bi >= len(self.blocks):
                if self.next_prep < self.z.start:
                    return None
                self._prepare()
            bstart, bend, suitable, bad, lo, hi = self.blocks[bi]
            if bstart < floor:
                return None
            if suitable:
                if bad:
                    return None
                if stride == 1:
                    cum = self.cum
                    i0 = self._first_at_or_after(bi, pos)
                    if cum[hi] - cum[i0] < need:
                        i1 = hi
                        stop = bend
                    else:
                        i1 = int(cum.searchsorted(cum[i0] + need))  # first reaching need
                        stop = int(self.pfn_np[i1 - 1]) + (1 << int(self.order_np[i1 - 1]))
                    got = int(cum[i1] - cum[i0])
                    idx = range(i0, i1)
                    scanned = stop - pos
                else:
                    idx, stop, scanned, got = self._stride_walk(lo, hi, pos, bend, stride, need)
                if idx and self.any_big(idx[0], idx[-1] + 1):
                    return None
                self.taken += got
                if self.taken > limit:
                    return None
                if type(idx) is range:
                    out.append(idx)
                else:
                    out.extend(range(i, i + 1) for i in idx)
                finished = stop == bend
                visited.append((bstart, pos, stop, scanned, got, finished))
                need -= got
                if need <= 0:
                    if finished:
                        bi += 1
                        pos = bstart - PAGEBLOCK_NR_PAGES
                    else:
                        pos = stop
                    break
                # isolate_freepages(): a block that gave nothing doubles the stride
                stride = 1 if got else min(COMPACT_CLUSTER_MAX, stride << 1)
            bi += 1
            pos = bstart - PAGEBLOCK_NR_PAGES
        self.pos, self.bi = pos, bi
        self.lowest = min(self.lowest, visited[-1][0])
        return visited

    def _stride_walk(
        self, lo: int, hi: int, pos: int, end: int, stride: int, need: int
    ) -> tuple[list[int], int, int, int]:
        """isolate_freepages_block() stepping `stride` pfns past anything that is not a
        free block head. Returns (indexes of the heads taken, stop pfn, nr_scanned, pages
        taken). (A walk over the block's heads: the scan lands on a head when its
        distance from where the scan stands is a multiple of the stride.)"""
        taken: list[int] = []
        scanned = got = 0
        orders = self.order_np
        for i, p in enumerate(self.pfn_np[lo:hi].tolist(), lo):
            d = p - pos
            if d < 0 or d % stride:
                continue
            size = 1 << int(orders[i])
            scanned += d // stride + size  # the pfns stepped over, then the block
            got += size
            taken.append(i)
            if got >= need:
                return taken, min(p + size, end), scanned, got
            pos = p + size - 1 + stride
        if pos < end:
            scanned += -(-(end - pos) // stride)
        return taken, end, scanned, got


def fast_forward(c: Compactor, cc: CompactControl, max_ticks: int, deadline_ns: int | None) -> int:
    """Run whole pageblocks of the compaction, at most max_ticks ticks, none of which may
    start at or after deadline_ns (a timeline event due). Returns the ticks done (0 when
    the state is not one this models, or not even one pageblock fits)."""
    if max_ticks < 1 or not applicable(c, cc):
        return 0
    k, mem = c.k, c.mem
    z = mem.zones[cc.zone]
    p0 = cc.migrate_pfn
    room = ((cc.free_pfn & ~(PAGEBLOCK_NR_PAGES - 1)) - MARGIN - p0) // PAGEBLOCK_NR_PAGES
    # a pageblock takes 1 to 4 ticks, mostly 2 to 4
    nblocks = min(
        max_ticks // 3 + 1, MAX_RUN_BLOCKS + TAIL_BLOCKS, room, (z.end - p0) // PAGEBLOCK_NR_PAGES
    )
    if nblocks < 1:
        return 0
    # Pages freed during the run drain the pcp lists into the buddy allocator, and those
    # merges must stay out of the free scanner's way: no free page that could get there
    # may sit on a pcp list or be owed a merge.
    calm = p0 + PAGEBLOCK_NR_PAGES + MARGIN - MAX_BLOCK
    if z.pcp_count and max(max(q) for q in z.pcp_lists if q) >= calm:
        return 0
    if mem.pending and mem.pending_hi >= calm:
        mem.settle()
    # compact_zone() sets finish_pageblock when the last migration was in this pageblock:
    # at the zone's first pageblock (last_migrated_pfn starts at 0) the isolation then
    # takes the whole block at once
    finish_first = (cc.last_migrated_pfn >> PAGEBLOCK_ORDER) == (p0 >> PAGEBLOCK_ORDER)
    plan = _migrate_plan(c, cc, p0, nblocks, finish_first)
    if plan is None:
        return 0
    lru_pfns = plan.lru_pfns

    # 1. the free scanner: one run wherever a migrate tick runs out of isolated pages
    free = _FreeScanner(c, cc, z, len(lru_pfns), p0 + PAGEBLOCK_NR_PAGES + MARGIN)
    limit = z.nr_free_pages - z.wmark_min - (2 << RETYPE_ORDER)
    runs, batch_run, supply, nb_ok = _plan_free(free, plan, cc.nr_freepages, limit, max_ticks)
    if not nb_ok:
        return 0
    visits = _visits(free, runs)

    # 2. the ticks in order, per batch (isolate tick): an isolate tick, and a migrate tick
    # if it took pages, whose free-scanner run (if any) scans before the copies; the
    # pageblocks before the first whose ticks run past the budget or a due timeline event
    nb = int(np.searchsorted(plan.blk, nb_ok))
    blk = plan.blk[:nb]
    m = plan.i1[:nb] - plan.i0[:nb]
    mig = m > 0
    scanned = np.where(plan.kind[blk] == 3, 2 * PAGEBLOCK_NR_PAGES, plan.hi[:nb] - plan.lo[:nb])
    run = np.full(nb, -1, dtype=np.int64)
    run[mig] = batch_run
    v_first = visits[0]
    v_cum = np.concatenate(([0], np.cumsum(visits[3])))
    run_scan = v_cum[v_first[1:]] - v_cum[v_first[:-1]]
    rs = np.where(run >= 0, run_scan[np.maximum(run, 0)] if runs.n else 0, 0)
    inc = COST_TICK + COST_SCAN * scanned + mig * (COST_TICK + COST_SCAN * rs + COST_COPY * m)
    t_end = k.time_ns + np.cumsum(inc)
    t_iso = t_end - inc + COST_TICK
    t_mig = t_iso + COST_SCAN * scanned + COST_TICK
    tk = np.cumsum(1 + mig)  # ticks done by the end of each batch
    late = (tk - mig > max_ticks) | (mig & (tk > max_ticks))
    if deadline_ns is not None:
        late |= (t_iso >= deadline_ns) | (mig & (t_mig >= deadline_ns))
    cut = np.flatnonzero(late)
    done = int(blk[cut[0]]) if len(cut) else nb_ok  # pageblocks done
    if not done:
        return 0
    nb = int(np.searchsorted(blk, done))
    blk, m, mig, scanned, run, rs = blk[:nb], m[:nb], mig[:nb], scanned[:nb], run[:nb], rs[:nb]
    t_iso, t_mig, t_end = t_iso[:nb], t_mig[:nb], t_end[:nb]
    nbatches = int(mig.sum())  # migrate ticks done
    copy_t0 = (t_mig + COST_SCAN * rs)[mig]

    # 3. apply what the accepted pageblocks did
    nruns = int(run.max()) + 1
    seg, sp = supply[nbatches - 1] if nbatches else (-1, 0)
    nvisits = int(v_first[nruns])
    if nruns:
        cc.free_pfn = int(runs.pos_after[nruns - 1])
    free_taken = int(np.sum(visits[4][:nvisits]))
    # each migrate tick's pages, highest pfn first (cc->migratepages is list_add()ed)
    ends = plan.i1[:nb][mig]
    # (the ticks take the LRU pfns in order from index 0: tick k has [i0, i1) and puts
    # index i0 + i1 - 1 - p at position p)
    sizes = np.diff(ends, prepend=0)
    n_old = int(ends[-1]) if len(ends) else 0
    rev = np.repeat(2 * ends - sizes - 1, sizes) - np.arange(n_old)
    olds = lru_pfns[rev]
    takes = _free_takes(cc, free, runs, nruns)
    news = np.concatenate(([_handout(cc.freepages_618)] if cc.nr_freepages else []) + [takes[3]])
    news = news[:n_old]
    _apply_free(c, cc, z, takes, visits, nvisits, seg, sp)
    # (the copies go by ascending source, lru_pfns order: `rev` is its own inverse)
    _apply_migrations(c, olds, sizes, news, copy_t0, (lru_pfns[:n_old], news[rev]))
    _finish_blocks(cc, z, mem, plan, done, finish_first)
    cc.migrate_pfn = p0 + done * PAGEBLOCK_NR_PAGES
    cc.total_migrate_scanned += int(scanned.sum())
    cc.total_free_scanned += int(np.sum(visits[3][:nvisits]))
    k.count("compact_isolated", int(m.sum()) + free_taken)
    k.count("pgmigrate_success", n_old)
    k.time_ns = int(t_end[-1])
    # the trace entries, built only if read (a long run pushes most out of the ring)
    nlines = 2 * nb + 3 * nbatches + nvisits
    lo, hi = plan.lo[:nb], plan.hi[:nb]
    batches = (lo, hi, scanned, m, t_iso, t_mig, t_end, run)
    k.trace_batch(nlines, partial(_lines, _texts(k, z), batches, visits, nvisits))
    return int(tk[nb - 1])


def _texts(k, z) -> tuple[str, str, str, str]:
    """The trace head and the fixed texts of the ticks' entries, as they are now."""
    zone_line = f"node=0 zone={z.name:<8s} order=-1 ret={status_name(COMPACT_CONTINUE, k.profile)}"
    mode = MODE_NAMES[MIGRATE_SYNC]
    reason = k.reason_name(MR_COMPACTION)
    # trace texts as printf formats: formatted only if someone reads them (TraceLog)
    migrated_fmt = (
        "nr_succeeded=%d nr_failed=0 nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 "
        f"nr_split=0 mode={mode} reason={reason}"
    )
    return k._head(), zone_line, f"mode={mode} reason={reason}", migrated_fmt


def _lines(texts, batches, visits, nvisits: int) -> list[tuple]:
    """The trace entries of the batches, in order: per batch mm_compaction_finished and
    mm_compaction_isolate_migratepages, and if it took pages mm_migrate_pages_start, its
    free-scanner run's mm_compaction_isolate_freepages, mm_migrate_pages and
    mm_compaction_migratepages."""
    head, zone_line, start_line, migrated_fmt = texts
    lo, hi, scanned, m, t_iso, t_mig, t_end, run = (x.tolist() for x in batches)
    v_first = visits[0].tolist()
    v_args = list(
        zip(
            *(x[:nvisits].tolist() for x in (visits[1], visits[2], visits[3], visits[4])),
            strict=True,
        )
    )
    v_scanned = visits[3][:nvisits].tolist()
    out: list[tuple] = []
    add = out.append
    for b, r in enumerate(run):
        t = t_iso[b]
        add((t, head, "mm_compaction_finished", zone_line, None))
        add(
            (
                t,
                head,
                "mm_compaction_isolate_migratepages",
                _RANGE,
                (lo[b], hi[b], scanned[b], m[b]),
            )
        )
        if not m[b]:
            continue
        t = t_mig[b]
        add((t, head, "mm_migrate_pages_start", start_line, None))
        if r >= 0:
            for j in range(v_first[r], v_first[r + 1]):
                add((t, head, "mm_compaction_isolate_freepages", _RANGE, v_args[j]))
                t += v_scanned[j] * COST_SCAN
        t = t_end[b]
        add((t, head, "mm_migrate_pages", migrated_fmt, (m[b],)))
        add((t, head, "mm_compaction_migratepages", _MIGRATED, (m[b],)))
    return out


def _finish_blocks(cc: CompactControl, z, mem, plan: _Plan, done: int, finish_first: bool):
    """Skip bits, cached migrate pfn, last_migrated_pfn and finish_pageblock as the first
    `done` pageblocks left them."""
    kind, bstart = plan.kind[:done], plan.bstart[:done]
    empty = (kind == 0) | (kind == 3)  # nothing isolated: the skip bit is set
    mem.pb_skip[bstart[empty] >> PAGEBLOCK_ORDER] = True
    took = np.flatnonzero(~empty)
    if len(took):
        cc.last_migrated_pfn = max(z.start, int(bstart[took[-1]]))
    # the whole block scanned (with finish_pageblock set, or nothing to isolate): no skip
    # bit for those that took pages, as the LRU lock taken on the way (skip_updated) rules
    # that out, but the cached migrate pfn moves past them
    whole = np.flatnonzero(kind != 1)
    if len(whole):
        cached_migrate = int(bstart[whole[-1]]) + 2 * PAGEBLOCK_NR_PAGES
        cached = z.compact_cached_migrate_pfn
        cached[0] = max(cached[0], cached_migrate)
        cached[1] = max(cached[1], cached_migrate)
    last = int(kind[-1])
    cc.finish_pageblock = (last == 2 or last == 4) or (finish_first and done == 1)


class _Plan(NamedTuple):
    """The migrate scanner's pageblocks from p0: per pageblock its start and kind, 0 (no
    LRU page), 1 (one batch), 2 (a capped batch, then the rest), 3 (no LRU page, a free
    block of max order at its start) or 4 (the first block when finish_first: every LRU
    page in one uncapped batch); per batch (isolate tick), in order, its pageblock, scan
    start and end, and first and end index in the LRU pfns; and the LRU pfns."""

    bstart: np.ndarray
    kind: np.ndarray
    blk: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    i0: np.ndarray
    i1: np.ndarray
    lru_pfns: np.ndarray


class _Runs(NamedTuple):
    """The free-scanner runs of a fast_forward() call, numbered in order: the plain ones
    (a run of heads in scan order) as rows (first block, start pfn, first head, last
    block, end head, stop pfn), the others as _FreeScanner._explicit() gives them."""

    n: int
    plain_id: np.ndarray
    plain: np.ndarray
    explicit: list[tuple[int, tuple]]
    pos_after: np.ndarray  # where the free scanner resumes after each run


def _plan_free(free: _FreeScanner, plan: _Plan, avail: int, limit: int, max_ticks: int):
    """Where the free scanner runs while the migrate scanner does `blocks`: a migrate tick
    runs it when the pages isolated so far (`avail` at the start, then what each run took)
    do not cover the pages migrated so far, and a run takes heads in scan order until they
    do. Runs that stay in that order are computed together (bisections of the running
    page totals); a run whose stride changes on the way (_FreeScanner._explicit) is done
    on its own. The pageblocks end at the first that breaks a rule of the model: a free
    scanner run it cannot model or that gets within MARGIN, the free scanner already
    within MARGIN when the block starts, the tick budget, or the tail rule.

    Returns the runs (_Runs), per migrate tick the run it made (or -1) and (run supplying
    last, pages handed out of that supply), and the pageblocks done."""
    m = plan.i1 - plan.i0
    mig = m > 0
    nblocks = len(plan.bstart)
    bticks = np.bincount(plan.blk, minlength=nblocks) + np.bincount(
        plan.blk[mig], minlength=nblocks
    )
    floors = plan.bstart + PAGEBLOCK_NR_PAGES + MARGIN
    nb_lim = int(np.searchsorted(np.cumsum(bticks), max_ticks, side="right"))
    blk_of = plan.blk[mig]  # the pageblock of each migrate tick
    demand = np.cumsum(m[mig])  # pages migrated up to each migrate tick
    n_ticks = len(demand)
    tick_floor = floors[blk_of]
    plain: list[np.ndarray] = []  # per stretch: its plain runs as rows (see _Runs)
    plain_id: list[np.ndarray] = []
    xruns: list[tuple[int, tuple]] = []
    got_l: list[int] = []  # pages each run took
    pos_l: list[int] = []  # where the free scanner resumes after each run
    run_tick: list[int] = []  # the migrate tick of each run
    have = avail  # pages isolated so far
    j = 0  # the next migrate tick
    checked = 0  # pageblocks whose start has been checked
    nb_ok = nb_lim
    while True:
        g0 = free.g
        if j < n_ticks and demand[-1] > have:
            _prepare_to_meet(free, demand, tick_floor, have, g0)
        cum = free.cum
        nheads = len(cum) - 1
        bstart_f, bend_f, suit_f, _lo, hi_f = free.cols
        if j < n_ticks:
            # the last head each tick's pages need, and so the ticks that run the scanner
            ends = np.maximum(np.searchsorted(cum, cum[g0] + (demand[j:] - have)), g0)
            prev = np.concatenate(([g0], ends[:-1]))
            at = np.flatnonzero(ends > prev)
        else:
            at = np.zeros(0, dtype=np.int64)
        ev_tick = -1  # the migrate tick of the first run that is not a plain one, if any
        ev_explicit = False  # that run changes stride (else it cannot be modelled)
        nr = 0  # plain runs before it
        if len(at) and not nheads:
            ev_tick = j + int(at[0])
        elif len(at):
            g, g1 = prev[at], ends[at]
            short = g1 > nheads  # more than the heads prepared down to where it may go
            g1c = np.minimum(g1, nheads)
            last = g1c - 1
            be = free.block_of(last)
            stop = free.pfn_np[last] + np.left_shift(1, free.order_np[last])
            fin = stop == bend_f[be]
            # where each run starts: where the one before it stopped
            nxt_bi = np.where(fin, be + 1, be)
            nxt_pos = np.where(fin, bstart_f[be] - PAGEBLOCK_NR_PAGES, stop)
            bi = np.concatenate(([free.bi], nxt_bi[:-1]))
            pos = np.concatenate(([free.pos], nxt_pos[:-1]))
            got = cum[g1c] - cum[g]
            rblk = blk_of[j + at]
            lowest_after = np.minimum(free.lowest, bstart_f[be])
            bic = np.minimum(bi, len(bstart_f) - 1)
            # a block visited that gives nothing doubles the stride for the next one
            explicit = (suit_f[bic] & (g >= hi_f[bic])) | (
                (be > bi + 1)
                & (free.empty_np[be] > free.empty_np[np.minimum(bi + 1, len(bstart_f))])
            )
            broken = (
                (free.bad_np[be + 1] > free.bad_np[bic])
                | (np.searchsorted(free.big, g1c) != np.searchsorted(free.big, g))
                | (bstart_f[be] < floors[rblk])
                | (free.taken + np.cumsum(got) > limit)
            )
            odd = np.flatnonzero(short | explicit | broken)
            nr = int(odd[0]) if len(odd) else len(at)
            if len(odd):
                ev_tick = j + int(at[nr])
                ev_explicit = bool(explicit[nr] and not short[nr])
        ev_block = int(blk_of[ev_tick]) if ev_tick >= 0 else nb_lim
        # the first pageblock that may not start: the free scanner within MARGIN of it,
        # or (at MAX_RUN_BLOCKS) still far from where the scanners meet
        blk = np.arange(checked, min(ev_block + 1, nb_lim), dtype=np.int64)
        low = np.full(len(blk), free.lowest, dtype=np.int64)
        if nr:
            k_before = np.searchsorted(rblk[:nr], blk)  # plain runs in earlier pageblocks
            low = np.where(k_before > 0, lowest_after[np.maximum(k_before - 1, 0)], low)
        stop_blk = np.flatnonzero(
            (low < floors[blk])
            | ((blk == MAX_RUN_BLOCKS) & (low - floors[blk] > 2 * TAIL_BLOCKS * PAGEBLOCK_NR_PAGES))
        )
        b_stop = int(blk[stop_blk[0]]) if len(stop_blk) else -1
        if b_stop >= 0:
            nr = int(np.searchsorted(rblk[:nr], b_stop)) if nr else 0
        # the plain runs before whatever ends this stretch
        if nr:
            plain.append(np.stack((bi[:nr], pos[:nr], g[:nr], be[:nr], g1[:nr], stop[:nr]), 1))
            plain_id.append(np.arange(len(got_l), len(got_l) + nr))
            got_l.extend(got[:nr].tolist())
            pos_l.extend(nxt_pos[:nr].tolist())
            run_tick.extend((j + at[:nr]).tolist())
            free.pos, free.bi = int(nxt_pos[nr - 1]), int(nxt_bi[nr - 1])
            free.lowest = int(lowest_after[nr - 1])
            free.g = int(g1[nr - 1])
            taken = int(got[:nr].sum())
            free.taken += taken
            have += taken
        if b_stop >= 0:
            nb_ok = b_stop
            break
        if ev_tick < 0:
            nb_ok = nb_lim
            break
        if not ev_explicit:
            nb_ok = ev_block
            break
        r = free._explicit(int(demand[ev_tick]) - have, int(floors[ev_block]), limit)
        if r is None:
            nb_ok = ev_block
            break
        xruns.append((len(got_l), r))
        got_l.append(r[-1])
        pos_l.append(free.pos)
        run_tick.append(ev_tick)
        have += r[-1]
        j = ev_tick + 1
        checked = ev_block + 1
    # per migrate tick of the pageblocks done: its run, and the supply it drew on
    n_ok = int(np.searchsorted(blk_of, nb_ok))
    rt = np.array(run_tick, dtype=np.int64)
    nruns = int(np.searchsorted(rt, n_ok))
    batch_run = np.full(n_ok, -1, dtype=np.int64)
    batch_run[rt[:nruns]] = np.arange(nruns)
    seg = np.searchsorted(rt[:nruns], np.arange(n_ok), side="right") - 1
    gots = np.array(got_l[:nruns], dtype=np.int64)
    before = avail + np.cumsum(gots) - gots  # isolated before each run
    sp = demand[:n_ok] - np.where(seg >= 0, before[np.maximum(seg, 0)] if nruns else 0, 0)
    supply = list(zip(seg.tolist(), sp.tolist(), strict=True))
    ids = np.concatenate(plain_id) if plain else np.zeros(0, dtype=np.int64)
    rows = np.concatenate(plain) if plain else np.zeros((0, 6), dtype=np.int64)
    n_plain = int(np.searchsorted(ids, nruns))
    runs = _Runs(
        nruns,
        ids[:n_plain],
        rows[:n_plain],
        [(i, r) for i, r in xruns if i < nruns],
        np.array(pos_l[:nruns], dtype=np.int64),
    )
    return runs, batch_run.tolist(), supply, nb_ok


def _prepare_to_meet(
    free: _FreeScanner, demand: np.ndarray, tick_floor: np.ndarray, have: int, g0: int
) -> None:
    """Prepare free-scanner pageblocks until the heads from g0 on cover every migrate
    tick's pages (`demand`: pages migrated up to each tick, `have` of them covered before
    g0), or until the next pageblock lies below the floor of the first tick they do not
    cover: a run of that tick, or of any later one, going there ends the stretch anyway."""
    z = free.z
    while free.next_prep >= z.start:
        supply = have + int(free.cum[-1] - free.cum[g0])
        t = int(np.searchsorted(demand, supply, side="right"))
        if t >= len(demand) or free.next_prep < tick_floor[t]:
            return
        rate = free.rate()
        # the first count of pageblocks after which, at that rate, this loop would stop
        most = int((int(demand[-1]) - supply) / rate * 1.25) + 8
        k = np.arange(1, min((free.next_prep - z.start) >> PAGEBLOCK_ORDER, most) + 2)
        tk = np.searchsorted(demand, supply + rate * k, side="right")
        below = free.next_prep - k * PAGEBLOCK_NR_PAGES
        stop = (tk >= len(demand)) | (below < tick_floor[np.minimum(tk, len(demand) - 1)])
        n = int(np.argmax(stop)) + 1 if stop.any() else len(k)
        free._prepare(n + (n >> 4) + 2)


def _migrate_plan(c: Compactor, cc: CompactControl, p0: int, nblocks: int, finish_first: bool):
    """The migrate scanner's pageblocks from p0 and their batches (_Plan), up to the first
    that holds a page the model does not take; None if not even one fits."""
    mem = c.mem
    end = p0 + nblocks * PAGEBLOCK_NR_PAGES
    kinds = mem.kind[p0:end]
    flags = mem.flags[p0:end]
    lru = c._lru_isolatable(cc, kinds, flags)
    bad = bad_kinds(kinds) | ((flags & F_ISOLATED) != 0) | (lru & ((flags & _SLOW) != 0))
    if bad.any():
        nblocks = int(np.flatnonzero(bad)[0]) >> PAGEBLOCK_ORDER
        if nblocks < 1:
            return None
        end = p0 + nblocks * PAGEBLOCK_NR_PAGES
        lru = lru[: end - p0]
    lru_pfns = np.flatnonzero(lru) + p0
    bstarts = np.arange(p0, end, PAGEBLOCK_NR_PAGES)
    # (a bisection per pageblock: cheaper than a sum over every pfn)
    starts = np.searchsorted(lru_pfns, bstarts)
    counts = np.diff(starts, append=len(lru_pfns))
    bends = bstarts + PAGEBLOCK_NR_PAGES
    # a free block of max order at a block start is skipped whole: 1024 pages scanned
    big = ((mem.flags[bstarts] & F_BUDDY) != 0) & ((mem.aux[bstarts] & 0xF) == MAX_ORDER - 1)
    kind = np.where(counts > 0, 1, np.where(big, 3, 0))
    # the capped first isolation of a block stops one past its 32nd LRU page
    nth = np.zeros(nblocks, dtype=np.int64)
    if len(lru_pfns):
        nth = lru_pfns[np.minimum(starts + COMPACT_CLUSTER_MAX - 1, len(lru_pfns) - 1)]
    kind[
        (counts > COMPACT_CLUSTER_MAX) | ((counts == COMPACT_CLUSTER_MAX) & (nth != bends - 1))
    ] = 2
    if finish_first and counts[0]:
        kind[0] = 4
    # the batches: two for kind 2 (up to the cut, then the rest), else one
    two = kind == 2
    blk = np.repeat(np.arange(nblocks), 1 + two)
    second = np.zeros(len(blk), dtype=np.bool_)
    second[np.cumsum(1 + two)[two] - 1] = True
    capped = two[blk] & ~second
    cut, mid = nth + 1, starts + COMPACT_CLUSTER_MAX
    return _Plan(
        bstarts,
        kind,
        blk,
        np.where(second, cut[blk], bstarts[blk]),
        np.where(capped, cut[blk], bends[blk]),
        np.where(second, mid[blk], starts[blk]),
        np.where(capped, mid[blk], (starts + counts)[blk]),
        lru_pfns,
    )


def _visits(free: _FreeScanner, runs: _Runs):
    """The pageblocks each free-scanner run visited, in order, as arrays: the first visit
    of each run (then one past the last), and per visit its start, stop, nr_scanned,
    nr_taken, pageblock start and whether it finished the pageblock."""
    parts = []
    if len(runs.plain):
        rep, *visit = _simple_visits(free, runs.plain)
        parts.append((runs.plain_id[rep], *visit))
    for i, r in runs.explicit:
        v = np.array([x[:5] for x in r[1]], dtype=np.int64).reshape(len(r[1]), 5)
        parts.append((np.full(len(v), i), v[:, 1], v[:, 2], v[:, 0], v[:, 4], v[:, 3]))
    if parts:
        rid = np.concatenate([p[0] for p in parts])
        order = np.argsort(rid, kind="stable")
        rid = rid[order]
        start, stop, vb, got, scanned = (
            np.concatenate([p[j] for p in parts])[order] for j in (1, 2, 3, 4, 5)
        )
    else:
        rid = start = stop = vb = got = scanned = np.zeros(0, dtype=np.int64)
    first = np.searchsorted(rid, np.arange(runs.n + 1))
    finished = stop == np.minimum(vb + PAGEBLOCK_NR_PAGES, free.z.end)
    return first, start, stop, scanned, got, vb, finished


def _simple_visits(free: _FreeScanner, f: np.ndarray):
    """The visits of runs that took a run of heads in scan order, f holding each one's
    (first block, start pfn, first head, last block, end head, stop pfn): per visit, the
    run (an index into f, ascending), start, stop, pageblock start, nr_taken, nr_scanned."""
    bstart, bend, suit, lo, hi = free.cols
    bi, pos, g, be, g1, stop = f.T
    n = be - bi + 1
    rep = np.repeat(np.arange(len(f)), n)
    blk = ranges(bi, n)
    keep = suit[blk]
    rep, blk = rep[keep], blk[keep]
    start = np.where(blk == bi[rep], pos[rep], bstart[blk])
    vstop = np.where(blk == be[rep], stop[rep], bend[blk])
    first_head, end_head = np.maximum(lo[blk], g[rep]), np.minimum(hi[blk], g1[rep])
    got = free.cum[end_head] - free.cum[first_head]
    scanned = vstop - start
    if not free.v6:
        # 4.8 isolate_freepages_block() counts a taken block's head only
        scanned = scanned - got + (end_head - first_head)
    return rep, start, vstop, bstart[blk], got, scanned


def _taken(free: _FreeScanner, runs: _Runs, nruns: int):
    """The heads the first nruns runs took, in isolation order, their orders, and the
    index among them of each run's first (then the number taken)."""
    keep = runs.plain_id < nruns
    starts, stops, run_of = runs.plain[keep, 2], runs.plain[keep, 4], runs.plain_id[keep]
    more = [(r.start, r.stop, i) for i, x in runs.explicit if i < nruns for r in x[2]]
    if more:
        extra = np.array(more, dtype=np.int64).reshape(len(more), 3)
        order = np.argsort(np.concatenate((run_of, extra[:, 2])), kind="stable")
        starts = np.concatenate((starts, extra[:, 0]))[order]
        stops = np.concatenate((stops, extra[:, 1]))[order]
        run_of = np.concatenate((run_of, extra[:, 2]))[order]
    total = np.concatenate(([0], np.cumsum(stops - starts)))
    first = total[np.searchsorted(run_of, np.arange(nruns + 1))]
    # the runs take heads in scan order, mostly each where the one before stopped: the
    # heads are a few slices of the scan-order arrays, not a gather of each index
    gap = np.flatnonzero(starts[1:] != stops[:-1]) + 1
    a = starts[np.concatenate(([0], gap))].tolist()
    b = stops[np.concatenate((gap - 1, [len(stops) - 1]))].tolist()
    pfn, order = free.pfn_np, free.order_np
    heads = np.concatenate([pfn[i:j] for i, j in zip(a, b, strict=True)])
    orders = np.concatenate([order[i:j] for i, j in zip(a, b, strict=True)])
    return heads, orders, first


def _free_takes(cc: CompactControl, free: _FreeScanner, runs: _Runs, nruns: int):
    """What the first nruns free-scanner runs took: the heads and orders in isolation
    order, the index among them of each run's first, and every page of them in the order
    compaction_alloc() hands them out after what cc->freepages[] held: run by run, each
    run list by list from order 0 up, each list in isolation order, each block in
    ascending pfn order."""
    if not nruns:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(1, dtype=np.int64), empty
    heads, orders, first = _taken(free, runs, nruns)
    # Most blocks are single pages. Those go first in their run, in isolation order, each
    # at its rank among them plus the pages of bigger blocks in the runs before; only the
    # bigger blocks are sorted and spread out into pages.
    one = orders == 0
    single = np.flatnonzero(one)
    bigger = np.flatnonzero(~one)
    sizes = np.left_shift(1, orders[bigger])
    big_pages = np.concatenate(([0], np.cumsum(sizes)))
    s_first = np.searchsorted(single, first)  # single pages before each run
    b_first = np.searchsorted(bigger, first)
    n_single = np.diff(s_first)
    big_before = big_pages[b_first]  # pages of bigger blocks before each run
    run_start = s_first[:-1] + big_before[:-1]
    pages = np.empty(int(s_first[-1] + big_before[-1]), dtype=np.int64)
    at = np.repeat(big_before[:-1], n_single)
    at += np.arange(len(single))
    pages[at] = heads[single]
    if len(bigger):
        run = np.repeat(np.arange(nruns), np.diff(b_first))
        perm = _stable_order((run << 4) | orders[bigger], nruns < 4096)
        spread = ranges(heads[bigger[perm]], sizes[perm])
        pages[ranges(run_start + n_single, np.diff(big_before))] = spread
    return heads, orders, first, pages


def _stable_order(key: np.ndarray, small: bool) -> np.ndarray:
    """np.argsort(key, kind="stable"); `small`: every key below 2**16. Then, for fewer than
    2**16 keys, key and index packed in 32 bits sort by value (a SIMD sort, ~3x faster than
    numpy's radix argsort)."""
    n = len(key)
    if not small or n >= 1 << 16:
        return np.argsort(key, kind="stable")
    v = (key.astype(np.uint32) << 16) | np.arange(n, dtype=np.uint32)
    v.sort()
    return (v & 0xFFFF).astype(np.intp)


def _apply_free(c: Compactor, cc: CompactControl, z, takes, visits, nvisits, seg, sp):
    """The free scanner's part: blocks taken off the free lists and made targets, skip
    bits and the cached free pfn, and cc->freepages[] as the hand-outs left it."""
    mem = c.mem
    heads, orders, first, pages = takes
    take_free_blocks(c, z, heads, pages)
    if nvisits:
        done = visits[5][:nvisits][visits[6][:nvisits]]
        if len(done):
            mem.pb_skip[done >> PAGEBLOCK_ORDER] = True
            low = int(done.min()) - PAGEBLOCK_NR_PAGES
            if low < z.compact_cached_free_pfn:
                z.compact_cached_free_pfn = low
    if seg >= 0:
        # the last run's blocks, appended to cc->freepages[order] in isolation order
        fl = cc.freepages_618
        for q in fl:
            q.clear()
        last = int(first[seg])
        last_heads, last_orders = heads[last:], orders[last:]
        # (not np.unique: its first call imports numpy.ma, ~10 ms)
        for o in np.flatnonzero(np.bincount(last_orders, minlength=MAX_ORDER)).tolist():
            fl[o].extend(last_heads[last_orders == o].tolist())
        cc.nr_freepages = int(np.left_shift(1, last_orders).sum())
    if sp:
        # the same hand-outs again, through compaction_alloc_many(): it leaves the lists
        # (split remainders included) exactly as single compaction_alloc() calls would
        cc.nr_migratepages = sp
        c.compaction_alloc_many(cc, sp)
    cc.nr_migratepages = 0


def take_free_blocks(c: Compactor, z, heads: np.ndarray, pages: np.ndarray) -> None:
    """The free blocks at `heads` (all their `pages`) leave the free lists as targets."""
    mem = c.mem
    if not len(heads):
        return
    codes = mem.aux[heads]
    mem.flags[heads] = 0
    z.nr_free_pages -= len(pages)
    mem.unlist_heads(z, codes)
    mem.kind[pages] = K_TARGET
    if mem.changed is not None:
        mem.changed.update(pages.tolist())


def _apply_migrations(
    c: Compactor, o: np.ndarray, sizes: np.ndarray, news, copy_t0, by_source
) -> None:
    """The 6.18 migrations, `sizes` pages per migrate tick: isolated, then moved
    (move_contents) with each copy's time; by_source: the same pairs in ascending source
    order."""
    if not len(o):
        return
    k = c.k
    o = o.astype(np.intp, copy=False)
    isolate_for_move(k, o)
    first = np.cumsum(sizes) - sizes
    times = np.repeat(np.array(copy_t0, dtype=np.int64) - first * COST_COPY, sizes)
    times += COST_COPY * np.arange(1, len(o) + 1, dtype=np.int64)
    move_contents(c, o, news.astype(np.intp, copy=False), times, np.cumsum(sizes), by_source)


def isolate_for_move(k, o: np.ndarray) -> None:
    """The LRU pages o are isolated, as isolate_migratepages_block() does, before
    move_contents() moves them."""
    if k.mem.changed is not None:
        # through the kernel's entry point, so whatever watches sees every isolation
        k.isolate_lru_pages(o.tolist())
    else:
        # nobody sees the flags an isolation sets: the free in move_contents() clears them
        # before anything reads them
        k.nr_isolated += len(o)


def move_contents(c: Compactor, o: np.ndarray, n: np.ndarray, times, ends, by_source=None) -> None:
    """Isolated pages o move to their targets n: contents copied, history recorded at
    each copy's time (appended in pieces ending at `ends`, as the ticks append them),
    the sources freed through the pcp lists (owed merges, as in any full-compaction
    tick). by_source: the same pairs (o, n) in ascending source order, if at hand."""
    k, mem = c.k, c.mem
    # the copies in any order give the same arrays; by ascending source they read the
    # page arrays (out of cache after the free scanner's work) in order: with cold caches
    # at 1 GiB ~0.33 ms for the four, against ~0.57 ms in the 6.18 hand-out order
    co, cn = (o, n) if by_source is None else by_source
    mem.kind[cn] = mem.kind[co]
    mem.aux[cn] = mem.aux[co]
    mem.token[cn] = mem.token[co]
    mem.flags[cn] = (mem.flags[co] & np.uint8(F_DIRTY | F_UNEVICTABLE)) | F_LRU
    k.nr_isolated -= len(o)
    _history_extend(k.history, times, o, n, ends)
    mem.defer_frees = True
    try:
        mem.free_pages_bulk(o)
    finally:
        mem.defer_frees = False
    if mem.changed is not None:
        mem.changed.update(n.tolist())


def _history_extend(h, times: np.ndarray, o: np.ndarray, n: np.ndarray, ends) -> None:
    """History.extend() of the entries appended in pieces ending at `ends`: the log drops
    its oldest half after any append that takes it past `keep`, so an append that does
    ends where one of the pieces did."""
    at = 0
    total = len(o)
    while at < total:
        # the first piece after which the log is too long, or all of them
        room = max(h.keep - len(h), 0)
        cut = int(np.searchsorted(ends, at + room, side="right"))
        stop = int(ends[cut]) if cut < len(ends) else total
        h.extend(times[at:stop], o[at:stop], H_OUT, n[at:stop])
        at = stop
