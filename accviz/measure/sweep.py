"""Sweeps: a fine-tuned model evaluated over a grid of speedups and token-scoring strategies.

Writes a tidy table (one row per strategy, target speedup and metric) plus a JSON card with
checksums to ``cached_runs/<model>__<task>/``; the app and the benchmarks read it from there. The
table's columns, its writer and its one reader are ``accviz.results``'s.

A model cut to fewer layers (the layer-drop baseline) is swept against its deeper base model:
with ``reference_config``, every speedup in the table is FLOPs(base, unpruned) / FLOPs(this model,
pruned) on the same lengths, so its curve sits on the same axis as the full model's. Its own
unpruned point is then at the depth ratio (~2.7x for 3 of 6 layers, exact last layer included),
and each target T is reached with elimination T / that ratio on top.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from accelerate.utils import gather_object

from accviz.data.batching import encode_split
from accviz.machine import launched_processes
from accviz.measure.evaluate import evaluate_encoded
from accviz.method.flops import unpruned_flops
from accviz.method.profile import DEFAULT_FAMILY
from accviz.method.scoring import STRATEGY_ORDER, ChosenStrategy, checked, choose_strategy
from accviz.method.search import solve_in_family
from accviz.method.speedup import max_speedup
from accviz.results import SWEEP_COLUMNS

DEFAULT_SPEEDUPS = (1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0)
DEFAULT_STRATEGIES = tuple(choose_strategy(name) for name in STRATEGY_ORDER)  # the one registry
RANDOM_SEEDS = (0, 1, 2)


def run_sweep(
    model,
    tokenizer,
    data,
    *,
    model_name: str,
    speedups=DEFAULT_SPEEDUPS,
    strategies: tuple[ChosenStrategy, ...] = DEFAULT_STRATEGIES,
    max_length: int = 128,
    batch_size: int = 64,
    measure_latency_for=("acc",),
    family: str = DEFAULT_FAMILY,
    progress: Callable[[int, int, str], None] | None = None,
    reference_config=None,
    searched=None,
    baseline_model=None,
) -> pd.DataFrame:
    """Every (strategy, speedup) on one split; random is averaged over RANDOM_SEEDS.

    ``strategies``: ``accviz.method.scoring.choose_strategy`` of each name, made once by the caller.
    ``reference_config``: a deeper model this one was cut from; speedups are then against it.
    ``searched``: ``accviz.method.search.SearchedProfiles`` for ``family="searched"``.
    ``baseline_model``: what measured latency is compared with (the fp32 model of an int8 one).

    Launched on several processes (``accelerate launch``, ``torchrun``), each evaluates a contiguous
    share of the (speedup, strategy) jobs and every process gets the whole table, row for row the
    one process's (every job is seeded on its own). Each process times its own jobs' latency while
    the others run theirs on the same machine, so ``measured_speedup`` (a ratio of interleaved
    timings of one process) is as noisy as that contention makes it; ``progress`` is the main's.
    """
    strategies = tuple(checked(strategy) for strategy in strategies)  # names fail before any work
    encoded = encode_split(tokenizer, data.texts_a, data.texts_b, data.labels, max_length=max_length)
    depth = 1.0  # FLOPs(reference, unpruned) / FLOPs(this model, unpruned) on these lengths
    if reference_config is not None:
        depth = (
            unpruned_flops(reference_config, encoded.lengths).total_macs
            / unpruned_flops(model.config, encoded.lengths).total_macs
        )
    knob_family = DEFAULT_FAMILY if family == "searched" else family  # its reach bounds the grid
    top = max_speedup(model.config, encoded.lengths, knob_family) * depth
    own_targets = [float(s) / depth for s in speedups if s <= top + 1e-9]
    if depth > 1.0:  # the shallower model itself, then only targets clearly beyond it
        own_targets = [1.0] + [t for t in own_targets if t >= 1.01]
    own_targets = [t for t in own_targets if t >= 1.0 - 1e-9]
    grid = sorted({max(1.0, round(t, 9)) for t in own_targets})
    jobs = [(s, strategy) for s in grid for strategy in strategies]
    processes = launched_processes()
    with processes.split_between_processes(list(enumerate(jobs))) as shared_out:
        my_jobs = list(shared_out)
    rows_by_job = []  # (job number, its rows), one entry per job of this process
    for done, (number, (speedup, strategy)) in enumerate(my_jobs):
        if progress is not None and processes.is_main_process:
            progress(done, len(my_jobs), f"{strategy.name} at {speedup:g}x")
        solved = solve_in_family(
            model.config, encoded.lengths, speedup, family=family, fuse=strategy.fuse, searched=searched
        )
        seeds = RANDOM_SEEDS if strategy.entry.seeded else (0,)
        results = [
            evaluate_encoded(
                model,
                encoded,
                data.spec,
                target_speedup=speedup,
                strategy=strategy.with_seed(seed),
                batch_size=batch_size,
                measure_latency=strategy.name in measure_latency_for,
                pad_id=tokenizer.pad_token_id or 0,
                split=data.split,
                source=data.source,
                solved=solved,
                baseline_model=baseline_model,
            )
            for seed in seeds
        ]
        first = results[0]
        rows = []
        for metric in first.metrics:
            values = pd.Series([r.metrics[metric] for r in results])
            rows.append(
                {
                    "model": model_name,
                    "task": data.task,
                    "split": data.split,
                    "source": data.source,
                    "strategy": strategy.name,
                    "target_speedup": speedup * depth,
                    "estimated_speedup": first.estimated_speedup * depth,
                    "estimated_speedup_padded128": first.estimated_speedup_padded128 * depth,
                    # measured against this model's own unpruned forward; not against the reference
                    "measured_speedup": first.measured_speedup if depth == 1.0 else float("nan"),
                    "metric": metric,
                    "value": float(values.mean()),
                    "value_std": float(values.std(ddof=0)),
                    "mean_kept_last": first.mean_kept_per_layer[-2]
                    if len(first.mean_kept_per_layer) > 1
                    else 1.0,
                    "n_examples": first.n_examples,
                }
            )
        rows_by_job.append((number, rows))
    if processes.num_processes > 1:  # every process's jobs, back in the one process's order
        rows_by_job = sorted(gather_object(rows_by_job), key=lambda job: job[0])
    if progress is not None and processes.is_main_process:
        progress(len(my_jobs), len(my_jobs), "done")
    return pd.DataFrame([row for _, rows in rows_by_job for row in rows], columns=SWEEP_COLUMNS)
