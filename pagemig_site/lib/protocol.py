"""The binary frame format of docs/protocol.md, and the display grid it carries.

Framework-free (numpy only) so that tests, benchmarks and other clients can use it.
"""

import struct
from dataclasses import dataclass

import numpy as np

MAGIC = 0x464D4750  # "PGMF" little-endian
VERSION = 1
KEYFRAME, DELTA, TILE = 1, 2, 3
FLAG_LAST_CHUNK = 1
FLAG_AGGREGATED = 2
# A keyframe sent to one socket on request (heal, late join); it is not part of the log.
FLAG_OUT_OF_BAND = 4

HEADER = struct.Struct("<IBBH16sIIIIIIQ")
assert HEADER.size == 56
# Every server frame stays under 32 KiB + header: Daphne (autobahn) enforces its message
# size limit on outgoing messages too, and the serve command sets it to 64 KiB.
KEYFRAME_CHUNK = 32 * 1024
MAX_TILE = 32 * 1024

HOLE = 10
# Aggregated cells show the most significant state among their pages: isolated >
# driver > unmovable/pinned/... > movable > free > hole. RANK maps a state code to its
# significance; codes the engine may add later rank above all known ones.
_ORDER = [10, 0, 1, 2, 3, 6, 8, 9, 5, 7, 4, 12, 11]
RANK = np.zeros(256, dtype=np.uint8)
for _r, _code in enumerate(_ORDER):
    RANK[_code] = _r
_extra = [c for c in range(256) if c not in _ORDER]
for _r, _code in enumerate(_extra, start=len(_ORDER)):
    RANK[_code] = _r
UNRANK = np.zeros(256, dtype=np.uint8)
UNRANK[RANK] = np.arange(256, dtype=np.uint8)


@dataclass
class Frame:
    kind: int
    flags: int
    run: bytes
    seq: int
    base_seq: int
    cells: int
    pages_per_cell: int
    count: int
    offset: int
    time_ns: int
    payload: memoryview

    @property
    def indices(self):
        return np.frombuffer(self.payload, dtype="<u4", count=self.count)

    @property
    def states(self):
        start = 4 * self.count if self.kind == DELTA else 0
        return np.frombuffer(self.payload, dtype=np.uint8, count=self.count, offset=start)


def header(kind, flags, run, seq, base_seq, cells, ppc, count, offset, time_ns):
    return HEADER.pack(
        MAGIC, VERSION, kind, flags, run, seq, base_seq, cells, ppc, count, offset, time_ns
    )


def decode(data):
    """Parse a binary frame; raises ValueError on anything malformed."""
    if len(data) < HEADER.size:
        raise ValueError("frame shorter than its header")
    magic, version, kind, flags, run, seq, base, cells, ppc, count, offset, t = HEADER.unpack_from(
        data
    )
    if magic != MAGIC or version != VERSION:
        raise ValueError("bad magic or version")
    per_entry = 5 if kind == DELTA else 1
    if len(data) != HEADER.size + per_entry * count:
        raise ValueError("payload length does not match count")
    payload = memoryview(data)[HEADER.size :]
    return Frame(kind, flags, run, seq, base, cells, ppc, count, offset, t, payload)


class DisplayGrid:
    """The producer's view of a run: full-resolution states and the display grid.

    Runs with more pages than `max_cells` are shown aggregated, `pages_per_cell` pages
    per cell; full resolution is available as tiles.
    """

    def __init__(self, run_uuid, states, max_cells):
        self.run = run_uuid.bytes
        npages = len(states)
        self.npages = npages
        self.ppc = max(1, -(-npages // max_cells))
        self.cells = -(-npages // self.ppc)
        # Pad with holes so every cell has exactly ppc pages; holes rank lowest.
        self.pages = np.full(self.cells * self.ppc, HOLE, dtype=np.uint8)
        self.pages[:npages] = states
        self.grid = self._aggregate_all()

    @property
    def flags(self):
        return FLAG_AGGREGATED if self.ppc > 1 else 0

    def _aggregate_all(self):
        if self.ppc == 1:
            return self.pages.copy()
        return UNRANK[RANK[self.pages.reshape(self.cells, self.ppc)].max(axis=1)]

    def apply(self, pfns, states):
        """Apply a step's changes; returns (cell indices, cell states) that changed."""
        pfns = np.asarray(pfns, dtype=np.int64)
        if len(pfns) == 0:
            return np.zeros(0, np.uint32), np.zeros(0, np.uint8)
        self.pages[pfns] = states
        cells = np.unique(pfns // self.ppc)
        if self.ppc == 1:
            values = self.pages[cells]
        else:
            values = UNRANK[RANK[self.pages.reshape(self.cells, self.ppc)[cells]].max(axis=1)]
        changed = values != self.grid[cells]
        cells, values = cells[changed], values[changed]
        self.grid[cells] = values
        return cells.astype(np.uint32), values

    def keyframe(self, seq, time_ns, out_of_band=False):
        return encode_keyframe(self.run, seq, self.grid, self.ppc, time_ns, out_of_band=out_of_band)

    def delta(self, seq, base_seq, time_ns, cells, values):
        return encode_delta(self.run, seq, base_seq, self.cells, self.ppc, time_ns, cells, values)

    def tile(self, seq, time_ns, pfn, count):
        pfn = max(0, min(pfn, self.npages))
        count = max(0, min(count, MAX_TILE, self.npages - pfn))
        return encode_tile(
            self.run, seq, self.cells, self.ppc, time_ns, pfn, self.pages[pfn : pfn + count]
        )


def encode_keyframe(run, seq, grid, ppc, time_ns, out_of_band=False, chunk=KEYFRAME_CHUNK):
    cells = len(grid)
    base_flags = (FLAG_AGGREGATED if ppc > 1 else 0) | (FLAG_OUT_OF_BAND if out_of_band else 0)
    frames = []
    for offset in range(0, max(cells, 1), chunk):
        part = grid[offset : offset + chunk]
        flags = base_flags | (FLAG_LAST_CHUNK if offset + chunk >= cells else 0)
        head = header(KEYFRAME, flags, run, seq, seq, cells, ppc, len(part), offset, time_ns)
        frames.append(head + part.tobytes())
    return frames


def encode_delta(run, seq, base_seq, cells, ppc, time_ns, indices, values):
    flags = FLAG_AGGREGATED if ppc > 1 else 0
    head = header(DELTA, flags, run, seq, base_seq, cells, ppc, len(indices), 0, time_ns)
    return (
        head
        + np.asarray(indices, dtype="<u4").tobytes()
        + np.asarray(values, dtype=np.uint8).tobytes()
    )


def encode_tile(run, seq, cells, ppc, time_ns, pfn, states):
    flags = FLAG_AGGREGATED if ppc > 1 else 0
    head = header(TILE, flags, run, seq, seq, cells, ppc, len(states), pfn, time_ns)
    return head + np.asarray(states, dtype=np.uint8).tobytes()


class Viewer:
    """A client that applies frames the way docs/protocol.md says a client must.

    Used by the hub (to answer keyframe requests locally), tests and benchmarks.
    """

    def __init__(self):
        self.grid = None
        self.seq = None  # last applied seq; None until a whole keyframe arrived
        self.pending = None  # seq of a keyframe whose chunks are still arriving
        self.ppc = 1
        self.time_ns = 0
        self.applied = 0
        self.skipped = 0

    def apply(self, data):
        """Apply one frame; returns True if it changed what the viewer shows."""
        f = decode(data)
        if f.kind == KEYFRAME:
            if self.grid is None or len(self.grid) != f.cells:
                self.grid = np.zeros(f.cells, dtype=np.uint8)
            if f.offset == 0:
                self.pending = f.seq
            if self.pending != f.seq:
                self.skipped += 1
                return False
            self.grid[f.offset : f.offset + f.count] = f.states
            self.ppc = f.pages_per_cell
            if f.flags & FLAG_LAST_CHUNK:
                self.seq, self.pending, self.time_ns = f.seq, None, f.time_ns
                self.applied += 1
            return True
        if f.kind == DELTA:
            if self.seq is None or f.base_seq != self.seq:
                self.skipped += 1
                return False
            self.grid[f.indices] = f.states
            self.seq, self.time_ns = f.seq, f.time_ns
            self.applied += 1
            return True
        return False
