"""Dark mode follows the system and has a toggle; the run page fits a laptop screen."""

import pytest

from tests.browserkit import create_run, login_local, long_scenario, shot, wait_frames

pytestmark = pytest.mark.browser

BG = "() => getComputedStyle(document.body).backgroundColor"


def test_dark_mode_follows_the_system_and_the_toggle_wins(live_site, context):
    page = context(color_scheme="dark").new_page()
    login_local(page, live_site)
    assert page.evaluate(BG) == "rgb(21, 24, 27)"
    run = create_run(page, {"scenario": long_scenario(), "seed": 1})
    page.goto(live_site.url + run["url"])
    wait_frames(page, 3)
    assert page.evaluate("() => window.pagemigRun.heatmap.dark") is True
    free_dark = page.evaluate("() => window.pagemigRun.heatmap.colour(0)")
    shot(page, "run-dark")
    page.click("#theme-toggle")
    assert page.evaluate(BG) == "rgb(247, 247, 245)"
    assert page.evaluate("() => window.pagemigRun.heatmap.dark") is False
    assert page.evaluate("() => window.pagemigRun.heatmap.colour(0)") != free_dark
    # The choice is remembered over the system's.
    page.reload()
    wait_frames(page, 1)
    assert page.evaluate(BG) == "rgb(247, 247, 245)"
    page.keyboard.press("d")
    assert page.evaluate(BG) == "rgb(21, 24, 27)"


def test_the_run_page_fits_a_laptop_screen(live_site, page):
    """At 1366x800 the heatmap, its legend, the scrubber and the controls are all in view
    without scrolling."""
    login_local(page, live_site)
    run = create_run(page, {"scenario": long_scenario(), "seed": 2})
    page.goto(live_site.url + run["url"])
    wait_frames(page, 3)
    for sel in ("#heatmap", "#legend", "#scrubber", "#ctl-pause", "#inject-now", "#page-details"):
        box = page.locator(sel).bounding_box()
        assert box and box["y"] + box["height"] <= 800, sel
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1366
