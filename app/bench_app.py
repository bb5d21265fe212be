"""App benchmarks and the load test, in a real browser (Debian chromium + Playwright).

    python -m app.bench_app timings   cold start (warm cache) to first full render, slider move to
                                      updated estimate, Explore re-analysis of a sentence
    python -m app.bench_app load      N sessions (--sessions, default 10) at once against one server:
                                      what each page shows (text, labels, probabilities, kept
                                      tokens) against the engine's answer for that session's input;
                                      the server's own p50/p95 per analysis and per queue wait
    python -m app.bench_app corpus    the Corpus page on SST-2 dev: task picked -> figures (cold),
                                      a slider step -> figures (cold), and back (cached)
    python -m app.bench_app first-start  an empty cache and no GLUE folder: server start -> Explore's
                                      first heatmap, and -> the default model's predictions
    python -m app.bench_app soak      --inputs (300) distinct ~512-token inputs at varied speedups
                                      and strategies through one server: its resident memory after
                                      each, as a curve (PNG) and a card

Results go to cached_runs/bench/app_*.json. Each mode is one module of ``app/benchmarks/``; what
they share (the server under test, chromium, reading a page, the card) is
``app/benchmarks/harness.py``. This file is the command line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import app.benchmarks.corpus
import app.benchmarks.first_start
import app.benchmarks.load
import app.benchmarks.soak
import app.benchmarks.timings
from app.benchmarks.harness import (
    HEATMAP_TOKENS_JS,
    SCRIPT_IDLE_JS,
    server_times,
    streamlit_server,
    write_card,
)
from app.benchmarks.load import check_sessions, expected_answers, load_sessions, session_texts
from app.benchmarks.soak import distinct_texts, soak, soak_summary

# What the tests import from here (this file held every mode before app/benchmarks/).
__all__ = [
    "HEATMAP_TOKENS_JS",
    "SCRIPT_IDLE_JS",
    "check_sessions",
    "distinct_texts",
    "expected_answers",
    "load_sessions",
    "main",
    "server_times",
    "session_texts",
    "soak",
    "soak_summary",
    "streamlit_server",
]
MODES = {
    "timings": app.benchmarks.timings,
    "load": app.benchmarks.load,
    "soak": app.benchmarks.soak,
    "corpus": app.benchmarks.corpus,
    "first-start": app.benchmarks.first_start,
}


def parser() -> argparse.ArgumentParser:
    """One subcommand per mode, each with its own flags."""
    command = argparse.ArgumentParser(
        prog="python -m app.bench_app",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n")[-1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    modes = command.add_subparsers(dest="what", required=True, metavar="{" + ",".join(MODES) + "}")
    for what, module in MODES.items():
        about = " ".join(module.__doc__.split())
        mode = modes.add_parser(what, help=about.split(": ", 1)[1], description=about)
        mode.add_argument("--name", default=None, help="result file app_<name>.json (default: the mode)")
        mode.add_argument(
            "--threads", type=int, default=None,
            help="the server's torch threads (ACCVIZ_THREADS; load default 1, as an exposed server runs)",
        )  # fmt: skip
        if what == "load":
            mode.add_argument(
                "--sessions", type=int, default=10, help="sessions at once (default %(default)s)"
            )
        if what == "soak":
            mode.add_argument(
                "--inputs", type=int, default=300, help="distinct long inputs (default %(default)s)"
            )
            mode.add_argument(
                "--words", type=int, default=480, help="words per input (default %(default)s: ~512 tokens)"
            )
    return command


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    metrics_file = Path(tempfile.mkdtemp(prefix="accviz-metrics-")) / "metrics.jsonl"
    env = {"ACCVIZ_METRICS_FILE": str(metrics_file)}
    threads = args.threads if args.threads is not None else (1 if args.what == "load" else None)
    if threads is not None:
        env["ACCVIZ_THREADS"] = str(threads)
    if args.what == "load":
        result = app.benchmarks.load.run(args.sessions, env, metrics_file)
    elif args.what == "soak":
        result = app.benchmarks.soak.run(args.inputs, args.words, env, metrics_file)
    else:
        result = MODES[args.what].run(env, metrics_file)
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
        app.benchmarks.soak.write_figure(result, name)
    path = write_card(name, result, command="python -m app.bench_app " + " ".join(sys.argv[1:]))
    shown = {k: v for k, v in result.items() if k not in ("sessions", "rss_after_each_mib", "problems")}
    print(json.dumps(shown, indent=2))
    print(f"wrote {path}")
    return 0 if result.get("server_alive", True) and result.get("ok", True) else 1


if __name__ == "__main__":
    sys.exit(main())
