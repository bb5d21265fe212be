"""What every app benchmark shares: the server under test, headless chromium, reading a page, the card.

The server runs with the environment it is given (ACCVIZ_MODEL, ACCVIZ_CACHE, ...), so the same
driver serves the tests with a tiny model. Server times come from the app's own metrics
(``app.server.Metrics``, written to ACCVIZ_METRICS_FILE), so they do not include the browsers' time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from accviz.machine import provenance
from app.server import summarize

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = REPO_ROOT / "cached_runs" / "bench"
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
def streamlit_server(env: dict | None = None, log_path: Path | None = None, *, inherit_env: bool = True):
    """Starts the app on a free loopback port; yields (url, process, seconds until healthy). Its
    environment is ours updated with ``env``, or exactly ``env`` when ``inherit_env`` is False."""
    port = free_port()
    log = open(log_path, "w") if log_path else subprocess.DEVNULL
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app" / "streamlit_app.py"),
         "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
         "--browser.gatherUsageStats", "false"],
        env=dict(os.environ, **(env or {})) if inherit_env else dict(env or {}), stdout=log,
        stderr=subprocess.STDOUT,
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


def _proc_status_mib(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_memory_mib(pid: int) -> float:
    """VmHWM (peak resident set) of a process, from /proc."""
    return _proc_status_mib(pid, "VmHWM")


def resident_memory_mib(pid: int) -> float:
    """VmRSS (resident set now) of a process, from /proc."""
    return _proc_status_mib(pid, "VmRSS")


def server_times(metrics_file: Path) -> dict:
    """p50/p95 of the server's own records (app.server.Metrics) for the run just finished."""
    if not metrics_file.exists():
        return {}
    rows = [json.loads(line) for line in metrics_file.read_text().splitlines() if line.strip()]
    times = summarize([row for row in rows if row["kind"] != "cache"])
    cache = [row for row in rows if row["kind"] == "cache"]
    if cache:
        times["result_cache_at_end"] = {"mib": cache[-1]["bytes"] / 2**20, "entries": cache[-1]["entries"]}
    return times


def write_card(name: str, payload: dict, command: str) -> Path:
    """``payload`` with ``accviz.machine.provenance`` (command, date, versions, machine), as
    cached_runs/bench/app_<name>.json."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    payload = {**payload, **provenance(command)}
    path = BENCH_DIR / f"app_{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def _niced_chromium(nice: int) -> str:
    """A wrapper that starts chromium at CPU priority ``nice`` (its children inherit it)."""
    wrapper = Path(tempfile.mkdtemp(prefix="accviz-chromium-")) / "chromium"
    wrapper.write_text(f'#!/bin/sh\nexec nice -n {int(nice)} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


@asynccontextmanager
async def chromium(*extra: str, nice: int | None = None):
    """Debian's headless chromium driven by Playwright (never `playwright install`), at CPU
    priority ``nice`` if given; yields the browser and closes it."""
    # Playwright is a dev extra: imported here, so the summaries (soak_summary, check_sessions)
    # and `--help` work without it.
    from playwright.async_api import async_playwright

    executable = CHROMIUM if nice is None else _niced_chromium(nice)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu", *extra]
        )
        try:
            yield browser
        finally:
            await browser.close()


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


async def heatmap_tokens(page) -> str:
    return await page.evaluate(HEATMAP_TOKENS_JS)


async def wait_heatmap_change(page, old_tokens: str, timeout=120_000) -> None:
    """Until the score heatmap shows other tokens than before: the new text has been analysed."""
    await page.wait_for_function(
        f"() => ({HEATMAP_TOKENS_JS})() !== {json.dumps(old_tokens)}", timeout=timeout
    )


async def idle(page, timeout=120_000):
    """Until the app's script run has finished (stApp's data-test-script-state)."""
    await page.wait_for_timeout(400)  # let a rerun triggered just before start
    await page.wait_for_function(SCRIPT_IDLE_JS, timeout=timeout)


async def metric(page, label: str, part: str = "stMetricValue") -> str:
    """The value (or, with part="stMetricDelta", the delta) of the metric whose label starts with ``label``."""
    label_element = page.locator('[data-testid="stMetricLabel"]').get_by_text(
        re.compile("^" + re.escape(label))
    )
    card = page.locator('[data-testid="stMetric"]').filter(has=label_element).first
    return await card.locator(f'[data-testid="{part}"]').inner_text(timeout=120_000)


async def wait_metric_change(page, label: str, old: str, timeout_s: float = 60) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if (await metric(page, label)) != old:
            return time.perf_counter() - started
        await page.wait_for_timeout(10)
    raise TimeoutError(f"metric {label!r} did not change")


async def submit(page, box, text: str) -> None:
    """Type ``text`` into Explore's box and wait until the page shows its analysis."""
    before = await heatmap_tokens(page)
    await box.fill(text, timeout=120_000)
    await box.press("Control+Enter")
    await wait_heatmap_change(page, before)
    await idle(page)


async def open_explore(context, url: str, timeout_ms: int = 300_000):
    page = await context.new_page()
    await page.goto(
        url, timeout=timeout_ms
    )  # Explore is the default page; deep links work once the app has run
    box = page.locator("textarea").first
    await box.wait_for(timeout=timeout_ms)
    await idle(page, timeout=timeout_ms)  # a busy page is inert: typing into it fails
    await page.locator(".js-plotly-plot").first.wait_for(timeout=timeout_ms)
    return page, box


async def pick_option(page, label: str, index: int, attempts: int = 3) -> None:
    """Choose the ``index``-th option of the sidebar select box ``label``. A box low in a tall
    sidebar is scrolled into view by the click, and its list can close with that scroll: then
    the click is repeated (the box is in view by then)."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout  # a dev extra, as in chromium()

    box, options = page.get_by_role("combobox", name=label), page.get_by_role("option")
    for attempt in range(attempts):
        await box.click()
        try:
            await options.first.wait_for(timeout=5_000)
            break
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise
    await options.nth(index).click()
    await idle(page)
