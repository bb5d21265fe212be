"""load: N sessions at once against one server. What each page shows (text, labels,
probabilities, kept tokens) against the engine's answer for that session's input; the server's
own p50/p95 per analysis and per queue wait."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from pathlib import Path

from accviz.data.tasks import TASKS
from accviz.explain.analysis import analyze_text
from accviz.method.scoring import ACC, ChosenStrategy
from accviz.store.cache import read_card
from accviz.store.checkpoints import default_model_dir
from accviz.store.loading import load_model
from app.benchmarks.harness import (
    SENTENCES,
    chromium,
    metric,
    open_explore,
    peak_memory_mib,
    server_times,
    streamlit_server,
    submit,
)

# The load client must not take the 2 cores from the server it measures: many pages share one
# renderer process, and the browser runs at the lowest CPU priority (nice 19).
LOAD_CLIENT_ARGS = ("--renderer-process-limit=1",)
LOAD_CLIENT_NICE = 19


def session_texts(n: int) -> list[str]:
    """``n`` short, different reviews: one per load-test session."""
    return [f"{SENTENCES[i % len(SENTENCES)][:-2]} , take {i} ." for i in range(n)]


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
        "unpruned": await metric(page, "Unpruned"),
        "unpruned_delta": await metric(page, "Unpruned", "stMetricDelta"),
        "pruned": await metric(page, "Pruned"),
        "pruned_delta": await metric(page, "Pruned", "stMetricDelta"),
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


async def _analyse_in_session(browser, url: str, text: str) -> dict:
    """One visitor: open Explore, enter a text, read back what the page shows."""
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    started = time.perf_counter()
    page, box = await open_explore(context, url)
    await submit(page, box, text)
    await (
        page.locator('[data-testid="stMetricLabel"]')
        .get_by_text(re.compile("^Pruned"))
        .first.wait_for(timeout=120_000)
    )
    result = {"text": text, **await read_explore(page), "seconds": time.perf_counter() - started}
    await context.close()
    return result


async def load_sessions(url: str, texts: list[str]) -> list[dict]:
    """All sessions at once against one server: one chromium process, one browser context each."""
    async with chromium(*LOAD_CLIENT_ARGS, nice=LOAD_CLIENT_NICE) as browser:
        return await asyncio.gather(*(_analyse_in_session(browser, url, text) for text in texts))


def served_model():
    """The model and task label names the app opens on, as ``app.state`` picks them."""
    reference = os.environ.get("ACCVIZ_MODEL") or str(default_model_dir())
    loaded = load_model(reference, attn_implementation="sdpa")
    try:
        task = read_card(Path(reference), verify=False).get("task")
    except Exception:  # no card: a plain checkpoint
        task = None
    task = task or os.environ.get("ACCVIZ_TASK", "rotten_tomatoes")
    spec = TASKS[task if task in TASKS else "rotten_tomatoes"]
    return loaded, tuple(spec.label_names) or None


def expected_answers(
    texts: list[str], speedup: float = 2.0, strategy: ChosenStrategy = ACC
) -> dict[str, dict]:
    """The engine's answer for each text, as Explore shows it at its default speedup and strategy."""
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


def run(sessions: int, env: dict, metrics_file: Path) -> dict:
    """``sessions`` visitors at once against a server started with ``env``; its own times from
    ``metrics_file``. The engine's answers are computed before the server starts."""
    texts = session_texts(sessions)
    expected = expected_answers(texts)
    with streamlit_server(env) as (url, process, _):
        started = time.perf_counter()
        shown = asyncio.run(load_sessions(url, texts))
        problems = check_sessions(shown, expected)
        result = {
            "client": f"one chromium process at nice {LOAD_CLIENT_NICE}, {sessions} browser contexts (one page "
            f"each), all at once, chromium flags {' '.join(LOAD_CLIENT_ARGS)}",
            "sessions": shown,
            "n_sessions": len(shown),
            "correct_sessions": sum(not check_sessions([s], expected) for s in shown),
            "distinct_expected_answers": len({json.dumps(v, sort_keys=True) for v in expected.values()}),
            "problems": problems,
            "wall_s": time.perf_counter() - started,
            "slowest_session_s": max(s["seconds"] for s in shown),
            "server_peak_rss_mib": peak_memory_mib(process.pid),
            "server_alive": process.poll() is None,
        }
        result["server_times"] = server_times(metrics_file)
    return result
