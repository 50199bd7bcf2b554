"""Run page panels: the five live charts, the /proc views, the filterable trace log."""

import pytest

from tests.browserkit import create_run, login_local, long_scenario, pause, shot

pytestmark = pytest.mark.browser


def test_charts_proc_views_and_trace_follow_the_run(live_site, page):
    login_local(page, live_site)
    run = create_run(page, {"scenario": long_scenario(eagain_rate=0.05), "seed": 9})
    page.goto(live_site.url + run["url"])
    page.wait_for_function("() => window.pagemigMetricsSamples > 2")
    charts = page.evaluate(
        """() => window.pagemigRun.charts.charts.map(c => [c.def.key, c.u.series.length - 1,
            c.u.data[0].length])"""
    )
    assert [c[0] for c in charts] == ["free", "fragindex", "pgmigrate", "eagain", "outcomes"]
    assert all(n_series >= 1 and n_points >= 2 for _, n_series, n_points in charts), charts

    # /proc views come from the running engine, at the frame on screen once paused.
    pause(page)
    page.wait_for_function(
        "() => document.getElementById('proc-text').textContent.includes('Node 0, zone')"
    )
    for name, marker in (
        ("vmstat", "pgmigrate_success"),
        ("pagetypeinfo", "Free pages count per migrate type"),
    ):
        page.click(f'#proc-tabs button[data-report="{name}"]')
        page.wait_for_function(
            f"() => document.getElementById('proc-text').textContent.includes({marker!r})"
        )

    # The trace log fills from the run's stored events and filters as you type.
    page.locator("#trace div").first.wait_for(timeout=30_000)
    total = page.locator("#trace div").count()
    page.fill("#trace-filter", "mm_compaction_isolate_migratepages")
    shown = page.locator("#trace div:not([hidden])")
    assert 0 < shown.count() < total
    assert all("mm_compaction_isolate_migratepages" in t for t in shown.all_inner_texts())
    shot(page, "run-panels", full_page=True)
