import uuid

import numpy as np
import pytest

from pagemig_site.lib import protocol
from pagemig_site.lib.protocol import DisplayGrid, Viewer, decode

RUN = uuid.uuid4()


def test_header_is_56_bytes_and_little_endian():
    frame = protocol.encode_delta(RUN.bytes, 7, 6, 100, 1, 123, [1, 2], [3, 4])
    assert frame[:4] == b"PGMF"
    f = decode(frame)
    assert (f.kind, f.seq, f.base_seq, f.cells, f.count, f.time_ns) == (2, 7, 6, 100, 2, 123)
    assert list(f.indices) == [1, 2] and list(f.states) == [3, 4]
    assert len(frame) == 56 + 2 * 5


def test_decode_rejects_truncated_and_foreign_frames():
    frame = protocol.encode_delta(RUN.bytes, 1, 0, 10, 1, 0, [1], [2])
    with pytest.raises(ValueError):
        decode(frame[:-1])
    with pytest.raises(ValueError):
        decode(b"XXXX" + frame[4:])
    with pytest.raises(ValueError):
        decode(b"short")


def test_viewer_rebuilds_full_resolution_state_from_keyframe_and_deltas():
    rng = np.random.default_rng(1)
    states = rng.integers(0, 13, 1000).astype(np.uint8)
    grid = DisplayGrid(RUN, states, max_cells=4096)
    viewer = Viewer()
    for f in grid.keyframe(0, 0):
        viewer.apply(f)
    for seq in range(1, 50):
        pfns = rng.choice(1000, 30, replace=False)
        new = rng.integers(0, 13, 30).astype(np.uint8)
        states[pfns] = new
        cells, values = grid.apply(pfns, new)
        assert viewer.apply(grid.delta(seq, seq - 1, seq, cells, values))
    assert np.array_equal(viewer.grid, states)
    assert viewer.seq == 49


def test_delta_on_wrong_base_is_skipped_until_a_keyframe():
    states = np.zeros(100, np.uint8)
    grid = DisplayGrid(RUN, states, 100)
    viewer = Viewer()
    for f in grid.keyframe(0, 0):
        viewer.apply(f)
    cells, values = grid.apply([5], [2])
    grid.delta(1, 0, 0, cells, values)  # lost on the way
    cells, values = grid.apply([6], [3])
    assert not viewer.apply(grid.delta(2, 1, 0, cells, values))
    for f in grid.keyframe(2, 0, out_of_band=True):
        viewer.apply(f)
    assert viewer.seq == 2 and viewer.grid[5] == 2 and viewer.grid[6] == 3


def test_large_keyframes_are_chunked_and_applied_only_when_complete():
    states = np.arange(300_000, dtype=np.uint32).astype(np.uint8) % 13
    grid = DisplayGrid(RUN, states, max_cells=1 << 20)
    frames = grid.keyframe(3, 0)
    assert len(frames) == -(-300_000 // protocol.KEYFRAME_CHUNK)
    assert [decode(f).flags & protocol.FLAG_LAST_CHUNK for f in frames][-1] == 1
    viewer = Viewer()
    for f in frames[:-1]:
        viewer.apply(f)
    assert viewer.seq is None
    viewer.apply(frames[-1])
    assert viewer.seq == 3 and np.array_equal(viewer.grid, states)


def test_aggregated_cells_show_the_most_significant_state():
    # 8 pages, 2 cells of 4: isolated beats driver beats movable beats free.
    states = np.array([0, 0, 2, 4, 0, 1, 0, 0], np.uint8)
    grid = DisplayGrid(RUN, states, max_cells=2)
    assert grid.ppc == 4 and grid.cells == 2
    assert list(grid.grid) == [4, 1]
    cells, values = grid.apply([1], [11])
    assert list(cells) == [0] and list(values) == [11]
    cells, values = grid.apply([6], [2])
    assert list(cells) == [1] and list(values) == [2]
    # A change that does not alter the cell's summary is not sent at all.
    cells, values = grid.apply([7], [0])
    assert len(cells) == 0
    assert decode(grid.keyframe(0, 0)[0]).flags & protocol.FLAG_AGGREGATED


def test_tiles_carry_full_resolution_pages():
    states = (np.arange(1000) % 13).astype(np.uint8)
    grid = DisplayGrid(RUN, states, max_cells=10)
    f = decode(grid.tile(5, 0, pfn=200, count=50))
    assert f.kind == protocol.TILE and f.offset == 200 and f.count == 50
    assert np.array_equal(f.states, states[200:250])
    # Out-of-range requests are clipped, never an error.
    assert decode(grid.tile(5, 0, pfn=990, count=500)).count == 10
