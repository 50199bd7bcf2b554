"""Many ticks of a 4.8 full compaction at once, with the same result as ticking one by one.

The 4.8 counterpart of fastpath.py (read its docstring first). In the steady state of a
4.8 `compact_memory` (cc->order == -1, MIGRATE_SYNC, ignore_skip_hint: no skip bit and no
cached pfn ever changes) every compact_zone() iteration follows from the page arrays:

- an isolate tick scans from cc->migrate_pfn and takes the LRU pages it meets, at most
  COMPACT_CLUSTER_MAX (32); it stops one past the 32nd, or at the end of the pageblock.
  A scan that takes nothing is a tick of its own (ISOLATE_NONE). nr_scanned counts every
  pfn visited, a free block by its head only;
- a migrate tick migrates the batch, highest pfn first (cc->migratepages is a list_add()
  list). Each page takes the head of cc->freepages; when that is empty,
  compaction_alloc() runs the free scanner, which isolates until it holds
  cc->nr_migratepages pages (the whole batch, however much of it is already done), and
  map_pages() leaves the list in descending pfn order of what it took. Every migration
  succeeds at the first attempt.

fast_forward_48() computes the ticks of up to MAX_RUN_BLOCKS pageblocks from the arrays,
then the free-scanner runs and the time of every tick, and applies them in bulk.

Owed merges: the migrated pages are freed through the pcp lists, and pages drained from
there may merge in the buddy allocator. A merged block that reaches from below a scan's
start to at or above it would change what the 4.8 scan counts (a head is counted once, a
tail once per pfn). Such a block holds the pfn just below the start, so it cannot form
while that pfn sits on a pcp list; the run ends before any scan whose start could be
reached otherwise (see _danger()).
"""

from __future__ import annotations

from collections import deque
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
    K_FREE,
    K_PCP,
    K_TARGET,
    MAX_ORDER,
    MIGRATE_PCPTYPES,
    MIGRATE_SYNC,
    MODE_NAMES,
    MR_COMPACTION,
    PAGEBLOCK_NR_PAGES,
    PAGEBLOCK_ORDER,
    status_name,
)
from .fastpath import (
    _BAD_KINDS,
    _MIGRATED,
    _RANGE,
    _SLOW,
    MARGIN,
    MAX_BLOCK,
    MAX_RUN_BLOCKS,
    _FreeScanner,
    _ranges,
    _visits,
)
from .kernel import COST_COPY, COST_SCAN, COST_TICK, H_OUT

if TYPE_CHECKING:
    from .compaction import CompactControl, Compactor

_NEVER = np.iinfo(np.int64).max


def applicable48(c: Compactor, cc: CompactControl) -> bool:
    """Whether cc is between two iterations in the steady state fast_forward_48() models."""
    k = c.k
    return (
        not k.v6
        and cc.phase == "isolate"
        and cc.order == -1
        and cc.mode == MIGRATE_SYNC
        and cc.ignore_skip_hint
        and not (cc.direct or cc.proactive or cc.rescan or cc.contended)
        and cc.nr_migratepages == 0
        and not cc.migratepages
        # set by the first isolation and never again in a full compaction: the ticks
        # from then on leave it alone (pfn 0 reads as unset)
        and cc.last_migrated_pfn != 0
        and c.mem.capture is None
        and not k.lru_eagain_rate
        and k.file_migratepage
        and cc.nr_freepages == len(cc.freepages)
    )


def fast_forward_48(
    c: Compactor, cc: CompactControl, max_ticks: int, deadline_ns: int | None
) -> int:
    """Run ticks of a 4.8 full compaction, at most max_ticks, none of which may start at
    or after deadline_ns, ending between two iterations. Returns the ticks done (0 when
    the state is not one this models, or not even one iteration fits)."""
    if max_ticks < 1 or not applicable48(c, cc):
        return 0
    k, mem = c.k, c.mem
    z = mem.zones[cc.zone]
    p0 = cc.migrate_pfn
    b0 = p0 & ~(PAGEBLOCK_NR_PAGES - 1)
    if b0 < z.start or p0 >= z.end:
        return 0
    room = ((cc.free_pfn & ~(PAGEBLOCK_NR_PAGES - 1)) - MARGIN - b0) // PAGEBLOCK_NR_PAGES
    # a pageblock takes one tick or more (about a dozen in a busy zone)
    nblocks = min(max_ticks // 4 + 1, MAX_RUN_BLOCKS, room, (z.end - b0) // PAGEBLOCK_NR_PAGES)
    if nblocks < 1:
        return 0
    # Pages on the pcp lists from before are drained first: none may be where the
    # scanners look. Owed merges there, or reaching across p0, are done now (as the
    # first scan's settle_around() would do; when does not matter).
    if z.pcp_count and max(max(q) for q in z.pcp_lists if q) >= p0:
        return 0
    if mem.pending and (mem.pending_hi >= p0 - MAX_BLOCK or mem._may_merge_across(p0)):
        mem.settle()
    plan = _migrate_plan(c, cc, p0, b0, nblocks)
    if plan is None:
        return 0
    ticks_a, lru_pfns = plan
    start, stop, scanned, i0, i1 = ticks_a
    nt = len(start)
    # the last tick whose scan start no owed merge can reach (see the module docstring)
    nt = min(nt, _danger(c, z, p0, b0, ticks_a, lru_pfns))
    if nt < 1:
        return 0
    start_l, stop_l, scanned_l = start[:nt].tolist(), stop[:nt].tolist(), scanned[:nt].tolist()
    i0_l, i1_l = i0[:nt].tolist(), i1[:nt].tolist()

    # 1. the free scanner: a run whenever a migration finds cc->freepages empty, asked
    # for the whole batch (4.8 keeps cc->nr_migratepages while migrate_pages() runs)
    free = _FreeScanner(c, cc, z, int(i1_l[-1] - i0_l[0]))
    # __isolate_free_page() keeps low + 2^order free; frees on the way only add to that
    limit = z.nr_free_pages - z.wmark_low - 1
    avail = cc.nr_freepages
    runs: list[tuple] = []
    after: list[int] = []  # per run: the free scanner's position after it
    tick_run: list[int] = []  # per accepted iteration: its run, or -1
    tick_head: list[int] = []  # per accepted iteration: pages migrated before its run
    ticks = 0
    n_ok = 0
    for i in range(nt):
        m = i1_l[i] - i0_l[i]
        ticks += 2 if m else 1
        # the free scanner must stay MARGIN above the block the migrate scanner is in
        floor = (stop_l[i] & ~(PAGEBLOCK_NR_PAGES - 1)) + PAGEBLOCK_NR_PAGES + MARGIN
        if ticks > max_ticks or free.lowest < floor:
            break
        if not m or avail >= m:
            avail -= m
            tick_run.append(-1)
            tick_head.append(m)
        else:
            r = free.run(m, floor, limit)
            if r is None:
                break
            runs.append(r)
            after.append(free.pos)
            tick_run.append(len(runs) - 1)
            tick_head.append(avail)
            avail = r[-1] - (m - avail)
        n_ok += 1
    if not n_ok:
        return 0
    visits = _visits(free, runs)
    v_first, v_args, v_scanned = visits[0], visits[1], visits[2]

    # 2. the ticks in order: time, trace lines, and where a due timeline event ends the run
    zone_line = f"node=0 zone={z.name:<8s} order=-1 ret={status_name(COMPACT_CONTINUE, k.profile)}"
    migrated_fmt = (
        f"nr_succeeded=%d nr_failed=0 mode={MODE_NAMES[MIGRATE_SYNC]} "
        f"reason={k.reason_name(MR_COMPACTION)}"
    )
    head = k._head()
    lines: list[tuple[int, str, str, str, tuple | None]] = []
    append = lines.append
    copies: list[tuple[int, int]] = []  # (time the copies start, how many), in order
    t = k.time_ns
    ticks = done = 0
    migrate_scanned = isolated = 0
    for i in range(n_ok):
        m = i1_l[i] - i0_l[i]
        bt = t + COST_TICK
        if deadline_ns is not None and bt >= deadline_ns:
            break
        append((bt, head, "mm_compaction_finished", zone_line, None))
        append(
            (
                bt,
                head,
                "mm_compaction_isolate_migratepages",
                _RANGE,
                (start_l[i], stop_l[i], scanned_l[i], m),
            )
        )
        bt += scanned_l[i] * COST_SCAN
        if m:
            bt += COST_TICK
            if deadline_ns is not None and bt >= deadline_ns:
                del lines[-2:]
                break
            r = tick_run[i]
            if r < 0:
                copies.append((bt, m))
                bt += COST_COPY * m
            else:
                h = tick_head[i]
                if h:
                    copies.append((bt, h))
                    bt += COST_COPY * h
                for j in range(v_first[r], v_first[r + 1]):
                    append((bt, head, "mm_compaction_isolate_freepages", _RANGE, v_args[j]))
                    bt += v_scanned[j] * COST_SCAN
                copies.append((bt, m - h))
                bt += COST_COPY * (m - h)
            append((bt, head, "mm_migrate_pages", migrated_fmt, (m,)))
            append((bt, head, "mm_compaction_migratepages", _MIGRATED, (m,)))
            ticks += 2
        else:
            ticks += 1
        t = bt
        migrate_scanned += scanned_l[i]
        isolated += m
        done += 1
    if not done:
        return 0

    # 3. apply what the accepted iterations did
    nruns = max([r for r in tick_run[:done] if r >= 0], default=-1) + 1
    runs = runs[:nruns]
    nvisits = v_first[nruns]
    if nruns:
        cc.free_pfn = after[nruns - 1]
    olds = [lru_pfns[a:b][::-1] for a, b in zip(i0_l[:done], i1_l[:done], strict=True) if b > a]
    heads, orders, run_pages = _free_takes48(free, [_ranges(r) for r in runs])
    old_targets = np.fromiter(cc.freepages, dtype=np.int64, count=len(cc.freepages))
    handout = np.concatenate((old_targets, run_pages))
    n_old = sum([len(x) for x in olds])
    _apply_free48(c, z, heads, run_pages)
    cc.freepages = deque(handout[n_old:].tolist())
    cc.nr_freepages = len(cc.freepages)
    _apply_migrations48(c, olds, handout[:n_old], copies)
    free_taken = int(np.sum(visits[4][:nvisits])) if nvisits else 0
    cc.migrate_pfn = stop_l[done - 1]
    k.count("compact_migrate_scanned", migrate_scanned)
    k.count("compact_free_scanned", int(np.sum(visits[2][:nvisits])) if nvisits else 0)
    k.count("compact_isolated", isolated + free_taken)
    k.count("pgmigrate_success", n_old)
    k.time_ns = t
    k.trace_many(lines)
    return ticks


def _migrate_plan(c: Compactor, cc: CompactControl, p0: int, b0: int, nblocks: int):
    """The isolate ticks from p0 through the pageblocks from b0, up to the first pfn this
    does not model: ((scan start, scan end, nr_scanned, first and end index in the LRU
    pfns) as arrays, one entry per tick; the LRU pfns). None if the state is not modelled."""
    mem = c.mem
    end = b0 + nblocks * PAGEBLOCK_NR_PAGES
    kinds = mem.kind[p0:end]
    flags = mem.flags[p0:end]
    lru = c._lru_isolatable(cc, kinds, flags)
    bad = _BAD_KINDS[kinds] | ((flags & F_ISOLATED) != 0) | (lru & ((flags & _SLOW) != 0))
    first_bad = int(np.argmax(bad)) + p0 if bad.any() else end
    # the pfns a free block covers past its head, within the head's pageblock: the scan
    # passes over them (4.8 counts the head only); an order-10 block's upper pageblock is
    # scanned pfn by pfn
    lo = max(b0 - PAGEBLOCK_NR_PAGES, 0)
    bflags = mem.flags[lo:end]
    heads = np.flatnonzero(bflags & F_BUDDY) + lo
    orders = (mem.aux[heads] & 0xF).astype(np.int64)
    sizes = np.where((orders > 0) & (orders < MAX_ORDER), np.left_shift(1, orders), 1)
    block_end = (heads | (PAGEBLOCK_NR_PAGES - 1)) + 1
    tail_end = np.minimum(heads + sizes, block_end)
    if ((heads < p0) & (tail_end > p0)).any():
        return None  # p0 inside a free block (never left so by a scan)
    keep = heads >= p0
    heads, tail_end = heads[keep], tail_end[keep]
    n = end - p0
    diff = np.bincount(heads - p0 + 1, minlength=n + 1) - np.bincount(
        tail_end - p0, minlength=n + 1
    )
    tail = np.cumsum(diff[:n]) > 0
    if (tail & (lru | bad)).any():
        return None  # a free block over a page to look at: not a state the allocator makes
    counted = np.concatenate(([0], np.cumsum(~tail, dtype=np.int64)))
    lru &= ~bad
    lru_pfns = np.flatnonzero(lru) + p0
    nl = len(lru_pfns)
    # the capped ticks: one per COMPACT_CLUSTER_MAX LRU pages of a pageblock
    blk = (lru_pfns - b0) >> PAGEBLOCK_ORDER
    per_blk = np.bincount(blk, minlength=nblocks)
    first_in_blk = np.cumsum(per_blk) - per_blk
    rank = np.arange(nl) - first_in_blk[blk]
    full = np.flatnonzero(rank % COMPACT_CLUSTER_MAX == COMPACT_CLUSTER_MAX - 1)
    cut = lru_pfns[full] + 1  # where each capped scan stops
    bstarts = b0 + PAGEBLOCK_NR_PAGES * np.arange(nblocks, dtype=np.int64)
    bends = bstarts + PAGEBLOCK_NR_PAGES
    scan0 = bstarts.copy()
    scan0[0] = p0
    # each pageblock's last tick: from its last cut (or its scan start) to its end, unless
    # the last cut is the end and no LRU page is left
    nfull = per_blk // COMPACT_CLUSTER_MAX
    last_cut = np.full(nblocks, -1, dtype=np.int64)
    has_full = nfull > 0
    last_cut[has_full] = cut[np.cumsum(nfull)[has_full] - 1]
    tail_start = np.where(has_full, last_cut, scan0)
    rest = per_blk - nfull * COMPACT_CLUSTER_MAX
    last = (rest > 0) | (tail_start < bends)
    # all ticks, sorted by scan start: the capped ones, then each block's last
    f_start = np.where(
        rank[full] >= COMPACT_CLUSTER_MAX,
        lru_pfns[np.maximum(full - COMPACT_CLUSTER_MAX, 0)] + 1,
        scan0[blk[full]],
    )
    f_i1 = full + 1
    lb = np.flatnonzero(last)
    l_i1 = first_in_blk[lb] + per_blk[lb]
    l_i0 = l_i1 - rest[lb]
    start = np.concatenate((f_start, tail_start[lb]))
    stop = np.concatenate((cut, bends[lb]))
    i0 = np.concatenate((f_i1 - COMPACT_CLUSTER_MAX, l_i0))
    i1 = np.concatenate((f_i1, l_i1))
    order = np.argsort(start, kind="stable")
    start, stop, i0, i1 = start[order], stop[order], i0[order], i1[order]
    # up to the first tick that would scan a pfn not modelled
    nt = int(np.searchsorted(stop, first_bad, side="right"))
    start, stop, i0, i1 = start[:nt], stop[:nt], i0[:nt], i1[:nt]
    scanned = counted[stop - p0] - counted[start - p0]
    return (start, stop, scanned, i0, i1), lru_pfns


def _danger(c: Compactor, z, p0: int, b0: int, ticks_a, lru_pfns: np.ndarray) -> int:
    """The number of ticks before the first one (after the first) whose scan start an
    owed merge could reach: a free block could form across start a if [a, a + lowbit(a))
    is all free and [a - lowbit(a), a) holds nothing but free pages, pcp pages and pages
    migrated before a, not all of them free already. Safe anyway when pfn a - 1 is sure
    to sit on the pcp list at the scan: it was migrated, and the drains since then (one
    pcp list in use: oldest first) did not reach it."""
    start, stop, _scanned, i0, i1 = ticks_a
    nt = len(start)
    if nt < 2:
        return nt
    mem = c.mem
    a = start[1:]
    low = a & -a
    cand = np.flatnonzero(low <= MAX_BLOCK // 2)
    if not len(cand):
        return nt
    a_c, low_c = a[cand], low[cand]
    lo = max(int((a_c - low_c).min()), z.start)
    hi = min(int((a_c + low_c).max()), z.end)
    kinds = mem.kind[lo:hi]
    free = kinds == K_FREE
    freeable = free | (kinds == K_PCP)
    src_lo = max(p0, lo)
    src_hi = min(hi, int(stop[-1]))
    if src_hi > src_lo:
        idx = lru_pfns[(lru_pfns >= src_lo) & (lru_pfns < src_hi)]
        freeable[idx - lo] = True
    cf = np.concatenate(([0], np.cumsum(free, dtype=np.int64)))
    cq = np.concatenate(([0], np.cumsum(freeable, dtype=np.int64)))

    def count(cs, x, y):
        x = np.clip(x, lo, hi) - lo
        y = np.clip(y, lo, hi) - lo
        return cs[y] - cs[x]

    upper_free = count(cf, a_c, a_c + low_c) == low_c
    # outside the zone nothing merges
    upper_free &= a_c + low_c <= z.end
    lower_all = (count(cq, a_c - low_c, a_c) == low_c) & (a_c - low_c >= z.start)
    lower_free = count(cf, a_c - low_c, a_c) == low_c
    risky = cand[upper_free & lower_all & ~lower_free]
    if not len(risky):
        return nt
    safe = _on_pcp_at_scan(c, z, ticks_a, lru_pfns, risky + 1)
    bad = risky[~safe]
    return int(bad[0]) + 1 if len(bad) else nt


def _on_pcp_at_scan(c: Compactor, z, ticks_a, lru_pfns: np.ndarray, ts: np.ndarray):
    """For ticks ts: whether pfn start - 1 sits on a pcp list when the tick scans."""
    mem = c.mem
    start, _stop, _scanned, i0, i1 = ticks_a
    out = np.zeros(len(ts), dtype=np.bool_)
    if not z.pcp_enabled or not len(lru_pfns):
        return out
    n_free = int(i1[ts.max()])  # frees before the last of these scans, and more
    src = lru_pfns[:n_free]
    mts = mem.pb_mt[src >> PAGEBLOCK_ORDER]
    mt0 = int(mts[0])
    lists = z.pcp_lists
    if (
        mt0 >= MIGRATE_PCPTYPES
        or (mts != mt0).any()
        or any(len(q) for m, q in enumerate(lists) if m != mt0)
    ):
        return out
    # one pcp list: a FIFO of its old pages then the frees in order; drains take the oldest
    moments, cum = _drains(z.pcp_count, z.pcp_high, z.pcp_batch, n_free)
    a = start[ts]
    k = np.searchsorted(lru_pfns, a - 1)
    k = np.minimum(k, len(lru_pfns) - 1)
    is_src = (lru_pfns[k] == a - 1) & (k < i0[ts])
    # the tick that took pfn lru_pfns[k]: the one whose [i0, i1) holds k
    tk = np.minimum(np.searchsorted(i1, k, side="right"), len(i1) - 1)
    free_idx = i0[tk] + i1[tk] - 1 - k  # its place in the order of frees
    fifo = len(lists[mt0]) + free_idx
    d = np.searchsorted(cum, fifo, side="right")
    drained_at = np.where(d < len(moments), moments[np.minimum(d, len(moments) - 1)], _NEVER)
    # the scan follows the frees of every tick before it
    out[:] = is_src & (drained_at > i0[ts])
    return out


def _drains(count: int, high: int, batch: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """When n frees onto a pcp list (count pages on it before) drain it: the number of
    frees after which each drain happens, and the pages drained by then (cumulative), as
    in Memory._pcp_add_bulk()."""
    moments: list[int] = []
    sizes: list[int] = []
    i = 0
    c = count
    last_c = -1
    while True:
        step = max(high - c, 1)
        if i + step > n:
            break
        if c == last_c:
            k = (n - i) // step
            moments.extend(range(i + step, i + step * k + 1, step))
            sizes.extend([sizes[-1]] * k)
            break
        last_c = c
        i += step
        c += step
        moments.append(i)
        sizes.append(min(batch, c))
        c -= sizes[-1]
    return np.array(moments, dtype=np.int64), np.cumsum(np.array(sizes, dtype=np.int64))


def _free_takes48(free: _FreeScanner, taken: list[list[range]]):
    """What the free-scanner runs took: the heads and orders in isolation order, and the
    pages in the order compaction_alloc() hands them out: run by run, each run's pages in
    descending pfn order of isolation (map_pages() list_add()s every subpage in turn)."""
    if not taken:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    starts = np.array([r.start for ranges in taken for r in ranges], dtype=np.int64)
    lens = np.array([len(r) for ranges in taken for r in ranges], dtype=np.int64)
    first = np.cumsum(lens) - lens
    idx = np.repeat(starts - first, lens) + np.arange(int(lens.sum()))
    heads, orders = free.pfn_np[idx], free.order_np[idx]
    sizes = np.left_shift(1, orders)
    offs = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    pages = np.repeat(heads, sizes) + offs  # in isolation order
    # each run's pages reversed
    run_of_head = np.repeat(np.repeat(np.arange(len(taken)), [len(rs) for rs in taken]), lens)
    run_pages = np.bincount(run_of_head, weights=sizes, minlength=len(taken)).astype(np.int64)
    rend = np.cumsum(run_pages)
    rstart = rend - run_pages
    run_of_page = np.repeat(np.arange(len(taken)), run_pages)
    pos = np.arange(len(pages))
    out = pages[(rstart + rend - 1)[run_of_page] - pos]
    return heads, orders, out


def _apply_free48(c: Compactor, z, heads: np.ndarray, pages: np.ndarray) -> None:
    """The free scanner's part: blocks taken off the free lists and made targets."""
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


def _apply_migrations48(c: Compactor, olds, news: np.ndarray, copies) -> None:
    """Contents move to their targets, history records them at the time each copy ends,
    the sources are freed through the pcp lists in the order they were migrated."""
    if not olds:
        return
    k, mem = c.k, c.mem
    o = np.concatenate(olds).astype(np.intp)
    n = news.astype(np.intp)
    mem.kind[n] = mem.kind[o]
    mem.aux[n] = mem.aux[o]
    mem.token[n] = mem.token[o]
    mem.flags[n] = (mem.flags[o] & np.uint8(F_DIRTY | F_UNEVICTABLE)) | F_LRU
    t0 = np.array([x[0] for x in copies], dtype=np.int64)
    cnt = np.array([x[1] for x in copies], dtype=np.int64)
    first = np.cumsum(cnt) - cnt
    times = np.repeat(t0 - first * COST_COPY, cnt)
    times += COST_COPY * np.arange(1, len(o) + 1, dtype=np.int64)
    k.history.extend(times, o, H_OUT, n)
    mem.defer_frees = True
    try:
        mem.free_pages_bulk(o)
    finally:
        mem.defer_frees = False
    if mem.changed is not None:
        mem.changed.update(n.tolist())
