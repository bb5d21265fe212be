"""timings: cold start (warm cache) to the first full render, slider move to the updated
estimate, Explore re-analysis of a sentence."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

from app.benchmarks.harness import (
    SENTENCES,
    chromium,
    heatmap_tokens,
    idle,
    metric,
    server_times,
    streamlit_server,
    wait_heatmap_change,
    wait_metric_change,
)


async def app_timings(url: str, repeats: int = 5) -> dict:
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1300, "height": 1000})
        started = time.perf_counter()
        await page.goto(url)  # Explore, the default page, opens on the first dev example
        await page.locator(".js-plotly-plot").first.wait_for(timeout=600_000)
        await idle(page, timeout=600_000)
        box = page.locator("textarea").first
        first_render = time.perf_counter() - started

        reanalysis = []
        for sentence in SENTENCES[1 : repeats + 1]:
            before = await heatmap_tokens(page)
            await box.fill(sentence)
            moment = time.perf_counter()
            await box.press("Control+Enter")
            await wait_heatmap_change(page, before)
            reanalysis.append(time.perf_counter() - moment)
            await idle(page)

        await page.goto(f"{url}/tradeoff")
        await page.locator('[data-testid="stMetric"]', has_text="Estimated speedup").first.wait_for(
            timeout=600_000
        )
        await idle(page, timeout=600_000)
        live = page.get_by_text("Measure latency and accuracy live")
        await live.click()  # the estimate alone: what the slider recomputes instantly
        await idle(page)
        slider = page.locator('[data-testid="stSlider"] input').first
        slider_moves = []
        for step in range(repeats):
            old = await metric(page, "Estimated speedup")
            await slider.focus()
            moment = time.perf_counter()
            await slider.press("ArrowRight" if step % 2 == 0 else "ArrowLeft")
            await wait_metric_change(page, "Estimated speedup", old)
            slider_moves.append(time.perf_counter() - moment)
            await idle(page)
    return {
        "first_full_render_s": first_render,
        "slider_to_estimate_s": statistics.median(slider_moves),
        "slider_to_estimate_samples_s": slider_moves,
        "explore_reanalysis_s": statistics.median(reanalysis),
        "explore_reanalysis_samples_s": reanalysis,
    }


def run(env: dict, metrics_file: Path) -> dict:
    """Against a server started with ``env``; its own times from ``metrics_file``."""
    with streamlit_server(env) as (url, _, healthy_s):
        result = asyncio.run(app_timings(url))
        result["server_healthy_s"] = healthy_s
        result["server_times"] = server_times(metrics_file)
    return result
