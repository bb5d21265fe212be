"""Benchmark: what accuracy each strategy keeps at each speedup, from the stored sweeps.

    python -m accviz.bench accuracy   ->  cached_runs/bench/accuracy.csv, accuracy_average.csv (+ .json),
                                          accuracy_average_envelope.csv, ablation.csv

Measures nothing: it pivots every ``cached_runs/*/sweep.csv`` (``accviz.results.read_sweeps``,
checksums verified) into one row per (model, task, metric, strategy):

    baseline                 the strategy's own value at 1x (else the mean of the model's 1x values;
                             a shallower model that starts faster than 1x: its value at its first point)
    "1x" .. "4x"             the metric at ACCURACY_SPEEDUPS (NaN where the sweep has no such target)
    speedup_at_0.75_drop     the estimated speedup where the curve (metric against estimated speedup)
                             first drops MAX_DROP_POINTS below the baseline, interpolated linearly
    reachable_is_lower_bound True when the curve never drops that far (the last point is reported)
    max_estimated_speedup    the curve's last point

then averages the drop over tasks per training suite (``cached_runs/suites.json``,
``accviz.measure.average``) into ``accuracy_average.csv``, and keeps the best suite at each
speedup in ``accuracy_average_envelope.csv``; where ``suites.json`` names an ablation, one row per
lever over every task in ``ablation.csv`` (``accviz.measure.ablation``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from accviz.measure.ablation import ablation_spec, ablation_table
from accviz.measure.average import (
    MAX_DROP_POINTS,
    SUITES_FILE,
    average_drop_table,
    average_envelope,
    parse_comparisons,
    read_suites,
    speedup_at_drop,
)
from accviz.measure.report import show_table
from accviz.method.scoring import strategy_rank
from accviz.results import (
    ACCURACY_SPEEDUPS,
    COL_ESTIMATED,
    COL_METRIC,
    COL_MODEL,
    COL_STRATEGY,
    COL_TARGET,
    COL_TASK,
    COL_VALUE,
    SWEEP_FILE,
    accuracy_column,
    bench_card,
    list_sweeps,
    read_sweeps,
    write_companion_table,
    write_table,
)


def accuracy_table(cached_runs_dir: str | Path) -> pd.DataFrame:
    """Metric at 1/1.5/2/3/4x per (model, task, metric, strategy), and the speedup reachable at
    <= MAX_DROP_POINTS points below the unpruned (1.0x) value, interpolated along the curve of
    metric against estimated speedup. Empty when no sweep exists."""
    sweeps = read_sweeps(cached_runs_dir)
    if sweeps.empty:
        return pd.DataFrame()
    rows = []
    for (model, task, metric), group in sweeps.groupby([COL_MODEL, COL_TASK, COL_METRIC], sort=True):
        at_one = group[np.isclose(group[COL_TARGET], 1.0)]
        common_baseline = float(at_one[COL_VALUE].mean()) if len(at_one) else float("nan")
        for strategy in sorted(group[COL_STRATEGY].unique(), key=strategy_rank):
            curve = group[group[COL_STRATEGY] == strategy].sort_values(COL_TARGET)
            own_one = curve[np.isclose(curve[COL_TARGET], 1.0)]
            baseline = float(own_one[COL_VALUE].mean()) if len(own_one) else common_baseline
            if not len(at_one) and len(curve):  # a shallower model starts faster than 1x: its first point
                baseline = float(curve[COL_VALUE].iloc[0])
            row = {"model": model, "task": task, "metric": metric, "strategy": strategy, "baseline": baseline}
            for speedup in ACCURACY_SPEEDUPS:
                match = curve[np.isclose(curve[COL_TARGET], speedup)]
                row[accuracy_column(speedup)] = float(match[COL_VALUE].mean()) if len(match) else float("nan")
            reachable, censored = speedup_at_drop(curve[COL_ESTIMATED], curve[COL_VALUE], baseline)
            row[f"speedup_at_{MAX_DROP_POINTS:g}_drop"] = reachable
            row["reachable_is_lower_bound"] = censored
            row["max_estimated_speedup"] = float(curve[COL_ESTIMATED].max())
            rows.append(row)
    return pd.DataFrame(rows)


def run_accuracy(
    cached_runs_dir: Path,
    out_dir: Path,
    *,
    command: str,
    smoke: bool,
    note: str = "",
    log=print,
) -> pd.DataFrame:
    table = accuracy_table(cached_runs_dir)
    if table.empty:
        log(
            f"accuracy: no sweep found under {cached_runs_dir}/*/{SWEEP_FILE}. "
            "Run `accviz sweep --task sst2 --model ...` first; nothing written."
        )
        return table
    card = bench_card(
        "accuracy",
        command,
        smoke,
        {
            "cached_runs_dir": str(cached_runs_dir),
            "speedups": list(ACCURACY_SPEEDUPS),
            "max_drop_points": MAX_DROP_POINTS,
            "sweeps": [directory.name for directory in list_sweeps(cached_runs_dir)],
        },
        note,
    )
    # everything is read and computed first: a malformed suites.json (comparisons or ablation) writes nothing
    suites_file = Path(cached_runs_dir) / SUITES_FILE
    exists = suites_file.exists()
    suites = read_suites(suites_file) if exists else {}  # read once, parsed twice
    comparisons = parse_comparisons(suites, suites_file) if exists else []
    spec = ablation_spec(suites, comparisons, suites_file) if exists else None
    average = average_drop_table(table, comparisons)
    ablation = (
        ablation_table(table, *spec, Path(cached_runs_dir)) if spec and not average.empty else pd.DataFrame()
    )

    write_table(out_dir, "accuracy", table, card)
    log(
        show_table(
            table,
            table.columns,
            f"\naccuracy (percent) by target speedup; reachable speedup at <= {MAX_DROP_POINTS:g} points drop",
        )
    )
    if average.empty:
        log(f"average drop over tasks: no task has a sweep in every suite of {suites_file}; not written.")
        return table
    write_table(
        out_dir, "accuracy_average", average, {**card, "settings": {**card["settings"], "suites": suites}}
    )
    envelope = average_envelope(average)
    write_companion_table(out_dir, "accuracy_average_envelope.csv", envelope)
    log(
        show_table(
            average, average.columns, "\naverage drop over tasks (points below the reference suite's 1x)"
        )
    )
    log(show_table(envelope, envelope.columns, "\nthe best suite at each speedup, per comparison"))
    if spec and ablation.empty:
        log(f"ablation: comparison {spec[0].name!r} has no task swept in every suite; not written.")
    elif spec:
        write_companion_table(out_dir, "ablation.csv", ablation)
        log(show_table(ablation, [c for c in ablation.columns if c != "command"], "\nthe ablation"))
    return table
