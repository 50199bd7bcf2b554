"""Drivers that own non-LRU movable pages, and fault injection on their callbacks.

A driver answers the three callbacks of the seed document (isolate_page, migratepage,
putback_page). Presets encode what the real drivers do in each profile (kernel-spec §6);
a user-defined driver gives outcome rates per callback. Buggy modes break one rule of the
contract so that the engine's checks can be seen catching it: what a driver does to the
pages is done here, by the driver's side of each callback, and the VM's side (kernel.py)
checks only what the pages look like afterwards, for every driver, buggy or not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .constants import A_LOST, EAGAIN, EBUSY, EINVAL, ENOMEM, ERRNO_BY_NAME, F_MOVABLE

BUGGY_MODES = ("forget_clear_movable", "touch_lru_isolated", "lose_on_putback", "no_copy")

# Rules of Documentation/vm/page_migration "C. Non-LRU page migration", quoted by the checks.
RULES = {
    "forget_clear_movable": (
        "migratepage: indicate to the VM the oldpage is no longer movable via "
        "__ClearPageMovable() under page_lock if you migrated the oldpage successfully"
    ),
    "touch_lru_isolated": (
        "Once page is successfully isolated, VM uses page.lru fields; "
        "driver shouldn't touch page.lru field VM using in the functions"
    ),
    "lose_on_putback": (
        "putback_page: driver should put the isolated page back to the own data structure"
    ),
    "no_copy": "migratepage: move content of the old page to new page",
}

# What each preset does per profile (§6 driver table). Rates are per callback call.
PRESETS: dict[str, dict[str, dict]] = {
    "zsmalloc": {
        # 4.8: trypin_tag fails for a busy object -> -EAGAIN; empty zspage -> -EBUSY
        "v4.8": {"isolate_refuse_rate": 0.02, "migrate": {"EAGAIN": 0.05, "EBUSY": 0.005}},
        # 6.18: zspage_write_trylock failure -> -EINVAL (permanent); putback is a no-op
        "v6.18": {"isolate_refuse_rate": 0.0, "migrate": {"EINVAL": 0.02}},
    },
    "virtio_balloon": {
        # balloon_lock trylock failure -> -EAGAIN so the VM retries
        "v4.8": {"isolate_refuse_rate": 0.0, "migrate": {"EAGAIN": 0.05}},
        "v6.18": {"isolate_refuse_rate": 0.0, "migrate": {"EAGAIN": 0.05}},
    },
    "vmw_balloon": {
        # conf_sem trylock failure -> -EAGAIN; deflate failure -> -EBUSY. Not in 4.8.
        "v6.18": {"isolate_refuse_rate": 0.0, "migrate": {"EAGAIN": 0.03, "EBUSY": 0.01}},
    },
    "z3fold": {
        # migration support arrived after 4.8 and z3fold was removed before 6.18; kept so a
        # scenario naming it gets a precise error instead of a silent substitute.
    },
}

ERRNO_ORDER = ("EAGAIN", "EBUSY", "EINVAL", "ENOMEM")


@dataclass
class Injection:
    """The knobs of the kernel's fault_attr (lib/fault-inject.c should_fail())."""

    probability: float = 0.0  # percent, 0..100
    errno: int = EAGAIN
    interval: int = 1
    times: int = -1  # -1: unlimited
    space: int = 0
    start_ns: int | None = None
    end_ns: int | None = None
    pfn_start: int | None = None
    pfn_end: int | None = None
    count: int = 0

    def should_fail(self, rng: np.random.Generator, now_ns: int, pfn: int) -> bool:
        if self.probability <= 0 or self.times == 0:
            return False
        if self.start_ns is not None and now_ns < self.start_ns:
            return False
        if self.end_ns is not None and now_ns >= self.end_ns:
            return False
        if self.pfn_start is not None and pfn < self.pfn_start:
            return False
        if self.pfn_end is not None and pfn >= self.pfn_end:
            return False
        if self.space > 0:
            # "space" is in bytes of the request: one page per call here
            self.space = max(0, self.space - 4096)
            return False
        if self.interval > 1:
            self.count += 1
            if self.count % self.interval:
                return False
        if self.probability <= rng.integers(100):
            return False
        if self.times != -1:
            self.times -= 1
        return True


@dataclass
class Driver:
    id: int
    name: str
    preset: str | None
    isolate_refuse_rate: float
    migrate_rates: dict[str, float]
    buggy: tuple[str, ...] = ()
    injection: Injection = field(default_factory=Injection)
    # statistics
    isolated: int = 0
    migrated: int = 0
    putback: int = 0
    eagain: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    isolate_refused: int = 0
    pages: int = 0
    lost: int = 0

    def isolate_page(self, rng: np.random.Generator) -> bool:
        if self.isolate_refuse_rate > 0 and rng.random() < self.isolate_refuse_rate:
            self.isolate_refused += 1
            return False
        self.isolated += 1
        return True

    def migratepage(
        self, rng: np.random.Generator, now_ns: int, pfn: int, lru_written: set[int]
    ) -> int:
        """The driver's rc for one call: injected fault, then its own rates, else success.
        lru_written: the pages whose page->lru someone other than the VM wrote to."""
        if "touch_lru_isolated" in self.buggy:
            # it keeps the page on a list of its own through page->lru, which the VM
            # owns while the page is isolated
            lru_written.add(pfn)
        if self.injection.should_fail(rng, now_ns, pfn):
            rc = self.injection.errno
        else:
            rc = 0
            if self.migrate_rates:
                u = rng.random()
                acc = 0.0
                for name in ERRNO_ORDER:
                    acc += self.migrate_rates.get(name, 0.0)
                    if u < acc:
                        rc = ERRNO_BY_NAME[name]
                        break
        if rc == EAGAIN:
            self.eagain += 1
        elif rc:
            key = {EBUSY: "EBUSY", EINVAL: "EINVAL", ENOMEM: "ENOMEM"}.get(rc, str(rc))
            self.errors[key] = self.errors.get(key, 0) + 1
        else:
            self.migrated += 1
        return rc

    def move_page(self, mem, old: int, new: int, clear_movable: bool) -> None:
        """What a successful migratepage() does to the pages (seed document, "C. Non-LRU
        page migration"): the content goes to the new page, which the driver makes
        movable (__SetPageMovable), and with clear_movable (4.8) the old page stops being
        movable (__ClearPageMovable)."""
        mem.f[new] = F_MOVABLE
        if "no_copy" not in self.buggy:
            mem.t[new] = mem.t[old]
        if clear_movable and "forget_clear_movable" not in self.buggy:
            mem.f[old] &= ~F_MOVABLE

    def putback_page(self, mem, pfn: int) -> None:
        """putback_page(): the isolated page goes back into the driver's own structures."""
        self.putback += 1
        if "lose_on_putback" in self.buggy:
            mem.a[pfn] |= A_LOST  # never relinked: the driver has lost track of it

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "preset": self.preset,
            "pages": self.pages,
            "isolated": self.isolated,
            "isolate_refused": self.isolate_refused,
            "migrated": self.migrated,
            "putback": self.putback,
            "eagain": self.eagain,
            "errors": dict(self.errors),
            "lost": self.lost,
            "buggy": list(self.buggy),
        }


def preset_rates(preset: str, profile: str) -> dict | None:
    return PRESETS.get(preset, {}).get(profile)
