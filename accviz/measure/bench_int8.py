"""Benchmark: int8 weights × elimination, against the fp32 unpruned model.

    python -m accviz.bench int8 [--smoke] [--threads N]   ->  cached_runs/bench/int8.csv (+ .json)

For each encoder (BERT-base shapes, all-MiniLM-L6-v2), length (64/128/256) and batch (1, 16), one
interleaved run times the plain HF model (eager and sdpa, fp32) and ``PrunedBert`` with fp32 and
with int8 weights (``accviz.method.quantize``) at targets 1 (no elimination; the exact [CLS]-only last
layer only), 1.5, 2, 3 and 4. Every speedup is median(baseline) / median(variant) with baseline =
the faster of the fp32 HF models, all in the same rounds. The estimate is the FLOPs model's, which
counts multiply-adds and so cannot see int8: measured / estimated above 1 is what int8 adds.

The calibrated latency predictor (``accviz.measure.latency``) is fit per encoder and precision on targets
1/2/4 and scored on the held-out 1.5/3x profiles -> ``int8_predictor.csv``, whose per-term costs the
app's Trade-off page uses to predict the latency of the slider's profile in either precision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from accviz.errors import AccvizError
from accviz.measure.latency import (
    LATENCY_COST_COLUMNS,
    LatencyModel,
    LatencyRecord,
    evaluate_held_out,
    forward_runs,
)
from accviz.measure.report import show_table
from accviz.measure.workloads import (
    BERT_BASE,
    MINILM_L6,
    TINY_2L,
    EncoderSpec,
    TimingBudget,
    benchmark_inputs,
    grid_settings,
    plain_models,
    timed_rounds,
)
from accviz.method.flops import EncoderShape, estimated_speedup
from accviz.method.pruned import PrunedBert
from accviz.method.quantize import Int8Config, quantize_int8
from accviz.method.scoring import ACC
from accviz.method.speedup import solve_profile
from accviz.results import bench_card, read_bench_table, write_companion_table, write_table

VARIANTS = ("fp32", "int8")
FIT_TARGETS = (1.0, 2.0, 4.0)  # the predictor is fit on these; 1.5 and 3 are held out
GOALS = {  # (encoder, batch, length, target) -> int8 speedup over fp32 unpruned wanted (issue 13)
    ("bert-base", 1, 128, 2.0): 3.5,
    ("bert-base", 1, 128, 3.0): 4.5,
    ("bert-base", 16, 128, 3.0): 6.0,
}


@dataclass(frozen=True)
class Int8Settings:
    encoders: tuple[EncoderSpec, ...]
    lengths: tuple[int, ...]
    batch_sizes: tuple[int, ...]
    targets: tuple[float, ...]  # 1.0 = no elimination
    budget: TimingBudget
    int8: Int8Config = Int8Config()


INT8_FULL = Int8Settings(
    (BERT_BASE, MINILM_L6), (64, 128, 256), (1, 16), (1.0, 1.5, 2.0, 3.0, 4.0), TimingBudget(420.0, 3, 15)
)
INT8_SMOKE = Int8Settings((TINY_2L,), (16,), (1, 2), (1.0, 1.5, 2.0, 4.0), TimingBudget(0.0, 2, 2))


def _key(encoder: str, batch: int, length: int, name: str) -> str:
    return f"{encoder} B={batch} L={length} | {name}"


def run_int8(
    settings: Int8Settings, out_dir: Path, *, command: str, smoke: bool, note: str = "", log=print
) -> pd.DataFrame:
    card = bench_card(
        "int8",
        command,
        smoke,
        {
            **grid_settings(settings),
            "int8": settings.int8.label,
            "quantization": "torch.ao.quantization.quantize_dynamic (fbgemm), nn.Linear weights int8",
            "scorer": "acc",
            "baseline": "the faster of HF eager and HF sdpa in fp32",
        },
        note,
    )
    runs, plan, logit_diffs = {}, [], {}
    for encoder in settings.encoders:
        model = encoder.build()
        models = {"fp32": model, "int8": quantize_int8(model, settings.int8)}
        pruned = {variant: PrunedBert(m) for variant, m in models.items()}
        plain = plain_models(model)
        shape = EncoderShape.from_config(model.config)
        for length in settings.lengths:
            for batch in settings.batch_sizes:
                input_ids, mask = benchmark_inputs(model.config, batch, length)
                profiles = {}
                for target in settings.targets:
                    solved = solve_profile(model.config, [length] * batch, target, warn=False)
                    profiles[f"@{target:g}x"] = profile = solved.profile if target > 1.0 else None
                    estimate = estimated_speedup(shape, [length] * batch, profile)
                    for variant in VARIANTS:
                        plan.append((encoder.name, shape, batch, length, target, variant, profile, estimate))
                inputs, scorer = (input_ids, mask), ACC.new_scorer()
                batch_runs = forward_runs(plain, pruned["fp32"], inputs, {}, scorer)  # the plain models
                for at, profile in profiles.items():  # then fp32 and int8 at each target, in turn
                    for variant in VARIANTS:
                        batch_runs |= forward_runs(
                            {}, pruned[variant], inputs, {f"{variant}{at}": profile}, scorer
                        )
                runs |= {_key(encoder.name, batch, length, name): run for name, run in batch_runs.items()}
                with torch.inference_mode():
                    fp32 = pruned["fp32"](input_ids, mask).logits
                    int8 = pruned["int8"](input_ids, mask).logits
                logit_diffs[(encoder.name, batch, length)] = float((fp32 - int8).abs().max())
    log(f"int8: {len(runs)} callables in one interleaved run")
    stats = timed_rounds(runs, settings.budget, log)

    rows = []
    for encoder, _shape, batch, length, target, variant, _profile, estimate in plan:
        eager, sdpa = (stats[_key(encoder, batch, length, n)] for n in ("hf-eager", "hf-sdpa"))
        base = min((eager, sdpa), key=lambda s: s.median_s)
        run = stats[_key(encoder, batch, length, f"{variant}@{target:g}x")]
        rows.append(
            {
                "model": encoder,
                "batch": batch,
                "length": length,
                "target": target,
                "variant": variant,
                "measured_speedup_vs_fp32_unpruned": base.median_s / run.median_s,
                "estimated_speedup": estimate,
                "ms_p10": run.p10_s * 1e3,
                "ms_median": run.median_s * 1e3,
                "ms_p90": run.p90_s * 1e3,
                "measured_over_estimated": base.median_s / run.median_s / estimate,
                "baseline": "hf-eager" if base is eager else "hf-sdpa",
                "baseline_ms": base.median_s * 1e3,
                "int8_max_logit_diff": logit_diffs[(encoder, batch, length)],
                "repeats": run.repeats,
            }
        )
    table = pd.DataFrame(rows)
    predictor = predictor_table(plan, stats)
    card["summary"] = summary_lines(table, predictor)
    card["predictor"] = predictor.to_dict(orient="records")
    write_table(out_dir, "int8", table, card)
    write_companion_table(out_dir, "int8_predictor.csv", predictor)
    shown = ("model", "batch", "length", "target", "variant", "estimated_speedup",
             "measured_speedup_vs_fp32_unpruned", "measured_over_estimated", "ms_median")  # fmt: skip
    log(show_table(table, shown, "\nint8 × elimination (speedups against the faster fp32 HF model)"))
    log(
        show_table(
            predictor, ("model", "variant", "runs", "held_out_error_percent", "layer_ms"), "\npredictor"
        )
    )
    for line in card["summary"]:
        log(line)
    return table


def predictor_table(plan: Sequence[tuple], stats: dict) -> pd.DataFrame:
    """One latency model per (encoder, precision): fit on FIT_TARGETS, scored on the other targets."""
    rows = []
    for encoder in dict.fromkeys(p[0] for p in plan):
        for variant in VARIANTS:
            members = [p for p in plan if p[0] == encoder and p[5] == variant]
            records, held_out = [], set()
            for _, shape, batch, length, target, _, profile, _ in members:
                seconds = stats[_key(encoder, batch, length, f"{variant}@{target:g}x")].median_s
                record = LatencyRecord(shape, (length,) * batch, profile, batch, seconds)
                records.append(record)
                if not any(abs(target - t) < 1e-9 for t in FIT_TARGETS):
                    held_out.add(id(record))
            evaluation = evaluate_held_out(records, lambda r, ids=held_out: id(r) in ids)
            shape = members[0][1]
            costs = evaluation.model
            rows.append(
                {
                    "model": encoder,
                    "variant": variant,
                    "num_layers": shape.num_layers,
                    "hidden": shape.hidden,
                    "runs": len(records),
                    "held_out_error_percent": evaluation.held_out_error_percent,
                    "fit_error_percent": evaluation.train_error_percent,
                    "layer_ms": costs.layer_s * 1e3,
                    **dict(zip(LATENCY_COST_COLUMNS, costs.costs.tolist(), strict=True)),
                }
            )
    return pd.DataFrame(rows)


def summary_lines(table: pd.DataFrame, predictor: pd.DataFrame) -> list[str]:
    lines = []
    for (encoder, batch, length, target), wanted in GOALS.items():
        row = table[
            (table.model == encoder)
            & (table.batch == batch)
            & (table.length == length)
            & np.isclose(table.target, target)
            & (table.variant == "int8")
        ]
        if len(row):
            got = float(row.measured_speedup_vs_fp32_unpruned.iloc[0])
            verdict = "meets" if got >= wanted else "misses"
            lines.append(
                f"{encoder} batch {batch}, {length} tokens, int8 @ {target:g}x: {got:.2f}x vs fp32 unpruned "
                f"({verdict} the {wanted:g}x goal)"
            )
    fp32 = table[(table.variant == "fp32") & (table.batch > 1) & (table.target > 1) & (table.target <= 4)]
    if len(fp32):
        short = fp32[fp32.measured_over_estimated < 0.9]
        lines.append(
            f"fp32 fidelity at batch > 1 (targets 1.5-4x): {len(fp32) - len(short)} of {len(fp32)} runs >= 0.9"
            + (
                "; below: "
                + ", ".join(
                    f"{r.model} L={r.length} {r.target:g}x ({r.measured_over_estimated:.2f})"
                    for r in short.itertuples()
                )
                if len(short)
                else ""
            )
        )
    for row in predictor.itertuples():
        lines.append(f"predictor {row.model} {row.variant}: held-out error {row.held_out_error_percent:.1f}%")
    return lines


def predict_speedup(
    bench_dir: Path, config, lengths: Sequence[int], profile, int8: bool, batch_size: int
) -> tuple[float, str] | None:
    """Predicted speedup of the pruned forward (int8 or fp32 weights) over the fp32 unpruned model.

    Uses the stored ``int8_predictor.csv`` row of the same encoder shape (layers, hidden size);
    None when there is no such row. Raises ``AccvizError`` when the stored table is unreadable.
    The fp32 unpruned model is predicted as the fp32 pruned forward without elimination and with
    its full last layer. Returns (speedup, the benchmark model the costs were fit on).
    """
    path = Path(bench_dir) / "int8_predictor.csv"
    if not path.exists():
        return None
    try:
        table = read_bench_table(path)  # AccvizError when unparsable or empty
        shape = EncoderShape.from_config(config)
        same = table[(table.num_layers == shape.num_layers) & (table.hidden == shape.hidden)]
    except (OSError, ValueError, AttributeError) as error:
        raise AccvizError(f"{path} cannot be read: {error}") from None
    rows = {row["variant"]: row for _, row in same.iterrows()}
    if "fp32" not in rows or (int8 and "int8" not in rows):
        return None
    ordered = sorted(int(n) for n in lengths)
    baseline = LatencyModel.from_row(rows["fp32"]).predict(
        config, ordered, None, batch_size, exact_last_layer=False
    )
    pruned = LatencyModel.from_row(rows["int8" if int8 else "fp32"]).predict(
        config, ordered, profile, batch_size
    )
    return baseline / pruned, str(rows["fp32"]["model"])
