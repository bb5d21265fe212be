"""corpus: the Corpus page on SST-2 dev: task picked -> figures (cold), a slider step -> figures
(cold), and back (cached)."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import time
from pathlib import Path

from accviz.data.tasks import TASKS
from accviz.errors import AccvizError
from accviz.store.checkpoints import default_model_dir
from app.benchmarks.harness import BENCH_DIR, chromium, idle, pick_option, server_times, streamlit_server


async def _time_until_text(page, pattern: str, timeout_s: float = 300) -> float:
    started = time.perf_counter()
    await page.get_by_text(re.compile(pattern)).first.wait_for(timeout=timeout_s * 1000)
    return time.perf_counter() - started


async def corpus_timings(url: str, task: str = "sst2") -> dict:
    """The Corpus page on a task's dev split: from picking the task to the figures (the lens
    computed cold), from a slider step to the figures at the new speedup (cold), and back (cached)."""
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 1400})
        await page.goto(url)
        await idle(page, timeout=600_000)
        await page.goto(f"{url}/corpus")
        await page.locator(".js-plotly-plot").first.wait_for(timeout=600_000)
        await idle(page, timeout=600_000)
        moment = time.perf_counter()
        await pick_option(page, "Task", list(TASKS).index(task))
        await page.get_by_text(re.compile(r"examples · acc at 2x")).first.wait_for(timeout=600_000)
        await idle(page, timeout=600_000)
        cold_task = time.perf_counter() - moment
        caption = await page.get_by_text(re.compile(r"examples · acc at 2x")).first.inner_text()
        slider = page.locator('[data-testid="stSlider"] input').first
        await slider.focus()
        await slider.press("ArrowRight")
        cold_step = await _time_until_text(page, r"examples · acc at 2.25x")
        await idle(page)
        await slider.focus()
        await slider.press("ArrowLeft")
        cached = await _time_until_text(page, r"examples · acc at 2x")
        await idle(page)
        await page.screenshot(path=str(BENCH_DIR / "app_corpus.png"), full_page=True)
    return {"task": task, "caption": caption, "task_to_figures_cold_s": cold_task, "slider_step_to_figures_cold_s": cold_step,
            "slider_back_to_figures_cached_s": cached}  # fmt: skip


def run(env: dict, metrics_file: Path) -> dict:
    """Against a server started with ``env`` and an empty cache of its own, so that "cold" is cold
    (the lens is cached on disk); the model is the usual one (``ACCVIZ_MODEL``, else the default)."""
    model = os.environ.get("ACCVIZ_MODEL") or str(default_model_dir())
    if not (Path(model) / "config.json").exists():
        raise AccvizError(f"No model at {model}: run `accviz prepare` (or set ACCVIZ_MODEL) first.")
    lens_cache = tempfile.mkdtemp(prefix="accviz-corpus-bench-")
    with streamlit_server({**env, "ACCVIZ_CACHE": lens_cache, "ACCVIZ_MODEL": model}) as (url, _, _):
        result = asyncio.run(corpus_timings(url))
        result["server_times"] = server_times(metrics_file)
    result.update(model_path=model, lens_cache=f"empty at start ({lens_cache})")
    return result
