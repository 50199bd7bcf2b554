"""A buggy driver's contract violations are called out, at the page where they happen."""

import pytest

from tests.browserkit import create_run, login_local, shot, wait_status

pytestmark = pytest.mark.browser


def test_contract_violations_are_listed_and_lead_to_their_page(live_site, page):
    login_local(page, live_site)
    run = create_run(page, {"preset": "buggy_driver", "seed": 1})
    wait_status(page, run, "succeeded")
    page.goto(live_site.url + run["url"])
    first = page.locator("#violations .violation").first
    first.wait_for()
    assert page.locator("#violations").is_visible()
    pfn = int(first.get_attribute("data-pfn"))
    assert "broke" in first.inner_text()
    # Marked on the heatmap, and one click shows that page with the violation in its history.
    assert pfn in page.evaluate("() => window.pagemigRun.heatmap.marks")
    first.get_by_role("button", name="show page").click()
    page.locator(f'#page-body[data-source="engine"][data-pfn="{pfn}"]').wait_for()
    assert "contract_violation" in page.locator("#page-body .history").inner_text()
    shot(page, "run-violations")
