"""Site benchmarks for issue 3, item 6, all measured in one run on this machine.

A. Fan-out: deliveries/s of ONE Daphne process (Redis channel layer, process-local hub)
   to 1, 10 and 100 viewers at 1 KiB and 16 KiB frames, as a ratio to a raw `websockets`
   broadcast server measured with the same clients in the same run. Frames are valid
   protocol deltas published to the run's group as fast as the layer takes them; the
   viewers ack every frame, as the protocol requires.
B. Latency p50/p95 at 20 frames/s to 100 viewers (1 KiB frames; from the header's
   time_ns, stamped at publish time).
C. On the embedded default (`manage.py serve`, in-process runs): HTTP p95 of the index
   page while two runs execute, as a ratio to idle; time from "start run" (POST) to the
   first frame at a WebSocket client.

Usage: .venv/bin/python benchmarks/site_bench.py [--duration 5] [--parts ABC]
       [--preset NAME] [--out benchmarks/RESULTS.md]
"""

import argparse
import asyncio
import http.cookiejar
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} did not open")


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


class Procs:
    def __init__(self):
        self.procs = []

    def start(self, cmd, env, log):
        p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def stop(self, p):
        p.kill()
        p.wait(10)
        self.procs.remove(p)

    def stop_all(self):
        for p in list(self.procs):
            self.stop(p)


def run_clients(url, n, start, end, ack, headers=()):
    """Viewers split over two processes (each is one event loop: one core at most)."""
    procs = []
    splits = [n] if n <= 10 else [n - n // 2, n // 2]
    for k in splits:
        cmd = [PY, str(HERE / "clients.py"), url, str(k), str(start), str(end)]
        if ack:
            cmd.append("--ack")
        for h in headers:
            cmd += ["--header", h]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True))
    total = {"received": 0, "bytes": 0, "latencies": [], "connected": 0, "errors": []}
    for p in procs:
        out, _ = p.communicate(timeout=end - time.time() + 60)
        s = json.loads(out.strip().splitlines()[-1])
        for key in total:
            total[key] += s[key]
    return total


# A and B: fan-out ---------------------------------------------------------------------


def setup_django(env):
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "pagemig_site.settings"
    import django

    django.setup()


def make_run_and_cookie():
    from django.contrib.auth.models import User
    from django.test import Client

    from pagemig_site.runs.models import Run

    user, _ = User.objects.get_or_create(username="bench")
    client = Client()
    client.force_login(user)
    runs = [
        Run.objects.create(
            owner=user, scenario={}, engine_version="bench", status="running", title="bench"
        )
        for _ in range(40)
    ]
    return runs, client.cookies["sessionid"].value


async def publish(code, size, until, fps=None, start_keyframe=True):
    """Publish valid protocol frames to a run's group; returns how many were sent."""
    import numpy as np
    from channels.layers import get_channel_layer

    from pagemig_site.lib.protocol import DisplayGrid
    from pagemig_site.runs import bus

    pub = bus.publisher(get_channel_layer())
    count = max(1, (size - 56) // 5)
    rng = np.random.default_rng(1)
    npages = 1 << 16
    grid = DisplayGrid(code, rng.integers(0, 13, npages).astype(np.uint8), npages)
    seq = 0
    sent = 0
    interval = 1 / fps if fps else 0
    next_t = time.time()
    # Pre-compute change sets: numpy work is not what is being measured.
    changes = [
        (
            rng.choice(npages, count, replace=False).astype(np.uint32),
            rng.integers(0, 13, count).astype(np.uint8),
        )
        for _ in range(64)
    ]
    while time.time() < until:
        seq += 1
        if seq % 60 == 1:
            frames = grid.keyframe(seq, time.time_ns())
            msg = {
                "type": "run.frame",
                "run": str(code),
                "frames": frames,
                "seq": seq,
                "base": seq,
                "key": True,
                "oob": False,
            }
        else:
            pfns, states = changes[seq % 64]
            grid.pages[pfns] = states
            grid.grid[pfns] = states
            frame = grid.delta(seq, seq - 1, time.time_ns(), pfns, states)
            msg = {
                "type": "run.frame",
                "run": str(code),
                "frames": [frame],
                "seq": seq,
                "base": seq - 1,
                "key": False,
                "oob": False,
            }
        await pub.publish(code, msg)
        sent += 1
        if interval:
            next_t += interval
            delay = next_t - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
    await pub.close()
    return sent


def measure_raw(procs, env, log, size, n, duration):
    rport = free_port()
    raw = procs.start([PY, str(HERE / "raw_server.py"), str(rport), str(size)], env, log)
    wait_port(rport)
    start = time.time() + 2 + n / 50
    end = start + duration
    s = run_clients(f"ws://127.0.0.1:{rport}/", n, start, end, ack=False)
    procs.stop(raw)
    return s["received"] / duration, s["errors"][:1]


def measure_daphne(port, run, headers, size, n, duration, fps=None):
    start = time.time() + 2 + n / 50
    end = start + duration
    box = {}

    def publisher():
        ploop = asyncio.new_event_loop()
        time.sleep(max(0, start - 1 - time.time()))
        box["sent"] = ploop.run_until_complete(publish(run.code, size, end + 0.5, fps=fps))
        ploop.close()

    th = threading.Thread(target=publisher)
    th.start()
    s = run_clients(
        f"ws://127.0.0.1:{port}/ws/runs/{run.code}/", n, start, end, ack=True, headers=headers
    )
    th.join()
    return s["received"] / duration, s["errors"][:1], box.get("sent", 0)


def part_fanout(duration, results, log, reps=3):
    tmp = Path(tempfile.mkdtemp(prefix="pagemig-bench-"))
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    env = {
        "PAGEMIG_DATA_DIR": str(tmp),
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "PAGEMIG_REDIS_PREFIX": prefix,
        "PAGEMIG_REDIS_CAPACITY": "2000",
        # Throughput, not 30 fps: allow deep pipelines per viewer (the default is 4).
        "PAGEMIG_FLOW_WINDOW": "256",
        "PAGEMIG_SOCKETS_PER_USER": "1000",
    }
    full_env = {**os.environ, **env}
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=full_env, check=True)
    setup_django(env)
    runs, session = make_run_and_cookie()
    procs = Procs()
    port = free_port()
    procs.start([PY, "manage.py", "serve", "--port", str(port)], full_env, log)
    wait_port(port)
    headers = [f"Cookie:sessionid={session}", f"Origin:http://127.0.0.1:{port}"]
    run_iter = iter(runs)
    rows = []
    try:
        for size in (1024, 16384):
            for n in (1, 10, 100):
                samples = []
                offered = None
                # The machine is shared: interleave baseline and Daphne and repeat, so
                # both see the same background load; report the median ratio.
                for rep in range(reps):
                    order = ("raw", "daphne") if rep % 2 == 0 else ("daphne", "raw")
                    rates = {}
                    for which in order:
                        if which == "raw":
                            rates["raw"], err = measure_raw(procs, full_env, log, size, n, duration)
                            if offered is None:
                                # Offer Daphne 1.5x what the baseline delivered: enough to
                                # saturate it, without a firehose that only measures how
                                # Redis sheds a subscriber that cannot keep up.
                                offered = min(5000.0, 1.5 * rates["raw"] / n)
                        else:
                            rates["daphne"], err, sent = measure_daphne(
                                port, next(run_iter), headers, size, n, duration, offered
                            )
                    samples.append(
                        (rates["daphne"] / rates["raw"], rates["raw"], rates["daphne"], sent)
                    )
                samples.sort()
                ratio, raw_rate, d_rate, sent = samples[len(samples) // 2]
                row = {
                    "size": size,
                    "viewers": n,
                    "raw_per_s": round(raw_rate),
                    "daphne_per_s": round(d_rate),
                    "ratio": round(ratio, 3),
                    "ratios": [round(x[0], 3) for x in samples],
                    "published_per_s": round(sent / (duration + 1.5)),
                    "offered_fps": round(offered),
                }
                print(json.dumps(row), flush=True)
                rows.append(row)
        results["fanout"] = rows

        # B: latency at 20 fps to 100 viewers.
        run = next(run_iter)
        start = time.time() + 4
        end = start + max(duration, 5)
        url = f"ws://127.0.0.1:{port}/ws/runs/{run.code}/"

        def publisher20():
            ploop = asyncio.new_event_loop()
            time.sleep(max(0, start - 1 - time.time()))
            ploop.run_until_complete(publish(run.code, 1024, end + 0.5, fps=20))
            ploop.close()

        th = threading.Thread(target=publisher20)
        th.start()
        s = run_clients(url, 100, start, end, ack=True, headers=headers)
        th.join()
        lat = s["latencies"]
        results["latency"] = {
            "viewers": s["connected"],
            "frames": len(lat),
            "expected": round(100 * 20 * (end - start)),
            "p50_ms": round(pct(lat, 50), 2),
            "p95_ms": round(pct(lat, 95), 2),
        }
        print(json.dumps(results["latency"]), flush=True)
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            import redis

            r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
            for key in r.scan_iter(f"{prefix}*"):
                r.delete(key)
        except Exception:
            pass


# C: embedded default --------------------------------------------------------------------


class Http:
    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def cookie(self, name):
        return next((c.value for c in self.jar if c.name == name), None)

    def get(self, path):
        with self.opener.open(self.base + path, timeout=30) as r:
            return r.status, r.read()

    def post(self, path, data=None, body=None):
        headers = {"X-CSRFToken": self.cookie("csrftoken") or ""}
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        else:
            from urllib.parse import urlencode

            payload = urlencode(
                {**(data or {}), "csrfmiddlewaretoken": self.cookie("csrftoken")}
            ).encode()
        req = urllib.request.Request(self.base + path, data=payload, headers=headers, method="POST")
        try:
            with self.opener.open(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()


def http_p95(h, n=200):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        status, _ = h.get("/")
        times.append((time.perf_counter() - t0) * 1000)
        assert status == 200
    return pct(times, 95), pct(times, 50)


async def first_frame(port, code, session):
    from websockets.asyncio.client import connect

    async with connect(
        f"ws://127.0.0.1:{port}/ws/runs/{code}/",
        additional_headers=[
            ("Cookie", f"sessionid={session}"),
            ("Origin", f"http://127.0.0.1:{port}"),
        ],
    ) as ws:
        await ws.send(json.dumps({"op": "subscribe"}))
        while True:
            msg = await ws.recv()
            if isinstance(msg, bytes):
                return


def part_embedded(preset, results, log):
    import simulator

    presets = sorted(getattr(simulator, "PRESETS", {}))
    if not presets:
        results["embedded"] = "skipped: the engine has no presets"
        return
    preset = preset or presets[0]
    tmp = Path(tempfile.mkdtemp(prefix="pagemig-bench-embedded-"))
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        PAGEMIG_DATA_DIR=str(tmp),
        PAGEMIG_RUNS_PER_USER="100",
        PAGEMIG_RATE_RUN_CREATE="1000",
        PAGEMIG_MAX_CONCURRENT_RUNS="8",
    )
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    procs = Procs()
    port = free_port()
    procs.start([PY, "manage.py", "serve", "--port", str(port)], env, log)
    wait_port(port)
    try:
        h = Http(f"http://127.0.0.1:{port}")
        h.get("/")
        status, _ = h.post("/accounts/local/")
        assert h.cookie("sessionid"), status
        h.get("/")
        idle_p95, idle_p50 = http_p95(h)
        codes = []
        for i in range(2):
            status, body = h.post("/api/v1/runs/", body={"preset": preset, "seed": i + 1})
            assert status == 201, body
            codes.append(json.loads(body)["id"])
        busy_p95, busy_p50 = http_p95(h)
        still = [json.loads(h.get(f"/api/v1/runs/{c}/")[1])["status"] for c in codes]
        for c in codes:
            h.post(f"/api/v1/runs/{c}/cancel")
        # Time to first frame, 5 times.
        ttff = []
        for i in range(5):
            t0 = time.perf_counter()
            status, body = h.post("/api/v1/runs/", body={"preset": preset, "seed": 10 + i})
            code = json.loads(body)["id"]
            asyncio.run(first_frame(port, code, h.cookie("sessionid")))
            ttff.append((time.perf_counter() - t0) * 1000)
            h.post(f"/api/v1/runs/{code}/cancel")
        results["embedded"] = {
            "preset": preset,
            "idle_p50_ms": round(idle_p50, 2),
            "idle_p95_ms": round(idle_p95, 2),
            "busy_p50_ms": round(busy_p50, 2),
            "busy_p95_ms": round(busy_p95, 2),
            "p95_ratio": round(busy_p95 / idle_p95, 2),
            "runs_status_after_busy_sample": still,
            "first_frame_ms": [round(t, 1) for t in ttff],
            "first_frame_median_ms": round(statistics.median(ttff), 1),
        }
        print(json.dumps(results["embedded"]), flush=True)
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--parts", default="AC")
    ap.add_argument("--preset", default=None)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = ap.parse_args()
    results = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "duration_s": args.duration,
    }
    log = open(HERE / "bench.log", "w")
    if "C" in args.parts:
        part_embedded(args.preset, results, log)
    if "A" in args.parts:
        part_fanout(args.duration, results, log, args.reps)
    text = "\n## " + results["date"] + f" ({results['cpus']} CPUs, shared)\n\n"
    if "fanout" in results:
        text += "| frame | viewers | raw websockets/s | Daphne/s | ratio (median) | ratios |\n"
        text += "|---|---|---|---|---|---|\n"
        for r in results["fanout"]:
            text += (
                f"| {r['size'] // 1024} KiB | {r['viewers']} | {r['raw_per_s']} | "
                f"{r['daphne_per_s']} | {r['ratio']} | {r['ratios']} |\n"
            )
        text += "\n"
    text += "```json\n" + json.dumps(results, indent=1) + "\n```\n"
    with open(args.out, "a") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
