"""Measured latency, and a latency predictor calibrated on this machine.

Two parts:

1. ``interleaved_latency`` times several callables round after round (A, B, C, then B, C, A, ...)
   so that slow drifts of a shared machine (another job starting, a CPU clock change) hit every
   callable alike; speedups are ratios of medians measured in the same run.
2. ``LatencyModel``: the FLOPs model counts multiply-adds, but on a CPU a matmul with few rows
   runs far below peak (one BERT-base layer: ~1.6 ms for 1 word-vector, ~16 ms for 128), so
   FLOPs alone overstate what elimination buys at batch 1. The predictor adds three terms for
   that and fits every cost by non-negative least squares on measured runs:

       t = c_att * attention_MACs + c_ffn * FFN_MACs + c_score * scoring_MACs
           + c_map * attention_map + c_layer * layer_calls + c_token * token_layers

   summed over the forward calls of a workload, where ``layer_calls`` = layers run per call
   (batch-independent cost: reading every weight once, dispatching the ops), ``token_layers``
   = sum over layers of the word-vectors entering them (per-row costs outside the matmuls:
   LayerNorm, GELU, gather) and ``attention_map`` = sum over layers of B*H*n_q*n, the elements
   of the attention probabilities (masking, softmax, and the memory traffic of a tensor the
   ACC score needs materialised: at 256 tokens and batch 16 it no longer fits in cache, and
   all-MiniLM-L6-v2's eager attention ran 1.5x slower than sdpa). The MAC terms come from
   ``estimate_flops(...).layers`` on the padded batch: a batch runs every row at its longest
   length, so that is the work done.

   Within one encoder shape the attention and FFN MACs grow together with the word-vectors
   kept, so the fit may put their joint cost on either term: the split of the costs is not
   identifiable from such runs, the predicted time is. Fit one model per encoder shape (matmul
   efficiency depends on the sizes) and judge it by its error on held-out profiles.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.optimize import nnls

from accviz.errors import AccvizError
from accviz.method.flops import EncoderShape, estimate_flops
from accviz.method.profile import EliminationProfile


@dataclass(frozen=True)
class LatencyStats:
    """Wall-clock samples (seconds) of one callable, one per round."""

    name: str
    samples_s: tuple[float, ...]

    def __post_init__(self):
        object.__setattr__(self, "samples_s", tuple(float(s) for s in self.samples_s))
        if not self.samples_s:
            raise AccvizError(f"Latency of {self.name!r} has no samples; run at least one repeat.")

    def _percentile(self, q: float) -> float:
        return float(np.percentile(self.samples_s, q))  # linear interpolation between samples

    @property
    def median_s(self) -> float:
        return self._percentile(50)

    @property
    def p10_s(self) -> float:
        return self._percentile(10)

    @property
    def p90_s(self) -> float:
        return self._percentile(90)

    @property
    def spread(self) -> float:
        """(p90 - p10) / median: 0.1 means the middle 80% of the samples lie within 10% of the median."""
        return (self.p90_s - self.p10_s) / self.median_s if self.median_s > 0 else math.inf

    @property
    def repeats(self) -> int:
        return len(self.samples_s)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "median_s": self.median_s,
            "p10_s": self.p10_s,
            "p90_s": self.p90_s,
            "spread": self.spread,
            "samples_s": list(self.samples_s),
        }


def round_order(names: Sequence[str], round_index: int) -> list[str]:
    """The order of round ``round_index``: the list rotated by one each round, so every callable
    goes first (and follows every other) equally often over len(names) rounds."""
    shift = round_index % len(names)
    return list(names[shift:]) + list(names[:shift])


def interleaved_latency(
    runs: dict[str, Callable[[], object]],
    *,
    repeats: int = 7,
    warmup: int = 1,
    on_round: Callable[[int, int], None] | None = None,
) -> dict[str, LatencyStats]:
    """Times every callable once per round for ``warmup`` untimed rounds, then ``repeats`` timed ones.

    Runs under ``torch.inference_mode()`` with the garbage collector paused while timing, using
    ``time.perf_counter``. Returns one ``LatencyStats`` per name, in the order of ``runs``.
    ``on_round(done, total)`` is called after each timed round (progress for long benchmarks).
    """
    if not runs:
        raise AccvizError("interleaved_latency needs at least one callable to time.")
    if repeats < 1 or warmup < 0:
        raise AccvizError(f"repeats must be >= 1 and warmup >= 0; got repeats={repeats}, warmup={warmup}.")
    names = list(runs)
    samples: dict[str, list[float]] = {name: [] for name in names}
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()  # a collection inside one timed call would charge it to that callable alone
    try:
        with torch.inference_mode():
            for round_index in range(warmup + repeats):
                for name in round_order(names, round_index):
                    started = time.perf_counter()
                    runs[name]()
                    elapsed = time.perf_counter() - started
                    if round_index >= warmup:
                        samples[name].append(elapsed)
                if on_round is not None and round_index >= warmup:
                    on_round(round_index - warmup + 1, repeats)
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: LatencyStats(name, tuple(samples[name])) for name in names}


INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def forward_runs(
    plain: dict[str, Callable[..., object]],
    pruned: Callable[..., object],
    inputs: tuple[torch.Tensor, ...],
    profiles: dict[str, EliminationProfile | None],
    scorer,
    *,
    synchronize: Callable[[], None] | None = None,
    outputs: dict | None = None,
) -> dict[str, Callable[[], object]]:
    """What ``interleaved_latency`` times for one batch: each plain model's forward (HF, by
    keyword) and the pruned forward (a ``PrunedBert``) under each named profile (None: unpruned,
    the [CLS]-only last layer alone), all on the same ``inputs`` = (input_ids (B, T),
    attention_mask (B, T)[, token_type_ids (B, T)]). ``synchronize`` (e.g.
    ``torch.cuda.synchronize``): each call waits for its kernels. ``outputs``: where each pruned
    call leaves its output, by name."""

    def finished(call):
        if synchronize is None:
            return call

        def synced():
            call()
            synchronize()

        return synced

    keywords = dict(zip(INPUT_NAMES, inputs, strict=False))
    runs = {name: finished(lambda m=m: m(**keywords)) for name, m in plain.items()}

    def run_pruned(name, profile):
        out = pruned(*inputs, profile=profile, scorer=scorer)
        if outputs is not None:
            outputs[name] = out

    for name, profile in profiles.items():
        runs[name] = finished(lambda n=name, p=profile: run_pruned(n, p))
    return runs


def measured_speedup(stats_base: LatencyStats, stats_new: LatencyStats) -> float:
    """median(base) / median(new): how many times faster ``new`` ran."""
    return stats_base.median_s / stats_new.median_s


# ---------------------------------------------------------------------------------------------
# The calibrated latency predictor

TERMS = ("attention", "ffn", "scoring", "attention_map", "layer", "token")
TERM_UNITS = {
    "attention": "s per attention MAC",
    "ffn": "s per FFN MAC",
    "scoring": "s per scoring MAC",
    "attention_map": "s per attention-probability element (B*H*n_q*n per layer)",
    "layer": "s per layer run per forward call (batch-independent)",
    "token": "s per word-vector entering a layer",
}


def batch_chunks(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """The workload's sequences in consecutive batches of ``batch_size`` (the caller sorts them)."""
    if batch_size < 1:
        raise AccvizError(f"batch_size must be >= 1; got {batch_size}.")
    lengths = [int(length) for length in lengths]
    if not lengths:
        raise AccvizError("A latency prediction needs the real lengths of at least one sequence.")
    return [lengths[start : start + batch_size] for start in range(0, len(lengths), batch_size)]


def latency_features(
    config,
    lengths: Sequence[int],
    profile: EliminationProfile | None,
    batch_size: int,
    *,
    exact_last_layer: bool = True,
) -> np.ndarray:
    """The predictor's features (in ``TERMS`` order) of running ``lengths`` in batches of ``batch_size``.

    Every batch is padded to its longest sequence, so its work is the FLOPs model's at that length
    for every row.
    """
    shape = EncoderShape.from_config(config)
    features = np.zeros(len(TERMS))
    for chunk in batch_chunks(lengths, batch_size):
        rows = len(chunk)
        padded = [max(chunk)] * rows
        estimate = estimate_flops(shape, padded, profile, exact_last_layer=exact_last_layer)
        attention_map = 0
        for index, layer in enumerate(estimate.layers):
            n = layer.tokens_in // rows  # every row of a padded batch has the same n_l
            queries = 1 if exact_last_layer and index == len(estimate.layers) - 1 else n
            attention_map += rows * shape.num_heads * queries * n
        features += (
            sum(layer.attention for layer in estimate.layers),
            sum(layer.ffn for layer in estimate.layers),
            sum(layer.scoring for layer in estimate.layers),
            attention_map,
            len(estimate.layers),
            sum(layer.tokens_in for layer in estimate.layers),
        )
    return features


@dataclass(frozen=True)
class LatencyRecord:
    """One measured workload: ``lengths`` run in batches of ``batch_size`` took ``seconds`` (median)."""

    shape: EncoderShape
    lengths: tuple[int, ...]
    profile: EliminationProfile | None
    batch_size: int
    seconds: float
    exact_last_layer: bool = True
    label: str = ""  # free text for reports, e.g. "bert-base L=128 B=16 2.0x"

    def features(self) -> np.ndarray:
        return latency_features(
            self.shape, self.lengths, self.profile, self.batch_size, exact_last_layer=self.exact_last_layer
        )


LATENCY_COST_COLUMNS = (  # LatencyModel's costs in TERMS order, as stored in benchmark tables
    "attention_s_per_mac",
    "ffn_s_per_mac",
    "scoring_s_per_mac",
    "attention_map_s_per_element",
    "layer_s",
    "token_layer_s",
)


@dataclass(frozen=True)
class LatencyModel:
    """Per-term costs in seconds (see ``TERM_UNITS``), all >= 0."""

    attention_s_per_mac: float
    ffn_s_per_mac: float
    scoring_s_per_mac: float
    attention_map_s_per_element: float
    layer_s: float
    token_layer_s: float
    num_records: int = 0  # how many measured runs the costs were fit on

    @property
    def costs(self) -> np.ndarray:
        return np.array(
            [
                self.attention_s_per_mac,
                self.ffn_s_per_mac,
                self.scoring_s_per_mac,
                self.attention_map_s_per_element,
                self.layer_s,
                self.token_layer_s,
            ]
        )

    @classmethod
    def from_costs(cls, costs: Iterable[float], num_records: int = 0) -> LatencyModel:
        return cls(*(float(c) for c in costs), num_records=num_records)

    @classmethod
    def from_row(cls, row) -> LatencyModel:
        """From a stored table's row (a dict or pandas row) holding ``LATENCY_COST_COLUMNS``."""
        try:
            return cls.from_costs([row[column] for column in LATENCY_COST_COLUMNS])
        except (KeyError, TypeError, ValueError) as error:
            raise AccvizError(f"A stored latency model lacks its costs: {error}") from None

    def predict(
        self,
        config,
        lengths: Sequence[int],
        profile: EliminationProfile | None,
        batch_size: int,
        *,
        exact_last_layer: bool = True,
    ) -> float:
        """Predicted seconds to run ``lengths`` through the pruned forward in batches of ``batch_size``."""
        features = latency_features(config, lengths, profile, batch_size, exact_last_layer=exact_last_layer)
        return float(features @ self.costs)

    def predict_record(self, record: LatencyRecord) -> float:
        return float(record.features() @ self.costs)

    def as_dict(self) -> dict:
        return {
            "attention_s_per_mac": self.attention_s_per_mac,
            "ffn_s_per_mac": self.ffn_s_per_mac,
            "scoring_s_per_mac": self.scoring_s_per_mac,
            "attention_map_s_per_element": self.attention_map_s_per_element,
            "layer_s": self.layer_s,
            "token_layer_s": self.token_layer_s,
            "num_records": self.num_records,
            "attention_gmac_per_s": _rate(self.attention_s_per_mac),
            "ffn_gmac_per_s": _rate(self.ffn_s_per_mac),
        }


def _rate(seconds_per_mac: float) -> float | None:
    return 1e-9 / seconds_per_mac if seconds_per_mac > 0 else None


def fit_latency_model(records: Sequence[LatencyRecord]) -> LatencyModel:
    """Non-negative least squares on the relative error: minimise sum_r ((f_r . c - t_r) / t_r)^2, c >= 0.

    Dividing every row by its measured time weighs a 10 ms run like a 2 s one (the goal is a small
    *percentage* error everywhere), and scaling every column to unit size keeps NNLS well
    conditioned although MAC counts are ~1e9 and layer counts ~10.
    """
    if not records:
        raise AccvizError("Fitting a latency model needs at least one measured run.")
    features = np.stack([record.features() for record in records])  # (R, T)
    seconds = np.array([record.seconds for record in records], dtype=float)  # (R,)
    if (seconds <= 0).any():
        raise AccvizError("Every measured run must have a positive time to fit a latency model.")
    rows = features / seconds[:, None]  # relative-error weighting
    column_scale = np.abs(rows).max(axis=0)
    column_scale[column_scale == 0] = 1.0  # a term absent from every run gets cost 0
    scaled_costs, _ = nnls(rows / column_scale, np.ones(len(records)))
    return LatencyModel.from_costs(scaled_costs / column_scale, num_records=len(records))


def prediction_errors(model: LatencyModel, records: Sequence[LatencyRecord]) -> np.ndarray:
    """Signed relative errors (predicted - measured) / measured, one per record."""
    predicted = np.array([model.predict_record(record) for record in records])
    measured = np.array([record.seconds for record in records])
    return (predicted - measured) / measured


def mean_abs_percent_error(model: LatencyModel, records: Sequence[LatencyRecord]) -> float:
    """Mean |predicted - measured| / measured over ``records``, in percent."""
    if not records:
        raise AccvizError("No records to evaluate the latency model on.")
    return float(np.mean(np.abs(prediction_errors(model, records))) * 100)


@dataclass(frozen=True)
class HeldOutEvaluation:
    """A latency model fit on some runs and scored on runs it never saw."""

    model: LatencyModel
    train_error_percent: float  # mean absolute % error on the runs it was fit on
    held_out_error_percent: float  # the same on the held-out runs: the number that matters
    num_train: int
    num_held_out: int
    held_out_errors: tuple[float, ...] = field(default=())  # signed relative errors, per held-out record


def evaluate_held_out(
    records: Sequence[LatencyRecord], is_held_out: Callable[[LatencyRecord], bool]
) -> HeldOutEvaluation:
    """Fits on the records where ``is_held_out`` is False; reports the error on the others."""
    train = [record for record in records if not is_held_out(record)]
    held_out = [record for record in records if is_held_out(record)]
    if not train or not held_out:
        raise AccvizError(
            f"A held-out evaluation needs runs on both sides; got {len(train)} to fit and {len(held_out)} held out."
        )
    model = fit_latency_model(train)
    return HeldOutEvaluation(
        model=model,
        train_error_percent=mean_abs_percent_error(model, train),
        held_out_error_percent=mean_abs_percent_error(model, held_out),
        num_train=len(train),
        num_held_out=len(held_out),
        held_out_errors=tuple(float(e) for e in prediction_errors(model, held_out)),
    )
