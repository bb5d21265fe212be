"""Benchmark: how faithfully latency follows the FLOPs model, and the calibrated latency predictor.

    python -m accviz.bench fidelity [--smoke] [--threads N]   ->  cached_runs/bench/fidelity.csv (+ .json),
                                                                  fidelity_predictor.csv

BERT-base and all-MiniLM-L6-v2, lengths 64/128/256, batch 1 and 16, targets 1.5..5
(``FIDELITY_FULL``), every workload in one interleaved run (``accviz.measure.workloads``):

    fidelity = measured / estimated,  goal >= FIDELITY_GOAL for targets up to FIDELITY_GOAL_UP_TO

Then ``accviz.measure.latency.LatencyModel`` is fit per encoder (and pooled) and judged on runs
it never saw, two ways: split "profiles" fits on PREDICTOR_FIT_TARGETS at every length and batch
and scores the other targets (goal: error <= PREDICTOR_GOAL_PERCENT); split "length" fits on
every target at the other lengths and scores ``held_out_length``. Each row of fidelity.csv also
holds its prediction under the "profiles" split (``predictor_split``, ``predicted_ms``,
``predicted_speedup``, ``predictor_error_percent``); fidelity_predictor.csv holds the fitted costs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from accviz.measure.latency import (
    LatencyRecord,
    evaluate_held_out,
    fit_latency_model,
    mean_abs_percent_error,
)
from accviz.measure.report import show_table
from accviz.measure.workloads import (
    EXACT_ONLY,
    FidelitySettings,
    Measurement,
    Workload,
    grid_settings,
    measure_all,
    measurement_rows,
    plain_models,
    pruned_key,
)
from accviz.method.profile import DEFAULT_FAMILY
from accviz.results import bench_card, write_companion_table, write_table

FIDELITY_GOAL = 0.85  # measured / estimated, for targets up to FIDELITY_GOAL_UP_TO
FIDELITY_GOAL_UP_TO = 4.0
PREDICTOR_GOAL_PERCENT = 10.0
PREDICTOR_FIT_TARGETS = (1.0, 2.0, 4.0)  # the predictor is fit on these; the other targets are held out

FIDELITY_SHOWN = (  # the columns printed when it finishes; the CSV has them all
    "model",
    "length",
    "batch_size",
    "variant",
    "estimated_speedup",
    "measured_speedup",
    "measured_speedup_p10",
    "measured_speedup_p90",
    "measured_over_estimated",
    "baseline",
    "pruned_spread",
    "predictor_split",
    "predicted_speedup",
    "predictor_error_percent",
)


def _record(measured: Measurement, key: str, profile) -> LatencyRecord:
    return LatencyRecord(
        shape=measured.shape,
        lengths=tuple(measured.lengths),
        profile=profile,
        batch_size=measured.batch_size,
        seconds=measured.stats[key].median_s,
        label=f"{measured.encoder} L={measured.length} B={measured.batch_size} {key}",
    )


def _records_of(measured: Measurement) -> list[tuple[float, str, LatencyRecord]]:
    """(target, variant, record) of every pruned-forward run; the exact-last-layer-only run is target 1.0."""
    records = [(1.0, EXACT_ONLY, _record(measured, EXACT_ONLY, None))]
    for target, solution in measured.solved.items():
        key = pruned_key(target)
        records.append((target, key, _record(measured, key, solution.profile)))
    return records


def _is_fit_target(target: float) -> bool:
    return any(abs(target - fit) < 1e-9 for fit in PREDICTOR_FIT_TARGETS)


def run_fidelity(
    settings: FidelitySettings, out_dir: Path, *, command: str, smoke: bool, note: str = "", log=print
) -> pd.DataFrame:
    card = bench_card(
        "fidelity",
        command,
        smoke,
        {
            **grid_settings(settings),
            "predictor_fit_targets": list(PREDICTOR_FIT_TARGETS),
            "predictor_held_out_length": settings.held_out_length,
            "scorer": "acc",
            "profile_family": DEFAULT_FAMILY,
        },
        note,
    )
    log(
        f"fidelity: {', '.join(e.name for e in settings.encoders)}; lengths {settings.lengths}; "
        f"batches {settings.batch_sizes}; targets {settings.targets}"
    )
    started = time.perf_counter()
    workloads = []
    for encoder in settings.encoders:
        model = encoder.build()
        plain = plain_models(model)
        workloads += [
            Workload(encoder.name, model, plain, length, batch_size)
            for length in settings.lengths
            for batch_size in settings.batch_sizes
        ]
    measurements = measure_all(workloads, settings.targets, settings.budget, log)
    del workloads
    measuring_seconds = time.perf_counter() - started

    table = pd.DataFrame([row for measured in measurements for row in measurement_rows(measured)])
    predictor_table, predictions = _predictor_report(measurements, settings)
    table["predictor_split"] = [
        "fit" if _is_fit_target(t) else "held-out" for t in table["target_speedup"]
    ]  # the exact-only run is target 1.0: fit
    table["predicted_ms"] = [
        predictions[(r.model, r.length, r.batch_size, r.variant)] * 1e3 for r in table.itertuples()
    ]
    table["predicted_speedup"] = table["baseline_ms"] / table["predicted_ms"]
    table["predictor_error_percent"] = (table["predicted_ms"] / table["pruned_ms"] - 1) * 100

    summary = _fidelity_summary(table, predictor_table)
    card["settings"]["measuring_seconds"] = measuring_seconds
    card["summary"] = summary
    card["predictor"] = predictor_table.to_dict(orient="records")
    write_table(out_dir, "fidelity", table, card)
    write_companion_table(out_dir, "fidelity_predictor.csv", predictor_table)
    log(
        show_table(
            table, FIDELITY_SHOWN, "\nfidelity: measured vs estimated speedup (baseline: faster HF model)"
        )
    )
    log(
        show_table(
            predictor_table,
            predictor_table.columns,
            "\nlatency predictor (per-term costs fit by NNLS; error = mean |predicted - measured| / measured)",
        )
    )
    for line in summary["lines"]:
        log(line)
    return table


def _predictor_report(
    measurements: Sequence[Measurement], settings: FidelitySettings
) -> tuple[pd.DataFrame, dict[tuple, float]]:
    """Per encoder (and pooled over encoders): fit on some runs, score on held-out ones.

    Split "profiles": fit on targets PREDICTOR_FIT_TARGETS at every length and batch, score the
    other targets. Split "length": fit on every target at the other lengths, score one length.
    Returns the table and, per run, its prediction under the "profiles" split of its encoder.
    """
    tagged = []  # (measurement, variant, target, record)
    for measured in measurements:
        for target, key, record in _records_of(measured):
            tagged.append((measured, key, target, record))
    rows, predictions = [], {}
    groups = [(m.name, [t for t in tagged if t[0].encoder == m.name]) for m in settings.encoders]
    if len(settings.encoders) > 1:
        groups.append(("pooled", tagged))
    for group_name, members in groups:
        records = [t[3] for t in members]
        held_out = {id(record) for _, _, target, record in members if not _is_fit_target(target)}
        by_profile = evaluate_held_out(records, lambda r, ids=held_out: id(r) in ids)
        by_length = evaluate_held_out(records, lambda r: r.lengths[0] == settings.held_out_length)
        everything = fit_latency_model(records)
        if group_name != "pooled":
            for measured, key, _, record in members:
                predictions[(measured.encoder, measured.length, measured.batch_size, key)] = (
                    by_profile.model.predict_record(record)
                )
        costs = by_profile.model
        rows.append(
            {
                "fit_on": group_name,
                "runs": len(records),
                "held_out_profiles_error_percent": by_profile.held_out_error_percent,
                "held_out_speedup_error_percent": _speedup_error_percent(costs, members, held_out),
                "fit_error_percent": by_profile.train_error_percent,
                "held_out_length_error_percent": by_length.held_out_error_percent,
                "all_runs_fit_error_percent": mean_abs_percent_error(everything, records),
                "attention_gmac_s": _gmacs(costs.attention_s_per_mac),
                "ffn_gmac_s": _gmacs(costs.ffn_s_per_mac),
                "scoring_gmac_s": _gmacs(costs.scoring_s_per_mac),
                "attention_map_ns": costs.attention_map_s_per_element * 1e9,
                "layer_ms": costs.layer_s * 1e3,
                "token_layer_us": costs.token_layer_s * 1e6,
            }
        )
    return pd.DataFrame(rows), predictions


def _speedup_error_percent(model, members, held_out_ids: set[int]) -> float:
    """Mean |predicted / measured - 1| of the speedup over the same workload's exact-only run.

    Both runs of a pair were timed in the same rounds, so a load change between workloads
    cancels: this isolates how well the predictor models elimination from how steady the
    machine was, which the absolute latency error mixes together.
    """
    exact_of = {(m.encoder, m.length, m.batch_size): r for m, key, _, r in members if key == EXACT_ONLY}
    errors = []
    for measured, _, _, record in members:
        if id(record) not in held_out_ids:
            continue
        exact = exact_of[(measured.encoder, measured.length, measured.batch_size)]
        predicted = model.predict_record(exact) / model.predict_record(record)
        errors.append(abs(predicted / (exact.seconds / record.seconds) - 1))
    return float(np.mean(errors) * 100) if errors else float("nan")


def _gmacs(seconds_per_mac: float) -> float:
    """Throughput in GMAC/s; NaN where the fit gave the term no cost (it explains nothing)."""
    return 1e-9 / seconds_per_mac if seconds_per_mac > 0 else float("nan")


def _fidelity_summary(table: pd.DataFrame, predictor_table: pd.DataFrame) -> dict:
    targets = table[
        (table["variant"] != EXACT_ONLY) & (table["target_speedup"] <= FIDELITY_GOAL_UP_TO + 1e-9)
    ]
    missed = targets[targets["measured_over_estimated"] < FIDELITY_GOAL]
    lines = [
        f"measured/estimated >= {FIDELITY_GOAL} (targets <= {FIDELITY_GOAL_UP_TO:g}x): "
        f"{len(targets) - len(missed)} of {len(targets)} runs"
    ]
    for (model, batch_size), group in targets.groupby(["model", "batch_size"], sort=False):
        short = group[group["measured_over_estimated"] < FIDELITY_GOAL]
        where = ", ".join(
            f"L={r.length} {r.target_speedup:g}x ({r.measured_over_estimated:.2f})"
            for r in short.itertuples()
        )
        lines.append(
            f"  {model} batch {batch_size}: {len(group) - len(short)} of {len(group)} meet it"
            + (f"; missed at {where}" if where else "")
        )
    for row in predictor_table.itertuples():
        verdict = "meets" if row.held_out_profiles_error_percent <= PREDICTOR_GOAL_PERCENT else "misses"
        lines.append(
            f"predictor ({row.fit_on}): latency error on held-out profiles "
            f"{row.held_out_profiles_error_percent:.1f}% ({verdict} the {PREDICTOR_GOAL_PERCENT:g}% goal); "
            f"on their speedup over the exact-only run {row.held_out_speedup_error_percent:.1f}%; "
            f"on a held-out length {row.held_out_length_error_percent:.1f}%"
        )
    return {
        "runs_meeting_goal": int(len(targets) - len(missed)),
        "runs_checked": int(len(targets)),
        "goal": FIDELITY_GOAL,
        "predictor_goal_percent": PREDICTOR_GOAL_PERCENT,
        "lines": lines,
    }
