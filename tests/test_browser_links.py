"""Shareable links, long inputs and downloads in a real browser (Debian's chromium, Playwright).

The server runs on the fixture data (``app_env``) with a tiny model that reads 512 positions, so
a 512-token input is real. Every test opens its link in a fresh browser context: a copied link
shares nothing with the session that made it.
"""

import json
import os
import re
import time
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from .conftest import tiny_bert_config
from .test_browser import ARTIFACTS, app_server, browser, metric_value, move_slider, wait_idle  # noqa: F401 (browser: a fixture)

pytestmark = pytest.mark.browser
sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
LONG_TEXT = " ".join(f"word{i % 97} ," for i in range(400))  # well past 512 word-pieces


@pytest.fixture(scope="module")
def long_model(app_env, minilm_tokenizer, tmp_path_factory):
    """A random 3-layer BERT with the real vocabulary and 512 positions (untrained: for the views)."""
    import torch
    from transformers import BertForSequenceClassification

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("long") / "tiny-512"
    config = tiny_bert_config(vocab_size=30522, max_position_embeddings=512)
    BertForSequenceClassification(config).eval().save_pretrained(folder)
    minilm_tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def server(app_env, long_model):
    with app_server(dict(os.environ, ACCVIZ_MODEL=str(long_model)), "streamlit-server-links.log") as url:
        yield url


@pytest.fixture
def fresh_page(browser):  # noqa: F811 (the fixture)
    """A page in its own browser context (no cookies, no storage): like a link opened elsewhere."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100}, accept_downloads=True)
    yield context.new_page()
    context.close()


def open_link(page, server: str, path_and_query: str) -> None:
    """Opens a link as a visitor would. st.navigation knows its pages once the app has run, so a
    deep link to another page than Explore lands on / first (as tests/test_browser.py does)."""
    if not path_and_query.startswith("/?"):
        page.goto(server)
        page.wait_for_selector("textarea", timeout=90_000)
    page.goto(server + path_and_query)
    wait_idle(page)


def url_params(page) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlparse(page.url).query).items()}


def until_url(page, key: str, value: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and url_params(page).get(key) != value:
        page.wait_for_timeout(250)
    assert url_params(page).get(key) == value, page.url


def slider_value(page) -> float:
    thumb = page.locator('[data-testid="stSlider"] [data-testid="stSliderThumbValue"]').first
    return float(thumb.inner_text(timeout=60_000))


def test_a_shared_link_reproduces_explore(server, browser, fresh_page):  # noqa: F811 (the fixture)
    text = "a charming and often affecting journey , with a dull middle"
    open_link(fresh_page, server, "/?" + urlencode({"text": text, "speedup": "3"}))
    fresh_page.wait_for_selector(".js-plotly-plot", timeout=90_000)
    shown = (fresh_page.locator("textarea").first.input_value(), slider_value(fresh_page))
    kept = fresh_page.locator('[data-testid="stMarkdown"]').filter(has_text="Survive to the last layer")
    kept_text = kept.first.inner_text(timeout=60_000)
    assert shown == (text, 3.0)
    until_url(fresh_page, "model", "tiny-512")  # the page wrote the whole view into the URL
    shared = fresh_page.url
    assert url_params(fresh_page)["task"] == "sst2" and url_params(fresh_page)["strategy"] == "acc"

    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    other = context.new_page()
    other.goto(shared)
    wait_idle(other)
    other.wait_for_selector(".js-plotly-plot", timeout=90_000)
    assert (other.locator("textarea").first.input_value(), slider_value(other)) == shown
    again = other.locator('[data-testid="stMarkdown"]').filter(has_text="Survive to the last layer")
    assert again.first.inner_text(timeout=60_000) == kept_text
    assert metric_value(other, "Estimated speedup") == metric_value(fresh_page, "Estimated speedup")
    context.close()


def test_a_tradeoff_link_and_the_slider_write_the_url(server, fresh_page):
    open_link(fresh_page, server, "/tradeoff?speedup=3")
    fresh_page.wait_for_selector('[data-testid="stMetric"]', timeout=90_000)
    assert slider_value(fresh_page) == 3.0
    until_url(fresh_page, "speedup", "3")
    assert url_params(fresh_page)["model"] == "tiny-512"
    move_slider(fresh_page, 2)  # 3.0 -> 3.5
    until_url(fresh_page, "speedup", "3.5")
    wait_idle(fresh_page)
    assert slider_value(fresh_page) == 3.5  # writing the URL did not pull the slider back
    assert "/tradeoff" in urlparse(fresh_page.url).path


def test_a_bad_link_value_falls_back_with_a_notice(server, fresh_page):
    open_link(fresh_page, server, "/?speedup=99&strategy=nope&model=%2Fetc%2Fpasswd")
    fresh_page.wait_for_selector('[data-testid="stAlert"]', timeout=90_000)
    notices = " ".join(fresh_page.locator('[data-testid="stAlert"]').all_inner_texts())
    assert "speedup '99'" in notices and "strategy 'nope'" in notices and "/etc/passwd" in notices
    assert slider_value(fresh_page) == 2.0
    until_url(fresh_page, "speedup", "2")
    assert url_params(fresh_page)["strategy"] == "acc" and url_params(fresh_page)["model"] == "tiny-512"
    assert not fresh_page.locator('[data-testid="stException"]').count()


def test_a_512_token_input_renders_windowed_and_downloads(server, fresh_page):
    open_link(fresh_page, server, "/?" + urlencode({"text": LONG_TEXT, "speedup": "2"}))
    fresh_page.wait_for_selector(".js-plotly-plot", timeout=90_000)
    heatmap = fresh_page.evaluate(
        """() => {
            const plot = Array.from(document.querySelectorAll('.js-plotly-plot'))
                .find(p => p.data && p.data[0] && p.data[0].type === 'heatmap');
            if (!plot) return null;
            return {tokens: plot.data[0].x.length, range: plot._fullLayout.xaxis.range,
                    slider: document.querySelectorAll('.rangeslider-container').length};
        }"""
    )
    assert heatmap and heatmap["tokens"] == 512 and heatmap["slider"] >= 1
    assert heatmap["range"][1] - heatmap["range"][0] == pytest.approx(64)
    expander = fresh_page.locator('[data-testid="stExpander"]').filter(has_text="Survive to the last layer")
    assert expander.count() == 1
    assert expander.locator("details").get_attribute("open") is None  # collapsed
    fresh_page.screenshot(path=str(ARTIFACTS / "explore-512.png"), full_page=True)

    with fresh_page.expect_download(timeout=60_000) as download:
        fresh_page.get_by_role("button", name=re.compile("JSON")).click()
    assert download.value.suggested_filename == "accviz-analysis.json"
    document = json.loads(open(download.value.path(), encoding="utf-8").read())
    assert len(document["tokens"]) == 512 and document["truncated"] is True
    assert document["target_speedup"] == 2.0 and document["about"]["model"] == "tiny-512"
    assert document["kept_per_layer"][0] < 512 and "label" in document["pruned"]


def test_the_camera_downloads_svg_when_asked(server, fresh_page):
    open_link(fresh_page, server, "/?text=a+short+review&speedup=2")
    fresh_page.get_by_text("SVG", exact=True).click()
    wait_idle(fresh_page)
    chart = fresh_page.locator(".js-plotly-plot").first
    chart.hover()
    with fresh_page.expect_download(timeout=60_000) as download:
        chart.locator('.modebar-btn[data-title^="Download plot"]').click()
    assert download.value.suggested_filename == "accviz-explore-heatmap.svg"
    assert open(download.value.path(), encoding="utf-8").read().lstrip().startswith("<svg")
