"""The README's first command, in a browser: `./dev serve`, start a run, see it stream."""

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PAGEMIG_", "DJANGO_")) and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env["PAGEMIG_DATA_DIR"] = str(tmp_path)  # a fresh embedded default
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen(
        ["./dev", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        assert proc.poll() is None, (tmp_path / "serve.log").read_text()
        if f"http://127.0.0.1:{port}/" in (tmp_path / "serve.log").read_text():
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the site never said it was serving")
    try:
        yield f"http://127.0.0.1:{port}", tmp_path / "serve.log"
    finally:
        proc.kill()
        proc.wait(10)


def test_a_run_started_from_the_minimal_page_streams_frames_to_the_browser(served):
    from playwright.sync_api import sync_playwright

    base, log = served
    assert "Example: lru_only: succeeded" in log.read_text()  # seed_examples ran
    console = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page()
            page.on("console", lambda m: console.append(m.text))
            page.on("pageerror", lambda e: console.append(str(e)))
            page.goto(base + "/")
            assert "Example: direct_compaction" in page.content()
            page.click("#local-user")
            page.select_option("select[name=preset]", "unmovable_pollution")
            page.click("#start-button")
            page.wait_for_url("**/runs/*/")
            page.wait_for_function(
                "() => window.pagemig && window.pagemig.frames > 20", timeout=60000
            )
            page.wait_for_function("() => window.pagemig.status === 'succeeded'", timeout=60000)
            assert int(page.text_content("#frame-count")) > 20
            # No CSP violations or script errors on the way.
            assert not [c for c in console if "Content Security Policy" in c or "Error" in c]
        except Exception:
            print("browser console:", *console, sep="\n")
            raise
        finally:
            browser.close()
