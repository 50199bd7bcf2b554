"""Run lifecycle: transitions, heartbeats, stale-run sweep and resume from a snapshot."""

import asyncio
from datetime import timedelta

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from django.utils.timezone import now

import simulator
from pagemig_site.lib.protocol import Viewer
from pagemig_site.runs import execution
from pagemig_site.runs.models import FrameBlock, Run, Snapshot
from pagemig_site.runs.runner import drive
from tests.helpers import make_run


@pytest.mark.django_db
def test_a_run_is_claimed_once(teacher):
    run = make_run(teacher, status="queued")
    assert run.start("w1")
    assert not Run.objects.get(pk=run.pk).start("w2")
    assert Run.objects.get(pk=run.pk).worker == "w1"


@pytest.mark.django_db
def test_pause_resume_and_finish_follow_the_lifecycle(teacher):
    run = make_run(teacher, status="queued")
    assert not run.pause()  # only running runs pause
    run.start("w")
    assert run.pause() and run.status == "paused"
    assert run.resume() and run.status == "running"
    assert run.finish("succeeded") and run.status == "succeeded"
    assert not run.finish("failed")


@pytest.mark.django_db
def test_the_sweep_interrupts_only_runs_without_a_recent_heartbeat(teacher):
    stale = make_run(teacher, status="running", heartbeat_at=now() - timedelta(seconds=60))
    fresh = make_run(teacher, status="running", heartbeat_at=now())
    paused = make_run(teacher, status="paused", heartbeat_at=now() - timedelta(seconds=60))
    done = make_run(teacher, status="succeeded", heartbeat_at=now() - timedelta(seconds=60))
    swept = set(Run.sweep_stale(timeout=10).values_list("pk", flat=True))
    assert swept == {stale.pk, paused.pk}
    assert Run.objects.get(pk=fresh.pk).status == "running"
    assert Run.objects.get(pk=done.pk).status == "succeeded"
    assert Run.objects.get(pk=stale.pk).requeue()
    assert Run.objects.get(pk=stale.pk).status == "queued"


@pytest.mark.django_db
def test_heartbeat_returns_pending_requests(teacher):
    run = make_run(teacher, status="running")
    assert run.cancel()  # live: asks the producer
    assert run.heartbeat()["cancel_requested"] is True


@pytest.mark.django_db
def test_a_restarted_embedded_site_interrupts_and_requeues_live_runs(teacher, settings):
    settings.AUTO_RESUME = True
    run = make_run(teacher, status="running", heartbeat_at=now())
    execution.recover_after_restart()
    run.refresh_from_db()
    assert run.status == "queued" and run.resumes == 1


@pytest.mark.django_db(transaction=True)
async def test_a_run_killed_mid_way_resumes_from_its_snapshot_to_the_same_end(teacher, settings):
    settings.KEYFRAME_EVERY = 20
    settings.HEARTBEAT_INTERVAL = 0.2
    sc = simulator.Scenario.from_dict(simulator.PRESETS["direct_compaction"])
    run = await Run.objects.acreate(
        owner=teacher,
        scenario=sc.to_dict(),
        seed=5,
        profile=sc.data["profile"],
        fps=200,
        engine_version=simulator.ENGINE_VERSION,
        total_pages=sc.total_pages,
    )
    task = asyncio.create_task(drive(run.pk))
    while not await Snapshot.objects.filter(run=run, seq__gte=60).aexists():
        await asyncio.sleep(0.02)
    # The process "dies": no finally clean-up of the run's status, no more heartbeats.
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.1)
    swept = await sync_to_async(lambda: list(Run.sweep_stale(timeout=0)))()
    assert [r.pk for r in swept] == [run.pk]
    await run.arefresh_from_db()
    assert run.status == "interrupted"
    assert await sync_to_async(run.requeue)()
    assert await drive(run.pk) == "succeeded"

    sim = simulator.Simulation(sc, seed=5, profile=sc.data["profile"])
    steps = 0
    while not sim.done:
        sim.step(1)
        steps += 1
    await run.arefresh_from_db()
    assert run.last_seq == steps and run.reports["vmstat"] == sim.report("vmstat")
    viewer = Viewer()
    async for block in FrameBlock.objects.filter(run=run).order_by("first_seq"):
        for frame in block.frames():
            viewer.apply(frame)
    assert viewer.skipped == 0 and viewer.seq == steps
    assert np.array_equal(viewer.grid, sim.display_states())
