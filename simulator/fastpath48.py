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
from functools import partial
from itertools import repeat
from typing import TYPE_CHECKING

import numpy as np

from .arrays import offsets, ranges
from .constants import (
    COMPACT_CLUSTER_MAX,
    COMPACT_CONTINUE,
    F_BUDDY,
    F_ISOLATED,
    K_FREE,
    K_HOLE,
    K_PCP,
    MIGRATE_PCPTYPES,
    MIGRATE_SYNC,
    MODE_NAMES,
    MR_COMPACTION,
    PAGEBLOCK_NR_PAGES,
    PAGEBLOCK_ORDER,
    status_name,
)
from .fastpath import (
    _MIGRATED,
    _RANGE,
    _SLOW,
    MARGIN,
    MAX_BLOCK,
    MAX_RUN_BLOCKS,
    TAIL_BLOCKS,
    _FreeScanner,
    _simple_visits,
    bad_kinds,
    isolate_for_move,
    move_contents,
    take_free_blocks,
)
from .kernel import COST_COPY, COST_SCAN, COST_TICK
from .memory import pcp_drains

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
    # when the scanners will likely meet within a long run (the free scanner comes down
    # about used/free pageblocks per pageblock the migrate scanner goes up), go on to the
    # end rather than leave a short call
    meet = room * z.nr_free_pages // max(z.present, 1)
    cap = MAX_RUN_BLOCKS + (TAIL_BLOCKS if meet <= MAX_RUN_BLOCKS + TAIL_BLOCKS else 0)
    nblocks = min(max_ticks // 4 + 1, cap, room, (z.end - b0) // PAGEBLOCK_NR_PAGES)
    if nblocks < 1:
        return 0
    # Pages on the pcp lists from before are drained first: none may be where the
    # scanners look. Owed merges there, or reaching across p0, are done now (as the
    # first scan's settle_around() would do; when does not matter).
    if z.pcp_count and max(max(q) for q in z.pcp_lists if q) >= p0:
        return 0
    if mem.pending and (mem.pending_hi >= p0 or mem._may_merge_across(p0)):
        mem.settle()
    plan = _migrate_plan(c, cc, p0, b0, nblocks)
    if plan is None:
        return 0
    ticks_a, lru_pfns, lru = plan
    start, stop, scanned, i0, i1 = ticks_a
    nt = len(start)
    # the last tick whose scan start no owed merge can reach (see the module docstring)
    nt = min(nt, _danger(c, z, p0, ticks_a, lru_pfns, lru))
    if nt < 1:
        return 0

    # 1. the free scanner: a run whenever a migration finds cc->freepages empty
    m = i1[:nt] - i0[:nt]
    n_lim = int(np.searchsorted(np.cumsum(1 + (m > 0)), max_ticks, side="right"))
    if not n_lim:
        return 0
    # each tick's free-scanner floor: isolate_freepages() stops above the migrate
    # scanner's pageblock (low_pfn = pageblock_end_pfn(cc->migrate_pfn)), and the owed
    # merges of what the tick freed (below stop) stay within their max-order block
    st = stop[:nt]
    floor_l = np.maximum(
        (st & ~(PAGEBLOCK_NR_PAGES - 1)) + PAGEBLOCK_NR_PAGES, ((st - 1) | (MAX_BLOCK - 1)) + 1
    ).tolist()
    free = _FreeScanner(c, cc, z, int(i1[nt - 1]), floor_l[0])
    n_ok, run_tick, run_g, run_g1, run_head = _plan_runs(
        free, np.append(i0[:nt], i1[nt - 1]), floor_l, cc.nr_freepages, n_lim
    )
    tr = np.full(n_ok, -1, dtype=np.int64)
    tr[run_tick] = np.arange(len(run_tick))
    # __isolate_free_page() keeps low + 2^order free; frees on the way only add to that
    limit = z.nr_free_pages - z.wmark_low - 1
    n_ok, f = _check_runs(free, tr, run_g, run_g1, floor_l, limit, cc.free_pfn, st)
    if not n_ok:
        return 0
    nruns = len(f)
    rep, v_start, v_stop, _vb, v_got, v_scan = _simple_visits(free, f)

    # 2. the ticks in order: their times, and where a due timeline event ends the run
    m, sc, tr = m[:n_ok], scanned[:n_ok], tr[:n_ok]
    run_scan = np.bincount(rep, weights=v_scan, minlength=nruns).astype(np.int64)
    rs = np.where(tr >= 0, run_scan[np.maximum(tr, 0)] if nruns else 0, 0)
    migrating = m > 0
    inc = (
        COST_TICK
        + COST_SCAN * sc
        + np.where(migrating, COST_TICK + COST_COPY * m + COST_SCAN * rs, 0)
    )
    t_end = k.time_ns + np.cumsum(inc)
    t_iso = t_end - inc + COST_TICK  # the isolate tick
    t_mig = t_iso + COST_SCAN * sc + COST_TICK  # the migrate tick
    done = n_ok
    if deadline_ns is not None:
        late = np.flatnonzero((t_iso >= deadline_ns) | (migrating & (t_mig >= deadline_ns)))
        if len(late):
            done = int(late[0])
    if not done:
        return 0
    m, sc, tr, rs, migrating = m[:done], sc[:done], tr[:done], rs[:done], migrating[:done]
    t_end, t_iso, t_mig = t_end[:done], t_iso[:done], t_mig[:done]
    nruns = int(tr.max()) + 1
    f = f[:nruns]
    # pages migrated before the run in each tick, and when the run starts
    head_n = np.where(tr >= 0, np.append(run_head[:nruns], 0)[tr], m)
    t_run = t_mig + COST_COPY * head_n
    nvis = int(np.searchsorted(rep, nruns))
    rep, v_start, v_stop = rep[:nvis], v_start[:nvis], v_stop[:nvis]
    v_got, v_scan = v_got[:nvis], v_scan[:nvis]
    v_first = np.searchsorted(rep, np.arange(nruns + 1))
    # each visit's line comes when its run starts plus the scans of the visits before it
    v_time = np.cumsum(COST_SCAN * v_scan) - COST_SCAN * v_scan
    if nvis:
        v_time += (t_run[tr >= 0] - v_time[v_first[:-1]])[rep]
    # the trace entries, built only if read (a long run pushes most out of the ring)
    texts = _texts(k, z)
    ticks_l = (start[:done], stop[:done], sc, m, t_iso, t_end, tr)
    visits_l = (v_first, v_time, v_start, v_stop, v_scan, v_got)
    nlines = 2 * done + 2 * int(migrating.sum()) + nvis

    # 3. apply what the accepted ticks did
    if nruns:
        cc.free_pfn = _after_run(free, f[-1])
    n_old = int(m.sum())
    # per page: its index q among all the pages migrated, and its tick's values spread by
    # np.repeat (~3x cheaper than gathering them by tick); tick t migrates LRU pfns i0[t]
    # up to i1[t], highest first (cc->migratepages is list_add()ed), so page q is the
    # (q - i0[t])-th of its tick
    q = np.arange(n_old)
    i0d = i0[:done]
    olds = lru_pfns[np.repeat(i0d + i1[:done] - 1, m) - q]
    heads, run_pages = _free_takes48(free, f)
    old_targets = np.fromiter(cc.freepages, dtype=np.int64, count=len(cc.freepages))
    handout = np.concatenate((old_targets, run_pages))
    take_free_blocks(c, z, heads, run_pages)
    cc.freepages = deque(handout[n_old:].tolist())
    cc.nr_freepages = len(cc.freepages)
    # each page's copy ends COST_COPY after the one before, and a run's scan in between
    times = np.repeat(t_mig + COST_COPY * (1 - i0d), m)
    times += COST_COPY * q
    times += np.where(q >= np.repeat(i0d + head_n, m), np.repeat(COST_SCAN * rs, m), 0)
    # what migrate_pages() appends to the history log at once: a run of pages with
    # targets at hand (finish_lru_migrations()), or the one that ran the free scanner
    mig = m > 0
    has_run = (tr >= 0)[mig]
    h_m, m_m = head_n[mig], m[mig]
    appends = np.stack(
        (np.where(has_run, h_m, m_m), has_run, np.where(has_run, m_m - h_m - 1, 0)), axis=1
    ).ravel()
    isolate_for_move(k, olds)
    move_contents(
        c,
        olds.astype(np.intp, copy=False),
        handout[:n_old].astype(np.intp, copy=False),
        times,
        np.cumsum(appends[appends > 0]),
    )
    cc.migrate_pfn = int(stop[done - 1])
    if not cc.last_migrated_pfn:
        # set by the first page isolated, never again in a full compaction; pfn 0 reads
        # as unset, so the page after it sets it
        first = lru_pfns[:n_old][lru_pfns[:n_old] != 0][:1]
        cc.last_migrated_pfn = int(first[0]) if len(first) else 0
    k.count("compact_migrate_scanned", int(sc.sum()))
    k.count("compact_free_scanned", int(v_scan.sum()))
    k.count("compact_isolated", n_old + int(v_got.sum()))
    k.count("pgmigrate_success", n_old)
    k.time_ns = int(t_end[-1])
    k.trace_batch(nlines, partial(_lines, texts, ticks_l, visits_l))
    return done + int(migrating.sum())


def _texts(k, z) -> tuple[str, str, str]:
    """The trace head and the fixed texts of the ticks' entries, as they are now."""
    zone_line = f"node=0 zone={z.name:<8s} order=-1 ret={status_name(COMPACT_CONTINUE, k.profile)}"
    migrated_fmt = (
        f"nr_succeeded=%d nr_failed=0 mode={MODE_NAMES[MIGRATE_SYNC]} "
        f"reason={k.reason_name(MR_COMPACTION)}"
    )
    return k._head(), zone_line, migrated_fmt


def _lines(texts, ticks, visits) -> list[tuple]:
    """The trace entries of the ticks, in order: per tick mm_compaction_finished and
    mm_compaction_isolate_migratepages, and if it migrated, its free-scanner run's
    mm_compaction_isolate_freepages, mm_migrate_pages and mm_compaction_migratepages."""
    head, zone_line, migrated_fmt = texts
    start, stop, sc, m, t_iso, t_end, tr = ticks
    v_first, v_time, v_start, v_stop, v_scan, v_got = visits
    mig = np.flatnonzero(m)
    nv = np.zeros(len(m), dtype=np.int64)
    has = tr >= 0
    nv[has] = np.diff(v_first)
    per_tick = 2 + (m > 0) * (2 + nv)
    first = np.cumsum(per_tick) - per_tick
    out = np.empty(int(per_tick.sum()), dtype=object)
    n = len(m)
    t_iso_l = t_iso.tolist()
    out[first] = _entries(n, t_iso_l, head, "mm_compaction_finished", zone_line, repeat(None))
    out[first + 1] = _entries(
        n,
        t_iso_l,
        head,
        "mm_compaction_isolate_migratepages",
        _RANGE,
        zip(start.tolist(), stop.tolist(), sc.tolist(), m.tolist(), strict=True),
    )
    if len(v_time):
        run_tick = np.flatnonzero(has)
        rep = np.repeat(np.arange(len(run_tick)), np.diff(v_first))
        at = first[run_tick][rep] + 2 + np.arange(len(v_time)) - v_first[rep]
        out[at] = _entries(
            len(v_time),
            v_time.tolist(),
            head,
            "mm_compaction_isolate_freepages",
            _RANGE,
            zip(v_start.tolist(), v_stop.tolist(), v_scan.tolist(), v_got.tolist(), strict=True),
        )
    if len(mig):
        at = first[mig] + 2 + nv[mig]
        t_l = t_end[mig].tolist()
        m_args = [(x,) for x in m[mig].tolist()]
        out[at] = _entries(len(mig), t_l, head, "mm_migrate_pages", migrated_fmt, m_args)
        out[at + 1] = _entries(len(mig), t_l, head, "mm_compaction_migratepages", _MIGRATED, m_args)
    return out.tolist()


def _entries(n: int, times: list[int], head: str, event: str, fmt: str, args) -> np.ndarray:
    """n trace entries (time, head, event, fmt, args) as an object array, built in C."""
    return np.fromiter(
        zip(times, repeat(head), repeat(event), repeat(fmt), args), dtype=object, count=n
    )


def _plan_runs(free: _FreeScanner, demand: np.ndarray, floors: list, avail: int, n_lim: int):
    """Which of the first n_lim ticks run the free scanner: a tick does when the pages
    handed to cc->freepages so far (avail at the start, then what the runs isolated) do
    not cover its batch (demand[i]: the pages of the ticks before tick i, then of all). A
    run isolates until it holds the whole batch: from its first head on (in scan order)
    until their pages reach it. Returns the ticks planned (n_lim, or fewer when the free
    blocks run out or would have to come from below a tick's floor, floors[i]), and per
    run its tick, first head, end head and the pages its tick migrated before it."""
    g0 = free.g
    x0 = int(free.cum[g0])
    # the heads the runs may take: enough for all the batches and the last one's overshoot
    slack = COMPACT_CLUSTER_MAX + (1 << PAGEBLOCK_ORDER)
    want = x0 + int(demand[n_lim]) - avail + slack
    zstart = free.z.start
    free.demand = want
    while free.cum[-1] < want and free.next_prep >= zstart:
        # The first tick whose run may need heads not prepared yet: if the next pageblock
        # lies below its floor, such a run (or a later one: the floors only rise) would
        # take from where _check_runs() ends the plan anyway, so the plan is the same.
        supply = avail + int(free.cum[-1]) - x0 - slack
        t = int(np.searchsorted(demand[1:], supply, side="right"))
        if free.next_prep < floors[t]:
            break
        free._prepare()
    cum = free.cum
    # from each head on (up to where the batches are covered): the tick whose batch a
    # run starting there serves, and where that run ends (-1: past the heads prepared)
    # (both by lookups rather than a binary search per head: the ticks' first heads, and
    # the head each page total reaches, ~5x faster)
    x = cum[g0 : int(cum.searchsorted(want)) + 1]
    first = np.searchsorted(avail + x - x0, demand)  # each tick's first head that serves it
    tick = np.cumsum(np.bincount(first, minlength=len(x) + 1)[: len(x)]) - 1
    serves = tick < n_lim
    # (every tick is 0 or more: the first tick's batch starts at demand[0] == 0)
    batch = np.append(np.diff(demand), 0)
    batch[n_lim:] = 0
    need = batch[tick]
    base = int(x[0])
    # the first head whose running total reaches each page total from base up
    reach = np.zeros(int(cum[-1]) - base + 1, dtype=np.int64)
    reach[cum[g0:-1] - base + 1] = 1
    reach = np.cumsum(reach, out=reach)  # (as an index from g0)
    target = x + need
    nxt = reach[np.minimum(target - base, len(reach) - 1)]
    nxt[(target > cum[-1]) & serves] = -1  # past the heads prepared
    nxt[~serves] = -2  # a run there would serve no tick of the plan
    # the runs one after another, from the first head on (indexes from g0)
    chain = [0]
    nxt_at = nxt.item
    g = nxt_at(0)
    while g >= 0:
        chain.append(g)
        g = nxt_at(g)
    ch = np.array(chain, dtype=np.int64)
    # a run from each head of the chain but the last (whose tick is past n_lim, or
    # whose run would need more heads)
    run_tick = tick[ch[:-1]]
    n_ok = n_lim if g == -2 else int(tick[chain[-1]])
    ch += g0
    run_g, run_g1 = ch[:-1], ch[1:]
    run_head = avail + cum[run_g] - x0 - demand[run_tick]
    return n_ok, run_tick, run_g, run_g1, run_head


def _after_run(free: _FreeScanner, fr) -> int:
    """Where the free scanner resumes after a run: past its last block, or the next
    pageblock down if that block ended its pageblock."""
    bi, pos, g, be, g1, stop = (int(x) for x in fr)
    bstart, bend = free.blocks[be][0], free.blocks[be][1]
    return bstart - PAGEBLOCK_NR_PAGES if stop == bend else stop


def _check_runs(
    free: _FreeScanner, tr: np.ndarray, run_g, run_g1, floor_l, limit, free_pfn: int, mig_pfn
):
    """The planned runs as _simple_visits() rows (first block, start pfn, first head, last
    block, end head, stop pfn), and the ticks before the first that breaks a rule of the
    model: a free-scanner pageblock it cannot model, one below the tick's floor, more
    taken than the watermark allows, or scanners that meet after it (compact_finished()
    then ends the compaction: left to the tick loop). free_pfn: cc->free_pfn now;
    mig_pfn: cc->migrate_pfn after each tick."""
    nr = len(run_g)
    n_ok = len(tr)
    if not n_ok:
        return 0, np.zeros((0, 6), dtype=np.int64)
    floor = np.array(floor_l[:n_ok], dtype=np.int64)
    lowest = np.full(n_ok, free.lowest, dtype=np.int64)
    free_after = np.full(n_ok, free_pfn, dtype=np.int64)  # cc->free_pfn after each tick
    bad_tick = np.zeros(n_ok, dtype=np.bool_)
    f = np.zeros((nr, 6), dtype=np.int64)
    if nr:
        g0 = np.array(run_g, dtype=np.int64)
        g1 = np.array(run_g1, dtype=np.int64)
        last = g1 - 1
        be = free.block_of(last)
        stop = free.pfn_np[last] + np.left_shift(1, free.order_np[last])
        bstart, bend = free.cols[0], free.cols[1]
        finished = stop == bend[be]
        bi = np.concatenate(([free.bi], np.where(finished, be + 1, be)[:-1]))
        after = np.where(finished, bstart[be] - PAGEBLOCK_NR_PAGES, stop)  # _after_run()
        pos = np.concatenate(([free.pos], after[:-1]))
        bad = free.bad_np
        taken = np.cumsum(free.cum[g1] - free.cum[g0])
        broken = (bad[be + 1] - bad[bi] > 0) | (taken > limit)
        has = tr >= 0
        bad_tick[has] = broken[tr[has]]
        # the lowest pageblock the free scanner visited by the end of each tick
        upto = np.maximum.accumulate(tr)
        lowest = np.where(upto >= 0, bstart[be][np.maximum(upto, 0)], lowest)
        free_after = np.where(upto >= 0, after[np.maximum(upto, 0)], free_after)
        f[:, 0], f[:, 1], f[:, 2], f[:, 3], f[:, 4], f[:, 5] = bi, pos, g0, be, g1, stop
    bad_tick |= lowest < floor
    # compact_scanners_met(): the free scanner's pageblock at or below the migrate one's
    bad_tick |= (free_after >> PAGEBLOCK_ORDER) <= (mig_pfn[:n_ok] >> PAGEBLOCK_ORDER)
    cut = np.flatnonzero(bad_tick)
    if len(cut):
        n_ok = int(cut[0])
    nruns = int(tr[:n_ok].max()) + 1 if n_ok else 0
    return n_ok, f[:nruns]


def _migrate_plan(c: Compactor, cc: CompactControl, p0: int, b0: int, nblocks: int):
    """The isolate ticks from p0 through the pageblocks from b0, up to the first pfn this
    does not model: ((scan start, scan end, nr_scanned, first and end index in the LRU
    pfns) as arrays, one entry per tick; the LRU pfns; whether each pfn from p0 is one of
    them). None if the state is not modelled."""
    mem = c.mem
    end = b0 + nblocks * PAGEBLOCK_NR_PAGES
    kinds = mem.kind[p0:end]
    flags = mem.flags[p0:end]
    lru = c._lru_isolatable(cc, kinds, flags)
    bad = bad_kinds(kinds) | ((flags & F_ISOLATED) != 0) | (lru & ((flags & _SLOW) != 0))
    first_bad = int(np.argmax(bad)) + p0 if bad.any() else end
    # pageblock_pfn_to_page(): a pageblock with a hole at either end is passed over whole,
    # in the same tick as the next one
    bstarts = b0 + PAGEBLOCK_NR_PAGES * np.arange(nblocks, dtype=np.int64)
    holed = (mem.kind[bstarts] == K_HOLE) | (mem.kind[bstarts + PAGEBLOCK_NR_PAGES - 1] == K_HOLE)
    if holed.any():
        first_bad = min(first_bad, int(bstarts[np.argmax(holed)]))
    # the pfns a free block covers past its head, within the head's pageblock: the scan
    # passes over them (4.8 counts the head only); an order-10 block's upper pageblock is
    # scanned pfn by pfn
    lo = max(b0 - PAGEBLOCK_NR_PAGES, 0)
    bflags = mem.flags[lo:end]
    heads = np.flatnonzero((bflags & F_BUDDY) != 0) + lo
    orders = (mem.aux[heads] & 0xF).astype(np.int64)
    # (the kernel's `freepage_order > 0 && freepage_order < MAX_ORDER`, else one pfn: a
    # buddy head's order is always below MAX_ORDER)
    sizes = np.left_shift(1, orders)
    block_end = (heads | (PAGEBLOCK_NR_PAGES - 1)) + 1
    tail_end = np.minimum(heads + sizes, block_end)
    if ((heads < p0) & (tail_end > p0)).any():
        return None  # p0 inside a free block (never left so by a scan)
    # the tail pfns, in order (offsets from p0): the blocks of more than one page only
    multi = np.flatnonzero((heads >= p0) & (tail_end > heads + 1))
    tails = ranges(heads[multi] + 1 - p0, tail_end[multi] - heads[multi] - 1)
    if len(tails) and (lru[tails] | bad[tails]).any():
        return None  # a free block over a page to look at: not a state the allocator makes
    lru &= ~bad
    lru_pfns = np.flatnonzero(lru) + p0
    # the capped ticks: one per COMPACT_CLUSTER_MAX LRU pages of a pageblock, the j-th of
    # block b ending at its (j + 1) * COMPACT_CLUSTER_MAX-th LRU page
    per_blk = np.diff(np.searchsorted(lru_pfns, np.append(bstarts, end)))
    first_in_blk = np.cumsum(per_blk) - per_blk
    nfull = per_blk // COMPACT_CLUSTER_MAX
    fb = np.repeat(np.arange(nblocks), nfull)
    j = offsets(nfull)
    full = first_in_blk[fb] + COMPACT_CLUSTER_MAX * j + (COMPACT_CLUSTER_MAX - 1)
    cut = lru_pfns[full] + 1  # where each capped scan stops
    bends = bstarts + PAGEBLOCK_NR_PAGES
    scan0 = bstarts.copy()
    scan0[0] = p0
    # each pageblock's last tick: from its last cut (or its scan start) to its end, unless
    # the last cut is the end and no LRU page is left
    last_cut = np.full(nblocks, -1, dtype=np.int64)
    has_full = nfull > 0
    last_cut[has_full] = cut[np.cumsum(nfull)[has_full] - 1]
    tail_start = np.where(has_full, last_cut, scan0)
    rest = per_blk - nfull * COMPACT_CLUSTER_MAX
    last = (rest > 0) | (tail_start < bends)
    # all ticks, sorted by scan start: the capped ones, then each block's last
    f_start = np.where(j > 0, lru_pfns[np.maximum(full - COMPACT_CLUSTER_MAX, 0)] + 1, scan0[fb])
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
    # every pfn from start to stop, less the tail pfns among them
    scanned = (stop - start) - (
        np.searchsorted(tails, stop - p0) - np.searchsorted(tails, start - p0)
    )
    return (start, stop, scanned, i0, i1), lru_pfns, lru


def _danger(c: Compactor, z, p0: int, ticks_a, lru_pfns: np.ndarray, lru: np.ndarray) -> int:
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
    # (the first and the last pfn of [a, a + lowbit(a)) free, in the zone: a cheap
    # necessary condition that rules out most ticks before the counts below)
    kind = mem.kind
    cand = np.flatnonzero(
        (low <= MAX_BLOCK // 2)
        & (a + low <= z.end)
        & (kind[a] == K_FREE)
        & (kind[np.minimum(a + low - 1, len(kind) - 1)] == K_FREE)
    )
    if not len(cand):
        return nt
    a_c, low_c = a[cand], low[cand]
    # each one's window [a - lowbit(a), a + lowbit(a)) within the zone, page by page
    # (they are short: a tick's start is mostly just past an LRU page)
    w0 = np.maximum(a_c - low_c, z.start)
    wlen = a_c + low_c - w0
    pos = ranges(w0, wlen)
    kinds = kind[pos]
    free = kinds == K_FREE
    freeable = free | (kinds == K_PCP)
    if mem.pending and mem.pending_hi >= int(w0.min()):
        # pages owed to the buddy allocator (all below p0) are free but not merged yet
        free &= ~np.isin(pos, np.concatenate([p for _, p, _ in mem.pending]))
    # the LRU pages the ticks migrate (all of them before a tick that scans above them)
    src = (pos >= p0) & (pos < int(stop[-1]))
    freeable[src] |= lru[pos[src] - p0]
    # the free and the freeable pages in each half, [a - lowbit(a), a) and [a, a + lowbit(a))
    # (a lower half the zone's start cuts short cannot merge: its count does not matter)
    first = np.cumsum(wlen) - wlen
    halves = np.stack((first, first + a_c - w0), axis=1).ravel()
    f_lower, f_upper = np.add.reduceat(free, halves, dtype=np.intp).reshape(-1, 2).T
    q_lower = np.add.reduceat(freeable, halves, dtype=np.intp)[0::2]
    upper_free = f_upper == low_c
    lower_all = (q_lower == low_c) & (a_c - low_c >= z.start)
    lower_free = f_lower == low_c
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
    if not n_free:
        return out
    src = lru_pfns[:n_free]
    # the migratetypes of the pageblocks holding them (ascending: a bisection per block)
    blocks = np.arange(int(src[0]) >> PAGEBLOCK_ORDER, (int(src[-1]) >> PAGEBLOCK_ORDER) + 2)
    held = np.diff(np.searchsorted(src, blocks << PAGEBLOCK_ORDER)) > 0
    mts = mem.pb_mt[blocks[:-1][held]]
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
    drained_at = np.full(len(ts), _NEVER, dtype=np.int64)
    if len(moments):
        soon = d < len(moments)
        drained_at[soon] = moments[d[soon]]
    # the scan follows the frees of every tick before it
    out[:] = is_src & (drained_at > i0[ts])
    return out


def _drains(count: int, high: int, batch: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """When n frees onto a pcp list (count pages on it before) drain it: the number of
    frees after which each drain happens, and the pages drained by then (cumulative), as
    in Memory._pcp_add_bulk()."""
    moments, sizes, _ = pcp_drains(count, high, batch, n)
    return moments, np.cumsum(sizes)


def _free_takes48(free: _FreeScanner, f: np.ndarray):
    """What the free-scanner runs took: the heads (in isolation order: one stretch of the
    heads in scan order), and their pages in the order compaction_alloc() hands them out:
    run by run, each run's pages in descending pfn order of isolation (map_pages()
    list_add()s every subpage in turn)."""
    if not len(f):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    g0, g1 = f[:, 2], f[:, 4]
    heads = free.pfn_np[g0[0] : g1[-1]]
    sizes = np.left_shift(1, free.order_np[g0[0] : g1[-1]])
    pages = ranges(heads, sizes)  # in isolation order
    per_run = free.cum[g1] - free.cum[g0]
    rend = np.cumsum(per_run)
    # page q of run r is the one (rend[r] - 1) - (q - rstart[r]) in isolation order
    return heads, pages[np.repeat(2 * rend - per_run - 1, per_run) - np.arange(len(pages))]
