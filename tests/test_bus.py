"""Frames over Redis pub/sub: one subscription per process, and it survives being dropped."""

import asyncio
import os
import uuid

import numpy as np
import redis.asyncio as redis
from channels.layers import get_channel_layer

from pagemig_site.lib.protocol import DisplayGrid, Viewer
from pagemig_site.runs import bus
from pagemig_site.runs.hub import Hub, Outlet

REDIS = "redis://127.0.0.1:6379/0"


class Sink:
    def __init__(self):
        self.viewer = Viewer()
        self.frames = []

    async def send_bytes(self, data):
        self.frames.append(data)
        self.viewer.apply(data)

    async def send_text(self, text):
        pass


async def until(predicate, timeout=5):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_the_hub_subscribes_again_after_redis_drops_its_connection(settings):
    settings.REDIS_URL = REDIS
    settings.REDIS_PREFIX = f"pmbus{uuid.uuid4().hex[:8]}"
    code = uuid.uuid4()
    hub = Hub(get_channel_layer())
    assert isinstance(hub.bus, bus.RedisSubscriber)
    sink = Sink()
    outlet = Outlet(sink.send_bytes, sink.send_text, window=1000)
    await hub.join(code, outlet)
    publisher = bus.publisher(hub.layer)
    states = np.zeros(1000, np.uint8)
    grid = DisplayGrid(code, states, 1000)

    async def keyframe(seq):
        await publisher.publish(
            code,
            {
                "type": "run.frame",
                "run": str(code),
                "frames": grid.keyframe(seq, 0),
                "seq": seq,
                "base": seq,
                "key": True,
                "oob": False,
            },
        )

    await asyncio.sleep(0.2)  # the subscription is in place
    await keyframe(1)
    await until(lambda: sink.viewer.seq == 1)

    # Drop the hub's pub/sub connection, as Redis does to a subscriber that lags.
    admin = redis.Redis.from_url(REDIS)
    name = f"pagemig-hub-{os.getpid()}-{id(hub)}"
    clients = [c for c in await admin.client_list() if c.get("name") == name]
    assert clients
    for c in clients:
        await admin.client_kill_filter(_id=c["id"])
    await asyncio.sleep(1.5)
    grid.apply(np.array([5]), np.array([3], np.uint8))
    await keyframe(2)
    await until(lambda: sink.viewer.seq == 2)
    assert sink.viewer.grid[5] == 3
    await hub.leave(code, outlet)
    hub.bus.task.cancel()
    await publisher.close()
    await admin.aclose()
