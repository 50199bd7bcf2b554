"""The simulated kernel: page state, drivers, migration callbacks, counters and trace.

Compaction itself lives in compaction.py; the workload and the step API in engine.py.
"""

from __future__ import annotations

from collections import deque
from itertools import islice

import numpy as np

from .constants import (
    A_DRIVER_ID,
    A_LOST,
    EAGAIN,
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
    K_FREE,
    K_PINNED,
    K_RECLAIMABLE,
    K_RESERVED,
    K_UNMOVABLE,
    MIGRATE_MOVABLE,
    MIGRATE_RECLAIMABLE,
    MIGRATE_UNMOVABLE,
    PAGEBLOCK_NR_PAGES,
    PAGEBLOCK_ORDER,
    REASONS_48,
    REASONS_618,
)
from .drivers import RULES, Driver, Injection, preset_rates
from .history import CODE as H
from .history import History
from .memory import Memory, setup_watermarks

H_RETRY, H_OUT, H_IN = H["retry"], H["migrated_out"], H["migrated_in"]

VMSTAT_48 = (
    "pgmigrate_success",
    "pgmigrate_fail",
    "compact_migrate_scanned",
    "compact_free_scanned",
    "compact_isolated",
    "compact_stall",
    "compact_fail",
    "compact_success",
    "compact_daemon_wake",
)
VMSTAT_618 = (
    "pgmigrate_success",
    "pgmigrate_fail",
    "thp_migration_success",
    "thp_migration_fail",
    "thp_migration_split",
    "compact_migrate_scanned",
    "compact_free_scanned",
    "compact_isolated",
    "compact_stall",
    "compact_fail",
    "compact_success",
    "compact_daemon_wake",
    "compact_daemon_migrate_scanned",
    "compact_daemon_free_scanned",
)

TRACE_KEEP = 100_000  # trace lines kept for /sys/kernel/tracing/trace style reports

# Simulated cost model (ns): documented in docs/engine.md
COST_TICK = 1_000
COST_SCAN = 2
COST_COPY = 500
COST_WAIT = 100_000

KIND_BY_LAYOUT = {
    "anon": K_ANON,
    "file": K_FILE,
    "unmovable": K_UNMOVABLE,
    "reclaimable": K_RECLAIMABLE,
    "pinned": K_PINNED,
    "reserved": K_RESERVED,
}
MT_OF_KIND = {
    K_ANON: MIGRATE_MOVABLE,
    K_FILE: MIGRATE_MOVABLE,
    K_PINNED: MIGRATE_MOVABLE,
    K_DRIVER: MIGRATE_MOVABLE,
    K_UNMOVABLE: MIGRATE_UNMOVABLE,
    K_RESERVED: MIGRATE_UNMOVABLE,
    K_RECLAIMABLE: MIGRATE_RECLAIMABLE,
    K_COMPOUND_HEAD: MIGRATE_MOVABLE,
}


def _trace_line(ts: int, head: str, event: str, text: str) -> str:
    return f"{head}{ts // 1_000_000_000:5d}.{(ts // 1000) % 1_000_000:06d}: {event}: {text}"


class TraceLog:
    """The trace ring, the last `maxlen` lines. Lines traced while nobody takes the step's
    events (Simulation.run()) are kept as their parts, (time_ns, head, event, fmt, args),
    and formatted when read: formatting is most of what tracing costs. A fast-forwarded
    stretch adds its entries as one batch, built from its arrays only when read, so the
    entries that a longer run pushes out of the ring are never built at all."""

    def __init__(self, lines=(), maxlen: int | None = None) -> None:
        self.maxlen = maxlen
        self._parts: deque = deque()  # lines, parts tuples and _Batches, oldest first
        self._len = 0
        self._cut = 0  # entries dropped from the front of the first part, a _Batch
        for line in lines:
            self.append(line)

    def __len__(self) -> int:
        return self._len

    def append(self, entry) -> None:
        self._parts.append(entry)
        self._len += 1
        if self.maxlen is not None and self._len > self.maxlen:
            self._drop()

    def extend(self, entries: list) -> None:
        if entries:
            self.add_batch(len(entries), entries)

    def add_batch(self, n: int, entries) -> None:
        """n entries: a list of them, or a function that returns that list when called."""
        self._parts.append(_Batch(n, entries))
        self._len += n
        if self.maxlen is not None and self._len > self.maxlen:
            self._drop()

    def _drop(self) -> None:
        parts = self._parts
        while self._len > self.maxlen:
            first = parts[0]
            excess = self._len - self.maxlen
            if type(first) is not _Batch:
                parts.popleft()
                self._len -= 1
            elif first.n - self._cut <= excess:
                parts.popleft()
                self._len -= first.n - self._cut
                self._cut = 0
            else:
                self._cut += excess
                self._len -= excess

    def __iter__(self):
        cut = self._cut
        for p in self._parts:
            if type(p) is _Batch:
                for e in islice(p.entries(), cut, None):
                    yield e if type(e) is str else _format_entry(e)
                cut = 0
            else:
                yield p if type(p) is str else _format_entry(p)

    def __getitem__(self, i: int) -> str:
        if not -self._len <= i < self._len:
            raise IndexError("trace line index out of range")
        # find the part holding line i; format that line only (as the deque did)
        i %= self._len
        cut = self._cut
        for p in self._parts:
            n = p.n - cut if type(p) is _Batch else 1
            if i < n:
                e = p.entries()[cut + i] if type(p) is _Batch else p
                return e if type(e) is str else _format_entry(e)
            i -= n
            cut = 0
        raise AssertionError("trace ring length out of step with its parts")

    def __reduce__(self):
        return (type(self), (list(self), self.maxlen))


class _Batch:
    """Trace entries added at once: their list, or the function that builds it."""

    __slots__ = ("n", "_entries")

    def __init__(self, n: int, entries) -> None:
        self.n = n
        self._entries = entries

    def entries(self) -> list:
        if callable(self._entries):
            built = self._entries()
            if len(built) != self.n:
                raise AssertionError(f"a trace batch built {len(built)} entries, not {self.n}")
            self._entries = built
        return self._entries


def _format_entry(e: tuple) -> str:
    ts, head, event, fmt, args = e
    return _trace_line(ts, head, event, fmt if args is None else fmt % args)


class Kernel:
    # StepResult.events is built only while someone takes it: run() turns it off
    keep_events = True

    def __init__(self, data: dict, seed: int, profile: str) -> None:
        self.profile = profile
        self.v6 = profile != "v4.8"
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        zones = []
        start = 0
        for z in data["memory"]["zones"]:
            zones.append((z["name"], start, start + z["pages"]))
            start += z["pages"]
        self.mem = Memory(start, zones, profile)
        self.mem.trace_hook = self.trace
        self.time_ns = 0
        self.vmstat = dict.fromkeys(VMSTAT_618 if self.v6 else VMSTAT_48, 0)
        self.trace_lines = TraceLog(maxlen=TRACE_KEEP)
        self.new_events: list[dict] = []
        self.history = History()
        self.violations: list[dict] = []
        self.nr_isolated = 0
        self.next_token = 1
        self.lru_eagain_rate = float(data.get("lru_eagain_rate", 0.0))
        self.file_migratepage = True
        self.sysctl = dict(data["sysctl"])
        self.comm = "sh"
        self.lru_written: set[int] = set()  # isolated pages whose page->lru a driver wrote
        self.drivers: list[Driver] = []
        self._build(data)

    # -- construction ---------------------------------------------------------------
    def _build(self, data: dict) -> None:
        mem = self.mem
        rng = self.rng
        layout = data["layout"]
        n = mem.npages
        kind = mem.kind
        kind[:] = K_FREE
        if layout["mode"] == "generate":
            self._generate(layout)
        else:
            for r in layout["ranges"]:
                s, c, kd = r["start"], r["count"], r["kind"]
                if kd == "free":
                    kind[s : s + c] = K_FREE
                elif kd == "hole":
                    kind[s : s + c] = 11
                elif kd == "compound":
                    order = r["order"]
                    for head in range(s, s + c, 1 << order):
                        kind[head] = K_COMPOUND_HEAD
                        kind[head + 1 : head + (1 << order)] = K_COMPOUND_TAIL
                        mem.aux[head] = order
                else:
                    kind[s : s + c] = KIND_BY_LAYOUT[kd]
        # drivers take free pages (scattered or clustered) or a given range
        for i, d in enumerate(data["drivers"]):
            self._add_driver(i + 1, d)
        # flags of LRU pages
        lru = (kind == K_ANON) | (kind == K_FILE) | (kind == K_PINNED)
        mem.flags[lru] = F_LRU
        lru_idx = np.flatnonzero(lru)
        for key, flag in (
            ("locked", F_LOCKED),
            ("writeback", F_WRITEBACK),
            ("dirty", F_DIRTY),
            ("unevictable", F_UNEVICTABLE),
        ):
            frac = layout.get(key, 0.0)
            if frac > 0 and len(lru_idx):
                pick = lru_idx[rng.random(len(lru_idx)) < frac]
                mem.flags[pick] |= flag
        # writeback only makes sense for file pages
        mem.flags[(kind == K_ANON) & (mem.flags & F_WRITEBACK > 0)] &= ~np.uint8(F_WRITEBACK)
        # content tokens: every allocated page gets a distinct one
        used = (kind != K_FREE) & (kind != 11)
        cnt = int(np.count_nonzero(used))
        mem.token[used] = np.arange(1, cnt + 1, dtype=np.uint32)
        self.next_token = cnt + 1
        # pageblock migratetypes: the type of the block's most common allocation, MOVABLE if none
        nb = len(mem.pb_mt)
        padded = np.full(nb * PAGEBLOCK_NR_PAGES, K_FREE, dtype=np.uint8)
        padded[:n] = kind
        blocks = padded.reshape(nb, PAGEBLOCK_NR_PAGES)
        unm = ((blocks == K_UNMOVABLE) | (blocks == K_RESERVED)).sum(axis=1)
        rec = (blocks == K_RECLAIMABLE).sum(axis=1)
        mov = (
            (blocks == K_ANON)
            | (blocks == K_FILE)
            | (blocks == K_PINNED)
            | (blocks == K_DRIVER)
            | (blocks == K_COMPOUND_HEAD)
            | (blocks == K_COMPOUND_TAIL)
        ).sum(axis=1)
        mt = np.full(nb, MIGRATE_MOVABLE, dtype=np.uint8)
        mt[(unm > mov) & (unm >= rec)] = MIGRATE_UNMOVABLE
        mt[(rec > mov) & (rec > unm)] = MIGRATE_RECLAIMABLE
        mem.pb_mt[:] = mt
        for z in mem.zones:
            z.present = int(np.count_nonzero(kind[z.start : z.end] != 11))
        memcfg = data["memory"]
        setup_watermarks(mem, memcfg.get("min_free_kbytes"))
        for z in mem.zones:
            z.pcp_enabled = memcfg["pcp"] == "simple"
            batch = z.present // 1024
            batch = min(batch, 128) // 4
            batch = max(batch, 1)
            batch = (1 << ((batch + batch // 2).bit_length() - 1)) - 1
            z.pcp_batch = memcfg.get("pcp_batch") or max(batch, 1)
            z.pcp_high = memcfg.get("pcp_high") or 6 * z.pcp_batch
            z.compact_cached_free_pfn = z.end & ~(PAGEBLOCK_NR_PAGES - 1)
            z.compact_cached_migrate_pfn = [z.start, z.start]
        self._seed_free_lists()

    def _generate(self, layout: dict) -> None:
        """A fragmented layout from the seed: runs of allocations with free holes between.

        fragmentation 0 puts all free memory at the top; 1 scatters it page by page.
        """
        mem, rng = self.mem, self.rng
        n = mem.npages
        free_frac = layout["free"]
        frag = layout["fragmentation"]
        mix = layout["mix"]
        names = [
            k for k in ("anon", "file", "unmovable", "reclaimable", "pinned") if mix.get(k, 0) > 0
        ]
        probs = np.array([mix[k] for k in names], dtype=np.float64)
        probs /= probs.sum()
        codes = np.array([KIND_BY_LAYOUT[k] for k in names], dtype=np.uint8)
        # kinds come in runs (allocations cluster by type), run length shrinks with fragmentation
        run = max(1, int(round(64 * (1 - frag) + 1)))
        nruns = (n + run - 1) // run
        run_kinds = codes[rng.choice(len(codes), size=nruns, p=probs)]
        kinds = np.repeat(run_kinds, run)[:n]
        nfree = int(round(n * free_frac))
        if nfree:
            tail = int(round(nfree * (1 - frag)))
            scattered = nfree - tail
            free_mask = np.zeros(n, dtype=np.bool_)
            if tail:
                free_mask[n - tail :] = True
            if scattered:
                cand = np.flatnonzero(~free_mask)
                free_mask[rng.choice(cand, size=scattered, replace=False)] = True
            kinds[free_mask] = K_FREE
        mem.kind[:] = kinds

    def _add_driver(self, ident: int, d: dict) -> None:
        mem, rng = self.mem, self.rng
        rates = preset_rates(d["preset"], self.profile) if d["preset"] else None
        iso = d["isolate_refuse_rate"]
        if iso is None:
            iso = rates["isolate_refuse_rate"] if rates else 0.0
        mig = d["migrate"]
        if mig is None:
            mig = dict(rates["migrate"]) if rates else {}
        drv = Driver(ident, d["name"], d["preset"], iso, mig, tuple(d["buggy"]))
        if d["injection"]:
            drv.injection = self.make_injection(d["injection"])
        self.drivers.append(drv)
        want = d["pages"]
        if d["placement"] == "range":
            lo, hi = d["range"]
        else:
            lo, hi = 0, mem.npages
        cand = np.flatnonzero(mem.kind[lo:hi] == K_FREE) + lo
        if want > len(cand):
            # not enough free memory: take the rest from movable pages, which a real
            # driver's allocations would have displaced
            extra = np.flatnonzero((mem.kind[lo:hi] == K_ANON) | (mem.kind[lo:hi] == K_FILE)) + lo
            cand = np.concatenate([cand, extra])
        want = min(want, len(cand))
        if d["placement"] == "clustered":
            pick = np.sort(cand)[:want]
        else:
            pick = rng.choice(cand, size=want, replace=False)
        mem.kind[pick] = K_DRIVER
        mem.aux[pick] = ident
        mem.flags[pick] = F_MOVABLE
        drv.pages = int(want)

    def _seed_free_lists(self) -> None:
        """Put every free range on the buddy lists as maximal aligned blocks, like boot."""
        mem = self.mem
        free = mem.kind == K_FREE
        covered = np.zeros(mem.npages, dtype=np.bool_)
        heads: list[tuple[int, int]] = []
        for z in mem.zones:
            zf = free[z.start : z.end]
            zc = covered[z.start : z.end]
            for order in range(10, -1, -1):
                size = 1 << order
                # a block of order k starts at a pfn aligned to 2^k in absolute terms
                # (buddy_pfn = pfn ^ (1 << order)), not relative to the zone start
                first = (-z.start) % size
                nfull = (len(zf) - first) // size
                if nfull <= 0:
                    continue
                span = slice(first, first + nfull * size)
                ok = (zf[span].reshape(nfull, size).all(axis=1)) & ~(
                    zc[span].reshape(nfull, size).any(axis=1)
                )
                idx = np.flatnonzero(ok)
                for i in idx:
                    heads.append((z.start + first + int(i) * size, order))
                view = zc[span].reshape(nfull, size)
                view[idx] = True
        heads.sort()
        for pfn, order in heads:
            mt = mem.block_mt(pfn)
            if order >= PAGEBLOCK_ORDER:
                mem._change_range(pfn, order, mt)
            mem._add_to_list(mem.zone_of(pfn), pfn, order, mt, True)

    def make_injection(self, d: dict) -> Injection:
        from .constants import ERRNO_BY_NAME

        return Injection(
            probability=float(d["probability"]),
            errno=ERRNO_BY_NAME[d["errno"]],
            interval=int(d["interval"]),
            times=int(d["times"]),
            space=int(d["space"]),
            start_ns=None if d["start_ms"] is None else int(d["start_ms"] * 1_000_000),
            end_ns=None if d["end_ms"] is None else int(d["end_ms"] * 1_000_000),
            pfn_start=d["pfn_start"],
            pfn_end=d["pfn_end"],
        )

    # -- counters, trace, history ------------------------------------------------------
    def count(self, name: str, n: int = 1) -> None:
        if n:
            self.vmstat[name] += n

    def reason_name(self, reason: int) -> str:
        return (REASONS_618 if self.v6 else REASONS_48)[reason]

    def trace(self, event: str, text: str) -> None:
        ts = self.time_ns
        head = self._head()
        if not self.keep_events:
            self.trace_lines.append((ts, head, event, text, None))
            return
        line = _trace_line(ts, head, event, text)
        self.trace_lines.append(line)
        self.new_events.append({"event": event, "text": text, "time_ns": ts, "line": line})

    def trace_many(self, entries: list[tuple[int, str, str, str, tuple | None]]) -> None:
        """trace() for each (time_ns, head, event, fmt, args), traced at its time with the
        text fmt % args (fmt itself if args is None); head is _head() at that time."""
        if not self.keep_events:
            self.trace_lines.extend(entries)
            return
        out = self.trace_lines
        events = self.new_events
        for ts, head, event, fmt, args in entries:
            text = fmt if args is None else fmt % args
            line = _trace_line(ts, head, event, text)
            out.append(line)
            events.append({"event": event, "text": text, "time_ns": ts, "line": line})

    def trace_batch(self, n: int, build) -> None:
        """trace_many(build()), build() giving n entries; built only when read while nobody
        takes the step's events. What build() reads must not change afterwards."""
        if self.keep_events:
            self.trace_many(build())
        else:
            self.trace_lines.add_batch(n, build)

    def _head(self) -> str:
        return f"{self.comm:>16s}-{self._pid():<5d} [000] .... "

    def _pid(self) -> int:
        return {"kcompactd0": 35, "sh": 1200}.get(self.comm, 4242)

    def record(self, pfn: int, code: int, arg: int = 0) -> None:
        self.history.add(self.time_ns, pfn, code, arg)

    def violation(self, pfn: int, driver: Driver, mode: str) -> None:
        v = {
            "time_ns": self.time_ns,
            "pfn": pfn,
            "driver": driver.name,
            "mode": mode,
            "rule": RULES[mode],
        }
        self.violations.append(v)
        self.record(pfn, H["contract_violation"], driver.id)
        self.new_events.append(
            {
                "event": "contract_violation",
                "text": f"driver={driver.name} pfn={pfn:#x} rule={RULES[mode]!r}",
                "time_ns": self.time_ns,
                "violation": v,
            }
        )

    def wait(self, what: str, pfn: int) -> None:
        self.time_ns += COST_WAIT
        self.record(pfn, H["waited_" + what])

    def note_retry(self, pfn: int) -> None:
        self.record(pfn, H_RETRY, EAGAIN)

    # -- isolation (§2.5, §1.6) -----------------------------------------------------------
    def isolate_lru_page(self, pfn: int) -> None:
        mem = self.mem
        mem.f[pfn] = (mem.f[pfn] & ~F_LRU) | F_ISOLATED
        self.nr_isolated += 1
        mem.touch(pfn)

    def isolate_lru_pages(self, pfns: list[int]) -> None:
        """isolate_lru_page() for a run of pages at once."""
        mem = self.mem
        if len(pfns) < 4:
            for p in pfns:
                self.isolate_lru_page(p)
            return
        idx = np.array(pfns, dtype=np.intp)
        mem.flags[idx] = (mem.flags[idx] & ~np.uint8(F_LRU)) | F_ISOLATED
        self.nr_isolated += len(pfns)
        if mem.changed is not None:
            mem.changed.update(pfns)

    def finish_lru_migrations(self, olds: list[int], news: list[int]) -> None:
        """finish_migration() for LRU pages that all succeeded, copying state in bulk."""
        mem = self.mem
        o = np.array(olds, dtype=np.intp)
        n = np.array(news, dtype=np.intp)
        mem.kind[n] = mem.kind[o]
        mem.aux[n] = mem.aux[o]
        mem.token[n] = mem.token[o]
        mem.flags[n] = (mem.flags[o] & np.uint8(F_DIRTY | F_UNEVICTABLE)) | F_LRU
        count = len(olds)
        self.nr_isolated -= count
        t0 = self.time_ns
        self.time_ns += COST_COPY * count
        self.history.extend(t0 + COST_COPY * np.arange(1, count + 1, dtype=np.int64), o, H_OUT, n)
        mem.free_pages_bulk(o)
        if mem.changed is not None:
            mem.changed.update(n.tolist())

    def isolate_movable_page(self, pfn: int) -> bool:
        """isolate_movable_page() / isolate_movable_ops_page(): never a blocking lock."""
        mem = self.mem
        f = mem.f[pfn]
        if not f & F_MOVABLE or f & F_ISOLATED:
            return False
        if f & F_LOCKED:  # trylock_page failed
            return False
        drv = self.drivers[(mem.a[pfn] & A_DRIVER_ID) - 1]
        if mem.a[pfn] & A_LOST:
            return False  # the driver lost track of this page; its mapping is gone
        if not drv.isolate_page(self.rng):
            self.record(pfn, H["isolate_refused"], drv.id)
            return False
        mem.f[pfn] = f | F_ISOLATED
        self.nr_isolated += 1
        mem.touch(pfn)
        self.record(pfn, H["isolated"], drv.id)
        return True

    def driver_of(self, pfn: int) -> Driver:
        return self.drivers[(self.mem.a[pfn] & A_DRIVER_ID) - 1]

    # -- migration callbacks --------------------------------------------------------------
    def driver_migratepage(self, pfn: int, new: int, mode: int) -> int:
        drv = self.driver_of(pfn)
        rc = drv.migratepage(self.rng, self.time_ns, pfn, self.lru_written)
        # the VM's list check: page->lru of an isolated page is the VM's alone
        if pfn in self.lru_written:
            self.lru_written.discard(pfn)
            self.violation(pfn, drv, "touch_lru_isolated")
        if rc and rc != EAGAIN:
            self.record(pfn, H["migratepage_error"], rc)
        return rc

    def finish_migration(self, old: int, new: int) -> None:
        """The page's content now lives at `new`; the old page is freed (put_page)."""
        mem = self.mem
        k = mem.k[old]
        f = mem.f[old]
        a = mem.a[old]
        tok = mem.t[old]
        mem.k[new] = k
        mem.a[new] = a
        self.time_ns += COST_COPY
        if k == K_DRIVER:
            drv = self.driver_of(old)
            # the driver's callback fills the new page (empty until then) and sets the
            # movable bits; the old page stays isolated until freed
            mem.t[new] = 0
            drv.move_page(mem, old, new, clear_movable=not self.v6)
            # the VM's checks of what the callback left
            if mem.t[new] != tok:
                self.violation(old, drv, "no_copy")
                drv.lost += 1
            if not self.v6 and mem.f[old] & F_MOVABLE:
                self.violation(old, drv, "forget_clear_movable")
        else:
            mem.t[new] = tok
            # putback_lru_page(newpage): the copy keeps dirty/unevictable, gains LRU
            mem.f[new] = (f & (F_DIRTY | F_UNEVICTABLE)) | F_LRU
        self.nr_isolated -= 1
        # one entry serves both pages: History.for_pfn matches the destination column too
        self.history.add(self.time_ns, old, H_OUT, new)
        if mem.changed is not None:
            mem.changed.add(new)
        mem.free_pages(old, 0)

    def putback_page(self, pfn: int, rc: int | None = None) -> None:
        """putback_lru_page() / putback_movable_page(): the page returns to its owner."""
        mem = self.mem
        f = mem.f[pfn]
        if not f & F_ISOLATED:
            return
        self.nr_isolated -= 1
        mem.touch(pfn)
        if mem.k[pfn] == K_DRIVER:
            drv = self.driver_of(pfn)
            mem.f[pfn] = f & ~F_ISOLATED
            drv.putback_page(mem, pfn)
            # the VM's check: the driver holds the page again
            if mem.a[pfn] & A_LOST:
                drv.lost += 1
                self.violation(pfn, drv, "lose_on_putback")
            self.record(pfn, H["putback"], rc or 0)
        else:
            mem.f[pfn] = (f & ~F_ISOLATED) | F_LRU
            self.record(pfn, H["putback"], rc or 0)

    # -- allocation for the workload -------------------------------------------------------
    def new_token(self) -> int:
        t = self.next_token
        self.next_token += 1
        return t

    def rmqueue_pcp(self, z, mt: int) -> int:
        """Order-0 allocations come from the pcp list head, refilled from the buddy."""
        if not z.pcp_enabled or mt >= 3:
            return self.mem.rmqueue(z, 0, mt)
        lst = z.pcp_lists[mt]
        if not lst:
            mode = [0]  # 6.18 rmqueue_bulk(): one rmqueue_mode for the whole batch
            for _ in range(z.pcp_batch):
                p = self.mem.rmqueue(z, 0, mt, mode)
                if p < 0:
                    break
                self.mem.k[p] = 1  # K_PCP
                lst.append(p)
                z.pcp_count += 1
            if not lst:
                return -1
        z.pcp_count -= 1
        return lst.popleft()
