"""One input, analysed: which word-vectors each layer scores, keeps and drops (the Explore page).

``analyze_text`` tokenises one text (or pair), solves the elimination profile for this input's own
length, and runs the encoder twice: unpruned, and pruned with the chosen strategy. The pruned run
keeps every layer's scores (``exact_last_layer=False, output_scores=True``; the logits are the
same as the exact [CLS]-only last layer), so the result holds, per layer l and original token j:

    scores[l, j]  the normalised score s_l(j) when j entered layer l, NaN once j was eliminated
    rank[l, j]    1 = best score in layer l, -1 when j was not there
    eliminated_at[j] = l  when j was scored in layer l and dropped before its FFN (0: never)

Everything is numpy or plain Python, so the app can cache and pickle the result.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from dataclasses import asdict, dataclass

import numpy as np
import torch

from accviz.errors import AccvizError
from accviz.method.flops import FlopsEstimate, estimate_flops, unpruned_flops
from accviz.method.profile import DEFAULT_FAMILY
from accviz.method.pruned import PrunedBert
from accviz.method.scoring import ACC, STRATEGY_ORDER, ChosenStrategy, checked, choose_strategy
from accviz.method.speedup import SolvedProfile, solve_profile

ALL_STRATEGIES = tuple(choose_strategy(name) for name in STRATEGY_ORDER)  # the one registry
# Two regression outputs "agree" when they differ by less than this (STS-B scores run 0..5).
REGRESSION_AGREEMENT = 0.5


@dataclass(frozen=True)
class Prediction:
    """What the classifier says about one input."""

    label: str  # label name; for regression the score written out
    label_id: int | None  # argmax class; None for regression
    probability: float | None  # softmax probability of label_id; None for regression
    score: float | None  # the regression output; None for classification
    probabilities: tuple[float, ...]  # softmax over all classes; () for regression


@dataclass(frozen=True)
class EncodedText:
    """One tokenised input (batch of one), cut to what the model can read."""

    input_ids: torch.Tensor  # (1, T)
    token_type_ids: torch.Tensor  # (1, T)
    attention_mask: torch.Tensor  # (1, T)
    tokens: tuple[str, ...]  # the tokenizer's pieces, [CLS] ... [SEP] (... [SEP])
    truncated: bool
    original_token_count: int  # with special tokens, before truncation


@dataclass(frozen=True, eq=False)  # == on numpy fields is elementwise: compare fields one by one
class TextAnalysis:
    """One input through the unpruned and the pruned encoder. T tokens, L layers."""

    tokens: tuple[str, ...]  # (T,) as the tokenizer splits them
    token_type_ids: np.ndarray  # (T,)
    scores: np.ndarray  # (L, T) float; NaN where the token had been eliminated before layer l
    rank: np.ndarray  # (L, T) int; 1 = best score in the layer, -1 = not in the layer
    eliminated_at: np.ndarray  # (T,) int; 1-based layer after which it was dropped; 0 = never
    kept_per_layer: tuple[int, ...]  # (L,) k_l: word-vectors kept after layer l
    survivors: tuple[str, ...]  # tokens entering the last layer (what its [CLS] query reads)
    attentions: list[np.ndarray]  # per layer (H, n_l, n_l), keys = layer_positions[l]; [] when not asked
    layer_positions: list[np.ndarray]  # per layer (n_l,) original positions entering layer l
    unpruned: Prediction
    pruned: Prediction
    agree: bool  # same class (classification) or within REGRESSION_AGREEMENT (regression)
    solved: SolvedProfile  # the profile solved on this input's own length
    estimate: FlopsEstimate  # the pruned run (exact [CLS]-only last layer) on this length
    baseline_estimate: FlopsEstimate  # the plain unpruned model on this length
    strategy: str
    target_speedup: float
    truncated: bool
    original_token_count: int
    family: str = DEFAULT_FAMILY

    @property
    def num_layers(self) -> int:
        return int(self.scores.shape[0])

    @property
    def length(self) -> int:
        return len(self.tokens)


def encode_text(tokenizer, text_a: str, text_b: str | None, max_length: int) -> EncodedText:
    """Tokenise one text or pair to at most ``max_length`` tokens (longest-first for a pair).

    Empty or whitespace-only text, or text of which nothing survives tokenisation, is an error
    the user can fix. A whitespace-only ``text_b`` counts as no second text.
    """
    if text_a is None or not str(text_a).strip():
        raise AccvizError("Enter some text to analyse: the input is empty.")
    if text_b is not None and not str(text_b).strip():
        text_b = None
    shortest = 3 if text_b is None else 5  # [CLS] a [SEP] (b [SEP])
    if max_length < shortest:
        raise AccvizError(f"max_length {max_length} is too short; this input needs at least {shortest}.")
    full = tokenizer(text_a, text_b, truncation=False, verbose=False)  # verbose: no too-long warning
    original_count = len(full["input_ids"])
    encoded = tokenizer(text_a, text_b, truncation=True, max_length=max_length, return_tensors="pt")
    input_ids = encoded["input_ids"]  # (1, T)
    special = {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id}
    if all(int(i) in special for i in input_ids[0]):
        raise AccvizError("The text has no tokens the model can read; enter some words.")
    token_type_ids = encoded.get("token_type_ids")
    if token_type_ids is None:
        token_type_ids = torch.zeros_like(input_ids)
    attention_mask = encoded.get("attention_mask")
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    return EncodedText(
        input_ids=input_ids,
        token_type_ids=token_type_ids,
        attention_mask=attention_mask,
        tokens=tuple(tokenizer.convert_ids_to_tokens(input_ids[0].tolist())),
        truncated=original_count > input_ids.shape[1],
        original_token_count=original_count,
    )


def model_max_length(model, max_length: int | None) -> int:
    """What the model can read: ``max_length`` capped by its position embeddings."""
    limit = int(getattr(model.config, "max_position_embeddings", 512))
    return limit if max_length is None else min(int(max_length), limit)


def is_regression_model(model, is_regression: bool = False) -> bool:
    config = model.config
    return bool(is_regression or config.num_labels == 1 or config.problem_type == "regression")


def prediction_from_logits(
    logits: torch.Tensor, *, regression: bool, label_names=None, config=None
) -> Prediction:
    """logits (C,) of one input -> Prediction."""
    logits = logits.detach().float().cpu()
    if regression:
        value = float(logits[0])
        return Prediction(f"{value:.3f}", None, None, value, ())
    probabilities = torch.softmax(logits, dim=-1)
    label_id = int(probabilities.argmax())
    if label_names and label_id < len(label_names):
        label = str(label_names[label_id])
    else:
        id2label = getattr(config, "id2label", None) or {}
        label = str(id2label.get(label_id, label_id))
    return Prediction(label, label_id, float(probabilities[label_id]), None, tuple(probabilities.tolist()))


@contextlib.contextmanager
def eval_mode(model):
    """Dropout off for the duration; a model already in eval mode is not touched."""
    was_training = model.training
    if was_training:
        model.eval()
    try:
        yield model
    finally:
        if was_training:
            model.train()


def _model_device(model) -> torch.device:
    return next(model.parameters()).device


def per_token_tables(traces, T: int, row: int = 0):
    """Layer traces of sequence ``row`` (length T) -> scores (L, T), rank (L, T), eliminated_at (T,), ..."""
    L = len(traces)
    scores = np.full((L, T), np.nan)
    rank = np.full((L, T), -1, dtype=np.int64)
    eliminated_at = np.zeros(T, dtype=np.int64)
    kept_per_layer, attentions, layer_positions = [], [], []
    for layer, trace in enumerate(traces):
        live = trace.mask[row]  # (n_l,)
        positions = trace.positions[row][live].cpu().numpy()  # (n_l,) original positions
        layer_positions.append(positions)
        if trace.scores is not None:
            layer_scores = trace.scores[row][live].double().cpu().numpy()  # (n_l,)
            scores[layer, positions] = layer_scores
            order = np.argsort(-layer_scores, kind="stable")  # best first; ties keep original order
            rank[layer, positions[order]] = np.arange(1, len(order) + 1)
        kept = trace.kept_positions[row][trace.kept_mask[row]].cpu().numpy()  # (k_l,)
        kept_per_layer.append(len(kept))
        dropped = np.setdiff1d(positions, kept)
        eliminated_at[dropped] = layer + 1
        if trace.attention is not None:
            attention = trace.attention[row][:, :, live]  # (H, n_q, n_l)
            if attention.shape[1] == live.numel():  # n_q = 1 in a [CLS]-only layer
                attention = attention[:, live]
            attentions.append(attention.float().cpu().numpy())  # (H, n_l, n_l)
    return scores, rank, eliminated_at, tuple(kept_per_layer), attentions, layer_positions


def analyze_text(
    model,
    tokenizer,
    text_a: str,
    text_b: str | None = None,
    *,
    target_speedup: float = 2.0,
    strategy: ChosenStrategy = ACC,
    max_length: int | None = None,
    family: str = DEFAULT_FAMILY,
    label_names=None,
    is_regression: bool = False,
    output_attentions: bool = True,
) -> TextAnalysis:
    """Solve the profile for this input's length and compare the unpruned and pruned predictions.

    ``model`` is a ``BertForSequenceClassification``; ``max_length`` defaults to (and is capped by)
    ``model.config.max_position_embeddings``. ``output_attentions=False`` leaves ``attentions``
    empty: every layer's (H, n_l, n_l) map is most of the result's size (about 75 MiB for a
    512-token input to MiniLM), so a server caching many analyses asks for them only when a view
    shows one. ``strategy``: ``choose_strategy(name)``, made once by the caller. Raises AccvizError
    for empty text or a target speedup below 1.
    """

    strategy = checked(strategy)
    encoded = encode_text(tokenizer, text_a, text_b, model_max_length(model, max_length))
    T = len(encoded.tokens)
    solved = solve_profile(model.config, [T], target_speedup, family=family, fuse=strategy.fuse, warn=False)
    regression = is_regression_model(model, is_regression)
    device = _model_device(model)
    inputs = (
        encoded.input_ids.to(device),
        encoded.attention_mask.to(device),
        encoded.token_type_ids.to(device),
    )
    pruned_bert = PrunedBert(model)
    with eval_mode(model), torch.inference_mode():
        unpruned_out = pruned_bert(*inputs, profile=None)
        pruned_out = pruned_bert(
            *inputs,
            profile=solved.profile,
            scorer=strategy.new_scorer(),
            exact_last_layer=False,
            output_scores=True,
            output_attentions=output_attentions,
        )
    scores, rank, eliminated_at, kept_per_layer, attentions, layer_positions = per_token_tables(
        pruned_out.traces, T
    )
    unpruned = prediction_from_logits(
        unpruned_out.logits[0], regression=regression, label_names=label_names, config=model.config
    )
    pruned = prediction_from_logits(
        pruned_out.logits[0], regression=regression, label_names=label_names, config=model.config
    )
    if regression:
        agree = abs(unpruned.score - pruned.score) < REGRESSION_AGREEMENT
    else:
        agree = unpruned.label_id == pruned.label_id
    return TextAnalysis(
        tokens=encoded.tokens,
        token_type_ids=encoded.token_type_ids[0].cpu().numpy(),
        scores=scores,
        rank=rank,
        eliminated_at=eliminated_at,
        kept_per_layer=kept_per_layer,
        survivors=tuple(encoded.tokens[p] for p in layer_positions[-1]),
        attentions=attentions,
        layer_positions=layer_positions,
        unpruned=unpruned,
        pruned=pruned,
        agree=agree,
        solved=solved,
        estimate=estimate_flops(model.config, [T], solved.profile, exact_last_layer=True),
        baseline_estimate=unpruned_flops(model.config, [T]),
        strategy=strategy.name,
        target_speedup=float(target_speedup),
        truncated=encoded.truncated,
        original_token_count=encoded.original_token_count,
        family=family,
    )


def compare_strategies(
    model,
    tokenizer,
    text_a: str,
    text_b: str | None = None,
    target_speedup: float = 2.0,
    strategies: tuple[ChosenStrategy, ...] = ALL_STRATEGIES,
    **options,
) -> dict[str, TextAnalysis]:
    """The same input and profile under each strategy, for a side-by-side view.

    ``options`` go to ``analyze_text`` (max_length, family, label_names, is_regression). The
    profile depends only on the length, so every strategy keeps the same number per layer.
    """
    return {
        strategy.name: analyze_text(
            model, tokenizer, text_a, text_b, target_speedup=target_speedup, strategy=strategy, **options
        )
        for strategy in strategies
    }


# --- the analysis as data (Explore's "Download this analysis") -----------------------------------


def analysis_records(analysis: TextAnalysis) -> list[dict]:
    """One row per token j: its position, piece and segment, the layer after which it was
    eliminated (None: never), whether it entered the last layer (what the [CLS] query reads), and
    per layer l = 1..L its score s_l(j) and rank (None where j had already been eliminated)."""
    entered_last = {int(p) for p in analysis.layer_positions[-1]}
    rows = []
    for j, token in enumerate(analysis.tokens):
        eliminated = int(analysis.eliminated_at[j])
        row = {
            "position": j,
            "token": token,
            "segment": int(analysis.token_type_ids[j]),
            "eliminated_after_layer": eliminated or None,
            "entered_last_layer": j in entered_last,
        }
        for layer in range(analysis.num_layers):
            score, rank = float(analysis.scores[layer, j]), int(analysis.rank[layer, j])
            row[f"score_layer_{layer + 1}"] = score if np.isfinite(score) else None
            row[f"rank_layer_{layer + 1}"] = rank if rank > 0 else None
        rows.append(row)
    return rows


def analysis_summary(analysis: TextAnalysis, about: dict | None = None, *, predictions: bool = True) -> dict:
    """What the analysis says as a whole: ``about`` (what produced it: model, task, ...), the
    strategy, target and estimated speedup, the profile, the word-vectors kept per layer, the
    FLOPs estimates and both predictions (None with ``predictions=False``: a classifier head
    that is not trained yet predicts nothing worth keeping)."""
    profile = analysis.solved.profile
    summary = {
        "about": dict(about or {}),
        "strategy": analysis.strategy,
        "family": analysis.family,
        "target_speedup": analysis.target_speedup,
        "estimated_speedup": analysis.solved.estimated_speedup,
        "target_reached": analysis.solved.reached,
        "keep_ratios": None if profile is None else list(profile.keep_ratios),
        "length": analysis.length,
        "original_token_count": analysis.original_token_count,
        "truncated": analysis.truncated,
        "kept_per_layer": list(analysis.kept_per_layer),
        "flops": {
            "unpruned": analysis.baseline_estimate.total_flops,
            "pruned": analysis.estimate.total_flops,
        },
        "unpruned": asdict(analysis.unpruned),
        "pruned": asdict(analysis.pruned),
        "agree": bool(analysis.agree),
        "survivors": list(analysis.survivors),
    }
    if not predictions:
        summary.update(unpruned=None, pruned=None, agree=None)
    return summary


def analysis_json(analysis: TextAnalysis, about: dict | None = None, *, predictions: bool = True) -> str:
    """The summary and every token's per-layer trace (``analysis_records``) as one JSON document."""
    document = {
        **analysis_summary(analysis, about, predictions=predictions),
        "tokens": analysis_records(analysis),
    }
    return json.dumps(document, indent=1, ensure_ascii=False, default=str)


def analysis_csv(analysis: TextAnalysis, about: dict | None = None, *, predictions: bool = True) -> str:
    """The per-token trace as CSV, one row per token; the facts of the whole analysis (``about``,
    strategy, speedups, both predictions) repeat on every row, so the file stands alone."""
    facts = {
        **{key: value for key, value in (about or {}).items() if not isinstance(value, dict | list)},
        "strategy": analysis.strategy,
        "target_speedup": analysis.target_speedup,
        "estimated_speedup": analysis.solved.estimated_speedup,
        "unpruned_prediction": analysis.unpruned.label,
        "unpruned_probability": analysis.unpruned.probability,
        "pruned_prediction": analysis.pruned.label,
        "pruned_probability": analysis.pruned.probability,
    }
    if not predictions:
        facts.update(dict.fromkeys(("unpruned_prediction", "unpruned_probability", "pruned_prediction",
                                    "pruned_probability")))  # fmt: skip
    rows = [{**row, **facts} for row in analysis_records(analysis)]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
