"""The ablation table: one row per lever measured on every task, the issue's one-glance summary.

    python -m accviz.bench accuracy   ->  ... cached_runs/bench/ablation.csv

A lever is a (suite, strategy) of the comparison that ``suites.json`` names under ``"ablation"``
(``accviz.measure.average``), plus the suites its ``"also"`` list borrows from other comparisons
(``{"comparison": C, "suite": S}``; C must drop against the same reference models, S must be a
new name with the reference's tasks and number of seeds). Per lever, from the stored sweeps
(``accuracy_table``'s rows):

    unpruned        mean over tasks and seeds of the primary metric at the suite's first point
                    (1x; a shallower model's own unpruned point, ~1.9x for 4 layers, ~2.7x for 3)
    avg drop S      ``average_drop_table`` at S = 1.5/2/3/4x: points below the reference suite's
                    unpruned value, averaged over tasks (RTE left out below 60%), mean over seeds
    SST-2 drop S    the same formula on SST-2 alone at S = 2/3x
    ± (std)         over seeds (ddof 1), as in the average table
    fine-tuning     the suite's fine-tuning wall time summed over its tasks, mean over seeds (from
                    each sweep card's ``model_training``, a second stage's first stage included;
                    one torch thread here)
    command         what produced the suite's sweeps (``suites.json``)

so every number is one the average table or the sweeps already hold; this only joins them.

``glance_table`` reads the frontier off it at one glance: per speedup, the lever with the lowest
average drop (and SST-2 drop), and the frontier issue's goals in words (``accviz.measure.goals``).
The lowest of many rows is picked on the dev sets it reports: the best measured here, not an
estimate of any lever's accuracy on new data.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from accviz.errors import AccvizError, CacheError
from accviz.measure.average import (
    Comparison,
    average_drop_table,
    common_seeds,
    parse_comparisons,
    read_suites,
)
from accviz.measure.goals import FRONTIER_GOALS, goal_verdict
from accviz.method.scoring import strategy_label
from accviz.results import points, primary_metric_rows, read_sweep, sweep_dir, training_wall_s

ABLATION_SPEEDUPS = ("1.5x", "2x", "3x", "4x")
SST2_SPEEDUPS = ("2x", "3x")


def read_ablation_spec(suites_file: str | Path) -> tuple[Comparison, dict[str, str]] | None:
    """(the comparison ``suites.json`` names as the ablation, with the suites it borrows, and each
    suite's command); None if the file names none."""
    data = read_suites(suites_file)  # a malformed file is an AccvizError here
    return ablation_spec(data, parse_comparisons(data, suites_file), suites_file)


def ablation_spec(
    data: dict, comparisons: list[Comparison], suites_file: str | Path
) -> tuple[Comparison, dict[str, str]] | None:
    """``read_ablation_spec`` on a ``suites.json`` already read (``read_suites``) and parsed."""
    spec = data.get("ablation")
    if spec is None:
        return None
    by_name = {c.name: c for c in comparisons}
    named = spec.get("comparison") if isinstance(spec, dict) else None
    ablation = by_name.get(named) if isinstance(named, str) else None
    if ablation is None or not isinstance(spec.get("commands", {}), dict):
        raise AccvizError(f"{suites_file}: the ablation names no comparison of the file: {spec!r}.")
    also = spec.get("also", [])
    reference = ablation.suites[ablation.reference]
    suites = dict(ablation.suites)
    for borrowed in also if isinstance(also, list) else [also]:
        entry = borrowed if isinstance(borrowed, dict) else {}
        comparison, name = entry.get("comparison"), entry.get("suite")
        source = by_name.get(comparison) if isinstance(comparison, str) else None
        if source is None or not isinstance(name, str) or name not in source.suites:
            raise AccvizError(f"{suites_file}: the ablation borrows no suite of the file: {borrowed!r}.")
        models = source.suites[name]
        if name in suites:
            raise AccvizError(f"{suites_file}: the ablation borrows {name!r}, which it already has.")
        if source.suites[source.reference] != reference:
            raise AccvizError(
                f"{suites_file}: {source.name!r} drops against other reference models than the ablation's "
                f"{ablation.name!r}, so its suite {name!r} cannot join the ablation."
            )
        if {t: len(m) for t, m in models.items()} != {t: len(m) for t, m in reference.items()}:
            raise AccvizError(  # seeds pair by position: a smaller suite would narrow every row
                f"{suites_file}: the borrowed suite {name!r} has other tasks or seeds than the reference."
            )
        suites[name] = models
    return replace(ablation, suites=suites), dict(spec.get("commands", {}))


def _fine_tuning_minutes(cached_runs: Path, models: dict[str, tuple[str, ...]]) -> float:
    """Wall time of the fine-tunes behind ``models`` (task -> paired seeds), summed over tasks, mean
    over seeds; NaN where a sweep card lacks it."""
    per_seed = []
    for seeds in zip(*models.values(), strict=True):
        walls = []
        for task, name in zip(models, seeds, strict=True):
            try:
                _, card = read_sweep(sweep_dir(cached_runs, name, task))
                walls.append(training_wall_s(card.get("model_training", {})))
            except (CacheError, OSError):
                walls.append(np.nan)
        per_seed.append(sum(walls) / 60)
    return float(np.mean(per_seed)) if per_seed else float("nan")


def ablation_table(
    table: pd.DataFrame, comparison: Comparison, commands: dict[str, str], cached_runs: Path
) -> pd.DataFrame:
    """``accuracy_table``'s output -> one row per (suite, strategy) averaged over every task."""
    average = average_drop_table(table, [comparison])
    if average.empty:
        return pd.DataFrame()
    primary_rows = primary_metric_rows(table)
    # the seeds the average paired, so the SST-2 columns pair the same ones (not those SST-2 alone has)
    _, positions = common_seeds(
        comparison, set(zip(primary_rows["model"], primary_rows["task"], strict=True))
    )
    paired = {
        suite: {task: tuple(models[i] for i in positions) for task, models in tasks.items()
                if all(i < len(models) for i in positions)}
        for suite, tasks in comparison.suites.items()
    }  # fmt: skip
    comparison = replace(comparison, suites=paired)
    sst2_only = replace(
        comparison, suites={s: {"sst2": t["sst2"]} for s, t in comparison.suites.items() if "sst2" in t}
    )
    sst2 = (
        average_drop_table(table, [sst2_only]).set_index(["suite", "strategy"]) if sst2_only.suites else None
    )
    primary = {(r["model"], r["task"], r["strategy"]): r["baseline"] for r in primary_rows.to_dict("records")}
    rows = []
    for record in average.to_dict("records"):
        suite, strategy, tasks = record["suite"], record["strategy"], record["tasks"].split()
        unpruned = [
            primary.get((model, task, strategy), np.nan)
            for task in tasks
            for model in comparison.suites[suite][task]
        ]
        row = {
            "suite": suite,
            "strategy": strategy,
            "tasks": record["tasks"],
            "seeds": int(record["seeds"]),
            "unpruned": float(np.mean(unpruned)),
        }
        for column in ABLATION_SPEEDUPS:
            row[f"avg_drop_{column}"] = record[f"drop_{column}"]
            row[f"avg_drop_std_{column}"] = record[f"drop_std_{column}"]
        for column in SST2_SPEEDUPS:
            found = sst2 is not None and (suite, strategy) in sst2.index
            row[f"sst2_drop_{column}"] = sst2.loc[(suite, strategy), f"drop_{column}"] if found else np.nan
            row[f"sst2_drop_std_{column}"] = (
                sst2.loc[(suite, strategy), f"drop_std_{column}"] if found else np.nan
            )
        models = {task: comparison.suites[suite][task] for task in tasks}
        row["fine_tuning_min"] = _fine_tuning_minutes(cached_runs, models)
        row["command"] = commands.get(suite, "")
        rows.append(row)
    return pd.DataFrame(rows)


def _cell(value: float, std: float) -> str:
    if not np.isfinite(value):
        return "–"
    return points(value) + (f" ± {std:.2f}" if np.isfinite(std) else "")


def ablation_markdown(ablation: pd.DataFrame) -> str:
    """The ablation as Markdown: one row per lever; commands go below the table, not in it."""
    header = (
        " | ".join(f"avg drop {c}" for c in ABLATION_SPEEDUPS)
        + " | "
        + " | ".join(f"SST-2 drop {c}" for c in SST2_SPEEDUPS)
    )
    lines = [f"| lever | strategy | seeds | unpruned (mean of tasks) | {header} | fine-tuning (its tasks, one seed) |",
             "|---|---|---|---|" + "---|" * (len(ABLATION_SPEEDUPS) + len(SST2_SPEEDUPS)) + "---|"]  # fmt: skip
    for row in ablation.to_dict("records"):
        cells = [_cell(row[f"avg_drop_{c}"], row[f"avg_drop_std_{c}"]) for c in ABLATION_SPEEDUPS]
        cells += [_cell(row[f"sst2_drop_{c}"], row[f"sst2_drop_std_{c}"]) for c in SST2_SPEEDUPS]
        wall = f"{row['fine_tuning_min']:.0f} min" if np.isfinite(row["fine_tuning_min"]) else "–"
        lines.append(
            f"| {row['suite']} | {strategy_label(row['strategy'])} | {row['seeds']} | {row['unpruned']:.1f} | "
            + " | ".join(cells) + f" | {wall} |"
        )  # fmt: skip
    return "\n".join(lines)


GLANCE_COLUMNS = ["scope", "speedup", "drop", "drop_std", "suite", "strategy", "seeds", "goal", "verdict"]


def glance_table(ablation: pd.DataFrame) -> pd.DataFrame:
    """Per (scope, speedup) with a measured drop: the ablation row with the lowest drop, and the
    goal's verdict there.

    scope "average" at 1.5/2/3/4x (``avg_drop_*``), "SST-2" at 2/3x (``sst2_drop_*``); rows without
    a drop there (NaN: a shallow model's missing 1.5x point) are skipped; of equal drops the one with
    the smaller spread wins (then the first row); where the issue sets no goal, goal is NaN and the
    verdict empty. An ablation with no drop at all gives an empty table with these columns.
    """
    rows = []
    for scope, prefix, speedups in (
        ("average", "avg_drop", ABLATION_SPEEDUPS),
        ("SST-2", "sst2_drop", SST2_SPEEDUPS),
    ):
        for speedup in speedups:
            drop_column, std_column = f"{prefix}_{speedup}", f"{prefix}_std_{speedup}"
            measured = ablation[np.isfinite(ablation[drop_column].astype(float))]
            if measured.empty:
                continue
            order = measured.assign(_std=measured[std_column].astype(float).fillna(np.inf))
            best = order.sort_values([drop_column, "_std"], kind="stable").iloc[0]
            drop, std = float(best[drop_column]), float(best[std_column])
            goal = FRONTIER_GOALS.get((scope, speedup), np.nan)
            rows.append({
                "scope": scope, "speedup": speedup, "drop": drop, "drop_std": std, "suite": best["suite"],
                "strategy": best["strategy"], "seeds": best["seeds"], "goal": goal,
                "verdict": goal_verdict(drop, std, goal) if np.isfinite(goal) else "",
            })  # fmt: skip
    return pd.DataFrame(rows, columns=GLANCE_COLUMNS)


def glance_markdown(ablation: pd.DataFrame) -> str:
    """``glance_table`` as Markdown (from the stored ``ablation.csv``)."""
    lines = [
        "| over | speedup | lowest drop measured | lever | strategy | goal |",
        "|---|---|---|---|---|---|",
    ]
    for row in glance_table(ablation).to_dict("records"):
        goal = f"≤ {row['goal']:g}: {row['verdict']}" if np.isfinite(row["goal"]) else "–"
        lines.append(
            f"| {row['scope']} | {row['speedup']} | {_cell(row['drop'], row['drop_std'])} | {row['suite']} | "
            f"{strategy_label(row['strategy'])} | {goal} |"
        )
    return "\n".join(lines)
