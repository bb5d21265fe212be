"""App benchmarks and the load test, in a real browser (Debian chromium + Playwright).

    python -m app.bench_app timings   cold start (warm cache) to first full render, slider move to
                                      updated estimate, Explore re-analysis of a sentence
    python -m app.bench_app load      N sessions (--sessions, default 10) at once against one server:
                                      what each page shows (text, labels, probabilities, kept
                                      tokens) against the engine's answer for that session's input;
                                      the server's own p50/p95 per analysis and per queue wait
    python -m app.bench_app corpus    the Corpus page on SST-2 dev: task picked -> figures (cold),
                                      a slider step -> figures (cold), and back (cached)
    python -m app.bench_app soak      --inputs (300) distinct ~512-token inputs at varied speedups
                                      and strategies through one server: its resident memory after
                                      each, as a curve (PNG) and a card

Results go to cached_runs/bench/app_*.json. The server runs with the environment it is given
(ACCVIZ_MODEL, ACCVIZ_CACHE, ...), so the same driver serves the tests with a tiny model. Server
times come from the app's own metrics (app.server.Metrics, written to ACCVIZ_METRICS_FILE), so
they do not include the browsers' time.
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

import numpy as np

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


WORDS = (
    "film story actor plot scene music camera director script moment character drama comedy "
    "light dark slow quick warm cold bright dull clever tired fresh stale bold quiet loud gentle "
    "honest strange familiar sharp soft rough smooth sweet bitter funny sad brave shy wild calm "
    "never always often rarely almost barely truly simply really quite rather very so too "
    "love hate enjoy miss watch follow forget remember trust doubt admire ignore laugh cry"
).split()


def distinct_texts(n: int, words: int, seed: int = 0) -> list[str]:
    """``n`` different texts of ``words`` words each (seeded), so no two inputs share a cache entry."""
    import random

    rng = random.Random(seed)
    return [f"text {i} : " + " ".join(rng.choice(WORDS) for _ in range(words)) + " ." for i in range(n)]


def session_texts(n: int) -> list[str]:
    """``n`` short, different reviews: one per load-test session."""
    return [f"{SENTENCES[i % len(SENTENCES)][:-2]} , take {i} ." for i in range(n)]


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


async def _metric(page, label: str, part: str = "stMetricValue") -> str:
    """The value (or, with part="stMetricDelta", the delta) of the metric whose label starts with ``label``."""
    label_element = page.locator('[data-testid="stMetricLabel"]').get_by_text(
        re.compile("^" + re.escape(label))
    )
    card = page.locator('[data-testid="stMetric"]').filter(has=label_element).first
    return await card.locator(f'[data-testid="{part}"]').inner_text(timeout=120_000)


async def _wait_metric_change(page, label: str, old: str, timeout_s: float = 60) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if (await _metric(page, label)) != old:
            return time.perf_counter() - started
        await page.wait_for_timeout(10)
    raise TimeoutError(f"metric {label!r} did not change")


async def _survivors(page) -> list[str]:
    """The tokens listed under "Survive to the last layer"."""
    text = await (
        page.locator('[data-testid="stMarkdownContainer"]')
        .filter(has_text="Survive to the last layer")
        .first.inner_text(timeout=120_000)
    )
    return text.split(":", 1)[1].split()


async def read_explore(page) -> dict:
    """What the Explore page shows for its current input."""
    return {
        "shown_text": await page.locator("textarea").first.input_value(),
        "unpruned": await _metric(page, "Unpruned"),
        "unpruned_delta": await _metric(page, "Unpruned", "stMetricDelta"),
        "pruned": await _metric(page, "Pruned"),
        "pruned_delta": await _metric(page, "Pruned", "stMetricDelta"),
        "survivors": await _survivors(page),
    }


def expected_explore(analysis) -> dict:
    """What the Explore page should show for this analysis (the fields ``read_explore`` reads)."""

    def delta(prediction, prefix=""):
        return prefix + ("" if prediction.probability is None else f"p = {prediction.probability:.1%}")

    agreement = "agrees" if analysis.agree else "differs"
    return {
        "unpruned": analysis.unpruned.label,
        "unpruned_delta": delta(analysis.unpruned),
        "pruned": analysis.pruned.label,
        "pruned_delta": delta(analysis.pruned, f"{agreement} · "),
        "survivors": list(analysis.survivors),
    }


async def _submit(page, box, text: str) -> None:
    """Type ``text`` into Explore's box and wait until the page shows its analysis."""
    before = await _heatmap_tokens(page)
    await box.fill(text, timeout=120_000)
    await box.press("Control+Enter")
    await _wait_heatmap_change(page, before)
    await _idle(page)


async def _open_explore(context, url: str, timeout_ms: int = 300_000):
    page = await context.new_page()
    await page.goto(
        url, timeout=timeout_ms
    )  # Explore is the default page; deep links work once the app has run
    box = page.locator("textarea").first
    await box.wait_for(timeout=timeout_ms)
    await _idle(page, timeout=timeout_ms)  # a busy page is inert: typing into it fails
    await page.locator(".js-plotly-plot").first.wait_for(timeout=timeout_ms)
    return page, box


async def _analyse_in_session(browser, url: str, text: str) -> dict:
    """One visitor: open Explore, enter a text, read back what the page shows."""
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    started = time.perf_counter()
    page, box = await _open_explore(context, url)
    await _submit(page, box, text)
    await (
        page.locator('[data-testid="stMetricLabel"]')
        .get_by_text(re.compile("^Pruned"))
        .first.wait_for(timeout=120_000)
    )
    result = {"text": text, **await read_explore(page), "seconds": time.perf_counter() - started}
    await context.close()
    return result


# The load client must not take the 2 cores from the server it measures: many pages share one
# renderer process, and the browser runs at the lowest CPU priority (nice 19).
LOAD_CLIENT_ARGS = ("--renderer-process-limit=1",)
LOAD_CLIENT_NICE = 19


def _niced_chromium(nice: int) -> str:
    """A wrapper that starts chromium at CPU priority ``nice`` (its children inherit it)."""
    import tempfile

    wrapper = Path(tempfile.mkdtemp(prefix="accviz-chromium-")) / "chromium"
    wrapper.write_text(f'#!/bin/sh\nexec nice -n {int(nice)} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


async def _launch(playwright, *extra: str, nice: int | None = None):
    executable = CHROMIUM if nice is None else _niced_chromium(nice)
    return await playwright.chromium.launch(
        executable_path=executable, args=["--no-sandbox", "--disable-gpu", *extra]
    )


async def load_sessions(url: str, texts: list[str]) -> list[dict]:
    """All sessions at once against one server: one chromium process, one browser context each."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await _launch(playwright, *LOAD_CLIENT_ARGS, nice=LOAD_CLIENT_NICE)
        try:
            return await asyncio.gather(*(_analyse_in_session(browser, url, text) for text in texts))
        finally:
            await browser.close()


async def _pick_option(page, label: str, index: int) -> None:
    """Choose the ``index``-th option of the sidebar select box ``label``."""
    await page.get_by_role("combobox", name=label).click()
    await page.get_by_role("option").nth(index).click()
    await _idle(page)


async def soak(url: str, pid: int, texts: list[str], strategies: int, session_every: int = 50) -> dict:
    """Every text through Explore, one after another, at a speedup and strategy that change as
    it goes (a new browser session every ``session_every`` inputs); the server's RSS after each."""
    from playwright.async_api import async_playwright

    curve = []
    async with async_playwright() as playwright:
        browser = await _launch(playwright)
        try:
            context = page = box = None
            for i, text in enumerate(texts):
                if i % session_every == 0:
                    if context is not None:
                        await context.close()
                    context = await browser.new_context(viewport={"width": 1300, "height": 900})
                    page, box = await _open_explore(context, url)
                    if i == 0:
                        warm = resident_memory_mib(pid)
                if i % 7 == 3:  # another strategy
                    await _pick_option(page, "Token-scoring strategy", (i // 7) % strategies)
                if i % 3 == 1:  # another speedup: the slider moves 1-4 steps of 0.25x either way
                    handle = page.locator('[data-testid="stSlider"] input').first
                    await handle.focus()
                    for _ in range(1 + i % 4):
                        await handle.press("ArrowRight" if (i // 3) % 2 == 0 else "ArrowLeft")
                    await _idle(page)
                await _submit(page, box, text)
                curve.append(resident_memory_mib(pid))
            await context.close()
        finally:
            await browser.close()
    return {"warm_rss_mib": warm, "rss_after_each_mib": curve}


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


async def _time_until_text(page, pattern: str, timeout_s: float = 300) -> float:
    started = time.perf_counter()
    await page.get_by_text(re.compile(pattern)).first.wait_for(timeout=timeout_s * 1000)
    return time.perf_counter() - started


async def corpus_timings(url: str, task: str = "sst2") -> dict:
    """The Corpus page on a task's dev split: from picking the task to the figures (the lens
    computed cold), from a slider step to the figures at the new speedup (cold), and back (cached)."""
    from playwright.async_api import async_playwright

    from accviz.data.tasks import TASKS

    async with async_playwright() as playwright:
        browser = await _launch(playwright)
        page = await browser.new_page(viewport={"width": 1400, "height": 1400})
        await page.goto(url)
        await _idle(page, timeout=600_000)
        await page.goto(f"{url}/corpus")
        await page.locator(".js-plotly-plot").first.wait_for(timeout=600_000)
        await _idle(page, timeout=600_000)
        moment = time.perf_counter()
        await _pick_option(page, "Task", list(TASKS).index(task))
        await page.get_by_text(re.compile(r"examples · acc at 2x")).first.wait_for(timeout=600_000)
        await _idle(page, timeout=600_000)
        cold_task = time.perf_counter() - moment
        caption = await page.get_by_text(re.compile(r"examples · acc at 2x")).first.inner_text()
        slider = page.locator('[data-testid="stSlider"] input').first
        await slider.focus()
        await slider.press("ArrowRight")
        cold_step = await _time_until_text(page, r"examples · acc at 2.25x")
        await _idle(page)
        await slider.focus()
        await slider.press("ArrowLeft")
        cached = await _time_until_text(page, r"examples · acc at 2x")
        await _idle(page)
        await page.screenshot(
            path=str(REPO_ROOT / "cached_runs" / "bench" / "app_corpus.png"), full_page=True
        )
        await browser.close()
    return {"task": task, "caption": caption, "task_to_figures_cold_s": cold_task, "slider_step_to_figures_cold_s": cold_step,
            "slider_back_to_figures_cached_s": cached}  # fmt: skip


def _write(name: str, payload: dict) -> Path:
    from accviz.train.finetune import library_versions, machine_description

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


def served_model():
    """The model and task label names the app opens on, as ``app.state`` picks them."""
    from accviz.data.tasks import TASKS
    from accviz.store.cache import read_card
    from accviz.store.checkpoints import default_model_dir
    from accviz.store.loading import load_model

    reference = os.environ.get("ACCVIZ_MODEL") or str(default_model_dir())
    loaded = load_model(reference, attn_implementation="sdpa")
    try:
        task = read_card(Path(reference), verify=False).get("task")
    except Exception:  # no card: a plain checkpoint
        task = None
    task = task or os.environ.get("ACCVIZ_TASK", "rotten_tomatoes")
    spec = TASKS[task if task in TASKS else "rotten_tomatoes"]
    return loaded, tuple(spec.label_names) or None


def expected_answers(texts: list[str], speedup: float = 2.0, strategy: str = "acc") -> dict[str, dict]:
    """The engine's answer for each text, as Explore shows it at its default speedup and strategy."""
    from accviz.explain.analysis import analyze_text

    loaded, label_names = served_model()
    return {
        text: expected_explore(
            analyze_text(
                loaded.model,
                loaded.tokenizer,
                text,
                target_speedup=speedup,
                strategy=strategy,
                label_names=label_names,
                output_attentions=False,
            )  # fmt: skip
        )
        for text in texts
    }


def check_sessions(sessions: list[dict], expected: dict[str, dict]) -> list[str]:
    """Every difference between what a session's page showed and the engine's answer for its input."""
    problems = []
    for session in sessions:
        want = expected[session["text"]]
        if session["shown_text"] != session["text"]:
            problems.append(f"session of {session['text']!r} shows the text {session['shown_text']!r}")
        for field, value in want.items():
            if session[field] != value:
                problems.append(
                    f"session of {session['text']!r}: {field} {session[field]!r}, expected {value!r}"
                )
    return problems


def server_times(metrics_file: Path) -> dict:
    """p50/p95 of the server's own records (app.server.Metrics) for the run just finished."""
    from app.server import summarize

    if not metrics_file.exists():
        return {}
    rows = [json.loads(line) for line in metrics_file.read_text().splitlines() if line.strip()]
    times = summarize([row for row in rows if row["kind"] != "cache"])
    cache = [row for row in rows if row["kind"] == "cache"]
    if cache:
        times["result_cache_at_end"] = {"mib": cache[-1]["bytes"] / 2**20, "entries": cache[-1]["entries"]}
    return times


def rss_figure(curve: list[float], warm: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=120)
    ax.plot(range(1, len(curve) + 1), curve, color="#1f77b4", lw=1.4, label="server RSS after each input")
    ax.axhline(warm, color="#555555", ls="--", lw=1, label=f"warm start ({warm:.0f} MiB)")
    ax.axhline(warm + 1536, color="#d62728", ls=":", lw=1, label="goal: warm + 1.5 GiB")
    ax.set_xlabel("distinct long inputs analysed")
    ax.set_ylabel("resident memory (MiB)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("accviz app under a soak of long inputs", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def soak_summary(curve: list[float], warm: float, window: int = 100) -> dict:
    """Growth over the warm start, and whether it stopped: the mean RSS of the last ``window``
    inputs against the ``window`` before, and the least-squares slope over the last ``window``
    (the curve is a saw-tooth as Python's collector and the allocator give memory back)."""
    tail = np.asarray(curve[-window:])
    before = np.asarray(curve[-2 * window : -window]) if len(curve) > window else tail[:1]
    slope = float(np.polyfit(np.arange(len(tail)), tail, 1)[0]) if len(tail) > 1 else 0.0
    return {
        "inputs": len(curve),
        "warm_rss_mib": warm,
        "peak_rss_mib": max(curve),
        "growth_over_warm_mib": max(curve) - warm,
        "window": len(tail),
        "mean_last_window_mib": float(tail.mean()),
        "mean_previous_window_mib": float(before.mean()),
        "growth_between_windows_mib": float(tail.mean() - before.mean()),
        "slope_last_window_mib_per_input": slope,
    }


def main(argv=None) -> int:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["timings", "load", "soak", "corpus"])
    parser.add_argument("--sessions", type=int, default=10, help="load: sessions at once")
    parser.add_argument("--inputs", type=int, default=300, help="soak: distinct long inputs")
    parser.add_argument("--words", type=int, default=480, help="soak: words per input (~512 tokens)")
    parser.add_argument("--name", default=None, help="result file app_<name>.json (default: the mode)")
    parser.add_argument(
        "--threads", type=int, default=None,
        help="the server's torch threads (ACCVIZ_THREADS; load default 1, as an exposed server runs)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    metrics_file = Path(tempfile.mkdtemp(prefix="accviz-metrics-")) / "metrics.jsonl"
    env = {"ACCVIZ_METRICS_FILE": str(metrics_file)}
    threads = args.threads if args.threads is not None else (1 if args.what == "load" else None)
    if threads is not None:
        env["ACCVIZ_THREADS"] = str(threads)
    expected = None
    if args.what == "load":
        texts = session_texts(args.sessions)
        expected = expected_answers(texts)
    with streamlit_server(env) as (url, process, healthy_s):
        if args.what == "timings":
            result = asyncio.run(app_timings(url))
            result["server_healthy_s"] = healthy_s
        elif args.what == "corpus":
            result = asyncio.run(corpus_timings(url))
        elif args.what == "load":
            started = time.perf_counter()
            sessions = asyncio.run(load_sessions(url, texts))
            problems = check_sessions(sessions, expected)
            result = {
                "client": f"one chromium process at nice {LOAD_CLIENT_NICE}, {args.sessions} browser contexts (one page "
                f"each), all at once, chromium flags {' '.join(LOAD_CLIENT_ARGS)}",
                "sessions": sessions,
                "n_sessions": len(sessions),
                "correct_sessions": sum(not check_sessions([s], expected) for s in sessions),
                "distinct_expected_answers": len({json.dumps(v, sort_keys=True) for v in expected.values()}),
                "problems": problems,
                "wall_s": time.perf_counter() - started,
                "slowest_session_s": max(s["seconds"] for s in sessions),
                "server_peak_rss_mib": peak_memory_mib(process.pid),
                "server_alive": process.poll() is None,
            }
        else:
            from accviz.method.scoring import STRATEGY_ORDER

            texts = distinct_texts(args.inputs, args.words)
            soaked = asyncio.run(soak(url, process.pid, texts, strategies=len(STRATEGY_ORDER)))
            result = {
                **soak_summary(soaked["rss_after_each_mib"], soaked["warm_rss_mib"]),
                "rss_after_each_mib": soaked["rss_after_each_mib"],
                "words_per_input": args.words,
                "server_alive": process.poll() is None,
            }
        result["server_times"] = server_times(metrics_file)
    result["model"] = os.environ.get("ACCVIZ_MODEL") or "the embedded default"
    result["server_torch_threads"] = int(
        env.get("ACCVIZ_THREADS", os.environ.get("ACCVIZ_THREADS", os.cpu_count() or 1))
    )
    name = args.name or (
        args.what
        if args.what != "load"
        else f"load_{args.sessions}" + (f"_threads{threads}" if threads != 1 else "")
    )
    if args.what == "soak":
        figure = REPO_ROOT / "cached_runs" / "bench" / f"app_{name}.png"
        figure.parent.mkdir(parents=True, exist_ok=True)
        rss_figure(result["rss_after_each_mib"], result["warm_rss_mib"], figure)
        result["figure"] = str(figure.relative_to(REPO_ROOT))
    path = _write(name, result)
    shown = {k: v for k, v in result.items() if k not in ("sessions", "rss_after_each_mib", "problems")}
    print(json.dumps(shown, indent=2))
    print(f"wrote {path}")
    return 0 if result.get("server_alive") else 1


if __name__ == "__main__":
    sys.exit(main())
