"""Browser-test support: a live Daphne server, Debian's Chromium through Playwright.

Loaded as a pytest plugin from conftest.py. The server is a real `manage.py serve`
subprocess on a free port with a database of its own (migrated fresh), exactly what
`./dev serve` runs, so the tests go through HTTP, WebSockets, the run loop and the
static files as a user would. Fixtures are created through the site itself (the local
user, the JSON API), so no ORM call happens inside `sync_playwright()`.

Every page fixture records the browser console; a test fails on any console error or
uncaught page error, and prints the console when it fails. Screenshots go to
artifacts/screenshots/.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1366, "height": 800}  # a laptop screen


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveSite:
    """`manage.py serve` in a subprocess, with its own data directory."""

    def __init__(self, env=None):
        self.dir = Path(tempfile.mkdtemp(prefix="pagemig-browser-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ)
        self.env.update(
            {
                "PAGEMIG_DATA_DIR": str(self.dir),
                "SQLITE_PATH": str(self.dir / "site.sqlite3"),
                "DJANGO_SETTINGS_MODULE": "pagemig_site.settings",
                "PYTHONUNBUFFERED": "1",
            }
        )
        for name in ("DATABASE_URL", "REDIS_URL", "PAGEMIG_ENV"):
            self.env.pop(name, None)
        self.env.update(env or {})
        self.proc = None
        self.log = self.dir / "server.log"

    def start(self, migrate=True):
        manage = [sys.executable, str(ROOT / "manage.py")]
        if migrate:
            subprocess.run(
                manage + ["migrate", "--noinput", "-v0"], env=self.env, cwd=ROOT, check=True
            )
        self._log = open(self.log, "a")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            manage + ["serve", "--port", str(self.port)],
            env=self.env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the server exited:\n" + self.log.read_text())
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the server did not answer in 60 s:\n" + self.log.read_text())

    def restart(self):
        """Stop the server process (as a crash or a deploy would) and start it again on
        the same port and database."""
        self.proc.terminate()
        self.proc.wait(10)
        self._log.close()
        self.start(migrate=False)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "_log", None):
            self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def tail(self, n=60):
        try:
            return "\n".join(self.log.read_text().splitlines()[-n:])
        except OSError:
            return ""


@pytest.fixture(scope="session")
def live_site():
    site = LiveSite().start()
    yield site
    site.stop()


@pytest.fixture(scope="module")
def browser():
    # Module scope: Playwright's sync API keeps an event loop of its own, which must be
    # gone before the site's asyncio tests in other modules run theirs.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Console:
    def __init__(self):
        self.lines = []
        self.errors = []
        self.allowed = []

    def allow_status(self, status, path):
        """Chromium logs every HTTP error response as a console error. A test that
        provokes one on purpose (a 400 with field errors) declares it here; any other
        console error still fails the test."""
        self.allowed.append((f"status of {status} (", path))

    def allow_text(self, text):
        """An error the browser itself logs for a situation the test creates on purpose
        (a refused connection while the server is down)."""
        self.allowed.append((text, ""))

    def _expected(self, m):
        if any(text in m.text and not path for text, path in self.allowed):
            return True
        if not m.text.startswith("Failed to load resource"):
            return False
        url = m.location.get("url", "")
        return any(text in m.text and path in url for text, path in self.allowed)

    def attach(self, page, label="page"):
        def on_console(m):
            line = f"[{label}] {m.type}: {m.text} ({m.location.get('url', '')}:{m.location.get('lineNumber', '')})"
            self.lines.append(line)
            if m.type == "error" and not self._expected(m):
                self.errors.append(line)

        def on_error(e):
            line = f"[{label}] uncaught: {e}\n{e.stack}"
            self.lines.append(line)
            self.errors.append(line)

        page.on("console", on_console)
        page.on("pageerror", on_error)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def console(request, live_site):
    c = Console()
    yield c
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if failed or c.errors:
        print("---- browser console ----")
        print("\n".join(c.lines) or "(empty)")
        print("---- server log (tail) ----")
        print(live_site.tail())
    assert not c.errors, "console errors:\n" + "\n".join(c.errors)


@pytest.fixture
def context(browser, console, live_site):
    """A fresh browser context (its own cookies): a new visitor."""
    contexts = []

    def make(label="page", **kw):
        ctx = browser.new_context(viewport=VIEWPORT, **kw)
        ctx.set_default_timeout(20_000)
        ctx.on("page", lambda p: console.attach(p, label))
        contexts.append(ctx)
        return ctx

    yield make
    for ctx in contexts:
        cancel_active_runs(ctx, live_site)
        ctx.close()


def cancel_active_runs(ctx, site):
    """Cancel what a test left running (most presets run until stopped): later tests
    would otherwise hit the per-user cap and share the two cores with old runs. Through
    the context's request API (its cookies, no page, so nothing reaches the console)."""
    try:
        r = ctx.request.get(site.url + "/api/v1/runs/")
        if not r.ok:
            return  # an anonymous context has no runs
        csrf = next((c["value"] for c in ctx.cookies() if c["name"] == "csrftoken"), "")
        for run in r.json()["runs"]:
            if run["status"] in ("queued", "running", "paused"):
                ctx.request.post(
                    f"{site.url}/api/v1/runs/{run['id']}/cancel",
                    headers={"X-CSRFToken": csrf, "Referer": site.url + "/"},
                )
    except Exception as e:  # a test that broke the context must still be reported as such
        print("could not cancel the test's runs:", e)


@pytest.fixture
def page(context):
    return context().new_page()


def shot(page, name, full_page=False):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def login_local(page, site):
    """Sign in as the machine's local user (the embedded default's no-sign-up door)."""
    page.goto(site.url + "/")
    page.locator("#local-user").click()
    page.wait_for_selector("#start-run")


def api(page, method, path, body=None):
    """Call the site's JSON API from inside the page (its session and CSRF token)."""
    return page.evaluate(
        """async ([method, path, body]) => {
            const r = await window.Pagemig.api(path, method, body === null ? undefined : body);
            return {status: r.status, data: r.data};
        }""",
        [method, path, body],
    )


def create_run(page, body):
    r = api(page, "POST", "/api/v1/runs/", body)
    assert r["status"] == 201, json.dumps(r)
    return r["data"]


def wait_frames(page, more_than, timeout=30_000):
    page.wait_for_function(f"() => window.pagemigFrames > {more_than}", timeout=timeout)
    return page.evaluate("window.pagemigFrames")


def grid_pixels(page):
    """The heatmap's grid canvas as a data URL (one pixel per cell, exact)."""
    return page.evaluate("window.pagemigRun.heatmap.gridCanvas.toDataURL('image/png')")


def pause(page):
    """Click Pause and wait until the page shows the frame the run paused at."""
    page.click("#ctl-pause")
    page.wait_for_function("() => window.pagemigStatus === 'paused'")
    page.wait_for_function(
        "() => window.pagemigLastOk && window.pagemigLastOk.op === 'pause'"
        " && window.pagemigSeq === window.pagemigLastOk.seq"
    )
    return page.evaluate("() => window.pagemigSeq")


def settle(page):
    """Ask the server for the current state (an out-of-band keyframe) and wait until it
    was applied: afterwards the page shows exactly the frame the run is at."""
    applied = page.evaluate("() => window.pagemigRun.client.decoder.framesApplied")
    page.evaluate("() => window.pagemigRun.send({op: 'keyframe'})")
    page.wait_for_function(
        f"() => window.pagemigRun.client.decoder.framesApplied > {applied}"
        " && window.pagemigRun.client.decoder.seq >= 0"
    )
    return page.evaluate("() => window.pagemigRun.client.decoder.seq")


def wait_status(page, run, status, timeout=60_000):
    """Wait until the run has `status`, watching its run page in another tab (the site
    pushes status changes; no polling)."""
    tab = page.context.new_page()
    origin = urllib.parse.urlsplit(page.url)
    tab.goto(f"{origin.scheme}://{origin.netloc}{run['url']}")
    tab.wait_for_function(f"() => window.pagemigStatus === {status!r}", timeout=timeout)
    tab.close()


def long_scenario(cycles=200, eagain_rate=0.0):
    """A run that keeps compaction busy for minutes (most presets settle within a few
    seconds): every 50 simulated ms movable pages are freed and reallocated, the driver
    "drv" grows a little, and compaction is asked for. `eagain_rate` is drv's own
    -EAGAIN rate (0: every -EAGAIN it returns was injected)."""
    timeline = []
    for i in range(cycles):
        t = i * 50
        timeline += [
            {"at_ms": t, "action": "free", "type": "movable", "count": 300},
            {"at_ms": t + 10, "action": "driver_grow", "driver": "drv", "pages": 20},
            {"at_ms": t + 20, "action": "alloc", "type": "movable", "count": 300},
            {"at_ms": t + 30, "action": "compact_memory"},
        ]
    return {
        "name": "busy compaction",
        "profile": "v6.18",
        "memory": {"zones": [{"name": "Normal", "pages": 16384}]},
        "layout": {"free": 0.35, "fragmentation": 0.9},
        "drivers": [
            {
                "name": "drv",
                "pages": 1000,
                "placement": "scattered",
                "migrate": {"EAGAIN": eagain_rate} if eagain_rate else {},
            }
        ],
        "timeline": timeline,
    }
