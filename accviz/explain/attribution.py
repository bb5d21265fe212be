"""Integrated Gradients next to ACC: does ACC keep what the gradient says matters?

Integrated Gradients (Sundararajan et al., 2017) on the embedding layer's output e(x), from a
baseline e(x') where x' is [PAD] everywhere except [CLS] and [SEP]:

    IG_j = sum_d (e_jd(x) - e_jd(x')) * integral_0^1 dF(e(x') + a (e(x) - e(x'))) / de_jd  da

with F the logit of the target class (the predicted one; a regression model's single output).
Completeness: sum_j IG_j = F(x) - F(x') up to the quadrature error, the convergence delta.

Next to it, the ACC score of every token in every layer of the unpruned model, and per layer
Spearman's rho between |IG| and ACC over the content tokens in that layer. [CLS] and [SEP]
are left out of rho: the baseline keeps them, so their IG is 0 by construction, while ACC
always ranks them high (and always keeps [CLS]).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import spearmanr

from accviz.errors import AccvizError
from accviz.explain.analysis import (
    encode_text,
    eval_mode,
    is_regression_model,
    model_max_length,
    prediction_from_logits,
)
from accviz.method.pruned import PrunedBert
from accviz.method.scoring import AccScorer


@dataclass(frozen=True, eq=False)  # == on numpy fields is elementwise: compare fields one by one
class AttributionResult:
    """IG attributions and ACC scores of one input. T tokens, L layers."""

    tokens: tuple[str, ...]  # (T,)
    attributions: np.ndarray  # (T,) signed IG_j (summed over the hidden dimension)
    abs_normalised: np.ndarray  # (T,) |IG_j| / sum_k |IG_k|
    convergence_delta: float  # sum_j IG_j - (F(x) - F(x'))
    target: int | None  # class index attributed; None for regression (output 0)
    target_label: str
    output: float  # F(x): the target logit (regression: the output)
    baseline_output: float  # F(x')
    acc_scores: np.ndarray  # (L, T) ACC scores; NaN where a token was not in the layer
    spearman_per_layer: np.ndarray  # (L,) rho(|IG|, ACC) over content tokens in the layer; NaN if undefined
    special_mask: np.ndarray  # (T,) True for [CLS] / [SEP] (left out of rho)
    n_steps: int
    truncated: bool = False

    @property
    def num_layers(self) -> int:
        return int(self.acc_scores.shape[0])


def spearman_per_layer(importance: np.ndarray, layer_scores: np.ndarray, include: np.ndarray | None = None):
    """rho between importance (T,) and each row of layer_scores (L, T), NaN-safe.

    A token counts in layer l when it is included and has a finite score there. Fewer than
    3 such tokens, or a constant side, gives NaN (rho is undefined), never a warning.
    """

    importance = np.asarray(importance, dtype=float)
    layer_scores = np.atleast_2d(np.asarray(layer_scores, dtype=float))
    include = np.ones(importance.shape, dtype=bool) if include is None else np.asarray(include, dtype=bool)
    rhos = np.full(layer_scores.shape[0], np.nan)
    for layer, scores in enumerate(layer_scores):
        present = include & np.isfinite(scores) & np.isfinite(importance)
        x, y = importance[present], scores[present]
        if present.sum() < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rho = float(spearmanr(x, y).statistic)
        rhos[layer] = float(np.clip(rho, -1.0, 1.0)) if np.isfinite(rho) else np.nan
    return rhos


def acc_scores_unpruned(model, input_ids, attention_mask, token_type_ids) -> np.ndarray:
    """ACC scores (L, T) of one sequence in every layer of the unpruned model."""
    with eval_mode(model), torch.inference_mode():
        out = PrunedBert(model)(
            input_ids,
            attention_mask,
            token_type_ids,
            profile=None,
            scorer=AccScorer(),
            exact_last_layer=False,
            output_scores=True,
        )
    return np.stack([trace.scores[0].double().cpu().numpy() for trace in out.traces])  # (L, T)


def integrated_gradients(
    model,
    tokenizer,
    text_a: str,
    text_b: str | None = None,
    *,
    target: int | None = None,
    n_steps: int = 32,
    max_length: int = 512,
    acc_scores: np.ndarray | None = None,
    internal_batch_size: int | None = None,
    is_regression: bool = False,
    label_names=None,
) -> AttributionResult:
    """captum ``LayerIntegratedGradients`` on ``model.bert.embeddings`` for one input.

    ``target`` defaults to the predicted class (regression: output 0). ``acc_scores`` (L, T),
    e.g. ``analyze_text(...).scores`` of the same input, replaces the unpruned ACC scores; its
    NaNs (eliminated tokens) are left out of rho layer by layer.
    """
    from captum.attr import LayerIntegratedGradients  # slow to import: only when asked for

    if n_steps < 1:
        raise AccvizError(f"n_steps must be >= 1; got {n_steps}.")
    encoded = encode_text(tokenizer, text_a, text_b, model_max_length(model, max_length))
    T = len(encoded.tokens)
    if acc_scores is not None:  # checked before the expensive part
        acc_scores = np.asarray(acc_scores, dtype=float)
        if acc_scores.ndim != 2 or acc_scores.shape[1] != T:
            raise AccvizError(f"ACC scores have shape {acc_scores.shape}; this input needs (layers, {T}).")
    device = next(model.parameters()).device
    input_ids = encoded.input_ids.to(device)  # (1, T)
    token_type_ids = encoded.token_type_ids.to(device)  # (1, T)
    attention_mask = encoded.attention_mask.to(device)  # (1, T)
    special_ids = {tokenizer.cls_token_id, tokenizer.sep_token_id}
    special = torch.tensor([int(i) in special_ids for i in input_ids[0]], device=device)  # (T,)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    baseline_ids = torch.where(special[None, :], input_ids, torch.full_like(input_ids, pad_id))  # (1, T)

    regression = is_regression_model(model, is_regression)

    def forward(ids, types, mask):  # the plain HF model's logits: eager or sdpa attention alike
        return model(input_ids=ids, token_type_ids=types, attention_mask=mask).logits  # (B, C)

    with eval_mode(model), torch.inference_mode(False), torch.enable_grad():
        with torch.no_grad():
            logits = forward(input_ids, token_type_ids, attention_mask)[0]  # (C,)
            baseline_logits = forward(baseline_ids, token_type_ids, attention_mask)[0]  # (C,)
        prediction = prediction_from_logits(
            logits, regression=regression, label_names=label_names, config=model.config
        )
        if regression:
            target, output_index = None, 0
        else:
            target = prediction.label_id if target is None else int(target)
            if not 0 <= target < logits.shape[0]:
                raise AccvizError(f"Target class {target} is out of range; the model has {logits.shape[0]}.")
            output_index = target
        explainer = LayerIntegratedGradients(forward, model.bert.embeddings)
        attributions, delta = explainer.attribute(
            inputs=input_ids,
            baselines=baseline_ids,
            additional_forward_args=(token_type_ids, attention_mask),
            target=output_index,
            n_steps=n_steps,
            internal_batch_size=internal_batch_size,
            return_convergence_delta=True,
        )  # attributions (1, T, d)
    per_token = attributions[0].sum(dim=-1).detach().double().cpu().numpy()  # (T,) signed
    magnitude = np.abs(per_token)
    abs_normalised = magnitude / magnitude.sum() if magnitude.sum() > 0 else magnitude

    if acc_scores is None:
        acc_scores = acc_scores_unpruned(model, input_ids, attention_mask, token_type_ids)
    special_mask = special.cpu().numpy()
    if regression:
        target_label = "output"
    elif label_names and target < len(label_names):
        target_label = str(label_names[target])
    else:
        target_label = str((getattr(model.config, "id2label", None) or {}).get(target, target))
    return AttributionResult(
        tokens=encoded.tokens,
        attributions=per_token,
        abs_normalised=abs_normalised,
        convergence_delta=float(delta.reshape(-1)[0]),
        target=target,
        target_label=target_label,
        output=float(logits[output_index]),
        baseline_output=float(baseline_logits[output_index]),
        acc_scores=acc_scores,
        spearman_per_layer=spearman_per_layer(magnitude, acc_scores, ~special_mask),
        special_mask=special_mask,
        n_steps=int(n_steps),
        truncated=encoded.truncated,
    )
