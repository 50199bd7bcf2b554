"""A dropped socket reconnects by itself and the stream resumes; so does a restarted
server, with the run resumed from its snapshot."""

import pytest

from tests.browserkit import LiveSite, create_run, login_local, long_scenario, shot, wait_frames

pytestmark = pytest.mark.browser


def test_a_dropped_socket_reconnects_and_resumes(live_site, page):
    login_local(page, live_site)
    run = create_run(page, {"scenario": long_scenario(), "seed": 1})
    page.goto(live_site.url + run["url"])
    frames = wait_frames(page, 5)
    seq = page.evaluate("() => window.pagemigSeq")
    page.evaluate("() => window.pagemigRun.client.drop()")
    page.wait_for_function("() => window.wsConnected === false")
    assert page.locator("#conn").inner_text() in ("reconnecting…", "connecting…")
    page.wait_for_function("() => window.wsConnected === true")
    wait_frames(page, frames + 5)
    assert page.evaluate("() => window.pagemigSeq") > seq
    assert page.locator("#conn").inner_text() == "connected"
    assert page.evaluate("() => window.pagemigRun.client.reconnects") == 1


@pytest.fixture
def own_site():
    """A server of this test's own, since the test restarts it."""
    site = LiveSite().start()
    yield site
    site.stop()


def test_a_restarted_server_is_rejoined_and_the_run_continues(own_site, browser, console):
    ctx = browser.new_context(viewport={"width": 1366, "height": 800})
    page = ctx.new_page()
    console.attach(page)
    try:
        login_local(page, own_site)
        run = create_run(page, {"scenario": long_scenario(), "seed": 2})
        page.goto(own_site.url + run["url"])
        wait_frames(page, 70)  # past the first snapshot (a keyframe every 60 frames)
        # The server goes away for real: the socket drops mid-run, and Chromium logs each
        # refused reconnect attempt while it is down.
        console.allow_text("net::ERR_CONNECTION_REFUSED")
        before = page.evaluate("() => window.pagemigRun.client.reconnects")
        own_site.restart()
        # restart() returns once the new server listens, and the page may have rejoined
        # by then: wait on the reconnect counter, which cannot be missed, not on the
        # transient "disconnected" state
        page.wait_for_function(
            f"() => window.pagemigRun.client.reconnects > {before} && window.wsConnected === true",
            timeout=60_000,
        )
        shot(page, "run-reconnected")
        seq = page.evaluate("() => window.pagemigSeq")
        # The run resumed from its snapshot and streams again.
        page.wait_for_function(f"() => window.pagemigSeq > {seq + 5}", timeout=60_000)
        page.wait_for_function("() => window.pagemigStatus === 'running'")
        assert page.locator("#conn").inner_text() == "connected"
    except Exception:
        print("---- restarted server's log ----")
        print(own_site.tail())
        raise
    finally:
        ctx.close()
