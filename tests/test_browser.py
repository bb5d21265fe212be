"""End to end in a real browser: Debian's chromium driven by Playwright (never `playwright install`).

Starts the app on a free loopback port with the tiny fixture model, loads every page, moves the
speedup slider and checks that the estimate, the heatmap's eliminated cells and the accuracy
follow. Screenshots go to test-artifacts/.
"""

import json
import os
import re
import shutil
import time
from contextlib import contextmanager

import pytest

from app.benchmarks.harness import streamlit_server

from .conftest import REPO_ROOT

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO_ROOT / "test-artifacts"
if not os.path.exists(CHROMIUM):
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)", allow_module_level=True)
sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright


@contextmanager
def app_server(env: dict, log_name: str):
    """The app on a free loopback port with exactly ``env`` as its environment; yields its URL."""
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server(env, ARTIFACTS / log_name, inherit_env=False) as (url, _, _):
        yield url


@pytest.fixture(scope="module")
def server(app_env):
    with app_server(dict(os.environ), "streamlit-server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        yield instance
        instance.close()


def wait_idle(page, timeout=90_000):
    """Until the app's script run has finished (stApp's data-test-script-state)."""
    from app.bench_app import SCRIPT_IDLE_JS

    page.wait_for_timeout(400)  # let a rerun triggered just before start
    page.wait_for_function(SCRIPT_IDLE_JS, timeout=timeout)
    page.wait_for_timeout(200)


def open_page(page, server: str, name: str) -> None:
    """A deep link: Streamlit knows st.navigation's pages only once the app has run, so land on / first."""
    page.goto(server)
    page.wait_for_selector("textarea", timeout=90_000)
    page.goto(f"{server}/{name}")


def metric_value(page, label: str) -> str:
    label_element = page.locator('[data-testid="stMetricLabel"]').get_by_text(
        re.compile("^" + re.escape(label))
    )
    card = page.locator('[data-testid="stMetric"]').filter(has=label_element).first
    return card.locator('[data-testid="stMetricValue"]').inner_text(timeout=60_000)


def until_changed(page, label: str, old: str, timeout_s: float = 90) -> None:
    """Polls the metric ``label`` until it no longer shows ``old`` (or the time is up)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and metric_value(page, label) == old:
        page.wait_for_timeout(250)


def move_slider(page, steps: int) -> None:
    handle = page.locator('[data-testid="stSlider"] input').first
    handle.focus()
    for _ in range(abs(steps)):
        handle.press("ArrowRight" if steps > 0 else "ArrowLeft")
    wait_idle(page)


def heatmap_eliminated_cells(page) -> int:
    return page.evaluate(
        """() => {
            const plots = Array.from(document.querySelectorAll('.js-plotly-plot'));
            const heat = plots.map(p => p.data && p.data[0]).find(t => t && t.type === 'heatmap');
            if (!heat) return -1;
            // z arrives as nested arrays or typed arrays (plotly's base64 encoding), so flatten by hand
            const flat = (a) => (a !== null && typeof a === 'object' && typeof a.length === 'number')
                ? Array.from(a).flatMap(flat) : [a];
            const z = heat.z && heat.z._inputArray ? heat.z._inputArray : heat.z;  // decoded {dtype, bdata, shape}
            return flat(z).filter(v => v === null || Number.isNaN(v)).length;
        }"""
    )


def test_explore_page_in_chromium(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server)  # Explore is the default page
    page.wait_for_selector("textarea", timeout=90_000)
    from app.bench_app import HEATMAP_TOKENS_JS

    page.wait_for_selector(".js-plotly-plot", timeout=90_000)
    before_tokens = page.evaluate(HEATMAP_TOKENS_JS)
    page.locator("textarea").first.fill("a charming and often affecting journey , with a dull middle")
    page.locator("textarea").first.press("Control+Enter")
    page.wait_for_function(f"() => ({HEATMAP_TOKENS_JS})() !== {json.dumps(before_tokens)}", timeout=90_000)
    wait_idle(page)
    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
    before = (metric_value(page, "Estimated speedup"), heatmap_eliminated_cells(page))
    page.screenshot(path=str(ARTIFACTS / "explore-before.png"), full_page=True)
    move_slider(page, 4)  # +1.0x
    until_changed(page, "Estimated speedup", before[0])
    wait_idle(page)
    after = (metric_value(page, "Estimated speedup"), heatmap_eliminated_cells(page))
    page.screenshot(path=str(ARTIFACTS / "explore-after.png"), full_page=True)
    assert before[1] >= 0 and after[1] >= 0, "no heatmap on the page"
    assert after[0] != before[0]
    assert after[1] > before[1]
    page.close()


def test_tradeoff_page_in_chromium(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    open_page(page, server, "tradeoff")
    wait_idle(page)
    page.wait_for_selector('[data-testid="stMetric"]', timeout=90_000)
    before = (metric_value(page, "Estimated speedup"), metric_value(page, "accuracy (live"))
    move_slider(page, 8)  # 2.0x -> 4.0x
    # a busy machine may start the rerun after wait_idle looked: wait for the page to show it
    until_changed(page, "Estimated speedup", before[0])
    until_changed(page, "accuracy (live", before[1])
    wait_idle(page)
    after = (metric_value(page, "Estimated speedup"), metric_value(page, "accuracy (live"))
    page.screenshot(path=str(ARTIFACTS / "tradeoff.png"), full_page=True)
    assert float(after[0].rstrip("x")) > float(before[0].rstrip("x"))
    assert after[1] != before[1], "live accuracy did not follow the slider"
    page.close()


@pytest.mark.parametrize("name", ["attribution", "method"])
def test_other_pages_render_in_chromium(server, browser, name):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    open_page(page, server, name)
    wait_idle(page)
    page.wait_for_selector(".js-plotly-plot", timeout=90_000)
    assert not page.locator('[data-testid="stException"]').count()
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.close()


def test_corpus_page_in_chromium(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    open_page(page, server, "corpus")
    wait_idle(page)
    page.wait_for_selector(".js-plotly-plot", timeout=90_000)
    caption = page.get_by_text(re.compile(r"examples · acc at 2x")).first
    assert caption.count()
    move_slider(page, 4)  # 2.0x -> 3.0x
    page.get_by_text(re.compile(r"examples · acc at 3x")).first.wait_for(timeout=90_000)
    assert not page.locator('[data-testid="stException"]').count()
    assert page.locator(".js-plotly-plot").count() >= 6
    page.screenshot(path=str(ARTIFACTS / "corpus.png"), full_page=True)
    page.close()


def test_a_flip_link_opens_explore_on_that_text(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    open_page(page, server, "explore?text=a+linked+review+%2C+shared&speedup=3")
    wait_idle(page)
    assert page.locator("textarea").first.input_value() == "a linked review , shared"
    assert metric_value(page, "Estimated speedup")
    page.close()
