"""Explore's Compare panel in a real browser (Debian's chromium, Playwright; never `playwright install`).

The same server as tests/test_browser.py (the tiny fixture model on a free loopback port): turn
"Compare with…" on and check that the two settings' aligned heatmap and the overlap chart are
drawn with what the engine computes. Screenshot in test-artifacts/.
"""

import numpy as np
import pytest

from .conftest import expected_strategy_comparison
from .test_browser import ARTIFACTS, browser, metric_value, server, wait_idle  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
TEXT = "a charming and often affecting journey , with a dull middle"

FIGURES_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(p => ({
    title: (p.layout && p.layout.title && p.layout.title.text) || '',
    names: (p.data || []).map(t => t.name || ''),
    y: ((p.data || [])[0] || {}).y ? Array.from(p.data[0].y._inputArray || p.data[0].y) : [],
}))"""


def test_compare_panel_shows_both_settings_and_the_overlap(app_env, server, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.goto(server)
    page.wait_for_selector("textarea", timeout=90_000)
    wait_idle(page)
    page.locator("textarea").first.fill(TEXT)
    page.locator("textarea").first.press("Control+Enter")
    wait_idle(page)
    page.get_by_text("Compare with…").click()
    page.get_by_text("Mean kept-set overlap").wait_for(timeout=90_000)
    wait_idle(page)
    assert not page.locator('[data-testid="stException"]').count()
    assert metric_value(page, "A · ACC") and metric_value(page, "B · attention (PoWER-BERT)")

    page.get_by_text("Reach the last layer with ACC only").scroll_into_view_if_needed()  # drawn when seen
    page.wait_for_function(f"() => ({FIGURES_JS})().some(f => f.title.includes('Kept-set overlap'))")
    figures = page.evaluate(FIGURES_JS)
    heatmap = next(f for f in figures if " vs " in f["title"])
    overlap = next(f for f in figures if "Kept-set overlap" in f["title"])
    assert "ACC vs attention (PoWER-BERT)" in heatmap["title"]  # Streamlit wraps titles in <b>
    assert "kept by ACC only" in " ".join(heatmap["names"])
    assert "kept by attention (PoWER-BERT) only" in " ".join(heatmap["names"])

    expected = expected_strategy_comparison(app_env["model"], TEXT, 2.0)
    np.testing.assert_allclose(np.asarray(overlap["y"], dtype=float), expected.overlap, atol=1e-9)
    page.screenshot(path=str(ARTIFACTS / "explore-compare.png"), full_page=True)
    page.close()
