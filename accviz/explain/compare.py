"""Two settings on the same input, side by side: which word-vectors each keeps, and how alike that is.

A setting is a strategy (ACC vs PoWER-BERT's ``attention``) or a model (plain vs elimination-
trained); each gives one ``TextAnalysis`` of the same tokens. With K^A_l and K^B_l the original
positions a setting keeps after layer l (l = 1..L; ``eliminated_at[j]`` is 0 or past l):

    overlap_l = |K^A_l ∩ K^B_l| / |K^A_l ∪ K^B_l|      (Jaccard; 1 when both keep the same set)
    only_a[l] = K^A_l \\ K^B_l,   only_b[l] = K^B_l \\ K^A_l

[CLS] is always kept, so the union is never empty. Two analyses of different token sequences
(two models with different tokenizers, say) or of different depths cannot be aligned cell by
cell, and are refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accviz.errors import AccvizError
from accviz.explain.analysis import REGRESSION_AGREEMENT, Prediction, TextAnalysis
from accviz.method.scoring import strategy_label


@dataclass(frozen=True, eq=False)  # numpy fields: == would be elementwise
class Comparison:
    """Settings A and B on one input of T tokens through L layers."""

    a: TextAnalysis
    b: TextAnalysis
    name_a: str  # what A is, for legends: a strategy's label or a model's name
    name_b: str
    kept_a: np.ndarray  # (L, T) bool: A keeps token j after layer l
    kept_b: np.ndarray  # (L, T) bool
    overlap: np.ndarray  # (L,) float: Jaccard |K^A_l ∩ K^B_l| / |K^A_l ∪ K^B_l|
    predictions_agree: bool  # the pruned predictions: same class, or regressions within REGRESSION_AGREEMENT

    @property
    def tokens(self) -> tuple[str, ...]:
        return self.a.tokens

    @property
    def num_layers(self) -> int:
        return int(self.kept_a.shape[0])

    @property
    def both(self) -> np.ndarray:  # (L, T) bool
        return self.kept_a & self.kept_b

    @property
    def only_a(self) -> np.ndarray:  # (L, T) bool: kept by A, not by B
        return self.kept_a & ~self.kept_b

    @property
    def only_b(self) -> np.ndarray:  # (L, T) bool
        return self.kept_b & ~self.kept_a


def kept_after_each_layer(analysis: TextAnalysis) -> np.ndarray:
    """(L, T) bool: token j is still there after layer l's elimination (entering layer l + 1)."""
    eliminated_at = np.asarray(analysis.eliminated_at)  # (T,) 1-based layer; 0 = never
    layers = np.arange(1, analysis.num_layers + 1)[:, None]  # (L, 1)
    return (eliminated_at[None, :] == 0) | (eliminated_at[None, :] > layers)


def predictions_agree(first: Prediction, second: Prediction) -> bool:
    """Same class; for two regression outputs, closer than REGRESSION_AGREEMENT."""
    if first.score is not None and second.score is not None:
        return abs(first.score - second.score) < REGRESSION_AGREEMENT
    if first.label_id is not None and second.label_id is not None:
        return first.label_id == second.label_id
    return False  # one classifies, the other regresses


def compare_analyses(
    a: TextAnalysis, b: TextAnalysis, *, name_a: str | None = None, name_b: str | None = None
) -> Comparison:
    """A against B, layer by layer (the formula in the module docstring).

    The names default to the strategies' labels ("… (A)" / "… (B)" when both use the same one).
    Raises AccvizError when the two analyses are not of the same tokens or the same depth.
    """
    if tuple(a.tokens) != tuple(b.tokens):
        first = next((j for j, (x, y) in enumerate(zip(a.tokens, b.tokens, strict=False)) if x != y), None)
        where = (
            f"they first differ at position {first} ({a.tokens[first]!r} vs {b.tokens[first]!r})"
            if first is not None
            else f"one has {len(a.tokens)} tokens, the other {len(b.tokens)}"
        )
        raise AccvizError(
            "The two settings split this input into different tokens (" + where + "), so their "
            "word-vectors cannot be compared one by one. Compare models that share a tokenizer."
        )
    if a.num_layers != b.num_layers:
        raise AccvizError(
            f"The two settings have {a.num_layers} and {b.num_layers} layers; a layer-by-layer "
            "comparison needs models of the same depth."
        )
    if name_a is None or name_b is None:
        label_a, label_b = strategy_label(a.strategy), strategy_label(b.strategy)
        if label_a == label_b:
            label_a, label_b = f"{label_a} (A)", f"{label_b} (B)"
        name_a = label_a if name_a is None else name_a
        name_b = label_b if name_b is None else name_b
    kept_a, kept_b = kept_after_each_layer(a), kept_after_each_layer(b)  # (L, T) each
    intersection = (kept_a & kept_b).sum(axis=1)  # (L,)
    union = (kept_a | kept_b).sum(axis=1)  # (L,) >= 1: [CLS] stays
    overlap = np.where(union > 0, intersection / np.maximum(union, 1), 1.0)
    return Comparison(
        a=a,
        b=b,
        name_a=name_a,
        name_b=name_b,
        kept_a=kept_a,
        kept_b=kept_b,
        overlap=overlap.astype(float),
        predictions_agree=predictions_agree(a.pruned, b.pruned),
    )
