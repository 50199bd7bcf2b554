"""Scaled out, for real: Postgres, Redis, two Daphne processes, two db_worker processes.

Every process is started here on free ports and killed by pid at the end; the whole
test is bounded in time. Nothing of the test database is used: the processes share a
fresh Postgres database of their own.
"""

import asyncio
import http.cookiejar
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import psycopg
import pytest
from websockets.asyncio.client import connect

import simulator
from pagemig_site.lib.protocol import KEYFRAME, Viewer, decode

ROOT = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432"
HEARTBEAT_TIMEOUT = 3.0

pytestmark = [pytest.mark.scaled, pytest.mark.slow, pytest.mark.timeout(240)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, f"process {proc.args} exited"
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"port {port} never opened")


class Http:
    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def cookie(self, name):
        return next((c.value for c in self.jar if c.name == name), None)

    def request(self, method, path, form=None, body=None):
        headers = {"X-CSRFToken": self.cookie("csrftoken") or ""}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            form = {**form, "csrfmiddlewaretoken": self.cookie("csrftoken") or ""}
            data = urllib.parse.urlencode(form).encode()
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with self.opener.open(req, timeout=20) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def json(self, method, path, body=None):
        status, content = self.request(method, path, body=body)
        return status, json.loads(content) if content[:1] in (b"{", b"[") else content


@pytest.fixture
def cluster(tmp_path):
    db = f"pagemig_scaled_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    prefix = f"pmtest{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAGEMIG_", "DJANGO_"))}
    env.update(
        DATABASE_URL=f"{PG}/{db}",
        REDIS_URL="redis://127.0.0.1:6379/0",
        PAGEMIG_REDIS_PREFIX=prefix,
        PAGEMIG_DATA_DIR=str(tmp_path),
        PAGEMIG_HEARTBEAT_INTERVAL="0.5",
        PAGEMIG_HEARTBEAT_TIMEOUT=str(HEARTBEAT_TIMEOUT),
        PAGEMIG_MAX_FPS="60",
        PAGEMIG_KEYFRAME_EVERY="30",
        PAGEMIG_FLOW_WINDOW="64",
        PAGEMIG_LOCAL_USER="False",
        PYTHONUNBUFFERED="1",
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120
    )
    procs = {}

    def start(name, *args):
        log = open(tmp_path / f"{name}.log", "w")
        procs[name] = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return procs[name]

    ports = [free_port(), free_port()]
    for i, port in enumerate(ports):
        start(f"daphne{i}", "serve", "--port", str(port))
    for i in range(2):
        start(
            f"worker{i}",
            "db_worker",
            "--interval",
            "0.2",
            "--no-startup-delay",
            "--no-reload",
            "--worker-id",
            f"worker{i}",
        )
    start("sweeper", "sweep_runs", "--every", "0.5", "--resume")
    for i, port in enumerate(ports):
        wait_port(port, procs[f"daphne{i}"])
    try:
        yield {"ports": ports, "procs": procs, "logs": tmp_path}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
            p.wait(10)
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        import redis

        r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
        for key in r.scan_iter(f"{prefix}*"):
            r.delete(key)


def sign_up(port):
    h = Http(f"http://127.0.0.1:{port}")
    h.request("GET", "/accounts/signup/")
    status, _ = h.request(
        "POST",
        "/accounts/signup/",
        form={
            "username": "carol",
            "password1": "scaled out 12345",
            "password2": "scaled out 12345",
            "role": "teacher",
        },
    )
    # urllib follows the redirect; the session cookie shows the sign-up worked.
    assert status == 200 and h.cookie("sessionid"), status
    h.request("GET", "/")
    return h


async def watch(port, code, session, until_status=("succeeded",), timeout=120):
    """A viewer: applies frames (acking them) until the run reaches a final status."""
    viewer = Viewer()
    statuses = []
    async with connect(
        f"ws://127.0.0.1:{port}/ws/runs/{code}/",
        additional_headers=[
            ("Cookie", f"sessionid={session}"),
            ("Origin", f"http://127.0.0.1:{port}"),
        ],
    ) as ws:
        await ws.send(json.dumps({"op": "subscribe"}))
        deadline = time.time() + timeout
        while time.time() < deadline:
            msg = await asyncio.wait_for(ws.recv(), deadline - time.time())
            if isinstance(msg, bytes):
                viewer.apply(msg)
                f = decode(msg)
                if not (f.kind == KEYFRAME and not f.flags & 1):
                    await ws.send(json.dumps({"op": "ack", "seq": f.seq}))
                continue
            m = json.loads(msg)
            if m["type"] == "status":
                statuses.append(m["status"])
                if m["status"] in until_status:
                    return viewer, statuses
            if m["type"] == "subscribed" and m["mode"] == "replay":
                raise AssertionError("run finished before the viewer subscribed")
    raise AssertionError(f"timed out; statuses {statuses}")


def engine_final(run):
    sim = simulator.Simulation(
        simulator.Scenario.from_dict(run["scenario"]), seed=run["seed"], profile=run["profile"]
    )
    steps = 0
    while not sim.done:
        sim.step(1)
        steps += 1
    return sim, steps


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_daphnes_two_workers_every_viewer_gets_every_run_and_a_killed_worker_resumes(
    cluster,
):
    p0, p1 = cluster["ports"]
    h = sign_up(p0)
    session = h.cookie("sessionid")

    # Two runs in parallel, one per worker; viewers of both runs on both Daphnes.
    runs = []
    for seed in (1, 2):
        status, run = h.json(
            "POST", "/api/v1/runs/", {"preset": "unmovable_pollution", "seed": seed}
        )
        assert status == 201, run
        runs.append(run)

    async def watch_all():
        return await asyncio.gather(
            *(watch(port, run["id"], session) for run in runs for port in (p0, p1))
        )

    results = asyncio.run(watch_all())
    workers = set()
    for i, run in enumerate(runs):
        sim, steps = engine_final(run)
        for viewer, statuses in results[2 * i : 2 * i + 2]:
            assert statuses[-1] == "succeeded"
            assert viewer.seq == steps
            assert np.array_equal(viewer.grid, sim.display_states())
        status, detail = h.json("GET", f"/api/v1/runs/{run['id']}/")
        assert detail["status"] == "succeeded"
        workers.add(detail.get("worker") or run["id"])

    # Kill the worker running a longer run once a snapshot exists.
    status, run = h.json("POST", "/api/v1/runs/", {"preset": "direct_compaction", "seed": 4})
    assert status == 201, run
    code = run["id"]

    async def watch_through_kill():
        task = asyncio.create_task(watch(p1, code, session, timeout=150))
        loop = asyncio.get_running_loop()
        detail = await loop.run_in_executor(
            None,
            lambda: wait_for(
                lambda: (lambda d: d if d["status"] == "running" and d["last_seq"] >= 70 else None)(
                    h.json("GET", f"/api/v1/runs/{code}/")[1]
                ),
                60,
                "a snapshot",
            ),
        )
        pid = int(detail["worker"].rsplit(":", 1)[1])
        victim = next(name for name, p in cluster["procs"].items() if p.pid == pid)
        assert victim.startswith("worker")
        cluster["procs"][victim].send_signal(signal.SIGKILL)
        killed_at = time.time()
        interrupted = await loop.run_in_executor(
            None,
            lambda: wait_for(
                # The sweeper requeues at once, so "queued" or a resume count also show it.
                lambda: (
                    (lambda d: d["status"] in ("interrupted", "queued") or d["resumes"] >= 1)(
                        h.json("GET", f"/api/v1/runs/{code}/")[1]
                    )
                    or None
                ),
                HEARTBEAT_TIMEOUT + 5,
                "the run to be marked interrupted",
            ),
        )
        detected = time.time() - killed_at
        viewer, statuses = await task
        return victim, detected, interrupted, viewer, statuses

    victim, detected, _, viewer, statuses = asyncio.run(watch_through_kill())
    assert detected <= HEARTBEAT_TIMEOUT + 2.5
    status, detail = h.json("GET", f"/api/v1/runs/{code}/")
    assert detail["status"] == "succeeded" and detail["resumes"] == 1, detail
    assert detail["worker"] != "" and not detail["worker"].endswith(
        f":{cluster['procs'][victim].pid}"
    )
    sim, steps = engine_final(run)
    # The viewer stayed connected through the kill and the resume...
    assert viewer.seq == steps and np.array_equal(viewer.grid, sim.display_states())
    # ...and the stored run is the uninterrupted run: its final report matches the
    # engine's, and its replay rebuilds the same final state.
    status, report = h.request("GET", f"/api/v1/runs/{code}/reports/vmstat")
    assert report.decode() == sim.report("vmstat")

    async def replay():
        v = Viewer()
        async with connect(
            f"ws://127.0.0.1:{p0}/ws/runs/{code}/",
            additional_headers=[
                ("Cookie", f"sessionid={session}"),
                ("Origin", f"http://127.0.0.1:{p0}"),
            ],
        ) as ws:
            await ws.send(json.dumps({"op": "subscribe"}))
            while True:
                msg = await asyncio.wait_for(ws.recv(), 30)
                if isinstance(msg, bytes):
                    v.apply(msg)
                    await ws.send(json.dumps({"op": "ack", "seq": decode(msg).seq}))
                elif json.loads(msg)["type"] == "replay_end":
                    return v

    v = asyncio.run(replay())
    assert v.seq == steps and np.array_equal(v.grid, sim.display_states())
    assert v.skipped == 0  # the log is one unbroken chain of frames
