"""Benchmark: does the FLOPs model's speedup show up as latency on BERT-base?

    python -m accviz.bench speedup [--smoke] [--threads N]   ->  cached_runs/bench/speedup.csv (+ .json)

BERT-base shapes, 128 real tokens, batch 1 and 16, targets 1.5/2/3/4 (``SPEEDUP_FULL``): per batch
size one workload (``accviz.measure.workloads``), all timed in one interleaved run. Each target's
row holds the estimated speedup (FLOPs model) next to the measured one, median(baseline) /
median(pruned), against the faster plain HF model (eager or sdpa) of the same rounds; the
exact-last-layer-only row tells how much of it needs no elimination at all. The summary names the
targets whose measured / estimated reaches ``FIDELITY_GOAL``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from accviz.measure.bench_fidelity import FIDELITY_GOAL
from accviz.measure.report import show_table
from accviz.measure.workloads import (
    EXACT_ONLY,
    SpeedupSettings,
    Workload,
    measure_all,
    measurement_rows,
    plain_models,
)
from accviz.method.profile import DEFAULT_FAMILY
from accviz.results import bench_card, write_table

SPEEDUP_SHOWN = (  # the columns printed when it finishes; the CSV has them all
    "batch_size",
    "variant",
    "estimated_speedup",
    "measured_speedup",
    "baseline",
    "measured_over_estimated",
    "measured_vs_eager",
    "measured_vs_sdpa",
    "elimination_only_estimated",
    "elimination_only_measured",
    "pruned_ms",
    "baseline_ms",
    "repeats",
)


def run_speedup(
    settings: SpeedupSettings, out_dir: Path, *, command: str, smoke: bool, note: str = "", log=print
) -> pd.DataFrame:
    card = bench_card(
        "speedup",
        command,
        smoke,
        {
            "model": settings.encoder.name,
            "length": settings.length,
            "batch_sizes": list(settings.batch_sizes),
            "targets": list(settings.targets),
            "budget": vars(settings.budget),
            "scorer": "acc",
            "profile_family": DEFAULT_FAMILY,
            "baseline": "the faster of HF eager and HF sdpa, model(input_ids, attention_mask)",
        },
        note,
    )
    log(f"speedup: {settings.encoder.name}, {settings.length} real tokens, batches {settings.batch_sizes}")
    model = settings.encoder.build()
    plain = plain_models(model)
    workloads = [
        Workload(settings.encoder.name, model, plain, settings.length, b) for b in settings.batch_sizes
    ]
    rows = []
    for measured in measure_all(workloads, settings.targets, settings.budget, log):
        rows += measurement_rows(measured)
    table = pd.DataFrame(rows)
    summary = speedup_summary(table)
    card["summary"] = summary
    write_table(out_dir, "speedup", table, card)
    log(
        show_table(table, SPEEDUP_SHOWN, f"\nspeedup: {settings.encoder.name}, {settings.length} real tokens")
    )
    for line in summary["lines"]:
        log(line)
    return table


def speedup_summary(table: pd.DataFrame) -> dict:
    """Per batch size: the baseline, what the exact last layer alone gives, the targets meeting the goal."""
    lines = []
    meets = {}
    for batch_size, group in table.groupby("batch_size", sort=True):
        targets = group[group["variant"] != EXACT_ONLY]
        good = targets[targets["measured_over_estimated"] >= FIDELITY_GOAL]["target_speedup"].tolist()
        meets[int(batch_size)] = good
        exact = group[group["variant"] == EXACT_ONLY].iloc[0]
        lines.append(
            f"batch {batch_size}: baseline {exact['baseline']} ({exact['baseline_ms']:.1f} ms); "
            f"exact [CLS]-only last layer alone: {exact['measured_speedup']:.2f}x measured vs "
            f"{exact['estimated_speedup']:.2f}x estimated; targets with measured/estimated >= "
            f"{FIDELITY_GOAL}: {', '.join(f'{t:g}x' for t in good) or 'none'}"
        )
    return {"targets_meeting_goal": meets, "goal": FIDELITY_GOAL, "lines": lines}
