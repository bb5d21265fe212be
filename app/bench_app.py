"""App benchmarks and the load test, in a real browser (Debian chromium + Playwright).

    python -m app.bench_app timings   cold start (warm cache) to first full render, slider move to
                                      updated estimate, Explore re-analysis of a sentence
    python -m app.bench_app load      10 sessions at once against one server: correct, independent
                                      results; the server's peak memory; the slowest session

Results go to cached_runs/bench/app_*.json. The server runs with the environment it is given
(ACCVIZ_MODEL, ACCVIZ_CACHE, ...), so the same driver serves the tests with a tiny model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SENTENCES = [
    "a charming and often affecting journey .",
    "the plot is nothing but boilerplate clichés from start to finish .",
    "an utterly compelling , funny and humane film .",
    "it drags on far too long and never finds its footing .",
    "the performances are terrific , the script is not .",
    "a gorgeous , witty , seductive movie .",
    "dull , flat and lifeless , with nothing to say .",
    "one of the best films of the year .",
    "i was bored out of my mind .",
    "smart , sharp and surprisingly moving .",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def streamlit_server(env: dict | None = None, log_path: Path | None = None):
    """Starts the app on a free loopback port; yields (url, process, seconds until healthy)."""
    port = free_port()
    log = open(log_path, "w") if log_path else subprocess.DEVNULL
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app" / "streamlit_app.py"),
         "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
         "--browser.gatherUsageStats", "false"],
        env=dict(os.environ, **(env or {})), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the Streamlit server did not come up") from None
                time.sleep(0.2)
        yield url, process, time.perf_counter() - started
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        if log_path:
            log.close()


def peak_memory_mib(pid: int) -> float:
    """VmHWM (peak resident set) of a process, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


SCRIPT_IDLE_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    const state = app && app.getAttribute('data-test-script-state');
    return state && !['running', 'rerunRequested', 'initial'].includes(state);
}"""


HEATMAP_TOKENS_JS = """() => {
    const plots = Array.from(document.querySelectorAll('.js-plotly-plot'));
    const heat = plots.map(p => p.data && p.data[0]).find(t => t && t.type === 'heatmap');
    return heat ? Array.from(heat.x).join(' ') : '';
}"""


async def _heatmap_tokens(page) -> str:
    return await page.evaluate(HEATMAP_TOKENS_JS)


async def _wait_heatmap_change(page, old_tokens: str, timeout=120_000) -> None:
    """Until the score heatmap shows other tokens than before: the new text has been analysed."""
    await page.wait_for_function(
        f"() => ({HEATMAP_TOKENS_JS})() !== {json.dumps(old_tokens)}", timeout=timeout
    )


async def _idle(page, timeout=120_000):
    """Until the app's script run has finished (stApp's data-test-script-state)."""
    await page.wait_for_timeout(400)  # let a rerun triggered just before start
    await page.wait_for_function(SCRIPT_IDLE_JS, timeout=timeout)


async def _metric(page, label: str) -> str:
    label_element = page.locator('[data-testid="stMetricLabel"]').get_by_text(
        re.compile("^" + re.escape(label))
    )
    card = page.locator('[data-testid="stMetric"]').filter(has=label_element).first
    return await card.locator('[data-testid="stMetricValue"]').inner_text(timeout=120_000)


async def _wait_metric_change(page, label: str, old: str, timeout_s: float = 60) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if (await _metric(page, label)) != old:
            return time.perf_counter() - started
        await page.wait_for_timeout(10)
    raise TimeoutError(f"metric {label!r} did not change")


async def _analyse_in_session(browser, url: str, text: str) -> dict:
    """One visitor: open Explore, enter a text, read both predictions."""
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    page = await context.new_page()
    started = time.perf_counter()
    await page.goto(url)  # Explore is the default page; deep links work once the server has run the app
    box = page.locator("textarea").first
    await box.wait_for(timeout=120_000)
    await _idle(page)  # a busy page is inert: typing into it fails
    await page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
    before = await _heatmap_tokens(page)  # Explore opens on a dev example: wait for *this* text's analysis
    await box.fill(text, timeout=120_000)
    await box.press("Control+Enter")
    await _wait_heatmap_change(page, before)
    await _idle(page)
    await (
        page.locator('[data-testid="stMetricLabel"]')
        .get_by_text(re.compile("^Pruned"))
        .first.wait_for(timeout=120_000)
    )
    result = {
        "text": text,
        "unpruned": await _metric(page, "Unpruned"),
        "pruned": await _metric(page, "Pruned"),
        "seconds": time.perf_counter() - started,
    }
    await context.close()
    return result


async def load_sessions(url: str, texts: list[str]) -> list[dict]:
    """All sessions at once against one server."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            return await asyncio.gather(*(_analyse_in_session(browser, url, text) for text in texts))
        finally:
            await browser.close()


async def app_timings(url: str, repeats: int = 5) -> dict:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        page = await browser.new_page(viewport={"width": 1300, "height": 1000})
        started = time.perf_counter()
        await page.goto(url)  # Explore, the default page, opens on the first dev example
        await page.locator(".js-plotly-plot").first.wait_for(timeout=600_000)
        await _idle(page, timeout=600_000)
        box = page.locator("textarea").first
        first_render = time.perf_counter() - started

        reanalysis = []
        for sentence in SENTENCES[1 : repeats + 1]:
            before = await _heatmap_tokens(page)
            await box.fill(sentence)
            moment = time.perf_counter()
            await box.press("Control+Enter")
            await _wait_heatmap_change(page, before)
            reanalysis.append(time.perf_counter() - moment)
            await _idle(page)

        await page.goto(f"{url}/tradeoff")
        await page.locator('[data-testid="stMetric"]', has_text="Estimated speedup").first.wait_for(
            timeout=600_000
        )
        await _idle(page, timeout=600_000)
        live = page.get_by_text("Measure latency and accuracy live")
        await live.click()  # the estimate alone: what the slider recomputes instantly
        await _idle(page)
        slider = page.locator('[data-testid="stSlider"] input').first
        slider_moves = []
        for step in range(repeats):
            old = await _metric(page, "Estimated speedup")
            await slider.focus()
            moment = time.perf_counter()
            await slider.press("ArrowRight" if step % 2 == 0 else "ArrowLeft")
            await _wait_metric_change(page, "Estimated speedup", old)
            slider_moves.append(time.perf_counter() - moment)
            await _idle(page)
        await browser.close()
    return {
        "first_full_render_s": first_render,
        "slider_to_estimate_s": statistics.median(slider_moves),
        "slider_to_estimate_samples_s": slider_moves,
        "explore_reanalysis_s": statistics.median(reanalysis),
        "explore_reanalysis_samples_s": reanalysis,
    }


def _write(name: str, payload: dict) -> Path:
    from accviz.finetune import library_versions, machine_description

    out = REPO_ROOT / "cached_runs" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        **payload,
        "command": "python -m app.bench_app " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine_description(),
        "versions": library_versions(),
    }
    path = out / f"app_{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["timings", "load"])
    parser.add_argument("--sessions", type=int, default=10)
    args = parser.parse_args(argv)
    with streamlit_server() as (url, process, healthy_s):
        if args.what == "timings":
            result = asyncio.run(app_timings(url))
            result["server_healthy_s"] = healthy_s
        else:
            texts = [SENTENCES[i % len(SENTENCES)] for i in range(args.sessions)]
            started = time.perf_counter()
            sessions = asyncio.run(load_sessions(url, texts))
            result = {
                "sessions": sessions,
                "wall_s": time.perf_counter() - started,
                "slowest_session_s": max(s["seconds"] for s in sessions),
                "server_peak_rss_mib": peak_memory_mib(process.pid),
                "server_alive": process.poll() is None,
            }
    path = _write(args.what, result)
    print(json.dumps({k: v for k, v in result.items() if k != "sessions"}, indent=2))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
