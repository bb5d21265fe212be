"""The accuracy-speedup frontier: one row per lever, over fine-tuning seeds, from the stored sweeps.

    python -m accviz.bench frontier   ->  cached_runs/bench/frontier.csv (+ .json), frontier_envelope.csv

Which sweeps form a lever is data, not code: ``cached_runs/frontier.json`` lists, per lever, the
sweep models (one per fine-tuning seed), the strategy curve to read and the command that made
them. For each seed's curve (primary metric against the estimated speedup, all against the plain
6-layer model on the same real lengths) the metric is interpolated linearly at 1.5/2/3/4x; a
speedup outside the curve is left empty (a 3-layer model starts at ~2.7x). Then, over seeds:

    drop_S = baseline - mean_seeds(value_S)        baseline = mean unpruned value of the lever's reference
    spread_S = max_seeds(value_S) - min_seeds(value_S)

so a lever counts as a gain only where it beats the reference by more than the seeds' spread. The
envelope is, at each speedup, the lever with the highest metric: the frontier a user can pick from.

The reference is the spec's (the plain model of today's recipe) unless a lever names its own: a
lever trained on another budget is compared with the plain model of *that* budget (the honest
baseline: the same recipe, the same real lengths).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from accviz.data.tasks import TASKS
from accviz.errors import AccvizError
from accviz.results import (
    SWEEP_FILE,
    bench_card,
    points,
    read_sweep,
    sweep_dir,
    training_wall_s,
    write_companion_table,
    write_table,
)

FRONTIER_FILE = "frontier.json"
SPEEDUPS = (1.5, 2.0, 3.0, 4.0)


def read_levers(cached_runs: Path) -> dict:
    path = Path(cached_runs) / FRONTIER_FILE
    try:
        spec = json.loads(path.read_text())
        levers, task, reference = spec["levers"], spec["task"], spec["reference"]
    except (OSError, ValueError, KeyError) as error:
        raise AccvizError(f"{path} cannot be read as a frontier spec: {error}") from None
    names = [lever["name"] for lever in levers]
    for wanted in [reference, *(lever["reference"] for lever in levers if "reference" in lever)]:
        if wanted not in names:
            raise AccvizError(f"{path}: the reference lever {wanted!r} is not among its levers.")
    return {"task": task, "reference": reference, "levers": levers}


def _curve(cached_runs: Path, model: str, task: str, strategy: str) -> tuple[pd.DataFrame, dict] | None:
    """(estimated speedup, value) of one sweep's strategy in the task's primary metric; None if absent."""
    directory = sweep_dir(cached_runs, model, task)
    if not (directory / SWEEP_FILE).exists():
        return None
    table, card = read_sweep(directory)  # checksums verified: a corrupt sweep is an error, not a curve
    metric = TASKS[task].primary_metric if task in TASKS else table["metric"].iloc[0]
    rows = table[(table["strategy"] == strategy) & (table["metric"] == metric)]
    if rows.empty:
        return None
    return rows.sort_values("estimated_speedup")[["target_speedup", "estimated_speedup", "value"]], card


def value_at(curve: pd.DataFrame, speedup: float) -> float:
    """The metric interpolated at ``speedup`` on the estimated-speedup axis; NaN outside the curve."""
    x, y = curve["estimated_speedup"].to_numpy(float), curve["value"].to_numpy(float)
    if speedup < x.min() - 1e-6 or speedup > x.max() + 1e-6:
        return float("nan")
    return float(np.interp(speedup, x, y))


def frontier_table(cached_runs: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per lever, the envelope) from the sweeps ``frontier.json`` names; missing sweeps skipped."""
    spec = read_levers(cached_runs)
    task = spec["task"]
    rows, curves = [], {}
    for lever in spec["levers"]:
        found = [
            (model, c)
            for model in lever["models"]
            if (c := _curve(cached_runs, model, task, lever["strategy"]))
        ]
        if not found:
            continue
        curves[lever["name"]] = [c for _, (c, _) in found]
        unpruned = [c.loc[np.isclose(c["target_speedup"], c["target_speedup"].min()), "value"].iloc[0]
                    for _, (c, _) in found]  # fmt: skip
        walls = [training_wall_s(card.get("model_training", {})) for _, (_, card) in found]
        walls = [w for w in walls if np.isfinite(w)]
        rows.append(
            {
                "lever": lever["name"],
                "reference": lever.get("reference", spec["reference"]),
                "strategy": lever["strategy"],
                "seeds": len(found),
                "models": " ".join(model for model, _ in found),
                "unpruned_speedup": float(
                    np.mean([c["estimated_speedup"].min() for c in curves[lever["name"]]])
                ),
                "unpruned": float(np.mean(unpruned)),
                "unpruned_spread": float(np.ptp(unpruned)),
                "train_wall_s": float(np.mean(walls)) if walls else float("nan"),
                "command": lever.get("command", ""),
            }
        )
    table = pd.DataFrame(rows)
    named = {spec["reference"], *(row["reference"] for row in rows)}  # the spec's, and each swept lever's
    missing = sorted(named - {row["lever"] for row in rows})
    if missing:
        raise AccvizError(
            f"No sweep of the reference lever {missing[0]!r} is stored yet: run the sweeps frontier.json names."
        )
    unpruned = table.set_index("lever")["unpruned"]
    table["baseline"] = [float(unpruned[name]) for name in table["reference"]]
    for speedup in SPEEDUPS:
        values = [[value_at(c, speedup) for c in curves[name]] for name in table["lever"]]
        table[f"value_{speedup:g}x"] = [np.nanmean(v) if np.isfinite(v).any() else np.nan for v in values]
        table[f"drop_{speedup:g}x"] = table["baseline"] - table[f"value_{speedup:g}x"]
        table[f"spread_{speedup:g}x"] = [
            np.ptp(v) if np.isfinite(v).all() and len(v) > 1 else np.nan for v in values
        ]
    envelope = []
    for speedup in SPEEDUPS:
        column = table[f"value_{speedup:g}x"]
        if column.notna().any():
            best = table.loc[column.idxmax()]
            envelope.append({"speedup": speedup, "best_lever": best["lever"], "value": best[f"value_{speedup:g}x"],
                             "drop": best[f"drop_{speedup:g}x"]})  # fmt: skip
    return table, pd.DataFrame(envelope)


def _cell(value: float, spread: float) -> str:
    if not np.isfinite(value):
        return "–"
    return points(value) + (f" ± {spread / 2:.2f}" if np.isfinite(spread) else "")


def frontier_markdown(table: pd.DataFrame) -> str:
    columns = " | ".join(f"drop {s:g}x" for s in SPEEDUPS)
    lines = [f"| lever | strategy | seeds | unpruned (at its speedup) | {columns} | training |",
             "|---|---|---|---|" + "---|" * len(SPEEDUPS) + "---|"]  # fmt: skip
    for _, row in table.iterrows():
        drops = " | ".join(_cell(row[f"drop_{s:g}x"], row[f"spread_{s:g}x"]) for s in SPEEDUPS)
        wall = f"{row['train_wall_s'] / 60:.0f} min" if np.isfinite(row["train_wall_s"]) else "–"
        unpruned = f"{row['unpruned']:.1f} ({row['unpruned_speedup']:.2f}x)"
        lines.append(
            f"| {row['lever']} | {row['strategy']} | {row['seeds']} | {unpruned} | {drops} | {wall} |"
        )
    return "\n".join(lines)


def envelope_markdown(envelope: pd.DataFrame) -> str:
    lines = ["| speedup | best lever | metric | drop |", "|---|---|---|---|"]
    for row in envelope.itertuples():
        lines.append(f"| {row.speedup:g}x | {row.best_lever} | {row.value:.1f} | {points(row.drop)} |")
    return "\n".join(lines)


def run_frontier(cached_runs: Path, out_dir: Path, *, command: str, smoke: bool, note: str = "", log=print):
    table, envelope = frontier_table(Path(cached_runs))
    card = bench_card("frontier", command, smoke, {"spec": str(Path(cached_runs) / FRONTIER_FILE)}, note)
    card["baseline"] = float(
        table.loc[table["lever"] == read_levers(cached_runs)["reference"], "baseline"].iloc[0]
    )
    write_table(out_dir, "frontier", table, card)
    write_companion_table(out_dir, "frontier_envelope.csv", envelope)
    log(frontier_markdown(table))
    log("\n" + envelope_markdown(envelope))
    return table
