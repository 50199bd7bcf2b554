"""Exports: scenario (TOML, JSON), metrics (CSV), the heatmap (PNG), an animation (WebM)."""

import json
import tomllib

import pytest

from tests.browserkit import create_run, login_local, long_scenario, shot, wait_frames

pytestmark = pytest.mark.browser


def export(page, what):
    with page.expect_download() as dl:
        page.select_option("#export", what)
    return dl.value


def test_every_export_downloads_a_usable_file(live_site, page, tmp_path):
    login_local(page, live_site)
    run = create_run(page, {"scenario": long_scenario(), "seed": 3})
    page.goto(live_site.url + run["url"])
    page.wait_for_function("() => window.pagemigMetricsSamples > 1")

    toml = export(page, "scenario-toml")
    data = tomllib.loads(open(toml.path()).read())
    assert data["drivers"][0]["name"] == "drv"
    js = export(page, "scenario-json")
    assert json.loads(open(js.path()).read())["seed"] == 3

    csv = export(page, "csv")
    lines = open(csv.path()).read().splitlines()
    assert lines[0].startswith("seq,")
    assert len(lines) >= 2

    png = export(page, "png")
    assert png.suggested_filename.endswith(".png")
    assert open(png.path(), "rb").read(8) == b"\x89PNG\r\n\x1a\n"

    # The animation: start recording, let frames arrive, stop.
    page.select_option("#export", "webm")
    page.locator("#recording").wait_for()
    frames = page.evaluate("() => window.pagemigFrames")
    wait_frames(page, frames + 30)
    with page.expect_download() as dl:
        page.click("#recording")
    webm = open(dl.value.path(), "rb").read()
    assert dl.value.suggested_filename.endswith(".webm")
    assert webm[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a Matroska/WebM file
    assert len(webm) > 1000
    shot(page, "run-exported")
