"""Token-scoring strategies: which word-vectors matter in a layer.

Every strategy has one verb, ``score(attn_probs, values, query_mask) -> (B, n)``, so the
pruned forward, the app and the benchmarks can swap them by name (captum-style: one
algorithm per class, independent of any UI).

Notation (one layer): B sequences, H heads, n word-vectors entering the layer, head size d_h.
``attn_probs[b, h, i, j]`` is A_h[i, j], the softmax attention of query i on key j (padding keys
get 0); ``values[b, h, j]`` is v_{h,j}; ``query_mask[b, i]`` is m_i = 1 for a real query.

Scores of one sequence are normalised to sum to 1 over its real word-vectors; padding gets 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from accviz.errors import AccvizError

_EPS = 1e-12


def _normalise(raw: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
    """raw (B, n) >= 0 -> (B, n) summing to 1 over real positions, 0 on padding."""
    raw = raw * key_mask
    return raw / raw.sum(dim=1, keepdim=True).clamp_min(_EPS)


def _received_attention(attn_probs: torch.Tensor, query_mask: torch.Tensor) -> torch.Tensor:
    """sum_i m_i A_h[i, j] for every head and key: (B, H, n).

    Written as a (1 x n) @ (n x n) matmul per head so it costs H*n^2 multiply-adds, the term the
    FLOPs model counts as the scoring cost.
    """
    weights = query_mask.to(attn_probs.dtype)[:, None, None, :]  # (B, 1, 1, n)
    return torch.matmul(weights, attn_probs).squeeze(2)  # (B, H, n)


class TokenScorer:
    """Interface: ``score(attn_probs (B,H,n,n), values (B,H,n,d_h), query_mask (B,n)) -> (B, n)``."""

    name: str = "base"
    needs_attention: bool = True  # False: the scorer ignores attn_probs and values

    def score(self, attn_probs: torch.Tensor, values: torch.Tensor, query_mask: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


@dataclass
class AccScorer(TokenScorer):
    """Attention Context Contribution (this project's interpretation of the paper's metric).

        ACC_l(j) = sum_i m_i * sum_h A_h[i, j] * ||v_{h,j}||_2,   then normalised over j.

    How much word-vector j contributes to the attention contexts of all real queries: the
    attention it receives, weighted by the size of what it sends (its value vector).
    """

    name: str = "acc"

    def score(self, attn_probs, values, query_mask):
        received = _received_attention(attn_probs, query_mask)  # (B, H, n)
        value_norms = values.norm(dim=-1)  # (B, H, n)
        raw = (received * value_norms).sum(dim=1)  # (B, n)
        return _normalise(raw, query_mask.to(raw.dtype))


@dataclass
class AttentionScorer(TokenScorer):
    """PoWER-BERT's significance: attention received, summed over heads and real queries.

    S_l(j) = sum_i m_i * sum_h A_h[i, j],   then normalised over j.
    """

    name: str = "attention"

    def score(self, attn_probs, values, query_mask):
        raw = _received_attention(attn_probs, query_mask).sum(dim=1)  # (B, n)
        return _normalise(raw, query_mask.to(raw.dtype))


@dataclass
class MeanAttentionScorer(TokenScorer):
    """LTP's importance: mean attention received over heads and *all* n query rows.

        S_l(j) = 1/(H n) * sum_i sum_h A_h[i, j],   then normalised over j.

    LTP scores fixed-length padded inputs, so padding queries vote too; that is the only
    difference from ``attention`` (on an unpadded sequence the rankings coincide). LTP's learned
    per-layer thresholds are not implemented: accviz applies every score through the same profile.
    """

    name: str = "mean-attention"

    def score(self, attn_probs, values, query_mask):
        all_queries = torch.ones_like(query_mask, dtype=attn_probs.dtype)
        raw = _received_attention(attn_probs, all_queries).mean(dim=1)  # (B, n)
        return _normalise(raw, query_mask.to(raw.dtype))


@dataclass
class ClsAttentionScorer(TokenScorer):
    """EViT / ATS's token importance: the attention of the [CLS] query, times the value norm.

        S_l(j) = sum_h A_h[0, j] * ||v_{h,j}||_2,   then normalised over j.

    Only [CLS] feeds the classifier, so in late layers what [CLS] attends to may rank better than
    what every query attends to (ACC). Costs H*n multiply-adds instead of H*n^2.
    """

    name: str = "cls-attention"

    def score(self, attn_probs, values, query_mask):
        from_cls = attn_probs[:, :, 0, :]  # (B, H, n): row 0 is the [CLS] query
        raw = (from_cls * values.norm(dim=-1)).sum(dim=1)  # (B, n)
        return _normalise(raw, query_mask.to(raw.dtype))


@dataclass
class RandomScorer(TokenScorer):
    """Uniform random scores from a seeded generator: the floor any strategy must beat."""

    seed: int = 0
    name: str = "random"
    needs_attention: bool = False
    _generator: torch.Generator = field(init=False, repr=False)

    def __post_init__(self):
        self._generator = torch.Generator().manual_seed(self.seed)

    def score(self, attn_probs, values, query_mask):
        raw = torch.rand(query_mask.shape, generator=self._generator).to(query_mask.device)
        return _normalise(raw, query_mask.to(raw.dtype))


@dataclass
class TruncationScorer(TokenScorer):
    """Keeps the first word-vectors: score decreases with position (the truncation baseline).

    Under the same profile it spends exactly the same FLOPs as any other strategy.
    """

    name: str = "truncation"
    needs_attention: bool = False

    def score(self, attn_probs, values, query_mask):
        n = query_mask.shape[1]
        raw = torch.arange(n, 0, -1, dtype=torch.float32, device=query_mask.device).expand(query_mask.shape)
        return _normalise(raw, query_mask.to(raw.dtype))


@dataclass(frozen=True)
class Strategy:
    """One entry of the strategy registry: everything the CLI, app, plots and benchmarks show."""

    name: str
    scorer: type[TokenScorer]
    label: str  # short, for legends and tables
    description: str  # one line, for pickers
    colour: str  # Okabe-Ito, colour-blind safe

    @property
    def needs_attention(self) -> bool:
        return self.scorer.needs_attention

    @property
    def seeded(self) -> bool:  # its scores are random draws: a sweep averages several seeds
        return self.scorer is RandomScorer


REGISTRY: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy("acc", AccScorer, "ACC", "ACC (this project): attention received x value norm", "#0072B2"),
        Strategy(
            "attention",
            AttentionScorer,
            "attention (PoWER-BERT)",
            "PoWER-BERT: attention received",
            "#E69F00",
        ),  # fmt: skip
        Strategy(
            "mean-attention",
            MeanAttentionScorer,
            "mean-attention (LTP)",
            "LTP: mean attention over heads and all queries",
            "#009E73",
        ),  # fmt: skip
        Strategy(
            "cls-attention",
            ClsAttentionScorer,
            "cls-attention (EViT)",
            "EViT/ATS: [CLS] attention x value norm",
            "#56B4E9",
        ),  # fmt: skip
        Strategy("random", RandomScorer, "random", "random (seeded)", "#CC79A7"),
        Strategy(
            "truncation", TruncationScorer, "truncation", "truncation: keep the first tokens", "#D55E00"
        ),
    )
}
STRATEGIES: dict[str, type[TokenScorer]] = {name: s.scorer for name, s in REGISTRY.items()}
STRATEGY_ORDER = tuple(REGISTRY)


def strategy_label(name: str) -> str:
    """The registry's label; variants such as ``acc+fuse`` get the base label and their suffix."""
    base, _, variant = str(name).partition("+")
    label = REGISTRY[base].label if base in REGISTRY else base
    return f"{label} + {variant}" if variant else label


def strategy_rank(name: str) -> tuple[int, str]:
    """Sort key: registry order, a variant (``acc+fuse``) right after its base strategy."""
    base = str(name).partition("+")[0]
    return (STRATEGY_ORDER.index(base) if base in STRATEGY_ORDER else len(STRATEGY_ORDER), str(name))


def strategy_description(name: str) -> str:
    """The registry's one-line description; ``+fuse`` variants say what fusion adds."""
    base, _, variant = str(name).partition("+")
    description = REGISTRY[base].description if base in REGISTRY else base
    return f"{description}; eliminated vectors fused (EViT)" if variant == "fuse" else description


def strategy_colour(name: str, fallback: str = "#000000") -> str:
    base = str(name).partition("+")[0]
    return REGISTRY[base].colour if base in REGISTRY else fallback


VARIANTS = ("fuse",)  # "acc+fuse": ACC ranks, and the eliminated word-vectors are fused (EViT)
CHOICES = (*STRATEGY_ORDER, *(f"acc+{variant}" for variant in VARIANTS))  # what a picker offers


def parse_strategy(name: str) -> tuple[str, bool]:
    """``"acc+fuse"`` -> ("acc", True); ``"attention"`` -> ("attention", False). Checks both parts."""
    base, plus, variant = str(name).strip().lower().partition("+")
    if base not in REGISTRY:
        raise AccvizError(f"Unknown scoring strategy {name!r}; choose one of: {', '.join(REGISTRY)}.")
    if plus and variant not in VARIANTS:
        raise AccvizError(
            f"Unknown strategy variant {variant!r} in {name!r}; variants: {', '.join(VARIANTS)}."
        )
    return base, bool(plus)


@dataclass(frozen=True)
class ChosenStrategy:
    """A strategy name resolved once, where the user typed or picked it (``choose_strategy``), and
    passed down as this object: the registry entry that ranks, whether the eliminated word-vectors
    are fused (``acc+fuse``), and the seed of the random strategy."""

    entry: Strategy
    fuse: bool = False
    seed: int = 0

    @property
    def name(self) -> str:  # "acc", "acc+fuse", ...: the name tables and cards store
        return self.entry.name + ("+fuse" if self.fuse else "")

    def new_scorer(self) -> TokenScorer:
        """A fresh scorer for one evaluation: the random strategy restarts its seeded stream."""
        return self.entry.scorer(seed=self.seed) if self.entry.seeded else self.entry.scorer()

    def with_seed(self, seed: int) -> ChosenStrategy:
        return replace(self, seed=seed)


def choose_strategy(name: str, *, seed: int = 0) -> ChosenStrategy:
    """``"acc+fuse"`` -> ChosenStrategy(ACC, fuse=True); an unknown name or variant fails here."""
    base, fuse = parse_strategy(name)
    return ChosenStrategy(REGISTRY[base], fuse, seed)


ACC = choose_strategy("acc")  # the default everywhere


def checked(strategy: ChosenStrategy) -> ChosenStrategy:
    """``strategy`` itself; a name where the object belongs fails with what to pass instead."""
    if not isinstance(strategy, ChosenStrategy):
        raise AccvizError(f"Pass choose_strategy({strategy!r}), the resolved strategy, not {strategy!r}.")
    return strategy


def get_scorer(name: str, *, seed: int = 0) -> TokenScorer:
    """The scorer of a strategy name (``acc``, ``attention``, ``cls-attention``, ...; ``acc+fuse``
    ranks with ACC's): ``choose_strategy(name, seed=seed).new_scorer()``."""
    return choose_strategy(name, seed=seed).new_scorer()
