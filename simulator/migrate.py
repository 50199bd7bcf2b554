"""migrate_pages() for both profiles (kernel-spec §1).

The source list is a list of pfns in list order. `alloc` and `free` stand for
get_new_page/put_new_page (compaction_alloc/compaction_free). The kernel object supplies
page state, drivers, the rng and the counters; this module owns only the retry logic and
the per-page rules that decide each rc.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .constants import (
    EAGAIN,
    EBUSY,
    ENOMEM,
    F_DIRTY,
    F_LOCKED,
    F_WRITEBACK,
    K_ANON,
    K_DRIVER,
    K_FILE,
    MIGRATE_ASYNC,
    MIGRATE_SYNC,
    MODE_NAMES,
)

if TYPE_CHECKING:
    from .kernel import Kernel

NR_MAX_BATCHED_MIGRATION = 512
NR_MAX_MIGRATE_PAGES_RETRY = 10
NR_MAX_MIGRATE_ASYNC_RETRY = 3
NR_MAX_MIGRATE_SYNC_RETRY = 7

Alloc = Callable[[], int]
AllocMany = Callable[[int], list[int]]
Free = Callable[[int], None]


def migrate_pages(
    k: Kernel,
    src: list[int],
    alloc: Alloc,
    free: Free,
    mode: int,
    reason: int,
    memalloc: bool,
    alloc_many: AllocMany | None = None,
) -> tuple[int, int, int, list[int]]:
    """Returns (rc, nr_succeeded, nr_failed, left) where left must be put back by the caller.

    alloc_many(n), if given, hands out up to n targets at once: exactly those n alloc()
    calls would return as long as none of them needs a free scanner run. Runs of pages
    that can only succeed take their targets from it and are migrated in bulk; when it
    comes up short, the next page makes a single alloc() call as the kernel would.
    """
    many = alloc_many if alloc_many is not None else _no_bulk
    if k.v6:
        return _migrate_pages_618(k, src, alloc, free, mode, reason, memalloc, many)
    return _migrate_pages_48(k, src, alloc, free, mode, reason, memalloc, many)


def _no_bulk(n: int) -> list[int]:
    """The alloc_many of a caller without one: every target comes from a single alloc()."""
    return []


def _flags_of(k: Kernel, pfns: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(kinds, flags) of the listed pages, in list order."""
    idx = np.array(pfns, dtype=np.intp)
    return k.mem.kind[idx], k.mem.flags[idx]


def _run_end(stops: list[int], si: int, i: int, n: int) -> tuple[int, int]:
    """The first stop position at or after i (n if none), and its index in `stops`."""
    while si < len(stops) and stops[si] < i:
        si += 1
    return (stops[si] if si < len(stops) else n), si


# -- 4.8 -------------------------------------------------------------------------


def _plain_lru_mask(k: Kernel, pfns: list[int]) -> np.ndarray:
    """Which pages' 4.8 unmap_and_move() can only succeed at the first attempt: LRU pages
    neither locked nor under writeback, with no transient references or dirty-writeout
    path modelled."""
    if not pfns or k.lru_eagain_rate or not k.file_migratepage:
        return np.zeros(len(pfns), dtype=np.bool_)
    kinds, flags = _flags_of(k, pfns)
    return ((kinds == K_ANON) | (kinds == K_FILE)) & ((flags & _SLOW_FLAGS) == 0)


def _migrate_pages_48(
    k: Kernel,
    src: list[int],
    alloc: Alloc,
    free: Free,
    mode: int,
    reason: int,
    memalloc: bool,
    alloc_many: AllocMany,
) -> tuple[int, int, int, list[int]]:
    """4.8 migrate_pages(): up to 10 passes, force from pass 3 (§1.3)."""
    from_list = list(src)
    nr_failed = nr_succeeded = 0
    retry = 1
    rc = 0
    enomem = False
    for npass in range(10):
        if not retry:
            break
        retry = 0
        force = npass > 2
        n = len(from_list)
        # a page's state changes only when its own turn comes, so the mask taken at the
        # start of the pass holds for the pages not yet tried
        stops = np.flatnonzero(~_plain_lru_mask(k, from_list)).tolist()
        si = 0
        kept: list[int] = []  # pages still -EAGAIN, in list order
        i = 0
        while i < n:
            j, si = _run_end(stops, si, i, n)
            if j > i:
                # plain pages with targets already isolated: the same pairs and the same
                # order of frees as one by one, with no free scanner run in between
                news = alloc_many(j - i)
                if news:
                    m = len(news)
                    k.finish_lru_migrations(from_list[i : i + m], news)
                    nr_succeeded += m
                    i += m
                    continue
            pfn = from_list[i]
            r = _unmap_and_move_48(k, pfn, alloc, free, force, mode, memalloc)
            if r == ENOMEM:
                nr_failed += 1
                enomem = True
                break
            i += 1
            if r == EAGAIN:
                retry += 1
                kept.append(pfn)
            elif r == 0:
                nr_succeeded += 1
            else:
                nr_failed += 1  # put back already: the page leaves the list
        from_list = kept + from_list[i:]
        if enomem:
            break
    if enomem:
        rc = ENOMEM
    else:
        nr_failed += retry
        rc = nr_failed
    k.count("pgmigrate_success", nr_succeeded)
    k.count("pgmigrate_fail", nr_failed)
    k.trace(
        "mm_migrate_pages",
        f"nr_succeeded={nr_succeeded} nr_failed={nr_failed} mode={MODE_NAMES[mode]} reason={k.reason_name(reason)}",
    )
    return rc, nr_succeeded, nr_failed, from_list


def _unmap_and_move_48(
    k: Kernel, pfn: int, alloc: Alloc, free: Free, force: bool, mode: int, memalloc: bool
) -> int:
    """unmap_and_move() + __unmap_and_move() (§1.4). Puts back permanent failures itself."""
    new = alloc()
    if new < 0:
        return ENOMEM
    # most pages are neither locked nor under writeback: skip the rule calls for them
    rc = (
        _lock_and_writeback(k, pfn, force, mode, memalloc, six=False)
        if k.mem.f[pfn] & _SLOW_FLAGS
        else 0
    )
    if rc == 0:
        rc = _move(k, pfn, new, mode, force) if _needs_move_rules(k, pfn) else 0
    if rc == EAGAIN:
        free(new)
        k.note_retry(pfn)
        return rc
    if rc == 0:
        k.finish_migration(pfn, new)
        return 0
    free(new)
    k.putback_page(pfn, rc)
    return rc


_SLOW_FLAGS = F_LOCKED | F_WRITEBACK


def _needs_move_rules(k: Kernel, pfn: int) -> bool:
    """False when move_to_new_page() can only succeed: an LRU page with no transient
    references modelled and no dirty-writeout path."""
    return bool(k.lru_eagain_rate or k.mem.k[pfn] == K_DRIVER or not k.file_migratepage)


def _lock_and_writeback(
    k: Kernel, pfn: int, force: bool, mode: int, memalloc: bool, six: bool
) -> int:
    """The page-lock and writeback rules of __unmap_and_move (4.8) / migrate_folio_unmap (6.18)."""
    f = k.mem.f[pfn]
    if f & F_LOCKED:
        if six:
            if mode == MIGRATE_ASYNC or memalloc:
                return EAGAIN
        elif not force or mode == MIGRATE_ASYNC or memalloc:
            return EAGAIN
        # lock_page(): sleep until the holder unlocks it
        k.wait("lock", pfn)
        k.mem.f[pfn] = f = f & ~F_LOCKED
    if f & F_WRITEBACK:
        if mode != MIGRATE_SYNC:
            return EBUSY
        if not six and not force:
            return EAGAIN
        k.wait("writeback", pfn)
        k.mem.f[pfn] = f & ~F_WRITEBACK
    return 0


def _move(k: Kernel, pfn: int, new: int, mode: int, force: bool) -> int:
    """move_to_new_page(): the driver's migratepage for non-LRU pages, else the LRU rules."""
    mem = k.mem
    if mem.k[pfn] == K_DRIVER:
        return k.driver_migratepage(pfn, new, mode)
    if mem.k[pfn] == K_FILE and mem.f[pfn] & F_DIRTY and not k.file_migratepage:
        # fallback_migrate_page(): dirty pages are written out only in SYNC mode
        if mode != MIGRATE_SYNC:
            return EBUSY
        mem.f[pfn] = (mem.f[pfn] & ~F_DIRTY) | F_WRITEBACK
        return EAGAIN
    # migrate_page_move_mapping(): a transient extra reference gives -EAGAIN
    if k.lru_eagain_rate and k.rng.random() < k.lru_eagain_rate:
        return EAGAIN
    return 0


# -- 6.18 ------------------------------------------------------------------------


def _migrate_pages_618(
    k: Kernel,
    src: list[int],
    alloc: Alloc,
    free: Free,
    mode: int,
    reason: int,
    memalloc: bool,
    alloc_many: AllocMany,
) -> tuple[int, int, int, list[int]]:
    """6.18 migrate_pages(): batches of 512, sync modes try async first (§1.5)."""
    k.trace("mm_migrate_pages_start", f"mode={MODE_NAMES[mode]} reason={k.reason_name(reason)}")
    stats = {"succeeded": 0, "failed_pages": 0}
    from_list = list(src)
    rc_gather = 0
    ret: list[int] = []
    while from_list:
        batch = from_list[:NR_MAX_BATCHED_MIGRATION]
        from_list = from_list[NR_MAX_BATCHED_MIGRATION:]
        if mode == MIGRATE_ASYNC:
            rc = _migrate_pages_batch(
                k,
                batch,
                alloc,
                alloc_many,
                free,
                MIGRATE_ASYNC,
                memalloc,
                NR_MAX_MIGRATE_PAGES_RETRY,
                ret,
                stats,
            )
        else:
            rc = _migrate_pages_sync(k, batch, alloc, alloc_many, free, mode, memalloc, ret, stats)
        ret.extend(batch)  # folios still -EAGAIN (or never tried after -ENOMEM)
        if rc < 0:
            rc_gather = rc
            break
        rc_gather += rc
    left = ret + from_list
    if not left:
        rc_gather = 0
    k.count("pgmigrate_success", stats["succeeded"])
    k.count("pgmigrate_fail", stats["failed_pages"])
    k.trace(
        "mm_migrate_pages",
        f"nr_succeeded={stats['succeeded']} nr_failed={stats['failed_pages']} nr_thp_succeeded=0 "
        f"nr_thp_failed=0 nr_thp_split=0 nr_split=0 mode={MODE_NAMES[mode]} reason={k.reason_name(reason)}",
    )
    return rc_gather, stats["succeeded"], stats["failed_pages"], left


def _migrate_pages_sync(
    k: Kernel,
    batch: list[int],
    alloc: Alloc,
    alloc_many: AllocMany,
    free: Free,
    mode: int,
    memalloc: bool,
    ret: list[int],
    stats: dict[str, int],
) -> int:
    """migrate_pages_sync(): one batched async try, then each folio alone in `mode`."""
    tmp: list[int] = []
    astats = {"succeeded": 0, "failed_pages": 0}
    rc = _migrate_pages_batch(
        k,
        batch,
        alloc,
        alloc_many,
        free,
        MIGRATE_ASYNC,
        memalloc,
        NR_MAX_MIGRATE_ASYNC_RETRY,
        tmp,
        astats,
    )
    stats["succeeded"] += astats["succeeded"]
    if rc < 0:
        # async failures are counted only now that there is no sync retry ("will be retried")
        stats["failed_pages"] += astats["failed_pages"]
        ret.extend(tmp)
        return rc
    # every async failure, permanent ones included, gets one more try in the caller's mode
    pending = batch[:] + tmp
    batch.clear()
    nr_failed = 0
    for i, pfn in enumerate(pending):
        one = [pfn]
        rc = _migrate_pages_batch(
            k, one, alloc, alloc_many, free, mode, memalloc, NR_MAX_MIGRATE_SYNC_RETRY, ret, stats
        )
        ret.extend(one)
        if rc < 0:
            batch.extend(pending[i + 1 :])
            return rc
        nr_failed += rc
    return nr_failed


def _migrate_pages_batch(
    k: Kernel,
    from_list: list[int],
    alloc: Alloc,
    alloc_many: AllocMany,
    free: Free,
    mode: int,
    memalloc: bool,
    nr_pass: int,
    ret: list[int],
    stats: dict[str, int],
) -> int:
    """migrate_pages_batch(): unmap phase then move phase, dst kept across move retries.

    Folios still -EAGAIN after the unmap passes (or never tried after -ENOMEM) stay on
    from_list; permanent failures and move-phase leftovers go to ret.
    """
    # the unmap list as two columns: source pfns and their targets, in unmap order
    olds: list[int] = []
    news: list[int] = []
    nr_failed = 0
    rc_saved = 0
    retry = 1
    mf = k.mem.f
    for _ in range(nr_pass):
        if not retry:
            break
        retry = 0
        n = len(from_list)
        # only locked or writeback pages can fail to unmap; the rest are done in runs. A
        # page's flags change only when its own turn comes, so one look per pass will do
        stops = np.flatnonzero((_flags_of(k, from_list)[1] & _SLOW_FLAGS) != 0).tolist()
        si = 0
        kept: list[int] = []  # folios still -EAGAIN, in list order
        i = 0
        while i < n:
            j, si = _run_end(stops, si, i, n)
            if j > i:
                got = alloc_many(j - i)
                if got:
                    olds.extend(from_list[i : i + len(got)])
                    news.extend(got)
                    i += len(got)
                    continue
            # a locked or writeback page, or the targets ran out: one alloc() call, which
            # may run the free scanner
            pfn = from_list[i]
            new = alloc()
            if new < 0:
                nr_failed += 1
                stats["failed_pages"] += 1 + retry
                rc_saved = ENOMEM
                break
            rc = 0
            if mf[pfn] & _SLOW_FLAGS:
                rc = _lock_and_writeback(k, pfn, True, mode, memalloc, six=True)
                if rc != 0:
                    free(new)  # migrate_folio_undo_dst()
            i += 1
            if rc == EAGAIN:
                retry += 1
                k.note_retry(pfn)
                kept.append(pfn)
            elif rc == 0:
                olds.append(pfn)
                news.append(new)
            else:
                nr_failed += 1
                stats["failed_pages"] += 1
                ret.append(pfn)
        # the failed -ENOMEM folio (at i) and those after it were never unmapped
        from_list[:] = kept + from_list[i:]
        if rc_saved:
            break
    if not rc_saved:
        nr_failed += retry
        stats["failed_pages"] += retry
    # move phase: the driver (or the LRU copy) runs here; -EAGAIN keeps the same dst
    lru_simple = not k.lru_eagain_rate and k.file_migratepage
    retry = 1
    for _ in range(nr_pass):
        if not retry:
            break
        retry = 0
        n = len(olds)
        # with no transient references or dirty writeout modelled, an LRU page can only
        # succeed: runs of them between driver pages are copied in bulk
        if lru_simple:
            stops = np.flatnonzero(_flags_of(k, olds)[0] == K_DRIVER).tolist()
        else:
            stops = list(range(n))  # every page goes through the move rules
        si = 0
        keep_olds: list[int] = []
        keep_news: list[int] = []
        i = 0
        while i < n:
            j, si = _run_end(stops, si, i, n)
            if j > i:
                k.finish_lru_migrations(olds[i:j], news[i:j])
                stats["succeeded"] += j - i
                i = j
                continue
            pfn, new = olds[i], news[i]
            i += 1
            rc = _move(k, pfn, new, mode, True) if _needs_move_rules(k, pfn) else 0
            if rc == EAGAIN:
                retry += 1
                k.note_retry(pfn)
                keep_olds.append(pfn)
                keep_news.append(new)
            elif rc == 0:
                k.finish_migration(pfn, new)
                stats["succeeded"] += 1
            else:
                free(new)
                nr_failed += 1
                stats["failed_pages"] += 1
                ret.append(pfn)
        olds, news = keep_olds, keep_news
    nr_failed += retry
    stats["failed_pages"] += retry
    # migrate_folios_undo(): whatever is still unmapped goes back, its dst freed
    for pfn, new in zip(olds, news, strict=True):
        free(new)
        ret.append(pfn)
    return rc_saved or nr_failed


__all__ = ["migrate_pages"]
