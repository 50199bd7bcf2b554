"""A per-page reference implementation of compaction, written for clarity, not speed.

It re-implements, one pfn at a time and with plain Python lists, what the engine in
`simulator/` does with numpy: the buddy allocator's free lists (kernel head/tail list
semantics, `__free_one_page` merging, kernel-spec §3.2), the per-CPU free lists (§2.16),
`__isolate_free_page` (§2.6), both migrate_pages retry loops (4.8: §1.3-§1.4, 6.18:
§1.5), isolation and putback of LRU and non-LRU movable pages (§1.6, §2.5), both
scanners as the kernel functions quoted in the spec (`isolate_migratepages(_block)`,
`isolate_freepages(_block)`, §2.4-§2.6), `compaction_alloc` / `compaction_free` of both
profiles and `compact_zone` / `compact_finished` (§2.3, §2.7) as reached from
`/proc/sys/vm/compact_memory`, kcompactd and direct compaction (§2.2, §2.12), including
6.18's fast free-list searches and compaction_capture (§2.4, §2.6, §3.2), deferral and
suitability (§2.8, §2.10).

Free lists are `KernelList`s, a circular doubly linked list like struct list_head, so
list_del() from the middle of a long list costs what it costs in C; nothing else is
optimised. Entry points: `compact_memory_reference(sim)`, `kcompactd_reference(sim,
order)`, `ReferenceKernel.try_to_compact_pages(order, migratetype, prio)` and
`run_reference(scenario_dict, seed, profile) -> seconds` for the benchmark.

Only the starting state is borrowed from the engine: the page arrays, pageblock types,
free lists (in list order), pcp lists, watermarks, drivers and the random generator of a
freshly built `Simulation` are copied, and nothing of the engine's buddy, scanner or
migration code is called. Drivers are `simulator.drivers.Driver` objects (deep copies),
so a callback draws from the generator in the same order as the engine's.

What the reference does not model, because the engine does not either: timestamps (the
engine's cost model is not kernel behaviour, so trace lines are compared without their
prefix and injection time windows are not used in the comparison), page history, THP
and hugetlb folios on the LRU. The per-CPU lists follow the engine's "simple" model of
§2.16/§9.3 in both profiles: order-0 pages only, fixed high/batch, 4.8's
free_pcppages_bulk() round robin. 6.18 also keeps orders 1-3 on pcp lists, auto-tunes
high and drains one whole list at a time; that is a modelling choice of the engine, not
something this reference arbitrates.

__reset_isolation_suitable() (§2.10, §2.11) is modelled in both profiles and reached from
kswapd going to sleep, from compact_zone() via compaction_restarting() (once the defer
shift is at its cap of 6, the 64th attempt after the last deferral) and, in 4.8, from
compact_memory. 6.18's version is written from the 6.x mm/compaction.c, as the spec gives
only its outline: it acts only if a direct compaction left compact_blockskip_flush set,
samples every 8th page of a pageblock, and takes pageblock_skip_persistent() from the
compound page's real head (an order-10 page also covers the pageblock after its head's).
"""

from __future__ import annotations

import copy
import re
import time
from dataclasses import dataclass, field

import numpy as np

from simulator import Scenario, Simulation
from simulator.constants import (
    COMPACT_CLUSTER_MAX,
    COMPACT_COMPLETE,
    COMPACT_CONTENDED,
    COMPACT_CONTINUE,
    COMPACT_DEFERRED,
    COMPACT_MAX_DEFER_SHIFT,
    COMPACT_NO_SUITABLE_PAGE,
    COMPACT_NOT_SUITABLE_ZONE,
    COMPACT_PARTIAL_SKIPPED,
    COMPACT_SKIPPED,
    COMPACT_SUCCESS,
    EAGAIN,
    EBUSY,
    ENOMEM,
    ERRNO_BY_NAME,
    F_BUDDY,
    F_DIRTY,
    F_ISOLATED,
    F_LOCKED,
    F_LRU,
    F_MOVABLE,
    F_UNEVICTABLE,
    F_WRITEBACK,
    FALLBACKS,
    K_ANON,
    K_COMPOUND_HEAD,
    K_COMPOUND_TAIL,
    K_DRIVER,
    K_FILE,
    K_FREE,
    K_HOLE,
    K_PCP,
    K_TARGET,
    MIGRATE_ASYNC,
    MIGRATE_CMA,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_PCPTYPES,
    MIGRATE_RECLAIMABLE,
    MIGRATE_SYNC,
    MIGRATE_SYNC_LIGHT,
    MIGRATE_UNMOVABLE,
    MODE_NAMES,
    PAGE_ALLOC_COSTLY_ORDER,
    REASONS_48,
    REASONS_618,
    mode_trace,
    status_name,
)
from simulator.drivers import RULES, Injection
from simulator.memory import page_pointer

PAGEBLOCK_ORDER = 9
MT_BY_NAME = {"movable": 1, "unmovable": 0, "reclaimable": 2}
KIND_FOR_MT = {1: 2, 0: 5, 2: 6}  # K_ANON, K_UNMOVABLE, K_RECLAIMABLE
FREE_KINDS = {"movable": (2, 3), "unmovable": (5,), "reclaimable": (6,)}  # K_ANON/K_FILE...
PAGEBLOCK_NR_PAGES = 512
MAX_ORDER = 11  # orders 0..10
MR_COMPACTION = 0
TRACE_RE = re.compile(r": (mm_\w+): (.*)$")


def pageblock_start_pfn(pfn: int) -> int:
    return pfn - pfn % PAGEBLOCK_NR_PAGES


def pageblock_end_pfn(pfn: int) -> int:
    """block_end_pfn(pfn, pageblock_order) = ALIGN(pfn + 1, 512): an aligned pfn gives pfn + 512."""
    return pageblock_start_pfn(pfn) + PAGEBLOCK_NR_PAGES


def pageblock_aligned(pfn: int) -> bool:
    return pfn % PAGEBLOCK_NR_PAGES == 0


def block_start_pfn(pfn: int, order: int) -> int:
    """round_down(pfn, 1 << order); order -1 (compact_memory) is never used here."""
    return pfn - pfn % (1 << order)


def block_end_pfn(pfn: int, order: int) -> int:
    """ALIGN(pfn + 1, 1 << order)."""
    return block_start_pfn(pfn, order) + (1 << order)


class KernelList:
    """A struct list_head of pfns: a circular doubly linked list through a sentinel (-1),
    so adding at the head or the tail and list_del() from anywhere are O(1), as in C."""

    HEAD = -1

    def __init__(self, items=()) -> None:
        self.next = {self.HEAD: self.HEAD}
        self.prev = {self.HEAD: self.HEAD}
        for pfn in items:
            self.add_tail(pfn)

    def _insert(self, pfn: int, before: int, after: int) -> None:
        self.next[before] = pfn
        self.prev[pfn] = before
        self.next[pfn] = after
        self.prev[after] = pfn

    def add(self, pfn: int) -> None:
        """list_add(): at the head."""
        self._insert(pfn, self.HEAD, self.next[self.HEAD])

    def add_tail(self, pfn: int) -> None:
        """list_add_tail()."""
        self._insert(pfn, self.prev[self.HEAD], self.HEAD)

    def remove(self, pfn: int) -> None:
        """list_del()."""
        nxt, prv = self.next.pop(pfn), self.prev.pop(pfn)
        self.next[prv] = nxt
        self.prev[nxt] = prv

    def first(self) -> int:
        return self.next[self.HEAD]

    def __len__(self) -> int:
        return len(self.next) - 1

    def __bool__(self) -> bool:
        return self.next[self.HEAD] != self.HEAD

    def __iter__(self):
        pfn = self.next[self.HEAD]
        while pfn != self.HEAD:
            yield pfn
            pfn = self.next[pfn]

    def reverse(self):
        """list_for_each_entry_reverse()."""
        pfn = self.prev[self.HEAD]
        while pfn != self.HEAD:
            yield pfn
            pfn = self.prev[pfn]

    def rotate_to_head(self, pfn: int) -> None:
        """move_freelist_head(): the entries before pfn are cut and spliced at the tail,
        which in a circular list is moving the sentinel to just before pfn."""
        self._move_sentinel(self.prev[pfn], pfn)

    def rotate_to_tail(self, pfn: int) -> None:
        """move_freelist_tail(): pfn and the entries before it go to the tail."""
        self._move_sentinel(pfn, self.next[pfn])

    def _move_sentinel(self, before: int, after: int) -> None:
        if before == self.HEAD or after == self.HEAD:
            return  # already there
        h = self.HEAD
        nxt, prv = self.next[h], self.prev[h]
        self.next[prv] = nxt
        self.prev[nxt] = prv
        self._insert(h, before, after)


@dataclass
class RefZone:
    index: int
    name: str
    start: int
    end: int
    present: int
    wmark_min: int
    wmark_low: int
    wmark_high: int
    # free_area[order][migratetype]: the kernel's free lists
    free_area: list[list[KernelList]]
    nr_free_pages: int
    pcp_enabled: bool
    pcp_high: int
    pcp_batch: int
    # pcp lists per migratetype, index 0 is the head; pcp_mt: set_pcppage_migratetype()
    pcp: list[list[int]]
    pcp_mt: dict[int, int]
    cached_migrate_pfn: list[int]
    cached_free_pfn: int
    init_migrate_pfn: int
    init_free_pfn: int
    blockskip_flush: bool
    considered: int = 0
    defer_shift: int = 0
    order_failed: int = 0


@dataclass
class RefControl:
    """struct compact_control (§2.1)."""

    zone: RefZone
    order: int
    mode: int
    migratetype: int
    ignore_skip_hint: bool
    whole_zone: bool
    direct: bool = False
    memalloc: bool = False
    migrate_pfn: int = 0
    free_pfn: int = 0
    migratepages: list[int] = field(default_factory=list)  # index 0 is the list head
    nr_migratepages: int = 0
    freepages: list[int] = field(default_factory=list)  # 4.8: order-0 pages, head first
    freepages_by_order: list[list[int]] = field(
        default_factory=lambda: [[] for _ in range(MAX_ORDER)]
    )  # 6.18: cc->freepages[order]
    nr_freepages: int = 0
    last_migrated_pfn: int = 0
    finish_pageblock: bool = False
    contended: bool = False
    total_migrate_scanned: int = 0
    total_free_scanned: int = 0
    search_order: int = 0
    fast_search_fail: int = 0
    fast_start_pfn: int = 0  # ULONG_MAX is written as -1
    wmark: int = 0  # the watermark of alloc_flags (6.18), for suitability
    ignore_block_suitable: bool = False
    proactive: bool = False


ULONG_MAX = -1


class ReferenceKernel:
    """The simulated kernel, one page at a time."""

    def __init__(self, sim: Simulation) -> None:
        k = sim.k
        mem = k.mem
        self.profile = k.profile
        self.v6 = k.v6
        # one Python int per pfn
        self.kind = [int(x) for x in mem.kind]
        self.flags = [int(x) for x in mem.flags]
        self.aux = [int(x) for x in mem.aux]
        self.token = [int(x) for x in mem.token]
        self.pb_mt = [int(x) for x in mem.pb_mt]
        self.pb_skip = [bool(x) for x in mem.pb_skip]
        self.zones: list[RefZone] = []
        for z in mem.zones:
            self.zones.append(
                RefZone(
                    index=z.index,
                    name=z.name,
                    start=z.start,
                    end=z.end,
                    present=z.present,
                    wmark_min=z.wmark_min,
                    wmark_low=z.wmark_low,
                    wmark_high=z.wmark_high,
                    free_area=[
                        [KernelList(mem.free_list(z, o, mt)) for mt in range(6)]
                        for o in range(MAX_ORDER)
                    ],
                    nr_free_pages=z.nr_free_pages,
                    pcp_enabled=z.pcp_enabled,
                    pcp_high=z.pcp_high,
                    pcp_batch=z.pcp_batch,
                    pcp=[list(lst) for lst in z.pcp_lists],
                    pcp_mt={p: mt for mt, lst in enumerate(z.pcp_lists) for p in lst},
                    cached_migrate_pfn=list(z.compact_cached_migrate_pfn),
                    cached_free_pfn=z.compact_cached_free_pfn,
                    init_migrate_pfn=z.compact_init_migrate_pfn,
                    init_free_pfn=z.compact_init_free_pfn,
                    blockskip_flush=z.compact_blockskip_flush,
                    considered=z.compact_considered,
                    defer_shift=z.compact_defer_shift,
                    order_failed=z.compact_order_failed,
                )
            )
        self.kcompactd_max_order = 0
        self.next_token = k.next_token
        self.kcompactd_woken = False
        # 6.18 current->capture_control of a direct compactor: zone, order, migratetype
        # and the captured page (None until compaction_capture() takes one)
        self.capc: dict | None = None
        self.captured: list[int] = []
        self.drivers = copy.deepcopy(k.drivers)
        self.rng = copy.deepcopy(k.rng)
        self.sysctl = dict(k.sysctl)
        self.lru_eagain_rate = k.lru_eagain_rate
        self.file_migratepage = k.file_migratepage
        self.vmstat = dict.fromkeys(k.vmstat, 0)
        self.trace: list[tuple[str, str]] = []
        self.violations: list[tuple[int, str]] = []
        self.nr_isolated = 0

    # -- small helpers ---------------------------------------------------------------
    def zone_of(self, pfn: int) -> RefZone:
        for z in self.zones:
            if z.start <= pfn < z.end:
                return z
        raise AssertionError(f"pfn {pfn} in no zone")

    def block_mt(self, pfn: int) -> int:
        return self.pb_mt[pfn >> PAGEBLOCK_ORDER]

    def emit(self, event: str, text: str) -> None:
        self.trace.append((event, text))

    def count(self, name: str, n: int = 1) -> None:
        self.vmstat[name] += n

    def driver_of(self, pfn: int):
        return self.drivers[(self.aux[pfn] & 0x7F) - 1]

    def is_buddy(self, pfn: int) -> bool:
        return bool(self.flags[pfn] & F_BUDDY)

    def buddy_order(self, pfn: int) -> int:
        return self.aux[pfn] & 0xF

    def violation(self, pfn: int, mode: str) -> None:
        self.violations.append((pfn, mode))

    # -- buddy allocator (§3.2, §3.5) --------------------------------------------------
    def add_to_free_list(self, z: RefZone, pfn: int, order: int, mt: int, to_tail: bool) -> None:
        self.flags[pfn] = F_BUDDY
        self.aux[pfn] = order | (mt << 4)
        lst = z.free_area[order][mt]
        if to_tail:
            lst.add_tail(pfn)
        else:
            lst.add(pfn)
        z.nr_free_pages += 1 << order

    def del_from_free_list(self, z: RefZone, pfn: int) -> int:
        order, mt = self.aux[pfn] & 0xF, self.aux[pfn] >> 4
        z.free_area[order][mt].remove(pfn)  # list_del: from wherever it sits
        self.flags[pfn] = 0
        z.nr_free_pages -= 1 << order
        return order

    def free_one_page(self, pfn: int, order: int, mt: int) -> None:
        """__free_one_page(): merge with PageBuddy buddies of the same order, then queue the
        block at the list tail when the next-higher buddy is free ("merge likely")."""
        z = self.zone_of(pfn)
        capc = self.task_capc(z)
        while order < MAX_ORDER - 1:
            if capc is not None and self.compaction_capture(capc, pfn, order, mt):
                return  # the block goes to the compactor, never to the free lists
            buddy = pfn ^ (1 << order)
            if not (z.start <= buddy < z.end):
                break
            if not self.is_buddy(buddy) or self.buddy_order(buddy) != order:
                break
            if order >= PAGEBLOCK_ORDER:
                buddy_mt = self.pb_mt[buddy >> PAGEBLOCK_ORDER]
                if not self.v6:
                    # 4.8: no merge between an isolated pageblock and a normal one
                    if (mt == MIGRATE_ISOLATE) != (buddy_mt == MIGRATE_ISOLATE):
                        break
                elif buddy_mt != mt:
                    # 6.18: only mergeable types (< MIGRATE_PCPTYPES) merge; the buddy's
                    # pageblock takes the freed page's type
                    if mt >= MIGRATE_PCPTYPES or buddy_mt >= MIGRATE_PCPTYPES:
                        break
                    self.pb_mt[buddy >> PAGEBLOCK_ORDER] = mt
            self.del_from_free_list(z, buddy)
            pfn = pfn & buddy
            order += 1
        to_tail = False
        if order < MAX_ORDER - 2:
            buddy = pfn ^ (1 << order)
            combined = buddy & pfn
            higher_buddy = combined ^ (1 << (order + 1))
            if (
                z.start <= higher_buddy < z.end
                and self.is_buddy(higher_buddy)
                and self.buddy_order(higher_buddy) == order + 1
            ):
                to_tail = True
        self.add_to_free_list(z, pfn, order, mt, to_tail)

    def task_capc(self, z: RefZone) -> dict | None:
        """task_capc(): a direct compactor of this zone that has not captured yet."""
        capc = self.capc
        if capc is None or capc["page"] is not None or capc["zone"] is not z:
            return None
        return capc

    def compaction_capture(self, capc: dict, pfn: int, order: int, mt: int) -> bool:
        """6.18 compaction_capture() (§3.2): a block of exactly cc->order, not CMA or
        ISOLATE, and a MOVABLE block below pageblock order only for a MOVABLE request."""
        if order != capc["order"]:
            return False
        if mt in (MIGRATE_CMA, MIGRATE_ISOLATE):
            return False
        if order < PAGEBLOCK_ORDER and mt == MIGRATE_MOVABLE and capc["mt"] != MIGRATE_MOVABLE:
            return False
        if mt != capc["mt"]:
            change = capc["mt"] == self.block_mt(pfn)
            self.emit(
                "mm_page_alloc_extfrag",
                f"page={page_pointer(pfn, True)} pfn={pfn:#x} alloc_order={capc['order']} "
                f"fallback_order={order} pageblock_order={PAGEBLOCK_ORDER} "
                f"alloc_migratetype={capc['mt']} fallback_migratetype={mt} "
                f"fragmenting={int(order < PAGEBLOCK_ORDER)} change_ownership={int(change)}",
            )
        capc["page"] = pfn
        return True

    def free_pcppages_bulk(self, z: RefZone, count: int) -> None:
        """free_pcppages_bulk(): round-robin over the pcp lists, taking the list tails."""
        mt = 0
        batch_free = 0
        while count:
            while True:
                batch_free += 1
                mt += 1
                if mt == MIGRATE_PCPTYPES:
                    mt = 0
                if z.pcp[mt]:
                    break
            if batch_free == MIGRATE_PCPTYPES:
                batch_free = count
            lst = z.pcp[mt]
            while True:
                pfn = lst.pop()  # list_last_entry
                page_mt = z.pcp_mt.pop(pfn)
                self.kind[pfn] = K_FREE
                self.free_one_page(pfn, 0, page_mt)
                count -= 1
                batch_free -= 1
                if not (count and batch_free and lst):
                    break

    def pcp_count(self, z: RefZone) -> int:
        return sum(len(lst) for lst in z.pcp)

    def free_page(self, pfn: int, order: int = 0) -> None:
        """put_page() of the last reference / __free_pages(): order-0 pages go to the pcp
        list head (free_hot_cold_page, §2.16), the rest straight to the buddy lists."""
        n = 1 << order
        for p in range(pfn, pfn + n):
            self.kind[p] = K_FREE
            self.flags[p] = 0
            self.aux[p] = 0
            self.token[p] = 0
        z = self.zone_of(pfn)
        mt = self.block_mt(pfn)
        if order == 0 and z.pcp_enabled:
            pcp_list = mt
            if mt >= MIGRATE_PCPTYPES:
                if mt == MIGRATE_ISOLATE:
                    self.free_one_page(pfn, 0, mt)
                    return
                pcp_list = MIGRATE_MOVABLE
            self.kind[pfn] = K_PCP
            z.pcp[pcp_list].insert(0, pfn)
            z.pcp_mt[pfn] = mt
            if self.pcp_count(z) >= z.pcp_high:
                self.free_pcppages_bulk(z, z.pcp_batch)
            return
        self.free_one_page(pfn, order, mt)

    def watermark_ok(self, z: RefZone, order: int, mark: int) -> bool:
        """__zone_watermark_ok() without reserves, CMA or lowmem_reserve (§3.5)."""
        free = z.nr_free_pages - ((1 << order) - 1)
        if free <= mark:
            return False
        if order == 0:
            return True
        for o in range(order, MAX_ORDER):
            for mt in range(MIGRATE_PCPTYPES):
                if z.free_area[o][mt]:
                    return True
        return False

    def isolate_free_page(self, pfn: int, order: int) -> int:
        """__isolate_free_page(): watermark low (4.8) or min (6.18) + 2^order (§2.6)."""
        z = self.zone_of(pfn)
        mt = self.block_mt(pfn)
        if mt != MIGRATE_ISOLATE:
            wmark = (z.wmark_min if self.v6 else z.wmark_low) + (1 << order)
            if not self.watermark_ok(z, 0, wmark):
                return 0
        self.del_from_free_list(z, pfn)
        if order >= PAGEBLOCK_ORDER - 1:
            end = pfn + (1 << order) - 1
            p = pfn
            while p < end:
                bmt = self.pb_mt[p >> PAGEBLOCK_ORDER]
                if self.v6:
                    # move_freepages_block(zone, page, mt, MIGRATE_MOVABLE) for mergeable
                    # blocks: the block's other free pages go to the MOVABLE list tails
                    if bmt < MIGRATE_PCPTYPES:
                        self.move_freepages_block(z, p, MIGRATE_MOVABLE)
                        self.pb_mt[p >> PAGEBLOCK_ORDER] = MIGRATE_MOVABLE
                elif bmt not in (MIGRATE_ISOLATE, MIGRATE_CMA):
                    self.pb_mt[p >> PAGEBLOCK_ORDER] = MIGRATE_MOVABLE
                p += PAGEBLOCK_NR_PAGES
        return 1 << order

    # -- the page allocator (§3.3, §3.4, §3.5) -----------------------------------------------
    def expand(self, z: RefZone, pfn: int, low: int, high: int, mt: int) -> None:
        """expand(): halve the block, the upper half of each split to the list head."""
        size = 1 << high
        while high > low:
            high -= 1
            size >>= 1
            self.add_to_free_list(z, pfn + size, high, mt, False)

    def rmqueue_smallest(self, z: RefZone, order: int, mt: int) -> int:
        for o in range(order, MAX_ORDER):
            lst = z.free_area[o][mt]
            if lst:
                pfn = lst.first()
                self.del_from_free_list(z, pfn)
                self.expand(z, pfn, order, o, mt)
                return pfn
        return -1

    def trace_extfrag(self, pfn: int, order: int, forder: int, start_mt: int, fmt: int) -> None:
        change = start_mt == self.block_mt(pfn)  # TP_fast_assign of mm_page_alloc_extfrag
        pfn_txt = f"{pfn:#x}" if self.v6 else f"{pfn}"
        self.emit(
            "mm_page_alloc_extfrag",
            f"page={page_pointer(pfn, self.v6)} pfn={pfn_txt} alloc_order={order} "
            f"fallback_order={forder} pageblock_order={PAGEBLOCK_ORDER} "
            f"alloc_migratetype={start_mt} fallback_migratetype={fmt} "
            f"fragmenting={int(forder < PAGEBLOCK_ORDER)} change_ownership={int(change)}",
        )

    def move_freepages_block(self, z: RefZone, pfn: int, new_mt: int) -> int:
        """move_freepages_block(): every PageBuddy block of the pageblock to new_mt's list
        head, in pfn order. Returns the pages moved."""
        start = pageblock_start_pfn(pfn)
        moved = 0
        p = max(start, z.start)
        end = min(start + PAGEBLOCK_NR_PAGES, z.end)
        while p < end:
            if self.is_buddy(p):
                # 4.8 move_freepages(): list_move (head); 6.18 move_to_free_list():
                # list_move_tail
                order = self.del_from_free_list(z, p)
                self.add_to_free_list(z, p, order, new_mt, self.v6)
                moved += 1 << order
                p += 1 << order
            else:
                p += 1
        return moved

    def can_steal(self, order: int, start_mt: int) -> bool:
        """can_steal_fallback() / should_try_claim_block()."""
        return order >= PAGEBLOCK_ORDER // 2 or start_mt != MIGRATE_MOVABLE

    def first_fallback(self, z: RefZone, order: int, start_mt: int) -> int:
        if self.nr_free_blocks(z, order) == 0:
            return -1
        for fmt in FALLBACKS[start_mt]:
            if z.free_area[order][fmt]:
                return fmt
        return -1

    def retype_range(self, pfn: int, order: int, mt: int) -> None:
        """change_pageblock_range()."""
        for i in range(max(1, 1 << (order - PAGEBLOCK_ORDER))):
            self.pb_mt[(pfn >> PAGEBLOCK_ORDER) + i] = mt

    def rmqueue_fallback_48(self, z: RefZone, order: int, start_mt: int) -> int:
        """4.8 __rmqueue_fallback(): the largest fallback block first, steal if allowed."""
        for current_order in range(MAX_ORDER - 1, order - 1, -1):
            fmt = self.first_fallback(z, current_order, start_mt)
            if fmt < 0:
                continue
            pfn = z.free_area[current_order][fmt].first()
            if self.can_steal(current_order, start_mt):
                # steal_suitable_fallback()
                if current_order >= PAGEBLOCK_ORDER:
                    self.retype_range(pfn, current_order, start_mt)
                elif self.move_freepages_block(z, pfn, start_mt) >= PAGEBLOCK_NR_PAGES // 2:
                    self.pb_mt[pfn >> PAGEBLOCK_ORDER] = start_mt
            self.del_from_free_list(z, pfn)
            self.expand(z, pfn, order, current_order, start_mt)
            self.trace_extfrag(pfn, order, current_order, start_mt, fmt)
            return pfn
        return -1

    def try_to_claim_block(
        self, z: RefZone, pfn: int, current_order: int, order: int, start_mt: int, fmt: int
    ) -> int:
        if current_order >= PAGEBLOCK_ORDER:
            self.del_from_free_list(z, pfn)
            self.retype_range(pfn, current_order, start_mt)
            self.expand(z, pfn, order, current_order, start_mt)
            return pfn
        start = pageblock_start_pfn(pfn)
        if start < z.start or start + PAGEBLOCK_NR_PAGES > z.end:
            return -1
        free_pages = movable = 0
        p = start
        while p < start + PAGEBLOCK_NR_PAGES:  # prep_move_freepages_block()
            if self.is_buddy(p):
                free_pages += 1 << self.buddy_order(p)
                p += 1 << self.buddy_order(p)
                continue
            f = self.flags[p]
            if f & F_LRU or (self.kind[p] == K_DRIVER and f & F_MOVABLE):
                movable += 1
            p += 1
        if start_mt == MIGRATE_MOVABLE:
            alike = movable
        elif fmt == MIGRATE_MOVABLE:
            alike = PAGEBLOCK_NR_PAGES - (free_pages + movable)
        else:
            alike = 0
        if free_pages + alike >= PAGEBLOCK_NR_PAGES // 2:
            self.move_freepages_block(z, start, start_mt)  # __move_freepages_block()
            self.pb_mt[start >> PAGEBLOCK_ORDER] = start_mt
            return self.rmqueue_smallest(z, order, start_mt)
        return -1

    def rmqueue_claim(self, z: RefZone, order: int, start_mt: int) -> int:
        for current_order in range(MAX_ORDER - 1, order - 1, -1):
            if not self.can_steal(current_order, start_mt):
                break  # find_suitable_fallback() == -2: orders too low to claim
            fmt = self.first_fallback(z, current_order, start_mt)
            if fmt < 0:
                continue
            pfn = z.free_area[current_order][fmt].first()
            got = self.try_to_claim_block(z, pfn, current_order, order, start_mt, fmt)
            if got >= 0:
                self.trace_extfrag(got, order, current_order, start_mt, fmt)
                return got
        return -1

    def rmqueue_steal(self, z: RefZone, order: int, start_mt: int) -> int:
        for current_order in range(order, MAX_ORDER):
            fmt = self.first_fallback(z, current_order, start_mt)
            if fmt < 0:
                continue
            pfn = z.free_area[current_order][fmt].first()
            self.del_from_free_list(z, pfn)
            self.expand(z, pfn, order, current_order, fmt)
            self.trace_extfrag(pfn, order, current_order, start_mt, fmt)
            return pfn
        return -1

    def rmqueue(self, z: RefZone, order: int, mt: int, mode: list | None = None) -> int:
        """__rmqueue(). 6.18 remembers in `mode` (rmqueue_bulk's rmqm) the stage that last
        found a page: NORMAL 0, CLAIM 2, STEAL 3."""
        if not self.v6:
            pfn = self.rmqueue_smallest(z, order, mt)
            return pfn if pfn >= 0 else self.rmqueue_fallback_48(z, order, mt)
        mode = mode if mode is not None else [0]
        if mode[0] == 0:
            pfn = self.rmqueue_smallest(z, order, mt)
            if pfn >= 0:
                return pfn
        if mode[0] <= 2:
            pfn = self.rmqueue_claim(z, order, mt)
            if pfn >= 0:
                mode[0] = 0
                return pfn
        pfn = self.rmqueue_steal(z, order, mt)
        if pfn >= 0:
            mode[0] = 3
        return pfn

    def rmqueue_pcp(self, z: RefZone, mt: int) -> int:
        """Order 0 from the pcp list head; an empty list is refilled with `batch` pages
        (rmqueue_bulk(): list_add_tail in the order __rmqueue returns them)."""
        if not z.pcp_enabled or mt >= MIGRATE_PCPTYPES:
            return self.rmqueue(z, 0, mt)
        lst = z.pcp[mt]
        if not lst:
            mode = [0]
            for _ in range(z.pcp_batch):
                p = self.rmqueue(z, 0, mt, mode)
                if p < 0:
                    break
                self.kind[p] = K_PCP
                lst.append(p)
                z.pcp_mt[p] = mt
            if not lst:
                return -1
        p = lst.pop(0)
        z.pcp_mt.pop(p)
        return p

    def alloc_one(self, order: int, mt: int, kind: int) -> int:
        """get_page_from_freelist(): zones from the highest down, min watermark (§3.5)."""
        for z in reversed(self.zones):
            if not z.present or not self.watermark_ok(z, order, z.wmark_min):
                continue
            pfn = self.rmqueue_pcp(z, mt) if order == 0 else self.rmqueue(z, order, mt)
            if pfn >= 0:
                self.prep_new_page(pfn, order, kind)
                return pfn
        return -1

    def prep_new_page(self, pfn: int, order: int, kind: int) -> None:
        for p in range(pfn, pfn + (1 << order)):
            self.kind[p] = kind
            self.flags[p] = F_LRU if kind in (K_ANON, K_FILE) else 0
            self.aux[p] = 0
            self.token[p] = self.next_token
            self.next_token += 1

    # -- isolation and putback (§1.6, §2.5) ---------------------------------------------
    def lru_isolatable(self, cc: RefControl, pfn: int) -> bool:
        """The LRU checks of isolate_migratepages_block() / __isolate_lru_page()."""
        kind, f = self.kind[pfn], self.flags[pfn]
        if kind not in (K_ANON, K_FILE):
            # pinned anon (page_count > page_mapcount), slab, reserved, free...: not taken
            return False
        if not f & F_LRU or f & F_ISOLATED:
            return False
        async_migrate = cc.mode != MIGRATE_SYNC  # ISOLATE_ASYNC_MIGRATE
        if f & F_UNEVICTABLE and not self.sysctl["compact_unevictable_allowed"]:
            return False
        if async_migrate and f & F_WRITEBACK:
            return False
        is_dirty = bool(f & F_DIRTY)
        if async_migrate and is_dirty and kind == K_FILE and not self.file_migratepage:
            return False
        if self.v6:
            # 6.18: a dirty folio (async) or an unevictable file folio needs folio_trylock
            has_mapping = kind == K_FILE
            if (async_migrate and is_dirty) or (has_mapping and f & F_UNEVICTABLE):
                if f & F_LOCKED:
                    return False
        return True

    def isolate_lru_page(self, pfn: int) -> None:
        self.flags[pfn] = (self.flags[pfn] & ~F_LRU) | F_ISOLATED
        self.nr_isolated += 1

    def isolate_movable_page(self, pfn: int) -> bool:
        """§1.6 steps 1-6: __PageMovable, trylock_page, PageMovable && !PageIsolated,
        then the driver's isolate_page()."""
        f = self.flags[pfn]
        if not f & F_MOVABLE or f & F_ISOLATED:
            return False
        if f & F_LOCKED:
            return False
        drv = self.driver_of(pfn)
        if self.aux[pfn] & 0x80:
            return False  # the driver dropped the page: PageMovable() is false
        if not drv.isolate_page(self.rng):
            return False
        self.flags[pfn] = f | F_ISOLATED
        self.nr_isolated += 1
        return True

    def putback_page(self, pfn: int) -> None:
        """putback_lru_page() / putback_movable_page() (§1.6)."""
        f = self.flags[pfn]
        if not f & F_ISOLATED:
            return
        self.nr_isolated -= 1
        if self.kind[pfn] == K_DRIVER:
            drv = self.driver_of(pfn)
            self.flags[pfn] = f & ~F_ISOLATED
            drv.putback += 1
            if "lose_on_putback" in drv.buggy:
                self.aux[pfn] |= 0x80
                drv.lost += 1
                self.violation(pfn, "lose_on_putback")
        else:
            self.flags[pfn] = (f & ~F_ISOLATED) | F_LRU

    def putback_movable_pages(self, cc: RefControl) -> None:
        for pfn in cc.migratepages:
            self.putback_page(pfn)
        cc.migratepages = []
        cc.nr_migratepages = 0

    # -- one page's migration (§1.4, §1.5) ------------------------------------------------
    def lock_and_writeback(self, pfn: int, force: bool, mode: int, memalloc: bool) -> int:
        """4.8 __unmap_and_move() / 6.18 migrate_folio_unmap(): page lock, then writeback."""
        f = self.flags[pfn]
        if f & F_LOCKED:  # trylock_page fails
            if self.v6:
                if mode == MIGRATE_ASYNC or memalloc:
                    return EAGAIN
            elif not force or mode == MIGRATE_ASYNC or memalloc:
                return EAGAIN
            f &= ~F_LOCKED  # lock_page(): sleep until the holder lets go, then own it
            self.flags[pfn] = f
        if f & F_WRITEBACK:
            if mode != MIGRATE_SYNC:
                return EBUSY
            if not self.v6 and not force:
                return EAGAIN
            self.flags[pfn] = f & ~F_WRITEBACK  # wait_on_page_writeback()
        return 0

    def move_to_new_page(self, pfn: int, mode: int) -> int:
        """move_to_new_page() (4.8) / migrate_folio_move() (6.18): the driver's callback
        for non-LRU pages, migrate_page_move_mapping()'s refcount check for LRU pages."""
        if self.kind[pfn] == K_DRIVER:
            drv = self.driver_of(pfn)
            rc = drv.migratepage(self.rng, 0, pfn, set())
            if "touch_lru_isolated" in drv.buggy:
                self.violation(pfn, "touch_lru_isolated")
            return rc
        if self.kind[pfn] == K_FILE and self.flags[pfn] & F_DIRTY and not self.file_migratepage:
            if mode != MIGRATE_SYNC:
                return EBUSY
            self.flags[pfn] = (self.flags[pfn] & ~F_DIRTY) | F_WRITEBACK
            return EAGAIN
        if self.lru_eagain_rate and self.rng.random() < self.lru_eagain_rate:
            return EAGAIN
        return 0

    def migration_done(self, old: int, new: int) -> None:
        """Content moves to the new page; the old page's last reference is dropped."""
        self.kind[new] = self.kind[old]
        self.aux[new] = self.aux[old]
        self.token[new] = self.token[old]
        if self.kind[old] == K_DRIVER:
            drv = self.driver_of(old)
            self.flags[new] = F_MOVABLE  # the driver's __SetPageMovable(newpage)
            if "no_copy" in drv.buggy:
                self.token[new] = 0
                self.violation(old, "no_copy")
                drv.lost += 1
            if not self.v6:
                if "forget_clear_movable" in drv.buggy:
                    self.violation(old, "forget_clear_movable")
                else:
                    self.flags[old] &= ~F_MOVABLE
        else:
            # the copy keeps dirty and unevictable and goes on the LRU
            self.flags[new] = (self.flags[old] & (F_DIRTY | F_UNEVICTABLE)) | F_LRU
        self.nr_isolated -= 1
        self.free_page(old, 0)

    # -- 4.8 migrate_pages (§1.3) -------------------------------------------------------------
    def unmap_and_move_48(self, cc: RefControl, pfn: int, force: bool) -> int:
        """unmap_and_move(): the page leaves 'from' unless the result is -EAGAIN/-ENOMEM."""
        new = self.compaction_alloc(cc)
        if new < 0:
            return ENOMEM
        rc = self.lock_and_writeback(pfn, force, cc.mode, cc.memalloc)
        if rc == 0:
            rc = self.move_to_new_page(pfn, cc.mode)
        if rc == 0:
            self.migration_done(pfn, new)
            return 0
        if rc != EAGAIN:
            self.putback_page(pfn)  # a permanent failure is put back right here
        self.compaction_free(cc, new)
        return rc

    def migrate_pages_48(self, cc: RefControl) -> tuple[int, int]:
        from_list = cc.migratepages
        retry = 1
        nr_failed = nr_succeeded = 0
        rc = None
        for npass in range(10):
            if not retry:
                break
            retry = 0
            stay: list[int] = []  # what is still on 'from' after this pass, in list order
            for i, pfn in enumerate(from_list):  # list_for_each_entry_safe
                r = self.unmap_and_move_48(cc, pfn, npass > 2)
                if r == ENOMEM:
                    nr_failed += 1
                    rc = ENOMEM
                    stay.extend(from_list[i:])  # this page and the untried ones stay
                    break
                if r == EAGAIN:
                    retry += 1
                    stay.append(pfn)
                elif r == 0:
                    nr_succeeded += 1
                else:
                    nr_failed += 1
            from_list[:] = stay
            if rc == ENOMEM:
                break
        if rc is None:
            nr_failed += retry
            rc = nr_failed
        self.count("pgmigrate_success", nr_succeeded)
        self.count("pgmigrate_fail", nr_failed)
        self.emit(
            "mm_migrate_pages",
            f"nr_succeeded={nr_succeeded} nr_failed={nr_failed} mode={MODE_NAMES[cc.mode]} "
            f"reason={REASONS_48[MR_COMPACTION]}",
        )
        return rc, nr_succeeded

    # -- 6.18 migrate_pages (§1.5) --------------------------------------------------------------
    def migrate_pages_batch(
        self, cc: RefControl, from_list: list, mode: int, nr_pass: int, ret: list, stats: dict
    ) -> int:
        unmap_src: list[int] = []
        unmap_dst: list[int] = []
        nr_failed = 0
        rc_saved = 0
        retry = 1
        nr_retry_pages = 0
        enomem = False
        for _ in range(nr_pass):
            if not retry:
                break
            retry = 0
            nr_retry_pages = 0
            stay: list[int] = []  # -EAGAIN and -ENOMEM folios stay on 'from', in order
            for i, pfn in enumerate(from_list):
                # migrate_folio_unmap(): the target is allocated first
                dst = self.compaction_alloc(cc)
                if dst < 0:
                    rc = ENOMEM
                else:
                    rc = self.lock_and_writeback(pfn, True, mode, cc.memalloc)
                    if rc != 0:
                        if rc != EAGAIN:
                            ret.append(pfn)  # migrate_folio_undo_src(..., ret)
                        self.compaction_free(cc, dst)  # migrate_folio_undo_dst()
                if rc == ENOMEM:
                    nr_failed += 1
                    stats["failed"] += 1 + nr_retry_pages
                    rc_saved = ENOMEM
                    enomem = True
                    stay.extend(from_list[i:])
                    break
                if rc == EAGAIN:
                    retry += 1
                    nr_retry_pages += 1
                    stay.append(pfn)
                elif rc == 0:
                    unmap_src.append(pfn)
                    unmap_dst.append(dst)
                else:
                    nr_failed += 1
                    stats["failed"] += 1
            from_list[:] = stay
            if enomem:
                break
        if not enomem:
            nr_failed += retry
            stats["failed"] += nr_retry_pages
        # move phase: the same dst is kept across -EAGAIN retries
        retry = 1
        for _ in range(nr_pass):
            if not retry:
                break
            retry = 0
            nr_retry_pages = 0
            pairs = list(zip(unmap_src, unmap_dst, strict=True))
            unmap_src, unmap_dst = [], []  # refilled with the -EAGAIN ones, dst kept
            for src, dst in pairs:
                rc = self.move_to_new_page(src, mode)
                if rc == EAGAIN:
                    retry += 1
                    nr_retry_pages += 1
                    unmap_src.append(src)
                    unmap_dst.append(dst)
                    continue
                if rc == 0:
                    self.migration_done(src, dst)
                    stats["succeeded"] += 1
                else:
                    ret.append(src)
                    self.compaction_free(cc, dst)
                    nr_failed += 1
                    stats["failed"] += 1
        nr_failed += retry
        stats["failed"] += nr_retry_pages
        rc = rc_saved or nr_failed
        # migrate_folios_undo(): still unmapped -> back to ret, dst freed
        for src, dst in zip(unmap_src, unmap_dst, strict=True):
            ret.append(src)
            self.compaction_free(cc, dst)
        return rc

    def migrate_pages_sync(
        self, cc: RefControl, batch: list, mode: int, ret: list, stats: dict
    ) -> int:
        folios: list[int] = []
        astats = {"succeeded": 0, "failed": 0}
        rc = self.migrate_pages_batch(cc, batch, MIGRATE_ASYNC, 3, folios, astats)
        stats["succeeded"] += astats["succeeded"]
        if rc < 0:
            stats["failed"] += astats["failed"]
            ret.extend(folios)
            return rc
        batch.extend(folios)  # list_splice_tail_init(&folios, from)
        nr_failed = 0
        while batch:
            one = [batch.pop(0)]
            rc = self.migrate_pages_batch(cc, one, mode, 7, ret, stats)
            ret.extend(one)
            if rc < 0:
                return rc
            nr_failed += rc
        return nr_failed

    def migrate_pages_618(self, cc: RefControl) -> tuple[int, int]:
        mode = cc.mode
        reason = REASONS_618[MR_COMPACTION]
        self.emit("mm_migrate_pages_start", f"mode={MODE_NAMES[mode]} reason={reason}")
        stats = {"succeeded": 0, "failed": 0}
        src = cc.migratepages
        ret: list[int] = []
        rc_gather = 0
        while src:
            batch = src[:512]
            del src[:512]
            if mode == MIGRATE_ASYNC:
                rc = self.migrate_pages_batch(cc, batch, MIGRATE_ASYNC, 10, ret, stats)
            else:
                rc = self.migrate_pages_sync(cc, batch, mode, ret, stats)
            ret.extend(batch)
            if rc < 0:
                rc_gather = rc
                break
            rc_gather += rc
        left = ret + src
        cc.migratepages = left
        if not left:
            rc_gather = 0
        self.count("pgmigrate_success", stats["succeeded"])
        self.count("pgmigrate_fail", stats["failed"])
        self.emit(
            "mm_migrate_pages",
            f"nr_succeeded={stats['succeeded']} nr_failed={stats['failed']} nr_thp_succeeded=0 "
            f"nr_thp_failed=0 nr_thp_split=0 nr_split=0 mode={MODE_NAMES[mode]} reason={reason}",
        )
        return rc_gather, stats["succeeded"]

    # -- compaction_alloc / compaction_free (§2.6) -----------------------------------------
    def compaction_alloc(self, cc: RefControl) -> int:
        if not self.v6:
            if not cc.freepages:
                if not cc.contended:
                    self.isolate_freepages(cc)
                if not cc.freepages:
                    return -1
            cc.nr_freepages -= 1
            return cc.freepages.pop(0)
        has_isolated_pages = False
        while True:
            start_order = next((o for o in range(MAX_ORDER) if cc.freepages_by_order[o]), None)
            if start_order is None:
                if has_isolated_pages:
                    return -1
                self.isolate_freepages(cc)
                has_isolated_pages = True
                continue
            page = cc.freepages_by_order[start_order].pop(0)
            size = 1 << start_order
            while start_order > 0:
                start_order -= 1
                size >>= 1
                cc.freepages_by_order[start_order].insert(0, page + size)
            cc.nr_freepages -= 1
            cc.nr_migratepages -= 1
            return page

    def compaction_free(self, cc: RefControl, pfn: int) -> None:
        if self.v6:
            cc.freepages_by_order[0].insert(0, pfn)
            cc.nr_migratepages += 1
        else:
            cc.freepages.insert(0, pfn)
        cc.nr_freepages += 1

    def map_pages_48(self, cc: RefControl, blocks: list[tuple[int, int]]) -> None:
        """map_pages(): every subpage list_add()ed to a temporary list, spliced in front."""
        tmp: list[int] = []
        for pfn, order in blocks:
            for p in range(pfn, pfn + (1 << order)):
                tmp.insert(0, p)
        cc.freepages[:0] = tmp

    # -- free scanner (§2.6) ------------------------------------------------------------------
    def block_valid(self, z: RefZone, start: int, end: int) -> bool:
        """pageblock_pfn_to_page(): first and last pfn present and in the zone."""
        if start < z.start or end > z.end:
            return False
        return self.kind[start] != K_HOLE and self.kind[end - 1] != K_HOLE

    def suitable_migration_target(self, cc: RefControl, pfn: int) -> bool:
        if self.is_buddy(pfn):
            limit = PAGEBLOCK_ORDER
            if self.v6 and cc.order > 0:
                limit = cc.order
            if self.buddy_order(pfn) >= limit:
                return False
        if self.v6 and cc.ignore_block_suitable:
            return True
        return self.block_mt(pfn) in (MIGRATE_MOVABLE, MIGRATE_CMA)

    def isolation_suitable(self, cc: RefControl, pfn: int) -> bool:
        if cc.ignore_skip_hint:
            return True
        return not self.pb_skip[pfn >> PAGEBLOCK_ORDER]

    def take_free_block(self, cc: RefControl, pfn: int, order: int, freelist: list | None) -> None:
        """The isolated block goes on the compactor's private list (list_add_tail)."""
        for p in range(pfn, pfn + (1 << order)):
            self.kind[p] = K_TARGET
        if freelist is None:
            cc.freepages_by_order[order].append(pfn)  # 6.18: cc->freepages[order]
        else:
            freelist.append((pfn, order))  # 4.8: split later by map_pages()

    def isolate_freepages_block(
        self, cc: RefControl, start_pfn: int, end_pfn: int, stride: int, freelist: list | None
    ) -> tuple[int, int]:
        """isolate_freepages_block(strict=false). Returns (total isolated, blockpfn)."""
        nr_scanned = 0
        total_isolated = 0
        blockpfn = start_pfn
        while blockpfn < end_pfn:
            nr_scanned += 1
            kind = self.kind[blockpfn]
            if kind in (K_COMPOUND_HEAD, K_COMPOUND_TAIL):
                order = self.aux[blockpfn] if kind == K_COMPOUND_HEAD else 0
                if not self.v6:
                    blockpfn += (1 << order) - 1
                elif blockpfn + (1 << order) <= end_pfn:
                    blockpfn += (1 << order) - 1
                    nr_scanned += (1 << order) - 1
                blockpfn += stride
                continue
            if not self.is_buddy(blockpfn):
                blockpfn += stride
                continue
            order = self.buddy_order(blockpfn)
            isolated = self.isolate_free_page(blockpfn, order)
            if not isolated:
                break
            if self.v6:
                nr_scanned += isolated - 1
            total_isolated += isolated
            cc.nr_freepages += isolated
            self.take_free_block(cc, blockpfn, order, freelist)
            if cc.nr_migratepages <= cc.nr_freepages:
                blockpfn += isolated
                break
            blockpfn += isolated - 1
            blockpfn += stride
        if blockpfn > end_pfn:
            blockpfn = end_pfn
        self.emit(
            "mm_compaction_isolate_freepages",
            f"range=({start_pfn:#x} ~ {blockpfn:#x}) nr_scanned={nr_scanned} nr_taken={total_isolated}",
        )
        if self.v6:
            cc.total_free_scanned += nr_scanned
        else:
            self.count("compact_free_scanned", nr_scanned)
        self.count("compact_isolated", total_isolated)
        return total_isolated, blockpfn

    @staticmethod
    def move_freelist_head(freelist: KernelList, pfn: int) -> None:
        """Rotate so that pfn is first: the entries before it go to the tail."""
        freelist.rotate_to_head(pfn)

    @staticmethod
    def move_freelist_tail(freelist: KernelList, pfn: int) -> None:
        """Rotate so that pfn is last: it and the entries before it go to the tail."""
        freelist.rotate_to_tail(pfn)

    def nr_free_blocks(self, z: RefZone, order: int) -> int:
        return sum(len(z.free_area[order][mt]) for mt in range(6))

    def next_search_order(self, cc: RefControl, order: int) -> int:
        order -= 1
        if order < 0:
            order = cc.order - 1
        if order == cc.search_order:
            cc.search_order -= 1
            if cc.search_order < 0:
                cc.search_order = cc.order - 1
            return -1
        return order

    def fast_isolate_freepages(self, cc: RefControl) -> None:
        """6.18 fast_isolate_freepages(): a reverse walk of the MOVABLE free lists below
        cc->order for a page in the top quarter (else half) of the search space."""
        z = cc.zone
        if cc.order <= 0:
            return
        limit = max(1, ((COMPACT_CLUSTER_MAX >> min(63, cc.fast_search_fail)) + 1) >> 1)
        nr_scanned = total_isolated = 0
        highest = 0
        page = None
        scan_start = False
        if cc.free_pfn >= z.init_free_pfn:
            limit = PAGEBLOCK_NR_PAGES >> 1
            scan_start = True
        distance = cc.free_pfn - cc.migrate_pfn
        low_pfn = pageblock_start_pfn(cc.free_pfn - (distance >> 2))
        min_pfn = pageblock_start_pfn(cc.free_pfn - (distance >> 1))
        if min_pfn > low_pfn:
            low_pfn = min_pfn
        cc.search_order = min(cc.order - 1, cc.search_order)
        order = cc.search_order
        while page is None and order >= 0:
            if self.nr_free_blocks(z, order):
                freelist = z.free_area[order][MIGRATE_MOVABLE]
                order_scanned = 0
                high_pfn = 0
                freepage = None  # None: the walk ran off the list (no reordering)
                for pfn in freelist.reverse():  # list_for_each_entry_reverse
                    order_scanned += 1
                    nr_scanned += 1
                    if pfn >= highest:
                        highest = max(pageblock_start_pfn(pfn), z.start)
                    if pfn >= low_pfn:
                        cc.fast_search_fail = 0
                        cc.search_order = order
                        page = freepage = pfn
                        break
                    if pfn >= min_pfn and pfn > high_pfn:
                        high_pfn = pfn
                        limit >>= 1
                    if order_scanned >= limit:
                        freepage = pfn
                        break
                if page is None and high_pfn:
                    page = freepage = high_pfn
                if freepage is not None:
                    self.move_freelist_head(freelist, freepage)
                if page is not None:
                    if self.isolate_free_page(page, order):
                        n = 1 << order
                        nr_scanned += n - 1
                        total_isolated += n
                        cc.nr_freepages += n
                        self.take_free_block(cc, page, order, None)
                        self.count("compact_isolated", n)
                    else:
                        order = cc.search_order + 1
                        page = None
                if cc.nr_freepages >= cc.nr_migratepages:
                    break
                if order_scanned >= limit:
                    limit = max(1, limit >> 1)
            order = self.next_search_order(cc, order)
        self.emit(
            "mm_compaction_fast_isolate_freepages",
            f"range=({min_pfn:#x} ~ {cc.free_pfn:#x}) nr_scanned={nr_scanned} nr_taken={total_isolated}",
        )
        if page is None:
            cc.fast_search_fail += 1
            if scan_start:
                if highest >= min_pfn:
                    page = highest
                    cc.free_pfn = highest
                elif cc.direct and 0 <= min_pfn < len(self.kind):
                    end = min(pageblock_end_pfn(min_pfn), z.end)
                    if self.block_valid(z, min_pfn, end) and self.suitable_migration_target(
                        cc, min_pfn
                    ):
                        page = min_pfn
                    cc.free_pfn = min_pfn
        if highest and highest >= z.cached_free_pfn:
            highest -= PAGEBLOCK_NR_PAGES
            z.cached_free_pfn = highest
        cc.total_free_scanned += nr_scanned
        if page is None:
            return
        self.fast_isolate_around(cc, page)

    def fast_isolate_around(self, cc: RefControl, pfn: int) -> None:
        z = cc.zone
        if cc.nr_freepages >= cc.nr_migratepages:
            return
        if cc.direct and cc.mode == MIGRATE_ASYNC:
            return
        start = max(pageblock_start_pfn(pfn), z.start)
        end = min(pageblock_end_pfn(pfn), z.end)
        if not self.block_valid(z, start, end):
            return
        _, stop = self.isolate_freepages_block(cc, start, end, 1, None)
        if stop == end:
            self.pb_skip[start >> PAGEBLOCK_ORDER] = True

    def isolate_freepages(self, cc: RefControl) -> None:
        z = cc.zone
        if self.v6:
            self.fast_isolate_freepages(cc)
            if cc.nr_freepages:
                return
        isolate_start_pfn = cc.free_pfn
        block_start = pageblock_start_pfn(cc.free_pfn)
        block_end = min(block_start + PAGEBLOCK_NR_PAGES, z.end)
        low_pfn = pageblock_end_pfn(cc.migrate_pfn)
        stride = COMPACT_CLUSTER_MAX if (self.v6 and cc.mode == MIGRATE_ASYNC) else 1
        freelist: list | None = None if self.v6 else []
        while block_start >= low_pfn:
            ok = (
                self.block_valid(z, block_start, block_end)
                and self.suitable_migration_target(cc, block_start)
                and self.isolation_suitable(cc, block_start)
            )
            if ok:
                first = isolate_start_pfn
                nr_isolated, isolate_start_pfn = self.isolate_freepages_block(
                    cc, isolate_start_pfn, block_end, stride, freelist
                )
                if isolate_start_pfn == block_end:
                    if self.v6:
                        # update_pageblock_skip(cc, page, block_start - pageblock_nr_pages)
                        self.pb_skip[block_start >> PAGEBLOCK_ORDER] = True
                        if block_start - PAGEBLOCK_NR_PAGES < z.cached_free_pfn:
                            z.cached_free_pfn = block_start - PAGEBLOCK_NR_PAGES
                    elif not cc.ignore_skip_hint and not nr_isolated:
                        # 4.8 update_pageblock_skip(cc, valid_page, 0, false)
                        self.pb_skip[first >> PAGEBLOCK_ORDER] = True
                        if first < z.cached_free_pfn:
                            z.cached_free_pfn = first
                if cc.nr_freepages >= cc.nr_migratepages or cc.contended:
                    if isolate_start_pfn >= block_end:
                        isolate_start_pfn = block_start - PAGEBLOCK_NR_PAGES
                    break
                if isolate_start_pfn < block_end:
                    break
                if self.v6:
                    stride = 1 if nr_isolated else min(COMPACT_CLUSTER_MAX, stride << 1)
            block_end = block_start
            block_start -= PAGEBLOCK_NR_PAGES
            isolate_start_pfn = block_start
        if freelist is not None:
            self.map_pages_48(cc, freelist)
        cc.free_pfn = isolate_start_pfn

    def release_freepages(self, cc: RefControl) -> int:
        high = 0
        if self.v6:
            for order in range(MAX_ORDER):
                for pfn in cc.freepages_by_order[order]:
                    self.free_page(pfn, order)
                    high = max(high, pfn)
                cc.freepages_by_order[order] = []
        else:
            for pfn in cc.freepages:
                self.free_page(pfn, 0)
                high = max(high, pfn)
            cc.freepages = []
        return high

    # -- migration scanner (§2.4, §2.5) -------------------------------------------------------
    def isolate_migratepages_block(self, cc: RefControl, low_pfn: int, end_pfn: int) -> int:
        """Per-pfn isolate_migratepages_block(). Returns the pfn where scanning stopped."""
        z = cc.zone
        start_pfn = low_pfn
        nr_scanned = 0
        nr_isolated = 0
        valid_page = -1
        skip_updated = False
        skip_on_failure = cc.direct and cc.mode == MIGRATE_ASYNC
        next_skip_pfn = 0
        if skip_on_failure:
            next_skip_pfn = block_end_pfn(low_pfn, cc.order)
        while low_pfn < end_pfn:
            if skip_on_failure and low_pfn >= next_skip_pfn:
                if nr_isolated:
                    break
                next_skip_pfn = block_end_pfn(low_pfn, cc.order)
            nr_scanned += 1
            if self.v6:
                if valid_page < 0 and (pageblock_aligned(low_pfn) or low_pfn == z.start):
                    if not self.isolation_suitable(cc, low_pfn):
                        low_pfn = end_pfn
                        break
                    valid_page = low_pfn
            elif valid_page < 0:
                valid_page = low_pfn
            kind, f = self.kind[low_pfn], self.flags[low_pfn]
            failed = False
            isolated = False
            if f & F_BUDDY:
                order = self.buddy_order(low_pfn)
                if 0 < order < MAX_ORDER:
                    low_pfn += (1 << order) - 1
                    if self.v6:
                        nr_scanned += (1 << order) - 1
                low_pfn += 1
                continue
            if kind in (K_COMPOUND_HEAD, K_COMPOUND_TAIL):
                order = self.aux[low_pfn] if kind == K_COMPOUND_HEAD else 0
                low_pfn += (1 << order) - 1
                if self.v6:
                    nr_scanned += (1 << order) - 1
                failed = True
            elif not f & F_LRU:
                # non-LRU: __PageMovable && !PageIsolated -> isolate_movable_page()
                if kind == K_DRIVER and f & F_MOVABLE and not f & F_ISOLATED:
                    isolated = self.isolate_movable_page(low_pfn)
                failed = not isolated
            elif self.lru_isolatable(cc, low_pfn):
                if self.v6 and valid_page >= 0 and not skip_updated:
                    # test_and_set_skip() under the lru lock
                    skip_updated = True
                    if not cc.ignore_skip_hint:
                        if self.pb_skip[valid_page >> PAGEBLOCK_ORDER] and not cc.finish_pageblock:
                            low_pfn = end_pfn
                            break
                        self.pb_skip[valid_page >> PAGEBLOCK_ORDER] = True
                self.isolate_lru_page(low_pfn)
                isolated = True
            else:
                failed = True
            if isolated:
                cc.migratepages.insert(0, low_pfn)  # list_add
                cc.nr_migratepages += 1
                nr_isolated += 1
                if not self.v6 and not cc.last_migrated_pfn:
                    cc.last_migrated_pfn = low_pfn
                if cc.nr_migratepages >= COMPACT_CLUSTER_MAX and not (
                    self.v6 and cc.finish_pageblock
                ):
                    low_pfn += 1
                    break
                low_pfn += 1
                continue
            if failed and skip_on_failure:
                if nr_isolated:
                    self.putback_movable_pages(cc)
                    cc.last_migrated_pfn = 0
                    nr_isolated = 0
                if low_pfn < next_skip_pfn:
                    low_pfn = next_skip_pfn - 1
                    next_skip_pfn += 1 << cc.order
            low_pfn += 1
        if low_pfn > end_pfn:
            low_pfn = end_pfn
        if self.v6:
            if low_pfn == end_pfn and (not nr_isolated or cc.finish_pageblock):
                if valid_page >= 0 and not skip_updated:
                    self.pb_skip[valid_page >> PAGEBLOCK_ORDER] = True
                self.update_cached_migrate(cc, low_pfn)
        elif low_pfn == end_pfn and not cc.ignore_skip_hint and not nr_isolated:
            # 4.8 update_pageblock_skip(cc, valid_page, nr_isolated, true)
            self.pb_skip[valid_page >> PAGEBLOCK_ORDER] = True
            if valid_page > z.cached_migrate_pfn[0]:
                z.cached_migrate_pfn[0] = valid_page
            if cc.mode != MIGRATE_ASYNC and valid_page > z.cached_migrate_pfn[1]:
                z.cached_migrate_pfn[1] = valid_page
        self.emit(
            "mm_compaction_isolate_migratepages",
            f"range=({start_pfn:#x} ~ {low_pfn:#x}) nr_scanned={nr_scanned} nr_taken={nr_isolated}",
        )
        if self.v6:
            cc.total_migrate_scanned += nr_scanned
        else:
            self.count("compact_migrate_scanned", nr_scanned)
        self.count("compact_isolated", nr_isolated)
        return low_pfn

    def update_cached_migrate(self, cc: RefControl, pfn: int) -> None:
        z = cc.zone
        pfn = pageblock_end_pfn(pfn)
        if pfn > z.cached_migrate_pfn[0]:
            z.cached_migrate_pfn[0] = pfn
        if cc.mode != MIGRATE_ASYNC and pfn > z.cached_migrate_pfn[1]:
            z.cached_migrate_pfn[1] = pfn

    def fast_find_migrateblock(self, cc: RefControl) -> int:
        """6.18 fast_find_migrateblock(): a forward walk of the MOVABLE free lists of
        orders cc->order-1 .. 3 for a block in the first half (later eighth) of the zone."""
        z = cc.zone
        limit = (COMPACT_CLUSTER_MAX >> min(63, cc.fast_search_fail)) + 1
        nr_scanned = 0
        pfn = cc.migrate_pfn
        if cc.ignore_skip_hint or cc.finish_pageblock:
            return pfn
        if pfn != z.start and pfn != pageblock_start_pfn(pfn):
            return pfn
        if cc.order <= PAGE_ALLOC_COSTLY_ORDER:
            return pfn
        if cc.direct and cc.migratetype != MIGRATE_MOVABLE:
            return pfn
        distance = (cc.free_pfn - cc.migrate_pfn) >> 1
        if cc.migrate_pfn != z.start:
            distance >>= 2
        high_pfn = pageblock_start_pfn(cc.migrate_pfn + distance)
        found = False
        order = cc.order - 1
        while order >= PAGE_ALLOC_COSTLY_ORDER and not found and nr_scanned < limit:
            if self.nr_free_blocks(z, order):
                freelist = z.free_area[order][MIGRATE_MOVABLE]
                for freepage in freelist:  # list_for_each_entry (left right after a move)
                    scanned, nr_scanned = nr_scanned, nr_scanned + 1
                    if scanned >= limit:
                        self.move_freelist_tail(freelist, freepage)
                        break
                    if freepage < high_pfn:
                        if self.pb_skip[freepage >> PAGEBLOCK_ORDER]:
                            continue
                        self.move_freelist_tail(freelist, freepage)
                        # update_fast_start_pfn()
                        if cc.fast_start_pfn != ULONG_MAX:
                            if not cc.fast_start_pfn:
                                cc.fast_start_pfn = freepage
                            cc.fast_start_pfn = min(cc.fast_start_pfn, freepage)
                        pfn = max(pageblock_start_pfn(freepage), z.start)
                        cc.fast_search_fail = 0
                        found = True
                        break
            order -= 1
        cc.total_migrate_scanned += nr_scanned
        if not found:
            cc.fast_search_fail += 1
            # reinit_migrate_pfn()
            if cc.fast_start_pfn and cc.fast_start_pfn != ULONG_MAX:
                cc.migrate_pfn = cc.fast_start_pfn
                cc.fast_start_pfn = ULONG_MAX
            pfn = cc.migrate_pfn
        return pfn

    def isolate_migratepages(self, cc: RefControl) -> bool:
        """One suitable pageblock per call; True when pages were isolated (§2.4)."""
        z = cc.zone
        low_pfn = cc.migrate_pfn
        fast_find_block = False
        if self.v6:
            low_pfn = self.fast_find_migrateblock(cc)
            fast_find_block = low_pfn != cc.migrate_pfn and not cc.fast_search_fail
        block_start = max(pageblock_start_pfn(low_pfn), z.start)
        block_end = pageblock_end_pfn(low_pfn)
        while block_end <= cc.free_pfn:
            if self.block_valid(z, block_start, block_end):
                if self.v6:
                    first_visit = pageblock_aligned(low_pfn) or low_pfn == z.start
                    if (
                        first_visit
                        and not fast_find_block
                        and not self.isolation_suitable(cc, block_start)
                    ):
                        pass
                    elif self.suitable_migration_source_618(cc, block_start):
                        cc.migrate_pfn = low_pfn
                        low_pfn = self.isolate_migratepages_block(cc, low_pfn, block_end)
                        cc.migrate_pfn = low_pfn
                        break
                    else:
                        self.update_cached_migrate(cc, block_end)
                elif self.isolation_suitable(cc, block_start) and (
                    cc.mode != MIGRATE_ASYNC
                    or self.block_mt(block_start) in (MIGRATE_MOVABLE, MIGRATE_CMA)
                ):
                    low_pfn = self.isolate_migratepages_block(cc, low_pfn, block_end)
                    break
            fast_find_block = False
            low_pfn = block_end
            if self.v6:
                cc.migrate_pfn = low_pfn
            block_start = block_end
            block_end += PAGEBLOCK_NR_PAGES
        if not self.v6:
            cc.migrate_pfn = low_pfn
        return cc.nr_migratepages > 0

    def suitable_migration_source_618(self, cc: RefControl, pfn: int) -> bool:
        if self.compound_order_of(pageblock_start_pfn(pfn)) >= PAGEBLOCK_ORDER:
            return False  # pageblock_skip_persistent()
        if cc.mode != MIGRATE_ASYNC or not cc.direct:
            return True
        block_mt = self.block_mt(pfn)
        if cc.migratetype == MIGRATE_MOVABLE:
            return block_mt in (MIGRATE_MOVABLE, MIGRATE_CMA)
        return block_mt == cc.migratetype

    # -- metrics, suitability and deferral (§4.2, §2.8, §2.10) --------------------------------
    def fragmentation_index(self, z: RefZone, order: int) -> int:
        free_pages = total = suitable = 0
        for o in range(MAX_ORDER):
            n = self.nr_free_blocks(z, o)
            free_pages += n << o
            total += n
            if o >= order:
                suitable += n << (o - order)
        if total == 0:
            return 0
        if suitable:
            return -1000
        return 1000 - (1000 + free_pages * 1000 // (1 << order)) // total

    def fragmentation_score_zone(self, z: RefZone) -> int:
        """extfrag_for_order(zone, COMPACTION_HPAGE_ORDER) (§4.4, §2.13)."""
        order = PAGEBLOCK_ORDER
        free_pages = suitable = 0
        for o in range(MAX_ORDER):
            n = self.nr_free_blocks(z, o)
            free_pages += n << o
            if o >= order:
                suitable += n << (o - order)
        if free_pages == 0:
            return 0
        return (free_pages - (suitable << order)) * 100 // free_pages

    def trace_suitable(self, event: str, z: RefZone, order: int, ret: int) -> None:
        self.emit(
            event, f"node=0 zone={z.name:<8s} order={order} ret={status_name(ret, self.profile)}"
        )

    def compaction_suitable(
        self, z: RefZone, order: int, wmark: int, async_costly_check: bool = False
    ) -> int:
        """4.8 compaction_suitable() (low watermark, traced for every result) or 6.18
        compaction_suit_allocation_order() (SUCCESS untraced, the rest traced inside
        compaction_suitable()). Returns SUCCESS (4.8 PARTIAL), SKIPPED or CONTINUE."""
        threshold = self.sysctl["extfrag_threshold"]
        if not self.v6:
            if order == -1:
                ret = COMPACT_CONTINUE
            elif self.watermark_ok(z, order, z.wmark_low):
                ret = COMPACT_SUCCESS
            elif not self.watermark_ok(z, 0, z.wmark_low + (2 << order)):
                ret = COMPACT_SKIPPED
            else:
                fi = self.fragmentation_index(z, order)
                ret = COMPACT_NOT_SUITABLE_ZONE if 0 <= fi <= threshold else COMPACT_CONTINUE
            self.trace_suitable("mm_compaction_suitable", z, order, ret)
            return COMPACT_SKIPPED if ret == COMPACT_NOT_SUITABLE_ZONE else ret
        if self.watermark_ok(z, order, wmark):
            return COMPACT_SUCCESS
        if async_costly_check and not self.watermark_ok(z, 0, wmark + (2 << order)):
            # costly async request without ALLOC_CMA: SKIPPED before compaction_suitable()
            return COMPACT_SKIPPED
        watermark = wmark + (2 << order)
        if order > PAGE_ALLOC_COSTLY_ORDER:
            watermark += z.wmark_low - z.wmark_min
        suitable = self.watermark_ok(z, 0, watermark)
        if suitable:
            ret = COMPACT_CONTINUE
            if order > PAGE_ALLOC_COSTLY_ORDER:
                fi = self.fragmentation_index(z, order)
                if 0 <= fi <= threshold:
                    suitable = False
                    ret = COMPACT_NOT_SUITABLE_ZONE
        else:
            ret = COMPACT_SKIPPED
        self.trace_suitable("mm_compaction_suitable", z, order, ret)
        return COMPACT_CONTINUE if suitable else COMPACT_SKIPPED

    def trace_defer(self, event: str, z: RefZone, order: int) -> None:
        self.emit(
            event,
            f"node=0 zone={z.name:<8s} order={order} order_failed={z.order_failed} "
            f"consider={z.considered} limit={1 << z.defer_shift}",
        )

    def defer_compaction(self, z: RefZone, order: int) -> None:
        z.considered = 0
        z.defer_shift += 1
        if order < z.order_failed:
            z.order_failed = order
        if z.defer_shift > COMPACT_MAX_DEFER_SHIFT:
            z.defer_shift = COMPACT_MAX_DEFER_SHIFT
        self.trace_defer("mm_compaction_defer_compaction", z, order)

    def compaction_deferred(self, z: RefZone, order: int) -> bool:
        limit = 1 << z.defer_shift
        if order < z.order_failed:
            return False
        z.considered += 1
        if self.v6:
            if z.considered >= limit:
                z.considered = limit
                return False
        else:
            if z.considered > limit:
                z.considered = limit
            if z.considered >= limit:
                return False
        self.trace_defer("mm_compaction_deferred", z, order)
        return True

    def compaction_defer_reset(self, z: RefZone, order: int, alloc_success: bool) -> None:
        if alloc_success:
            z.considered = 0
            z.defer_shift = 0
        if order >= z.order_failed:
            z.order_failed = order + 1
        self.trace_defer("mm_compaction_defer_reset", z, order)

    def compaction_restarting(self, z: RefZone, order: int) -> bool:
        if order < z.order_failed:
            return False
        return z.defer_shift == COMPACT_MAX_DEFER_SHIFT and z.considered >= 1 << z.defer_shift

    # -- compact_zone (§2.3, §2.7) ----------------------------------------------------------------
    def scanners_met(self, cc: RefControl) -> bool:
        return (cc.free_pfn >> PAGEBLOCK_ORDER) <= (cc.migrate_pfn >> PAGEBLOCK_ORDER)

    def reset_cached_positions(self, z: RefZone) -> None:
        z.cached_migrate_pfn = [z.start, z.start]
        z.cached_free_pfn = pageblock_start_pfn(z.end - 1)

    def fallback_claimable(self, z: RefZone, order: int, mt: int) -> bool:
        """find_suitable_fallback(area, order, mt, only_stealable/claimable = true) != -1:
        can_steal_fallback() / should_try_claim_block(), then a non-empty fallback list."""
        if not (order >= PAGEBLOCK_ORDER // 2 or mt in (MIGRATE_UNMOVABLE, 2)):
            return False
        if self.nr_free_blocks(z, order) == 0:
            return False
        return any(z.free_area[order][fmt] for fmt in FALLBACKS[mt])

    def _compact_finished(self, cc: RefControl) -> int:
        z = cc.zone
        if not self.v6 and cc.contended:
            return COMPACT_CONTENDED
        if self.scanners_met(cc):
            self.reset_cached_positions(z)
            if cc.direct:
                z.blockskip_flush = True
            return COMPACT_COMPLETE if cc.whole_zone else COMPACT_PARTIAL_SKIPPED
        if self.v6 and cc.proactive:
            # kswapd is never running here; stop once the zone's own (unweighted) score is
            # at or below the low watermark (§2.13)
            score = self.fragmentation_score_zone(z)
            wmark_low = 100 - self.sysctl["compaction_proactiveness"]
            ret = COMPACT_CONTINUE if score > wmark_low else COMPACT_SUCCESS
            return COMPACT_CONTENDED if cc.contended else ret
        if cc.order == -1:
            return COMPACT_CONTINUE
        if self.v6:
            if not pageblock_aligned(cc.migrate_pfn):
                return COMPACT_CONTINUE
        elif not self.watermark_ok(z, cc.order, z.wmark_low):
            return COMPACT_CONTINUE
        for order in range(cc.order, MAX_ORDER):
            if z.free_area[order][cc.migratetype]:
                return COMPACT_SUCCESS
            if self.fallback_claimable(z, order, cc.migratetype):
                return COMPACT_SUCCESS
        if self.v6 and cc.contended:
            return COMPACT_CONTENDED
        return COMPACT_NO_SUITABLE_PAGE

    def compact_finished(self, cc: RefControl) -> int:
        ret = self._compact_finished(cc)
        self.trace_suitable("mm_compaction_finished", cc.zone, cc.order, ret)
        return COMPACT_CONTINUE if ret == COMPACT_NO_SUITABLE_PAGE else ret

    def drain_local_pages(self, z: RefZone) -> None:
        count = self.pcp_count(z)
        if count:
            self.free_pcppages_bulk(z, count)

    def compact_zone(self, cc: RefControl) -> int:
        z = cc.zone
        cc.total_migrate_scanned = 0
        cc.total_free_scanned = 0
        cc.nr_migratepages = 0
        cc.nr_freepages = 0
        if not self.v6:
            # 4.8 calls compaction_suitable() for every order (order -1: CONTINUE, traced)
            ret = self.compaction_suitable(z, cc.order, z.wmark_low)
            if ret in (COMPACT_SUCCESS, COMPACT_SKIPPED):
                return ret
        elif cc.order != -1:
            # ALLOC_CMA comes with movable requests (gfp_to_alloc_flags_cma, CONFIG_CMA)
            async_costly = (
                cc.order > PAGE_ALLOC_COSTLY_ORDER
                and cc.mode == MIGRATE_ASYNC
                and cc.migratetype != MIGRATE_MOVABLE
            )
            ret = self.compaction_suitable(z, cc.order, cc.wmark, async_costly)
            if ret != COMPACT_CONTINUE:
                return ret
        if self.compaction_restarting(z, cc.order):
            self.reset_isolation_suitable(z)
        start_pfn, end_pfn = z.start, z.end
        sync = 1 if cc.mode != MIGRATE_ASYNC else 0
        cc.fast_start_pfn = 0
        if self.v6 and cc.whole_zone:
            cc.migrate_pfn = start_pfn
            cc.free_pfn = pageblock_start_pfn(end_pfn - 1)
        else:
            cc.migrate_pfn = z.cached_migrate_pfn[sync]
            cc.free_pfn = z.cached_free_pfn
            if cc.free_pfn < start_pfn or cc.free_pfn >= end_pfn:
                cc.free_pfn = pageblock_start_pfn(end_pfn - 1)
                z.cached_free_pfn = cc.free_pfn
            if cc.migrate_pfn < start_pfn or cc.migrate_pfn >= end_pfn:
                cc.migrate_pfn = start_pfn
                z.cached_migrate_pfn = [start_pfn, start_pfn]
            if self.v6:
                if cc.migrate_pfn <= z.init_migrate_pfn:
                    cc.whole_zone = True
            elif cc.migrate_pfn == start_pfn:
                cc.whole_zone = True
        cc.last_migrated_pfn = 0
        last_migrated_pfn = 0  # 6.18 keeps it in a local
        update_cached = not sync and z.cached_migrate_pfn[0] == z.cached_migrate_pfn[1]
        self.emit(
            "mm_compaction_begin",
            f"zone_start={start_pfn:#x} migrate_pfn={cc.migrate_pfn:#x} free_pfn={cc.free_pfn:#x} "
            f"zone_end={end_pfn:#x}, mode={mode_trace(cc.mode)}",
        )
        while True:
            ret = self.compact_finished(cc)
            if ret != COMPACT_CONTINUE:
                break
            if self.v6:
                cc.finish_pageblock = pageblock_start_pfn(last_migrated_pfn) == (
                    pageblock_start_pfn(cc.migrate_pfn)
                )
            aborted = False
            isolate_none = False
            while True:  # the rescan label
                if not self.isolate_migratepages(cc):
                    if self.v6 and update_cached:
                        z.cached_migrate_pfn[1] = z.cached_migrate_pfn[0]
                    isolate_none = True
                    break  # ISOLATE_NONE -> goto check_drain
                if self.v6:
                    update_cached = False
                    last_migrated_pfn = max(z.start, pageblock_start_pfn(cc.migrate_pfn - 1))
                nr_all = cc.nr_migratepages
                if self.v6:
                    err, nr_succeeded = self.migrate_pages_618(cc)
                    self.emit(
                        "mm_compaction_migratepages",
                        f"nr_migrated={nr_succeeded} nr_failed={nr_all - nr_succeeded}",
                    )
                else:
                    err, _ = self.migrate_pages_48(cc)
                    nr_failed = err if err >= 0 else len(cc.migratepages)
                    self.emit(
                        "mm_compaction_migratepages",
                        f"nr_migrated={nr_all - nr_failed} nr_failed={nr_failed}",
                    )
                cc.nr_migratepages = 0
                if err:
                    self.putback_movable_pages(cc)
                    if err == ENOMEM and not self.scanners_met(cc):
                        ret = COMPACT_CONTENDED
                        aborted = True
                        break
                    if self.v6:
                        if (
                            not pageblock_aligned(cc.migrate_pfn)
                            and not cc.ignore_skip_hint
                            and not cc.finish_pageblock
                            and cc.mode < MIGRATE_SYNC
                        ):
                            cc.finish_pageblock = True
                            if cc.order == PAGEBLOCK_ORDER:
                                last_migrated_pfn = 0
                            continue  # goto rescan
                    elif cc.direct and cc.mode == MIGRATE_ASYNC:
                        cc.migrate_pfn = block_end_pfn(cc.migrate_pfn - 1, cc.order)
                        cc.last_migrated_pfn = 0
                break
            if aborted:
                break
            if (
                not isolate_none
                and self.v6
                and self.capc is not None
                and self.capc["page"] is not None
            ):
                ret = COMPACT_SUCCESS  # "Stop if a page has been captured"
                break
            # check_drain
            last = last_migrated_pfn if self.v6 else cc.last_migrated_pfn
            if cc.order > 0 and last:
                if last < block_start_pfn(cc.migrate_pfn, cc.order):
                    self.drain_local_pages(z)
                    last_migrated_pfn = 0
                    cc.last_migrated_pfn = 0
        # out: release the isolated free pages, move the cached free pfn back
        if cc.nr_freepages > 0:
            high = self.release_freepages(cc)
            cc.nr_freepages = 0
            free_pfn = pageblock_start_pfn(high)
            if free_pfn > z.cached_free_pfn:
                z.cached_free_pfn = free_pfn
        if self.v6:
            self.count("compact_migrate_scanned", cc.total_migrate_scanned)
            self.count("compact_free_scanned", cc.total_free_scanned)
        self.emit(
            "mm_compaction_end",
            f"zone_start={start_pfn:#x} migrate_pfn={cc.migrate_pfn:#x} free_pfn={cc.free_pfn:#x} "
            f"zone_end={end_pfn:#x}, mode={mode_trace(cc.mode)} status={status_name(ret, self.profile)}",
        )
        assert not cc.migratepages
        return ret

    def reset_isolation_suitable_48(self, z: RefZone) -> None:
        """4.8 __reset_isolation_suitable(): clear every skip bit, reset the cached pfns."""
        z.blockskip_flush = False
        for pfn in range(z.start, z.end, PAGEBLOCK_NR_PAGES):
            self.pb_skip[pfn >> PAGEBLOCK_ORDER] = False
        self.reset_cached_positions(z)

    def compact_memory(self) -> None:
        """A write to /proc/sys/vm/compact_memory: compact_node() over the populated zones,
        order -1, MIGRATE_SYNC, ignore_skip_hint (6.18 also whole_zone) (§2.2)."""
        for z in self.zones:
            if not z.present:
                continue
            if not self.v6:
                self.reset_isolation_suitable_48(z)
            cc = RefControl(
                zone=z,
                order=-1,
                mode=MIGRATE_SYNC,
                migratetype=MIGRATE_UNMOVABLE,
                ignore_skip_hint=True,
                whole_zone=self.v6,
            )
            self.compact_zone(cc)
            assert not cc.freepages and not any(cc.freepages_by_order)

    def proactive_compact_node(self) -> None:
        """6.18 compact_node(pgdat, proactive=true): order -1, SYNC_LIGHT, ignore_skip_hint,
        whole_zone, one compact_control for all zones (§2.2, §2.13)."""
        cc = RefControl(
            zone=self.zones[0],
            order=-1,
            mode=MIGRATE_SYNC_LIGHT,
            migratetype=MIGRATE_UNMOVABLE,
            ignore_skip_hint=True,
            whole_zone=True,
            proactive=True,
        )
        for z in self.zones:
            if not z.present:
                continue
            cc.zone = z
            self.compact_zone(cc)
            self.count("compact_daemon_migrate_scanned", cc.total_migrate_scanned)
            self.count("compact_daemon_free_scanned", cc.total_free_scanned)

    # -- kcompactd (§2.12) ------------------------------------------------------------------------
    def wmark_for_kcompactd(self, z: RefZone) -> int:
        return z.wmark_min if self.v6 else z.wmark_low

    def kcompactd_node_suitable(self) -> bool:
        for z in self.zones:
            if not z.present:
                continue
            wmark = self.wmark_for_kcompactd(z)
            if self.compaction_suitable(z, self.kcompactd_max_order, wmark) == COMPACT_CONTINUE:
                return True
        return False

    def wakeup_kcompactd(self, order: int) -> bool:
        """wakeup_kcompactd() with kcompactd asleep. Returns True if it was woken."""
        if order <= 0:
            return False
        self.kcompactd_max_order = max(self.kcompactd_max_order, order)
        if not self.kcompactd_node_suitable():
            return False
        self.emit(
            "mm_compaction_wakeup_kcompactd",
            f"nid=0 order={order} classzone_idx={self.zones[-1].name:<8s}",
        )
        return True

    def kcompactd_do_work(self) -> None:
        self.kcompactd_woken = False
        order = self.kcompactd_max_order
        top = self.zones[-1].name
        self.emit("mm_compaction_kcompactd_wake", f"nid=0 order={order} classzone_idx={top:<8s}")
        self.count("compact_daemon_wake")
        # one compact_control for every zone, as in the kernel
        cc = RefControl(
            zone=self.zones[0],
            order=order,
            mode=MIGRATE_SYNC_LIGHT,
            migratetype=MIGRATE_UNMOVABLE,  # 4.8 gfp_mask 0, 6.18 GFP_KERNEL
            ignore_skip_hint=not self.v6,
            whole_zone=False,
            search_order=order,
        )
        for z in self.zones:
            if not z.present:
                continue
            if self.compaction_deferred(z, order):
                continue
            cc.wmark = self.wmark_for_kcompactd(z)
            if self.compaction_suitable(z, order, cc.wmark) != COMPACT_CONTINUE:
                continue
            cc.zone = z
            if not self.v6:
                cc.freepages = []
                cc.migratepages = []
            status = self.compact_zone(cc)
            if self.v6:
                if status == COMPACT_SUCCESS:
                    self.compaction_defer_reset(z, order, False)
                elif status in (COMPACT_PARTIAL_SKIPPED, COMPACT_COMPLETE):
                    self.drain_local_pages(z)
                    self.defer_compaction(z, order)
                self.count("compact_daemon_migrate_scanned", cc.total_migrate_scanned)
                self.count("compact_daemon_free_scanned", cc.total_free_scanned)
            elif self.watermark_ok(z, order, z.wmark_low):
                self.compaction_defer_reset(z, order, False)
            elif status in (COMPACT_PARTIAL_SKIPPED, COMPACT_COMPLETE):
                self.defer_compaction(z, order)
        if self.kcompactd_max_order <= order:
            self.kcompactd_max_order = 0
        self.emit("mm_compaction_kcompactd_sleep", "nid=0")

    # -- direct compaction (§2.2) ------------------------------------------------------------------
    def try_to_compact_pages(self, order: int, migratetype: int, prio: int) -> int:
        """try_to_compact_pages() for one priority: zones from the highest down, deferral
        (6.18: not at MIN_COMPACT_PRIORITY), compact_zone_order(), stop when the
        allocation should succeed (4.8: low watermark ok; 6.18: COMPACT_SUCCESS)."""
        prio_async = 2 if self.v6 else 1
        # GFP_TRANSHUGE for movable (a THP fault with defrag), GFP_KERNEL | __GFP_COMP |
        # __GFP_NOWARN (| __GFP_RECLAIMABLE) otherwise
        gfp = {
            MIGRATE_MOVABLE: ("0x4342ca", "GFP_TRANSHUGE"),
            MIGRATE_UNMOVABLE: ("0x24042c0", "GFP_KERNEL|__GFP_NOWARN|__GFP_COMP"),
            MIGRATE_RECLAIMABLE: (
                "0x24042d0",
                "GFP_KERNEL|__GFP_RECLAIMABLE|__GFP_NOWARN|__GFP_COMP",
            ),
        }[migratetype][self.v6]
        self.emit(
            "mm_compaction_try_to_compact_pages", f"order={order} gfp_mask={gfp} priority={prio}"
        )
        rc = COMPACT_SKIPPED
        for z in reversed(self.zones):
            if not z.present:
                continue
            if (not self.v6 or prio > 0) and self.compaction_deferred(z, order):
                rc = max(rc, COMPACT_DEFERRED)
                continue
            full = self.v6 and prio == 0  # MIN_COMPACT_PRIORITY = COMPACT_PRIO_SYNC_FULL
            cc = RefControl(
                zone=z,
                order=order,
                mode=MIGRATE_ASYNC if prio == prio_async else MIGRATE_SYNC_LIGHT,
                migratetype=migratetype,
                ignore_skip_hint=full,
                whole_zone=full,
                direct=True,
                memalloc=True,
                search_order=order,
                wmark=z.wmark_min if self.v6 else z.wmark_low,
                ignore_block_suitable=full,
            )
            if self.v6:
                self.capc = {"zone": z, "order": order, "mt": migratetype, "page": None}
            status = self.compact_zone(cc)
            if self.v6:
                captured = self.capc["page"]
                self.capc = None
                if captured is not None:
                    status = COMPACT_SUCCESS  # compact_zone_order(): *capture
                    self.captured.append(captured)
            rc = max(rc, status)
            if self.v6:
                stop = status == COMPACT_SUCCESS
            else:
                stop = self.watermark_ok(z, order, z.wmark_low)
            if stop:
                self.compaction_defer_reset(z, order, False)
                break
            if prio != prio_async and status in (COMPACT_COMPLETE, COMPACT_PARTIAL_SKIPPED):
                self.defer_compaction(z, order)
        return rc

    def kcompactd_wake(self, order: int) -> None:
        """A kcompactd_wake timeline event: wake the (sleeping) daemon, let it work."""
        if self.wakeup_kcompactd_pending(order):
            self.kcompactd_do_work()

    # -- __reset_isolation_suitable (§2.11, §2.10) ---------------------------------------------
    # 6.18 is written from the 6.x mm/compaction.c (__reset_isolation_suitable,
    # __reset_isolation_pfn, pageblock_skip_persistent); the spec gives the outline only.
    def reset_isolation_suitable(self, z: RefZone) -> None:
        """__reset_isolation_suitable(zone), both profiles."""
        if self.v6:
            self.reset_isolation_suitable_618(z)
        else:
            self.reset_isolation_suitable_48(z)

    def compound_order_of(self, pfn: int) -> int:
        """compound_order(compound_head(page)) for a page of a compound page, else -1.
        The head is the nearest page below that is not a tail, so an order-10 page is
        found from the tail pages of its second pageblock too."""
        if self.kind[pfn] not in (K_COMPOUND_HEAD, K_COMPOUND_TAIL):
            return -1
        head = pfn
        while self.kind[head] == K_COMPOUND_TAIL:
            head -= 1
        return self.aux[head]

    def sample_block_618(self, z: RefZone, pfn: int, want_lru: bool, want_free: bool) -> bool:
        """The sampling half of __reset_isolation_pfn(): look at every 8th page
        (1 << PAGE_ALLOC_COSTLY_ORDER) of pfn's pageblock, clipped to the zone, and clear
        the block's skip bit at the first LRU page (if want_lru) or free buddy page (if
        want_free). The sample starts at the block's first page, or at pfn itself when that
        page is a hole; a hole at the block's last page gives up."""
        first = max(pageblock_start_pfn(pfn), z.start)
        if self.kind[first] == K_HOLE:
            first = pfn
        last = min(pageblock_end_pfn(first) - 1, z.end - 1)
        if self.kind[last] == K_HOLE:
            return False
        for page in range(first, last + 1, 1 << PAGE_ALLOC_COSTLY_ORDER):
            lru = bool(self.flags[page] & F_LRU)
            free = self.is_buddy(page)
            if (want_lru and lru) or (want_free and free):
                self.pb_skip[pfn >> PAGEBLOCK_ORDER] = False
                return True
        return False

    def block_can_restart_618(self, z: RefZone, pfn: int, want_lru: bool, want_free: bool) -> bool:
        """__reset_isolation_pfn(zone, pfn, check_source=want_lru, check_target=want_free)."""
        if self.kind[pfn] == K_HOLE or not z.start <= pfn < z.end:
            return False  # no online page, or another zone's
        if self.compound_order_of(pfn) >= PAGEBLOCK_ORDER:
            return False  # pageblock_skip_persistent(): the bit stays until it is freed
        block = pfn >> PAGEBLOCK_ORDER
        if want_lru and want_free and not self.pb_skip[block]:
            return True  # nothing to clear, and no sample needed
        if want_free and not want_lru and self.pb_mt[block] != MIGRATE_MOVABLE:
            return False  # the free scanner does not restart in a non-movable block
        return self.sample_block_618(z, pfn, want_lru, want_free)

    def reset_isolation_suitable_618(self, z: RefZone) -> None:
        """6.18 __reset_isolation_suitable(): nothing unless compact_blockskip_flush is set
        (it is then cleared). One pageblock from each end per step, until they meet: from
        the bottom (pfns zone_start + k*512) the first block with a sampled LRU page becomes
        the migration scanner's restart point (init and both cached migrate pfns); from the
        top (pfns zone_end - 1 - k*512) the first MOVABLE block with a sampled free page
        becomes the free scanner's (init and cached free pfn). Each side, once it has its
        restart point, clears the skip bit of every further block where the sample shows
        either kind of page. Without two restart points both cached positions go to where
        the walk stopped (the kernel tests reset_migrate >= reset_free, which also covers a
        migration restart point not below the free one; the walk never finds one)."""
        if not z.blockskip_flush:
            return
        z.blockskip_flush = False
        bottom = z.start
        top = z.end - 1
        migrate_restart = None
        free_restart = None
        while bottom < top:
            found = migrate_restart is not None
            if self.block_can_restart_618(z, bottom, True, found) and not found:
                migrate_restart = bottom
                z.init_migrate_pfn = bottom
                z.cached_migrate_pfn = [bottom, bottom]
            found = free_restart is not None
            if self.block_can_restart_618(z, top, found, True) and not found:
                free_restart = top
                z.init_free_pfn = top
                z.cached_free_pfn = top
            bottom += PAGEBLOCK_NR_PAGES
            top -= PAGEBLOCK_NR_PAGES
        if migrate_restart is None or free_restart is None or migrate_restart >= free_restart:
            z.cached_migrate_pfn = [bottom, bottom]
            z.cached_free_pfn = top

    # -- the workload: the engine's timeline actions, one after the other ----------------------
    def run_timeline(self, events: list[dict]) -> None:
        """The scenario's timeline, each action and the compaction it starts run to the
        end before the next (the test spaces events so that the engine does the same)."""
        for ev in sorted(events, key=lambda e: e["at_ms"]):
            a = ev["action"]
            if a == "compact_memory":
                self.compact_memory()
            elif a == "alloc":
                mt = MT_BY_NAME[ev["type"]]
                for _ in range(ev["count"]):
                    if self.alloc_one(ev["order"], mt, KIND_FOR_MT[mt]) < 0:
                        break
            elif a == "free":
                self.free_random(ev["count"], FREE_KINDS[ev["type"]], None)
            elif a in ("balloon_inflate", "driver_grow"):
                drv = next(d for d in self.drivers if d.name == ev["driver"])
                for _ in range(ev["pages"]):
                    pfn = self.alloc_one(0, MIGRATE_MOVABLE, K_DRIVER)
                    if pfn < 0:
                        break
                    self.aux[pfn] = drv.id
                    self.flags[pfn] = F_MOVABLE  # __SetPageMovable
                    drv.pages += 1
            elif a == "balloon_deflate":
                drv = next(d for d in self.drivers if d.name == ev["driver"])
                self.free_random(ev["pages"], (K_DRIVER,), drv)
            elif a == "alloc_high_order":
                self.alloc_high_order(ev["order"], MT_BY_NAME[ev["type"]], ev["count"])
            elif a == "kcompactd_wake":
                if self.wakeup_kcompactd_pending(ev["order"]):
                    self.kcompactd_do_work()
            elif a == "sysctl" and ev["name"] in (
                "extfrag_threshold",
                "compact_unevictable_allowed",
            ):
                self.sysctl[ev["name"]] = ev["value"]
            elif a == "inject":
                drv = next(d for d in self.drivers if d.name == ev["driver"])
                inj = ev["injection"]
                assert inj["start_ms"] is None and inj["end_ms"] is None, "no time windows"
                drv.injection = Injection(
                    probability=float(inj["probability"]),
                    errno=ERRNO_BY_NAME[inj["errno"]],
                    interval=int(inj["interval"]),
                    times=int(inj["times"]),
                    space=int(inj["space"]),
                    pfn_start=inj["pfn_start"],
                    pfn_end=inj["pfn_end"],
                )
            else:
                raise NotImplementedError(a)

    def free_random(self, count: int, kinds: tuple, drv) -> None:
        """Free `count` random pages of the given kinds, drawn as the engine draws them."""
        kind = np.array(self.kind, dtype=np.uint8)
        flags = np.array(self.flags, dtype=np.uint8)
        mask = np.isin(kind, kinds) & ((flags & F_ISOLATED) == 0)
        if drv is not None:
            mask &= np.array(self.aux, dtype=np.uint8) == drv.id
        cand = np.flatnonzero(mask)
        if not len(cand):
            return
        for pfn in self.rng.choice(cand, size=min(count, len(cand)), replace=False).tolist():
            self.free_page(pfn, 0)
            if drv is not None:
                drv.pages -= 1

    def wakeup_kcompactd_pending(self, order: int) -> bool:
        """wakeup_kcompactd() where a woken, not yet run kcompactd is not woken again."""
        if self.kcompactd_woken:
            if order > 0:
                self.kcompactd_max_order = max(self.kcompactd_max_order, order)
            return False
        self.kcompactd_woken = self.wakeup_kcompactd(order)
        return self.kcompactd_woken

    def kswapd_sleep(self, order: int) -> None:
        """kswapd_try_to_sleep(): reset_isolation_suitable(pgdat), then wakeup_kcompactd()."""
        for z in self.zones:
            if z.present and z.blockskip_flush:
                self.reset_isolation_suitable(z)
        self.wakeup_kcompactd_pending(order)

    def alloc_high_order(self, order: int, mt: int, count: int) -> None:
        """The allocation slow path as the engine models it (§2.2): fast path, then kswapd
        and kcompactd woken, direct compaction from COMPACT_PRIO_ASYNC with the engine's
        should_compact_retry(); a woken kcompactd runs after the allocating task."""
        kind = KIND_FOR_MT[mt]
        while count and self.alloc_one(order, mt, kind) >= 0:
            count -= 1
        if count:
            self.kswapd_sleep(order)
            prio_async = 2 if self.v6 else 1
            prio, retries = prio_async, 0
            while True:
                before = len(self.captured)
                rc = self.try_to_compact_pages(order, mt, prio)
                captured = self.captured[-1] if len(self.captured) > before else None
                stalled = rc != COMPACT_SKIPPED if self.v6 else rc > COMPACT_DEFERRED
                pfn = -1
                if stalled:
                    self.count("compact_stall")
                    if captured is not None:
                        pfn = captured
                        self.prep_new_page(pfn, order, kind)
                    else:
                        pfn = self.alloc_one(order, mt, kind)
                    if pfn >= 0:
                        z = self.zone_of(pfn)
                        z.blockskip_flush = False
                        self.compaction_defer_reset(z, order, True)
                        self.count("compact_success")
                    else:
                        self.count("compact_fail")
                if pfn >= 0:
                    count -= 1
                    if not count:
                        break
                    prio, retries = prio_async, 0
                    continue
                min_prio = 1 if (self.v6 and order > PAGE_ALLOC_COSTLY_ORDER) else 0
                retries += 1 if rc == COMPACT_SUCCESS else 0
                max_retries = 16 // 4 if order > PAGE_ALLOC_COSTLY_ORDER else 16
                retry = True
                if (
                    rc
                    in (
                        COMPACT_COMPLETE,
                        COMPACT_SKIPPED,
                        COMPACT_DEFERRED,
                        COMPACT_CONTENDED,
                        COMPACT_PARTIAL_SKIPPED,
                    )
                    or retries > max_retries
                ):
                    retry = prio > min_prio
                    if retry:
                        prio -= 1
                        retries = 0
                if not retry:
                    break
                self.kswapd_sleep(order)
        if self.kcompactd_woken:
            self.kcompactd_do_work()

    # -- views for comparison ------------------------------------------------------------------
    def free_lists(self) -> dict[tuple[str, int, int], list[int]]:
        return {
            (z.name, o, mt): list(z.free_area[o][mt])
            for z in self.zones
            for o in range(MAX_ORDER)
            for mt in range(6)
        }

    def pcp_lists(self) -> dict[tuple[str, int], list[int]]:
        return {(z.name, mt): list(z.pcp[mt]) for z in self.zones for mt in range(MIGRATE_PCPTYPES)}


def engine_trace(sim: Simulation) -> list[tuple[str, str]]:
    """The engine's trace lines without the ftrace prefix (timestamps are its cost model)."""
    out = []
    for line in sim.k.trace_lines:
        m = TRACE_RE.search(line)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def engine_violations(sim: Simulation) -> list[tuple[int, str]]:
    return [(v["pfn"], v["mode"]) for v in sim.k.violations]


def engine_free_lists(sim: Simulation) -> dict[tuple[str, int, int], list[int]]:
    mem = sim.k.mem
    return {
        (z.name, o, mt): mem.free_list(z, o, mt)
        for z in mem.zones
        for o in range(MAX_ORDER)
        for mt in range(6)
    }


def engine_pcp_lists(sim: Simulation) -> dict[tuple[str, int], list[int]]:
    return {
        (z.name, mt): list(z.pcp_lists[mt])
        for z in sim.k.mem.zones
        for mt in range(MIGRATE_PCPTYPES)
    }


def compact_memory_reference(sim: Simulation) -> ReferenceKernel:
    """Run compact_memory in the reference, starting from `sim`'s current (freshly built)
    state. `sim` itself is not modified."""
    ref = ReferenceKernel(sim)
    ref.compact_memory()
    return ref


def kcompactd_reference(sim: Simulation, order: int) -> ReferenceKernel:
    """Run a kcompactd wake-up for `order` in the reference from `sim`'s current state."""
    ref = ReferenceKernel(sim)
    ref.kcompactd_wake(order)
    return ref


def run_reference(scenario_dict: dict, seed: int, profile: str) -> float:
    """Build the scenario and time a full compact_memory in the reference (seconds).

    The benchmark's "engine vs per-page reference" ratio divides this by the engine's time
    for the same scenario, seed and profile."""
    sim = Simulation(Scenario.from_dict(scenario_dict), seed=seed, profile=profile)
    ref = ReferenceKernel(sim)
    t0 = time.perf_counter()
    ref.compact_memory()
    return time.perf_counter() - t0


__all__ = [
    "RULES",
    "ReferenceKernel",
    "compact_memory_reference",
    "engine_free_lists",
    "engine_pcp_lists",
    "engine_trace",
    "engine_violations",
    "kcompactd_reference",
    "run_reference",
]
