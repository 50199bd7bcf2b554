"""Per-page history as a bounded log of fixed-size entries.

One Python object per event would cost ~200 bytes; four parallel arrays cost 21 bytes an
event, and a page's history is found on demand by scanning the pfn column with numpy.
When the log is full the oldest half is dropped, so a page's history covers recent events.
"""

from __future__ import annotations

from array import array

import numpy as np

from .constants import ERRNO_NAMES

CODES = (
    "isolated",
    "isolate_refused",
    "migrated_out",
    "migrated_in",
    "retry",
    "putback",
    "migratepage_error",
    "waited_lock",
    "waited_writeback",
    "contract_violation",
)
CODE = {name: i for i, name in enumerate(CODES)}


class History:
    def __init__(self, keep: int = 1 << 19) -> None:
        self.keep = keep
        self.dropped = 0
        self.t = array("q")
        self.pfn = array("I")
        self.code = array("B")
        self.arg = array("q")

    def add(self, time_ns: int, pfn: int, code: int, arg: int = 0) -> None:
        self.t.append(time_ns)
        self.pfn.append(pfn)
        self.code.append(code)
        self.arg.append(arg)
        if len(self.t) > self.keep:
            half = self.keep // 2
            for col in (self.t, self.pfn, self.code, self.arg):
                del col[:half]
            self.dropped += half

    def extend(self, times, pfns, code: int, args) -> None:
        """add() for each (time, pfn, arg) of equal-length sequences or numpy arrays."""
        # (as byte views of contiguous arrays: no intermediate bytes object)
        self.t.frombytes(np.ascontiguousarray(times, dtype=np.int64).view(np.uint8))
        self.pfn.frombytes(np.ascontiguousarray(pfns, dtype=np.uint32).view(np.uint8))
        self.code.frombytes(bytes([code]) * len(pfns))
        self.arg.frombytes(np.ascontiguousarray(args, dtype=np.int64).view(np.uint8))
        if len(self.t) > self.keep:
            half = self.keep // 2
            for col in (self.t, self.pfn, self.code, self.arg):
                del col[:half]
            self.dropped += half

    def __len__(self) -> int:
        return len(self.t)

    def for_pfn(self, pfn: int, drivers: list) -> list[dict]:
        if not len(self.pfn):
            return []
        pfns = np.frombuffer(self.pfn, dtype=np.uint32)
        codes = np.frombuffer(self.code, dtype=np.uint8)
        args = np.frombuffer(self.arg, dtype=np.int64)
        arrived = (codes == CODE["migrated_out"]) & (args == pfn)
        idx = np.flatnonzero((pfns == pfn) | arrived)
        out = []
        for i in idx.tolist():
            code = CODES[self.code[i]]
            arg = self.arg[i]
            e = {"time_ns": self.t[i], "event": code}
            if code == "migrated_out" and self.pfn[i] != pfn:
                e["event"] = "migrated_in"
                e["from"] = self.pfn[i]
            elif code == "migrated_out":
                e["to"] = arg
            elif code == "migrated_in":
                e["from"] = arg
            elif code in ("retry", "migratepage_error", "putback") and arg:
                e["rc"] = "-" + ERRNO_NAMES.get(arg, str(arg))
            elif code in ("isolated", "isolate_refused", "contract_violation") and arg:
                e["driver"] = drivers[arg - 1].name if 0 < arg <= len(drivers) else arg
            out.append(e)
        return out

    def __getstate__(self) -> dict:
        return {
            "keep": self.keep,
            "dropped": self.dropped,
            "cols": [c.tobytes() for c in (self.t, self.pfn, self.code, self.arg)],
        }

    def __setstate__(self, d: dict) -> None:
        self.keep = d["keep"]
        self.dropped = d["dropped"]
        self.t, self.pfn, self.code, self.arg = array("q"), array("I"), array("B"), array("q")
        for col, raw in zip((self.t, self.pfn, self.code, self.arg), d["cols"], strict=True):
            col.frombytes(raw)
