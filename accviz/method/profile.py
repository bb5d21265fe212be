"""Elimination profiles: how many word-vectors survive each layer.

A profile is a tuple of keep ratios r_1..r_L (non-increasing, each in (0, 1]). Applied to a
sequence of real length len_b it keeps ``k_l = max(1, ceil(r_l * len_b))`` word-vectors after
layer l. Two families have one knob each:

- ``tilt``:                 r_l = max(r_min, 1 - alpha * l / L)    (linear decrease over depth)
- ``geometric`` (default): r_l = (1 - beta) ** l                  (a constant share leaves each layer)

Turning a *target speedup* into the knob needs the FLOPs model: see ``accviz.method.speedup``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from accviz.errors import ProfileError

FAMILIES = ("tilt", "geometric")
DEFAULT_FAMILY = "geometric"  # tilt's r_min floor collapses accuracy past 2x (README, "Profiles")
DEFAULT_R_MIN = 0.05


def keep_count(ratio: float, length: int) -> int:
    """k = max(1, ceil(r * len)); the tiny slack keeps 0.3 * 10 from rounding up to 4."""
    return max(1, math.ceil(ratio * length - 1e-9))


@dataclass(frozen=True)
class EliminationProfile:
    """Per-layer keep ratios r_1..r_L, with the family and knob that produced them."""

    keep_ratios: tuple[float, ...]  # r_l for l = 1..L, non-increasing, in (0, 1]
    family: str = "custom"  # "tilt", "geometric", or "custom"
    knob: float | None = None  # alpha (tilt) or beta (geometric)
    fuse: bool = False  # EViT-style: the eliminated word-vectors live on as one fused vector

    def __post_init__(self):
        ratios = tuple(float(r) for r in self.keep_ratios)
        object.__setattr__(self, "keep_ratios", ratios)
        if not ratios:
            raise ProfileError("An elimination profile needs one keep ratio per layer; got none.")
        for layer, r in enumerate(ratios, start=1):
            if not (0.0 < r <= 1.0) or math.isnan(r):
                raise ProfileError(f"Keep ratio of layer {layer} is {r}; it must be in (0, 1].")
        for layer in range(1, len(ratios)):
            if ratios[layer] > ratios[layer - 1] + 1e-12:
                raise ProfileError(
                    f"Keep ratios must not increase with depth: r_{layer}={ratios[layer - 1]:.3f} "
                    f"< r_{layer + 1}={ratios[layer]:.3f} (an eliminated word-vector cannot come back)."
                )

    @property
    def num_layers(self) -> int:
        return len(self.keep_ratios)

    @property
    def is_identity(self) -> bool:
        return all(r >= 1.0 for r in self.keep_ratios)

    def kept_counts(self, length: int) -> list[int]:
        """k_1..k_L for one sequence of real length ``length``."""
        return [keep_count(r, length) for r in self.keep_ratios]

    def kept_counts_tensor(self, layer: int, lengths: torch.Tensor) -> torch.Tensor:
        """k_l for every sequence of a batch: lengths (B,) -> (B,) (layer is 0-based)."""
        ratio = self.keep_ratios[layer]
        return torch.clamp(torch.ceil(ratio * lengths.to(torch.float64) - 1e-9), min=1).to(torch.long)

    def as_dict(self) -> dict:
        return {
            "family": self.family,
            "knob": self.knob,
            "keep_ratios": list(self.keep_ratios),
            "fuse": self.fuse,
        }

    @classmethod
    def identity(cls, num_layers: int) -> EliminationProfile:
        return cls((1.0,) * num_layers, family="none", knob=0.0)


def tilt_profile(num_layers: int, alpha: float, r_min: float = DEFAULT_R_MIN) -> EliminationProfile:
    """r_l = max(r_min, 1 - alpha * l / L) for l = 1..L."""
    if alpha < 0:
        raise ProfileError(f"The tilt knob alpha must be >= 0; got {alpha}.")
    if not 0 < r_min <= 1:
        raise ProfileError(f"r_min must be in (0, 1]; got {r_min}.")
    L = num_layers
    ratios = tuple(max(r_min, min(1.0, 1.0 - alpha * layer / L)) for layer in range(1, L + 1))
    return EliminationProfile(ratios, family="tilt", knob=alpha)


def geometric_profile(num_layers: int, beta: float) -> EliminationProfile:
    """r_l = (1 - beta) ** l for l = 1..L."""
    if not 0 <= beta < 1:
        raise ProfileError(f"The geometric knob beta must be in [0, 1); got {beta}.")
    ratios = tuple((1.0 - beta) ** layer for layer in range(1, num_layers + 1))
    return EliminationProfile(ratios, family="geometric", knob=beta)


def family_profile(
    family: str, num_layers: int, knob: float, r_min: float = DEFAULT_R_MIN
) -> EliminationProfile:
    if family == "tilt":
        return tilt_profile(num_layers, knob, r_min)
    if family == "geometric":
        return geometric_profile(num_layers, knob)
    raise ProfileError(f"Unknown profile family {family!r}; choose one of: {', '.join(FAMILIES)}.")


def knob_range(family: str, num_layers: int, r_min: float = DEFAULT_R_MIN) -> tuple[float, float]:
    """The knob interval from 'no elimination' to 'the most the family can eliminate'."""
    if family == "tilt":
        return 0.0, num_layers * (1.0 - r_min)  # at the top every r_l = r_min
    if family == "geometric":
        return 0.0, 0.999
    raise ProfileError(f"Unknown profile family {family!r}; choose one of: {', '.join(FAMILIES)}.")
