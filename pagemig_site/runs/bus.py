"""How frames travel from a run's producer to the hubs of the processes watching it.

Embedded: the in-memory channel layer (a queue put, same process). Scaled out: Redis
pub/sub, one PUBLISH per frame and one subscription per process. The channels_redis
core layer delivers each message to a process with three Redis round trips (cleanup
script, BZPOPMIN, backup ZREM), each waiting for an event-loop turn; with a hundred
sockets keeping Daphne's loop busy that capped a process at ~30 frames/s in the
benchmarks. A pub/sub connection streams frames instead. Frames are lossy anyway
(keyframes heal), so pub/sub's at-most-once delivery costs nothing. Control messages
and replies stay on the channel layer.
"""

import asyncio
import contextvars
import logging
import os

import msgpack
from django.conf import settings

from .models import group_name

log = logging.getLogger(__name__)


def frame_topic(code):
    return f"{settings.REDIS_PREFIX}:frames:{code}"


class LayerPublisher:
    def __init__(self, layer):
        self.layer = layer

    async def publish(self, code, message):
        await self.layer.group_send(group_name(code), message)

    async def close(self):
        pass


class RedisPublisher:
    def __init__(self):
        import redis.asyncio as redis

        self.redis = redis.Redis.from_url(settings.REDIS_URL)

    async def publish(self, code, message):
        await self.redis.publish(frame_topic(code), msgpack.packb(message, use_bin_type=True))

    async def close(self):
        await self.redis.aclose()


def publisher(layer):
    return RedisPublisher() if settings.REDIS_URL else LayerPublisher(layer)


class LayerSubscriber:
    """Hub side, embedded: the hub's own channel joins each run's group."""

    def __init__(self, hub):
        self.hub = hub

    async def subscribe(self, code):
        await self.hub.layer.group_add(group_name(code), await self.hub.ensure_channel())

    async def unsubscribe(self, code):
        await self.hub.layer.group_discard(group_name(code), self.hub.channel)


class RedisSubscriber:
    """Hub side, scaled out: one pub/sub connection for every run this process watches.

    Redis closes a subscriber that falls too far behind (client-output-buffer-limit
    pubsub); then this reconnects, subscribes again to every run still watched here
    and asks each producer for a keyframe, so the viewers heal within a frame or two.
    """

    def __init__(self, hub):
        import redis.asyncio as redis

        self.hub = hub
        # Named, so an operator (or a test) can tell the hubs' connections apart.
        self.redis = redis.Redis.from_url(
            settings.REDIS_URL, client_name=f"pagemig-hub-{os.getpid()}-{id(hub)}"
        )
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.task = None

    async def subscribe(self, code):
        await self.pubsub.subscribe(frame_topic(code))
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(
                self._listen(), context=contextvars.Context()
            )

    async def unsubscribe(self, code):
        await self.pubsub.unsubscribe(frame_topic(code))

    async def _reset(self):
        try:
            await self.pubsub.aclose()
        except Exception:
            log.debug("closing a broken subscription failed", exc_info=True)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        for code, feed in list(self.hub.feeds.items()):
            await self.pubsub.subscribe(frame_topic(code))
            await feed.request_keyframe()

    async def _listen(self):
        while True:
            try:
                message = await self.pubsub.get_message(timeout=1.0)
            except Exception:
                log.warning("frame subscription lost; subscribing again", exc_info=True)
                await asyncio.sleep(0.2)
                try:
                    await self._reset()
                except Exception:
                    log.exception("subscribing again failed; retrying")
                continue
            if message is None or message.get("type") != "message":
                continue
            try:
                await self.hub.dispatch(msgpack.unpackb(message["data"], raw=False))
            except Exception:
                log.exception("dispatch of a frame failed")


def subscriber(hub):
    return RedisSubscriber(hub) if settings.REDIS_URL else LayerSubscriber(hub)
