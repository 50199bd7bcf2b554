"""Process-local fan-out and per-socket flow control, fed with protocol frames.

These publish frames to the run's group the way the producer does, so they test the hub
and the consumer alone; test_streaming.py drives the same paths with the real engine.
"""

import asyncio
import json
import uuid

import numpy as np
import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from pagemig_site.asgi import application
from pagemig_site.lib.protocol import DisplayGrid, Viewer, decode
from pagemig_site.runs.hub import get_hub
from pagemig_site.runs.models import group_name
from tests.helpers import acookie, amake_run, ws_headers

pytestmark = pytest.mark.django_db(transaction=True)


class Publisher:
    """Publishes a stream of random page changes to a run's group."""

    def __init__(self, code, npages=4096):
        self.code = code
        self.rng = np.random.default_rng(7)
        self.states = self.rng.integers(0, 13, npages).astype(np.uint8)
        self.grid = DisplayGrid(code, self.states, 1 << 20)
        self.seq = 0
        self.layer = get_channel_layer()

    async def keyframe(self):
        frames = self.grid.keyframe(self.seq, self.seq)
        await self.layer.group_send(
            group_name(self.code),
            {
                "type": "run.frame",
                "run": str(self.code),
                "frames": frames,
                "seq": self.seq,
                "base": self.seq,
                "key": True,
                "oob": False,
            },
        )

    async def delta(self):
        self.seq += 1
        pfns = self.rng.choice(len(self.states), 50, replace=False)
        new = self.rng.integers(0, 13, 50).astype(np.uint8)
        self.states[pfns] = new
        cells, values = self.grid.apply(pfns, new)
        frame = self.grid.delta(self.seq, self.seq - 1, self.seq, cells, values)
        await self.layer.group_send(
            group_name(self.code),
            {
                "type": "run.frame",
                "run": str(self.code),
                "frames": [frame],
                "seq": self.seq,
                "base": self.seq - 1,
                "key": False,
                "oob": False,
            },
        )


async def open_viewer(run, user):
    comm = WebsocketCommunicator(
        application, f"/ws/runs/{run.code}/", headers=ws_headers(await acookie(user))
    )
    assert (await comm.connect(timeout=5))[0]
    assert json.loads(await comm.receive_from())["type"] == "hello"
    await comm.send_to(text_data=json.dumps({"op": "subscribe"}))
    sub = json.loads(await comm.receive_from())
    assert sub["type"] == "subscribed" and sub["mode"] == "live"
    return comm


async def receive_frame(comm, viewer, timeout=2):
    while True:
        out = await comm.receive_output(timeout)
        if out.get("bytes") is not None:
            viewer.apply(out["bytes"])
            return decode(out["bytes"])


async def test_one_layer_delivery_per_process_however_many_viewers(teacher):
    run = await amake_run(teacher, status="running")
    viewers = [await open_viewer(run, teacher) for _ in range(5)]
    hub = get_hub()
    assert len(hub.feeds) == 1
    feed = hub.feeds[run.code]
    assert len(feed.outlets) == 5
    # Sockets have no layer channel of their own: the process's one channel serves all.
    layer = get_channel_layer()
    # One channel in the run's group, not five.
    assert len(layer.groups[group_name(run.code)]) == 1
    for c in viewers:
        await c.disconnect()
    await asyncio.sleep(0.05)
    assert run.code not in hub.feeds


async def test_slow_client_drops_deltas_and_heals_with_a_keyframe_while_a_fast_one_gets_all(
    teacher, settings
):
    settings.FLOW_WINDOW = 4
    run = await amake_run(teacher, status="running")
    fast = await open_viewer(run, teacher)
    slow = await open_viewer(run, teacher)
    pub = Publisher(run.code)
    fast_view, slow_view = Viewer(), Viewer()

    await pub.keyframe()
    for _ in range(30):
        f = await receive_frame(fast, fast_view)
        await fast.send_to(text_data=json.dumps({"op": "ack", "seq": f.seq}))
        await pub.delta()
    f = await receive_frame(fast, fast_view)
    # The fast client applied every frame, in order, and holds the publisher's state.
    assert fast_view.applied == 31 and fast_view.skipped == 0
    assert np.array_equal(fast_view.grid, pub.states)

    # The slow client (no acks) got exactly a window's worth, then nothing.
    got = []
    while len(got) < 4:
        out = await slow.receive_output(5)
        if out.get("bytes") is not None:
            got.append(decode(out["bytes"]).seq)
            slow_view.apply(out["bytes"])
    assert got == [0, 1, 2, 3]
    # Only JSON (if anything) may follow, never another frame.
    while not await slow.receive_nothing(0.3):
        assert (await slow.receive_output()).get("bytes") is None
    feed = get_hub().feeds[run.code]
    slow_outlet = [o for o in feed.outlets if o.dropped][0]
    assert slow_outlet.dropped == 27 and slow_outlet.needs_keyframe

    # Once it acks, it is healed with a keyframe of the current state...
    await slow.send_to(text_data=json.dumps({"op": "ack", "seq": 3}))
    f = await receive_frame(slow, slow_view)
    assert f.kind == 1 and f.seq == 30 and f.flags & 4  # out-of-band keyframe
    assert np.array_equal(slow_view.grid, pub.states)
    # ...and the next delta applies on top of it.
    await slow.send_to(text_data=json.dumps({"op": "ack", "seq": 30}))
    await fast.send_to(text_data=json.dumps({"op": "ack", "seq": 30}))
    await pub.delta()
    assert (await receive_frame(slow, slow_view)).seq == 31
    assert slow_view.seq == 31 and np.array_equal(slow_view.grid, pub.states)
    await fast.disconnect()
    await slow.disconnect()


async def test_a_late_joiner_starts_from_a_keyframe_of_the_current_state(teacher):
    run = await amake_run(teacher, status="running")
    first = await open_viewer(run, teacher)
    pub = Publisher(run.code)
    v = Viewer()
    await pub.keyframe()
    for _ in range(5):
        f = await receive_frame(first, v)
        await first.send_to(text_data=json.dumps({"op": "ack", "seq": f.seq}))
        await pub.delta()
    await receive_frame(first, v)
    late = await open_viewer(run, teacher)
    lv = Viewer()
    f = await receive_frame(late, lv)
    assert f.kind == 1 and f.seq == 5
    assert np.array_equal(lv.grid, pub.states)
    await first.disconnect()
    await late.disconnect()


async def test_reconnecting_client_resumes_from_a_keyframe(teacher):
    run = await amake_run(teacher, status="running")
    pub = Publisher(run.code)
    c = await open_viewer(run, teacher)
    v = Viewer()
    await pub.keyframe()
    for _ in range(3):
        f = await receive_frame(c, v)
        await c.send_to(text_data=json.dumps({"op": "ack", "seq": f.seq}))
        await pub.delta()
    await receive_frame(c, v)
    await c.disconnect()
    await asyncio.sleep(0.05)
    # Frames produced while it was away.
    await pub.delta()
    await pub.delta()
    c = await open_viewer(run, teacher)
    # The hub left the group when the last socket went; the new feed asks the producer
    # for a keyframe. Here the "producer" answers with one.
    await asyncio.sleep(0.05)
    await pub.keyframe()
    f = await receive_frame(c, v)
    assert f.kind == 1 and f.seq == 5
    await c.send_to(text_data=json.dumps({"op": "ack", "seq": 5}))
    await pub.delta()
    assert (await receive_frame(c, v)).seq == 6
    assert np.array_equal(v.grid, pub.states)
    await c.disconnect()


def test_uuid_bytes_are_in_every_frame():
    code = uuid.uuid4()
    frame = DisplayGrid(code, np.zeros(10, np.uint8), 10).keyframe(0, 0)[0]
    assert decode(frame).run == code.bytes


async def test_status_held_back_from_a_stalled_client_arrives_once_it_acks(teacher, settings):
    settings.FLOW_WINDOW = 2
    run = await amake_run(teacher, status="running")
    c = await open_viewer(run, teacher)
    pub = Publisher(run.code)
    await pub.keyframe()
    await pub.delta()
    v = Viewer()
    await receive_frame(c, v)
    await receive_frame(c, v)
    # Stalled (2 unacked): the final status is held back, not sent, not lost.
    await get_channel_layer().group_send(
        group_name(run.code),
        {
            "type": "run.json",
            "run": str(run.code),
            "kind": "status",
            "text": json.dumps({"type": "status", "status": "succeeded"}),
        },
    )
    assert await c.receive_nothing(0.3)
    await c.send_to(text_data=json.dumps({"op": "ack", "seq": 1}))
    assert json.loads(await c.receive_from())["status"] == "succeeded"
    await c.disconnect()
