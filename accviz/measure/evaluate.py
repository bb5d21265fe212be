"""Offline-tuning: evaluate a fine-tuned checkpoint at any target speedup, without retraining.

The profile is solved on the real lengths of the split being evaluated; the task metric, the
estimated FLOPs speedup (two baselines), the measured latency speedup and the mean number of
word-vectors kept per layer come back in one ``EvalResult``.

Baselines: ``estimated_speedup`` compares with the plain unpruned model on the same real lengths
(dynamic padding: the honest baseline); ``estimated_speedup_padded128`` compares with the same
model on inputs padded to 128 tokens, as the paper and PoWER-BERT measured.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from accviz.data.batching import EncodedSplit, encode_split, length_sorted_batches, pad_batch
from accviz.data.tasks import TaskSpec, compute_metrics, predictions_from_logits
from accviz.measure.latency import forward_runs, interleaved_latency
from accviz.method.flops import estimate_flops, unpruned_flops
from accviz.method.profile import DEFAULT_FAMILY
from accviz.method.pruned import PrunedBert
from accviz.method.scoring import ACC, ChosenStrategy, checked
from accviz.method.search import solve_in_family
from accviz.method.speedup import SolvedProfile

PADDED_BASELINE_LENGTH = 128
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class EvalResult:
    task: str
    split: str
    source: str
    strategy: str
    target_speedup: float
    metrics: dict  # metric name -> value in percent
    primary_metric: str
    estimated_speedup: float  # vs the plain model on the same real lengths
    estimated_speedup_padded128: float  # vs the plain model on inputs padded to 128 tokens
    exact_last_layer_speedup: float  # the part of estimated_speedup that needs no elimination
    measured_speedup: float | None  # latency of the plain model / pruned, same batches, interleaved
    latency_unpruned_s: float | None  # sum over batches of the plain model's median seconds
    latency_pruned_s: float | None  # the same for the pruned forward
    mean_kept_per_layer: tuple[float, ...]  # mean word-vectors kept after each layer
    mean_length: float
    n_examples: int
    reached: bool
    message: str
    profile: dict | None

    @property
    def primary_value(self) -> float:
        return self.metrics[self.primary_metric]

    def as_dict(self) -> dict:
        return asdict(self)


def evaluate_encoded(
    model,
    encoded: EncodedSplit,
    spec: TaskSpec,
    *,
    target_speedup: float = 1.0,
    strategy: ChosenStrategy = ACC,
    family: str = DEFAULT_FAMILY,
    batch_size: int = 64,
    measure_latency: bool = False,
    pad_id: int = 0,
    split: str = "dev",
    source: str = "",
    solved: SolvedProfile | None = None,
    progress: ProgressFn | None = None,
    baseline_model=None,
    searched=None,
) -> EvalResult:
    """``strategy``: from ``accviz.method.scoring.choose_strategy(name)``, made once by the caller.
    ``baseline_model``: what the measured latency is compared with (default ``model`` itself,
    unpruned); e.g. the fp32 model when ``model`` has int8 weights. ``searched``: the
    ``accviz.method.search.SearchedProfiles`` of the model, for ``family="searched"``."""
    strategy = checked(strategy)
    baseline_model = model if baseline_model is None else baseline_model
    lengths = encoded.lengths
    if solved is None:  # "acc+fuse": ACC ranks, the eliminated vectors are fused
        solved = solve_in_family(
            model.config, lengths, target_speedup, family=family, fuse=strategy.fuse, searched=searched
        )
    scorer = strategy.new_scorer()
    pruned = PrunedBert(model)
    model.eval()
    batches = length_sorted_batches(lengths, batch_size)
    all_logits = [None] * len(lengths)
    kept_sums = [0.0] * model.config.num_hidden_layers
    time_unpruned = time_pruned = 0.0
    with torch.inference_mode():
        for number, indices in enumerate(batches):
            batch = pad_batch(encoded, indices, pad_id=pad_id, regression=spec.is_regression)
            inputs = (batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
            if measure_latency:
                plain_s, pruned_s, out = _timed_pair(
                    baseline_model, pruned, inputs, solved.profile, scorer, warm=number == 0
                )
                time_unpruned += plain_s
                time_pruned += pruned_s
            else:
                out = pruned(*inputs, profile=solved.profile, scorer=scorer)
            for row, index in enumerate(indices):
                all_logits[index] = out.logits[row]
            for layer, trace in enumerate(out.traces):
                kept_sums[layer] += float(trace.kept_counts.sum())
            if progress is not None:
                progress(number + 1, len(batches))
    logits = torch.stack(all_logits)
    predictions = predictions_from_logits(spec, logits)
    metrics = compute_metrics(spec, predictions, list(encoded.labels))
    pruned_macs = estimate_flops(model.config, lengths, solved.profile).total_macs
    padded_macs = unpruned_flops(model.config, [PADDED_BASELINE_LENGTH] * len(lengths)).total_macs
    return EvalResult(
        task=spec.name,
        split=split,
        source=source,
        strategy=strategy.name,
        target_speedup=float(target_speedup),
        metrics=metrics,
        primary_metric=spec.primary_metric,
        estimated_speedup=solved.estimated_speedup,
        estimated_speedup_padded128=padded_macs / pruned_macs,
        exact_last_layer_speedup=solved.exact_last_layer_speedup,
        measured_speedup=(time_unpruned / time_pruned) if measure_latency else None,
        latency_unpruned_s=time_unpruned if measure_latency else None,
        latency_pruned_s=time_pruned if measure_latency else None,
        mean_kept_per_layer=tuple(total / len(lengths) for total in kept_sums),
        mean_length=sum(lengths) / len(lengths),
        n_examples=len(lengths),
        reached=solved.reached,
        message=solved.message,
        profile=solved.profile.as_dict() if solved.profile is not None else None,
    )


LATENCY_ROUNDS = 2  # timed rounds per batch: each side goes first once


def _timed_pair(model, pruned, inputs, profile, scorer, *, warm: bool):
    """Median seconds of the plain model and of the pruned one on one batch, timed in interleaved
    rounds (``accviz.measure.latency.interleaved_latency``); and the pruned output."""
    outputs = {}
    runs = forward_runs({"plain": model}, pruned, inputs, {"pruned": profile}, scorer, outputs=outputs)
    # the first batch pays one-time costs (allocator, kernels): one untimed round before it
    stats = interleaved_latency(runs, repeats=LATENCY_ROUNDS, warmup=1 if warm else 0)
    return stats["plain"].median_s, stats["pruned"].median_s, outputs["pruned"]


def evaluate_split(model, tokenizer, data, *, max_length: int = 128, **kwargs) -> EvalResult:
    """Evaluates a ``accviz.data.splits.TaskData`` split (texts and labels) at a target speedup."""
    encoded = encode_split(tokenizer, data.texts_a, data.texts_b, data.labels, max_length=max_length)
    return evaluate_encoded(
        model,
        encoded,
        data.spec,
        split=data.split,
        source=data.source,
        pad_id=tokenizer.pad_token_id or 0,
        **kwargs,
    )
