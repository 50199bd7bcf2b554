"""Share links: a fresh browser (no account) sees the same frame, read-only."""

import pytest

from tests.browserkit import create_run, grid_pixels, login_local, shot, wait_frames

pytestmark = pytest.mark.browser


def finished_run(page, live_site, preset="lru_only", seed=1):
    login_local(page, live_site)
    run = create_run(page, {"preset": preset, "seed": seed})
    page.goto(live_site.url + run["url"])
    page.wait_for_function("() => window.pagemigStatus === 'succeeded'", timeout=60_000)
    wait_frames(page, 0)
    return run


def seek(page, seq):
    page.evaluate(
        f"""() => {{ const s = document.getElementById('scrubber');
            s.value = '{seq}'; s.dispatchEvent(new Event('change')); }}"""
    )
    page.wait_for_function(f"() => window.pagemigSeq === {seq}")


def test_a_share_link_opens_the_same_frame_read_only(live_site, page, context):
    finished_run(page, live_site)
    last = page.evaluate("() => window.pagemigRun.lastSeq")
    assert last > 10
    target = last // 2
    seek(page, target)
    page.select_option("#layout", "hilbert")
    page.click("#zoom-in")
    view = page.evaluate("() => window.pagemigRun.heatmap.view()")
    pixels = grid_pixels(page)
    page.click("#share-link")
    page.wait_for_function("() => !!window.pagemigShareUrl")
    url = page.evaluate("() => window.pagemigShareUrl")
    assert "/s/" in url

    viewer = context("viewer").new_page()  # a new browser context: no session
    viewer.goto(url)
    viewer.wait_for_function(f"() => window.pagemigSeq === {target}")
    assert grid_pixels(viewer) == pixels
    assert viewer.evaluate("() => window.pagemigRun.heatmap.view()") == view
    assert viewer.locator("#readonly-note").is_visible()
    assert viewer.locator("#controls").count() == 0
    assert viewer.locator("text=Log in").count() >= 1  # really signed out
    # Even a hand-made control op is refused by the server.
    viewer.evaluate("() => window.pagemigRun.send({op: 'pause'})")
    viewer.wait_for_function(
        "() => document.getElementById('control-error').textContent.includes('read-only')"
    )
    # The charts and the trace load through the link's token.
    viewer.wait_for_function("() => window.pagemigRun.charts.seqs.length > 0")
    shot(viewer, "share-read-only")


def test_a_finished_run_scrubs_and_plays(live_site, page):
    finished_run(page, live_site, seed=2)
    last = page.evaluate("() => window.pagemigRun.lastSeq")
    seek(page, 3)
    early = grid_pixels(page)
    seek(page, last)
    assert grid_pixels(page) != early
    seek(page, 1)
    page.click("#play")
    page.wait_for_function(f"() => window.pagemigSeq >= {min(last, 12)}")
    shot(page, "run-replay")
