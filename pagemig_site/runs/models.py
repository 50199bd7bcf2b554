import struct
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.urls import reverse
from django.utils.timezone import now

STATUSES = ["queued", "running", "paused", "succeeded", "failed", "cancelled", "interrupted"]
ACTIVE = ("queued", "running", "paused")
LIVE = ("running", "paused")
FINISHED = ("succeeded", "failed", "cancelled")
PROFILES = ["v4.8", "v6.18"]


class Run(models.Model):
    """One simulation: its inputs, where it is in its lifecycle and its final results.

    queued -> running <-> paused -> succeeded | failed | cancelled, and running/paused ->
    interrupted when its process dies (no heartbeat), -> queued again when resumed.
    """

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, null=True, blank=True, related_name="runs"
    )
    title = models.CharField(max_length=200, blank=True)
    scenario = models.JSONField()
    seed = models.BigIntegerField(default=1)
    profile = models.CharField(max_length=16, default="v6.18")
    engine_version = models.CharField(max_length=32)
    total_pages = models.BigIntegerField(default=0)
    is_example = models.BooleanField(default=False)
    copied_from = models.ForeignKey("self", models.SET_NULL, null=True, blank=True)

    status = models.CharField(
        max_length=16, choices=[(s, s) for s in STATUSES], default="queued", db_index=True
    )
    created = models.DateTimeField(default=now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)
    resumes = models.IntegerField(default=0)

    # Playback: frames are produced at `fps` at most, each one `ticks_per_frame` ticks.
    fps = models.FloatField(default=30)
    ticks_per_frame = models.IntegerField(default=1)
    cells = models.IntegerField(default=0)
    pages_per_cell = models.IntegerField(default=1)
    last_seq = models.BigIntegerField(default=-1)
    tick = models.BigIntegerField(default=0)
    time_ns = models.BigIntegerField(default=0)

    # Requests for a producer that may live in another process; it polls this with each
    # heartbeat, so a control message lost by the channel layer is still honoured.
    cancel_requested = models.BooleanField(default=False)
    pause_requested = models.BooleanField(default=False)

    counters = models.JSONField(default=dict, blank=True)
    reports = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self):
        return f"{self.title or 'run'} {self.code} ({self.status})"

    def get_absolute_url(self):
        return reverse("runs:detail", args=[self.code])

    @property
    def group(self):
        return group_name(self.code)

    @property
    def is_active(self):
        return self.status in ACTIVE

    def to_dict(self):
        return {
            "id": str(self.code),
            "title": self.title,
            "status": self.status,
            "scenario": self.scenario,
            "seed": self.seed,
            "profile": self.profile,
            "engine_version": self.engine_version,
            "total_pages": self.total_pages,
            "is_example": self.is_example,
            "created": self.created.isoformat(),
            "started": self.started.isoformat() if self.started else None,
            "finished": self.finished.isoformat() if self.finished else None,
            "heartbeat_at": self.heartbeat_at.isoformat() if self.heartbeat_at else None,
            "error": self.error,
            "fps": self.fps,
            "ticks_per_frame": self.ticks_per_frame,
            "cells": self.cells,
            "pages_per_cell": self.pages_per_cell,
            "last_seq": self.last_seq,
            "tick": self.tick,
            "time_ns": self.time_ns,
            "resumes": self.resumes,
            "worker": self.worker,
            "url": self.get_absolute_url(),
        }

    # Domain verbs. Each transition is one conditional UPDATE so that two processes
    # racing for the same run (two workers, a worker and the sweeper) cannot both win.

    def _transition(self, from_statuses, **fields):
        updated = Run.objects.filter(pk=self.pk, status__in=from_statuses).update(**fields)
        if updated:
            for name, value in fields.items():
                setattr(self, name, value)
        return bool(updated)

    def start(self, worker):
        """Claim a queued run for `worker`; False if someone else has it."""
        t = now()
        return self._transition(
            ["queued"],
            status="running",
            worker=worker[:100],
            started=self.started or t,
            heartbeat_at=t,
        )

    def heartbeat(self, **progress):
        """Record that the producer is alive; returns the pending control requests."""
        Run.objects.filter(pk=self.pk, status__in=LIVE).update(heartbeat_at=now(), **progress)
        row = (
            Run.objects.filter(pk=self.pk)
            .values("status", "cancel_requested", "pause_requested")
            .first()
        )
        return row or {"status": "cancelled", "cancel_requested": True}

    def pause(self):
        return self._transition(["running"], status="paused", pause_requested=False)

    def resume(self):
        return self._transition(["paused"], status="running", pause_requested=False)

    def finish(self, status, error=""):
        return self._transition(
            ["running", "paused"], status=status, error=error[:10000], finished=now()
        )

    def cancel(self):
        """Cancel now if nobody runs it, else ask the producer to stop at its next step."""
        if self._transition(["queued", "interrupted"], status="cancelled", finished=now()):
            return True
        return bool(Run.objects.filter(pk=self.pk, status__in=LIVE).update(cancel_requested=True))

    def requeue(self):
        """Put an interrupted run back in the queue; it resumes from its last snapshot."""
        if self._transition(["interrupted"], status="queued", worker=""):
            Run.objects.filter(pk=self.pk).update(resumes=models.F("resumes") + 1)
            return True
        return False

    @staticmethod
    def sweep_stale(timeout=None):
        """Mark live runs whose producer stopped sending heartbeats as interrupted."""
        timeout = settings.HEARTBEAT_TIMEOUT if timeout is None else timeout
        cutoff = now() - timedelta(seconds=timeout)
        stale = list(
            Run.objects.filter(status__in=LIVE, heartbeat_at__lt=cutoff).values_list(
                "pk", flat=True
            )
        )
        interrupted = []
        for pk in stale:
            # Re-check the heartbeat in the UPDATE: it may have arrived since the SELECT.
            if Run.objects.filter(pk=pk, status__in=LIVE, heartbeat_at__lt=cutoff).update(
                status="interrupted", error="The process running it stopped responding."
            ):
                interrupted.append(pk)
        return Run.objects.filter(pk__in=interrupted)


def group_name(code):
    return f"run-{code}"


def control_group_name(code):
    return f"run-{code}-ctl"


class FrameBlock(models.Model):
    """A keyframe and the deltas after it, exactly as they were streamed live.

    Replay reads these back byte for byte; seeking starts from the block holding the
    wanted position. `data` is a sequence of (u32 length, frame bytes).
    """

    run = models.ForeignKey(Run, models.CASCADE, related_name="blocks")
    first_seq = models.BigIntegerField()
    last_seq = models.BigIntegerField()
    first_time_ns = models.BigIntegerField(default=0)
    data = models.BinaryField()
    events = models.JSONField(default=list, blank=True)
    controls = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["first_seq"]
        constraints = [
            models.UniqueConstraint(fields=["run", "first_seq"], name="unique_block_start")
        ]

    def __str__(self):
        return f"{self.run_id}: {self.first_seq}..{self.last_seq}"

    def frames(self):
        data = bytes(self.data)
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack_from("<I", data, pos)
            yield data[pos + 4 : pos + 4 + length]
            pos += 4 + length

    @staticmethod
    def pack(frames):
        return b"".join(struct.pack("<I", len(f)) + f for f in frames)


class Snapshot(models.Model):
    """The engine's state after frame `seq`: where an interrupted run resumes."""

    run = models.OneToOneField(Run, models.CASCADE, related_name="snapshot")
    seq = models.BigIntegerField()
    ticks_per_frame = models.IntegerField(default=1)
    data = models.BinaryField()
    updated = models.DateTimeField(default=now)

    def __str__(self):
        return f"{self.run_id}@{self.seq}"


class MetricSample(models.Model):
    run = models.ForeignKey(Run, models.CASCADE, related_name="metrics")
    seq = models.BigIntegerField()
    tick = models.BigIntegerField()
    time_ns = models.BigIntegerField()
    data = models.JSONField()

    class Meta:
        ordering = ["seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="unique_metric_seq")]

    def __str__(self):
        return f"{self.run_id}@{self.seq}"


@transaction.atomic
def store_block(
    run,
    first_seq,
    last_seq,
    first_time_ns,
    frames,
    events,
    controls,
    metrics,
    snapshot=None,
    snapshot_seq=None,
    ticks_per_frame=1,
    progress=None,
):
    """Write one block of the log (and the snapshot after it) in one transaction, so a
    resumed run never sees a snapshot ahead of the frames it can replay."""
    # A resumed run regenerates the frames after its snapshot; replace any rows a dead
    # producer left for the same positions.
    FrameBlock.objects.filter(run=run, first_seq__gte=first_seq).delete()
    MetricSample.objects.filter(run=run, seq__gte=first_seq).delete()
    FrameBlock.objects.create(
        run=run,
        first_seq=first_seq,
        last_seq=last_seq,
        first_time_ns=first_time_ns,
        data=FrameBlock.pack(frames),
        events=events,
        controls=controls,
    )
    MetricSample.objects.bulk_create(
        [MetricSample(run=run, seq=s, tick=t, time_ns=ns, data=d) for s, t, ns, d in metrics]
    )
    if snapshot is not None:
        Snapshot.objects.update_or_create(
            run=run,
            defaults={
                "seq": snapshot_seq,
                "data": snapshot,
                "ticks_per_frame": ticks_per_frame,
                "updated": now(),
            },
        )
    if progress:
        Run.objects.filter(pk=run.pk).update(**progress)
