"""first-start: a new user's first start: an empty ACCVIZ_CACHE and no GLUE folder, from starting
the server to Explore's first heatmap (the pretrained encoder, "not ready yet" in place of the
predictions), then to the default model's predictions once its background fine-tune is published."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from app.benchmarks.harness import chromium, idle, streamlit_server

NOT_READY = "not ready yet"


async def first_start(url: str, started: float, ready_timeout_s: float) -> dict:
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1300, "height": 1000})
        await page.goto(url)
        await page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
        first_heatmap = time.perf_counter() - started
        waiting_label = await page.get_by_text(NOT_READY).count() > 0
        # the sidebar's job box reruns the page when the job publishes the model; no reload here
        metric = page.locator('[data-testid="stMetric"]', has_text="Unpruned").first
        deadline = time.monotonic() + ready_timeout_s
        ready = None
        while time.monotonic() < deadline:
            text = await metric.inner_text() if await metric.count() else ""
            if text and NOT_READY not in text:
                ready = time.perf_counter() - started
                break
            await asyncio.sleep(1.0)
        if ready is not None:
            await idle(page)
    return {
        "first_heatmap_s": first_heatmap,
        "not_ready_label_shown": waiting_label,
        "default_model_ready_s": ready,
        "ready_timeout_s": ready_timeout_s,
    }


def run(env: dict, metrics_file: Path, ready_timeout_s: float = 900.0) -> dict:
    """Against a server with an empty cache of its own (``env`` plus ACCVIZ_CACHE) and no GLUE folder."""
    cache = tempfile.mkdtemp(prefix="accviz-first-start-")
    env = {**env, "ACCVIZ_CACHE": cache, "ACCVIZ_GLUE_DIR": ""}
    started = time.perf_counter()
    with streamlit_server(env) as (url, _, healthy_s):
        result = asyncio.run(first_start(url, started, ready_timeout_s))
    result.update(server_healthy_s=healthy_s, cache=cache, glue_dir=None)
    result["ok"] = result["default_model_ready_s"] is not None  # the exit code says if it got there
    return result
