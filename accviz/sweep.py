"""Sweeps: a fine-tuned model evaluated over a grid of speedups and token-scoring strategies.

Writes a tidy table (one row per strategy, target speedup and metric) plus a JSON card with
checksums to ``cached_runs/<model>__<task>/``; the app and the benchmarks read it from there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from accviz import cache
from accviz.batching import encode_split
from accviz.errors import CacheError
from accviz.evaluate import evaluate_encoded
from accviz.profile import DEFAULT_FAMILY
from accviz.speedup import max_speedup, solve_profile

SWEEP_COLUMNS = [
    "model",
    "task",
    "split",
    "source",
    "strategy",
    "target_speedup",
    "estimated_speedup",
    "estimated_speedup_padded128",
    "measured_speedup",
    "metric",
    "value",
    "value_std",
    "mean_kept_last",
    "n_examples",
]
DEFAULT_SPEEDUPS = (1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0)
DEFAULT_STRATEGIES = ("acc", "attention", "mean-attention", "random", "truncation")
RANDOM_SEEDS = (0, 1, 2)
SWEEP_FILE = "sweep.csv"


def run_sweep(
    model,
    tokenizer,
    data,
    *,
    model_name: str,
    speedups=DEFAULT_SPEEDUPS,
    strategies=DEFAULT_STRATEGIES,
    max_length: int = 128,
    batch_size: int = 64,
    measure_latency_for=("acc",),
    family: str = DEFAULT_FAMILY,
    progress: Callable[[int, int, str], None] | None = None,
) -> pd.DataFrame:
    """Every (strategy, speedup) on one split; random is averaged over RANDOM_SEEDS."""
    encoded = encode_split(tokenizer, data.texts_a, data.texts_b, data.labels, max_length=max_length)
    top = max_speedup(model.config, encoded.lengths, family)
    grid = sorted({float(s) for s in speedups if s <= top + 1e-9})
    jobs = [(s, strategy) for s in grid for strategy in strategies]
    rows = []
    for number, (speedup, strategy) in enumerate(jobs):
        if progress is not None:
            progress(number, len(jobs), f"{strategy} at {speedup:g}x")
        solved = solve_profile(model.config, encoded.lengths, speedup, family=family, warn=False)
        seeds = RANDOM_SEEDS if strategy == "random" else (0,)
        results = [
            evaluate_encoded(
                model,
                encoded,
                data.task,
                target_speedup=speedup,
                strategy=strategy,
                batch_size=batch_size,
                measure_latency=strategy in measure_latency_for,
                seed=seed,
                pad_id=tokenizer.pad_token_id or 0,
                split=data.split,
                source=data.source,
                solved=solved,
            )
            for seed in seeds
        ]
        first = results[0]
        for metric in first.metrics:
            values = pd.Series([r.metrics[metric] for r in results])
            rows.append(
                {
                    "model": model_name,
                    "task": data.task,
                    "split": data.split,
                    "source": data.source,
                    "strategy": strategy,
                    "target_speedup": speedup,
                    "estimated_speedup": first.estimated_speedup,
                    "estimated_speedup_padded128": first.estimated_speedup_padded128,
                    "measured_speedup": first.measured_speedup,
                    "metric": metric,
                    "value": float(values.mean()),
                    "value_std": float(values.std(ddof=0)),
                    "mean_kept_last": first.mean_kept_per_layer[-2]
                    if len(first.mean_kept_per_layer) > 1
                    else 1.0,
                    "n_examples": first.n_examples,
                }
            )
    if progress is not None:
        progress(len(jobs), len(jobs), "done")
    return pd.DataFrame(rows, columns=SWEEP_COLUMNS)


def sweep_dir(root: str | Path, model_name: str, task: str) -> Path:
    from accviz.models import slug

    return Path(root) / f"{slug(model_name)}__{task}"


def write_sweep(table: pd.DataFrame, directory: str | Path, card: dict) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cache.atomic_write_text(directory / SWEEP_FILE, table.to_csv(index=False, float_format="%.6g"))
    card = {"kind": "sweep", "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"), **card}
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


def list_sweeps(root: str | Path) -> list[Path]:
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / SWEEP_FILE).exists())
