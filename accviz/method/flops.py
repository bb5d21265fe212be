"""The analytic FLOPs model of a BERT encoder with word-vector elimination.

Counts multiply-adds (MACs; FLOPs = 2 x MACs) of the matrix products, the terms that dominate
run time and that ``torch.utils.flop_counter`` counts. Per layer l, with n word-vectors in and
k kept after the attention sub-layer (hidden d, H heads, FFN size d_ff):

    attention  = 3*n*d^2 (Q, K, V) + 2*n^2*d (scores and context) + n*d^2 (output projection)
    scoring    = H*n^2 + n*d          (received attention per head, value norms; only if k < n)
    FFN        = 2*k*d*d_ff

Exact last layer: only [CLS] feeds the pooler, so in the last layer only the [CLS] query is
needed: attention = d^2 + 2*n*d^2 + 2*n*d + d^2, FFN = 2*d*d_ff, no scoring. This saving is
exact (same logits) and would speed up an unpruned model too; reports keep it separate.

Fusion (``profile.fuse``): once a sequence has eliminated anything, one fused vector rides along:
every later layer sees n + 1 word-vectors in attention and k + 1 in the FFN, and a layer that
eliminates also merges what it drops, n*d more (counted with scoring).

Embeddings are lookups and a LayerNorm (0 MACs); the pooler costs d^2 and the classifier d*C.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from accviz.errors import ProfileError
from accviz.method.profile import EliminationProfile, keep_count


@dataclass(frozen=True)
class EncoderShape:
    """The sizes the FLOPs model needs, read from a transformers BertConfig."""

    num_layers: int  # L
    hidden: int  # d
    num_heads: int  # H
    intermediate: int  # d_ff
    num_labels: int = 2  # C

    @classmethod
    def from_config(cls, config) -> EncoderShape:
        if isinstance(config, EncoderShape):
            return config
        return cls(
            num_layers=config.num_hidden_layers,
            hidden=config.hidden_size,
            num_heads=config.num_attention_heads,
            intermediate=config.intermediate_size,
            num_labels=getattr(config, "num_labels", 2),
        )


@dataclass(frozen=True)
class LayerFlops:
    """MACs of one layer, summed over the sequences of the estimate."""

    layer: int  # 1-based
    tokens_in: int  # sum over sequences of n_l
    tokens_kept: int  # sum over sequences of k_l
    attention: int
    scoring: int
    ffn: int

    @property
    def total(self) -> int:
        return self.attention + self.scoring + self.ffn


@dataclass(frozen=True)
class FlopsEstimate:
    """Per-layer breakdown and totals (MACs) over a set of sequences."""

    layers: tuple[LayerFlops, ...]
    embeddings: int
    head: int  # pooler + classifier
    num_sequences: int

    @property
    def total_macs(self) -> int:
        return self.embeddings + self.head + sum(layer.total for layer in self.layers)

    @property
    def total_flops(self) -> int:
        return 2 * self.total_macs

    @property
    def attention_macs(self) -> int:
        return sum(layer.attention for layer in self.layers)

    @property
    def ffn_macs(self) -> int:
        return sum(layer.ffn for layer in self.layers)

    @property
    def scoring_macs(self) -> int:
        return sum(layer.scoring for layer in self.layers)


def layer_macs(
    shape: EncoderShape, n: int, k: int, *, cls_only: bool = False, fused_in: int = 0, fuses: bool = False
) -> tuple[int, int, int]:
    """(attention, scoring, ffn) MACs of one layer for one sequence: n real word-vectors in, k kept.

    ``fused_in`` = 1 when a fused vector enters the layer; ``fuses``: the layer merges what it
    eliminates into it (then one fused vector leaves the layer too).
    """
    d, d_ff, H = shape.hidden, shape.intermediate, shape.num_heads
    m = n + fused_in  # word-vectors that attend and are attended to
    if cls_only:
        attention = d * d + 2 * m * d * d + 2 * m * d + d * d
        return attention, 0, 2 * d * d_ff
    attention = 3 * m * d * d + 2 * m * m * d + m * d * d
    eliminates = k < n
    scoring = (H * m * m + m * d + (n * d if fuses else 0)) if eliminates else 0
    fused_out = 1 if fused_in or (fuses and eliminates) else 0
    return attention, scoring, 2 * (k + fused_out) * d * d_ff


def sequence_token_counts(
    num_layers: int, length: int, profile: EliminationProfile | None, *, exact_last_layer: bool
) -> list[tuple[int, int]]:
    """(n_l, k_l) for l = 1..L for one sequence of real length ``length``."""
    counts = []
    n = length
    for layer in range(num_layers):
        last = layer == num_layers - 1
        if last and exact_last_layer:
            k = 1
        elif profile is None:
            k = n
        else:
            k = min(n, keep_count(profile.keep_ratios[layer], length))
        counts.append((n, k))
        n = k
    return counts


def estimate_flops(
    config,
    lengths: Iterable[int],
    profile: EliminationProfile | None = None,
    *,
    exact_last_layer: bool = True,
) -> FlopsEstimate:
    """FLOPs model of the (pruned) encoder over sequences of the given real lengths.

    ``profile=None`` means no elimination. ``exact_last_layer`` runs the last layer for [CLS] only
    (what the pruned forward does for a classifier); ``False`` is the plain HF model.
    """
    shape = EncoderShape.from_config(config)
    if profile is not None and profile.num_layers != shape.num_layers:
        raise ProfileError(f"Profile has {profile.num_layers} layers; the model has {shape.num_layers}.")
    length_counts = Counter(int(length) for length in lengths)
    if not length_counts or min(length_counts) < 1:
        raise ProfileError("The FLOPs model needs at least one sequence, each of length >= 1.")
    L = shape.num_layers
    sums = [[0, 0, 0, 0, 0] for _ in range(L)]  # tokens_in, tokens_kept, attention, scoring, ffn
    for length, count in length_counts.items():
        per_layer = sequence_token_counts(L, length, profile, exact_last_layer=exact_last_layer)
        fuses = profile is not None and profile.fuse
        fused_in = 0
        for layer, (n, k) in enumerate(per_layer):
            cls_only = exact_last_layer and layer == L - 1
            attention, scoring, ffn = layer_macs(
                shape, n, k, cls_only=cls_only, fused_in=fused_in, fuses=fuses and not cls_only
            )
            fused_in = 1 if fuses and (fused_in or k < n) else 0
            row = sums[layer]
            row[0] += count * n
            row[1] += count * k
            row[2] += count * attention
            row[3] += count * scoring
            row[4] += count * ffn
    num_sequences = sum(length_counts.values())
    head = num_sequences * (shape.hidden * shape.hidden + shape.hidden * shape.num_labels)
    layers = tuple(LayerFlops(layer + 1, *row) for layer, row in enumerate(sums))
    return FlopsEstimate(layers=layers, embeddings=0, head=head, num_sequences=num_sequences)


def unpruned_flops(config, lengths: Iterable[int]) -> FlopsEstimate:
    """The honest baseline: the plain model (no elimination, full last layer) on the same lengths."""
    return estimate_flops(config, lengths, None, exact_last_layer=False)


def estimated_speedup(
    config, lengths: Iterable[int], profile: EliminationProfile | None, *, exact_last_layer: bool = True
) -> float:
    """FLOPs(unpruned plain model, same real lengths) / FLOPs(pruned)."""
    lengths = list(lengths)
    baseline = unpruned_flops(config, lengths).total_macs
    pruned = estimate_flops(config, lengths, profile, exact_last_layer=exact_last_layer).total_macs
    return baseline / pruned
