"""Physical memory: page arrays, pageblocks, zones and the buddy allocator.

Per pfn the engine keeps 7 bytes: kind (u8), flags (u8), aux (u8: owner driver id, or the
order and list of a free head, or a compound order) and token (u32: the content token
that travels with a page on migration, or the free-list slot of a free head). Hot paths
index them through memoryviews, which is about twice as fast as numpy scalar indexing.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from .arrays import ranges
from .constants import (
    F_BUDDY,
    F_LRU,
    F_MOVABLE,
    FALLBACKS,
    K_DRIVER,
    K_FREE,
    K_HOLE,
    K_PCP,
    MAX_ORDER,
    MIGRATE_CMA,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_PCPTYPES,
    MIGRATE_TYPES,
    PAGEBLOCK_NR_PAGES,
    PAGEBLOCK_ORDER,
)
from .freelist import FreeList

# up to this many pages the pcp lists take them in a Python loop
PCP_LOOP_MAX = 96
# owed frees are replayed at the latest when this many are waiting: a replay's
# temporaries take a few tens of bytes per page of the max-order blocks it covers
PENDING_MAX = 1 << 14


def list_code(order: int, mt: int) -> int:
    return order | (mt << 4)


class Zone:
    """One zone: its span, free area, pcp list, watermarks and compaction state (§2.1)."""

    def __init__(self, index: int, name: str, start: int, end: int) -> None:
        self.index = index
        self.name = name
        self.start = start
        self.end = end
        self.present = 0
        self.free_area = [
            [FreeList(list_code(o, mt)) for mt in range(MIGRATE_TYPES)] for o in range(MAX_ORDER)
        ]
        self.nr_free_pages = 0  # NR_FREE_PAGES: buddy pages only, not pcp
        self.wmark_min = 0
        self.wmark_low = 0
        self.wmark_high = 0
        # pcp (§2.16): one list per PCP migratetype; head = left end.
        self.pcp_enabled = True
        self.pcp_high = 186
        self.pcp_batch = 31
        self.pcp_lists: list[deque[int]] = [deque() for _ in range(MIGRATE_PCPTYPES)]
        self.pcp_count = 0
        # compaction state (§2.1), all start at 0 and are range-checked on use
        self.compact_cached_migrate_pfn = [0, 0]
        self.compact_cached_free_pfn = 0
        self.compact_init_migrate_pfn = 0
        self.compact_init_free_pfn = 0
        self.compact_blockskip_flush = False
        self.compact_considered = 0
        self.compact_defer_shift = 0
        self.compact_order_failed = 0

    @property
    def spanned(self) -> int:
        return self.end - self.start

    def nr_free(self, order: int) -> int:
        return sum(fl.count for fl in self.free_area[order])


def pcp_drain_plan(avail: list[int], count: int) -> list[tuple[int, int]]:
    """The order free_pcppages_bulk() takes `count` pages from pcp lists holding avail[mt]
    pages: (list, how many from its tail) in turn. Round-robin from the list after 0;
    batch_free grows by one per list looked at (empty ones too) and carries over, so
    fuller lists give more; when only one list is left it gives all that remains."""
    avail = list(avail)
    plan: list[tuple[int, int]] = []
    mt = 0
    batch_free = 0
    while count:
        while True:
            batch_free += 1
            mt = (mt + 1) % MIGRATE_PCPTYPES
            if avail[mt]:
                break
        if batch_free == MIGRATE_PCPTYPES:
            batch_free = count
        t = min(count, batch_free, avail[mt])
        plan.append((mt, t))
        avail[mt] -= t
        count -= t
        batch_free -= t
    return plan


def pcp_drains(count: int, high: int, batch: int, n: int) -> tuple[np.ndarray, np.ndarray, int]:
    """When n frees onto pcp lists holding `count` pages drain them (free_pages() drains
    `batch` pages, or all, each time the count reaches `high`): the number of frees after
    which each drain happens, how many pages each takes (int64 arrays), and the count at
    the end."""
    moments: list[int] = []
    sizes: list[int] = []
    i = 0
    c = count
    last_c = -1
    steady = None
    while True:
        step = max(high - c, 1)  # frees until the count reaches high
        if i + step > n:
            break
        if c == last_c:
            # the count is back where the last drain left it: every further drain comes
            # `step` frees later and takes as much
            k = (n - i) // step
            steady = (np.arange(i + step, i + step * k + 1, step), np.full(k, sizes[-1]))
            i += step * k
            break
        last_c = c
        i += step
        c += step
        moments.append(i)
        sizes.append(min(batch, c))
        c -= sizes[-1]
    at, size = np.array(moments, dtype=np.int64), np.array(sizes, dtype=np.int64)
    if steady is not None:
        at, size = np.concatenate((at, steady[0])), np.concatenate((size, steady[1]))
    return at, size, c + n - i


def _repeat2(b: np.ndarray) -> np.ndarray:
    """np.repeat(b, 2) for a boolean array, as one widening multiply (~6x faster)."""
    return (b.view(np.uint8).astype(np.uint16) * 257).view(np.bool_)


class Memory:
    """Page arrays plus zones. The buddy operations follow mm/page_alloc.c."""

    def __init__(self, npages: int, zones: list[tuple[str, int, int]], profile: str) -> None:
        self.npages = npages
        self.profile = profile
        self.v6 = profile != "v4.8"
        self.kind = np.full(npages, K_HOLE, dtype=np.uint8)
        self.flags = np.zeros(npages, dtype=np.uint8)
        self.aux = np.zeros(npages, dtype=np.uint8)
        self.token = np.zeros(npages, dtype=np.uint32)
        nblocks = (npages + PAGEBLOCK_NR_PAGES - 1) // PAGEBLOCK_NR_PAGES
        self.pb_mt = np.full(nblocks, MIGRATE_MOVABLE, dtype=np.uint8)
        self.pb_skip = np.zeros(nblocks, dtype=np.bool_)
        self.zones = [Zone(i, name, s, e) for i, (name, s, e) in enumerate(zones)]
        self.zone_of_block = np.zeros(nblocks, dtype=np.uint8)
        for z in self.zones:
            self.zone_of_block[
                z.start // PAGEBLOCK_NR_PAGES : (z.end + PAGEBLOCK_NR_PAGES - 1)
                // PAGEBLOCK_NR_PAGES
            ] = z.index
        self.changed: set[int] | None = None  # pfns whose display state may have changed
        # Bulk frees during a full compaction hand their pages to the buddy allocator
        # later, in one replay (settle()), since a replay costs the same for 100 pages as
        # for 100,000. Until then the pages are K_FREE and counted in NR_FREE_PAGES but
        # their merges are owed: whatever reads buddy flags or free lists settles first.
        self.defer_frees = False
        self.pending: list[tuple[int, np.ndarray, np.ndarray]] = []
        self.pending_lo = 0
        self.pending_hi = -1
        self.pending_count = 0
        # 6.18 compaction_capture(): (zone index, order, request migratetype) while a direct
        # compaction runs; a freed block reaching exactly that order is handed to it
        self.capture: tuple[int, int, int] | None = None
        self.captured = -1
        self.extfrag_events: list[tuple] = []
        # Kernel.trace, for events that must be traced the moment they happen (a capture)
        self.trace_hook = None
        self._views()

    # memoryviews are not picklable; snapshots rebuild them.
    def _views(self) -> None:
        self.k = memoryview(self.kind)
        self.f = memoryview(self.flags)
        self.a = memoryview(self.aux)
        self.t = memoryview(self.token)
        self.pbm = memoryview(self.pb_mt)
        self.zob = memoryview(self.zone_of_block)

    def __getstate__(self) -> dict:
        self.settle()
        d = self.__dict__.copy()
        for key in ("k", "f", "a", "t", "pbm", "zob"):
            d.pop(key)
        d["zones"] = [_zone_state(z) for z in self.zones]
        return d

    def __setstate__(self, d: dict) -> None:
        d["zones"] = [_zone_from_state(s) for s in d["zones"]]
        # snapshots from before owed frees existed (same engine version, same results)
        defaults = {"defer_frees": False, "pending": [], "pending_lo": 0, "pending_hi": -1}
        for key, value in {**defaults, "pending_count": 0}.items():
            d.setdefault(key, value)
        self.__dict__.update(d)
        self._views()

    # -- helpers -----------------------------------------------------------
    def zone_of(self, pfn: int) -> Zone:
        return self.zones[self.zone_of_block[pfn >> PAGEBLOCK_ORDER]]

    def block_mt(self, pfn: int) -> int:
        return int(self.pb_mt[pfn >> PAGEBLOCK_ORDER])

    def set_block_mt(self, pfn: int, mt: int) -> None:
        self.pb_mt[pfn >> PAGEBLOCK_ORDER] = mt

    def touch(self, pfn: int, n: int = 1) -> None:
        if self.changed is not None:
            if n == 1:
                self.changed.add(pfn)
            else:
                self.changed.update(range(pfn, pfn + n))

    def is_buddy_head(self, pfn: int) -> bool:
        if self.pending:
            self.settle()
        return bool(self.f[pfn] & F_BUDDY)

    def buddy_order(self, pfn: int) -> int:
        if self.pending:
            self.settle()
        return self.a[pfn] & 0xF

    def buddy_mt(self, pfn: int) -> int:
        if self.pending:
            self.settle()
        return self.a[pfn] >> 4

    # -- free lists ----------------------------------------------------------
    def _add_to_list(self, z: Zone, pfn: int, order: int, mt: int, to_tail: bool) -> None:
        if self.pending:
            self.settle()
        self.f[pfn] = F_BUDDY
        self.a[pfn] = list_code(order, mt)
        z.free_area[order][mt].add(pfn, to_tail, self.t)
        z.nr_free_pages += 1 << order

    def _del_from_list(self, z: Zone, pfn: int) -> tuple[int, int]:
        if self.pending:
            self.settle()
        code = self.a[pfn]
        order, mt = code & 0xF, code >> 4
        self.f[pfn] = 0
        z.free_area[order][mt].removed()
        z.nr_free_pages -= 1 << order
        return order, mt

    def unlist_heads(self, z: Zone, codes: np.ndarray) -> None:
        """The lazy list removals of free heads whose PageBuddy the caller has cleared,
        given their aux codes (order | migratetype << 4): counted per list at once."""
        if not len(codes):
            return
        lo, hi = int(codes.min()), int(codes.max())
        if hi - lo < 8:
            # (usually a few orders of one migratetype: a count per code beats bincount,
            # which makes an intp copy and a min/max pass first)
            counts = [(c, int(np.count_nonzero(codes == c))) for c in range(lo, hi + 1)]
        else:
            per_list = np.bincount(codes)
            counts = zip(range(len(per_list)), per_list.tolist(), strict=True)
        for code, n in counts:
            if n:
                z.free_area[code & 0xF][code >> 4].removed_n(n)

    def free_list(self, z: Zone, order: int, mt: int) -> list[int]:
        if self.pending:
            self.settle()
        return list(z.free_area[order][mt].walk(self.f, self.a, self.t))

    def list_empty(self, z: Zone, order: int, mt: int) -> bool:
        if self.pending:
            self.settle()
        return z.free_area[order][mt].count == 0

    # -- freeing (§3.2) ------------------------------------------------------
    def free_one_page(self, pfn: int, order: int, mt: int, to_tail: bool = False) -> int:
        """__free_one_page(): merge with free buddies, then put the block on a list.

        The pages must already have kind K_FREE and no flags. Returns the head pfn.
        """
        if self.pending:
            self.settle()
        z = self.zones[self.zob[pfn >> PAGEBLOCK_ORDER]]
        f, a = self.f, self.a
        zstart, zend = z.start, z.end
        max_order = MAX_ORDER - 1
        capc = self.capture
        while order < max_order:
            if (
                capc is not None
                and order == capc[1]
                and z.index == capc[0]
                and self._capture(pfn, order, mt, capc[2])
            ):
                return pfn  # the captured block never reaches the free lists
            buddy = pfn ^ (1 << order)
            if (
                buddy < zstart
                or buddy >= zend
                or not (f[buddy] & F_BUDDY)
                or (a[buddy] & 0xF) != order
            ):
                break
            if order >= PAGEBLOCK_ORDER:
                bmt = a[buddy] >> 4
                if not self.v6:
                    # 4.8: never merge an isolated pageblock with a non-isolated one
                    if (mt == MIGRATE_ISOLATE) != (bmt == MIGRATE_ISOLATE):
                        break
                elif bmt != mt:
                    if bmt >= MIGRATE_PCPTYPES or mt >= MIGRATE_PCPTYPES:
                        break
                    # 6.18: mergeable types; the buddy's block takes the freed type
                    self.pb_mt[
                        buddy >> PAGEBLOCK_ORDER : (buddy + (1 << order)) >> PAGEBLOCK_ORDER
                    ] = mt
            # inline _del_from_list(): this loop is the hottest code of a compaction
            f[buddy] = 0
            z.free_area[order][a[buddy] >> 4].removed()
            z.nr_free_pages -= 1 << order
            pfn &= buddy
            order += 1
        if not to_tail and order < max_order - 1:
            # "merge likely": the next-higher buddy is free, so queue this block at the tail
            # so it is not split before the buddy frees up (4.8 needs order < MAX_ORDER-2).
            combined = pfn & (pfn ^ (1 << order))
            higher_buddy = combined ^ (1 << (order + 1))
            if (
                zstart <= higher_buddy < zend
                and f[higher_buddy] & F_BUDDY
                and (a[higher_buddy] & 0xF) == order + 1
            ):
                to_tail = True
        f[pfn] = F_BUDDY
        a[pfn] = order | (mt << 4)
        z.free_area[order][mt].add(pfn, to_tail, self.t)
        z.nr_free_pages += 1 << order
        return pfn

    def _extfrag(self, pfn: int, order: int, current_order: int, start_mt: int, fmt: int) -> None:
        """Queue an mm_page_alloc_extfrag event. change_ownership is what the tracepoint
        reads when it fires: whether pfn's pageblock now has the allocation's type (§5)."""
        change = int(self.pb_mt[pfn >> PAGEBLOCK_ORDER]) == start_mt
        self.extfrag_events.append((pfn, order, current_order, start_mt, fmt, change))

    def _capture(self, pfn: int, order: int, mt: int, want_mt: int) -> bool:
        """compaction_capture() (§3.2): not CMA/ISOLATE, and a MOVABLE block below
        pageblock order only for a MOVABLE request."""
        if mt in (MIGRATE_CMA, MIGRATE_ISOLATE):
            return False
        if order < PAGEBLOCK_ORDER and mt == MIGRATE_MOVABLE and want_mt != MIGRATE_MOVABLE:
            return False
        if mt != want_mt and self.trace_hook is not None:
            # compaction_capture() traces a capture from another type's block right away
            change = want_mt == self.pb_mt[pfn >> PAGEBLOCK_ORDER]
            self.trace_hook(
                "mm_page_alloc_extfrag", extfrag_text(pfn, order, order, want_mt, mt, change, True)
            )
        self.captured = pfn
        self.capture = None
        n = 1 << order
        self.kind[pfn : pfn + n] = K_FREE
        return True

    def free_pages(self, pfn: int, order: int, use_pcp: bool = True) -> None:
        """Free 2^order pages at pfn (already owned by nobody). Order-0 frees go to the pcp."""
        n = 1 << order
        if n == 1:
            self.k[pfn] = K_FREE
            self.f[pfn] = 0
            self.a[pfn] = 0
            self.t[pfn] = 0
            if self.changed is not None:
                self.changed.add(pfn)
        else:
            self.kind[pfn : pfn + n] = K_FREE
            self.flags[pfn : pfn + n] = 0
            self.aux[pfn : pfn + n] = 0
            self.token[pfn : pfn + n] = 0
            self.touch(pfn, n)
        z = self.zones[self.zob[pfn >> PAGEBLOCK_ORDER]]
        mt = self.pbm[pfn >> PAGEBLOCK_ORDER]
        if order == 0 and use_pcp and z.pcp_enabled and mt < MIGRATE_PCPTYPES:
            self.k[pfn] = K_PCP
            if self.defer_frees and self.capture is None:
                # a single free in a full compaction (e.g. a driver page): a drain joins
                # the owed merges rather than settling them first
                out, out_mt = self._pcp_add_loop(z, [pfn], [mt])
                if len(out):
                    self._owe(z, out, out_mt)
                return
            # free_hot_cold_page(): hot pages go on the head of the pcp list
            z.pcp_lists[mt].appendleft(pfn)
            z.pcp_count += 1
            if z.pcp_count >= z.pcp_high:
                self.free_pcppages_bulk(z, z.pcp_batch)
            return
        self.free_one_page(pfn, order, mt)

    def free_pcppages_bulk(self, z: Zone, count: int) -> None:
        """free_pcppages_bulk(): round-robin over the pcp lists, oldest (tail) pages first."""
        lists = z.pcp_lists
        k = self.k
        changed = self.changed
        free_one_page = self.free_one_page
        for mt, t in pcp_drain_plan([len(lst) for lst in lists], min(count, z.pcp_count)):
            lst = lists[mt]
            for _ in range(t):
                pfn = lst.pop()
                z.pcp_count -= 1
                k[pfn] = K_FREE
                if changed is not None:
                    changed.add(pfn)
                # the list a page sits on is its migratetype at free time (pcppage mt)
                free_one_page(pfn, 0, mt)

    def drain_pcp(self, z: Zone) -> None:
        if z.pcp_count:
            self.free_pcppages_bulk(z, z.pcp_count)

    # -- freeing many pages at once ----------------------------------------------------
    def free_pages_bulk(self, pfns) -> None:
        """free_pages(pfn, 0) for each pfn in turn, computed in bulk.

        A compaction frees every migrated page through the pcp lists into the buddy
        allocator; done page by page in Python that costs more than everything else. The
        result here is the same, entry for entry on every free list: the pcp drains are
        replayed per drain (a few integers each), and the buddy merges of the drained
        pages from what order-0 frees into a fully merged allocator must produce (see
        _replay_frees). Cases the replay does not model fall back to the page loop.
        """
        if not len(pfns):
            return
        if self.capture is not None:
            for p in pfns:
                self.free_pages(int(p), 0)
            return
        idx = np.asarray(pfns, dtype=np.intp)
        lo, hi = int(idx.min()), int(idx.max())
        # zones are ranges of pfns: all in one zone if the lowest and highest are
        z = self.zones[int(self.zone_of_block[lo >> PAGEBLOCK_ORDER])]
        # each page's migratetype; where every pageblock from the lowest to the highest has
        # the same one (a compaction frees its way along movable blocks), that one alone
        span = self.pb_mt[lo >> PAGEBLOCK_ORDER : (hi >> PAGEBLOCK_ORDER) + 1]
        mt_lo, mt_hi = int(span.min()), int(span.max())
        mts = self.pb_mt[idx >> PAGEBLOCK_ORDER] if mt_lo != mt_hi else None
        if (
            not z.pcp_enabled
            or z.start > lo
            or hi >= z.end
            or (mt_lo >= MIGRATE_PCPTYPES if mts is None else (mts >= MIGRATE_PCPTYPES).any())
        ):
            for p in pfns:
                self.free_pages(int(p), 0)
            return
        out, out_mt = self._pcp_add_bulk(z, idx, mts, mt_lo)
        # these pages go on the pcp lists; those the drains took (old ones or these) are free
        self.kind[idx] = K_PCP
        self.kind[out] = K_FREE
        self.flags[idx] = 0
        self.aux[idx] = 0
        self.token[idx] = 0
        if self.changed is not None:
            self.changed.update(idx.tolist())
        if len(out):
            self._owe(z, out, out_mt, kinds_set=True)

    def _owe(self, z: Zone, out: np.ndarray, out_mt: np.ndarray, kinds_set: bool = False) -> None:
        """Hand pages drained from the pcp lists to the buddy allocator: now, or as owed
        merges while defer_frees is set. kinds_set: the caller made them K_FREE already."""
        if not kinds_set:
            self.kind[out] = K_FREE
        if self.changed is not None:
            self.changed.update(out.tolist())  # drained pcp pages show as free now
        z.nr_free_pages += len(out)
        if self.pending and self.pending[-1][0] != z.index:
            self.settle()  # one zone at a time keeps the replay simple
        self.pending.append((z.index, out, out_mt))
        lo, hi = int(out.min()), int(out.max())
        if len(self.pending) == 1:
            self.pending_lo, self.pending_hi = lo, hi
        else:
            self.pending_lo, self.pending_hi = min(lo, self.pending_lo), max(hi, self.pending_hi)
        self.pending_count += len(out)
        if not self.defer_frees or self.pending_count > PENDING_MAX:
            self.settle()

    def settle(self) -> None:
        """Replay the owed buddy frees (see defer_frees)."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        self.pending_count = 0
        z = self.zones[pending[0][0]]
        # these frees happened before any capture that a direct compaction set up since
        capture, self.capture = self.capture, None
        try:
            if len(pending) == 1:
                self._replay_frees(z, pending[0][1], pending[0][2])
            else:
                self._replay_frees(
                    z,
                    np.concatenate([p for _, p, _ in pending]),
                    np.concatenate([m for _, _, m in pending]),
                )
        finally:
            self.capture = capture

    def settle_around(self, low: int, end: int) -> None:
        """Settle if the owed frees could change buddy flags, lists or pageblock types in
        [low, end). Owed merges stay on their side of an edge of the range unless they
        make a free block that spans it (see _may_merge_across)."""
        if not self.pending:
            return
        lo, hi = self.pending_lo, self.pending_hi
        if (
            (hi >= low and lo < end)
            or (lo < low and self._may_merge_across(low))
            or (hi >= end and self._may_merge_across(end))
        ):
            self.settle()

    def _may_merge_across(self, edge: int) -> bool:
        """Whether a free block could span pfn `edge`: the smallest aligned block holding
        edge-1 and edge is no bigger than max order and all of it is free (K_FREE: in the
        buddy allocator, or owed to it)."""
        if edge <= 0 or edge >= self.npages:
            return False
        order = (edge ^ (edge - 1)).bit_length()
        if order >= MAX_ORDER:
            return False
        start = edge & ~((1 << order) - 1)
        return bool((self.kind[start : start + (1 << order)] == K_FREE).all())

    def _pcp_add_bulk(self, z: Zone, idx: np.ndarray, mts: np.ndarray | None, mt: int = 0):
        """Put idx on the pcp lists in turn, draining as free_pages() would; each page
        has its migratetype in mts, or every one has mt if mts is None.

        Returns the pages the drains hand to the buddy allocator, in order, and the
        list each came from. A pcp list is a FIFO here (oldest first): pages go on the
        head and drains take the tail."""
        n = len(idx)
        if n <= PCP_LOOP_MAX:
            return self._pcp_add_loop(z, idx.tolist(), [mt] * n if mts is None else mts.tolist())
        high, batch = z.pcp_high, z.pcp_batch
        # When the drains happen and how much each takes depends on the counts alone.
        moments, sizes, z.pcp_count = pcp_drains(z.pcp_count, high, batch, n)
        lists = z.pcp_lists
        if mts is None:  # the usual case: every page of one migratetype
            new = [idx if m == mt else idx[:0] for m in range(MIGRATE_PCPTYPES)]
        else:
            new = [idx[mts == m] for m in range(MIGRATE_PCPTYPES)]
        if not len(moments):
            for m in range(MIGRATE_PCPTYPES):
                lists[m].extendleft(new[m].tolist())
            return idx[:0], np.zeros(0, dtype=np.uint8)
        old_len = [len(lst) for lst in lists]
        used = [m for m in range(MIGRATE_PCPTYPES) if old_len[m] or len(new[m])]
        if len(used) == 1:
            # one list: the drains take its oldest pages, in order
            segments = [(used[0], 0, int(sizes.sum()))]
        else:
            if mts is None:
                mts = np.full(n, mt, dtype=np.uint8)
            seen = np.cumsum(mts[:, None] == np.arange(MIGRATE_PCPTYPES, dtype=mts.dtype), axis=0)
            seen_at = seen[moments - 1].tolist()
            segments = self._pcp_drain_segments(old_len, seen_at, sizes.tolist())
        taken = [0] * MIGRATE_PCPTYPES
        for m, _, b in segments:
            taken[m] = max(taken[m], b)
        fifo = []
        for m in range(MIGRATE_PCPTYPES):
            old = np.fromiter(reversed(lists[m]), dtype=np.intp, count=old_len[m])
            fifo.append(np.concatenate((old, new[m])) if old_len[m] else new[m])
            lists[m] = deque(fifo[m][: taken[m] - 1 if taken[m] else None : -1].tolist())
        out = np.concatenate([fifo[m][a:b] for m, a, b in segments])
        out_mt = np.repeat(
            np.array([m for m, _, _ in segments], dtype=np.uint8),
            [b - a for _, a, b in segments],
        )
        return out, out_mt

    def _pcp_add_loop(self, z: Zone, pfns: list[int], mts: list[int]):
        """_pcp_add_bulk() page by page: cheaper than numpy for a few dozen pages."""
        lists = z.pcp_lists
        high, batch = z.pcp_high, z.pcp_batch
        c = z.pcp_count
        out: list[int] = []
        out_mt: list[int] = []
        for pfn, m in zip(pfns, mts, strict=True):
            lists[m].appendleft(pfn)
            c += 1
            if c < high:
                continue
            # free_pcppages_bulk(), as in the page loop
            for mt, t in pcp_drain_plan([len(lst) for lst in lists], min(batch, c)):
                lst = lists[mt]
                out.extend([lst.pop() for _ in range(t)])
                out_mt.extend([mt] * t)
                c -= t
        z.pcp_count = c
        return np.array(out, dtype=np.intp), np.array(out_mt, dtype=np.uint8)

    @staticmethod
    def _pcp_drain_segments(
        old_len: list[int], seen_at: list[list[int]], sizes: list[int]
    ) -> list[tuple[int, int, int]]:
        """free_pcppages_bulk() for each drain: round-robin from the list after 0, a
        batch_free that grows over empty lists and carries over, oldest pages first.
        Returns (list, first, end) ranges of each list's FIFO, in the order drained."""
        segments: list[tuple[int, int, int]] = []
        taken = [0] * MIGRATE_PCPTYPES
        for seen, count in zip(seen_at, sizes, strict=True):
            avail = [old_len[m] + seen[m] - taken[m] for m in range(MIGRATE_PCPTYPES)]
            for mt, t in pcp_drain_plan(avail, count):
                if segments and segments[-1][0] == mt and segments[-1][2] == taken[mt]:
                    segments[-1] = (mt, segments[-1][1], taken[mt] + t)
                else:
                    segments.append((mt, taken[mt], taken[mt] + t))
                taken[mt] += t
        return segments

    def _replay_frees(self, z: Zone, pfns: np.ndarray, mts: np.ndarray) -> None:
        """free_one_page(pfns[j], 0, mts[j]) for j in turn, in bulk.

        Frees only ever merge, so from a fully merged start the blocks at the end are the
        largest aligned blocks (up to MAX_ORDER-1) whose pages are all free. Each new one
        went on its list at the moment its last page arrived (time T), by the free of
        that page, with that page's migratetype; at the tail if its parent's buddy was a
        free block of order+1 by then ("merge likely"), else at the head. Blocks that were
        free before and stayed whole keep their places. List order then follows: new
        head entries newest first, the survivors, new tail entries oldest first.
        Falls back to the page loop where the kernel would not merge freely (isolated or
        other non-mergeable pageblock types near the frees, or a start that is not fully
        merged).
        """
        m = len(pfns)
        size = 1 << (MAX_ORDER - 1)
        r0 = int(pfns.min()) >> (MAX_ORDER - 1)
        r1 = int(pfns.max()) >> (MAX_ORDER - 1)
        # The max-order blocks ("rows") to replay: those holding frees. A row without any
        # changes nothing, so where the frees are dense (a compaction frees pages all along
        # its way) every row from the first to the last will do, with plain pfns less the
        # first row's as offsets: no pass to find the rows. Rows that would need the page
        # loop are rarely among the spare ones; if they are, the rows are found after all.
        if (r1 - r0 + 1) * size <= 4 * m:
            if self._replay_rows(z, pfns, mts, np.arange(r0, r1 + 1), r0, r0 << (MAX_ORDER - 1)):
                return
        # each row holding frees, and each one's rank among them
        row_of = pfns >> (MAX_ORDER - 1)
        hit = np.zeros(r1 - r0 + 1, dtype=np.bool_)
        hit[row_of - r0] = True
        rows = np.flatnonzero(hit) + r0
        base0 = r0 << (MAX_ORDER - 1) if len(rows) == len(hit) else -1
        if not self._replay_rows(z, pfns, mts, rows, r0, base0, hit, row_of):
            # the caller already counted these pages in NR_FREE_PAGES
            z.nr_free_pages -= m
            for p, mt in zip(pfns.tolist(), mts.tolist(), strict=True):
                self.free_one_page(p, 0, mt)

    def _replay_rows(
        self,
        z: Zone,
        pfns: np.ndarray,
        mts: np.ndarray,
        rows: np.ndarray,
        r0: int,
        base0: int,
        hit: np.ndarray | None = None,
        row_of: np.ndarray | None = None,
    ) -> bool:
        """_replay_frees() over the given rows, or False (nothing done) if the kernel would
        not merge freely there. base0: the first row's first pfn if the rows have no gap,
        else -1 (then hit and row_of: the rows from r0 that hold frees, and each free's)."""
        m = len(pfns)
        size = 1 << (MAX_ORDER - 1)
        base = (rows << (MAX_ORDER - 1)).astype(np.intp)
        nfull = self.npages >> (MAX_ORDER - 1)
        if rows[-1] < nfull and base[0] >= z.start and base[-1] + size <= z.end:
            # whole max-order blocks of this zone: rows of the page arrays, copied as such
            if base0 >= 0:
                flags = self.flags[base0 : base0 + len(rows) * size]
            else:
                flags = self.flags[: nfull * size].reshape(nfull, size)[rows].ravel()
            outside = None
        else:
            pages = (base[:, None] + np.arange(size, dtype=np.intp)).ravel()
            outside = (pages < z.start) | (pages >= z.end)
            flags = self.flags[np.minimum(pages, self.npages - 1)]
            flags[outside] = 0  # another zone's blocks, or past the end of memory

        def pfn_at(local: np.ndarray) -> np.ndarray:
            if base0 >= 0:
                return local + base0
            return base[local >> (MAX_ORDER - 1)] + (local & (size - 1))

        heads_local = np.flatnonzero((flags & F_BUDDY) != 0)
        head_pfn = pfn_at(heads_local)
        codes = self.aux[head_pfn]
        horder = (codes & 0xF).astype(np.intp)
        hmt = codes >> 4
        if (hmt >= MIGRATE_PCPTYPES).any():
            return False
        inf = np.int32(m + 1)
        # when each block of each order became wholly free, order after order in one array
        # (order 0 first: tm; then max-order's parent, never free); offs: where each starts
        sizes = [len(flags) >> o for o in range(MAX_ORDER)] + [2]
        offs = np.cumsum([0, *sizes])
        when_free = np.empty(int(offs[-1]), dtype=np.int32)
        levels = [when_free[offs[o] : offs[o + 1]] for o in range(MAX_ORDER + 1)]
        tm = levels[0]
        tm.fill(inf)
        levels[MAX_ORDER].fill(inf)
        # free from the start: the pages of buddy blocks (not every K_FREE page: a caller
        # of free_one_page() sets its block K_FREE before the settle() there)
        if len(head_pfn):
            # (mostly single pages: those directly, the bigger blocks page by page)
            one = horder == 0
            tm[heads_local[one]] = 0
            big = np.flatnonzero(~one)
            if len(big):
                tm[ranges(heads_local[big], 1 << horder[big])] = 0
        if outside is not None:
            tm[outside] = inf
        # where each freed page sits in the rows: its row's rank, then its offset
        if base0 >= 0:
            pos = pfns - base0
        else:
            at_row = np.zeros(len(hit), dtype=np.intp)
            at_row[rows - r0] = np.arange(0, len(rows) * size, size, dtype=np.intp)
            pos = at_row[row_of - r0] | (pfns & (size - 1))
        tm[pos] = np.arange(1, m + 1, dtype=np.int32)
        for o in range(1, MAX_ORDER):
            np.maximum(levels[o - 1][0::2], levels[o - 1][1::2], out=levels[o])
        full = when_free < inf
        # (an entry's parent is offs[o + 1] + i // 2)
        if len(head_pfn):
            # (a max-order block has no parent; it cannot be in a row with frees anyway)
            low_h = horder < MAX_ORDER - 1
            parent_h = offs[np.minimum(horder + 1, MAX_ORDER - 1)] + (heads_local >> (horder + 1))
            when_parent = when_free[np.where(low_h, parent_h, 0)]
            # a start that is not fully merged (a block whose parent was wholly free
            # already: two free buddies of one order) is left to the page loop; nothing
            # has changed yet
            if (low_h & (when_parent == 0)).any():
                return False
            # old blocks merged into something bigger leave their lists
            gone = low_h & (when_parent < inf)
            if gone.any():
                self.flags[head_pfn[gone]] = 0
                self.unlist_heads(z, codes[gone])
        # the blocks on the lists at the end that were not there at the start: wholly free,
        # parent not, and not free from the start
        # (0 < t < inf as one unsigned compare: t - 1 < m)
        final = np.less((when_free[: offs[MAX_ORDER]] - 1).view(np.uint32), m)
        # (the parents of the blocks of orders 0 to MAX_ORDER-2, in order: the blocks of
        # orders 1 to MAX_ORDER-1, each twice)
        final[: offs[MAX_ORDER - 1]] &= _repeat2(~full[offs[1] : offs[MAX_ORDER]])
        new = np.flatnonzero(final)
        o = np.searchsorted(offs, new, side="right") - 1
        i = new - offs[o]  # index among the blocks of its order
        when = when_free[new]
        hp = pfn_at(i << o)
        nmt = mts[when - 1]
        # "merge likely": queued at the tail when the parent's buddy was already free
        low = o < MAX_ORDER - 2
        buddy_of_parent = offs[np.minimum(o + 1, MAX_ORDER - 1)] + ((i >> 1) ^ 1)
        tail = low & (when_free[np.where(low, buddy_of_parent, 0)] < when)
        if self.v6:
            top = np.flatnonzero(o == MAX_ORDER - 1)
            if len(top):
                # the half freed earlier took the freeing page's type when they merged
                b = i[top]
                lo = offs[MAX_ORDER - 2] + 2 * b
                q = lo + (when_free[lo] == when[top])  # the half without the last page
                qt = when_free[q]
                qpfn = pfn_at((q - offs[MAX_ORDER - 2]) << (MAX_ORDER - 2))
                qmt = np.where(qt > 0, mts[np.maximum(qt, 1) - 1], self.aux[qpfn] >> 4)
                diff = qmt != nmt[top]
                self.pb_mt[qpfn[diff] >> PAGEBLOCK_ORDER] = nmt[top][diff]
        code = o.astype(np.uint8) | (nmt << 4)
        self.flags[hp] = F_BUDDY
        self.aux[hp] = code
        # each list takes its new entries in the order they arrived: by list, then arrival
        # (no two alike: a free completes one block at most), with each entry's index
        # packed below (fewer than MAX_PAGES entries): numpy sorts values ~2x faster than it
        # argsorts them
        lists = (code.astype(np.int64) << 1) | tail
        packed = ((lists * (m + 2) + when) << 24) | np.arange(len(lists))
        packed.sort()
        srt = packed & ((1 << 24) - 1)
        lists, hp = lists[srt], hp[srt]
        cuts = (np.flatnonzero(lists[1:] != lists[:-1]) + 1).tolist()
        firsts = [0, *cuts]
        hp32 = hp.astype(np.uint32)
        slot0 = [
            z.free_area[(c >> 1) & 0xF][c >> 5].append_raw(hp32[a:b], bool(c & 1))
            for a, b, c in zip(firsts, [*cuts, len(lists)], lists[firsts].tolist(), strict=True)
        ]
        # each entry's slot on its list's stack, in the token as FreeList.add() sets it
        group = np.zeros(len(hp), dtype=np.intp)
        group[cuts] = 1
        group = np.cumsum(group)
        slot = (
            np.asarray(slot0, dtype=np.int64)[group]
            + np.arange(len(hp))
            - np.asarray(firsts)[group]
        )
        self.token[hp] = (slot << 1) | (lists & 1)
        return True

    # -- allocation (§3.3, §3.4) ------------------------------------------------
    def expand(self, z: Zone, pfn: int, low: int, high: int, mt: int) -> None:
        """expand(): split, putting the upper half of each split on the free lists."""
        size = 1 << high
        while high > low:
            high -= 1
            size >>= 1
            self._add_to_list(z, pfn + size, high, mt, False)

    def rmqueue_smallest(self, z: Zone, order: int, mt: int) -> int:
        if self.pending:
            self.settle()
        for o in range(order, MAX_ORDER):
            fl = z.free_area[o][mt]
            if fl.count:
                pfn = fl.pop_front(self.f, self.a, self.t)
                self._del_from_list(z, pfn)
                self.expand(z, pfn, order, o, mt)
                return pfn
        return -1

    def _can_steal(self, order: int, start_mt: int) -> bool:
        # can_steal_fallback() / should_try_claim_block()
        if order >= PAGEBLOCK_ORDER:
            return True
        if order >= PAGEBLOCK_ORDER // 2 or start_mt != MIGRATE_MOVABLE:
            return True
        return False

    def find_suitable_fallback(self, z: Zone, order: int, mt: int, only_stealable: bool) -> int:
        if self.pending:
            self.settle()
        for fmt in FALLBACKS.get(mt, ()):
            if z.free_area[order][fmt].count == 0:
                continue
            if self._can_steal(order, mt):
                return fmt
            if not only_stealable:
                return fmt
        return -1

    def move_freepages_block(self, z: Zone, pfn: int, new_mt: int) -> int:
        """Move the free blocks of pfn's pageblock to new_mt's lists; returns pages moved."""
        if self.pending:
            self.settle()
        start = max(pfn & ~(PAGEBLOCK_NR_PAGES - 1), z.start)
        end = min(start + PAGEBLOCK_NR_PAGES, z.end)
        moved = 0
        p = start
        while p < end:
            if self.f[p] & F_BUDDY:
                # 4.8 move_freepages(): list_move() to the head; 6.18 move_to_free_list():
                # list_move_tail()
                order, _ = self._del_from_list(z, p)
                self._add_to_list(z, p, order, new_mt, self.v6)
                moved += 1 << order
                p += 1 << order
            else:
                p += 1
        return moved

    def rmqueue_fallback(self, z: Zone, order: int, start_mt: int) -> int:
        """4.8 __rmqueue_fallback(); 6.18 __rmqueue_claim() then __rmqueue_steal()."""
        if self.pending:
            self.settle()
        if self.v6:
            pfn = self._rmqueue_claim(z, order, start_mt)
            return pfn if pfn >= 0 else self._rmqueue_steal(z, order, start_mt)
        for current_order in range(MAX_ORDER - 1, order - 1, -1):
            fmt = self.find_suitable_fallback(z, current_order, start_mt, False)
            if fmt == -1:
                continue
            pfn = z.free_area[current_order][fmt].first(self.f, self.a, self.t)
            if self._can_steal(current_order, start_mt):
                self._steal_48(z, pfn, current_order, start_mt)
            self._del_from_list(z, pfn)
            self.expand(z, pfn, order, current_order, start_mt)
            self._extfrag(pfn, order, current_order, start_mt, fmt)
            return pfn
        return -1

    def _steal_48(self, z: Zone, pfn: int, current_order: int, start_mt: int) -> bool:
        if current_order >= PAGEBLOCK_ORDER:
            self._change_range(pfn, current_order, start_mt)
            return True
        if self.move_freepages_block(z, pfn, start_mt) >= PAGEBLOCK_NR_PAGES // 2:
            self.set_block_mt(pfn, start_mt)
            return True
        return False

    def _change_range(self, pfn: int, order: int, mt: int) -> None:
        first = pfn >> PAGEBLOCK_ORDER
        self.pb_mt[first : first + max(1, 1 << (order - PAGEBLOCK_ORDER))] = mt

    def _rmqueue_claim(self, z: Zone, order: int, start_mt: int) -> int:
        for current_order in range(MAX_ORDER - 1, order - 1, -1):
            fmt = self.find_suitable_fallback(z, current_order, start_mt, False)
            if fmt == -1:
                continue
            if not self._can_steal(current_order, start_mt):
                return -1  # orders too low to claim: stop (-2 in the kernel)
            pfn = z.free_area[current_order][fmt].first(self.f, self.a, self.t)
            if current_order >= PAGEBLOCK_ORDER:
                self._change_range(pfn, current_order, start_mt)
                self._del_from_list(z, pfn)
                self.expand(z, pfn, order, current_order, start_mt)
                self._extfrag(pfn, order, current_order, start_mt, fmt)
                return pfn
            start = max(pfn & ~(PAGEBLOCK_NR_PAGES - 1), z.start)
            kinds = self.kind[start : start + PAGEBLOCK_NR_PAGES]
            flags = self.flags[start : start + PAGEBLOCK_NR_PAGES]
            free_pages = int(np.count_nonzero(kinds == K_FREE))
            # prep_move_freepages_block(): PageLRU(page) || page_has_movable_ops(page), so
            # pinned LRU pages count and LRU pages isolated right now do not
            movable = int(
                np.count_nonzero(
                    ((flags & F_LRU) != 0) | ((kinds == K_DRIVER) & (flags & F_MOVABLE != 0))
                )
            )
            if start_mt == MIGRATE_MOVABLE:
                alike = movable
            elif fmt == MIGRATE_MOVABLE:
                alike = PAGEBLOCK_NR_PAGES - free_pages - movable
            else:
                alike = 0
            if free_pages + alike >= PAGEBLOCK_NR_PAGES // 2:
                self.move_freepages_block(z, pfn, start_mt)
                self.set_block_mt(pfn, start_mt)
                got = self.rmqueue_smallest(z, order, start_mt)
                self._extfrag(got, order, current_order, start_mt, fmt)
                return got
        return -1

    def _rmqueue_steal(self, z: Zone, order: int, start_mt: int) -> int:
        for current_order in range(order, MAX_ORDER):
            fmt = self.find_suitable_fallback(z, current_order, start_mt, False)
            if fmt == -1:
                continue
            fl = z.free_area[current_order][fmt]
            pfn = fl.pop_front(self.f, self.a, self.t)
            self._del_from_list(z, pfn)
            self.expand(z, pfn, order, current_order, fmt)
            self._extfrag(pfn, order, current_order, start_mt, fmt)
            return pfn
        return -1

    def rmqueue(self, z: Zone, order: int, mt: int, mode: list[int] | None = None) -> int:
        """__rmqueue(): the requested type first, then fallback.

        6.18 rmqueue_bulk() passes `mode` (its rmqm) through a pcp refill: once a page
        came from STEAL (3), the rest of the batch goes straight to STEAL; a CLAIM
        success goes back to NORMAL (0)."""
        if self.pending:
            self.settle()
        if mode is not None and self.v6 and mode[0] == 3:
            return self._rmqueue_steal(z, order, mt)
        pfn = self.rmqueue_smallest(z, order, mt)
        if pfn >= 0 or not (self.v6 and mode is not None):
            return pfn if pfn >= 0 else self.rmqueue_fallback(z, order, mt)
        pfn = self._rmqueue_claim(z, order, mt)
        if pfn >= 0:
            mode[0] = 0
            return pfn
        pfn = self._rmqueue_steal(z, order, mt)
        if pfn >= 0:
            mode[0] = 3
        return pfn

    # -- watermarks (§3.5) -----------------------------------------------------
    def watermark_ok(self, z: Zone, order: int, mark: int, free_pages: int | None = None) -> bool:
        free = z.nr_free_pages if free_pages is None else free_pages
        free -= (1 << order) - 1
        if free <= mark:
            return False
        if order == 0:
            return True
        if self.pending:
            self.settle()
        for o in range(order, MAX_ORDER):
            area = z.free_area[o]
            for mt in range(MIGRATE_PCPTYPES):
                if area[mt].count:
                    return True
        return False

    def isolate_free_page(self, pfn: int, order: int) -> int:
        """__isolate_free_page(): take a free block for compaction if the watermark allows."""
        if self.pending:
            self.settle()
        z = self.zone_of(pfn)
        mt = self.buddy_mt(pfn)
        if mt != MIGRATE_ISOLATE:
            # 4.8 keeps low + 2^order free; 6.18 min + 2^order (with ALLOC_CMA)
            wmark = (z.wmark_min if self.v6 else z.wmark_low) + (1 << order)
            if not self.watermark_ok(z, 0, wmark):
                return 0
        self._del_from_list(z, pfn)
        if order >= PAGEBLOCK_ORDER - 1:
            self.retype_isolated(z, pfn, order)
        return 1 << order

    def retype_isolated(self, z: Zone, pfn: int, order: int) -> None:
        """__isolate_free_page() of at least half a pageblock makes its pageblock(s)
        MOVABLE: 4.8 sets the type of any block but ISOLATE or CMA; 6.18 calls
        move_freepages_block() on mergeable blocks, which also moves the block's other
        free pages to the tails of the MOVABLE lists (§2.6)."""
        last = pfn + (1 << order) - 1
        for blk in range(pfn >> PAGEBLOCK_ORDER, (last >> PAGEBLOCK_ORDER) + 1):
            mt = self.pb_mt[blk]
            if self.v6:
                if mt < MIGRATE_PCPTYPES:
                    self.move_freepages_block(z, blk << PAGEBLOCK_ORDER, MIGRATE_MOVABLE)
                    self.pb_mt[blk] = MIGRATE_MOVABLE
            elif mt not in (MIGRATE_ISOLATE, MIGRATE_CMA):
                self.pb_mt[blk] = MIGRATE_MOVABLE

    # -- metrics (§4) ------------------------------------------------------------
    def contig_info(self, z: Zone, suitable_order: int) -> tuple[int, int, int]:
        if self.pending:
            self.settle()
        free_pages = total = suitable = 0
        for o in range(MAX_ORDER):
            n = z.nr_free(o)
            free_pages += n << o
            total += n
            if o >= suitable_order:
                suitable += n << (o - suitable_order)
        return free_pages, total, suitable


VMEMMAP_START = 0xFFFFEA0000000000  # x86-64 without KASLR: struct page of pfn 0
STRUCT_PAGE_SIZE = 64


def page_pointer(pfn: int, v6: bool) -> str:
    """%p of the struct page of pfn: 4.8 prints the address itself; 6.x a hash of it,
    the top 32 bits of a 64-bit hash (here a fixed multiplicative one in place of the
    boot-time siphash key), so 8 zeros and 8 hex digits."""
    addr = VMEMMAP_START + pfn * STRUCT_PAGE_SIZE
    if not v6:
        return f"{addr:016x}"
    return f"{((addr * 0x9E3779B97F4A7C15) & (2**64 - 1)) >> 32:016x}"


def extfrag_text(
    pfn: int, order: int, fallback_order: int, alloc_mt: int, fallback_mt: int, change, v6: bool
) -> str:
    """The mm_page_alloc_extfrag fields (§5): 6.18 prints pfn in hex, 4.8 in decimal."""
    pfn_txt = f"{pfn:#x}" if v6 else f"{pfn}"
    return (
        f"page={page_pointer(pfn, v6)} pfn={pfn_txt} alloc_order={order} "
        f"fallback_order={fallback_order} pageblock_order={PAGEBLOCK_ORDER} "
        f"alloc_migratetype={alloc_mt} fallback_migratetype={fallback_mt} "
        f"fragmenting={int(fallback_order < PAGEBLOCK_ORDER)} change_ownership={int(change)}"
    )


def fragmentation_index(free_pages: int, total: int, suitable: int, order: int) -> int:
    """__fragmentation_index(): u64 arithmetic, so odd negative values are possible (§4.2)."""
    if total == 0:
        return 0
    if suitable:
        return -1000
    return 1000 - (1000 + (free_pages * 1000) // (1 << order)) // total


def unusable_free_index(free_pages: int, suitable: int, order: int) -> int:
    if free_pages == 0:
        return 1000
    return (free_pages - (suitable << order)) * 1000 // free_pages


def extfrag_for_order(free_pages: int, suitable: int, order: int) -> int:
    if free_pages == 0:
        return 0
    return (free_pages - (suitable << order)) * 100 // free_pages


def setup_watermarks(mem: Memory, min_free_kbytes: int | None, scale_factor: int = 10) -> int:
    """calculate_min_free_kbytes() + __setup_per_zone_wmarks() over all zones (§3.5)."""
    managed = [z.present for z in mem.zones]
    lowmem_pages = sum(managed)
    if min_free_kbytes is None:
        lowmem_kbytes = lowmem_pages * 4
        cap = 65536 if mem.profile == "v4.8" else 262144
        min_free_kbytes = min(max(math.isqrt(lowmem_kbytes * 16), 128), cap)
    pages_min = min_free_kbytes >> 2
    for z, m in zip(mem.zones, managed, strict=True):
        zmin = pages_min * m // lowmem_pages if lowmem_pages else 0
        tmp = max(zmin >> 2, m * scale_factor // 10000)
        z.wmark_min = zmin
        z.wmark_low = zmin + tmp
        z.wmark_high = zmin + 2 * tmp
    return min_free_kbytes


def _zone_state(z: Zone) -> dict:
    d = dict(z.__dict__)
    d["free_area"] = [[fl.to_state() for fl in row] for row in z.free_area]
    d["pcp_lists"] = [list(lst) for lst in z.pcp_lists]
    return d


def _zone_from_state(d: dict) -> Zone:
    z = Zone.__new__(Zone)
    z.__dict__.update(d)
    z.free_area = [[FreeList.from_state(s) for s in row] for row in d["free_area"]]
    z.pcp_lists = [deque(lst) for lst in d["pcp_lists"]]
    return z
