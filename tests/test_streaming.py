"""End to end on the embedded default: real runs, in-process on the test's event loop."""

import asyncio
import json

import numpy as np
import pytest
from channels.testing import WebsocketCommunicator
from django.test import AsyncClient

import simulator
from pagemig_site.asgi import application
from pagemig_site.lib.protocol import FLAG_OUT_OF_BAND, KEYFRAME, Viewer, decode
from pagemig_site.runs import execution
from pagemig_site.runs.models import FINISHED, Run
from tests.helpers import ws_headers

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def roomy_window(settings):
    # These tests check content; a generous window keeps a busy CI machine from
    # dropping frames (test_fanout covers drops and healing).
    settings.FLOW_WINDOW = 64


async def start(user, **body):
    client = AsyncClient()
    await client.aforce_login(user)
    r = await client.post("/api/v1/runs/", json.dumps(body), content_type="application/json")
    assert r.status_code == 201, r.content
    cookie = (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())
    return r.json(), cookie, client


async def subscribe(code, cookie, **op):
    comm = WebsocketCommunicator(application, f"/ws/runs/{code}/", headers=ws_headers(cookie))
    assert (await comm.connect(timeout=5))[0]
    assert json.loads(await comm.receive_from())["type"] == "hello"
    await comm.send_to(text_data=json.dumps({"op": "subscribe", **op}))
    return comm


async def collect(comm, until, viewer=None, timeout=30, ack=True):
    """Receive frames (acking each) and JSON until until(json) is true."""
    frames, messages = [], []
    viewer = viewer or Viewer()
    while True:
        out = await comm.receive_output(timeout)
        if out.get("type") == "websocket.close":
            raise AssertionError(f"socket closed: {out}")
        if out.get("bytes") is not None:
            frames.append(out["bytes"])
            viewer.apply(out["bytes"])
            f = decode(out["bytes"])
            if ack and not (f.kind == KEYFRAME and not f.flags & 1):
                await comm.send_to(text_data=json.dumps({"op": "ack", "seq": f.seq}))
        else:
            msg = json.loads(out["text"])
            messages.append(msg)
            if until(msg):
                return frames, messages, viewer


def finished(msg):
    return msg.get("type") == "status" and msg.get("status") in FINISHED


def offline_final_states(run, inject_after=None, inject=None):
    """The engine's own final state for the same scenario, seed and profile."""
    sc = simulator.Scenario.from_dict(run["scenario"])
    sim = simulator.Simulation(sc, seed=run["seed"], profile=run["profile"])
    steps = 0
    while not sim.done:
        if inject_after is not None and steps == inject_after:
            sim.set_injection(inject[0], **inject[1])
        sim.step(1)
        steps += 1
    return sim.display_states(), steps


def log_frames(frames):
    return [f for f in frames if not decode(f).flags & FLAG_OUT_OF_BAND]


async def test_streamed_frames_rebuild_the_engines_final_state_and_the_replay_is_identical(
    teacher,
):
    run, cookie, _ = await start(teacher, preset="unmovable_pollution", seed=7)
    live = await subscribe(run["id"], cookie)
    frames, messages, viewer = await collect(live, finished)
    assert messages[-1]["status"] == "succeeded"
    expected, steps = offline_final_states(run)
    assert viewer.seq == steps
    assert np.array_equal(viewer.grid, expected)
    assert any(m["type"] == "metrics" for m in messages)
    await live.disconnect()

    # The replay from 0 sends the stored log; every frame the live socket got from the
    # log is in it, byte for byte, and the replay rebuilds the same final state.
    replay = await subscribe(run["id"], cookie)
    r_frames, r_messages, r_viewer = await collect(replay, lambda m: m["type"] == "replay_end")
    assert r_messages[0] == {
        "type": "subscribed",
        "mode": "replay",
        "status": "succeeded",
        "seq": steps,
    }
    assert r_viewer.seq == steps and np.array_equal(r_viewer.grid, expected)
    by_seq = {}
    for f in r_frames:
        by_seq.setdefault(decode(f).seq, []).append(f)
    live_log = log_frames(frames)
    assert len(live_log) >= steps * 0.9  # nearly all of it arrived as streamed
    for f in live_log:
        assert f in by_seq[decode(f).seq]
    assert sum(len(v) for v in by_seq.values()) == len(r_frames)
    await replay.disconnect()


async def test_seek_starts_the_replay_with_a_keyframe_at_that_position(teacher):
    run, cookie, _ = await start(teacher, preset="lru_only", seed=2, fps=30)
    live = await subscribe(run["id"], cookie)
    await collect(live, finished)
    await live.disconnect()
    comm = await subscribe(run["id"], cookie, from_seq=25)
    frames, _, viewer = await collect(comm, lambda m: m["type"] == "replay_end")
    first = decode(frames[0])
    assert first.kind == KEYFRAME and first.seq == 25 and first.flags & FLAG_OUT_OF_BAND
    # Continuing from there reaches the same end as the engine.
    expected, _ = offline_final_states(run)
    assert np.array_equal(viewer.grid, expected)
    await comm.disconnect()


async def test_live_injection_changes_the_engine_from_the_next_step(teacher):
    run, cookie, _ = await start(teacher, preset="zsmalloc_eagain_storm", seed=1, fps=10)
    comm = await subscribe(run["id"], cookie)
    await comm.send_to(text_data=json.dumps({"op": "pause"}))
    frames, messages, viewer = await collect(
        comm, lambda m: m["type"] == "ok" and m["op"] == "pause"
    )
    knobs = {"probability": 1.0, "errno": "EAGAIN"}
    await comm.send_to(
        text_data=json.dumps({"op": "inject", "driver": "zsmalloc", "params": knobs})
    )
    _, messages, _ = await collect(comm, lambda m: m["type"] in ("ok", "error"), viewer)
    assert messages[-1]["type"] == "ok", messages[-1]
    injected_after = messages[-1]["seq"]
    assert any(m["type"] == "injection" for m in messages)
    await comm.send_to(text_data=json.dumps({"op": "speed", "fps": 30}))
    await comm.send_to(text_data=json.dumps({"op": "resume"}))
    await collect(comm, finished, viewer)

    with_injection, _ = offline_final_states(run, injected_after, ("zsmalloc", knobs))
    without, _ = offline_final_states(run)
    assert np.array_equal(viewer.grid, with_injection)
    assert not np.array_equal(viewer.grid, without)
    await comm.disconnect()


async def test_bad_injection_gets_the_engines_field_error_and_the_run_goes_on(teacher):
    run, cookie, _ = await start(teacher, preset="zsmalloc_eagain_storm", seed=1, fps=10)
    comm = await subscribe(run["id"], cookie)
    await comm.send_to(
        text_data=json.dumps({"op": "inject", "driver": "zsmalloc", "params": {"probability": 500}})
    )
    _, messages, _ = await collect(comm, lambda m: m["type"] == "error")
    assert messages[-1]["field"] == "injection.probability"
    await comm.send_to(text_data=json.dumps({"op": "inject", "driver": "nope"}))
    _, messages, _ = await collect(comm, lambda m: m["type"] == "error")
    assert messages[-1]["field"] == "driver" and "zsmalloc" in messages[-1]["message"]
    await comm.send_to(text_data=json.dumps({"op": "speed", "fps": 30}))
    _, messages, _ = await collect(comm, finished)
    assert messages[-1]["status"] == "succeeded"
    await comm.disconnect()


async def test_pause_step_resume_and_cancel_over_the_socket(teacher):
    run, cookie, _ = await start(teacher, preset="direct_compaction", seed=1, fps=10)
    comm = await subscribe(run["id"], cookie)
    await comm.send_to(text_data=json.dumps({"op": "pause"}))
    _, _, viewer = await collect(comm, lambda m: m["type"] == "status" and m["status"] == "paused")
    assert (await Run.objects.aget(code=run["id"])).status == "paused"
    await asyncio.sleep(0.3)
    await comm.send_to(text_data=json.dumps({"op": "ping"}))
    await collect(comm, lambda m: m["type"] == "pong", viewer)
    paused_at = viewer.seq
    await comm.send_to(text_data=json.dumps({"op": "step"}))
    await collect(comm, lambda m: m["type"] == "ok" and m["op"] == "step", viewer)
    await asyncio.sleep(0.3)
    await comm.send_to(text_data=json.dumps({"op": "ping"}))
    await collect(comm, lambda m: m["type"] == "pong", viewer)
    assert viewer.seq == paused_at + 1
    await comm.send_to(text_data=json.dumps({"op": "resume"}))
    await collect(comm, lambda m: m["type"] == "status" and m["status"] == "running", viewer)
    await comm.send_to(text_data=json.dumps({"op": "cancel"}))
    _, messages, _ = await collect(comm, finished, viewer)
    assert messages[-1]["status"] == "cancelled"
    assert (await Run.objects.aget(code=run["id"])).status == "cancelled"
    await comm.disconnect()


async def test_reconnecting_mid_run_resumes_from_a_keyframe(teacher):
    run, cookie, _ = await start(teacher, preset="direct_compaction", seed=1, fps=30)
    comm = await subscribe(run["id"], cookie)
    _, _, viewer = await collect(comm, lambda m: m["type"] == "metrics")
    seen = viewer.seq
    await comm.disconnect()
    await asyncio.sleep(0.5)
    comm = await subscribe(run["id"], cookie)
    viewer2 = Viewer()
    out = await comm.receive_output(5)
    while out.get("bytes") is None:
        out = await comm.receive_output(5)
    first = decode(out["bytes"])
    viewer2.apply(out["bytes"])
    assert first.kind == KEYFRAME and first.seq > seen
    await comm.send_to(text_data=json.dumps({"op": "ack", "seq": first.seq}))
    _, messages, viewer2 = await collect(comm, finished, viewer2)
    expected, _ = offline_final_states(run)
    assert np.array_equal(viewer2.grid, expected)
    await comm.disconnect()


async def test_runs_beyond_the_concurrency_cap_queue_and_start_when_a_slot_frees(teacher, settings):
    settings.MAX_CONCURRENT_RUNS = 1
    a, cookie, client = await start(teacher, preset="buggy_driver", seed=1)
    b, _, _ = await start(teacher, preset="buggy_driver", seed=2)
    assert a["status"] == "running" or a["status"] == "queued"
    assert (await Run.objects.aget(code=b["id"])).status == "queued"
    await execution.wait_all(timeout=30)
    await asyncio.sleep(0.2)
    await execution.wait_all(timeout=30)
    assert (await Run.objects.aget(code=a["id"])).status == "succeeded"
    assert (await Run.objects.aget(code=b["id"])).status == "succeeded"


async def test_large_runs_stream_an_aggregated_grid_with_full_resolution_tiles(teacher, settings):
    settings.DISPLAY_MAX_CELLS = 4096  # lru_only has 16384 pages: 4 pages per cell
    run, cookie, _ = await start(teacher, preset="lru_only", seed=1, fps=10)
    comm = await subscribe(run["id"], cookie)
    await comm.send_to(text_data=json.dumps({"op": "pause"}))
    _, messages, viewer = await collect(comm, lambda m: m["type"] == "ok" and m["op"] == "pause")
    paused_at = messages[-1]["seq"]
    await comm.send_to(text_data=json.dumps({"op": "tile", "pfn": 1000, "count": 3000}))
    out = await comm.receive_output(10)
    while out.get("bytes") is None or decode(out["bytes"]).kind != 3:
        out = await comm.receive_output(10)
    tile = decode(out["bytes"])
    sc = simulator.Scenario.from_dict(run["scenario"])
    sim = simulator.Simulation(sc, seed=run["seed"], profile=run["profile"])
    for _ in range(paused_at):
        sim.step(1)
    assert tile.offset == 1000 and tile.count == 3000 and tile.pages_per_cell == 4
    assert np.array_equal(tile.states, sim.display_states()[1000:4000])

    await comm.send_to(text_data=json.dumps({"op": "speed", "fps": 30}))
    await comm.send_to(text_data=json.dumps({"op": "resume"}))
    _, _, viewer = await collect(comm, finished, viewer)
    expected, _ = offline_final_states(run)
    from pagemig_site.lib.protocol import RANK, UNRANK

    aggregated = UNRANK[RANK[expected.reshape(4096, 4)].max(axis=1)]
    assert viewer.ppc == 4 and np.array_equal(viewer.grid, aggregated)
    await comm.disconnect()


async def test_a_stalled_viewer_costs_a_window_and_heals_while_another_gets_every_frame(
    teacher, settings
):
    settings.FLOW_WINDOW = 4
    run, cookie, _ = await start(teacher, preset="unmovable_pollution", seed=3)
    fast = await subscribe(run["id"], cookie)
    slow = await subscribe(run["id"], cookie)
    fast_task = asyncio.create_task(collect(fast, finished))
    # The slow viewer reads nothing for a while (its socket buffers what was sent).
    await asyncio.sleep(3)
    frames, messages, fast_viewer = await fast_task
    expected, steps = offline_final_states(run)
    assert fast_viewer.seq == steps and fast_viewer.skipped == 0
    assert np.array_equal(fast_viewer.grid, expected)
    # While stalled it was sent at most a window of frames (plus the chunks of the
    # keyframe it started from), whatever the run produced meanwhile.
    stalled = []
    while not await slow.receive_nothing(0.2):
        out = await slow.receive_output()
        if out.get("bytes") is not None:
            stalled.append(decode(out["bytes"]))
    assert 1 <= len({f.seq for f in stalled}) <= 4 < steps
    # Acking heals it with a keyframe of the current (final) state.
    slow_viewer = Viewer()
    await slow.send_to(text_data=json.dumps({"op": "ack", "seq": stalled[-1].seq}))
    out = await slow.receive_output(5)
    while out.get("bytes") is None:
        out = await slow.receive_output(5)
    healed = decode(out["bytes"])
    slow_viewer.apply(out["bytes"])
    assert healed.kind == KEYFRAME and healed.flags & FLAG_OUT_OF_BAND and healed.seq == steps
    assert np.array_equal(slow_viewer.grid, expected)
    await fast.disconnect()
    await slow.disconnect()


async def test_a_share_link_replays_the_run_read_only(teacher):
    from pagemig_site.sharing.models import ShareLink

    run, cookie, _ = await start(teacher, preset="buggy_driver", seed=4)
    live = await subscribe(run["id"], cookie)
    await collect(live, finished)
    await live.disconnect()
    row = await Run.objects.aget(code=run["id"])
    link = await ShareLink.objects.acreate(
        run=row,
        created_by=teacher,
        scenario=row.scenario,
        seed=row.seed,
        profile=row.profile,
        engine_version=row.engine_version,
    )
    comm = WebsocketCommunicator(application, f"/ws/share/{link.token}/", headers=ws_headers())
    assert (await comm.connect(timeout=5))[0]
    assert json.loads(await comm.receive_from())["can_control"] is False
    await comm.send_to(text_data=json.dumps({"op": "subscribe"}))
    _, _, viewer = await collect(comm, lambda m: m["type"] == "replay_end")
    expected, steps = offline_final_states(run)
    assert viewer.seq == steps and np.array_equal(viewer.grid, expected)
    await comm.send_to(text_data=json.dumps({"op": "cancel"}))
    err = json.loads(await comm.receive_from())
    assert err["type"] == "error" and "read-only" in err["message"]
    await comm.disconnect()
