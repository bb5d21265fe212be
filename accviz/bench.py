"""Benchmarks: does the FLOPs model's speedup show up as latency, and what does accuracy cost?

    python -m accviz.bench speedup|fidelity|accuracy|int8|frontier|choice|gpu|all|report [--smoke] [--threads N] [--out DIR]

speedup   BERT-base shapes, 128 real tokens, batch 1 and 16, targets 1.5/2/3/4: estimated speedup
          (FLOPs model) against measured latency speedup over the plain HF model (eager and sdpa;
          reported against the faster), and how much comes from the exact [CLS]-only last layer
          (``accviz.measure.bench_speedup``).
fidelity  BERT-base and all-MiniLM-L6-v2, lengths 64/128/256, batch 1 and 16, targets 1.5..5:
          measured / estimated, with spreads; then the calibrated ``LatencyModel`` fit on some
          profiles and scored on held-out ones (``accviz.measure.bench_fidelity``).
accuracy  pivots the sweeps that ``accviz sweep`` wrote to cached_runs/*/sweep.csv: metric at
          1/1.5/2/3/4x per strategy, and the speedup reachable within 0.75 points of the baseline;
          and the average drop over tasks per training suite (cached_runs/suites.json, accviz.measure.average);
          ``accviz.measure.bench_accuracy``.
int8      int8 weights × elimination against fp32 unpruned (``accviz.measure.bench_int8``).
frontier  the levers of cached_runs/frontier.json over seeds, and their envelope (``accviz.measure.frontier``).
choice    per task, the recipe whose searched runs score best on held-out train slices
          (cached_runs/choices.json, ``accviz.measure.held_out_choice``); measures nothing.
gpu       BERT-base on a GPU, fp32 and bf16 (``accviz.measure.bench_gpu``); skipped without CUDA.
report    prints the stored tables as Markdown (what the README shows); measures nothing
          (``accviz.measure.report``).

Latencies are medians of interleaved rounds (``accviz.measure.latency``, ``accviz.measure.workloads``);
every ratio is measured in one run, so a busy shared machine slows both sides alike. Tables go to
``--out`` as CSV plus a JSON card saying what produced them (``accviz.results``, ``accviz.machine``).
``--smoke`` runs a tiny 2-layer model in seconds (for tests). This module is the command line only.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from accviz.errors import AccvizError
from accviz.machine import busy_machine_warning
from accviz.measure.bench_accuracy import run_accuracy
from accviz.measure.bench_fidelity import run_fidelity
from accviz.measure.bench_gpu import GPU_FULL, GPU_SMOKE, run_gpu
from accviz.measure.bench_int8 import INT8_FULL, INT8_SMOKE, run_int8
from accviz.measure.bench_speedup import run_speedup
from accviz.measure.frontier import run_frontier
from accviz.measure.held_out_choice import run_choice
from accviz.measure.report import run_report
from accviz.measure.workloads import FIDELITY_FULL, FIDELITY_SMOKE, SPEEDUP_FULL, SPEEDUP_SMOKE
from accviz.results import BENCH_DIR

DEFAULT_OUT = BENCH_DIR
SMOKE_OUT = DEFAULT_OUT / "smoke"  # smoke tables never overwrite the real ones


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m accviz.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "benchmark",
        choices=("speedup", "fidelity", "accuracy", "int8", "gpu", "frontier", "choice", "all", "report"),
    )
    parser.add_argument("--smoke", action="store_true", help="a tiny 2-layer model, 2 repeats: seconds")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--out", type=Path, default=None, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument(
        "--cached-runs", type=Path, default=Path("cached_runs"), help="where the sweeps are (accuracy)"
    )
    parser.add_argument("--note", default="", help="free text for the JSON card, e.g. why --threads 1")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    out_dir = args.out or (SMOKE_OUT if args.smoke else DEFAULT_OUT)
    common = {"command": "python -m accviz.bench " + shlex.join(argv), "smoke": args.smoke, "note": args.note}
    chosen = {"all": ("speedup", "fidelity", "accuracy"), "report": ()}.get(args.benchmark, (args.benchmark,))
    if {"speedup", "fidelity", "int8"} & set(chosen):
        torch.set_num_threads(args.threads)  # explicit: timings depend on it, and the card records it
        warning = busy_machine_warning(args.threads)
        if warning:
            print(warning, file=sys.stderr)
    if args.benchmark == "report":  # Markdown of the stored tables, for the README: measures nothing
        try:
            run_report(out_dir)
        except AccvizError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        return 0
    try:
        if "speedup" in chosen:
            run_speedup(SPEEDUP_SMOKE if args.smoke else SPEEDUP_FULL, out_dir, **common)
        if "fidelity" in chosen:
            run_fidelity(FIDELITY_SMOKE if args.smoke else FIDELITY_FULL, out_dir, **common)
        if "accuracy" in chosen:
            run_accuracy(args.cached_runs, out_dir, **common)
        if "int8" in chosen:
            run_int8(INT8_SMOKE if args.smoke else INT8_FULL, out_dir, **common)
        if "frontier" in chosen:
            run_frontier(args.cached_runs, out_dir, **common)
        if "choice" in chosen:
            run_choice(args.cached_runs, out_dir, **common)
        if "gpu" in chosen:
            run_gpu(GPU_SMOKE if args.smoke else GPU_FULL, out_dir, **common)
    except AccvizError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
