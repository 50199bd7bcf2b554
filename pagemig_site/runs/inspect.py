"""What the engine holds at one frame of a run: page details and /proc-style reports.

A live run answers through its producer (a `run.control` request with `reply_to`, like
every other control), so the answer is the engine's own state at its current frame, in
whichever process runs it. A finished run has no engine any more: the state at frame
`seq` is rebuilt deterministically (same scenario, seed and profile, the recorded
controls applied at the frames they were applied live), starting from the run's
snapshot when it is not past `seq`. The last rebuilt engines are kept, so hovering page
after page of the same frame costs one rebuild.
"""

import asyncio
import json
import threading
from collections import OrderedDict

from channels.layers import get_channel_layer

from .models import LIVE, Snapshot, control_group_name

ASK_TIMEOUT = 5.0
MAX_REBUILD_FRAMES = 20_000
CACHE_SIZE = 2

_cache = OrderedDict()  # run code -> (seq, sim)
_lock = threading.Lock()


class InspectError(Exception):
    def __init__(self, status, message, field=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def plain(value):
    """The engine's answer as plain JSON (numpy scalars and arrays do not serialise)."""
    return json.loads(
        json.dumps(value, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
    )


async def ask_producer(run, op, **fields):
    """Send a control to the run's producer and wait for its reply (a dict)."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_send(
        control_group_name(run.code),
        {"type": "run.control", "op": op, "reply_to": channel, **fields},
    )
    try:
        while True:
            message = await asyncio.wait_for(layer.receive(channel), ASK_TIMEOUT)
            if message.get("type") != "run.reply":
                continue
            reply = json.loads(message["text"])
            if reply.get("type") == "error":
                raise InspectError(400, reply.get("message", "refused"), reply.get("field"))
            if reply.get("type") == op:
                return reply
    except TimeoutError:
        raise InspectError(504, "the run's engine did not answer in time") from None


def _controls_by_seq(run):
    out = {}
    for block in run.blocks.order_by("first_seq").only("controls"):
        for c in block.controls:
            out.setdefault(c["seq"], []).append(c)
    return out


def _apply_control(sim, c, state):
    if c["op"] == "inject":
        sim.set_injection(c["driver"], **c.get("params", {}))
    elif c["op"] == "speed" and c.get("ticks_per_frame"):
        state["ticks"] = int(c["ticks_per_frame"])


def rebuild(run, seq):
    """The engine of a finished run as it was after frame `seq` (sync; runs in a thread)."""
    import simulator

    # A live run's last_seq in the database trails its producer by a heartbeat.
    if seq < 0 or (run.status not in LIVE and seq > max(run.last_seq, 0)):
        raise InspectError(400, f"seq must be from 0 to {max(run.last_seq, 0)}", "seq")
    key = str(run.code)
    with _lock:
        cached = _cache.get(key)
        if cached and cached[0] == seq:
            _cache.move_to_end(key)
            return cached[1]
    controls = _controls_by_seq(run)
    state = {"ticks": run.ticks_per_frame}
    sim, at = None, 0
    if cached and cached[0] <= seq:
        # Continue the cached engine forward; a copy, so the cached one stays as it was.
        sim = simulator.Simulation.restore(cached[1].snapshot())
        at, state["ticks"] = cached[0], cached[2] if len(cached) > 2 else state["ticks"]
    snap = Snapshot.objects.filter(run=run).first()
    if snap is not None and snap.seq <= seq and snap.seq > at:
        sim = simulator.Simulation.restore(bytes(snap.data))
        at, state["ticks"] = snap.seq, snap.ticks_per_frame
    if sim is None:
        sim = simulator.Simulation(
            simulator.Scenario.from_dict(run.scenario), seed=run.seed, profile=run.profile
        )
        at = 0
        # Controls recorded for frame 0 (before any step) are part of the start.
        for c in controls.get(0, []):
            _apply_control(sim, c, state)
    if seq - at > MAX_REBUILD_FRAMES:
        raise InspectError(
            409, f"frame {seq} is {seq - at} frames from the nearest snapshot; too far", "seq"
        )
    for k in range(at + 1, seq + 1):
        for c in controls.get(k, []):
            _apply_control(sim, c, state)
        sim.step(state["ticks"])
    with _lock:
        _cache[key] = (seq, sim, state["ticks"])
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return sim


async def page_info(run, pfn, seq=None):
    if not (0 <= pfn < run.total_pages):
        raise InspectError(400, f"pfn must be from 0 to {run.total_pages - 1}", "pfn")
    if run.status in LIVE and seq is None:
        reply = await ask_producer(run, "page_info", pfn=pfn)
        return {"seq": reply["seq"], "live": True, "page": reply["page"]}
    if run.status in LIVE:
        reply = await ask_producer(run, "page_info", pfn=pfn)
        if reply["seq"] == seq:
            return {"seq": seq, "live": True, "page": reply["page"]}
    seq = run.last_seq if seq is None else seq
    sim = await asyncio.to_thread(rebuild, run, seq)
    info = await asyncio.to_thread(sim.page_info, pfn)
    return {"seq": seq, "live": False, "page": plain(info)}


async def report(run, name, seq=None):
    if run.status in LIVE:
        reply = await ask_producer(run, "report", name=name)
        if seq is None or reply["seq"] == seq:
            return reply["seq"], reply["text"]
    seq = run.last_seq if seq is None else seq
    if seq == run.last_seq and name in (run.reports or {}):
        return seq, run.reports[name]
    sim = await asyncio.to_thread(rebuild, run, seq)
    return seq, await asyncio.to_thread(sim.report, name)
