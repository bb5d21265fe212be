"""The paper's criterion: the drop averaged over GLUE tasks, per training suite, over seeds.

Which sweeps stand for which task in which suite is data, ``cached_runs/suites.json``: a list of
comparisons, each a reference suite and the suites measured against it; a suite maps every task
to the models (fine-tuning seeds) whose sweeps stand for it. For suite s, task t, seed i and
target speedup x (each task's primary metric, in points):

    baseline_t   = the reference suite's unpruned value of t, mean over the seeds used
    D_i(s, x)    = mean over tasks t of (baseline_t - value_{t,i}(s, x))   seeds paired by position
    reported     = mean over i of D_i(s, x), and its standard deviation over seeds (ddof 1)

so a suite fine-tuned with elimination pays for any loss it has at 1x. A task whose reference
baseline is below its floor in ``min_reference`` (RTE near chance: 60) is left out of the
average and named in ``left_out``; only tasks with a sweep in every suite are averaged, and only
the seed positions with a sweep in every suite and task are used (a missing seed never shifts the
others out of their pairs).

The envelope (``average_envelope``) is, per comparison and speedup, the suite and strategy with the
smallest average drop: with a layer-drop suite among them, the best pair of depth and elimination
for that target. It is picked on the dev sets it reports, so it is the frontier as measured, not a
held-out estimate.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from accviz.errors import AccvizError
from accviz.method.scoring import strategy_label, strategy_rank
from accviz.results import ACCURACY_SPEEDUPS, accuracy_column, points, primary_metric_rows

SUITES_FILE = "suites.json"
SPEEDUPS = ACCURACY_SPEEDUPS  # the accuracy table's columns the drop is averaged at
MAX_DROP_POINTS = 0.75


@dataclass(frozen=True)
class Comparison:
    name: str
    reference: str  # the suite whose unpruned values are every suite's baseline
    suites: dict[str, dict[str, tuple[str, ...]]]  # suite -> task -> models (seeds)
    min_reference: dict[str, float]  # task -> the reference baseline it needs to be averaged


def read_suites(path: str | Path) -> dict:
    """``suites.json`` as read, once; unreadable or not a JSON object is an AccvizError."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise AccvizError(f"Cannot read the suites of the average drop, {path}: {error!r}") from None
    if not isinstance(data, dict):
        raise AccvizError(f"Cannot read the suites of the average drop, {path}: not a JSON object.")
    return data


def parse_comparisons(data: dict, path: str | Path) -> list[Comparison]:
    """``read_suites``'s dict -> comparisons; a malformed entry is an AccvizError naming ``path``."""
    try:
        comparisons = []
        for entry in data["comparisons"]:
            suites = {
                suite: {
                    task: tuple([models] if isinstance(models, str) else models)
                    for task, models in tasks.items()
                }
                for suite, tasks in entry["suites"].items()
            }
            if entry["reference"] not in suites:
                raise AccvizError(
                    f"{path}: comparison {entry['name']!r} has no suite {entry['reference']!r}."
                )
            floors = {task: float(v) for task, v in data.get("min_reference", {}).items()}
            comparisons.append(Comparison(entry["name"], entry["reference"], suites, floors))
        return comparisons
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise AccvizError(f"Cannot read the suites of the average drop, {path}: {error!r}") from None


def read_comparisons(path: str | Path) -> list[Comparison]:
    """``suites.json`` -> comparisons; a malformed file is an AccvizError naming what is wrong."""
    return parse_comparisons(read_suites(path), path)


def speedup_at_drop(
    speedups: Sequence[float], values: Sequence[float], baseline: float, max_drop: float = MAX_DROP_POINTS
) -> tuple[float, bool]:
    """The largest speedup up to which the curve stays within ``max_drop`` points of ``baseline``.

    Walks the curve by increasing speedup and interpolates linearly where the drop first exceeds
    ``max_drop``. Returns (speedup, censored): censored=True when the curve never drops that far
    (the speedup is then the last one measured, a lower bound); NaN when even its first point does.
    """
    points = sorted(
        (float(s), float(v))
        for s, v in zip(speedups, values, strict=True)
        if np.isfinite(s) and np.isfinite(v)
    )
    if not points or not np.isfinite(baseline):
        return float("nan"), False
    previous = None
    for speedup, value in points:
        drop = baseline - value
        if drop > max_drop + 1e-12:
            if previous is None:
                return float("nan"), False
            prev_speedup, prev_drop = previous
            fraction = (max_drop - prev_drop) / (drop - prev_drop)
            return prev_speedup + fraction * (speedup - prev_speedup), False
        previous = (speedup, drop)
    return points[-1][0], True


def common_seeds(comparison: Comparison, swept: set[tuple[str, str]]) -> tuple[list[str], list[int]]:
    """(the tasks with a sweep in every suite, the seed positions with a sweep in every suite and
    task): those positions are paired and averaged; a missing seed never shifts the others."""

    def has(suite: str, task: str, i: int) -> bool:
        models = comparison.suites[suite].get(task, ())
        return i < len(models) and (models[i], task) in swept

    longest = max((len(m) for tasks_ in comparison.suites.values() for m in tasks_.values()), default=0)
    tasks = sorted(
        t for t in comparison.suites[comparison.reference]
        if all(any(has(s, t, i) for i in range(longest)) for s in comparison.suites)
    )  # fmt: skip
    positions = [i for i in range(longest) if all(has(s, t, i) for s in comparison.suites for t in tasks)]
    return tasks, positions


def average_drop_table(table: pd.DataFrame, comparisons: list[Comparison]) -> pd.DataFrame:
    """``accuracy_table``'s output -> one row per (comparison, suite, strategy); formulas above."""
    if table.empty:
        return pd.DataFrame()
    primary = primary_metric_rows(table)
    curves = {(r["model"], r["task"], r["strategy"]): r for r in primary.to_dict("records")}
    swept = {(model, task) for model, task, _ in curves}  # a sweep of any strategy: a fusion-only one too
    columns = [accuracy_column(s) for s in SPEEDUPS]
    rows = []
    for comparison in comparisons:
        tasks, positions = common_seeds(comparison, swept)
        seeds = len(positions)
        if not seeds:
            continue
        baselines = {
            t: float(
                np.mean(
                    [
                        curves[(comparison.suites[comparison.reference][t][i], t, "acc")]["baseline"]
                        for i in positions
                    ]
                )
            )
            for t in tasks
        }
        left_out = sorted(t for t in tasks if baselines[t] < comparison.min_reference.get(t, -np.inf))
        tasks = [t for t in tasks if t not in left_out]
        if not tasks:
            continue
        for suite in comparison.suites:
            strategies = sorted({s for (_, t, s) in curves if t in tasks}, key=strategy_rank)
            for strategy in strategies:
                per_seed = []  # D_i at every speedup
                for i in positions:
                    found = [curves.get((comparison.suites[suite][t][i], t, strategy)) for t in tasks]
                    if any(c is None for c in found):
                        break
                    per_seed.append(
                        [
                            np.mean([baselines[t] - float(c[col]) for t, c in zip(tasks, found, strict=True)])
                            for col in columns
                        ]  # fmt: skip
                    )
                if len(per_seed) < seeds or not per_seed:
                    continue
                values = np.asarray(per_seed)  # (seeds, speedups)
                mean = values.mean(axis=0)
                spread = values.std(axis=0, ddof=1) if len(values) > 1 else np.full(len(columns), np.nan)
                reachable, censored = speedup_at_drop(
                    SPEEDUPS, [-d for d in mean], 0.0, max_drop=MAX_DROP_POINTS
                )
                row = {
                    "comparison": comparison.name,
                    "suite": suite,
                    "strategy": strategy,
                    "tasks": " ".join(tasks),
                }
                row.update({f"drop_{c}": float(v) for c, v in zip(columns, mean, strict=True)})
                row.update({f"drop_std_{c}": float(v) for c, v in zip(columns, spread, strict=True)})
                row.update({"seeds": len(values), f"speedup_at_{MAX_DROP_POINTS:g}_average_drop": reachable,
                            "reachable_is_lower_bound": censored, "left_out": " ".join(left_out)})  # fmt: skip
                rows.append(row)
    return pd.DataFrame(rows)


def average_drop_markdown(average: pd.DataFrame) -> str:
    """The table as Markdown: mean drop (± std over seeds where there are several)."""
    if average.empty:
        return ""
    columns = [accuracy_column(s) for s in SPEEDUPS]
    reach = f"speedup_at_{MAX_DROP_POINTS:g}_average_drop"
    lines = [
        "| comparison | fine-tuned | strategy | tasks | seeds | " + " | ".join(columns)
        + f" | speedup at ≤ {MAX_DROP_POINTS:g} average drop |",
        "|---|---|---|---|---|" + "---|" * (len(columns) + 1),
    ]  # fmt: skip
    for _, row in average.iterrows():
        cells = []
        for c in columns:
            std, drop = row.get(f"drop_std_{c}", np.nan), float(row[f"drop_{c}"])
            cells.append(
                "–" if not np.isfinite(drop) else points(drop) + (f" ± {std:.2f}" if np.isfinite(std) else "")
            )  # – : the suite has no point there (a 3-layer model starts at ~2.7x)
        reached = row[reach]
        text = (
            "< first point"
            if not np.isfinite(reached)
            else f"{'≥ ' if row['reachable_is_lower_bound'] else ''}{reached:.2f}x"
        )
        tasks = row["tasks"] + (
            f" (left out: {row['left_out']})"
            if isinstance(row.get("left_out"), str) and row["left_out"]
            else ""
        )
        lines.append(
            f"| {row['comparison']} | {row['suite']} | {strategy_label(row['strategy'])} | {tasks} | {int(row['seeds'])} | "
            + " | ".join(cells) + f" | {text} |"
        )  # fmt: skip
    return "\n".join(lines)


def average_envelope(average: pd.DataFrame) -> pd.DataFrame:
    """Per comparison and speedup column, the (suite, strategy) with the smallest average drop."""
    rows = []
    for comparison, group in average.groupby("comparison", sort=False) if not average.empty else ():
        for column in (accuracy_column(s) for s in SPEEDUPS):
            drops = group[f"drop_{column}"].astype(float)
            if drops.notna().any():
                best = group.loc[drops.idxmin()]
                rows.append({"comparison": comparison, "speedup": column, "suite": best["suite"],
                             "strategy": best["strategy"], "drop": float(best[f"drop_{column}"]),
                             "drop_std": float(best[f"drop_std_{column}"]), "seeds": int(best["seeds"])})  # fmt: skip
    return pd.DataFrame(rows)


def average_envelope_markdown(envelope: pd.DataFrame) -> str:
    """The envelope as Markdown: one row per (comparison, speedup)."""
    lines = ["| comparison | speedup | best suite | strategy | average drop |", "|---|---|---|---|---|"]
    for row in envelope.itertuples():
        spread = f" ± {row.drop_std:.2f}" if np.isfinite(row.drop_std) else ""
        lines.append(f"| {row.comparison} | {row.speedup} | {row.suite} | {strategy_label(row.strategy)} | "
                     f"{points(row.drop)}{spread} |")  # fmt: skip
    return "\n".join(lines)
