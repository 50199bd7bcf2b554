"""Run page: a run started from a preset in one click streams a changing heatmap."""

import pytest

from tests.browserkit import create_run, grid_pixels, login_local, long_scenario, shot, wait_frames

pytestmark = pytest.mark.browser


def test_a_preset_started_from_home_changes_the_heatmap(live_site, page):
    login_local(page, live_site)
    shot(page, "home")
    page.locator("form.start-preset button").first.click()
    page.wait_for_url("**/runs/**")
    first = wait_frames(page, 0)
    before = grid_pixels(page)
    seq_before = page.evaluate("() => window.pagemigSeq")
    wait_frames(page, first + 10)
    after = grid_pixels(page)
    assert page.evaluate("() => window.pagemigSeq") > seq_before
    assert before != after, "the heatmap's pixels did not change between frames"
    # The legend's live counts add up to the grid and follow the frames.
    counts = page.evaluate(
        """() => [...document.querySelectorAll('#legend .item .count')]
            .map(e => +e.textContent.replace(/,/g, ''))"""
    )
    cells = page.evaluate("() => window.pagemigRun.heatmap.cells")
    assert sum(counts) == cells
    assert page.locator("#conn").inner_text() == "connected"
    shot(page, "run-live")


def test_the_heatmap_zooms_to_single_pages_and_switches_layout(live_site, page):
    login_local(page, live_site)
    page.locator("form.start-preset button").first.click()
    page.wait_for_url("**/runs/**")
    wait_frames(page, 2)
    page.select_option("#layout", "hilbert")
    assert page.evaluate("() => window.pagemigRun.heatmap.layout.kind") == "hilbert"
    for _ in range(8):
        page.click("#zoom-in")
    scale = page.evaluate("() => window.pagemigRun.heatmap.scale")
    assert scale >= 16, scale
    # At this zoom a page is a square of `scale` pixels: hovering two points one page
    # apart names two different pfns.
    box = page.locator("#heatmap").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    a = page.evaluate("() => window.pagemigRun.heatmap.hoverCell")
    page.mouse.move(x + scale, y)
    b = page.evaluate("() => window.pagemigRun.heatmap.hoverCell")
    assert a >= 0 and b >= 0 and a != b
    shot(page, "run-hilbert-zoomed")


def test_a_newcomer_reaches_a_live_heatmap_in_one_click(live_site, page):
    """The README's path: open the site, press Start on a preset card (no account)."""
    page.goto(live_site.url + "/")
    assert page.locator("text=Log in").count() >= 1
    page.locator("#presets form[data-preset] button").first.click()
    page.wait_for_url("**/runs/**")
    wait_frames(page, 3)
    assert page.locator("#heatmap canvas").count() == 2
    assert page.evaluate("() => window.pagemigRun.heatmap.cells") > 0


def test_a_large_run_streams_an_aggregated_grid_and_tiles_show_single_pages(live_site, page):
    """1,048,576 pages: the site streams cells of 4 pages; zoomed in, the page asks for
    full-resolution tiles of what is on screen and draws every page."""
    login_local(page, live_site)
    scenario = long_scenario(cycles=20)
    scenario["memory"]["zones"] = [{"name": "Normal", "pages": 1048576}]
    run = create_run(page, {"scenario": scenario, "seed": 1})
    page.goto(live_site.url + run["url"])
    wait_frames(page, 3)
    assert page.evaluate("() => window.pagemigRun.heatmap.pagesPerCell") == 4
    assert "cells of 4 pages" in page.locator("#legend").inner_text()
    for _ in range(7):
        page.click("#zoom-in")
    page.wait_for_function("() => window.pagemigRun.heatmap.tiles.size > 0")
    # A tile holds one state per page: 4 per cell, all valid display states.
    tile = page.evaluate(
        "() => { const [k, v] = window.pagemigRun.heatmap.tiles.entries().next().value;"
        " return [k, v.length, Math.max(...v)]; }"
    )
    assert tile[1] > 0 and tile[2] <= 12
    shot(page, "run-aggregated-tiles")
