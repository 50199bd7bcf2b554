"""migrate_pages() retry loops and per-page rules (kernel-spec §1.3-§1.7)."""

import pytest

from simulator.constants import (
    EAGAIN,
    EBUSY,
    F_DIRTY,
    F_ISOLATED,
    F_LOCKED,
    F_MOVABLE,
    F_WRITEBACK,
    K_ANON,
    K_DRIVER,
    K_FREE,
    K_TARGET,
    MIGRATE_ASYNC,
    MIGRATE_MOVABLE,
    MIGRATE_SYNC,
    MIGRATE_SYNC_LIGHT,
)
from simulator.migrate import migrate_pages
from tests.engine_helpers import make_sim, trace_events


class Harness:
    """Calls migrate_pages() directly with counting get_new_page/put_new_page."""

    def __init__(self, profile, kind="anon", driver=None, pcp="off"):
        drivers = []
        if driver is not None:
            drivers = [{"name": "drv", "pages": 1, "placement": "range", "range": [0, 1], **driver}]
            ranges = []
        else:
            ranges = [{"start": 0, "count": 1, "kind": kind}]
        self.sim = make_sim(ranges, profile=profile, pcp=pcp, drivers=drivers)
        self.k = self.sim.k
        self.mem = self.k.mem
        self.allocs = 0
        self.frees = 0
        z = self.mem.zones[0]
        self.pool = []
        for _ in range(16):
            p = self.mem.rmqueue(z, 0, MIGRATE_MOVABLE)
            self.mem.kind[p] = K_TARGET
            self.pool.append(p)

    def alloc(self):
        self.allocs += 1
        return self.pool.pop() if self.pool else -1

    def free(self, p):
        self.frees += 1
        self.pool.append(p)

    def isolate(self, pfn=0):
        if self.mem.kind[pfn] == K_DRIVER:
            assert self.k.isolate_movable_page(pfn)
        else:
            self.k.isolate_lru_page(pfn)

    def migrate(self, mode, memalloc=False, pfn=0):
        self.isolate(pfn)
        rc, ok, failed, left = migrate_pages(
            self.k, [pfn], self.alloc, self.free, mode, 0, memalloc
        )
        for p in left:
            self.k.putback_page(p)
        return rc, ok, failed, left

    @property
    def driver(self):
        return self.k.drivers[0]


@pytest.mark.parametrize("mode", [MIGRATE_ASYNC, MIGRATE_SYNC_LIGHT, MIGRATE_SYNC])
def test_v48_always_eagain_page_is_tried_ten_times_with_a_new_target_each_time(mode):
    """§1.3: 10 passes; each attempt allocates a target and frees it again."""
    h = Harness("v4.8", driver={"migrate": {"EAGAIN": 1.0}})
    rc, ok, failed, left = h.migrate(mode)
    assert h.driver.eagain == 10
    assert h.allocs == 10 and h.frees == 10
    assert (rc, ok, failed) == (1, 0, 1)
    assert left == [0]  # still -EAGAIN after pass 9: the caller puts it back
    assert h.k.vmstat["pgmigrate_fail"] == 1 and h.k.vmstat["pgmigrate_success"] == 0


def test_v618_async_eagain_keeps_one_target_across_ten_move_passes():
    """§1.5: ASYNC -> 10 driver calls, 1 allocation (dst kept across move retries)."""
    h = Harness("v6.18", driver={"migrate": {"EAGAIN": 1.0}})
    rc, ok, failed, left = h.migrate(MIGRATE_ASYNC)
    assert h.driver.eagain == 10
    assert h.allocs == 1 and h.frees == 1
    assert (rc, ok, failed, left) == (1, 0, 1, [0])


@pytest.mark.parametrize("mode", [MIGRATE_SYNC_LIGHT, MIGRATE_SYNC])
def test_v618_sync_eagain_is_three_async_then_seven_sync_calls(mode):
    """§1.5: SYNC*: 3 calls in MIGRATE_ASYNC then 7 in the caller's mode; 2 allocations."""
    h = Harness("v6.18", driver={"migrate": {"EAGAIN": 1.0}})
    rc, ok, failed, left = h.migrate(mode)
    assert h.driver.eagain == 10
    assert h.allocs == 2
    # the async failure is not counted; only the final sync failure is
    assert (rc, ok, failed) == (1, 0, 1)
    assert h.k.vmstat["pgmigrate_fail"] == 1


@pytest.mark.parametrize(
    "profile,mode,calls",
    [
        ("v4.8", MIGRATE_SYNC, 1),
        ("v4.8", MIGRATE_ASYNC, 1),
        ("v6.18", MIGRATE_ASYNC, 1),
        ("v6.18", MIGRATE_SYNC_LIGHT, 2),  # permanent async failure retried once in sync
        ("v6.18", MIGRATE_SYNC, 2),
    ],
)
def test_permanent_failure_is_given_up_after_profile_specific_tries(profile, mode, calls):
    """§1.5 consequences: always -EBUSY is tried twice under SYNC* in 6.18, once otherwise."""
    h = Harness(profile, driver={"migrate": {"EBUSY": 1.0}})
    rc, ok, failed, left = h.migrate(mode)
    assert h.driver.errors == {"EBUSY": calls}
    assert (ok, failed) == (0, 1)
    assert h.k.vmstat["pgmigrate_fail"] == 1


def test_v48_permanent_failure_is_put_back_inside_migrate_pages():
    """§1.3: a permanently failed page is put back inside unmap_and_move, not left on the list."""
    h = Harness("v4.8", driver={"migrate": {"EBUSY": 1.0}})
    h.isolate()
    rc, ok, failed, left = migrate_pages(h.k, [0], h.alloc, h.free, MIGRATE_SYNC, 0, False)
    assert left == [] and rc == 1
    assert not h.mem.flags[0] & F_ISOLATED and h.driver.putback == 1


def test_v618_permanent_failure_is_returned_for_the_caller_to_put_back():
    """§1.5: nothing is put back inside migrate_pages any more."""
    h = Harness("v6.18", driver={"migrate": {"EBUSY": 1.0}})
    h.isolate()
    rc, ok, failed, left = migrate_pages(h.k, [0], h.alloc, h.free, MIGRATE_SYNC, 0, False)
    assert left == [0] and h.mem.flags[0] & F_ISOLATED and h.driver.putback == 0


def test_successful_migration_moves_the_content_token_and_frees_the_old_page():
    """§1.4: on success the old page is freed and the content lives at the new page."""
    h = Harness("v6.18", kind="anon")
    token = int(h.mem.token[0])
    rc, ok, failed, left = h.migrate(MIGRATE_SYNC)
    assert (rc, ok, failed, left) == (0, 1, 0, [])
    assert h.mem.kind[0] == K_FREE
    moved = [p for p in range(h.mem.npages) if h.mem.kind[p] == K_ANON]
    assert len(moved) == 1 and int(h.mem.token[moved[0]]) == token
    assert "nr_succeeded=1 nr_failed=0" in trace_events(h.sim, "mm_migrate_pages")[0]


@pytest.mark.parametrize(
    "profile,mode,memalloc,expect_ok,attempts",
    [
        ("v4.8", MIGRATE_ASYNC, False, 0, 10),  # trylock only
        ("v4.8", MIGRATE_SYNC_LIGHT, False, 1, 4),  # lock_page from pass 3 (force)
        ("v4.8", MIGRATE_SYNC, False, 1, 4),
        ("v4.8", MIGRATE_SYNC, True, 0, 10),  # PF_MEMALLOC: never a blocking lock
        ("v6.18", MIGRATE_ASYNC, False, 0, 10),
        ("v6.18", MIGRATE_SYNC_LIGHT, False, 1, 4),  # 3 async tries, then folio_lock
        ("v6.18", MIGRATE_SYNC_LIGHT, True, 0, 10),
    ],
)
def test_locked_page_rules_per_mode(profile, mode, memalloc, expect_ok, attempts):
    """§1.4 / §1.5 page-lock rule when trylock fails."""
    h = Harness(profile, kind="anon")
    h.mem.flags[0] |= F_LOCKED
    rc, ok, failed, left = h.migrate(mode, memalloc=memalloc)
    assert ok == expect_ok
    retries = sum(1 for e in h.sim.page_info(0)["history"] if e["event"] == "retry")
    assert retries + expect_ok == attempts


@pytest.mark.parametrize(
    "profile,mode,expect",
    [
        ("v4.8", MIGRATE_SYNC_LIGHT, EBUSY),  # never waits for writeback
        ("v4.8", MIGRATE_ASYNC, EBUSY),
        ("v4.8", MIGRATE_SYNC, 0),  # -EAGAIN on passes 0-2, then waits
        ("v6.18", MIGRATE_SYNC_LIGHT, EBUSY),
        ("v6.18", MIGRATE_SYNC, 0),  # async phase -EBUSY, sync phase waits
    ],
)
def test_writeback_page_rules_per_mode(profile, mode, expect):
    """§1.1 / §1.4 / §1.5 writeback rule."""
    h = Harness(profile, kind="file")
    h.mem.flags[0] |= F_WRITEBACK
    rc, ok, failed, left = h.migrate(mode)
    assert ok == (1 if expect == 0 else 0)
    if profile == "v4.8" and mode == MIGRATE_SYNC:
        retries = sum(1 for e in h.sim.page_info(0)["history"] if e["event"] == "retry")
        assert retries == 3


def test_transient_reference_gives_eagain_for_lru_pages():
    """§1.4: migrate_page_move_mapping returns -EAGAIN on an unexpected refcount."""
    h = Harness("v4.8", kind="anon")
    h.k.lru_eagain_rate = 1.0
    rc, ok, failed, left = h.migrate(MIGRATE_SYNC)
    assert (rc, ok, failed) == (1, 0, 1)
    assert h.allocs == 10


def test_dirty_file_page_without_migratepage_is_written_out_only_in_sync():
    """§1.4 fallback_migrate_page(): dirty -> -EBUSY unless SYNC, where it is written out."""
    h = Harness("v4.8", kind="file")
    h.k.file_migratepage = False
    h.mem.flags[0] |= F_DIRTY
    rc, ok, failed, left = h.migrate(MIGRATE_SYNC_LIGHT)
    assert (ok, failed) == (0, 1)
    h2 = Harness("v4.8", kind="file")
    h2.k.file_migratepage = False
    h2.mem.flags[0] |= F_DIRTY
    rc, ok, failed, left = h2.migrate(MIGRATE_SYNC)
    assert ok == 1


def test_enomem_stops_the_whole_call_in_v48():
    """§1.3: -ENOMEM ends migrate_pages at once; untried pages are not counted."""
    h = Harness("v4.8", kind="anon")
    h.pool.clear()
    rc, ok, failed, left = h.migrate(MIGRATE_SYNC)
    assert rc == -12 and failed == 1 and left == [0]


def test_isolating_a_non_lru_page_needs_the_driver_to_agree():
    """§1.6: isolate_page() returning false fails the isolation; the page stays unisolated."""
    h = Harness("v6.18", driver={"isolate_refuse_rate": 1.0})
    assert not h.k.isolate_movable_page(0)
    assert not h.mem.flags[0] & F_ISOLATED and h.driver.isolate_refused == 1


def test_a_page_is_never_isolated_twice():
    """§1.6: an already isolated page fails isolation without calling the driver."""
    h = Harness("v6.18", driver={})
    assert h.k.isolate_movable_page(0)
    calls = h.driver.isolated
    assert not h.k.isolate_movable_page(0)
    assert h.driver.isolated == calls


def test_locked_driver_page_is_not_isolated():
    """§1.6 step 3: trylock_page, never a blocking lock."""
    h = Harness("v6.18", driver={})
    h.mem.flags[0] |= F_LOCKED
    assert not h.k.isolate_movable_page(0)


def test_v48_correct_driver_clears_movable_on_the_old_page():
    """§6 / seed: after success the driver calls __ClearPageMovable(oldpage)."""
    h = Harness("v4.8", driver={})
    cleared = []
    orig = h.mem.free_pages

    def spy(pfn, order, use_pcp=True):
        cleared.append(bool(h.mem.flags[pfn] & F_MOVABLE))
        orig(pfn, order, use_pcp)

    h.mem.free_pages = spy
    rc, ok, failed, left = h.migrate(MIGRATE_SYNC)
    assert ok == 1 and cleared == [False]
    assert not h.k.violations


def test_migration_rc_taxonomy_eagain_is_retried_other_errors_are_not():
    """§1.7: -EAGAIN retried, any other error given up at once (seed: 'give up ... without retrying')."""
    for errno, calls in (("EAGAIN", 10), ("EINVAL", 1), ("ENOMEM", 1)):
        h = Harness("v4.8", driver={"migrate": {errno: 1.0}})
        h.migrate(MIGRATE_ASYNC)
        assert h.driver.eagain + sum(h.driver.errors.values()) == calls, errno
    assert EAGAIN == -11


@pytest.mark.parametrize("mode", [MIGRATE_ASYNC, MIGRATE_SYNC_LIGHT, MIGRATE_SYNC])
@pytest.mark.parametrize("profile,nr_failed", [("v4.8", 1), ("v6.18", 2)])
def test_enomem_counts_the_failing_page_and_this_passs_eagain_pages_only_in_v618(
    profile, nr_failed, mode
):
    """-ENOMEM part-way through the first pass over [0 locked, 1, 2, 3] with one target.

    Page 0 takes the target, fails the trylock (-EAGAIN: ASYNC, or pass 0 without force
    in 4.8, or the async first try of 6.18 SYNC*) and gives it back; page 1 takes it
    and is migrated; page 2 gets no target; page 3 is never tried.
    4.8 (§1.3): '-ENOMEM -> nr_failed++; goto out': 1 failed; the -EAGAIN page is not
    counted. 6.18 (§1.5): 'failed_pages += 1 + retry pages so far', the unmapped page 1
    is still moved, and in sync modes the async phase's failures are counted because it
    returned rc < 0: 2 failed. Both return -ENOMEM (§1.7) and leave 0, 2, 3 on the list.
    """
    sim = make_sim([{"start": 0, "count": 4, "kind": "anon"}], profile=profile)
    k, mem = sim.k, sim.k.mem
    mem.flags[0] |= F_LOCKED
    target = mem.rmqueue(mem.zones[0], 0, MIGRATE_MOVABLE)
    mem.kind[target] = K_TARGET
    pool = [target]
    calls = {"alloc": 0, "free": 0}

    def alloc():
        calls["alloc"] += 1
        return pool.pop() if pool else -1

    def free(p):
        calls["free"] += 1
        pool.append(p)

    token1 = int(mem.token[1])
    for p in range(4):
        k.isolate_lru_page(p)
    rc, ok, failed, left = migrate_pages(k, [0, 1, 2, 3], alloc, free, mode, 0, False)
    assert (rc, ok, failed, left) == (-12, 1, nr_failed, [0, 2, 3])
    assert calls == {"alloc": 3, "free": 1}  # pages 0, 1, 2 asked; page 3 never did
    assert mem.kind[1] == K_FREE and mem.kind[target] == K_ANON
    assert int(mem.token[target]) == token1
    assert all(mem.flags[p] & F_ISOLATED for p in (0, 2, 3))  # for the caller to put back
    assert k.vmstat["pgmigrate_success"] == 1 and k.vmstat["pgmigrate_fail"] == nr_failed
    line = trace_events(sim, "mm_migrate_pages")[-1]
    assert line.startswith(f"nr_succeeded=1 nr_failed={nr_failed} ")
