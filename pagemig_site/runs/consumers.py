"""The run socket: live frames through the process hub, or a replay from the log."""

import asyncio
import contextvars
import json
import logging
import math
import uuid

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from pagemig_site.lib.protocol import KEYFRAME, MAX_TILE, Viewer, decode, encode_keyframe

from . import access
from .hub import Outlet, get_hub
from .models import ACTIVE, FrameBlock, Run, control_group_name

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
CONTROL_OPS = ("pause", "resume", "step", "cancel", "inject", "speed")
U32 = 2**32 - 1


class OpError(Exception):
    def __init__(self, field, message):
        super().__init__(message)
        self.field = field
        self.message = message


def _number(msg, field, kind, lo, hi, required=True, default=None):
    """Read msg[field] as `kind` within [lo, hi] or raise an OpError naming it."""
    if field not in msg or msg[field] is None:
        if required:
            raise OpError(field, f"{field} is required")
        return default
    value = msg[field]
    if kind is str:
        if not isinstance(value, str) or not (1 <= len(value) <= 64):
            raise OpError(field, f"{field} must be a string of 1 to 64 characters")
        return value
    # bool is an int in Python; a client sending true for a number is a mistake.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OpError(field, f"{field} must be a number between {lo} and {hi}")
    if kind is int and (isinstance(value, float) and not value.is_integer()):
        raise OpError(field, f"{field} must be an integer between {lo} and {hi}")
    if isinstance(value, float) and not math.isfinite(value):
        raise OpError(field, f"{field} must be a number between {lo} and {hi}")
    if not (lo <= value <= hi):
        raise OpError(field, f"{field} must be between {lo} and {hi}")
    return kind(value)


class RunConsumer(AsyncWebsocketConsumer):
    """/ws/runs/<code>/ for signed-in viewers, /ws/share/<token>/ for share links."""

    # No channel-layer channel per socket: frames and replies reach sockets through the
    # process hub (hub.py explains why). get_channel_layer() of an unknown alias is None.
    channel_layer_alias = "pagemig-no-layer-per-socket"

    async def connect(self):
        self.user = self.scope.get("user")
        self.access = await self.check_access()
        if self.access is None:
            # Refused before accept: the handshake fails with 403, nothing leaks.
            await self.close(code=4403)
            return
        self.hub = get_hub()
        self.user_key = (
            f"user:{self.user.pk}"
            if self.user is not None and self.user.is_authenticated
            else f"addr:{(self.scope.get('client') or ['?'])[0]}"
        )
        if not self.hub.open_socket(self.user_key, settings.SOCKETS_PER_USER):
            self.user_key = None
            await self.close(code=4429)
            return
        self.outlet = Outlet(self._send_bytes, self._send_text, settings.FLOW_WINDOW)
        self.feed = None
        self.replay = None
        self.run_code = self.access.run.code
        await self.accept()
        run = self.access.run
        await self.send_json(
            "hello",
            protocol=PROTOCOL_VERSION,
            run=str(run.code),
            status=run.status,
            can_control=self.access.can_write,
            cells=run.cells,
            pages_per_cell=run.pages_per_cell,
            last_seq=run.last_seq,
            window=settings.FLOW_WINDOW,
            max_message_bytes=settings.WS_MAX_MESSAGE_BYTES,
        )

    async def dispatch(self, message):
        # Channels closes stale database connections before every message, a thread
        # hop each time; acks arrive up to 60 times a second per socket and never touch
        # the database (the handlers that do go through database_sync_to_async, which
        # does that clean-up itself).
        if message["type"] == "websocket.receive":
            return await self.websocket_receive(message)
        return await super().dispatch(message)

    async def disconnect(self, code):
        if getattr(self, "hub", None) is not None:
            self.hub.forget(self)
        if getattr(self, "user_key", None):
            self.hub.close_socket(self.user_key)
            self.user_key = None
        await self.stop_streaming()

    @database_sync_to_async
    def check_access(self):
        kwargs = self.scope["url_route"]["kwargs"]
        if "token" in kwargs:
            return access.get_run_for_share(kwargs["token"])
        try:
            code = uuid.UUID(kwargs["code"])
        except ValueError:
            return None
        return access.get_run_for_user(self.user, code)

    # Sending -----------------------------------------------------------------------

    async def _send_bytes(self, data):
        # The hot path of the fan-out: straight to the ASGI send, skipping two wrappers.
        await self.base_send({"type": "websocket.send", "bytes": data})

    async def _send_text(self, text):
        await self.send(text_data=text)

    async def send_json(self, kind, **fields):
        await self.send(text_data=json.dumps({"type": kind, **fields}))

    async def send_error(self, op, field, message):
        await self.send_json("error", op=op, field=field, message=message)

    # Receiving ---------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        op = None
        try:
            if bytes_data is not None:
                raise OpError(None, "binary messages are not accepted; send JSON text")
            if len(text_data) > settings.WS_MAX_MESSAGE_BYTES:
                raise OpError(None, f"message larger than {settings.WS_MAX_MESSAGE_BYTES} bytes")
            try:
                msg = json.loads(text_data)
            except ValueError:
                raise OpError(None, "message is not valid JSON") from None
            if not isinstance(msg, dict):
                raise OpError(None, "message must be a JSON object with an 'op' field")
            op = msg.get("op")
            if not isinstance(op, str) or op not in HANDLERS:
                op = op if isinstance(op, str) and len(op) <= 32 else None
                raise OpError("op", "op must be one of " + ", ".join(sorted(HANDLERS)))
            await HANDLERS[op](self, msg)
        except OpError as e:
            await self.send_error(op, e.field, e.message)

    async def op_subscribe(self, msg):
        from_seq = _number(msg, "from_seq", int, 0, U32, required=False)
        # Authorisation is checked again on every subscribe: the owner may have revoked
        # the share link or deleted the run since the socket connected.
        self.access = await self.check_access()
        if self.access is None:
            await self.send_error("subscribe", None, "this run is no longer available to you")
            await self.close(code=4403)
            return
        run = self.access.run
        await self.stop_streaming()
        self.outlet = Outlet(self._send_bytes, self._send_text, settings.FLOW_WINDOW)
        if run.status in ACTIVE and from_seq is None:
            await self.send_json("subscribed", mode="live", status=run.status, seq=run.last_seq)
            self.feed = await self.hub.join(run.code, self.outlet)
            await self.feed.heal(self.outlet)
        else:
            await self.send_json("subscribed", mode="replay", status=run.status, seq=run.last_seq)
            self.start_replay(run, from_seq or 0)

    async def op_ping(self, msg):
        """Round-trip check for clients (and a marker for tests: every op before it was
        handled once the pong arrives)."""
        await self.send_json("pong", t=_number(msg, "t", float, -1e18, 1e18, required=False))

    async def op_ack(self, msg):
        seq = _number(msg, "seq", int, 0, U32)
        self.outlet.ack(seq)
        if self.feed is not None:
            await self.feed.heal(self.outlet)
            await self.outlet.flush_json()
        elif self.replay is not None:
            self.replay.wake()

    async def op_keyframe(self, msg):
        if self.feed is not None:
            self.outlet.needs_keyframe = True
            if not await self.feed.heal(self.outlet):
                await self.feed.request_keyframe()
        elif self.replay is not None:
            self.replay.keyframe_requested = True
            self.replay.wake()
        else:
            raise OpError(None, "subscribe first")

    async def op_control(self, msg):
        op = msg["op"]
        if not self.access.can_write:
            raise OpError("op", f"{op} needs a run you own; this view is read-only")
        if self.access.run.status not in ACTIVE:
            raise OpError("op", f"{op} needs a live run; this one is {self.access.run.status}")
        message = {"type": "run.control", "op": op, **await self.hub.reply_address(self)}
        if op == "speed":
            message["fps"] = _number(msg, "fps", float, 0.1, settings.MAX_FPS, required=False)
            message["ticks_per_frame"] = _number(
                msg, "ticks_per_frame", int, 1, 100_000, required=False
            )
            if message["fps"] is None and message["ticks_per_frame"] is None:
                raise OpError("fps", "speed needs fps or ticks_per_frame")
        elif op == "inject":
            message["driver"] = _number(msg, "driver", str, None, None)
            params = msg.get("params", {})
            # The engine validates the knobs themselves (names, ranges) and its errors
            # come back naming the field; here only the shape is checked.
            if not isinstance(params, dict) or len(params) > 12:
                raise OpError("params", "params must be an object of at most 12 knobs")
            clean = {}
            for name, value in params.items():
                if (
                    len(name) > 32
                    or not (value is None or isinstance(value, str | int | float))
                    or isinstance(value, bool)
                ):
                    raise OpError(
                        f"params.{name[:32]}", "each knob must be a number, a string or null"
                    )
                if isinstance(value, float) and not math.isfinite(value):
                    raise OpError(f"params.{name[:32]}", "must be a finite number")
                clean[name] = value
            message["params"] = clean
        elif op == "cancel":
            # Also in the database: a control message can be lost, the flag cannot.
            await database_sync_to_async(self.access.run.cancel)()
        await self.hub.layer.group_send(control_group_name(self.run_code), message)

    async def op_tile(self, msg):
        pfn = _number(msg, "pfn", int, 0, 2**40)
        count = _number(msg, "count", int, 1, MAX_TILE)
        if self.feed is None:
            raise OpError("op", "tiles are available while the run is live")
        await self.hub.layer.group_send(
            control_group_name(self.run_code),
            {
                "type": "run.control",
                "op": "tile",
                "pfn": pfn,
                "count": count,
                **await self.hub.reply_address(self),
            },
        )

    async def op_seek(self, msg):
        seq = _number(msg, "seq", int, 0, U32)
        run = await Run.objects.aget(pk=self.access.run.pk)
        if run.status in ACTIVE:
            raise OpError("op", "seek works on finished runs; this one is live")
        await self.stop_streaming()
        self.outlet = Outlet(self._send_bytes, self._send_text, settings.FLOW_WINDOW)
        self.start_replay(run, seq)

    # Replies addressed to this socket, handed over by the hub ------------------------

    async def hub_reply(self, event):
        if event["type"] == "run.reply":
            await self.send(text_data=event["text"])
        elif event["type"] == "run.tile":
            await self.send(bytes_data=event["bytes"])

    # Replay ------------------------------------------------------------------------

    def start_replay(self, run, from_seq):
        self.replay = Replay(self, run, from_seq)
        self.replay.task = asyncio.get_running_loop().create_task(
            self.replay.play(), context=contextvars.Context()
        )

    async def stop_streaming(self):
        if getattr(self, "feed", None) is not None:
            await self.hub.leave(self.run_code, self.outlet)
            self.feed = None
        if getattr(self, "replay", None) is not None:
            self.replay.task.cancel()
            self.replay = None


class Replay:
    """Streams a run's stored frames to one socket, paced like the live run.

    A replay from position 0 sends exactly the bytes that were streamed live; a seek
    sends one keyframe built from the log at that position, then the stored frames.
    Flow control here waits for acks instead of dropping: nothing is lost by waiting.
    """

    def __init__(self, consumer, run, from_seq):
        self.consumer = consumer
        self.run = run
        self.from_seq = from_seq
        self.event = asyncio.Event()
        self.keyframe_requested = False
        self.viewer = Viewer()
        self.task = None

    def wake(self):
        self.event.set()

    async def wait_window(self, outlet):
        while outlet.stalled:
            self.event.clear()
            await self.event.wait()

    async def play(self):
        c = self.consumer
        outlet = c.outlet
        run = self.run
        interval = 1.0 / max(min(run.fps, settings.MAX_FPS), 0.1)
        loop = asyncio.get_running_loop()
        try:
            blocks = await self.block_ids()
            if not blocks:
                await c.send_json("replay_end", seq=None, status=run.status)
                return
            seeking = self.from_seq > 0
            t0 = loop.time()
            for block_pk in blocks:
                block = await FrameBlock.objects.aget(pk=block_pk)
                for frame in block.frames():
                    head = decode(frame)
                    self.viewer.apply(frame)
                    if seeking:
                        v = self.viewer
                        if v.pending is None and v.seq is not None and v.seq >= self.from_seq:
                            seeking = False
                            await self.send_current(outlet)
                        continue
                    if not (head.kind == KEYFRAME and head.offset > 0):
                        # A frame starts here (later keyframe chunks belong to it).
                        await self.wait_window(outlet)
                        t0 = loop.time()
                    await outlet.send_bytes(frame)
                    if self.viewer.pending is not None:
                        continue  # more chunks of this keyframe follow
                    outlet.in_flight.append(self.viewer.seq)
                    outlet.last_sent = self.viewer.seq
                    if self.keyframe_requested:
                        await self.send_current(outlet)
                    delay = t0 + interval - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
            if seeking and self.viewer.seq is not None:
                await self.send_current(outlet)
            await c.send_json("replay_end", seq=self.viewer.seq, status=run.status)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("replay of run %s failed", run.code)
            await c.send_error("subscribe", None, "replay failed")

    async def send_current(self, outlet):
        self.keyframe_requested = False
        v = self.viewer
        await self.wait_window(outlet)
        for frame in encode_keyframe(self.run.code.bytes, v.seq, v.grid, v.ppc, v.time_ns, True):
            await outlet.send_bytes(frame)
        outlet.in_flight.append(v.seq)
        outlet.last_sent = v.seq

    @database_sync_to_async
    def block_ids(self):
        # Start at the block holding from_seq: it begins with the keyframe we need.
        start = (
            FrameBlock.objects.filter(run=self.run, first_seq__lte=self.from_seq)
            .order_by("-first_seq")
            .values_list("first_seq", flat=True)
            .first()
        ) or 0
        return list(
            FrameBlock.objects.filter(run=self.run, first_seq__gte=start)
            .order_by("first_seq")
            .values_list("pk", flat=True)
        )


HANDLERS = {
    "subscribe": RunConsumer.op_subscribe,
    "ack": RunConsumer.op_ack,
    "ping": RunConsumer.op_ping,
    "keyframe": RunConsumer.op_keyframe,
    "tile": RunConsumer.op_tile,
    "seek": RunConsumer.op_seek,
    **{op: RunConsumer.op_control for op in CONTROL_OPS},
}
