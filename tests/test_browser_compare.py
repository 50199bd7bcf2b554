"""Compare: two runs side by side on one time cursor; scrubbing moves both."""

import pytest

from tests.browserkit import create_run, login_local, shot, wait_status

pytestmark = pytest.mark.browser


def test_the_compare_page_shows_two_runs_and_scrubbing_moves_both(live_site, page):
    login_local(page, live_site)
    runs = [
        create_run(page, {"preset": "lru_only", "seed": s, "title": f"seed {s}"}) for s in (1, 2)
    ]
    for run in runs:
        wait_status(page, run, "succeeded")
    page.goto(live_site.url + "/compare/?runs=" + ",".join(r["id"] for r in runs))
    assert page.locator(".run-card").count() == 2
    # Both open at their last frame.
    page.wait_for_function(
        """() => window.pagemigCompare && window.pagemigCompare.every(
            v => v.client.decoder.seq >= 0 && v.client.decoder.seq === v.lastSeq)"""
    )
    ends = page.evaluate("() => window.pagemigCompare.map(v => v.client.decoder.seq)")
    pixels_end = page.evaluate(
        "() => window.pagemigCompare.map(v => v.heatmap.gridCanvas.toDataURL())"
    )

    page.evaluate(
        """() => { const c = document.getElementById('cmp-cursor');
            c.value = String(Math.round(c.max * 0.3)); c.dispatchEvent(new Event('change')); }"""
    )
    page.wait_for_function(
        """() => window.pagemigCompare.every(
            v => v.target !== null && v.client.decoder.seq === v.target)"""
    )
    moved = page.evaluate("() => window.pagemigCompare.map(v => v.client.decoder.seq)")
    assert all(m < e for m, e in zip(moved, ends, strict=True)), (moved, ends)
    pixels_moved = page.evaluate(
        "() => window.pagemigCompare.map(v => v.heatmap.gridCanvas.toDataURL())"
    )
    assert all(a != b for a, b in zip(pixels_end, pixels_moved, strict=True))
    # One time for both: each run shows its frame at the cursor's simulated time.
    t = page.evaluate("() => window.pagemigCompareCursor")
    times = page.evaluate("() => window.pagemigCompare.map(v => v.client.decoder.timeNs)")
    spread = page.evaluate(
        """() => Math.max(...window.pagemigCompare.map(v => {
            const s = v.samples; let gap = 0;
            for (let i = 1; i < s.length; i++) gap = Math.max(gap, s[i].time_ns - s[i-1].time_ns);
            return gap; }))"""
    )
    assert all(abs(x - t) <= spread for x in times), (t, times, spread)

    # "Copy link" keeps the runs and the time: the link opens both at the same frames.
    page.click("#cmp-link")
    url = page.evaluate("() => window.pagemigShareUrl")
    assert "runs=" in url and "t=" in url
    again = page.context.new_page()
    again.goto(url)
    again.wait_for_function(
        """() => window.pagemigCompare && window.pagemigCompare.every(
            v => v.target !== null && v.client.decoder.seq === v.target)"""
    )
    assert again.evaluate("() => window.pagemigCompare.map(v => v.client.decoder.seq)") == moved
    again.close()

    # The seeds differ, and the scenario table says so.
    diff = page.locator("#cmp-diff").inner_text()
    assert "seed" in diff
    assert page.locator("#cmp-summary tr").count() > 3
    shot(page, "compare", full_page=True)
