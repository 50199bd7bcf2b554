"""compact_zone() and its scanners, as a resumable state machine (kernel-spec §2).

A compaction run is a CompactControl plus a phase. Each tick does one iteration of
compact_zone()'s main loop, split in two so viewers can see pages isolated before they
move: phase "isolate" (compact_finished + isolate_migratepages) then phase "migrate"
(migrate_pages + putback + the drain check). The per-pfn rules of the two scanners are
applied a pageblock at a time with numpy; Python only visits the pfns whose handling is
sequential (free block heads, compound heads, driver pages, failures under
skip_on_failure).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .constants import (
    COMPACT_CLUSTER_MAX,
    COMPACT_COMPLETE,
    COMPACT_CONTENDED,
    COMPACT_CONTINUE,
    COMPACT_MAX_DEFER_SHIFT,
    COMPACT_NO_SUITABLE_PAGE,
    COMPACT_NOT_SUITABLE_ZONE,
    COMPACT_PARTIAL_SKIPPED,
    COMPACT_SKIPPED,
    COMPACT_SUCCESS,
    COMPACTION_HPAGE_ORDER,
    ENOMEM,
    F_BUDDY,
    F_DIRTY,
    F_ISOLATED,
    F_LOCKED,
    F_LRU,
    F_MOVABLE,
    F_UNEVICTABLE,
    F_WRITEBACK,
    K_ANON,
    K_COMPOUND_HEAD,
    K_COMPOUND_TAIL,
    K_DRIVER,
    K_FILE,
    K_HOLE,
    K_TARGET,
    MAX_ORDER,
    MIGRATE_ASYNC,
    MIGRATE_CMA,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_SYNC,
    MR_COMPACTION,
    PAGE_ALLOC_COSTLY_ORDER,
    PAGEBLOCK_NR_PAGES,
    PAGEBLOCK_ORDER,
    mode_trace,
    status_name,
)
from .memory import Zone, extfrag_for_order, fragmentation_index
from .migrate import migrate_pages

if TYPE_CHECKING:
    from .kernel import Kernel

ISOLATE_ABORT, ISOLATE_NONE, ISOLATE_SUCCESS = 0, 1, 2
FAST_START_DONE = -1  # cc->fast_start_pfn = ULONG_MAX: reinit_migrate_pfn() already used it


@dataclass
class CompactControl:
    zone: int
    order: int
    mode: int
    migratetype: int
    source: str  # "compact_memory" | "direct" | "kcompactd" | "proactive"
    direct: bool = False
    whole_zone: bool = False
    ignore_skip_hint: bool = False
    ignore_block_suitable: bool = False
    proactive: bool = False
    memalloc: bool = False  # PF_MEMALLOC: direct compaction
    wmark: str = "low"
    migrate_pfn: int = 0
    free_pfn: int = 0
    last_migrated_pfn: int = 0
    migratepages: list[int] = field(default_factory=list)
    freepages: deque = field(default_factory=deque)  # 4.8: order-0 pfns, head first
    freepages_618: list[deque] = field(default_factory=lambda: [deque() for _ in range(MAX_ORDER)])
    nr_freepages: int = 0
    nr_migratepages: int = 0
    contended: bool = False
    finish_pageblock: bool = False
    fast_search_fail: int = 0
    fast_start_pfn: int = 0
    search_order: int = 0
    total_migrate_scanned: int = 0
    total_free_scanned: int = 0
    update_cached: bool = False
    phase: str = "begin"
    result: int = COMPACT_CONTINUE
    captured: int = -1
    rescan: bool = False

    def __post_init__(self) -> None:
        # cc->search_order is set where the compact_control is made (kcompactd_do_work(),
        # compact_zone_order()), not by compact_zone(): kcompactd carries it across zones
        self.search_order = self.order

    @property
    def sync(self) -> int:
        return 1 if self.mode != MIGRATE_ASYNC else 0


def pageblock_start(pfn: int) -> int:
    return pfn & ~(PAGEBLOCK_NR_PAGES - 1)


def pageblock_end(pfn: int) -> int:
    return pageblock_start(pfn) + PAGEBLOCK_NR_PAGES


def block_start_pfn(pfn: int, order: int) -> int:
    return pfn & ~((1 << order) - 1) if order > 0 else pfn


def block_end_pfn(pfn: int, order: int) -> int:
    return block_start_pfn(pfn, order) + (1 << order) if order > 0 else pfn + 1


def scanners_met(cc: CompactControl) -> bool:
    return (cc.free_pfn >> PAGEBLOCK_ORDER) <= (cc.migrate_pfn >> PAGEBLOCK_ORDER)


class Compactor:
    """Compaction logic bound to a kernel. Stateless apart from the kernel and the cc."""

    # the migrate scanner skips free blocks in bulk when it expects to pass at least this
    # many (tests set 0 to take the bulk path everywhere)
    bulk_skip_min_heads = 16

    def __init__(self, k: Kernel) -> None:
        self.k = k
        self.mem = k.mem
        self.v6 = k.v6

    # -- metrics --------------------------------------------------------------------
    def fragindex(self, z: Zone, order: int) -> int:
        fp, total, suitable = self.mem.contig_info(z, order)
        return fragmentation_index(fp, total, suitable, order)

    def fragmentation_score_zone(self, z: Zone) -> int:
        fp, _total, suitable = self.mem.contig_info(z, COMPACTION_HPAGE_ORDER)
        return extfrag_for_order(fp, suitable, COMPACTION_HPAGE_ORDER)

    def fragmentation_score_node(self) -> int:
        node_present = sum(z.present for z in self.mem.zones)
        score = 0
        for z in self.mem.zones:
            if z.present:
                score += z.present * self.fragmentation_score_zone(z) // (node_present + 1)
        return score

    def score_wmark(self, low: bool) -> int:
        wmark_low = 100 - self.k.sysctl["compaction_proactiveness"]
        leeway = min(10, wmark_low // 2)
        return wmark_low if low else min(wmark_low + leeway, 100)

    def wmark(self, z: Zone, name: str) -> int:
        return {"min": z.wmark_min, "low": z.wmark_low, "high": z.wmark_high}[name]

    # -- traces ---------------------------------------------------------------------------
    def _trace_zone(self, event: str, z: Zone, order: int, ret: int) -> None:
        self.k.trace(
            event, f"node=0 zone={z.name:<8s} order={order} ret={status_name(ret, self.k.profile)}"
        )

    def _trace_defer(self, event: str, z: Zone, order: int) -> None:
        self.k.trace(
            event,
            f"node=0 zone={z.name:<8s} order={order} order_failed={z.compact_order_failed} "
            f"consider={z.compact_considered} limit={1 << z.compact_defer_shift}",
        )

    # -- deferral (§2.10) --------------------------------------------------------------------
    def defer_compaction(self, z: Zone, order: int) -> None:
        z.compact_considered = 0
        z.compact_defer_shift += 1
        if order < z.compact_order_failed:
            z.compact_order_failed = order
        if z.compact_defer_shift > COMPACT_MAX_DEFER_SHIFT:
            z.compact_defer_shift = COMPACT_MAX_DEFER_SHIFT
        self._trace_defer("mm_compaction_defer_compaction", z, order)

    def compaction_deferred(self, z: Zone, order: int) -> bool:
        limit = 1 << z.compact_defer_shift
        if order < z.compact_order_failed:
            return False
        z.compact_considered += 1
        if self.v6:
            if z.compact_considered >= limit:
                z.compact_considered = limit
                return False
        else:
            if z.compact_considered > limit:
                z.compact_considered = limit
            if z.compact_considered >= limit:
                return False
        self._trace_defer("mm_compaction_deferred", z, order)
        return True

    def compaction_defer_reset(self, z: Zone, order: int, alloc_success: bool) -> None:
        if alloc_success:
            z.compact_considered = 0
            z.compact_defer_shift = 0
        if order >= z.compact_order_failed:
            z.compact_order_failed = order + 1
        self._trace_defer("mm_compaction_defer_reset", z, order)

    def compaction_restarting(self, z: Zone, order: int) -> bool:
        if order < z.compact_order_failed:
            return False
        return (
            z.compact_defer_shift == COMPACT_MAX_DEFER_SHIFT
            and z.compact_considered >= 1 << z.compact_defer_shift
        )

    # -- suitability (§2.8) ---------------------------------------------------------------------
    def compaction_suitable(
        self,
        z: Zone,
        order: int,
        wmark: str = "low",
        trace: bool = True,
        async_no_cma: bool = False,
    ) -> int:
        """4.8 compaction_suitable(); 6.18 compaction_suit_allocation_order(). Returns a result."""
        if order == -1:
            return COMPACT_CONTINUE
        mem = self.mem
        mark = self.wmark(z, wmark)
        if mem.watermark_ok(z, order, mark):
            # no compaction needed (4.8 COMPACT_PARTIAL): 4.8 compaction_suitable() traces
            # whatever __compaction_suitable() returned; 6.18 returns before tracing
            if trace and not self.v6:
                self._trace_zone("mm_compaction_suitable", z, order, COMPACT_SUCCESS)
            return COMPACT_SUCCESS
        if not self.v6:
            if not mem.watermark_ok(z, 0, mark + (2 << order)):
                ret = COMPACT_SKIPPED
            else:
                fi = self.fragindex(z, order)
                ret = (
                    COMPACT_NOT_SUITABLE_ZONE
                    if 0 <= fi <= self.k.sysctl["extfrag_threshold"]
                    else COMPACT_CONTINUE
                )
            if trace:
                self._trace_zone("mm_compaction_suitable", z, order, ret)
            return COMPACT_SKIPPED if ret == COMPACT_NOT_SUITABLE_ZONE else ret
        if async_no_cma and order > PAGE_ALLOC_COSTLY_ORDER:
            # costly async request without ALLOC_CMA: an untraced SKIPPED before
            # compaction_suitable() (6.18 compaction_suit_allocation_order())
            if not mem.watermark_ok(z, 0, mark + (2 << order)):
                return COMPACT_SKIPPED
        gap = mark + (2 << order)
        if order > PAGE_ALLOC_COSTLY_ORDER:
            gap += z.wmark_low - z.wmark_min
        if not mem.watermark_ok(z, 0, gap):
            ret = COMPACT_SKIPPED
        else:
            ret = COMPACT_CONTINUE
            if order > PAGE_ALLOC_COSTLY_ORDER:
                fi = self.fragindex(z, order)
                if 0 <= fi <= self.k.sysctl["extfrag_threshold"]:
                    ret = COMPACT_NOT_SUITABLE_ZONE
        if trace:
            self._trace_zone("mm_compaction_suitable", z, order, ret)
        return COMPACT_CONTINUE if ret == COMPACT_CONTINUE else COMPACT_SKIPPED

    # -- skip bits (§2.11) -------------------------------------------------------------------
    def isolation_suitable(self, cc: CompactControl, pfn: int) -> bool:
        if cc.ignore_skip_hint:
            return True
        return not self.mem.pb_skip[pfn >> PAGEBLOCK_ORDER]

    def reset_cached_positions(self, z: Zone) -> None:
        z.compact_cached_migrate_pfn = [z.start, z.start]
        z.compact_cached_free_pfn = pageblock_start(z.end - 1)

    def reset_isolation_suitable(self, z: Zone) -> None:
        """__reset_isolation_suitable()."""
        mem = self.mem
        mem.settle()
        b0, b1 = z.start >> PAGEBLOCK_ORDER, (z.end - 1 >> PAGEBLOCK_ORDER) + 1
        if not self.v6:
            z.compact_blockskip_flush = False
            mem.pb_skip[b0:b1] = False
            self.reset_cached_positions(z)
            return
        if not z.compact_blockskip_flush:
            return
        z.compact_blockskip_flush = False
        migrate_pfn = z.start
        free_pfn = z.end - 1
        reset_migrate = free_pfn
        reset_free = migrate_pfn
        source_set = free_set = False
        while migrate_pfn < free_pfn:
            if (
                self._reset_isolation_pfn(z, migrate_pfn, True, source_set)
                and migrate_pfn < reset_migrate
            ):
                source_set = True
                reset_migrate = migrate_pfn
                z.compact_init_migrate_pfn = reset_migrate
                z.compact_cached_migrate_pfn = [reset_migrate, reset_migrate]
            if self._reset_isolation_pfn(z, free_pfn, free_set, True) and free_pfn > reset_free:
                free_set = True
                reset_free = free_pfn
                z.compact_init_free_pfn = reset_free
                z.compact_cached_free_pfn = reset_free
            migrate_pfn += PAGEBLOCK_NR_PAGES
            free_pfn -= PAGEBLOCK_NR_PAGES
        if reset_migrate >= reset_free:
            z.compact_cached_migrate_pfn = [migrate_pfn, migrate_pfn]
            z.compact_cached_free_pfn = free_pfn

    def _reset_isolation_pfn(
        self, z: Zone, pfn: int, check_source: bool, check_target: bool
    ) -> bool:
        mem = self.mem
        if not z.start <= pfn < z.end or mem.k[pfn] == K_HOLE:
            return False
        blk = pfn >> PAGEBLOCK_ORDER
        if self._skip_persistent(pfn):
            return False
        if check_source and check_target and not mem.pb_skip[blk]:
            return True
        if not check_source and check_target and mem.pb_mt[blk] != MIGRATE_MOVABLE:
            return False
        start = max(pageblock_start(pfn), z.start)
        end = min(pageblock_end(pfn) - 1, z.end - 1)
        if mem.k[end] == K_HOLE:
            return False
        for p in range(start, end + 1, 1 << PAGE_ALLOC_COSTLY_ORDER):
            if (check_source and mem.f[p] & F_LRU) or (check_target and mem.f[p] & F_BUDDY):
                mem.pb_skip[blk] = False
                return True
        return False

    def _skip_persistent(self, pfn: int) -> bool:
        """pageblock_skip_persistent(): the pageblock's first page is part of a compound
        page (compound_head()) of order >= pageblock_order."""
        p = pageblock_start(pfn)
        if self.mem.k[p] == K_COMPOUND_TAIL:
            # a tail at a pageblock start: the second pageblock of a max-order page, whose
            # head is at the max-order boundary below
            p &= ~((1 << (MAX_ORDER - 1)) - 1)
        return self.mem.k[p] == K_COMPOUND_HEAD and self.mem.a[p] >= PAGEBLOCK_ORDER

    def block_valid(self, z: Zone, start: int, end: int) -> bool:
        """pageblock_pfn_to_page(): both ends present and in this zone."""
        mem = self.mem
        return (
            start >= z.start
            and end <= z.end
            and mem.k[start] != K_HOLE
            and mem.k[end - 1] != K_HOLE
        )

    # -- compact_zone begin / tick / end (§2.3) --------------------------------------------
    def begin(self, cc: CompactControl) -> int:
        """Returns COMPACT_CONTINUE to go on, or the final result without compacting."""
        k = self.k
        z = self.mem.zones[cc.zone]
        if cc.order != -1:
            # ALLOC_CMA comes only with movable requests (gfp_to_alloc_flags_cma())
            async_no_cma = cc.mode == MIGRATE_ASYNC and cc.migratetype != MIGRATE_MOVABLE
            r = self.compaction_suitable(z, cc.order, cc.wmark, async_no_cma=async_no_cma)
            if r in (COMPACT_SUCCESS, COMPACT_SKIPPED):
                cc.result = r
                cc.phase = "done"
                return r
        elif not self.v6:
            # 4.8 compact_zone() calls compaction_suitable() for order -1 too: it returns
            # CONTINUE and mm_compaction_suitable still fires (6.18 skips the call)
            self._trace_zone("mm_compaction_suitable", z, cc.order, COMPACT_CONTINUE)
        if self.compaction_restarting(z, cc.order):
            self.reset_isolation_suitable(z)
        start, end = z.start, z.end
        if self.v6 and cc.whole_zone:
            cc.migrate_pfn = start
            cc.free_pfn = pageblock_start(end - 1)
        else:
            cc.migrate_pfn = z.compact_cached_migrate_pfn[cc.sync]
            cc.free_pfn = z.compact_cached_free_pfn
            if cc.free_pfn < start or cc.free_pfn >= end:
                cc.free_pfn = pageblock_start(end - 1)
                z.compact_cached_free_pfn = cc.free_pfn
            if cc.migrate_pfn < start or cc.migrate_pfn >= end:
                cc.migrate_pfn = start
                z.compact_cached_migrate_pfn = [start, start]
            if self.v6:
                if cc.migrate_pfn <= z.compact_init_migrate_pfn:
                    cc.whole_zone = True
            elif cc.migrate_pfn == start:
                cc.whole_zone = True
        cc.last_migrated_pfn = 0
        cc.fast_start_pfn = 0
        if self.v6:
            cc.update_cached = (
                not cc.sync and z.compact_cached_migrate_pfn[0] == z.compact_cached_migrate_pfn[1]
            )
        k.trace(
            "mm_compaction_begin",
            f"zone_start={start:#x} migrate_pfn={cc.migrate_pfn:#x} free_pfn={cc.free_pfn:#x} zone_end={end:#x}, mode={mode_trace(cc.mode)}",
        )
        cc.phase = "isolate"
        return COMPACT_CONTINUE

    def tick(self, cc: CompactControl) -> bool:
        """One half-iteration of the main loop. Returns True when compact_zone has ended."""
        mem = self.mem
        # A full compaction (compact_memory, order -1) reads buddy state only in the
        # blocks its scanners visit, so it lets migrated pages' merges wait (see
        # Memory.defer_frees); anything that reads lists or watermarks settles them first.
        mem.defer_frees = cc.order < 0 and not cc.proactive
        if mem.pending and not mem.defer_frees:
            mem.settle()
        try:
            return self._tick(cc)
        finally:
            mem.defer_frees = False

    def _tick(self, cc: CompactControl) -> bool:
        if cc.phase == "begin":
            if self.begin(cc) != COMPACT_CONTINUE:
                return True
            return False
        if cc.phase == "isolate":
            if not cc.rescan:
                ret = self.compact_finished(cc)
                if ret != COMPACT_CONTINUE:
                    cc.result = ret
                    self.end(cc)
                    return True
                if self.v6:
                    cc.finish_pageblock = pageblock_start(cc.last_migrated_pfn) == pageblock_start(
                        cc.migrate_pfn
                    )
            cc.rescan = False
            r = self.isolate_migratepages(cc)
            if r == ISOLATE_ABORT:
                cc.result = COMPACT_CONTENDED
                self.putback_movable_pages(cc)
                self.end(cc)
                return True
            if r == ISOLATE_NONE:
                if self.v6 and cc.update_cached:
                    z = self.mem.zones[cc.zone]
                    z.compact_cached_migrate_pfn[1] = z.compact_cached_migrate_pfn[0]
                self.check_drain(cc)
                return False
            if self.v6:
                cc.update_cached = False
                z = self.mem.zones[cc.zone]
                cc.last_migrated_pfn = max(z.start, pageblock_start(cc.migrate_pfn - 1))
            cc.phase = "migrate"
            return False
        if cc.phase == "migrate":
            cc.phase = "isolate"
            return self._migrate_step(cc)
        return True

    def _migrate_step(self, cc: CompactControl) -> bool:
        k = self.k
        nr_all = cc.nr_migratepages
        err, nr_succeeded, _nr_failed, left = migrate_pages(
            k,
            cc.migratepages,
            lambda: self.compaction_alloc(cc),
            lambda p: self.compaction_free(cc, p),
            cc.mode,
            MR_COMPACTION,
            cc.memalloc,
            alloc_many=lambda n: self.compaction_alloc_many(cc, n),
        )
        cc.migratepages = left
        if self.v6:
            k.trace(
                "mm_compaction_migratepages",
                f"nr_migrated={nr_succeeded} nr_failed={nr_all - nr_succeeded}",
            )
        else:
            nr_failed = err if err >= 0 else len(left)
            k.trace(
                "mm_compaction_migratepages",
                f"nr_migrated={nr_all - nr_failed} nr_failed={nr_failed}",
            )
        cc.nr_migratepages = 0
        if err:
            self.putback_movable_pages(cc)
            if err == ENOMEM and not scanners_met(cc):
                cc.result = COMPACT_CONTENDED
                self.end(cc)
                return True
            if self.v6:
                if (
                    cc.migrate_pfn % PAGEBLOCK_NR_PAGES
                    and not cc.ignore_skip_hint
                    and not cc.finish_pageblock
                    and cc.mode < MIGRATE_SYNC
                ):
                    cc.finish_pageblock = True
                    if cc.order == COMPACTION_HPAGE_ORDER:
                        cc.last_migrated_pfn = 0
                    cc.rescan = True
                    return False
            elif cc.direct and cc.mode == MIGRATE_ASYNC:
                cc.migrate_pfn = block_end_pfn(cc.migrate_pfn - 1, cc.order)
                cc.last_migrated_pfn = 0
        if self.v6 and cc.direct and self.mem.captured >= 0:
            cc.captured = self.mem.captured
            cc.result = COMPACT_SUCCESS
            self.end(cc)
            return True
        self.check_drain(cc)
        return False

    def check_drain(self, cc: CompactControl) -> None:
        if cc.order > 0 and cc.last_migrated_pfn:
            if cc.last_migrated_pfn < block_start_pfn(cc.migrate_pfn, cc.order):
                self.mem.drain_pcp(self.mem.zones[cc.zone])
                cc.last_migrated_pfn = 0

    def end(self, cc: CompactControl) -> None:
        k, mem = self.k, self.mem
        mem.settle()
        z = mem.zones[cc.zone]
        if cc.nr_freepages > 0 or cc.freepages or any(cc.freepages_618):
            high = self.release_freepages(cc)
            cc.nr_freepages = 0
            free_pfn = pageblock_start(high)
            if free_pfn > z.compact_cached_free_pfn:
                z.compact_cached_free_pfn = free_pfn
        if self.v6:
            k.count("compact_migrate_scanned", cc.total_migrate_scanned)
            k.count("compact_free_scanned", cc.total_free_scanned)
            if cc.source in ("kcompactd", "proactive"):
                k.count("compact_daemon_migrate_scanned", cc.total_migrate_scanned)
                k.count("compact_daemon_free_scanned", cc.total_free_scanned)
        k.trace(
            "mm_compaction_end",
            f"zone_start={z.start:#x} migrate_pfn={cc.migrate_pfn:#x} free_pfn={cc.free_pfn:#x} zone_end={z.end:#x}, "
            f"mode={mode_trace(cc.mode)} status={status_name(cc.result, k.profile)}",
        )
        cc.phase = "done"

    # -- compact_finished (§2.7) -------------------------------------------------------------
    def compact_finished(self, cc: CompactControl) -> int:
        ret = self._compact_finished(cc)
        z = self.mem.zones[cc.zone]
        self._trace_zone("mm_compaction_finished", z, cc.order, ret)
        if ret == COMPACT_NO_SUITABLE_PAGE:
            ret = COMPACT_CONTINUE
        return ret

    def _compact_finished(self, cc: CompactControl) -> int:
        mem = self.mem
        z = mem.zones[cc.zone]
        if not self.v6 and cc.contended:
            return COMPACT_CONTENDED
        if scanners_met(cc):
            self.reset_cached_positions(z)
            if cc.direct:
                z.compact_blockskip_flush = True
            return COMPACT_COMPLETE if cc.whole_zone else COMPACT_PARTIAL_SKIPPED
        if self.v6 and cc.proactive:
            score = self.fragmentation_score_zone(z)
            return COMPACT_CONTINUE if score > self.score_wmark(True) else COMPACT_SUCCESS
        if cc.order == -1:
            return COMPACT_CONTINUE
        if self.v6:
            if cc.migrate_pfn % PAGEBLOCK_NR_PAGES:
                return COMPACT_CONTINUE
        elif not mem.watermark_ok(z, cc.order, z.wmark_low):
            return COMPACT_CONTINUE
        for order in range(cc.order, MAX_ORDER):
            if z.free_area[order][cc.migratetype].count:
                return COMPACT_SUCCESS
            if self._fallback_claimable(z, order, cc.migratetype):
                return COMPACT_SUCCESS
        if self.v6 and cc.contended:
            return COMPACT_CONTENDED
        return COMPACT_NO_SUITABLE_PAGE

    def _fallback_claimable(self, z: Zone, order: int, mt: int) -> bool:
        # find_suitable_fallback(only_stealable / claimable = true) != -1
        if not self.mem._can_steal(order, mt):
            return False
        return self.mem.find_suitable_fallback(z, order, mt, True) >= 0

    # -- migrate scanner (§2.4, §2.5) ------------------------------------------------------
    def isolate_migratepages(self, cc: CompactControl) -> int:
        mem = self.mem
        z = mem.zones[cc.zone]
        low_pfn = cc.migrate_pfn
        fast_find_block = False
        if self.v6:
            low_pfn = self.fast_find_migrateblock(cc)
            fast_find_block = low_pfn != cc.migrate_pfn and not cc.fast_search_fail
        bstart = max(pageblock_start(low_pfn), z.start)
        bend = pageblock_end(low_pfn)
        while bend <= cc.free_pfn:
            mem.settle_around(max(low_pfn, bstart), bend)
            if self._migrate_source_block(cc, z, low_pfn, bstart, bend, fast_find_block):
                if self.v6:
                    if self.isolate_migratepages_block(cc, low_pfn, bend):
                        return ISOLATE_ABORT
                    break
                low_pfn = self.isolate_migratepages_block(cc, low_pfn, bend)
                if cc.contended:
                    return ISOLATE_ABORT
                break
            fast_find_block = False
            low_pfn = bend
            if self.v6:
                cc.migrate_pfn = low_pfn
            bstart = bend
            bend += PAGEBLOCK_NR_PAGES
        if not self.v6:
            cc.migrate_pfn = low_pfn
        return ISOLATE_SUCCESS if cc.nr_migratepages else ISOLATE_NONE

    def _migrate_source_block(
        self,
        cc: CompactControl,
        z: Zone,
        low_pfn: int,
        bstart: int,
        bend: int,
        fast_find_block: bool,
    ) -> bool:
        """Whether isolate_migratepages() scans this pageblock or walks past it (§2.4)."""
        if not self.block_valid(z, bstart, bend):
            return False
        if not self.v6:
            if not self.isolation_suitable(cc, bstart):
                return False
            # 4.8 migrate_async_suitable(): ASYNC only takes MOVABLE and CMA blocks
            return cc.mode != MIGRATE_ASYNC or self.mem.pb_mt[bstart >> PAGEBLOCK_ORDER] in (
                MIGRATE_MOVABLE,
                MIGRATE_CMA,
            )
        aligned = low_pfn % PAGEBLOCK_NR_PAGES == 0 or low_pfn == z.start
        if aligned and not fast_find_block and not self.isolation_suitable(cc, bstart):
            return False
        if not self._suitable_migration_source(cc, bstart):
            # a skipped unsuitable block still advances the cached migrate pfn
            self.update_cached_migrate(cc, bend)
            return False
        return True

    def _suitable_migration_source(self, cc: CompactControl, pfn: int) -> bool:
        if self._skip_persistent(pfn):
            return False
        if cc.mode != MIGRATE_ASYNC or not cc.direct:
            return True
        bmt = self.mem.pb_mt[pfn >> PAGEBLOCK_ORDER]
        if cc.migratetype == MIGRATE_MOVABLE:
            return bmt in (MIGRATE_MOVABLE, MIGRATE_CMA)
        return bmt == cc.migratetype

    def update_cached_migrate(self, cc: CompactControl, pfn: int) -> None:
        z = self.mem.zones[cc.zone]
        pfn = pageblock_end(pfn)
        if pfn > z.compact_cached_migrate_pfn[0]:
            z.compact_cached_migrate_pfn[0] = pfn
        if cc.mode != MIGRATE_ASYNC and pfn > z.compact_cached_migrate_pfn[1]:
            z.compact_cached_migrate_pfn[1] = pfn

    def fast_find_migrateblock(self, cc: CompactControl) -> int:
        """6.18 fast_find_migrateblock(): use a free page's block as the next source."""
        mem = self.mem
        z = mem.zones[cc.zone]
        pfn = cc.migrate_pfn
        if cc.ignore_skip_hint or cc.finish_pageblock:
            return pfn
        if pfn != z.start and pfn % PAGEBLOCK_NR_PAGES:
            return pfn
        if cc.order <= PAGE_ALLOC_COSTLY_ORDER:
            return pfn
        if cc.direct and cc.migratetype != MIGRATE_MOVABLE:
            return pfn
        distance = (cc.free_pfn - cc.migrate_pfn) >> 1
        if cc.migrate_pfn != z.start:
            distance >>= 2
        high_pfn = pageblock_start(cc.migrate_pfn + distance)
        found = False
        nr_scanned = 0
        limit = (COMPACT_CLUSTER_MAX >> min(63, cc.fast_search_fail)) + 1
        order = cc.order - 1
        while order >= PAGE_ALLOC_COSTLY_ORDER and not found and nr_scanned < limit:
            fl = z.free_area[order][MIGRATE_MOVABLE]
            if fl.count:
                for free_pfn in fl.walk(mem.f, mem.a, mem.t):
                    # `if (nr_scanned++ >= limit)`: the entry past the limit is counted
                    # and moved to the tail with those before it
                    scanned = nr_scanned
                    nr_scanned += 1
                    if scanned >= limit:
                        fl.rotate_to_tail(free_pfn, mem.f, mem.a, mem.t)
                        break
                    if free_pfn < high_pfn:
                        if mem.pb_skip[free_pfn >> PAGEBLOCK_ORDER]:
                            continue
                        # move_freelist_tail(): a later search skips this entry
                        fl.rotate_to_tail(free_pfn, mem.f, mem.a, mem.t)
                        # update_fast_start_pfn()
                        if cc.fast_start_pfn != FAST_START_DONE:
                            if not cc.fast_start_pfn:
                                cc.fast_start_pfn = free_pfn
                            cc.fast_start_pfn = min(cc.fast_start_pfn, free_pfn)
                        pfn = max(pageblock_start(free_pfn), z.start)
                        cc.fast_search_fail = 0
                        found = True
                        break
            order -= 1
        cc.total_migrate_scanned += nr_scanned
        if not found:
            cc.fast_search_fail += 1
            # reinit_migrate_pfn(): restart the linear scan at the lowest fast-found pfn
            if cc.fast_start_pfn and cc.fast_start_pfn != FAST_START_DONE:
                cc.migrate_pfn = cc.fast_start_pfn
                cc.fast_start_pfn = FAST_START_DONE
            pfn = cc.migrate_pfn
        return pfn

    def _lru_isolatable(
        self, cc: CompactControl, kinds: np.ndarray, flags: np.ndarray
    ) -> np.ndarray:
        """Vectorised __isolate_lru_page() / the 6.18 folio checks for one range."""
        ok = ((kinds == K_ANON) | (kinds == K_FILE)) & ((flags & (F_LRU | F_ISOLATED)) == F_LRU)
        if not self.k.sysctl["compact_unevictable_allowed"]:
            ok &= (flags & F_UNEVICTABLE) == 0
        if cc.mode != MIGRATE_SYNC:  # ISOLATE_ASYNC_MIGRATE
            ok &= (flags & F_WRITEBACK) == 0
            dirty = (flags & F_DIRTY) != 0
            if not self.k.file_migratepage:
                ok &= ~(dirty & (kinds == K_FILE))
            if self.v6:
                ok &= ~(dirty & ((flags & F_LOCKED) != 0))
        if self.v6:
            ok &= ~(
                (kinds == K_FILE)
                & ((flags & (F_UNEVICTABLE | F_LOCKED)) == (F_UNEVICTABLE | F_LOCKED))
            )
        return ok

    def _buddy_blocks_to_skip(
        self, low: int, heads: np.ndarray, special: np.ndarray, lru_ok: np.ndarray
    ) -> np.ndarray | None:
        """How far the migrate scanner skips at each free block head of a range (heads
        relative to low), or None if a block covers a pfn that needs looking at: then
        only the per-pfn loop reproduces the scan (a state the allocator never makes)."""
        orders = (self.mem.aux[heads + low] & 0xF).astype(np.int64)
        # `if (freepage_order > 0 && freepage_order <= MAX_ORDER)`: else one pfn only
        sizes = np.where((orders > 0) & (orders < MAX_ORDER), np.left_shift(1, orders), 1)
        # each block must end before the next pfn of interest (heads are ones themselves)
        n = len(special)
        seen = np.flatnonzero(special | lru_ok)
        after = np.append(seen, n)[np.searchsorted(seen, heads) + 1]
        if (after < np.minimum(heads + sizes, n)).any():
            return None
        return sizes

    def isolate_migratepages_block(self, cc: CompactControl, low: int, end: int) -> int | bool:
        """isolate_migratepages_block(). 4.8 returns the next pfn; 6.18 returns an error flag
        and leaves the position in cc.migrate_pfn."""
        k, mem = self.k, self.mem
        z = mem.zones[cc.zone]
        start_pfn = low
        v6 = self.v6
        nr_scanned = 0
        nr_isolated = 0
        valid_page = -1
        skip_updated = False
        skip_on_failure = cc.direct and cc.mode == MIGRATE_ASYNC
        next_skip = block_end_pfn(low, cc.order) if skip_on_failure else 0
        cap = COMPACT_CLUSTER_MAX
        ignore_cap = v6 and cc.finish_pageblock
        aborted = False
        pos = low
        if v6 and (low % PAGEBLOCK_NR_PAGES == 0 or low == z.start):
            if not self.isolation_suitable(cc, low):
                nr_scanned = 1
                pos = end
                aborted = True
            else:
                valid_page = low
        elif not v6:
            valid_page = low

        kinds = mem.kind[low:end]
        flags = mem.flags[low:end]
        lru_ok = self._lru_isolatable(cc, kinds, flags)
        buddy = (flags & F_BUDDY) != 0
        special = buddy | (kinds == K_COMPOUND_HEAD)
        special |= (kinds == K_DRIVER) & ((flags & (F_MOVABLE | F_ISOLATED)) == F_MOVABLE)
        if skip_on_failure:
            special |= ~lru_ok
        lru_pos = np.flatnonzero(lru_ok & ~special)
        # Free buddy blocks are skipped whole. Unless skip_on_failure makes the loop visit
        # every pfn that is no LRU candidate, their heads can be left out of the visited
        # pfns and a scan passing over them accounts for them in bulk (see scan_gap()).
        bud_heads: list[int] = []  # skipped heads (absolute pfns), ascending
        bud_far: list[int] = []  # where the scan resumes after each: head + block size
        bud_tails = [0]  # running count of the pages those blocks skip past their heads
        if not skip_on_failure and not aborted:
            heads = np.flatnonzero(buddy)
            # setting that up costs about what a dozen heads visited one by one do: worth
            # it when the scan will likely pass many (a capped scan stops after `need` LRU
            # pages, so it sees about that share of the range's heads)
            need = end if ignore_cap else cap - cc.nr_migratepages
            passed = len(heads) * min(1.0, need / max(1, len(lru_pos)))
            bulk = (
                self._buddy_blocks_to_skip(low, heads, special, lru_ok)
                if passed >= self.bulk_skip_min_heads
                else None
            )
            if bulk is not None:
                special &= ~buddy
                bud_heads = (heads + low).tolist()
                bud_far = (heads + low + bulk).tolist()
                if not v6:
                    bud_tails = np.concatenate(([0], np.cumsum(bulk - 1))).tolist()
        special_pos = np.flatnonzero(special)
        si = 0
        nspecial = len(special_pos)
        isolated_here: list[int] = []

        lru_list = (lru_pos + low).tolist()

        def isolate_lru_run(a: int, b: int, need: int) -> int:
            """Isolate LRU-ok pfns in [a, b) up to `need`; returns the next pfn to scan."""
            nonlocal nr_isolated, skip_updated
            i0 = bisect_left(lru_list, a)
            i1 = bisect_left(lru_list, b, i0)
            if i1 == i0:
                return b
            if v6 and valid_page >= 0 and not skip_updated:
                skip_updated = True
                if not cc.ignore_skip_hint:
                    mem.pb_skip[valid_page >> PAGEBLOCK_ORDER] = True
            pfns = lru_list[i0 : min(i1, i0 + need)]
            k.isolate_lru_pages(pfns)
            isolated_here.extend(pfns)
            nr_isolated += len(pfns)
            cc.nr_migratepages += len(pfns)
            if not cc.last_migrated_pfn and not v6:
                # `if (!cc->last_migrated_pfn) cc->last_migrated_pfn = low_pfn` per page:
                # pfn 0 reads as unset, so the next isolated pfn overwrites it
                cc.last_migrated_pfn = pfns[1] if pfns[0] == 0 and len(pfns) > 1 else pfns[0]
            if len(pfns) == need:
                return pfns[-1] + 1
            return b

        def scan_gap(a: int, b: int, need: int) -> int:
            """Scan [a, b), which holds no pfn to visit: isolate its LRU pages up to `need`
            and skip its free blocks. Returns the next pfn to scan (past b when the last
            free block runs past the end of the range)."""
            nonlocal nr_scanned
            stop = isolate_lru_run(a, b, need)
            if not bud_heads:
                nr_scanned += stop - a
                return stop
            j0 = bisect_left(bud_heads, a)
            j1 = bisect_left(bud_heads, stop, j0)
            if j1 == j0:
                nr_scanned += stop - a
                return stop
            # a scan that stopped early stopped at an LRU page, past the blocks before it
            stop = max(stop, bud_far[j1 - 1])
            nr_scanned += stop - a
            if not v6:
                # 4.8 counts a free block's head only; 6.18 counts the whole block
                nr_scanned -= bud_tails[j1] - bud_tails[j0]
            return stop

        while not aborted and pos < end:
            while si < nspecial and special_pos[si] + low < pos:
                si += 1
            nxt = int(special_pos[si]) + low if si < nspecial else end
            if skip_on_failure and nxt > next_skip:
                nxt = max(pos, next_skip)
            if nxt > pos:
                need = cap - cc.nr_migratepages if not ignore_cap else end
                pos = scan_gap(pos, nxt, need)
                if cc.nr_migratepages >= cap and not ignore_cap:
                    break
                if pos >= end or pos < nxt:
                    continue
            # sequential handling of one pfn
            if skip_on_failure and pos >= next_skip:
                if nr_isolated:
                    break
                next_skip = block_end_pfn(pos, cc.order)
                if nxt > pos:
                    continue
            nr_scanned += 1
            f = mem.f[pos]
            kd = mem.k[pos]
            if f & F_BUDDY:
                order = mem.a[pos] & 0xF
                if 0 < order < MAX_ORDER:
                    pos += (1 << order) - 1
                    if v6:
                        nr_scanned += (1 << order) - 1
                pos += 1
                continue
            failed = False
            if kd == K_COMPOUND_HEAD:
                order = mem.a[pos]
                pos += (1 << order) - 1
                if v6:
                    nr_scanned += (1 << order) - 1
                failed = True
            elif kd == K_DRIVER and (f & (F_MOVABLE | F_ISOLATED)) == F_MOVABLE:
                if k.isolate_movable_page(pos):
                    isolated_here.append(pos)
                    nr_isolated += 1
                    cc.nr_migratepages += 1
                    if not cc.last_migrated_pfn and not v6:
                        cc.last_migrated_pfn = pos
                    if cc.nr_migratepages >= cap and not ignore_cap:
                        pos += 1
                        break
                    pos += 1
                    continue
                failed = True
            elif lru_ok[pos - low]:
                # only reached under skip_on_failure, where every pfn is visited here
                stop = isolate_lru_run(pos, pos + 1, 1)
                pos = stop
                if cc.nr_migratepages >= cap and not ignore_cap:
                    break
                continue
            else:
                failed = True
            if failed and skip_on_failure:
                if nr_isolated:
                    # putback_movable_pages(&cc->migratepages) walks the list from its
                    # head: the page isolated last goes back first
                    for p in reversed(isolated_here):
                        k.putback_page(p)
                    isolated_here.clear()
                    cc.nr_migratepages -= nr_isolated
                    if not v6:
                        # 4.8 resets cc->last_migrated_pfn; 6.18 keeps it as a local of
                        # compact_zone() that this function never sees
                        cc.last_migrated_pfn = 0
                    nr_isolated = 0
                if pos < next_skip:
                    pos = next_skip - 1
                    next_skip += 1 << cc.order
            pos += 1
        # cc->migratepages is a list_add (head) list: newest first
        if isolated_here:
            cc.migratepages[:0] = isolated_here[::-1]
        low_pfn = min(pos, end)
        if v6:
            if low_pfn == end and (not nr_isolated or cc.finish_pageblock):
                if valid_page >= 0 and not skip_updated:
                    mem.pb_skip[valid_page >> PAGEBLOCK_ORDER] = True
                self.update_cached_migrate(cc, low_pfn)
        elif low_pfn == end and valid_page >= 0 and not cc.ignore_skip_hint and not nr_isolated:
            mem.pb_skip[valid_page >> PAGEBLOCK_ORDER] = True
            if valid_page > z.compact_cached_migrate_pfn[0]:
                z.compact_cached_migrate_pfn[0] = valid_page
            if cc.mode != MIGRATE_ASYNC and valid_page > z.compact_cached_migrate_pfn[1]:
                z.compact_cached_migrate_pfn[1] = valid_page
        k.trace(
            "mm_compaction_isolate_migratepages",
            f"range=({start_pfn:#x} ~ {low_pfn:#x}) nr_scanned={nr_scanned} nr_taken={nr_isolated}",
        )
        k.time_ns += nr_scanned * 2
        if v6:
            cc.total_migrate_scanned += nr_scanned
            cc.migrate_pfn = low_pfn
            k.count("compact_isolated", nr_isolated)
            return False
        k.count("compact_migrate_scanned", nr_scanned)
        k.count("compact_isolated", nr_isolated)
        return low_pfn

    def putback_movable_pages(self, cc: CompactControl) -> None:
        for p in cc.migratepages:
            self.k.putback_page(p)
        cc.migratepages = []
        cc.nr_migratepages = 0

    # -- free scanner (§2.6) ----------------------------------------------------------------
    def compaction_alloc(self, cc: CompactControl) -> int:
        if self.v6:
            return self._compaction_alloc_618(cc)
        if not cc.freepages:
            if not cc.contended:
                self.isolate_freepages(cc)
            if not cc.freepages:
                return -1
        cc.nr_freepages -= 1
        return cc.freepages.popleft()

    def _compaction_alloc_618(self, cc: CompactControl) -> int:
        lists = cc.freepages_618
        if lists[0]:  # the common case: a split remainder is waiting at order 0
            cc.nr_freepages -= 1
            cc.nr_migratepages -= 1
            return lists[0].popleft()
        has_isolated_pages = False  # isolate at most once per call, then -ENOMEM
        while True:
            for order in range(MAX_ORDER):
                if lists[order]:
                    break
            else:
                if has_isolated_pages:
                    return -1
                self.isolate_freepages(cc)
                has_isolated_pages = True
                continue
            pfn = lists[order].popleft()
            while order > 0:
                order -= 1
                lists[order].appendleft(pfn + (1 << order))
            cc.nr_freepages -= 1
            cc.nr_migratepages -= 1  # 6.18 tracks what is still to migrate
            return pfn

    def compaction_alloc_many(self, cc: CompactControl, n: int) -> list[int]:
        """Up to n targets: exactly what n successive compaction_alloc() calls hand out
        before one of them would have to run the free scanner, with the same effect on cc.

        Fewer come back when the isolated pages run out; the caller then makes one
        compaction_alloc() call itself, which may isolate more (or fail)."""
        out: list[int] = []
        if not self.v6:
            fp = cc.freepages
            take = min(n, len(fp))
            if take == len(fp):
                out.extend(fp)
                fp.clear()
            else:
                out = [fp.popleft() for _ in range(take)]
            cc.nr_freepages -= take
            return out
        lists = cc.freepages_618
        while len(out) < n:
            l0 = lists[0]
            if l0:
                take = min(n - len(out), len(l0))
                if take == len(l0):
                    out.extend(l0)
                    l0.clear()
                else:
                    out.extend([l0.popleft() for _ in range(take)])
                continue
            for order in range(1, MAX_ORDER):
                if lists[order]:
                    break
            else:
                break  # nothing isolated is left: the next call would run the free scanner
            # the lowest non-empty order is split page by page: single calls hand out its
            # pfns in ascending order, so take the first `take` of them at once
            pfn = lists[order].popleft()
            size = 1 << order
            take = min(n - len(out), size)
            out.extend(range(pfn, pfn + take))
            # what `take` single calls leave: the rest of the block as aligned blocks, one
            # per set bit of its size, smallest (lowest pfn) first, each alone on its list
            # (the lists below `order` were empty)
            rest = size - take
            pos = pfn + take
            for j in range(order):
                if rest >> j & 1:
                    lists[j].appendleft(pos)
                    pos += 1 << j
        cc.nr_freepages -= len(out)
        cc.nr_migratepages -= len(out)
        return out

    def compaction_free(self, cc: CompactControl, pfn: int) -> None:
        if self.v6:
            cc.freepages_618[0].appendleft(pfn)
            cc.nr_migratepages += 1
        else:
            cc.freepages.appendleft(pfn)
        cc.nr_freepages += 1

    def _suitable_migration_target(self, cc: CompactControl, pfn: int) -> bool:
        mem = self.mem
        if mem.f[pfn] & F_BUDDY:
            limit = (cc.order if cc.order > 0 else PAGEBLOCK_ORDER) if self.v6 else PAGEBLOCK_ORDER
            if (mem.a[pfn] & 0xF) >= limit:
                return False
        if self.v6 and cc.ignore_block_suitable:
            return True
        return mem.pb_mt[pfn >> PAGEBLOCK_ORDER] in (MIGRATE_MOVABLE, MIGRATE_CMA)

    def isolate_freepages(self, cc: CompactControl) -> None:
        mem = self.mem
        z = mem.zones[cc.zone]
        if self.v6 and cc.order > 0:
            self.fast_isolate_freepages(cc)
            if cc.nr_freepages:
                return
        isolate_start = cc.free_pfn
        bstart = pageblock_start(cc.free_pfn)
        bend = min(bstart + PAGEBLOCK_NR_PAGES, z.end)
        low_pfn = pageblock_end(cc.migrate_pfn)
        stride = COMPACT_CLUSTER_MAX if (self.v6 and cc.mode == MIGRATE_ASYNC) else 1
        isolated_blocks: list[tuple[int, int]] = []
        while bstart >= low_pfn:
            mem.settle_around(bstart, bend)
            if (
                self.block_valid(z, bstart, bend)
                and self._suitable_migration_target(cc, bstart)
                and self.isolation_suitable(cc, bstart)
            ):
                first = isolate_start  # 4.8 valid_page: the first pfn this call scanned
                nr_iso, isolate_start = self.isolate_freepages_block(
                    cc, isolate_start, bend, stride, isolated_blocks
                )
                if isolate_start == bend:
                    if self.v6:
                        mem.pb_skip[bstart >> PAGEBLOCK_ORDER] = True
                        if bstart - PAGEBLOCK_NR_PAGES < z.compact_cached_free_pfn:
                            z.compact_cached_free_pfn = bstart - PAGEBLOCK_NR_PAGES
                    elif not nr_iso and not cc.ignore_skip_hint:
                        # update_pageblock_skip(cc, valid_page, 0, false): the cached free
                        # pfn goes to valid_page, mid-block when the scan resumed there
                        mem.pb_skip[bstart >> PAGEBLOCK_ORDER] = True
                        if first < z.compact_cached_free_pfn:
                            z.compact_cached_free_pfn = first
                if cc.nr_freepages >= cc.nr_migratepages:
                    if isolate_start >= bend:
                        isolate_start = bstart - PAGEBLOCK_NR_PAGES
                    break
                if isolate_start < bend:
                    break
                if self.v6:
                    stride = 1 if nr_iso else min(COMPACT_CLUSTER_MAX, stride << 1)
            bend = bstart
            bstart -= PAGEBLOCK_NR_PAGES
            isolate_start = bstart
        cc.free_pfn = isolate_start
        self._map_pages(cc, isolated_blocks)

    def _map_pages(self, cc: CompactControl, blocks: list[tuple[int, int]]) -> None:
        mem = self.mem
        mk = mem.k
        for pfn, order in blocks:
            if order == 0:
                mk[pfn] = K_TARGET
                if mem.changed is not None:
                    mem.changed.add(pfn)
            else:
                n = 1 << order
                mem.kind[pfn : pfn + n] = K_TARGET
                mem.touch(pfn, n)
        if self.v6:
            for pfn, order in blocks:
                cc.freepages_618[order].append(pfn)
        else:
            # map_pages(): each subpage list_add()ed in turn, so the list ends up reversed
            sub: list[int] = []
            for pfn, order in blocks:
                sub.extend(range(pfn, pfn + (1 << order)))
            sub.reverse()
            cc.freepages.extendleft(reversed(sub))

    def isolate_freepages_block(
        self, cc: CompactControl, start: int, end: int, stride: int, out: list
    ) -> tuple[int, int]:
        """isolate_freepages_block(strict=false). Returns (pages isolated, where it stopped)."""
        mem = self.mem
        pfn = start
        nr_scanned = 0
        total = 0
        f, a = mem.f, mem.a
        if stride == 1:
            flags = mem.flags[start:end]
            kinds = mem.kind[start:end]
            if not (kinds == K_COMPOUND_HEAD).any():
                heads = np.flatnonzero((flags & F_BUDDY) != 0) + start
                done = self._isolate_free_heads_bulk(cc, start, end, heads, out)
                if done is not None:
                    return done
            interesting = (
                np.flatnonzero(((flags & F_BUDDY) != 0) | (kinds == K_COMPOUND_HEAD)) + start
            )
            idx = 0
            n_int = len(interesting)
        while pfn < end:
            if stride == 1:
                while idx < n_int and interesting[idx] < pfn:
                    idx += 1
                nxt = int(interesting[idx]) if idx < n_int else end
                if nxt > pfn:
                    nr_scanned += nxt - pfn
                    pfn = nxt
                    if pfn >= end:
                        break
            nr_scanned += 1
            if mem.k[pfn] == K_COMPOUND_HEAD:
                order = a[pfn]
                if not self.v6 or pfn + (1 << order) <= end:
                    pfn += (1 << order) - 1
                    if self.v6:
                        nr_scanned += (1 << order) - 1
                pfn += stride
                continue
            if not f[pfn] & F_BUDDY:
                pfn += stride
                continue
            order = a[pfn] & 0xF
            isolated = mem.isolate_free_page(pfn, order)
            if not isolated:
                break
            out.append((pfn, order))
            if self.v6:
                nr_scanned += isolated - 1
            total += isolated
            cc.nr_freepages += isolated
            if cc.nr_migratepages <= cc.nr_freepages:
                pfn += isolated
                break
            pfn += isolated - 1
            pfn += stride
        if pfn > end:
            pfn = end
        return self._account_free_block(cc, start, pfn, nr_scanned, total)

    def _account_free_block(
        self, cc: CompactControl, start: int, pfn: int, nr_scanned: int, total: int
    ) -> tuple[int, int]:
        """The end of isolate_freepages_block(): trace and counters."""
        k = self.k
        k.trace(
            "mm_compaction_isolate_freepages",
            f"range=({start:#x} ~ {pfn:#x}) nr_scanned={nr_scanned} nr_taken={total}",
        )
        k.time_ns += nr_scanned * 2
        if self.v6:
            cc.total_free_scanned += nr_scanned
        else:
            k.count("compact_free_scanned", nr_scanned)
        k.count("compact_isolated", total)
        return total, pfn

    def _isolate_free_heads_bulk(
        self, cc: CompactControl, start: int, end: int, heads: np.ndarray, out: list
    ) -> tuple[int, int] | None:
        """isolate_freepages_block() with stride 1 and no compound pages, vectorised.

        Returns None (the caller takes the per-pfn path) when a watermark check would
        fail on the way, since the kernel stops at that head."""
        mem = self.mem
        z = mem.zones[cc.zone]
        count = total = 0
        final = end
        if len(heads):
            codes = mem.aux[heads]
            orders = (codes & 0xF).astype(np.int64)
            sizes = np.left_shift(1, orders)
            cums = np.cumsum(sizes)
            need = cc.nr_migratepages - cc.nr_freepages
            # the kernel asks "enough?" after each isolation
            count = min(int(np.searchsorted(cums, need)) + 1, len(heads)) if need > 0 else 1
            if ((codes[:count] >> 4) == MIGRATE_ISOLATE).any():
                return None
            # __isolate_free_page(): order-0 watermark (4.8 low, 6.18 min) + 2^order
            mark = z.wmark_min if self.v6 else z.wmark_low
            free_before = z.nr_free_pages - np.concatenate(([0], cums[: count - 1]))
            if not (free_before > mark + sizes[:count]).all():
                return None
            take = heads[:count]
            total = int(cums[count - 1])
            if total >= need:
                final = int(take[-1] + sizes[count - 1])
        span = min(final, end) - start
        # 6.18 counts the isolated blocks' tails (nr_scanned += isolated - 1); 4.8 skips them
        nr_scanned = span if self.v6 else span - (total - count)
        if count:
            mem.flags[take] = 0
            z.nr_free_pages -= total
            mem.unlist_heads(z, codes[:count])
            taken_orders = orders[:count]
            big = np.flatnonzero(taken_orders >= PAGEBLOCK_ORDER - 1)
            for pfn, order in zip(take[big].tolist(), taken_orders[big].tolist(), strict=True):
                # after all the takes of this run: the free pages it moves to the list
                # tails are the ones the run did not take, in the same order
                mem.retype_isolated(z, pfn, order)
            out.extend(zip(take.tolist(), taken_orders.tolist(), strict=True))
            cc.nr_freepages += total
        pfn = min(final, end)
        return self._account_free_block(cc, start, pfn, nr_scanned, total)

    def fast_isolate_freepages(self, cc: CompactControl) -> None:
        """6.18 fast_isolate_freepages(): take a free page from the top of the scan space.

        After each order's search the list is rotated (move_freelist_head()) so that the
        next search starts with the entries this one did not reach.
        """
        mem = self.mem
        z = mem.zones[cc.zone]
        limit = max(1, ((COMPACT_CLUSTER_MAX >> cc.fast_search_fail) + 1) >> 1)
        nr_scanned = total_isolated = 0
        highest = 0
        page = -1
        scan_start = False
        if cc.free_pfn >= z.compact_init_free_pfn:
            limit = PAGEBLOCK_NR_PAGES >> 1
            scan_start = True
        distance = cc.free_pfn - cc.migrate_pfn
        low_pfn = pageblock_start(cc.free_pfn - (distance >> 2))
        min_pfn = pageblock_start(cc.free_pfn - (distance >> 1))
        if min_pfn > low_pfn:
            low_pfn = min_pfn
        cc.search_order = min(cc.order - 1, cc.search_order)
        order = cc.search_order
        while page < 0 and order >= 0:
            fl = z.free_area[order][MIGRATE_MOVABLE]
            order_scanned = 0
            if z.nr_free(order):
                high_pfn = 0
                freepage = -1  # -1: the walk ran off the list, which then stays as it is
                for pfn in fl.walk_reverse(mem.f, mem.a, mem.t):
                    order_scanned += 1
                    nr_scanned += 1
                    if pfn >= highest:
                        highest = max(pageblock_start(pfn), z.start)
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
                if page < 0 and high_pfn:
                    page = freepage = high_pfn
                if freepage >= 0:
                    # move_freelist_head(): a future search skips the entries just seen
                    fl.rotate_to_head(freepage, mem.f, mem.a, mem.t)
                if page >= 0:
                    if mem.isolate_free_page(page, order):
                        n = 1 << order
                        nr_scanned += n - 1
                        total_isolated += n
                        cc.nr_freepages += n
                        self._map_pages(cc, [(page, order)])
                        self.k.count("compact_isolated", n)
                    else:
                        order = cc.search_order + 1
                        page = -1
                if cc.nr_freepages >= cc.nr_migratepages:
                    break
                if order_scanned >= limit:
                    limit = max(1, limit >> 1)
            order = self._next_search_order(cc, order)
        self.k.trace(
            "mm_compaction_fast_isolate_freepages",
            f"range=({min_pfn:#x} ~ {cc.free_pfn:#x}) nr_scanned={nr_scanned} nr_taken={total_isolated}",
        )
        if page < 0:
            cc.fast_search_fail += 1
            if scan_start:
                if highest >= min_pfn:
                    page = highest
                    cc.free_pfn = highest
                elif cc.direct and z.start <= min_pfn < z.end:
                    bend = min(pageblock_end(min_pfn), z.end)
                    if self.block_valid(z, min_pfn, bend) and self._suitable_migration_target(
                        cc, min_pfn
                    ):
                        page = min_pfn
                    cc.free_pfn = min_pfn
        if highest and highest >= z.compact_cached_free_pfn:
            highest -= PAGEBLOCK_NR_PAGES
            z.compact_cached_free_pfn = highest
        cc.total_free_scanned += nr_scanned
        if page < 0:
            return
        self.fast_isolate_around(cc, page)

    def _next_search_order(self, cc: CompactControl, order: int) -> int:
        order -= 1
        if order < 0:
            order = cc.order - 1
        if order == cc.search_order:
            cc.search_order -= 1
            if cc.search_order < 0:
                cc.search_order = cc.order - 1
            return -1
        return order

    def fast_isolate_around(self, cc: CompactControl, pfn: int) -> None:
        if cc.nr_freepages >= cc.nr_migratepages:
            return
        if cc.direct and cc.mode == MIGRATE_ASYNC:
            return
        z = self.mem.zones[cc.zone]
        start = max(pageblock_start(pfn), z.start)
        end = min(pageblock_end(pfn), z.end)
        if not self.block_valid(z, start, end):
            return
        more: list[tuple[int, int]] = []
        _, stop = self.isolate_freepages_block(cc, start, end, 1, more)
        self._map_pages(cc, more)
        if stop == end:
            self.mem.pb_skip[start >> PAGEBLOCK_ORDER] = True

    def release_freepages(self, cc: CompactControl) -> int:
        mem = self.mem
        high = 0
        if self.v6:
            for order in range(MAX_ORDER):
                for pfn in cc.freepages_618[order]:
                    mem.free_pages(pfn, order)
                    high = max(high, pfn)
                cc.freepages_618[order].clear()
        else:
            for pfn in cc.freepages:
                mem.free_pages(pfn, 0)
                high = max(high, pfn)
            cc.freepages.clear()
        return high


__all__ = ["CompactControl", "Compactor"]
