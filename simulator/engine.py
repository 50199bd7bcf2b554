"""The step API: a Simulation runs a scenario's timeline through the simulated kernel."""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass, field

import numpy as np

from . import ENGINE_VERSION
from .compaction import CompactControl, Compactor
from .constants import (
    COMPACT_COMPLETE,
    COMPACT_CONTENDED,
    COMPACT_DEFERRED,
    COMPACT_PARTIAL_SKIPPED,
    COMPACT_SKIPPED,
    COMPACT_SUCCESS,
    COMPACTION_HPAGE_ORDER,
    F_ISOLATED,
    FLAG_NAMES,
    K_ANON,
    K_DRIVER,
    K_FILE,
    K_FREE,
    K_PCP,
    K_RECLAIMABLE,
    K_UNMOVABLE,
    KIND_NAMES,
    MAX_ORDER,
    MIGRATE_ASYNC,
    MIGRATE_MOVABLE,
    MIGRATE_RECLAIMABLE,
    MIGRATE_SYNC,
    MIGRATE_SYNC_LIGHT,
    MIGRATE_UNMOVABLE,
    MIGRATETYPE_NAMES,
    PAGE_ALLOC_COSTLY_ORDER,
    PAGEBLOCK_ORDER,
    PROFILES,
    S_ISOLATED,
    STATE_NAMES,
    status_name,
)
from .fastpath import fast_forward
from .fastpath48 import fast_forward_48
from .kernel import COST_TICK, TRACE_KEEP, Kernel, TraceLog
from .memory import extfrag_text
from .procfs import REPORTS
from .scenario import FieldError, Scenario, ScenarioError

# kind -> display state
_STATE_LUT = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 10, 12] + [10] * 243, dtype=np.uint8)
MT_BY_NAME = {
    "movable": MIGRATE_MOVABLE,
    "unmovable": MIGRATE_UNMOVABLE,
    "reclaimable": MIGRATE_RECLAIMABLE,
}
KIND_FOR_MT = {
    MIGRATE_MOVABLE: K_ANON,
    MIGRATE_UNMOVABLE: K_UNMOVABLE,
    MIGRATE_RECLAIMABLE: K_RECLAIMABLE,
}
PROACTIVE_INTERVAL_NS = 500_000_000
MAX_COMPACT_RETRIES = 16


@dataclass
class StepResult:
    pfns: np.ndarray
    states: np.ndarray
    tick: int
    time_ns: int
    events: list[dict]
    done: bool


# The gfp_mask of a high-order request that may compact directly, by its migratetype: a
# THP fault with defrag (GFP_TRANSHUGE) for movable, a compound kernel allocation
# otherwise; 4.8 traces it as a number (4.8 gfp.h bits), 6.x by names in
# show_gfp_flags() order (include/trace/events/mmflags.h)
DIRECT_GFP = {
    MIGRATE_MOVABLE: ("0x4342ca", "GFP_TRANSHUGE"),
    MIGRATE_UNMOVABLE: ("0x24042c0", "GFP_KERNEL|__GFP_NOWARN|__GFP_COMP"),
    MIGRATE_RECLAIMABLE: ("0x24042d0", "GFP_KERNEL|__GFP_RECLAIMABLE|__GFP_NOWARN|__GFP_COMP"),
}


@dataclass
class Job:
    """A compaction request being worked through, zone by zone."""

    kind: str  # compact_memory | direct | kcompactd | proactive
    zones: list[int]
    order: int = -1
    migratetype: int = MIGRATE_UNMOVABLE
    prio: int = 0
    retries: int = 0
    count: int = 1  # direct: allocations still wanted
    zi: int = 0
    rc: int = 0  # try_to_compact_pages: max over zones
    cc: CompactControl | None = None
    stats: dict = field(default_factory=dict)


class Simulation:
    # Full compactions run whole pageblocks at a time where that gives the same result as
    # ticking (see simulator/fastpath.py); False ticks every iteration, for comparison.
    fast_forward = True

    def __init__(
        self, scenario: Scenario, seed: int | None = None, profile: str | None = None
    ) -> None:
        data = scenario.data
        profile = profile or data["profile"]
        if profile not in PROFILES:
            raise ScenarioError([FieldError("profile", f"must be one of {', '.join(PROFILES)}")])
        if profile != data["profile"]:
            # presets and sysctls are validated per profile: re-validate under this one
            raw = scenario.to_dict()
            raw["profile"] = profile
            if profile == "v4.8":
                raw["sysctl"]["compaction_proactiveness"] = 0
            scenario = Scenario.from_dict(raw)
            data = scenario.data
        self.scenario = scenario
        self.seed = data["seed"] if seed is None else int(seed)
        if not 0 <= self.seed < 2**32:
            raise ScenarioError([FieldError("seed", "must be from 0 to 4294967295")])
        self.profile = profile
        self.k = Kernel(data, self.seed, profile)
        self.c = Compactor(self.k)
        self.timeline = list(data["timeline"]) or [{"at_ms": 0, "action": "compact_memory"}]
        self.tl_index = 0
        self.jobs: list[Job] = []
        self.tick_count = 0
        self.outcomes: dict[str, int] = {}
        self.kcompactd_max_order = 0
        self.kcompactd_enabled = data.get("kcompactd", True)
        self.next_proactive_ns = PROACTIVE_INTERVAL_NS
        self.proactive_defer = 0
        self.alloc_failures = 0
        self.k.mem.changed = set()
        self._done = False

    # -- public API -------------------------------------------------------------------
    @property
    def npages(self) -> int:
        return self.k.mem.npages

    @property
    def zones(self) -> list[dict]:
        return [{"name": z.name, "start_pfn": z.start, "end_pfn": z.end} for z in self.k.mem.zones]

    @property
    def done(self) -> bool:
        return self._done

    @property
    def time_ns(self) -> int:
        return self.k.time_ns

    def display_states(self) -> np.ndarray:
        mem = self.k.mem
        states = _STATE_LUT[mem.kind]
        states[(mem.flags & F_ISOLATED) != 0] = S_ISOLATED
        return states

    def step(self, ticks: int = 1) -> StepResult:
        k = self.k
        k.new_events = []
        left = max(1, int(ticks))
        while left > 0 and not self._done:
            n = self._fast_ticks(left) if self.fast_forward else 0
            if not n:
                self._tick()
                n = 1
            left -= n
        k.mem.settle()  # callers read lists and counters between steps
        changed = k.mem.changed
        if changed:
            pfns = np.fromiter(changed, dtype=np.uint32, count=len(changed))
            pfns.sort()
            changed.clear()
        else:
            pfns = np.zeros(0, dtype=np.uint32)
        mem = k.mem
        states = _STATE_LUT[mem.kind[pfns]]
        states[(mem.flags[pfns] & F_ISOLATED) != 0] = S_ISOLATED
        return StepResult(pfns, states, self.tick_count, k.time_ns, k.new_events, self._done)

    def run(self, max_ticks: int = 10**9, progress=None) -> None:
        """Run to the end (or max_ticks), discarding the per-step output."""
        n = 0
        # nobody looks at per-step changes here: stop tracking them (a set of every touched
        # pfn costs ~60 bytes a page per step)
        changed, self.k.mem.changed = self.k.mem.changed, None
        self.k.keep_events = False
        # a progress callback is called every 4096 ticks; without one, bigger steps let the
        # fast path run long stretches (each step ends its fast-forward calls)
        chunk = 4096 if progress else 1 << 20
        try:
            while not self._done and n < max_ticks:
                ticks = min(chunk, max_ticks - n)
                self.step(ticks)
                n += ticks
                if progress:
                    progress(self)
        finally:
            self.k.mem.changed = changed if changed is not None else set()
            self.k.keep_events = True

    def counters(self) -> dict[str, int]:
        return dict(self.k.vmstat)

    def report(self, name: str) -> str:
        if name not in REPORTS:
            raise ValueError(f"unknown report {name!r}; one of {', '.join(REPORTS)}")
        return REPORTS[name](self.k)

    def metrics(self, order: int = COMPACTION_HPAGE_ORDER) -> dict:
        k = self.k
        mem = k.mem
        free_per_order = [sum(z.nr_free(o) for z in mem.zones) for o in range(MAX_ORDER)]
        fp = sum(n << o for o, n in enumerate(free_per_order))
        total = sum(free_per_order)
        suitable = sum(n << (o - order) for o, n in enumerate(free_per_order) if o >= order)
        from .memory import fragmentation_index

        scanners = []
        active = self.jobs[0].cc if self.jobs and self.jobs[0].cc else None
        for z in mem.zones:
            on = (
                active is not None
                and active.zone == z.index
                and active.phase not in ("done", "begin")
            )
            scanners.append(
                {
                    "zone": z.name,
                    "migrate_pfn": active.migrate_pfn if on else z.compact_cached_migrate_pfn[1],
                    "free_pfn": active.free_pfn if on else z.compact_cached_free_pfn,
                    "active": on,
                }
            )
        return {
            "time_ns": k.time_ns,
            "tick": self.tick_count,
            "free_pages": fp,
            "free_per_order": free_per_order,
            "fragindex": fragmentation_index(fp, total, suitable, order),
            "fragindex_order": order,
            "score": self.c.fragmentation_score_node(),
            "pgmigrate_success": k.vmstat["pgmigrate_success"],
            "pgmigrate_fail": k.vmstat["pgmigrate_fail"],
            "vmstat": dict(k.vmstat),
            "eagain": {d.name: d.eagain for d in k.drivers},
            "drivers": [d.to_dict() for d in k.drivers],
            "compact_outcomes": dict(self.outcomes),
            "scanners": scanners,
            "violations": len(k.violations),
            "alloc_failures": self.alloc_failures,
        }

    def page_info(self, pfn: int) -> dict:
        k = self.k
        mem = k.mem
        if not isinstance(pfn, int) or isinstance(pfn, bool) or not 0 <= pfn < mem.npages:
            raise ScenarioError([FieldError("pfn", f"must be from 0 to {mem.npages - 1}")])
        z = mem.zone_of(pfn)
        kind = mem.k[pfn]
        f = mem.f[pfn]
        owner = None
        if kind == K_DRIVER:
            owner = k.driver_of(pfn).name
        info = {
            "pfn": pfn,
            "zone": z.name,
            "pageblock": pfn >> PAGEBLOCK_ORDER,
            "migratetype": MIGRATETYPE_NAMES[mem.block_mt(pfn)],
            "skip": bool(mem.pb_skip[pfn >> PAGEBLOCK_ORDER]),
            "kind": KIND_NAMES[kind],
            "state": STATE_NAMES[int(self.display_states_at(pfn))],
            "flags": [name for bit, name in FLAG_NAMES if f & bit],
            "owner": owner,
            "token": int(mem.t[pfn]) if kind not in (K_FREE, K_PCP) else None,
            "history": k.history.for_pfn(pfn, k.drivers),
        }
        if f & 0x40:  # buddy head
            info["buddy_order"] = mem.buddy_order(pfn)
        return info

    def display_states_at(self, pfn: int) -> int:
        mem = self.k.mem
        if mem.f[pfn] & F_ISOLATED:
            return S_ISOLATED
        return int(_STATE_LUT[mem.k[pfn]])

    def set_injection(self, driver: str, **knobs) -> None:
        k = self.k
        drv = next((d for d in k.drivers if d.name == driver), None)
        if drv is None:
            names = ", ".join(d.name for d in k.drivers) or "none"
            raise ScenarioError(
                [FieldError("driver", f"no driver named {driver!r}; drivers: {names}")]
            )
        from .scenario import _Checker, _validate_injection

        ck = _Checker()
        raw = {key: v for key, v in knobs.items()}
        inj = _validate_injection(ck, raw, "injection", self.npages)
        if ck.errors:
            raise ScenarioError(ck.errors)
        drv.injection = k.make_injection(inj)
        k.new_events.append(
            {"event": "injection", "text": f"driver={driver} {inj}", "time_ns": k.time_ns}
        )

    def write_sysctl(self, name: str, value: int) -> None:
        self._sysctl(name, value)

    def snapshot(self) -> bytes:
        """Full state. Trusted data only: the site never accepts snapshots from users."""
        buf = io.BytesIO()
        buf.write(b"PGMS" + ENGINE_VERSION.encode().ljust(16, b"\0"))
        state = self.__dict__.copy()
        del state["c"]
        pickle.dump(state, buf, protocol=5)
        return buf.getvalue()

    @classmethod
    def restore(cls, blob: bytes) -> Simulation:
        if blob[:4] != b"PGMS":
            raise ValueError("not a pagemig snapshot")
        version = blob[4:20].rstrip(b"\0").decode()
        if version != ENGINE_VERSION:
            raise ValueError(f"snapshot is from engine {version}, this is {ENGINE_VERSION}")
        state = pickle.loads(blob[20:])
        sim = cls.__new__(cls)
        sim.__dict__.update(state)
        sim.c = Compactor(sim.k)
        if type(sim.k.trace_lines) is not TraceLog:  # an older snapshot's plain deque
            sim.k.trace_lines = TraceLog(sim.k.trace_lines, maxlen=TRACE_KEEP)
        # a snapshot taken inside run() (from its progress callback) has step output off
        sim.k.keep_events = True
        if sim.k.mem.changed is None:
            sim.k.mem.changed = set()
        return sim

    # -- the scheduler ---------------------------------------------------------------------
    def _tick(self) -> None:
        k = self.k
        self.tick_count += 1
        k.time_ns += COST_TICK
        if not self.tick_count & 1023:
            self._compact_free_lists()
        self._fire_due_events()
        if not self.jobs:
            if self._proactive_due():
                return
            nxt = self._next_event_ns()
            if nxt is None:
                if not self._proactive_pending():
                    self._done = True
                return
            k.time_ns = max(k.time_ns, nxt)
            self._fire_due_events()
            if not self.jobs:
                return
        self._advance_job(self.jobs[0])

    def _compact_free_lists(self) -> None:
        """Free lists remove lazily; drop dead entries now and then so they stay ~4 B a
        block. Only the lists' bookkeeping changes, not what they hold."""
        mem = self.k.mem
        for z in mem.zones:
            for row in z.free_area:
                for fl in row:
                    fl.maybe_gc(mem.f, mem.a, mem.t)

    def _fast_ticks(self, limit: int) -> int:
        """Up to `limit` ticks of a full compaction at once, or 0 if the next tick must run
        alone."""
        if not self.jobs:
            return 0
        job = self.jobs[0]
        if job.kind != "compact_memory" or job.cc is None:
            return 0
        comm, self.k.comm = self.k.comm, "sh"  # as _advance_job() would set it
        ff = fast_forward if self.k.v6 else fast_forward_48
        n = ff(self.c, job.cc, limit, self._next_event_ns())
        if not n:
            self.k.comm = comm
        before, self.tick_count = self.tick_count, self.tick_count + n
        if before >> 10 != self.tick_count >> 10:
            self._compact_free_lists()  # what the 1024th tick would have done
        return n

    def _next_event_ns(self) -> int | None:
        if self.tl_index < len(self.timeline):
            return int(self.timeline[self.tl_index]["at_ms"] * 1_000_000)
        return None

    def _fire_due_events(self) -> None:
        k = self.k
        while (
            self.tl_index < len(self.timeline)
            and self.timeline[self.tl_index]["at_ms"] * 1_000_000 <= k.time_ns
        ):
            ev = self.timeline[self.tl_index]
            self.tl_index += 1
            self._apply(ev)

    def _proactive_pending(self) -> bool:
        # The kernel retries forever; the simulation is over once a proactive run could not
        # lower the score (the kernel would then only back off to 32 s checks).
        if self.proactive_defer:
            return False
        return bool(
            self.k.v6
            and self.k.sysctl["compaction_proactiveness"]
            and self.kcompactd_enabled
            and self._should_proactive()
        )

    def _should_proactive(self) -> bool:
        return self.c.fragmentation_score_node() > self.c.score_wmark(False)

    def _proactive_due(self) -> bool:
        """kcompactd's timer (6.18): every 500 ms, start proactive compaction if needed."""
        k = self.k
        if not (k.v6 and k.sysctl["compaction_proactiveness"] and self.kcompactd_enabled):
            return False
        if self.tl_index >= len(self.timeline) and not self._proactive_pending():
            return False
        if k.time_ns < self.next_proactive_ns:
            nxt = self._next_event_ns()
            if nxt is None or nxt > self.next_proactive_ns:
                k.time_ns = self.next_proactive_ns
            else:
                return False
        self.next_proactive_ns = k.time_ns + (PROACTIVE_INTERVAL_NS << self.proactive_defer)
        if self._should_proactive():
            zones = [z.index for z in k.mem.zones if z.present]
            self.jobs.append(
                Job("proactive", zones, stats={"prev_score": self.c.fragmentation_score_node()})
            )
            return True
        return False

    # -- timeline actions ------------------------------------------------------------------------
    def _apply(self, ev: dict) -> None:
        k = self.k
        a = ev["action"]
        k.comm = "sh"
        k.new_events.append({"event": "timeline", "text": f"{a} {ev}", "time_ns": k.time_ns})
        if a == "compact_memory":
            self._sysctl("compact_memory", 1)
        elif a == "sysctl":
            self._sysctl(ev["name"], ev["value"])
        elif a == "alloc":
            self._alloc(ev["count"], ev["order"], MT_BY_NAME[ev["type"]])
        elif a == "free":
            self._free(ev["count"], ev["type"])
        elif a == "alloc_high_order":
            self._alloc_high_order(ev["order"], MT_BY_NAME[ev["type"]], ev["count"])
        elif a in ("balloon_inflate", "driver_grow"):
            self._driver_alloc(ev["driver"], ev["pages"])
        elif a == "balloon_deflate":
            self._driver_free(ev["driver"], ev["pages"])
        elif a == "inject":
            drv = next(d for d in k.drivers if d.name == ev["driver"])
            drv.injection = k.make_injection(ev["injection"])
        elif a == "kcompactd_wake":
            self.wakeup_kcompactd(ev["order"])

    def _sysctl(self, name: str, value: int) -> None:
        k = self.k
        if name == "compact_memory":
            if k.v6 and value != 1:
                k.new_events.append(
                    {
                        "event": "sysctl_error",
                        "text": "compact_memory: -EINVAL (only 1 is accepted)",
                        "time_ns": k.time_ns,
                    }
                )
                return
            zones = [z.index for z in k.mem.zones if z.present]
            self.jobs.append(Job("compact_memory", zones))
            return
        limits = {
            "compaction_proactiveness": (0, 100),
            "extfrag_threshold": (0, 1000),
            "compact_unevictable_allowed": (0, 1),
        }
        if name not in limits:
            raise ScenarioError(
                [
                    FieldError(
                        "name",
                        f"unknown sysctl {name!r}; one of compact_memory, {', '.join(limits)}",
                    )
                ]
            )
        lo, hi = limits[name]
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise ScenarioError(
                [FieldError("value", f"{name} must be an integer from {lo} to {hi}")]
            )
        if name == "compaction_proactiveness" and not k.v6 and value:
            raise ScenarioError(
                [FieldError("value", "proactive compaction does not exist in v4.8")]
            )
        old = k.sysctl[name]
        k.sysctl[name] = value
        if name == "compaction_proactiveness" and value and value != old:
            # proactive_compact_trigger(): wake kcompactd now
            self.next_proactive_ns = k.time_ns
            self.proactive_defer = 0

    def _alloc_one(self, order: int, mt: int, kind: int) -> int:
        """get_page_from_freelist() with the min watermark; no reclaim, no compaction."""
        k = self.k
        mem = k.mem
        for z in reversed(mem.zones):
            if not z.present or not mem.watermark_ok(z, order, z.wmark_min):
                continue
            if order == 0:
                pfn = k.rmqueue_pcp(z, mt)
            else:
                pfn = mem.rmqueue(z, order, mt)
            if pfn >= 0:
                n = 1 << order
                mem.kind[pfn : pfn + n] = kind
                mem.flags[pfn : pfn + n] = 0x08 if kind in (K_ANON, K_FILE) else 0
                mem.aux[pfn : pfn + n] = 0
                toks = np.arange(k.next_token, k.next_token + n, dtype=np.uint32)
                mem.token[pfn : pfn + n] = toks
                k.next_token += n
                mem.touch(pfn, n)
                return pfn
        return -1

    def _requeue_direct(self, job: Job, prio: int, retries: int) -> None:
        """Another pass of the allocation slow path, before any other queued work."""
        again = Job(
            "direct",
            job.zones,
            order=job.order,
            migratetype=job.migratetype,
            prio=prio,
            retries=retries,
            count=job.count,
        )
        self.jobs.insert(0, again)

    def _take_captured(self, pfn: int, order: int, kind: int) -> int:
        """prep_new_page() for a block compaction_capture() handed over."""
        k = self.k
        mem = k.mem
        n = 1 << order
        mem.kind[pfn : pfn + n] = kind
        mem.flags[pfn : pfn + n] = 0x08 if kind in (K_ANON, K_FILE) else 0
        mem.aux[pfn : pfn + n] = 0
        mem.token[pfn : pfn + n] = np.arange(k.next_token, k.next_token + n, dtype=np.uint32)
        k.next_token += n
        mem.touch(pfn, n)
        return pfn

    def _alloc(self, count: int, order: int, mt: int) -> None:
        k = self.k
        kind = KIND_FOR_MT[mt]
        got = 0
        for _ in range(count):
            if self._alloc_one(order, mt, kind) < 0:
                break
            got += 1
        if got < count:
            self.alloc_failures += count - got
            k.new_events.append(
                {
                    "event": "alloc_failed",
                    "text": f"order={order} type={MIGRATETYPE_NAMES[mt]} wanted={count} got={got}",
                    "time_ns": k.time_ns,
                }
            )
        self._flush_extfrag()

    def _flush_extfrag(self) -> None:
        k = self.k
        for pfn, order, forder, start_mt, fmt, change in k.mem.extfrag_events:
            k.trace(
                "mm_page_alloc_extfrag",
                extfrag_text(pfn, order, forder, start_mt, fmt, change, k.v6),
            )
        k.mem.extfrag_events.clear()

    def _free(self, count: int, type_name: str) -> None:
        k = self.k
        mem = k.mem
        kinds = {
            "movable": (K_ANON, K_FILE),
            "unmovable": (K_UNMOVABLE,),
            "reclaimable": (K_RECLAIMABLE,),
        }[type_name]
        mask = np.isin(mem.kind, kinds) & ((mem.flags & F_ISOLATED) == 0)
        cand = np.flatnonzero(mask)
        if not len(cand):
            return
        pick = k.rng.choice(cand, size=min(count, len(cand)), replace=False)
        for p in pick.tolist():
            mem.free_pages(p, 0)

    def _driver_alloc(self, name: str, pages: int) -> None:
        k = self.k
        drv = next(d for d in k.drivers if d.name == name)
        for _ in range(pages):
            pfn = self._alloc_one(0, MIGRATE_MOVABLE, K_DRIVER)
            if pfn < 0:
                self.alloc_failures += 1
                break
            k.mem.a[pfn] = drv.id
            k.mem.f[pfn] = 0x20  # F_MOVABLE: __SetPageMovable
            drv.pages += 1
        self._flush_extfrag()  # fallbacks of these allocations are traced now, in order

    def _driver_free(self, name: str, pages: int) -> None:
        k = self.k
        mem = k.mem
        drv = next(d for d in k.drivers if d.name == name)
        cand = np.flatnonzero(
            (mem.kind == K_DRIVER) & (mem.aux == drv.id) & ((mem.flags & F_ISOLATED) == 0)
        )
        if not len(cand):
            return
        pick = k.rng.choice(cand, size=min(pages, len(cand)), replace=False)
        for p in pick.tolist():
            mem.free_pages(p, 0)
            drv.pages -= 1

    # -- direct compaction and kcompactd (§2.2, §2.12) -------------------------------------------
    def _alloc_high_order(self, order: int, mt: int, count: int) -> None:
        k = self.k
        kind = KIND_FOR_MT[mt]
        while count:
            if self._alloc_one(order, mt, kind) < 0:
                break
            count -= 1
        self._flush_extfrag()
        if not count:
            return
        # slow path: kswapd wakes and, going back to sleep, flushes skip hints and wakes
        # kcompactd; then direct compaction at async priority
        self.kswapd_sleep(order)
        zones = [z.index for z in reversed(k.mem.zones) if z.present]
        prio = 2 if k.v6 else 1  # COMPACT_PRIO_ASYNC
        self.jobs.insert(
            0, Job("direct", zones, order=order, migratetype=mt, prio=prio, count=count)
        )

    def kswapd_sleep(self, order: int) -> None:
        """kswapd_try_to_sleep(): reset_isolation_suitable(pgdat) then wakeup_kcompactd().

        Reclaim itself is not modelled; only what kswapd does to compaction state.
        """
        for z in self.k.mem.zones:
            if z.present and z.compact_blockskip_flush:
                self.c.reset_isolation_suitable(z)
        self.wakeup_kcompactd(order)

    def wakeup_kcompactd(self, order: int) -> None:
        k = self.k
        if order <= 0 or not self.kcompactd_enabled:
            return
        self.kcompactd_max_order = max(self.kcompactd_max_order, order)
        if any(j.kind == "kcompactd" for j in self.jobs):
            return
        # kcompactd_node_suitable(): the pending max order, traced as any suitability check
        if not any(
            self.c.compaction_suitable(z, self.kcompactd_max_order, "min" if k.v6 else "low") == 4
            for z in k.mem.zones
            if z.present
        ):
            return
        k.trace(
            "mm_compaction_wakeup_kcompactd",
            f"nid=0 order={order} classzone_idx={k.mem.zones[-1].name:<8s}",
        )
        self.jobs.append(Job("kcompactd", [z.index for z in k.mem.zones if z.present], order=order))

    def _advance_job(self, job: Job) -> None:
        k = self.k
        c = self.c
        k.comm = {
            "kcompactd": "kcompactd0",
            "proactive": "kcompactd0",
            "compact_memory": "sh",
            "direct": "alloc",
        }[job.kind]
        if job.cc is None:
            if job.zi == 0 and job.kind == "kcompactd" and not job.stats.get("woke"):
                job.stats["woke"] = True
                job.order = self.kcompactd_max_order or job.order
                k.trace(
                    "mm_compaction_kcompactd_wake",
                    f"nid=0 order={job.order} classzone_idx={k.mem.zones[-1].name:<8s}",
                )
                k.count("compact_daemon_wake")
            if job.zi == 0 and job.kind == "direct" and not job.stats.get("traced"):
                job.stats["traced"] = True
                gfp = DIRECT_GFP[job.migratetype][k.v6]
                k.trace(
                    "mm_compaction_try_to_compact_pages",
                    f"order={job.order} gfp_mask={gfp} priority={job.prio}",
                )
            cc = self._next_cc(job)
            if cc is None:
                self._finish_job(job)
                return
            job.cc = cc
        cc = job.cc
        finished = c.tick(cc)
        if finished:
            self._zone_done(job, cc)
            job.cc = None
            job.zi += 1

    def _next_cc(self, job: Job) -> CompactControl | None:
        """Set up compact_zone for the job's next zone, skipping deferred/unsuitable ones."""
        k = self.k
        c = self.c
        mem = k.mem
        while job.zi < len(job.zones):
            z = mem.zones[job.zones[job.zi]]
            if job.kind == "compact_memory":
                if not k.v6:
                    c.reset_isolation_suitable(z)
                return CompactControl(
                    z.index,
                    -1,
                    MIGRATE_SYNC,
                    MIGRATE_UNMOVABLE,
                    "compact_memory",
                    ignore_skip_hint=True,
                    whole_zone=k.v6,
                )
            if job.kind == "proactive":
                return CompactControl(
                    z.index,
                    -1,
                    MIGRATE_SYNC_LIGHT,
                    MIGRATE_UNMOVABLE,
                    "proactive",
                    ignore_skip_hint=True,
                    whole_zone=True,
                    proactive=True,
                )
            if job.kind == "kcompactd":
                if c.compaction_deferred(z, job.order):
                    job.zi += 1
                    continue
                if c.compaction_suitable(z, job.order, "min" if k.v6 else "low") != 4:
                    job.zi += 1
                    continue
                cc = CompactControl(
                    z.index,
                    job.order,
                    MIGRATE_SYNC_LIGHT,
                    MIGRATE_UNMOVABLE,
                    "kcompactd",
                    ignore_skip_hint=not k.v6,
                    wmark="min" if k.v6 else "low",
                )
                if "carry" in job.stats:
                    # kcompactd_do_work() uses one compact_control for all zones: what
                    # compact_zone() never resets is carried from the previous zone
                    cc.whole_zone, cc.fast_search_fail, cc.search_order = job.stats["carry"]
                return cc
            # direct
            # 6.18 skips deferral at MIN_COMPACT_PRIORITY (SYNC_FULL); 4.8 always checks it
            if (not k.v6 or job.prio > 0) and c.compaction_deferred(z, job.order):
                job.rc = max(job.rc, COMPACT_DEFERRED)
                job.zi += 1
                continue
            mode = MIGRATE_ASYNC if job.prio == (2 if k.v6 else 1) else MIGRATE_SYNC_LIGHT
            full = k.v6 and job.prio == 0
            if k.v6:
                # current->capture_control for the length of this compact_zone()
                mem.capture = (z.index, job.order, job.migratetype)
                mem.captured = -1
            return CompactControl(
                z.index,
                job.order,
                mode,
                job.migratetype,
                "direct",
                direct=True,
                memalloc=True,
                whole_zone=full,
                ignore_skip_hint=full,
                ignore_block_suitable=full,
                wmark="min" if k.v6 else "low",
            )
        return None

    def _zone_done(self, job: Job, cc: CompactControl) -> None:
        k = self.k
        c = self.c
        z = k.mem.zones[cc.zone]
        name = status_name(cc.result, k.profile)
        self.outcomes[name] = self.outcomes.get(name, 0) + 1
        if job.kind == "kcompactd":
            job.stats["carry"] = (cc.whole_zone, cc.fast_search_fail, cc.search_order)
            if (k.v6 and cc.result == COMPACT_SUCCESS) or (
                not k.v6 and k.mem.watermark_ok(z, job.order, z.wmark_low)
            ):
                c.compaction_defer_reset(z, job.order, False)
            elif cc.result in (COMPACT_PARTIAL_SKIPPED, COMPACT_COMPLETE):
                if k.v6:
                    k.mem.drain_pcp(z)
                c.defer_compaction(z, job.order)
        elif job.kind == "direct":
            # capc.page is read after compact_zone() returns, so a block freed at any point
            # of the run (a drain, the release of leftover targets) counts
            k.mem.capture = None
            if k.mem.captured >= 0:
                cc.captured = k.mem.captured
                k.mem.captured = -1
                cc.result = COMPACT_SUCCESS  # compact_zone_order(): a captured page is success
                job.stats["captured"] = cc.captured
            job.rc = max(job.rc, cc.result)
            # "the allocation should succeed": 6.18 tests the status, 4.8 the low watermark
            if (k.v6 and cc.result == COMPACT_SUCCESS) or (
                not k.v6 and k.mem.watermark_ok(z, job.order, z.wmark_low)
            ):
                c.compaction_defer_reset(z, job.order, False)
                job.zi = len(job.zones)  # stop compacting; the allocation should succeed
            elif job.prio != (2 if k.v6 else 1) and cc.result in (
                COMPACT_COMPLETE,
                COMPACT_PARTIAL_SKIPPED,
            ):
                c.defer_compaction(z, job.order)

    def _finish_job(self, job: Job) -> None:
        k = self.k
        c = self.c
        self.jobs.remove(job)
        if job.kind == "kcompactd":
            if self.kcompactd_max_order <= job.order:
                self.kcompactd_max_order = 0
            k.trace("mm_compaction_kcompactd_sleep", "nid=0")
        elif job.kind == "proactive":
            score = c.fragmentation_score_node()
            self.proactive_defer = 6 if score >= job.stats["prev_score"] else 0
        elif job.kind == "direct":
            self._direct_done(job)

    def _direct_done(self, job: Job) -> None:
        """__alloc_pages_direct_compact() after try_to_compact_pages(), then should_compact_retry()."""
        k = self.k
        c = self.c
        rc = job.rc
        stalled = rc != COMPACT_SKIPPED if k.v6 else rc > COMPACT_DEFERRED
        pfn = -1
        if stalled:
            k.count("compact_stall")
            if "captured" in job.stats:
                pfn = self._take_captured(
                    job.stats.pop("captured"), job.order, KIND_FOR_MT[job.migratetype]
                )
            else:
                pfn = self._alloc_one(job.order, job.migratetype, KIND_FOR_MT[job.migratetype])
            self._flush_extfrag()
            if pfn >= 0:
                z = k.mem.zone_of(pfn)
                z.compact_blockskip_flush = False
                c.compaction_defer_reset(z, job.order, True)
                k.count("compact_success")
            else:
                k.count("compact_fail")
        if pfn >= 0:
            job.count -= 1
            if job.count:
                self._requeue_direct(job, prio=2 if k.v6 else 1, retries=0)
            return
        # should_compact_retry(), with no reclaim in between
        # 6.18: MIN_COMPACT_COSTLY_PRIORITY = SYNC_LIGHT (1) for costly orders, SYNC_FULL (0)
        # otherwise; 4.8 has only SYNC_LIGHT (0) and ASYNC (1)
        min_prio = 1 if (k.v6 and job.order > PAGE_ALLOC_COSTLY_ORDER) else 0
        retries = job.retries + (1 if rc == COMPACT_SUCCESS else 0)
        max_retries = (
            MAX_COMPACT_RETRIES // 4 if job.order > PAGE_ALLOC_COSTLY_ORDER else MAX_COMPACT_RETRIES
        )
        retry = False
        prio = job.prio
        if (
            rc == COMPACT_COMPLETE
            or rc in (COMPACT_SKIPPED, COMPACT_DEFERRED, COMPACT_CONTENDED, COMPACT_PARTIAL_SKIPPED)
            or retries > max_retries
        ):
            if prio > min_prio:
                prio -= 1
                retries = 0
                retry = True
        else:
            retry = True
        if retry:
            # the allocator wakes kswapd again on every pass of the slow path
            self.kswapd_sleep(job.order)
            self._requeue_direct(job, prio=prio, retries=retries)
        else:
            self.alloc_failures += job.count
            k.new_events.append(
                {
                    "event": "alloc_failed",
                    "text": f"order={job.order} after direct compaction ({status_name(rc, k.profile)})",
                    "time_ns": k.time_ns,
                }
            )


def load_preset(name: str) -> Scenario:
    from .presets import PRESETS

    if name not in PRESETS:
        raise ScenarioError(
            [FieldError("preset", f"unknown preset {name!r}; one of {', '.join(sorted(PRESETS))}")]
        )
    return Scenario.from_dict(PRESETS[name])


__all__ = ["Simulation", "StepResult", "load_preset", "STATE_NAMES"]
