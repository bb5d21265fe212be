"""A profile searched per task: per-layer keep ratios that maximise the metric at a FLOPs budget.

For a target speedup S, the geometric profile is one point of a large space: every non-increasing
r_1..r_L whose FLOPs-model speedup is S costs the same. The Length-Adaptive Transformer searches
that space per task (evolutionary); accviz uses coordinate descent, which needs far fewer
evaluations on a CPU:

    start from the geometric profile at S
    repeat ``rounds`` times, for l = 1..L-1 (the last layer runs [CLS] only: its r_L is free):
        for f in ``factors``:   r_l <- f * r_l, kept non-increasing (r_1 >= ... >= r_L)
                                every r <- r ** t, with t found by bisection so that speedup = S
                                keep the candidate if its metric on the search slice is higher

``r ** t`` keeps the order of the ratios and moves the FLOPs monotonically in t, so every
candidate spends exactly the budget. The metric is measured on a held-out slice of the **train**
split (never dev; for accviz checkpoints, train examples the fine-tune did not use).

Between searched speedups, ``interpolate`` mixes the two nearest searched profiles (log-linear in
the ratios) and rescales the mix to the target: the third profile family, ``searched``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from accviz.errors import AccvizError, ProfileError
from accviz.method.flops import estimated_speedup
from accviz.method.profile import EliminationProfile
from accviz.method.speedup import SolvedProfile, solve_profile

SEARCH_FILE = "searched_profiles.json"
HELD_OUT_SLICE = "train examples outside the"  # how a search card names a slice the model did not train on
_BISECTION_STEPS = 50


def _clip(ratio: float) -> float:
    return min(1.0, max(1e-9, ratio))  # r ** t underflows for large t; k_l = max(1, ...) anyway


def rescale_to_budget(
    config, lengths: Sequence[int], ratios: Sequence[float], target: float, *, fuse: bool = False
) -> EliminationProfile | None:
    """r_l ** t with the smallest t whose estimated speedup reaches ``target``; None if none does."""

    def profile_at(t: float) -> EliminationProfile:
        return EliminationProfile(tuple(_clip(r**t) for r in ratios), family="searched", knob=t, fuse=fuse)

    low, high = 0.0, 1.0
    while estimated_speedup(config, lengths, profile_at(high)) < target:
        high *= 2
        if high > 1e3:
            return None
    for _ in range(_BISECTION_STEPS):
        middle = (low + high) / 2
        if estimated_speedup(config, lengths, profile_at(middle)) >= target:
            high = middle
        else:
            low = middle
    return profile_at(high)


def _monotone(ratios: list[float], layer: int) -> list[float]:
    """After changing r_layer: earlier ratios at least as large, later ones at most as large."""
    value = min(1.0, ratios[layer])
    fixed = list(ratios)
    fixed[layer] = value
    for j in range(layer):
        fixed[j] = max(fixed[j], value)
    for j in range(layer + 1, len(fixed)):
        fixed[j] = min(fixed[j], value)
    return fixed


@dataclass(frozen=True)
class SearchResult:
    target_speedup: float
    profile: EliminationProfile
    metric: float  # on the search slice, percent
    start_metric: float  # the geometric profile's, same slice
    evaluations: int


def search_profile(
    config,
    lengths: Sequence[int],
    target: float,
    score: Callable[[EliminationProfile], float],
    *,
    rounds: int = 2,
    factors: Sequence[float] = (0.6, 1.6),
    fuse: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> SearchResult:
    """Coordinate descent (module docstring) from the geometric profile at ``target``.

    ``score(profile)`` returns the metric (higher is better) on the search slice.
    """
    start = solve_profile(config, lengths, target, fuse=fuse, warn=False)
    if start.profile is None or not start.reached:
        raise ProfileError(
            f"{target:g}x is not reachable on these lengths (at most {start.max_speedup:.2f}x)."
        )
    best = start.profile
    best_metric = start_metric = score(best)
    evaluations, total = 1, 1 + rounds * (len(best.keep_ratios) - 1) * len(factors)
    for _ in range(rounds):
        for layer in range(len(best.keep_ratios) - 1):
            for factor in factors:
                ratios = list(best.keep_ratios)
                ratios[layer] *= factor
                candidate = rescale_to_budget(config, lengths, _monotone(ratios, layer), target, fuse=fuse)
                evaluations += 1
                if progress is not None:
                    progress(evaluations, total)
                if candidate is None or candidate.keep_ratios == best.keep_ratios:
                    continue
                metric = score(candidate)
                if metric > best_metric + 1e-9:
                    best, best_metric = candidate, metric
    return SearchResult(target, best, best_metric, start_metric, evaluations)


@dataclass(frozen=True)
class SearchedProfiles:
    """Searched profiles of one model and task at several speedups, and where they came from."""

    points: tuple[tuple[float, EliminationProfile], ...]  # (target speedup, profile), increasing
    card: dict  # model, task, strategy, slice, metric per point, command, date

    def as_dict(self) -> dict:
        return {"points": [{"target": t, **p.as_dict()} for t, p in self.points], **self.card}

    @classmethod
    def from_dict(cls, data: dict) -> SearchedProfiles:
        try:
            points = tuple(
                (
                    float(point["target"]),
                    EliminationProfile(
                        tuple(point["keep_ratios"]),
                        family="searched",
                        knob=point.get("knob"),
                        fuse=bool(point.get("fuse", False)),
                    ),  # fmt: skip
                )
                for point in data["points"]
            )
        except (KeyError, TypeError, ValueError) as error:
            raise AccvizError(f"A searched-profile file is malformed: {error}") from None
        if not points:
            raise AccvizError("A searched-profile file holds no profile.")
        return cls(
            tuple(sorted(points, key=lambda p: p[0])), {k: v for k, v in data.items() if k != "points"}
        )


def write_searched(directory: Path, searched: SearchedProfiles) -> Path:

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / SEARCH_FILE
    staging = path.with_suffix(".tmp")
    staging.write_text(json.dumps(searched.as_dict(), indent=2) + "\n")
    os.replace(staging, path)
    return path


def read_searched(directory: Path) -> SearchedProfiles:
    path = Path(directory) / SEARCH_FILE
    if not path.exists():
        raise AccvizError(
            f"No searched profiles for this model ({path} does not exist): run `accviz search-profile` first."
        )
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise AccvizError(f"{path} cannot be read: {error}") from None
    return SearchedProfiles.from_dict(data)


def solve_in_family(
    config,
    lengths: Sequence[int],
    target: float,
    *,
    family: str,
    fuse: bool = False,
    searched: SearchedProfiles | None = None,
) -> SolvedProfile:
    """The profile for ``target`` in any family: the solver for the knob families (geometric, tilt),
    ``interpolate`` for ``searched``, which needs the model's ``searched`` profiles."""
    if family != "searched":
        return solve_profile(config, lengths, target, family=family, fuse=fuse, warn=False)
    if searched is None:
        raise AccvizError("The searched family needs the model's searched profiles (accviz search-profile).")
    return interpolate(searched, config, lengths, target, fuse=fuse)


def interpolate(
    searched: SearchedProfiles, config, lengths: Sequence[int], target: float, *, fuse: bool | None = None
) -> SolvedProfile:
    """The ``searched`` family: the nearest searched profiles mixed at ``target``, rescaled to it.

    ``fuse``: whether the profile fuses (the strategy's ``+fuse`` decides); None: as searched.

    Below the first searched speedup the mix starts from the first profile; above the last, the
    last one is rescaled (r ** t, t > 1) as far as the FLOPs reach.
    """
    free = solve_profile(config, lengths, 1.0, warn=False)
    if target <= free.estimated_speedup + 1e-9:
        return free
    points = searched.points
    lower = max((p for p in points if p[0] <= target), default=points[0], key=lambda p: p[0])
    upper = min((p for p in points if p[0] >= target), default=points[-1], key=lambda p: p[0])
    if upper[0] > lower[0]:
        w = (target - lower[0]) / (upper[0] - lower[0])
        ratios = [
            math.exp((1 - w) * math.log(a) + w * math.log(b))
            for a, b in zip(lower[1].keep_ratios, upper[1].keep_ratios, strict=True)
        ]
    else:
        ratios = list(lower[1].keep_ratios)
    fuse = lower[1].fuse if fuse is None else fuse
    profile = rescale_to_budget(config, lengths, ratios, target, fuse=fuse)
    reached = profile is not None
    if profile is None:  # beyond what these shapes reach: the most eliminating rescale
        profile = EliminationProfile(
            tuple(_clip(r**1e3) for r in ratios), family="searched", knob=1e3, fuse=fuse
        )
    reached_speedup = estimated_speedup(config, lengths, profile)
    message = (
        ""
        if reached
        else f"Target {target:.2f}x is beyond the searched profiles' reach ({reached_speedup:.2f}x)."
    )
    return SolvedProfile(
        target, replace(profile), reached_speedup, reached_speedup, reached, free.estimated_speedup, message
    )
