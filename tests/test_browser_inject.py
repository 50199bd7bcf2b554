"""'Inject -EAGAIN now' raises the driver's -EAGAIN count on the page and in the chart."""

import pytest

from tests.browserkit import create_run, login_local, long_scenario, pause, shot, wait_frames

pytestmark = pytest.mark.browser


def eagain_shown(page):
    return page.evaluate(
        """() => {
            const row = document.querySelector('#eagain-table tr[data-driver="drv"]');
            const chart = window.pagemigRun.charts.latest('eagain', 'drv');
            return {table: row ? +row.cells[1].textContent.replace(/,/g, '') : null, chart};
        }"""
    )


def test_injecting_eagain_now_raises_the_drivers_count(live_site, page):
    login_local(page, live_site)
    run = create_run(page, {"scenario": long_scenario(), "seed": 1, "title": "inject now"})
    page.goto(live_site.url + run["url"])
    # The first metrics sample (every 15 frames) fills the table; then hold the run.
    page.wait_for_function("() => window.pagemigMetricsSamples > 0")
    pause(page)
    before = eagain_shown(page)
    assert before["table"] == 0
    assert before["chart"] in (0, None)

    page.select_option("#inject-driver", "drv")
    page.select_option("#inject-errno", "EAGAIN")
    page.fill("#inject-prob", "100")
    page.fill("#inject-duration", "5000")
    page.click("#inject-now")
    page.wait_for_function("() => window.pagemigLastOk && window.pagemigLastOk.op === 'inject'")
    assert page.locator("#control-error").inner_text() == ""
    page.click("#ctl-resume")
    page.wait_for_function(
        """() => {
            const row = document.querySelector('#eagain-table tr[data-driver="drv"]');
            return row && +row.cells[1].textContent.replace(/,/g, '') > 0
                && window.pagemigRun.charts.latest('eagain', 'drv') > 0;
        }""",
        timeout=30_000,
    )
    after = eagain_shown(page)
    assert after["table"] > 0 and after["chart"] > 0
    labels = page.evaluate(
        """() => window.pagemigRun.charts.charts.find(c => c.def.key === 'eagain')
            .u.series.map(s => s.label)"""
    )
    assert "drv" in labels
    # The injection is in the trace log too, for every viewer.
    page.locator("#trace [data-event='injection']").first.wait_for()
    shot(page, "run-inject-eagain", full_page=True)


def test_an_invalid_injection_names_the_field(live_site, page):
    login_local(page, live_site)
    run = create_run(page, {"scenario": long_scenario(), "seed": 2})
    page.goto(live_site.url + run["url"])
    wait_frames(page, 1)
    page.fill("#inject-prob", "250")
    page.click("#inject-now")
    err = page.locator("#control-error")
    page.wait_for_function("() => document.getElementById('control-error').textContent !== ''")
    assert "probability" in err.inner_text()
