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
- otherwise an isolate tick for the first COMPACT_CLUSTER_MAX pages and a migrate tick, and
  when pages are left, a second isolate tick with finish_pageblock set that takes the
  rest of the block (a migrate tick follows if it took any).
Every migration succeeds at the first async pass of migrate_pages_sync(). The free scanner
runs whenever the isolated free pages run out, exactly as isolate_freepages() would.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING

import numpy as np

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

# The free scanner must stay this far above the migrate scanner's pageblock: no free
# block (at most 2^10 pages) can then span from what one scanner changes into what the
# other reads, so owed merges and scanner reads never meet.
MARGIN = 4 << PAGEBLOCK_ORDER
# Free blocks of this order or more retype their pageblock when isolated (6.18
# move_freepages_block() reorders free lists): left to the tick loop.
RETYPE_ORDER = PAGEBLOCK_ORDER - 1
MAX_BLOCK = 1 << (MAX_ORDER - 1)  # pages in the largest free block
FREE_CHUNK = 256  # most free-scanner pageblocks prepared at once
_RANGE = "range=(%#x ~ %#x) nr_scanned=%d nr_taken=%d"
_MIGRATED = "nr_migrated=%d nr_failed=0"
_SLOW = 1 | 4  # F_LOCKED | F_WRITEBACK: such pages may wait or fail in migrate_pages()
_BAD_KINDS = np.zeros(256, dtype=np.bool_)
_BAD_KINDS[[K_COMPOUND_HEAD, K_COMPOUND_TAIL, K_DRIVER, K_HOLE, K_TARGET]] = True


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
        and (cc.last_migrated_pfn >> PAGEBLOCK_ORDER) != (cc.migrate_pfn >> PAGEBLOCK_ORDER)
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


class _FreeScanner:
    """isolate_freepages() runs ("episodes"), computed from the page arrays ahead of time.

    Pageblocks are prepared FREE_CHUNK at a time from the top down. The free block heads of
    the suitable ones are kept in scan order (pageblocks top down, heads in ascending pfn
    order within each) with running page totals, so an episode is a few bisections."""

    def __init__(self, c: Compactor, cc: CompactControl, zone) -> None:
        self.mem = c.mem
        self.z = zone
        self.pos = cc.free_pfn  # isolate_start_pfn: where the next episode resumes
        self.blocks: list[tuple] = []  # (bstart, bend, suitable, bad, lo, hi), top down
        self.bi = 0  # index in self.blocks of the block holding self.pos
        self.next_prep = cc.free_pfn & ~(PAGEBLOCK_NR_PAGES - 1)
        self.lowest = self.next_prep  # lowest pageblock start an episode visited
        self.taken = 0
        self.chunk = 8
        self.pfn: list[int] = []  # heads of suitable blocks, in scan order
        self.order: list[int] = []
        self.cum = [0]  # pages in the heads before each index
        self.retype = [0]  # heads of RETYPE_ORDER or more before each index
        self.pfn_np = np.zeros(0, dtype=np.int64)
        self.order_np = np.zeros(0, dtype=np.int64)

    def _prepare(self) -> None:
        mem, z = self.mem, self.z
        top = self.next_prep + PAGEBLOCK_NR_PAGES
        # small chunks for short runs, doubling for long ones
        chunk = self.chunk
        self.chunk = min(FREE_CHUNK, chunk * 2)
        bottom = max(z.start, top - chunk * PAGEBLOCK_NR_PAGES) & ~(PAGEBLOCK_NR_PAGES - 1)
        self.next_prep = bottom - PAGEBLOCK_NR_PAGES
        end = min(top, z.end)
        nb = (top - bottom) >> PAGEBLOCK_ORDER
        bstarts = np.arange(top - PAGEBLOCK_NR_PAGES, bottom - 1, -PAGEBLOCK_NR_PAGES)
        bends = np.minimum(bstarts + PAGEBLOCK_NR_PAGES, z.end)
        flags = mem.flags[bottom:end]
        heads = np.flatnonzero(flags & F_BUDDY) + bottom
        codes = mem.aux[heads]
        orders = (codes & 0xF).astype(np.int64)
        blk = (heads - bottom) >> PAGEBLOCK_ORDER  # ascending block of each head
        # pageblock_pfn_to_page() and suitable_migration_target() (6.18, order -1)
        first = mem.flags[bstarts] & F_BUDDY
        suitable = (
            (bstarts >= z.start)
            & (mem.kind[bstarts] != K_HOLE)
            & (mem.kind[bends - 1] != K_HOLE)
            & ~((first != 0) & ((mem.aux[bstarts] & 0xF) >= PAGEBLOCK_ORDER))
            & np.isin(mem.pb_mt[bstarts >> PAGEBLOCK_ORDER], (MIGRATE_MOVABLE, MIGRATE_CMA))
        )
        # what the bulk isolation does not take ends the fast path: compound pages (the
        # per-pfn loop) and isolated free blocks
        bad_pages = mem.kind[bottom:end] == K_COMPOUND_HEAD
        bad_blk = np.zeros(nb, dtype=np.bool_)
        bad_blk[np.unique(np.flatnonzero(bad_pages) >> PAGEBLOCK_ORDER)] = True
        iso = (codes >> 4) == MIGRATE_ISOLATE
        bad_blk[np.unique(blk[iso])] = True
        bad = suitable & bad_blk[::-1]
        # heads in scan order: blocks top down, ascending within a block; only suitable
        keep_blk = suitable[::-1]  # ascending block order
        sel = keep_blk[blk]
        heads, orders, blk = heads[sel], orders[sel], blk[sel]
        per_asc = np.bincount(blk, minlength=nb)
        first_asc = np.cumsum(per_asc) - per_asc  # each block's first head, ascending
        per_blk = per_asc[::-1]  # top down
        lo = np.cumsum(per_blk) - per_blk  # each block's first head, top down
        # reorder the heads: blocks top down, each block's heads still ascending
        at = np.empty(len(heads), dtype=np.int64)
        at[lo[nb - 1 - blk] + np.arange(len(heads)) - first_asc[blk]] = np.arange(len(heads))
        heads, orders = heads[at], orders[at]
        lo += len(self.pfn)
        hi = lo + per_blk
        self.pfn.extend(heads.tolist())
        self.order.extend(orders.tolist())
        last = self.cum[-1]
        self.cum.extend((last + np.cumsum(np.left_shift(1, orders))).tolist())
        last = self.retype[-1]
        self.retype.extend((last + np.cumsum(orders >= RETYPE_ORDER)).tolist())
        self.pfn_np = np.concatenate((self.pfn_np, heads))
        self.order_np = np.concatenate((self.order_np, orders))
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
        pfn, cum = self.pfn, self.cum
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
                    i0 = bisect_left(pfn, pos, lo, hi)
                    if cum[hi] - cum[i0] < need:
                        i1 = hi
                        stop = bend
                    else:
                        i1 = bisect_left(cum, cum[i0] + need, i0, hi + 1)  # first reaching need
                        stop = pfn[i1 - 1] + (1 << self.order[i1 - 1])
                    got = cum[i1] - cum[i0]
                    idx = range(i0, i1)
                    scanned = stop - pos
                else:
                    idx, stop, scanned, got = self._stride_walk(lo, hi, pos, bend, stride, need)
                if idx and self.retype[idx[-1] + 1] - self.retype[idx[0]]:
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
        taken)."""
        at = {self.pfn[i]: i for i in range(lo, hi)}
        taken: list[int] = []
        scanned = got = 0
        while pos < end:
            scanned += 1
            i = at.get(pos)
            if i is None:
                pos += stride
                continue
            size = 1 << self.order[i]
            scanned += size - 1
            got += size
            taken.append(i)
            if got >= need:
                pos += size
                break
            pos += size - 1 + stride
        return taken, min(pos, end), scanned, got


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
    nblocks = min(max_ticks // 2 + 1, room, (z.end - p0) // PAGEBLOCK_NR_PAGES)
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
    end = p0 + nblocks * PAGEBLOCK_NR_PAGES
    kinds = mem.kind[p0:end]
    flags = mem.flags[p0:end]
    lru = c._lru_isolatable(cc, kinds, flags)
    bad = _BAD_KINDS[kinds] | ((flags & F_ISOLATED) != 0) | (lru & ((flags & _SLOW) != 0))
    if bad.any():
        nblocks = int(np.flatnonzero(bad)[0]) >> PAGEBLOCK_ORDER
        if nblocks < 1:
            return 0
        end = p0 + nblocks * PAGEBLOCK_NR_PAGES
        lru = lru[: end - p0]
    counts = lru.reshape(nblocks, PAGEBLOCK_NR_PAGES).sum(axis=1)
    lru_pfns = np.flatnonzero(lru) + p0
    starts = np.concatenate(([0], np.cumsum(counts))).tolist()
    counts = counts.tolist()
    # the capped first isolation of a block stops one past its 32nd LRU page
    nth = [0] * nblocks
    if len(lru_pfns):
        at = np.minimum(np.array(starts[:-1]) + COMPACT_CLUSTER_MAX - 1, len(lru_pfns) - 1)
        nth = lru_pfns[at].tolist()
    # a free block of max order at a block start is skipped whole: 1024 pages scanned
    bstarts = np.arange(p0, end, PAGEBLOCK_NR_PAGES)
    big = ((mem.flags[bstarts] & F_BUDDY) != 0) & ((mem.aux[bstarts] & 0xF) == MAX_ORDER - 1)
    big = big.tolist()

    free = _FreeScanner(c, cc, z)
    avail = cc.nr_freepages  # isolated free pages not handed out yet
    sp = 0  # pages handed out of the current supply
    # the supply being handed out: cc->freepages[] as it was (None), or the heads
    # (indexes into free.pfn_np) of the last free-scanner run
    seg = None
    limit = z.nr_free_pages - z.wmark_min - (2 << RETYPE_ORDER)

    zone_line = f"node=0 zone={z.name:<8s} order=-1 ret={status_name(COMPACT_CONTINUE, k.profile)}"
    mode = MODE_NAMES[MIGRATE_SYNC]
    reason = k.reason_name(MR_COMPACTION)
    start_line = f"mode={mode} reason={reason}"
    # trace texts as printf formats: formatted only if someone reads them (TraceLog)
    migrated_fmt = (
        "nr_succeeded=%d nr_failed=0 nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 "
        f"nr_split=0 mode={mode} reason={reason}"
    )

    t = k.time_ns
    ticks = 0
    lines: list[tuple[int, str, str, tuple | None]] = []
    # what the accepted pageblocks do, applied at the end
    olds: list[np.ndarray] = []  # per batch: sources, in list order (newest first)
    copy_t0: list[int] = []  # per batch: the time its copies start
    free_visits: list[tuple] = []
    taken: list[list[range]] = []  # per free-scanner run: its heads, indexes into free.pfn_np
    mig_skip: list[int] = []  # pageblocks whose skip bit the migrate scanner sets
    cached_migrate = 0
    last_migrated = cc.last_migrated_pfn
    finish_pageblock = cc.finish_pageblock
    migrate_scanned = free_scanned = isolated = 0
    done_blocks = 0

    for b in range(nblocks):
        # this block's effects are tentative until all of it fits
        bt, bticks, nlines = t, ticks, len(lines)
        nbatches, nvisits, ntaken = len(olds), len(free_visits), len(taken)
        b_sp, b_avail, b_seg = sp, avail, seg
        b_free_state = (free.pos, free.bi, free.lowest, free.taken)
        bstart = p0 + b * PAGEBLOCK_NR_PAGES
        bend = bstart + PAGEBLOCK_NR_PAGES
        n = counts[b]
        lo_i, hi_i = starts[b], starts[b + 1]
        if n > COMPACT_CLUSTER_MAX or (n == COMPACT_CLUSTER_MAX and nth[b] != bend - 1):
            cut = nth[b] + 1
            batches = [
                (bstart, cut, lo_i, lo_i + COMPACT_CLUSTER_MAX),
                (cut, bend, lo_i + COMPACT_CLUSTER_MAX, hi_i),
            ]
        else:
            batches = [(bstart, bend, lo_i, hi_i)]
        ok = True
        b_scanned = b_free_scanned = b_isolated = 0
        for lo, hi, i0, i1 in batches:
            m = i1 - i0
            bt += COST_TICK
            bticks += 1
            if deadline_ns is not None and bt >= deadline_ns:
                ok = False
                break
            scanned = 2 * PAGEBLOCK_NR_PAGES if (lo == bstart and not m and big[b]) else hi - lo
            lines.append((bt, "mm_compaction_finished", zone_line, None))
            lines.append((bt, "mm_compaction_isolate_migratepages", _RANGE, (lo, hi, scanned, m)))
            bt += scanned * COST_SCAN
            b_scanned += scanned
            b_isolated += m
            if not m:
                continue
            # the migrate tick: sources newest first, targets in hand-out order
            bt += COST_TICK
            bticks += 1
            if deadline_ns is not None and bt >= deadline_ns:
                ok = False
                break
            lines.append((bt, "mm_migrate_pages_start", start_line, None))
            got = 0
            while got < m:
                take = min(m - got, b_avail - b_sp)
                if take:
                    b_sp += take
                    got += take
                    continue
                ep: list = []
                visits = free.episode(m - got, bend + MARGIN, limit, ep)
                if visits is None:
                    ok = False
                    break
                for _bs, vlo, vhi, vscanned, vtaken, _fin in visits:
                    lines.append(
                        (
                            bt,
                            "mm_compaction_isolate_freepages",
                            _RANGE,
                            (vlo, vhi, vscanned, vtaken),
                        )
                    )
                    bt += vscanned * COST_SCAN
                    b_free_scanned += vscanned
                    b_isolated += vtaken
                free_visits.extend(visits)
                taken.append(ep)
                b_avail = sum([v[4] for v in visits])
                b_sp = 0
                b_seg = ep
            if not ok:
                break
            olds.append(lru_pfns[i0:i1][::-1])
            copy_t0.append(bt)
            bt += COST_COPY * m
            lines.append((bt, "mm_migrate_pages", migrated_fmt, (m,)))
            lines.append((bt, "mm_compaction_migratepages", _MIGRATED, (m,)))
        if not ok or bticks > max_ticks or free.lowest < bend + MARGIN:
            free.pos, free.bi, free.lowest, free.taken = b_free_state
            del lines[nlines:], olds[nbatches:], copy_t0[nbatches:]
            del free_visits[nvisits:], taken[ntaken:]
            break
        t, ticks = bt, bticks
        sp, avail, seg = b_sp, b_avail, b_seg
        migrate_scanned += b_scanned
        free_scanned += b_free_scanned
        isolated += b_isolated
        if n == 0:
            mig_skip.append(bstart >> PAGEBLOCK_ORDER)
            cached_migrate = bend + PAGEBLOCK_NR_PAGES
            finish_pageblock = False
        else:
            last_migrated = max(z.start, bstart)
            finish_pageblock = len(batches) == 2
            if len(batches) == 2:
                cached_migrate = bend + PAGEBLOCK_NR_PAGES
        done_blocks += 1

    if not done_blocks:
        return 0
    if free_visits:
        cc.free_pfn = free.pos
    news = _targets(cc, free, taken, sum(len(x) for x in olds))
    _apply_free(c, cc, z, free, free_visits, taken, seg, sp)
    _apply_migrations(c, olds, news, copy_t0)
    for blk in mig_skip:
        mem.pb_skip[blk] = True
    if cached_migrate:
        cached = z.compact_cached_migrate_pfn
        cached[0] = max(cached[0], cached_migrate)
        cached[1] = max(cached[1], cached_migrate)
    cc.migrate_pfn = p0 + done_blocks * PAGEBLOCK_NR_PAGES
    cc.last_migrated_pfn = last_migrated
    cc.finish_pageblock = finish_pageblock
    cc.total_migrate_scanned += migrate_scanned
    cc.total_free_scanned += free_scanned
    k.count("compact_isolated", isolated)
    k.count("pgmigrate_success", sum(len(x) for x in olds))
    k.time_ns = t
    k.trace_many(lines)
    return ticks


def _flat(runs: list[list[range]]) -> tuple[np.ndarray, np.ndarray]:
    """The indexes in the runs' ranges, in order, and the run each belongs to."""
    starts = np.array([r.start for ranges in runs for r in ranges], dtype=np.int64)
    lens = np.array([len(r) for ranges in runs for r in ranges], dtype=np.int64)
    run_of = np.repeat(np.arange(len(runs)), [len(ranges) for ranges in runs])
    first = np.cumsum(lens) - lens
    idx = np.repeat(starts - first, lens) + np.arange(int(lens.sum()))
    return idx, np.repeat(run_of, lens)


def _targets(cc: CompactControl, free: _FreeScanner, taken: list[list[range]], n: int):
    """The first n pfns compaction_alloc() hands out: what cc->freepages[] held, then the
    blocks of each free-scanner run in turn, each run list by list from order 0 up, each
    list in isolation order, each block in ascending pfn order."""
    parts = [_handout(cc.freepages_618)] if cc.nr_freepages else []
    if taken:
        idx, run = _flat(taken)
        orders = free.order_np[idx]
        by_run_order = np.lexsort((orders, run))  # stable: isolation order within a list
        sizes = np.left_shift(1, orders[by_run_order])
        offs = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        parts.append(np.repeat(free.pfn_np[idx][by_run_order], sizes) + offs)
    out = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return out[:n]


def _apply_free(c: Compactor, cc: CompactControl, z, free: _FreeScanner, visits, taken, seg, sp):
    """The free scanner's part: blocks taken off the free lists and made targets, skip
    bits and the cached free pfn, and cc->freepages[] as the hand-outs left it."""
    mem = c.mem
    if taken:
        idx = _flat(taken)[0]
        heads = free.pfn_np[idx]
        sizes = np.left_shift(1, free.order_np[idx])
        codes = mem.aux[heads]
        mem.flags[heads] = 0
        total = int(sizes.sum())
        z.nr_free_pages -= total
        mem.unlist_heads(z, codes)
        pages = np.repeat(heads, sizes) + (
            np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        )
        mem.kind[pages] = K_TARGET
        if mem.changed is not None:
            mem.changed.update(pages.tolist())
    for bstart, _lo, _hi, _scanned, _taken, finished in visits:
        if finished:
            mem.pb_skip[bstart >> PAGEBLOCK_ORDER] = True
            if bstart - PAGEBLOCK_NR_PAGES < z.compact_cached_free_pfn:
                z.compact_cached_free_pfn = bstart - PAGEBLOCK_NR_PAGES
    if seg is not None:
        # the last run's blocks, appended to cc->freepages[order] in isolation order
        fl = cc.freepages_618
        for q in fl:
            q.clear()
        idx = _flat([seg])[0]
        for p, o in zip(free.pfn_np[idx].tolist(), free.order_np[idx].tolist(), strict=True):
            fl[o].append(p)
        cc.nr_freepages = int(np.left_shift(1, free.order_np[idx]).sum())
    if sp:
        # the same hand-outs again, through compaction_alloc_many(): it leaves the lists
        # (split remainders included) exactly as single compaction_alloc() calls would
        cc.nr_migratepages = sp
        c.compaction_alloc_many(cc, sp)
    cc.nr_migratepages = 0


def _apply_migrations(c: Compactor, olds, news, copy_t0) -> None:
    """Contents move to their targets, history records them, the sources are freed
    through the pcp lists (owed merges, as in any full-compaction tick)."""
    if not olds:
        return
    k, mem = c.k, c.mem
    o = np.concatenate(olds).astype(np.intp)
    n = news.astype(np.intp)
    mem.kind[n] = mem.kind[o]
    mem.aux[n] = mem.aux[o]
    mem.token[n] = mem.token[o]
    mem.flags[n] = (mem.flags[o] & np.uint8(F_DIRTY | F_UNEVICTABLE)) | F_LRU
    sizes = np.array([len(x) for x in olds], dtype=np.int64)
    first = np.cumsum(sizes) - sizes
    times = np.repeat(np.array(copy_t0, dtype=np.int64) - first * COST_COPY, sizes)
    times += COST_COPY * np.arange(1, len(o) + 1, dtype=np.int64)
    k.history.extend(times, o, H_OUT, n)
    mem.defer_frees = True
    try:
        mem.free_pages_bulk(o)
    finally:
        mem.defer_frees = False
    if mem.changed is not None:
        mem.changed.update(n.tolist())
