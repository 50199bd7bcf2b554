"""The run loop: one `drive(run_pk)` for both modes.

Embedded: an asyncio task on Daphne's event loop (see execution.py). Scaled out: a
django.tasks task that `manage.py db_worker` executes with one event loop for the
whole run. Either way the engine steps in a thread (asyncio.to_thread, never
sync_to_async, which would serialise with every ORM call), frames are published to the
run's group, stored for replay, and controls are read between steps.
"""

import asyncio
import contextvars
import json
import logging
import os
import socket
import time

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from pagemig_site.lib.protocol import DisplayGrid

from . import bus
from .models import Run, Snapshot, control_group_name, store_block

log = logging.getLogger(__name__)

METRICS_EVERY = 15  # frames; ~2 samples/s at 30 fps
MAX_EVENTS_PER_BLOCK = 500
# Trace events sent live with each metrics sample: the newest ones only, so a message
# stays far below the WebSocket payload limit.
LIVE_EVENTS_MAX = 150


def worker_name():
    return f"{socket.gethostname()}:{os.getpid()}"


def engine():
    import simulator

    return simulator


def run_metrics(sim):
    """The engine's metrics as plain JSON (numpy ints do not serialise)."""
    return json.loads(json.dumps(sim.metrics(), default=int))


class Producer:
    def __init__(self, run, layer, paced=True):
        self.run = run
        self.paced = paced
        self.layer = layer
        self.controls = asyncio.Queue()
        self.wake = asyncio.Event()
        self.paused = False
        self.cancelled = False
        self.abandoned = False
        self.step_once = False
        self.live_events = []  # trace events not yet sent to viewers
        self.fps = min(run.fps, settings.MAX_FPS)
        self.ticks_per_frame = run.ticks_per_frame
        self.seq = 0
        self.block = None
        self.applied_controls = []
        self.tick = 0
        self.time_ns = 0
        self.sim = None
        self.bus = bus.publisher(layer)

    # Publishing --------------------------------------------------------------------

    async def publish_frames(self, frames, keyframe, oob=False):
        await self.bus.publish(
            self.run.code,
            {
                "type": "run.frame",
                "run": str(self.run.code),
                "frames": frames,
                "seq": self.seq,
                "base": self.seq if keyframe else self.seq - 1,
                "key": keyframe,
                "oob": oob,
            },
        )

    async def publish_json(self, kind, **fields):
        text = json.dumps({"type": kind, "run": str(self.run.code), **fields})
        await self.bus.publish(
            self.run.code,
            {"type": "run.json", "run": str(self.run.code), "kind": kind, "text": text},
        )

    async def publish_status(self):
        await self.publish_json(
            "status",
            status=self.run.status,
            seq=self.seq,
            fps=self.fps,
            ticks_per_frame=self.ticks_per_frame,
            error=self.run.error,
        )

    async def reply(self, request, kind, **fields):
        """Answer the socket that sent a control (through its process's hub channel)."""
        reply_to = request.get("reply_to")
        if reply_to:
            text = json.dumps({"type": kind, **fields})
            await self.layer.send(
                reply_to, {"type": "run.reply", "socket": request.get("socket"), "text": text}
            )

    # Controls ----------------------------------------------------------------------

    async def listen(self, channel):
        while True:
            message = await self.layer.receive(channel)
            await self.controls.put(message)
            self.wake.set()

    async def apply_controls(self, sim, grid):
        while not self.controls.empty():
            message = self.controls.get_nowait()
            op = message.get("op")
            try:
                await self.apply_control(op, message, sim, grid)
            except Exception as exc:  # a bad control must never kill the run
                errors = getattr(exc, "errors", None)
                if errors:
                    fe = errors[0]
                    field, text = fe.field, fe.message
                else:
                    log.exception("control %s failed on run %s", op, self.run.code)
                    field, text = None, str(exc)
                try:
                    await self.reply(message, "error", op=op, field=field, message=text)
                except Exception:
                    log.exception("could not answer a control on run %s", self.run.code)

    async def apply_control(self, op, message, sim, grid):
        if op == "keyframe":
            await self.publish_frames(grid.keyframe(self.seq, self.time_ns, True), True, True)
        elif op == "page_info":
            # Read between steps, so the answer is the engine's state at frame self.seq.
            info = await asyncio.to_thread(sim.page_info, int(message["pfn"]))
            page = json.loads(json.dumps(info, default=str))
            await self.reply(message, "page_info", seq=self.seq, page=page)
        elif op == "report":
            text = await asyncio.to_thread(sim.report, message["name"])
            await self.reply(message, "report", seq=self.seq, name=message["name"], text=text)
        elif op == "tile":
            frame = grid.tile(self.seq, self.time_ns, message["pfn"], message["count"])
            reply_to = message.get("reply_to")
            if reply_to:
                await self.layer.send(
                    reply_to, {"type": "run.tile", "socket": message.get("socket"), "bytes": frame}
                )
        elif op == "pause":
            if not self.paused and await sync_to_async(self.run.pause)():
                self.paused = True
                await self.publish_status()
                if self.live_events:
                    await self.publish_json("events", seq=self.seq, events=self.live_events)
                    self.live_events = []
        elif op == "resume":
            if self.paused and await sync_to_async(self.run.resume)():
                self.paused = False
                await self.publish_status()
        elif op == "step":
            self.step_once = True
        elif op == "cancel":
            self.cancelled = True
        elif op == "speed":
            if message.get("fps") is not None:
                self.fps = max(0.1, min(float(message["fps"]), settings.MAX_FPS))
            if message.get("ticks_per_frame") is not None:
                self.ticks_per_frame = int(message["ticks_per_frame"])
                # Ticks per frame change what each frame contains, so the log records
                # it with the frame it applies from (a resumed run replays it).
                self.applied_controls.append(
                    {"seq": self.seq + 1, "op": "speed", "ticks_per_frame": self.ticks_per_frame}
                )
            await self.publish_status()
        elif op == "inject":
            params = dict(message.get("params") or {})
            driver = message["driver"]
            await asyncio.to_thread(sim.set_injection, driver, **params)
            self.applied_controls.append(
                {"seq": self.seq + 1, "op": "inject", "driver": driver, "params": params}
            )
            await self.publish_json("injection", driver=driver, params=params, seq=self.seq + 1)
        if op in ("pause", "resume", "step", "cancel", "speed", "inject"):
            await self.reply(message, "ok", op=op, seq=self.seq)

    # Heartbeat ---------------------------------------------------------------------

    async def heartbeat_loop(self):
        while True:
            await asyncio.sleep(settings.HEARTBEAT_INTERVAL)
            try:
                row = await sync_to_async(self.run.heartbeat)(
                    last_seq=self.seq, tick=self.tick, time_ns=self.time_ns
                )
            except Exception:
                # A database hiccup must not end the heartbeats (the sweeper would then
                # take the run away); try again next interval.
                log.exception("heartbeat of run %s failed", self.run.code)
                continue
            if row["status"] not in ("running", "paused"):
                # Someone decided this run is no longer ours (the sweeper marked it
                # interrupted, or it was cancelled): stop producing at once.
                self.abandoned = row["status"] != "cancelled"
                self.cancelled = True
                self.wake.set()
            if row["cancel_requested"]:
                self.cancelled = True
                self.wake.set()

    # The loop ----------------------------------------------------------------------

    async def flush(self, snapshot=None):
        b = self.block
        if b is None or not b["frames"]:
            return
        progress = {"last_seq": self.seq, "tick": self.tick, "time_ns": self.time_ns}
        await sync_to_async(store_block)(
            self.run,
            b["first_seq"],
            self.seq,
            b["first_time_ns"],
            b["frames"],
            b["events"],
            self.applied_controls,
            b["metrics"],
            snapshot=snapshot,
            snapshot_seq=self.seq,
            ticks_per_frame=self.ticks_per_frame,
            progress=progress,
        )
        self.applied_controls = []
        self.block = None

    def new_block(self, frames):
        self.block = {
            "first_seq": self.seq,
            "first_time_ns": self.time_ns,
            "frames": list(frames),
            "events": [],
            "metrics": [],
        }

    async def run_loop(self):
        sim_mod = engine()
        run = self.run
        snap = await Snapshot.objects.filter(run=run).afirst()
        if snap is not None:
            sim = await asyncio.to_thread(sim_mod.Simulation.restore, bytes(snap.data))
            self.seq = snap.seq
            self.ticks_per_frame = snap.ticks_per_frame
        else:
            scenario = sim_mod.Scenario.from_dict(run.scenario)
            sim = await asyncio.to_thread(sim_mod.Simulation, scenario, run.seed, run.profile)
        self.sim = sim
        self.tick = int(getattr(sim, "tick_count", 0))
        self.time_ns = int(sim.time_ns)
        grid = await asyncio.to_thread(
            DisplayGrid, run.code, sim.display_states(), settings.DISPLAY_MAX_CELLS
        )
        await Run.objects.filter(pk=run.pk).aupdate(cells=grid.cells, pages_per_cell=grid.ppc)
        run.cells, run.pages_per_cell = grid.cells, grid.ppc
        await self.publish_status()

        every = settings.KEYFRAME_EVERY
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        if snap is None:
            frames = grid.keyframe(0, 0)
            self.new_block(frames)
            await self.publish_frames(frames, True)
        else:
            self.block = None

        while True:
            await self.apply_controls(sim, grid)
            if self.cancelled:
                return "cancelled"
            if self.paused and not self.step_once:
                self.wake.clear()
                await self.wake.wait()
                continue
            self.step_once = False
            if self.seq + 1 >= settings.MAX_FRAMES_PER_RUN:
                return "frame limit"
            if time.monotonic() - started > settings.RUN_WALL_CLOCK_LIMIT:
                return "time limit"

            t0 = loop.time()
            next_seq = self.seq + 1
            if next_seq % every == 0 and self.block is not None:
                # Close the block with a snapshot of the state after its last frame: a
                # run interrupted later resumes from here with identical results.
                snapshot = await asyncio.to_thread(sim.snapshot)
                await self.flush(snapshot)
            res = await asyncio.to_thread(sim.step, self.ticks_per_frame)
            self.seq = next_seq
            self.tick, self.time_ns = int(res.tick), int(res.time_ns)
            cells, values = grid.apply(res.pfns, res.states)
            if self.seq % every == 0 or self.block is None:
                frames = grid.keyframe(self.seq, self.time_ns)
                await self.flush()
                self.new_block(frames)
                await self.publish_frames(frames, True)
            else:
                frame = grid.delta(self.seq, self.seq - 1, self.time_ns, cells, values)
                self.block["frames"].append(frame)
                await self.publish_frames([frame], False)
            if res.events and len(self.block["events"]) < MAX_EVENTS_PER_BLOCK:
                room = MAX_EVENTS_PER_BLOCK - len(self.block["events"])
                events = json.loads(json.dumps(res.events[:room], default=str))
                for e in events:
                    e["seq"] = self.seq
                self.block["events"].extend(events)
                # The dashboard's trace log shows them live, not only once stored.
                self.live_events = (self.live_events + events)[-LIVE_EVENTS_MAX:]
            if self.seq % METRICS_EVERY == 0 or res.done:
                metrics = await asyncio.to_thread(run_metrics, sim)
                self.block["metrics"].append((self.seq, self.tick, self.time_ns, metrics))
                await self.publish_json(
                    "metrics", seq=self.seq, tick=self.tick, time_ns=self.time_ns, metrics=metrics
                )
            if self.live_events and (self.seq % METRICS_EVERY == 0 or res.done or self.paused):
                await self.publish_json("events", seq=self.seq, events=self.live_events)
                self.live_events = []
            if res.done:
                return None
            # Pace to the frame rate; a slow step simply lowers the rate.
            delay = t0 + 1.0 / self.fps - loop.time()
            if delay > 0 and self.paced:
                try:
                    await asyncio.wait_for(self.wake.wait(), delay)
                except TimeoutError:
                    pass
                self.wake.clear()

    async def finish(self, outcome):
        if self.abandoned:
            # Another process may already be resuming this run from its snapshot; what
            # this one produced since then is not ours to store.
            return
        sim = self.sim
        await self.flush()
        run = self.run
        if outcome == "cancelled":
            status, error = "cancelled", ""
        elif outcome is None:
            status, error = "succeeded", ""
        else:
            status, error = "failed", f"Stopped at the {outcome} of this site."
        if sim is not None and status == "succeeded":
            counters = await asyncio.to_thread(
                lambda: json.loads(json.dumps(sim.counters(), default=int))
            )
            reports = {}
            for name in ("buddyinfo", "pagetypeinfo", "vmstat", "extfrag", "unusable", "trace"):
                try:
                    reports[name] = await asyncio.to_thread(sim.report, name)
                except Exception as exc:  # one missing report must not fail the run
                    reports[name] = f"(unavailable: {exc})"
            await Run.objects.filter(pk=run.pk).aupdate(counters=counters, reports=reports)
        await sync_to_async(run.finish)(status, error)
        await Run.objects.filter(pk=run.pk).aupdate(
            last_seq=self.seq, tick=self.tick, time_ns=self.time_ns
        )
        await self.publish_status()


async def drive(run_pk, worker=None, paced=True):
    """Claim run `run_pk` and produce it to the end; returns the final status."""
    layer = get_channel_layer()
    run = await Run.objects.filter(pk=run_pk).afirst()
    if run is None:
        return None
    if not await sync_to_async(run.start)(worker or worker_name()):
        return run.status  # another process has it, or it was cancelled meanwhile
    producer = Producer(run, layer, paced)
    control = await layer.new_channel()
    await layer.group_add(control_group_name(run.code), control)
    # Fresh contexts: these tasks must not inherit (and pin) the caller's context.
    listener = asyncio.get_running_loop().create_task(
        producer.listen(control), context=contextvars.Context()
    )
    heart = asyncio.get_running_loop().create_task(
        producer.heartbeat_loop(), context=contextvars.Context()
    )
    outcome = "error"
    try:
        outcome = await producer.run_loop()
        await producer.finish(outcome)
    except Exception as exc:
        log.exception("run %s failed", run.code)
        try:
            if not producer.abandoned:
                await producer.flush()
        except Exception:
            log.exception("could not store the last frames of run %s", run.code)
        errors = getattr(exc, "errors", None)
        message = "; ".join(f"{e.field}: {e.message}" for e in errors) if errors else repr(exc)
        await sync_to_async(run.finish)("failed", message)
        await producer.publish_status()
    finally:
        listener.cancel()
        heart.cancel()
        await producer.bus.close()
        await layer.group_discard(control_group_name(run.code), control)
    await run.arefresh_from_db()
    return run.status
