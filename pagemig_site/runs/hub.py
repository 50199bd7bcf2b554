"""Process-local fan-out of run frames to WebSockets.

The textbook Channels design adds every socket to the run's group, so the layer
delivers (and with Redis, serialises and transfers) each frame once per viewer; that
tops out near 4,000 deliveries/s per Daphne process. Here each process joins a run's
group once, with one channel of its own, receives each frame once and hands it to its
local sockets directly. Every socket has its own flow control (Outlet), so a stalled
client costs a bounded amount of memory and never slows the run or other viewers.
"""

import asyncio
import contextvars
import itertools
import logging
import uuid
from collections import deque

from channels.layers import get_channel_layer

from pagemig_site.lib.protocol import Viewer, encode_keyframe

from .bus import subscriber
from .models import control_group_name

log = logging.getLogger(__name__)


class Outlet:
    """One socket's view of a stream: what it was sent, what it acked, what it needs.

    `send_bytes` / `send_text` are coroutines that write to the socket without waiting
    for the client (Daphne has no outbound backpressure), so the window here is the only
    bound on what a slow client can make the server buffer.
    """

    def __init__(self, send_bytes, send_text, window):
        self.send_bytes = send_bytes
        self.send_text = send_text
        self.window = window
        self.in_flight = deque()  # seqs sent and not acked yet
        self.last_sent = None  # seq of the last complete frame sent
        self.needs_keyframe = True
        self.pending_json = {}  # latest JSON message of each type held back while stalled
        self.sent = 0
        self.dropped = 0

    @property
    def stalled(self):
        return len(self.in_flight) >= self.window

    def ack(self, seq):
        while self.in_flight and self.in_flight[0] <= seq:
            self.in_flight.popleft()

    async def offer(self, frames, seq, keyframe, base_seq=None):
        """Send one frame (a keyframe may be several chunks) or drop it; True if sent."""
        if keyframe:
            if self.stalled:
                self.dropped += 1
                return False
        else:
            # A delta only helps a client that holds exactly its base; anything else
            # waits for the next keyframe.
            if self.needs_keyframe or self.stalled or base_seq != self.last_sent:
                self.needs_keyframe = True
                self.dropped += 1
                return False
        for frame in frames:
            await self.send_bytes(frame)
        self.in_flight.append(seq)
        self.last_sent = seq
        self.needs_keyframe = False
        self.sent += 1
        await self.flush_json()
        return True

    async def flush_json(self):
        """Send the JSON held back while stalled (called when frames flow again, and on
        acks: the last status of a run has no frame after it to carry it)."""
        if self.pending_json and not self.stalled:
            pending, self.pending_json = self.pending_json, {}
            for text in pending.values():
                await self.send_text(text)

    async def offer_json(self, kind, text):
        if self.stalled:
            self.pending_json[kind] = text
        else:
            await self.send_text(text)


class Feed:
    """This process's subscription to one run: its sockets and its copy of the grid."""

    def __init__(self, hub, code):
        self.hub = hub
        self.code = code
        self.outlets = set()
        self.viewer = Viewer()
        self.frames = 0
        self.last_keyframe_request = 0.0

    async def request_keyframe(self):
        """Ask the producer for an out-of-band keyframe, for a feed that joined late."""
        await self.hub.layer.group_send(
            control_group_name(self.code), {"type": "run.control", "op": "keyframe"}
        )

    async def dispatch(self, message):
        kind = message.get("type")
        if kind == "run.frame":
            frames = message["frames"]
            seq = message["seq"]
            keyframe = message["key"]
            applied = True
            for frame in frames:
                applied = self.viewer.apply(frame) and applied
            self.frames += 1
            if not applied and not keyframe:
                # The layer dropped a frame on its way here: our copy of the grid is
                # stale until a keyframe, so ask for one now rather than in ~2 s.
                now = asyncio.get_running_loop().time()
                if now - self.last_keyframe_request > 0.5:
                    self.last_keyframe_request = now
                    await self.request_keyframe()
            oob = keyframe and bool(message.get("oob"))
            base = message.get("base")
            for outlet in list(self.outlets):
                if oob and not outlet.needs_keyframe:
                    continue
                try:
                    await outlet.offer(frames, seq, keyframe, base)
                except Exception:
                    # One broken socket must not stop the others' frames.
                    log.exception("sending a frame of run %s failed", self.code)
        elif kind == "run.json":
            for outlet in list(self.outlets):
                try:
                    await outlet.offer_json(message["kind"], message["text"])
                except Exception:
                    log.exception("sending a message of run %s failed", self.code)

    def keyframe_now(self):
        """A keyframe of the current state for one socket, or None before the first one."""
        v = self.viewer
        if v.seq is None:
            return None
        frames = encode_keyframe(self.code.bytes, v.seq, v.grid, v.ppc, v.time_ns, True)
        return frames, v.seq

    async def heal(self, outlet):
        """Send `outlet` a keyframe of the current state if it needs one and can take it."""
        if not outlet.needs_keyframe or outlet.stalled:
            return False
        made = self.keyframe_now()
        if made is None:
            return False
        frames, seq = made
        return await outlet.offer(frames, seq, True)


class Hub:
    """All feeds of one process (one event loop), behind ONE channel-layer channel.

    That channel joins the group of every run watched here, and also receives replies
    addressed to this process's sockets ({"socket": id}). Sockets themselves have no
    layer channel: with channels_redis, a hundred sockets each waiting on their own
    channel contend for the process's single Redis receive loop, which stalled delivery
    entirely in the benchmarks.
    """

    def __init__(self, layer):
        self.layer = layer
        self.feeds = {}
        self.sockets = {}  # id -> consumer, for replies
        self.sockets_by_user = {}
        self.lock = asyncio.Lock()
        self.channel = None
        self.task = None
        self.bus = subscriber(self)
        self._ids = itertools.count(1)

    async def ensure_channel(self):
        if self.channel is None:
            self.channel = await self.layer.new_channel()
            self.task = asyncio.get_running_loop().create_task(
                self._receive_loop(), context=contextvars.Context()
            )
        return self.channel

    async def _receive_loop(self):
        while True:
            message = await self.layer.receive(self.channel)
            try:
                await self.dispatch(message)
            except Exception:
                log.exception("hub dispatch of %s failed", message.get("type"))

    async def dispatch(self, message):
        if "socket" in message:
            consumer = self.sockets.get(message["socket"])
            if consumer is not None:
                await consumer.hub_reply(message)
            return
        run = message.get("run")
        feed = self.feeds.get(run if isinstance(run, uuid.UUID) else _as_uuid(run))
        if feed is not None:
            await feed.dispatch(message)

    async def join(self, code, outlet):
        async with self.lock:
            feed = self.feeds.get(code)
            if feed is None:
                feed = Feed(self, code)
                self.feeds[code] = feed
                await self.bus.subscribe(code)
                await feed.request_keyframe()
            feed.outlets.add(outlet)
        return feed

    async def leave(self, code, outlet):
        async with self.lock:
            feed = self.feeds.get(code)
            if feed is None:
                return
            feed.outlets.discard(outlet)
            log.debug(
                "run %s: socket left after %d frames sent, %d dropped (feed received %d)",
                code,
                outlet.sent,
                outlet.dropped,
                feed.frames,
            )
            if not feed.outlets:
                del self.feeds[code]
                try:
                    await self.bus.unsubscribe(code)
                except Exception:  # the layer may be gone at shutdown; nothing to clean
                    log.info("group_discard failed", exc_info=True)

    async def reply_address(self, consumer):
        """Where the producer should send answers meant for `consumer` alone."""
        await self.ensure_channel()
        if getattr(consumer, "socket_id", None) is None:
            # A counter, not id(): ids are reused after garbage collection.
            consumer.socket_id = next(self._ids)
        self.sockets[consumer.socket_id] = consumer
        return {"reply_to": self.channel, "socket": consumer.socket_id}

    def forget(self, consumer):
        self.sockets.pop(getattr(consumer, "socket_id", None), None)

    def open_socket(self, user_key, cap):
        """Count a socket against its user's cap (per process); False when over it."""
        n = self.sockets_by_user.get(user_key, 0)
        if n >= cap:
            return False
        self.sockets_by_user[user_key] = n + 1
        return True

    def close_socket(self, user_key):
        n = self.sockets_by_user.get(user_key, 0) - 1
        if n > 0:
            self.sockets_by_user[user_key] = n
        else:
            self.sockets_by_user.pop(user_key, None)


def _as_uuid(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


_hubs = {}


def get_hub():
    """The hub of the running event loop (tests run one loop per test)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        # Drop hubs of closed loops so tests do not accumulate them.
        for old in [k for k in _hubs if k.is_closed()]:
            del _hubs[old]
        hub = _hubs[loop] = Hub(get_channel_layer())
    return hub
