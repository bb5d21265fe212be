"""The benchmark tables as text: Markdown for the README (``python -m accviz.bench report``) and
the console summary each benchmark prints when it finishes.

``run_report`` reads every stored table under ``cached_runs/bench`` (``accviz.results``) and prints
it as Markdown; it measures nothing. The README's tables are these, row for row
(tests/test_readme.py checks it). One renderer per table:

    speedup.csv            per batch: exact-only row, then each target; measured (p10–p90) / estimated
    fidelity.csv           measured / estimated per (model, length, batch) and target
    accuracy.csv           the metric at 1..4x per strategy (each task's primary metric), best in bold,
                           and the speedup reachable within MAX_DROP_POINTS of the unpruned value
    accuracy_average.csv   ``accviz.measure.average.average_drop_markdown``
    accuracy_average_envelope.csv   ``accviz.measure.average.average_envelope_markdown``
    ablation.csv           ``accviz.measure.ablation.ablation_markdown``, ``glance_markdown``
    int8.csv               speedup over fp32 unpruned, fp32 / int8, per target
    int8_predictor.csv     the latency predictor's held-out error and fixed cost per layer
    frontier.csv           ``accviz.measure.frontier.frontier_markdown``
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from accviz.measure.ablation import ablation_markdown, glance_markdown
from accviz.measure.average import MAX_DROP_POINTS, average_drop_markdown, average_envelope_markdown
from accviz.measure.frontier import frontier_markdown
from accviz.measure.workloads import EXACT_ONLY
from accviz.method.scoring import strategy_label
from accviz.results import (
    ACCURACY_SPEEDUPS,
    accuracy_column,
    not_a_bench_table,
    primary_metric_rows,
    read_bench_table,
)

# --- Console ------------------------------------------------------------------------------------


def _number(value: float) -> str:
    """3 significant digits, but whole milliseconds never in scientific notation."""
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def show_table(table: pd.DataFrame, columns: Sequence[str], title: str) -> str:
    """``columns`` of ``table`` as aligned text under ``title``, for a benchmark's log."""
    text = table[list(columns)].to_string(index=False, float_format=_number)
    return f"{title}\n{text}"


# --- Markdown, one renderer per stored table ----------------------------------------------------


def speedup_markdown(table: pd.DataFrame) -> str:
    """The speedup table as Markdown: per batch size, the exact-only row then each target."""
    lines = [
        "| batch | variant | kept per layer | estimated | measured (p10–p90) | measured / estimated |",
        "|---|---|---|---|---|---|",
    ]
    for _, row in table.iterrows():
        kept = str(row.get("kept_per_layer", "-"))
        kept = "–" if kept in ("-", "nan") else kept
        lines.append(
            f"| {row['batch_size']} | {row['variant']} | {kept} | {row['estimated_speedup']:.2f}x | "
            f"{row['measured_speedup']:.2f}x ({row['measured_speedup_p10']:.2f}–{row['measured_speedup_p90']:.2f}) | "
            f"{row['measured_over_estimated']:.2f} |"
        )
    return "\n".join(lines)


def fidelity_markdown(table: pd.DataFrame) -> str:
    """measured / estimated for every (model, length, batch) and target: one row per workload."""
    pruned = table[table["variant"] != EXACT_ONLY]
    targets = sorted(pruned["target_speedup"].unique())
    lines = [
        "| model | length | batch | " + " | ".join(f"{t:g}x" for t in targets) + " |",
        "|---|---|---|" + "---|" * len(targets),
    ]
    for (model, length, batch), group in pruned.groupby(["model", "length", "batch_size"], sort=False):
        cells = []
        for target in targets:
            match = group[np.isclose(group["target_speedup"], target)]
            cells.append(f"{match['measured_over_estimated'].iloc[0]:.2f}" if len(match) else "–")
        lines.append(f"| {model} | {length} | {batch} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _percent(value: float) -> str:
    return "–" if not np.isfinite(value) else f"{value:.1f}"


def _reachable_text(speedup: float, lower_bound: bool) -> str:
    if not np.isfinite(speedup):
        return "< first point"
    return f"≥ {speedup:.2f}x" if lower_bound else f"{speedup:.2f}x"


def accuracy_markdown(table: pd.DataFrame) -> str:
    """The accuracy table as Markdown (each task's primary metric), one block per (task, model).

    The best strategy at each speedup above 1x is in bold (ties all bold); "≥" marks a curve that
    never dropped 0.75 points (the reachable speedup is then a lower bound).
    """
    if table.empty:
        return ""
    columns = [accuracy_column(s) for s in ACCURACY_SPEEDUPS]
    reach = f"speedup_at_{MAX_DROP_POINTS:g}_drop"
    header = (
        "| task (metric) | model | strategy | "
        + " | ".join(columns)
        + f" | speedup at ≤ {MAX_DROP_POINTS:g} drop |\n|"
        + "---|" * (len(columns) + 4)
    )
    lines = [header]
    for (task, model, _), group in primary_metric_rows(table).groupby(["task", "model", "metric"], sort=True):
        best = {c: group[c].max() for c in columns[1:]}
        for _, row in group.iterrows():
            cells = []
            for column in columns:
                text = _percent(row[column])
                if column in best and np.isfinite(row[column]) and np.isclose(row[column], best[column]):
                    text = f"**{text}**"
                cells.append(text)
            lines.append(
                f"| {task} ({row['metric']}) | {model} | {strategy_label(row['strategy'])} | "
                + " | ".join(cells)
                + f" | {_reachable_text(row[reach], bool(row['reachable_is_lower_bound']))} |"
            )
    return "\n".join(lines)


def int8_markdown(table: pd.DataFrame) -> str:
    """Speedup over the fp32 unpruned model per workload: fp32 / int8 at each target."""
    targets = sorted(table["target"].unique())
    header = "| model | batch | length | " + " | ".join(f"{t:g}x fp32 / int8" for t in targets) + " |"
    lines = [header, "|" + "---|" * (3 + len(targets))]
    for (model, batch, length), group in table.groupby(["model", "batch", "length"], sort=False):
        cells = []
        for target in targets:
            at = group[np.isclose(group["target"], target)].set_index("variant")
            value = at["measured_speedup_vs_fp32_unpruned"]
            cells.append(f"{value['fp32']:.2f} / **{value['int8']:.2f}**")
        lines.append(f"| {model} | {batch} | {length} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def int8_predictor_markdown(table: pd.DataFrame) -> str:
    lines = ["| model | weights | runs | held-out error | fixed cost per layer |", "|---|---|---|---|---|"]
    for row in table.itertuples():
        lines.append(
            f"| {row.model} | {row.variant} | {row.runs} | {row.held_out_error_percent:.1f}% | {row.layer_ms:.2f} ms |"
        )
    return "\n".join(lines)


REPORTED: tuple[tuple[str, str, Callable[[pd.DataFrame], str]], ...] = (  # (title, file, renderer)
    ("speedup", "speedup.csv", speedup_markdown),
    ("fidelity (measured / estimated)", "fidelity.csv", fidelity_markdown),
    ("accuracy", "accuracy.csv", accuracy_markdown),
    ("average drop over tasks", "accuracy_average.csv", average_drop_markdown),
    ("the best suite at each speedup", "accuracy_average_envelope.csv", average_envelope_markdown),
    ("ablation (every lever over every task)", "ablation.csv", ablation_markdown),
    ("the frontier at a glance (the ablation's lowest drops, the goals)", "ablation.csv", glance_markdown),
    ("int8 × elimination", "int8.csv", int8_markdown),
    ("int8 latency predictor", "int8_predictor.csv", int8_predictor_markdown),
    ("frontier (levers over seeds)", "frontier.csv", frontier_markdown),
)


def run_report(out_dir: Path, log=print) -> None:
    """Prints every stored table under ``out_dir`` as Markdown; says which are missing."""
    for title, name, render in REPORTED:
        path = out_dir / name
        if not path.exists():
            log(f"{title}: {path} not found (run its benchmark first)")
            continue
        table = read_bench_table(path)
        try:
            text = render(table)
        except (KeyError, ValueError) as error:
            raise not_a_bench_table(path, error) from error
        log(f"\n### {title} ({path})\n\n{text}")
