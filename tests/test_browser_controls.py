"""Run controls: pause, step exactly one frame, resume, speed, keyboard shortcuts."""

import pytest

from tests.browserkit import (
    api,
    create_run,
    login_local,
    long_scenario,
    pause,
    settle,
    shot,
    wait_frames,
)

pytestmark = pytest.mark.browser


def test_pause_then_step_advances_exactly_one_frame(live_site, page):
    login_local(page, live_site)
    run = create_run(page, {"scenario": long_scenario(), "seed": 3})
    page.goto(live_site.url + run["url"])
    wait_frames(page, 5)
    seq = pause(page)
    assert settle(page) == seq
    assert page.locator("#ctl-step").is_enabled()
    assert not page.locator("#ctl-pause").is_enabled()
    shot(page, "run-paused")

    page.click("#ctl-step")
    page.wait_for_function(f"() => window.pagemigSeq === {seq + 1}")
    assert settle(page) == seq + 1
    # And it stays there: the run is still paused, a second check finds the same frame.
    assert page.evaluate("() => window.pagemigStatus") == "paused"
    detail = api(page, "GET", run["url"].replace("/runs/", "/api/v1/runs/"))["data"]
    assert detail["status"] == "paused"
    assert settle(page) == seq + 1

    # The right arrow steps too, one frame per press.
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => window.pagemigSeq === {seq + 2}")
    assert settle(page) == seq + 2

    page.click("#ctl-resume")
    page.wait_for_function("() => window.pagemigStatus === 'running'")
    page.wait_for_function(f"() => window.pagemigSeq > {seq + 4}")


def test_space_pauses_and_resumes_and_question_mark_shows_help(live_site, page):
    login_local(page, live_site)
    run = create_run(page, {"scenario": long_scenario(), "seed": 4})
    page.goto(live_site.url + run["url"])
    wait_frames(page, 3)
    page.keyboard.press(" ")
    page.wait_for_function("() => window.pagemigStatus === 'paused'")
    page.keyboard.press(" ")
    page.wait_for_function("() => window.pagemigStatus === 'running'")
    page.keyboard.press("?")
    help_box = page.locator("#help-overlay")
    help_box.wait_for()
    assert "Pause / resume" in help_box.inner_text()
    shot(page, "run-shortcuts-help")
    page.keyboard.press("Escape")
    assert page.locator("#help-overlay").count() == 0


def test_speed_changes_the_frame_rate(live_site, page):
    login_local(page, live_site)
    run = create_run(page, {"scenario": long_scenario(), "seed": 5})
    page.goto(live_site.url + run["url"])
    wait_frames(page, 3)
    page.select_option("#ctl-speed", "5")
    page.wait_for_function("() => window.pagemigLastOk && window.pagemigLastOk.op === 'speed'")
    page.evaluate(
        """() => { window.__seen = [];
            window.pagemigRun.on('status', m => m.fps !== undefined && window.__seen.push(m.fps)); }"""
    )
    page.select_option("#ctl-speed", "10")
    page.wait_for_function("() => window.__seen.includes(10)")
