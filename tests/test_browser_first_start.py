"""The first start in a real browser (Debian's chromium, Playwright): an empty cache, and the default
model fine-tuned by the background job (a tiny base and fixture data, through the test hooks of
``accviz.store.checkpoints``). Explore's heatmap shows while the job runs, the predictions say
"not ready yet", and they appear, without a reload, once the job has published the model."""

import json
import os
import re
import time

import pytest

from accviz.store import checkpoints

from .conftest import save_tiny_base, write_glue_train_fixture
from .test_browser import ARTIFACTS, app_server, browser, metric_value  # noqa: F401 (browser: a fixture)

pytestmark = pytest.mark.browser
# Trains until its 20 s time budget stops it (then publishes, as the default recipe does on a slow
# machine): long enough to see the pages before it ends, short enough for a test.
SLOW_TINY_RECIPE = {"task": "sst2", "max_train_examples": 48, "batch_size": 8, "epochs": 5000.0,
                    "time_budget_s": 20.0, "eval_examples": 16}  # fmt: skip


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory, minilm_tokenizer):
    root = tmp_path_factory.mktemp("fresh-start")
    env = {key: value for key, value in os.environ.items() if key not in ("ACCVIZ_MODEL", "ACCVIZ_TASK")}
    env.update(
        ACCVIZ_CACHE=str(root / "empty-cache"),
        ACCVIZ_GLUE_DIR=str(write_glue_train_fixture(root / "glue")),
        ACCVIZ_CACHED_RUNS=str(root / "no-runs"),
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        **{
            checkpoints.DEFAULT_BASE_ENV: str(save_tiny_base(root / "tiny-base", minilm_tokenizer)),
            checkpoints.DEFAULT_RECIPE_ENV: json.dumps(SLOW_TINY_RECIPE),
        },
    )
    with app_server(env, "streamlit-first-start.log") as url:
        yield url, root / "empty-cache"


def test_the_heatmap_shows_before_the_job_ends_and_predictions_after(fresh_server, browser):  # noqa: F811
    url, cache = fresh_server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    started = time.monotonic()
    page.goto(url)
    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
    first_render_s = time.monotonic() - started
    assert first_render_s < 20, f"Explore's heatmap took {first_render_s:.1f} s"
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text(re.compile("^Fine-tuning the default model")).first.wait_for(timeout=10_000)
    assert metric_value(page, "Pruned") == "not ready yet"
    assert metric_value(page, "Unpruned") == "not ready yet"
    assert not list(cache.glob("models/*/card.json"))  # the job has not published the model yet
    page.screenshot(path=str(ARTIFACTS / "first-start-not-ready.png"))

    deadline = time.monotonic() + 150  # the job: ~20 s of training, dev scoring, then a rerun
    while time.monotonic() < deadline and metric_value(page, "Pruned") == "not ready yet":
        page.wait_for_timeout(500)
    assert metric_value(page, "Pruned") in ("negative", "positive")
    assert list(cache.glob("models/*/card.json"))
    # the run that shows the predictions drops the progress bar when it ends
    sidebar.get_by_text(re.compile("^Fine-tuning the default model")).first.wait_for(
        state="detached", timeout=30_000
    )
    page.screenshot(path=str(ARTIFACTS / "first-start-ready.png"))
    page.close()
