"""Hovering a page shows what the engine holds for that pfn."""

import pytest

from tests.browserkit import api, create_run, login_local, long_scenario, pause, shot, wait_frames

pytestmark = pytest.mark.browser


def hover_pfn(page, pfn):
    """Move the mouse over the page `pfn` of the heatmap."""
    xy = page.evaluate(f"() => window.pagemigRun.heatmap.screenOfPfn({pfn})")
    box = page.locator("#heatmap").bounding_box()
    page.mouse.move(box["x"] + xy[0], box["y"] + xy[1])


def engine_page(run, seq, pfn):
    """The same run rebuilt here, independently of the site: the engine is deterministic
    for a scenario, seed and profile, one step of ticks_per_frame per frame."""
    import simulator

    sim = simulator.Simulation(
        simulator.Scenario.from_dict(run["scenario"]), seed=run["seed"], profile=run["profile"]
    )
    for _ in range(seq):
        sim.step(run["ticks_per_frame"])
    return sim.page_info(pfn)


def test_hovering_a_page_shows_the_engines_details(live_site, page):
    login_local(page, live_site)
    run = create_run(page, {"scenario": long_scenario(eagain_rate=0.05), "seed": 7})
    page.goto(live_site.url + run["url"])
    wait_frames(page, 15)
    seq = pause(page)
    # A page a driver owns (state 4), so owner and flags have something to show.
    pfn = page.evaluate(
        "() => { const h = window.pagemigRun.heatmap; return h.states.indexOf(4) * h.pagesPerCell; }"
    )
    assert pfn >= 0
    hover_pfn(page, pfn)
    body = page.locator(f'#page-body[data-source="engine"][data-pfn="{pfn}"]')
    body.wait_for()
    shown = {
        k: page.locator(f'#page-body dd[data-field="{k}"]').inner_text()
        for k in ("pfn", "zone", "pageblock", "kind", "flags", "owner", "at frame")
    }
    assert shown["at frame"] == str(seq)
    expect = engine_page(
        api(page, "GET", run["url"].replace("/runs/", "/api/v1/runs/"))["data"], seq, pfn
    )
    assert shown["pfn"] == str(expect["pfn"])
    assert shown["zone"] == expect["zone"]
    assert shown["pageblock"] == f"{expect['pageblock']} ({expect['migratetype']})"
    assert shown["kind"] == expect["kind"]
    assert shown["owner"] == (expect["owner"] or "–")
    assert shown["flags"].split() == list(expect["flags"])
    history = page.locator("#page-body .history div").count()
    assert history == min(100, len(expect["history"]))
    shot(page, "run-hover-details")
