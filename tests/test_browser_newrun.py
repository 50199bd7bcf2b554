"""New run page: invalid values come back from the API and show at their field."""

import pytest

from tests.browserkit import login_local, shot

pytestmark = pytest.mark.browser


def test_it_shows_a_run_field_error_at_the_field(live_site, page, console):
    console.allow_status(400, "/api/v1/runs/")
    login_local(page, live_site)
    page.goto(live_site.url + "/new/")
    page.fill("#f-seed", "-5")
    page.click("#create-run")
    err = page.locator('[data-field="seed"] .field-error')
    err.wait_for()
    assert "integer from 0" in err.inner_text()
    assert "has-error" in page.locator('[data-field="seed"]').get_attribute("class")
    # Still on the form: nothing was created.
    assert page.url.endswith("/new/")
    shot(page, "new-run-seed-error")


def test_it_shows_an_engine_field_error_at_the_zone_input(live_site, page, console):
    """A zone that is not a whole number of pageblocks: the engine names
    memory.zones[0].pages and the form marks that input."""
    console.allow_status(400, "/api/v1/runs/")
    login_local(page, live_site)
    page.goto(live_site.url + "/new/")
    pages_input = page.locator('[data-field="memory.zones[0].pages"] input')
    pages_input.fill("1500")
    page.click("#create-run")
    err = page.locator('[data-field="memory.zones[0].pages"] .field-error')
    err.wait_for()
    assert "multiple of 512" in err.inner_text()
    assert page.url.endswith("/new/")
    shot(page, "new-run-field-error", full_page=True)
    # Fixing the value clears the mark.
    pages_input.fill("1024")
    assert page.locator('[data-field="memory.zones[0].pages"] .field-error').count() == 0


def test_the_toml_editor_points_at_the_line_of_a_bad_value(live_site, page, console):
    console.allow_status(400, "/api/v1/scenarios/check")
    login_local(page, live_site)
    page.goto(live_site.url + "/new/")
    page.click('#mode-tabs button[data-mode="toml"]')
    text = page.locator("#scenario-text")
    toml = text.input_value()
    assert "[[memory.zones]]" in toml
    text.fill(toml.replace("fragmentation = 0.8", "fragmentation = 7"))
    page.click("#check-text")
    err = page.locator("#editor-errors .field-error")
    err.wait_for()
    msg = err.first.inner_text()
    assert "layout.fragmentation" in msg
    line = next(i for i, t in enumerate(text.input_value().split("\n")) if "fragmentation" in t)
    assert msg.startswith(f"line {line + 1}:")
    shot(page, "new-run-toml-error")


def test_a_preset_edited_in_the_form_starts_a_run(live_site, page):
    """Preset picker, a driver added from the driver presets with an -EAGAIN injection,
    one more timeline event: the engine accepts it and the run page opens."""
    login_local(page, live_site)
    page.goto(live_site.url + "/new/")
    page.select_option("#preset", "lru_only")
    assert page.locator("#f-title").input_value() == "lru_only"
    page.select_option("#add-driver-preset", "virtio_balloon")
    page.click("#add-driver")
    row = page.locator('#drivers-table tr[data-driver="0"]')
    row.locator('[data-field="drivers[0].pages"] input').fill("256")
    row.get_by_role("button", name="add injection").click()
    page.locator('[data-field="drivers[0].injection.probability"] input').fill("50")
    page.locator('[data-field="drivers[0].injection.end_ms"] input').fill("100")
    page.click("#add-event")
    shot(page, "new-run-form", full_page=True)
    page.click("#create-run")
    page.wait_for_url("**/runs/**")
    scenario = page.evaluate(
        "() => JSON.parse(document.getElementById('run-scenario').textContent)"
    )
    assert scenario["drivers"][0]["preset"] == "virtio_balloon"
    assert scenario["drivers"][0]["injection"]["probability"] == 50
    assert len(scenario["timeline"]) == 2
    page.wait_for_function("() => window.pagemigFrames > 0")


def test_a_scenario_written_as_toml_starts_a_run(live_site, page):
    login_local(page, live_site)
    page.goto(live_site.url + "/new/")
    page.click('#mode-tabs button[data-mode="toml"]')
    page.fill(
        "#scenario-text",
        'name = "typed"\n\n[memory]\nzones = [{ name = "Normal", pages = 8192 }]\n\n'
        '[[timeline]]\nat_ms = 0\naction = "compact_memory"\n',
    )
    page.click("#create-run")
    page.wait_for_url("**/runs/**")
    assert page.evaluate("() => window.pagemigRun.cfg.run").count("-") == 4
    page.wait_for_function("() => window.pagemigFrames > 0")
    assert page.evaluate("() => window.pagemigRun.heatmap.cells") == 8192
