"""soak: --inputs (300) distinct ~512-token inputs at varied speedups and strategies through one
server: its resident memory after each, as a curve (PNG) and a card."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import numpy as np

from accviz.method.scoring import STRATEGY_ORDER
from app.benchmarks.harness import (
    REPO_ROOT,
    chromium,
    idle,
    open_explore,
    pick_option,
    resident_memory_mib,
    server_times,
    streamlit_server,
    submit,
)

WORDS = (
    "film story actor plot scene music camera director script moment character drama comedy "
    "light dark slow quick warm cold bright dull clever tired fresh stale bold quiet loud gentle "
    "honest strange familiar sharp soft rough smooth sweet bitter funny sad brave shy wild calm "
    "never always often rarely almost barely truly simply really quite rather very so too "
    "love hate enjoy miss watch follow forget remember trust doubt admire ignore laugh cry"
).split()


def distinct_texts(n: int, words: int, seed: int = 0) -> list[str]:
    """``n`` different texts of ``words`` words each (seeded), so no two inputs share a cache entry."""
    rng = random.Random(seed)
    return [f"text {i} : " + " ".join(rng.choice(WORDS) for _ in range(words)) + " ." for i in range(n)]


async def soak(url: str, pid: int, texts: list[str], strategies: int, session_every: int = 50) -> dict:
    """Every text through Explore, one after another, at a speedup and strategy that change as
    it goes (a new browser session every ``session_every`` inputs); the server's RSS after each."""
    curve = []
    async with chromium() as browser:
        context = page = box = None
        for i, text in enumerate(texts):
            if i % session_every == 0:
                if context is not None:
                    await context.close()
                context = await browser.new_context(viewport={"width": 1300, "height": 900})
                page, box = await open_explore(context, url)
                if i == 0:
                    warm = resident_memory_mib(pid)
            if i % 7 == 3:  # another strategy
                await pick_option(page, "Token-scoring strategy", (i // 7) % strategies)
            if i % 3 == 1:  # another speedup: the slider moves 1-4 steps of 0.25x either way
                handle = page.locator('[data-testid="stSlider"] input').first
                await handle.focus()
                for _ in range(1 + i % 4):
                    await handle.press("ArrowRight" if (i // 3) % 2 == 0 else "ArrowLeft")
                await idle(page)
            await submit(page, box, text)
            curve.append(resident_memory_mib(pid))
        await context.close()
    return {"warm_rss_mib": warm, "rss_after_each_mib": curve}


def rss_figure(curve: list[float], warm: float, path: Path) -> None:
    # matplotlib is not an accviz dependency: only this figure needs it, so it is imported here.
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


TOOTH_MIB = 50.0  # a fall of more than this after one input: memory handed back, a tooth of the saw


def soak_summary(curve: list[float], warm: float, window: int = 100) -> dict:
    """Growth over the warm start, and whether it stopped: the mean RSS of the last ``window``
    inputs against the ``window`` before, and the least-squares slope over the last ``window``.
    The curve is a saw-tooth as Python's collector and the allocator give memory back: its falls
    of more than TOOTH_MIB, their median height and the median number of inputs between them."""
    steps = np.diff(np.asarray(curve, dtype=float))
    falls = np.flatnonzero(steps < -TOOTH_MIB)
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
        "teeth": len(falls),
        "tooth_height_mib": float(np.median(-steps[falls])) if len(falls) else 0.0,
        "inputs_between_teeth": float(np.median(np.diff(falls))) if len(falls) > 1 else float("nan"),
    }


def run(inputs: int, words: int, env: dict, metrics_file: Path) -> dict:
    """``inputs`` distinct texts of ``words`` words through a server started with ``env``; its own
    times from ``metrics_file``."""
    texts = distinct_texts(inputs, words)
    with streamlit_server(env) as (url, process, _):
        soaked = asyncio.run(soak(url, process.pid, texts, strategies=len(STRATEGY_ORDER)))
        result = {
            **soak_summary(soaked["rss_after_each_mib"], soaked["warm_rss_mib"]),
            "rss_after_each_mib": soaked["rss_after_each_mib"],
            "words_per_input": words,
            "server_alive": process.poll() is None,
        }
        result["server_times"] = server_times(metrics_file)
    return result


def write_figure(result: dict, name: str) -> None:
    """The RSS curve as cached_runs/bench/app_<name>.png, named in ``result["figure"]``."""
    figure = REPO_ROOT / "cached_runs" / "bench" / f"app_{name}.png"
    figure.parent.mkdir(parents=True, exist_ok=True)
    rss_figure(result["rss_after_each_mib"], result["warm_rss_mib"], figure)
    result["figure"] = str(figure.relative_to(REPO_ROOT))
