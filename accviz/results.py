"""The stored result tables under ``cached_runs/``: their layout, their columns, reading and writing.

Two kinds of table, each written by one command and read by everyone else through this module:

    cached_runs/<model>__<task>/sweep.csv + card.json     ``accviz sweep``: one row per
        (strategy, target speedup, metric); the card carries a SHA-256 per file, verified on read
    cached_runs/bench/<stem>.csv + <stem>.json            ``python -m accviz.bench <benchmark>``:
        one table per benchmark; the JSON card says what produced it (command, commit, machine,
        settings, the machine's load at start and end)

Both are written atomically (a reader never sees half a table). A sweep that is corrupt or foreign
is a ``CacheError``, never half-loaded; a benchmark table that is empty or unparsable is an
``AccvizError`` naming the file.

The accuracy benchmark pivots the sweeps into one row per (model, task, metric, strategy) with
the metric at each of ``ACCURACY_SPEEDUPS`` in columns named ``accuracy_column(speedup)`` ("1x",
"1.5x", ...); ``accviz.measure.average`` reads those columns back.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from accviz.data.tasks import TASKS
from accviz.errors import AccvizError, CacheError
from accviz.machine import git_commit, machine_card, provenance
from accviz.store import cache
from accviz.store.cache import slug

# --- The sweep table: cached_runs/<model>__<task>/sweep.csv -------------------------------------

SWEEP_FILE = "sweep.csv"
COL_MODEL = "model"  # the swept checkpoint's name, as given to ``accviz sweep --model``
COL_TASK = "task"  # a GLUE task name (accviz.data.tasks.TASKS) or a user's task
COL_STRATEGY = "strategy"  # a token-scoring strategy of accviz.method.scoring, "+fuse" included
COL_TARGET = "target_speedup"  # the speedup the profile was solved for
COL_ESTIMATED = "estimated_speedup"  # the speedup the profile reaches: the x axis of every curve
COL_METRIC = "metric"  # one of the task's metrics ("accuracy", "f1", "matthews_corr", ...)
COL_VALUE = "value"  # the metric in percent points (mean over seeds for "random")
SWEEP_COLUMNS = [
    COL_MODEL,
    COL_TASK,
    "split",  # "dev", "validation", ...
    "source",  # where the split came from: a GLUE folder, the hub, the embedded default
    COL_STRATEGY,
    COL_TARGET,
    COL_ESTIMATED,
    "estimated_speedup_padded128",  # against the unpruned model on inputs padded to 128 tokens
    "measured_speedup",  # latency, plain / pruned, where measured; NaN elsewhere
    COL_METRIC,
    COL_VALUE,
    "value_std",  # over the random scorer's seeds; 0 for deterministic strategies
    "mean_kept_last",  # mean word-vectors entering the last layer
    "n_examples",
]


def sweep_dir(root: str | Path, model_name: str, task: str) -> Path:
    """Where the sweep of ``model_name`` on ``task`` lives under ``root`` (cached_runs/)."""

    return Path(root) / f"{slug(model_name)}__{task}"


def write_sweep(table: pd.DataFrame, directory: str | Path, card: dict) -> Path:
    """Writes the table, then a card vouching for it (kind, ``accviz.machine.provenance``, ``card``,
    a SHA-256 of the table)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cache.atomic_write_text(directory / SWEEP_FILE, table.to_csv(index=False, float_format="%.6g"))
    card = {"kind": "sweep", **provenance(), **card}
    cache.write_card(directory, card, files=[SWEEP_FILE])
    return directory / SWEEP_FILE


def read_sweep(directory: str | Path) -> tuple[pd.DataFrame, dict]:
    """A sweep and its card; a corrupt or foreign file raises CacheError (never half-loaded)."""
    directory = Path(directory)
    card = cache.read_card(directory, verify=True)
    try:
        table = pd.read_csv(directory / SWEEP_FILE)
    except Exception as error:  # pandas raises many types for a bad file
        raise CacheError(f"Cannot read {directory / SWEEP_FILE}: {error}") from error
    missing = [c for c in SWEEP_COLUMNS if c not in table.columns]
    if missing:
        raise CacheError(f"{directory / SWEEP_FILE} is not an accviz sweep (missing columns {missing}).")
    return table, card


def points(value: float) -> str:
    """A drop in points as the tables print it: two decimals, a rounded -0.00 as 0.00."""
    return f"{round(float(value), 2) + 0.0:.2f}"


def training_wall_s(model_training: dict) -> float:
    """Seconds of fine-tuning behind a sweep's model (its card's ``model_training``): the whole
    chain for a second stage fine-tuned from another accviz checkpoint; NaN where unknown (a base
    whose time its card does not give)."""
    chained = "fine_tuned_from" in model_training
    wall = model_training.get("total_wall_time_s" if chained else "wall_time_s")
    return float("nan") if wall is None else float(wall)


def list_sweeps(root: str | Path) -> list[Path]:
    """The folders under ``root`` that hold a sweep table, by name."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / SWEEP_FILE).exists())


def read_sweeps(root: str | Path) -> pd.DataFrame:
    """Every sweep under ``root`` in one table, plus a ``sweep_dir`` column (the folder's name);
    empty when there is none. Each is read by ``read_sweep``: one bad sweep is an error."""
    tables = []
    for directory in list_sweeps(root):
        table, _ = read_sweep(directory)
        table["sweep_dir"] = directory.name
        tables.append(table)
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


# --- The accuracy table: the sweeps pivoted (cached_runs/bench/accuracy.csv) ---------------------

ACCURACY_SPEEDUPS = (1.0, 1.5, 2.0, 3.0, 4.0)  # the target speedups that become columns


def accuracy_column(speedup: float) -> str:
    """The accuracy table's column of the metric at ``speedup``: "1x", "1.5x", ..."""
    return f"{speedup:g}x"


def primary_metric_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of an accuracy table in each task's primary metric (all rows of a task outside the
    registry, whose primary metric accviz does not know)."""
    is_primary = [
        task not in TASKS or metric == TASKS[task].primary_metric
        for task, metric in zip(table["task"], table["metric"], strict=True)
    ]
    return table[is_primary]


# --- Benchmark tables: cached_runs/bench/<stem>.csv + <stem>.json --------------------------------

BENCH_DIR = Path("cached_runs") / "bench"


def bench_card(kind: str, command: str, smoke: bool, settings: dict, note: str = "") -> dict:
    """What produced a table; made before measuring, so the machine's load is the one it started on."""
    return {
        "kind": f"bench-{kind}",
        "command": command,
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "git_commit": git_commit(),
        "smoke": smoke,
        "note": note,
        "machine": machine_card(),
        "settings": settings,
    }


def _atomic_write(path: Path, text: str) -> None:
    staging = path.with_suffix(path.suffix + ".tmp")
    staging.write_text(text)
    os.replace(staging, path)  # a reader never sees half a table


def _csv_text(table: pd.DataFrame) -> str:
    return table.to_csv(index=False, float_format="%.6g")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "as_dict"):
        return value.as_dict()
    return str(value)


def write_table(out_dir: Path, stem: str, table: pd.DataFrame, card: dict) -> tuple[Path, Path]:
    """``<out_dir>/<stem>.csv`` and its card ``<stem>.json`` (with the load average at the end)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = out_dir / f"{stem}.csv", out_dir / f"{stem}.json"
    card = {**card, "load_average_at_end": list(os.getloadavg()), "files": [csv_path.name]}
    _atomic_write(csv_path, _csv_text(table))
    _atomic_write(json_path, json.dumps(card, indent=2, default=_json_default) + "\n")
    return csv_path, json_path


def write_companion_table(out_dir: Path, name: str, table: pd.DataFrame) -> Path:
    """A second table of a benchmark (``fidelity_predictor.csv``, ...), described by its main table's card."""
    path = out_dir / name
    _atomic_write(path, _csv_text(table))
    return path


def read_bench_table(path: Path) -> pd.DataFrame:
    """A stored benchmark table; AccvizError when it is unparsable or holds no rows."""
    try:
        table = pd.read_csv(path)
    except ValueError as error:  # pandas' parser errors are ValueErrors
        raise not_a_bench_table(path, error) from error
    if table.empty:
        raise not_a_bench_table(path, "it holds no rows")
    return table


def not_a_bench_table(path: Path, reason) -> AccvizError:
    return AccvizError(f"{path} is not a table this version of accviz.bench wrote: {reason}")
