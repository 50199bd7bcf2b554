"""Scenarios: validated before anything is allocated. Schema in docs/scenario.md."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .constants import MAX_PAGES, PAGEBLOCK_NR_PAGES, PROFILES, ZONE_NAMES
from .drivers import BUGGY_MODES, ERRNO_ORDER, PRESETS

MAX_ZONES = 4
MAX_DRIVERS = 32
MAX_TIMELINE = 10_000
MAX_TIME_MS = 86_400_000  # one simulated day
MAX_RANGES = 10_000
MAX_ALLOC_COUNT = 1 << 22
KINDS_GENERATED = ("anon", "file", "unmovable", "reclaimable", "pinned")
KINDS_EXPLICIT = KINDS_GENERATED + ("reserved", "hole", "free", "compound")
ACTIONS = (
    "compact_memory",
    "alloc",
    "free",
    "alloc_high_order",
    "balloon_inflate",
    "balloon_deflate",
    "driver_grow",
    "sysctl",
    "inject",
    "kcompactd_wake",
)
SYSCTLS = {
    "compaction_proactiveness": (0, 100),
    "extfrag_threshold": (0, 1000),
    "compact_unevictable_allowed": (0, 1),
}
ALLOC_TYPES = ("movable", "unmovable", "reclaimable")


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class ScenarioError(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))


class _Checker:
    """Collects every problem instead of stopping at the first, so a form can show them all."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def err(self, field: str, message: str) -> None:
        self.errors.append(FieldError(field, message))

    def table(self, d: dict, key: str, path: str) -> dict:
        v = d.get(key, {})
        if not isinstance(v, dict):
            self.err(path, "must be a table/object")
            return {}
        return v

    def num(
        self,
        d: dict,
        key: str,
        path: str,
        lo: float,
        hi: float,
        default: Any,
        integer: bool = False,
    ) -> Any:
        if key not in d or d[key] is None:
            return default
        v = d[key]
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float))
            or (integer and not isinstance(v, int))
        ):
            kind = "an integer" if integer else "a number"
            self.err(path, f"must be {kind} from {lo} to {hi}")
            return default
        if v != v or not lo <= v <= hi:  # NaN fails the first test
            self.err(path, f"must be from {lo} to {hi} (got {v})")
            return default
        return v

    def choice(self, d: dict, key: str, path: str, options: tuple, default: Any) -> Any:
        if key not in d or d[key] is None:
            return default
        v = d[key]
        if v not in options:
            self.err(path, f"must be one of {', '.join(map(str, options))} (got {v!r})")
            return default
        return v

    def tables(self, d: dict, key: str, path: str, limit: int, what: str):
        """Yield (index, path, table) for a list of tables, reporting bad ones."""
        v = d.get(key, [])
        if not isinstance(v, list) or len(v) > limit:
            self.err(path, f"must be a list of at most {limit} {what}")
            return
        for i, item in enumerate(v):
            p = f"{path}[{i}]"
            if not isinstance(item, dict):
                self.err(p, "must be a table/object")
                continue
            yield i, p, item

    def driver_name(self, d: dict, key: str, path: str, names: set[str]) -> str | None:
        name = d.get(key)
        if name not in names:
            self.err(
                path,
                f"must name a driver of this scenario ({', '.join(sorted(names)) or 'none defined'})",
            )
        return name

    def unknown(self, d: dict, allowed: set[str], path: str) -> None:
        for k in d:
            if k not in allowed:
                self.err(
                    f"{path}.{k}" if path else str(k),
                    f"unknown field; allowed: {', '.join(sorted(allowed))}",
                )


def _validate(raw: Any) -> dict:
    c = _Checker()
    if not isinstance(raw, dict):
        raise ScenarioError([FieldError("scenario", "must be a table/object")])
    c.unknown(
        raw,
        {
            "name",
            "description",
            "profile",
            "seed",
            "memory",
            "layout",
            "drivers",
            "timeline",
            "sysctl",
            "lru_eagain_rate",
            "kcompactd",
        },
        "",
    )
    out: dict[str, Any] = {}
    name = raw.get("name", "scenario")
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        c.err("name", "must be a string of 1 to 100 characters")
        name = "scenario"
    out["name"] = name
    desc = raw.get("description", "")
    if not isinstance(desc, str) or len(desc) > 2000:
        c.err("description", "must be a string of at most 2000 characters")
        desc = ""
    out["description"] = desc
    out["profile"] = c.choice(raw, "profile", "profile", PROFILES, "v6.18")
    out["seed"] = c.num(raw, "seed", "seed", 0, 2**32 - 1, 1, integer=True)
    out["lru_eagain_rate"] = c.num(raw, "lru_eagain_rate", "lru_eagain_rate", 0.0, 1.0, 0.0)
    out["kcompactd"] = bool(raw.get("kcompactd", True))

    # memory
    mem = c.table(raw, "memory", "memory")
    c.unknown(
        mem, {"zones", "total_mib", "pcp", "pcp_high", "pcp_batch", "min_free_kbytes"}, "memory"
    )
    zones_raw = mem.get("zones")
    zones: list[dict] = []
    if zones_raw is None:
        total_mib = c.num(
            mem, "total_mib", "memory.total_mib", 4, MAX_PAGES // 256, 64, integer=True
        )
        zones = [{"name": "Normal", "pages": total_mib * 256}]
    elif not isinstance(zones_raw, list) or not 1 <= len(zones_raw) <= MAX_ZONES:
        c.err("memory.zones", f"must be a list of 1 to {MAX_ZONES} zones")
    else:
        for i, z in enumerate(zones_raw):
            p = f"memory.zones[{i}]"
            if not isinstance(z, dict):
                c.err(p, "must be a table/object with name and pages")
                continue
            c.unknown(z, {"name", "pages"}, p)
            zname = c.choice(z, "name", f"{p}.name", ZONE_NAMES, "Normal")
            pages = c.num(
                z,
                "pages",
                f"{p}.pages",
                PAGEBLOCK_NR_PAGES * 2,
                MAX_PAGES,
                PAGEBLOCK_NR_PAGES * 2,
                integer=True,
            )
            if pages % PAGEBLOCK_NR_PAGES:
                c.err(f"{p}.pages", f"must be a multiple of {PAGEBLOCK_NR_PAGES} (one pageblock)")
            zones.append({"name": zname, "pages": pages})
    total = sum(z["pages"] for z in zones)
    if total > MAX_PAGES:
        c.err("memory.zones", f"total pages must be at most {MAX_PAGES} (64 GiB); got {total}")
    names = [z["name"] for z in zones]
    if len(set(names)) != len(names):
        c.err("memory.zones", "zone names must be distinct")
    out["memory"] = {
        "zones": zones,
        "pcp": c.choice(mem, "pcp", "memory.pcp", ("simple", "off"), "simple"),
        "pcp_high": c.num(mem, "pcp_high", "memory.pcp_high", 0, 100_000, None, integer=True),
        "pcp_batch": c.num(mem, "pcp_batch", "memory.pcp_batch", 1, 10_000, None, integer=True),
        "min_free_kbytes": c.num(
            mem, "min_free_kbytes", "memory.min_free_kbytes", 128, 262_144, None, integer=True
        ),
    }

    # layout
    lay = c.table(raw, "layout", "layout")
    c.unknown(
        lay,
        {
            "mode",
            "free",
            "fragmentation",
            "mix",
            "locked",
            "writeback",
            "dirty",
            "unevictable",
            "ranges",
        },
        "layout",
    )
    mode = c.choice(lay, "mode", "layout.mode", ("generate", "explicit"), "generate")
    layout: dict[str, Any] = {"mode": mode}
    if mode == "generate":
        layout["free"] = c.num(lay, "free", "layout.free", 0.0, 0.95, 0.3)
        layout["fragmentation"] = c.num(lay, "fragmentation", "layout.fragmentation", 0.0, 1.0, 0.8)
        mix_raw = c.table(lay, "mix", "layout.mix")
        c.unknown(mix_raw, set(KINDS_GENERATED), "layout.mix")
        defaults = {
            "anon": 0.55,
            "file": 0.3,
            "unmovable": 0.08,
            "reclaimable": 0.05,
            "pinned": 0.02,
        }
        mix = {
            k: c.num(mix_raw, k, f"layout.mix.{k}", 0.0, 1.0, defaults[k] if not mix_raw else 0.0)
            for k in KINDS_GENERATED
        }
        if sum(mix.values()) <= 0:
            c.err("layout.mix", "at least one kind must have a positive share")
        layout["mix"] = mix
    else:
        out_ranges = []
        for _i, p, r in c.tables(lay, "ranges", "layout.ranges", MAX_RANGES, "ranges"):
            c.unknown(r, {"start", "count", "kind", "order"}, p)
            start = c.num(r, "start", f"{p}.start", 0, max(total - 1, 0), 0, integer=True)
            count = c.num(r, "count", f"{p}.count", 1, MAX_PAGES, 1, integer=True)
            kind = c.choice(r, "kind", f"{p}.kind", KINDS_EXPLICIT, "anon")
            if start + count > total:
                c.err(f"{p}.count", f"range ends at {start + count}, past the last pfn {total - 1}")
            entry = {"start": start, "count": count, "kind": kind}
            if kind == "compound":
                order = c.num(r, "order", f"{p}.order", 1, 10, 9, integer=True)
                if start % (1 << order) or count % (1 << order):
                    c.err(
                        f"{p}.start",
                        f"a compound range must be aligned to and a multiple of 2^{order} pages",
                    )
                entry["order"] = order
            out_ranges.append(entry)
        layout["ranges"] = out_ranges
    for key in ("locked", "writeback", "dirty", "unevictable"):
        layout[key] = c.num(lay, key, f"layout.{key}", 0.0, 1.0, 0.0)
    out["layout"] = layout

    # drivers
    drivers: list[dict] = []
    seen_names: set[str] = set()
    for i, p, d in c.tables(raw, "drivers", "drivers", MAX_DRIVERS, "drivers"):
        c.unknown(
            d,
            {
                "name",
                "preset",
                "pages",
                "placement",
                "range",
                "isolate_refuse_rate",
                "migrate",
                "buggy",
                "injection",
            },
            p,
        )
        preset = c.choice(d, "preset", f"{p}.preset", tuple(PRESETS), None)
        dname = d.get("name", preset or f"driver{i}")
        if (
            not isinstance(dname, str)
            or not 1 <= len(dname) <= 40
            or not dname.replace("_", "").replace("-", "").isalnum()
        ):
            c.err(f"{p}.name", "must be 1 to 40 letters, digits, '-' or '_'")
            dname = f"driver{i}"
        if dname in seen_names:
            c.err(f"{p}.name", f"duplicate driver name {dname!r}")
        seen_names.add(dname)
        prof = out["profile"]
        if preset and prof not in PRESETS[preset]:
            have = ", ".join(PRESETS[preset]) or "neither profile"
            why = {
                "z3fold": "z3fold gained page migration after 4.8 and was removed before 6.18",
                "vmw_balloon": "vmw_balloon gained balloon compaction after 4.8",
            }.get(preset, "")
            c.err(
                f"{p}.preset",
                f"{preset} has no non-LRU migration in profile {prof} ({why}); available in: {have}",
            )
        pages = c.num(d, "pages", f"{p}.pages", 0, MAX_PAGES, 1024, integer=True)
        placement = c.choice(
            d, "placement", f"{p}.placement", ("scattered", "clustered", "range"), "scattered"
        )
        rng_spec = None
        if placement == "range":
            rr = d.get("range")
            if (
                not isinstance(rr, list)
                or len(rr) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in rr)
                or not 0 <= rr[0] < rr[1] <= total
            ):
                c.err(
                    f"{p}.range", f"must be [start_pfn, end_pfn] with 0 <= start < end <= {total}"
                )
            else:
                rng_spec = list(rr)
                if pages > rr[1] - rr[0]:
                    c.err(f"{p}.pages", f"must be at most the range size {rr[1] - rr[0]}")
        iso = c.num(d, "isolate_refuse_rate", f"{p}.isolate_refuse_rate", 0.0, 1.0, None)
        mig_raw = d.get("migrate")
        mig = None
        if mig_raw is not None:
            if not isinstance(mig_raw, dict):
                c.err(f"{p}.migrate", "must be a table of errno -> rate, e.g. {EAGAIN = 0.1}")
            else:
                c.unknown(mig_raw, set(ERRNO_ORDER), f"{p}.migrate")
                mig = {
                    k: c.num(mig_raw, k, f"{p}.migrate.{k}", 0.0, 1.0, 0.0)
                    for k in ERRNO_ORDER
                    if k in mig_raw
                }
                if sum(mig.values()) > 1.0:
                    c.err(f"{p}.migrate", "rates must add up to at most 1")
        buggy = d.get("buggy", [])
        if isinstance(buggy, str):
            buggy = [buggy]
        if not isinstance(buggy, list) or any(b not in BUGGY_MODES for b in buggy):
            c.err(f"{p}.buggy", f"must be a list drawn from {', '.join(BUGGY_MODES)}")
            buggy = []
        if "forget_clear_movable" in buggy and prof != "v4.8":
            c.err(
                f"{p}.buggy",
                "forget_clear_movable exists only in v4.8: from 6.17 the movable_ops flag is sticky and drivers never clear it",
            )
        inj = _validate_injection(c, d.get("injection"), f"{p}.injection", total)
        drivers.append(
            {
                "name": dname,
                "preset": preset,
                "pages": pages,
                "placement": placement,
                "range": rng_spec,
                "isolate_refuse_rate": iso,
                "migrate": mig,
                "buggy": sorted(set(buggy)),
                "injection": inj,
            }
        )
    out["drivers"] = drivers
    if sum(d["pages"] for d in drivers) > total // 2:
        c.err("drivers", f"driver pages must total at most half the memory ({total // 2} pages)")

    # sysctl
    sc = c.table(raw, "sysctl", "sysctl")
    c.unknown(sc, set(SYSCTLS), "sysctl")
    defaults = {
        "compaction_proactiveness": 20 if out["profile"] != "v4.8" else 0,
        "extfrag_threshold": 500,
        "compact_unevictable_allowed": 1,
    }
    out["sysctl"] = {
        k: c.num(sc, k, f"sysctl.{k}", lo, hi, defaults[k], integer=True)
        for k, (lo, hi) in SYSCTLS.items()
    }
    if out["profile"] == "v4.8" and out["sysctl"]["compaction_proactiveness"]:
        c.err(
            "sysctl.compaction_proactiveness",
            "proactive compaction does not exist in v4.8 (it arrived in 5.9); use 0",
        )

    # timeline
    events = []
    for _i, p, ev in c.tables(raw, "timeline", "timeline", MAX_TIMELINE, "events"):
        at = c.num(ev, "at_ms", f"{p}.at_ms", 0, MAX_TIME_MS, 0)
        action = c.choice(ev, "action", f"{p}.action", ACTIONS, None)
        if action is None:
            if "action" not in ev:
                c.err(f"{p}.action", f"is required; one of {', '.join(ACTIONS)}")
            continue
        e: dict[str, Any] = {"at_ms": at, "action": action}
        allowed = {"at_ms", "action"}
        if action == "alloc":
            allowed |= {"count", "order", "type"}
            e["count"] = c.num(ev, "count", f"{p}.count", 1, MAX_ALLOC_COUNT, 1, integer=True)
            e["order"] = c.num(ev, "order", f"{p}.order", 0, 10, 0, integer=True)
            e["type"] = c.choice(ev, "type", f"{p}.type", ALLOC_TYPES, "movable")
        elif action == "free":
            allowed |= {"count", "type"}
            e["count"] = c.num(ev, "count", f"{p}.count", 1, MAX_ALLOC_COUNT, 1, integer=True)
            e["type"] = c.choice(ev, "type", f"{p}.type", ALLOC_TYPES, "movable")
        elif action == "alloc_high_order":
            allowed |= {"order", "type", "count"}
            e["order"] = c.num(ev, "order", f"{p}.order", 1, 10, 9, integer=True)
            e["type"] = c.choice(ev, "type", f"{p}.type", ALLOC_TYPES, "movable")
            e["count"] = c.num(ev, "count", f"{p}.count", 1, 4096, 1, integer=True)
        elif action in ("balloon_inflate", "balloon_deflate", "driver_grow"):
            allowed |= {"driver", "pages"}
            e["driver"] = c.driver_name(ev, "driver", f"{p}.driver", seen_names)
            e["pages"] = c.num(ev, "pages", f"{p}.pages", 1, MAX_PAGES, 256, integer=True)
        elif action == "sysctl":
            allowed |= {"name", "value"}
            sname = c.choice(ev, "name", f"{p}.name", tuple(SYSCTLS) + ("compact_memory",), None)
            if sname is None:
                c.err(f"{p}.name", f"is required; one of {', '.join(SYSCTLS)}, compact_memory")
            else:
                lo, hi = SYSCTLS.get(sname, (0, 2**31 - 1))
                e["name"] = sname
                e["value"] = c.num(ev, "value", f"{p}.value", lo, hi, 1, integer=True)
        elif action == "inject":
            allowed |= {"driver", "injection"}
            e["driver"] = c.driver_name(ev, "driver", f"{p}.driver", seen_names)
            e["injection"] = _validate_injection(
                c, ev.get("injection", {}), f"{p}.injection", total
            )
        elif action == "kcompactd_wake":
            allowed |= {"order"}
            e["order"] = c.num(ev, "order", f"{p}.order", 1, 10, 9, integer=True)
        c.unknown(ev, allowed, p)
        events.append(e)
    out["timeline"] = sorted(events, key=lambda e: e["at_ms"])
    if c.errors:
        raise ScenarioError(c.errors)
    return out


def _validate_injection(c: _Checker, raw: Any, path: str, total: int) -> dict | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        c.err(path, "must be a table/object")
        return None
    c.unknown(
        raw,
        {
            "probability",
            "errno",
            "interval",
            "times",
            "space",
            "start_ms",
            "end_ms",
            "pfn_start",
            "pfn_end",
        },
        path,
    )
    inj = {
        "probability": c.num(raw, "probability", f"{path}.probability", 0, 100, 0),
        "errno": c.choice(raw, "errno", f"{path}.errno", ERRNO_ORDER, "EAGAIN"),
        "interval": c.num(raw, "interval", f"{path}.interval", 1, 1_000_000, 1, integer=True),
        "times": c.num(raw, "times", f"{path}.times", -1, 1_000_000_000, -1, integer=True),
        "space": c.num(raw, "space", f"{path}.space", 0, 2**40, 0, integer=True),
        "start_ms": c.num(raw, "start_ms", f"{path}.start_ms", 0, MAX_TIME_MS, None),
        "end_ms": c.num(raw, "end_ms", f"{path}.end_ms", 0, MAX_TIME_MS, None),
        "pfn_start": c.num(raw, "pfn_start", f"{path}.pfn_start", 0, total, None, integer=True),
        "pfn_end": c.num(raw, "pfn_end", f"{path}.pfn_end", 0, total, None, integer=True),
    }
    if (
        inj["start_ms"] is not None
        and inj["end_ms"] is not None
        and inj["end_ms"] <= inj["start_ms"]
    ):
        c.err(f"{path}.end_ms", "must be after start_ms")
    if (
        inj["pfn_start"] is not None
        and inj["pfn_end"] is not None
        and inj["pfn_end"] <= inj["pfn_start"]
    ):
        c.err(f"{path}.pfn_end", "must be greater than pfn_start")
    return inj


class Scenario:
    """A validated scenario. Construct with from_dict / from_toml / from_json."""

    def __init__(self, data: dict) -> None:
        self._data = data

    @classmethod
    def from_dict(cls, raw: Any) -> Scenario:
        return cls(_validate(raw))

    @classmethod
    def from_toml(cls, text: str) -> Scenario:
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ScenarioError([FieldError("toml", str(e))]) from None
        return cls.from_dict(raw)

    @classmethod
    def from_json(cls, text: str) -> Scenario:
        try:
            raw = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as e:
            raise ScenarioError([FieldError("json", str(e))]) from None
        return cls.from_dict(raw)

    @classmethod
    def from_file(cls, path: str | Path) -> Scenario:
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as e:
            raise ScenarioError([FieldError("file", f"cannot read {p}: {e.strerror}")]) from None
        return cls.from_json(text) if p.suffix == ".json" else cls.from_toml(text)

    def to_dict(self) -> dict:
        return json.loads(json.dumps(self._data))

    def to_json(self) -> str:
        return json.dumps(self._data, indent=2, sort_keys=True)

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(_drop_none(self._data))

    @property
    def data(self) -> dict:
        return self._data

    @property
    def total_pages(self) -> int:
        return sum(z["pages"] for z in self._data["memory"]["zones"])

    @property
    def name(self) -> str:
        return self._data["name"]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scenario) and self._data == other._data


def _drop_none(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _drop_none(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_drop_none(x) for x in v]
    return v
