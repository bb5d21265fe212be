"""From one knob, the target speedup, to an elimination profile (the offline-tuning step).

The estimated speedup of a profile family is monotone in its knob (a larger knob keeps fewer
word-vectors in every layer), so bisection on the FLOPs model finds the smallest knob whose
estimated speedup reaches the target, for the real lengths the model will see.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, replace

from accviz.errors import ProfileError
from accviz.method.flops import EncoderShape, estimated_speedup
from accviz.method.profile import (
    DEFAULT_FAMILY,
    DEFAULT_R_MIN,
    EliminationProfile,
    family_profile,
    knob_range,
)

_BISECTION_STEPS = 60


@dataclass(frozen=True)
class SolvedProfile:
    """A target speedup turned into a profile, and what it reaches."""

    target_speedup: float
    profile: EliminationProfile | None  # None: no elimination at all
    estimated_speedup: float  # vs the plain unpruned model on the same lengths
    max_speedup: float  # the most this family reaches on these lengths
    reached: bool  # False when the target was above max_speedup (profile is then the maximum)
    exact_last_layer_speedup: float  # the part that needs no elimination ([CLS]-only last layer)
    message: str = ""


def max_speedup(
    config,
    lengths: Iterable[int],
    family: str = DEFAULT_FAMILY,
    r_min: float = DEFAULT_R_MIN,
    *,
    fuse: bool = False,
):
    shape = EncoderShape.from_config(config)
    _, knob_max = knob_range(family, shape.num_layers, r_min)
    profile = replace(family_profile(family, shape.num_layers, knob_max, r_min), fuse=fuse)
    return estimated_speedup(shape, list(lengths), profile)


def solve_profile(
    config,
    lengths: Iterable[int],
    target_speedup: float,
    *,
    family: str = DEFAULT_FAMILY,
    r_min: float = DEFAULT_R_MIN,
    exact_last_layer: bool = True,
    fuse: bool = False,
    warn: bool = True,
) -> SolvedProfile:
    """The profile of ``family`` whose estimated speedup on ``lengths`` reaches ``target_speedup``.

    ``fuse``: the profile fuses what it eliminates (one more vector per layer, in the FLOPs too).
    target == 1: no elimination (profile None; the exact last layer still applies when enabled).
    target < 1 or not finite: ProfileError. target above what the family reaches: the maximum
    profile, ``reached=False`` and a warning saying by how much.
    """
    try:
        target = float(target_speedup)
    except (TypeError, ValueError):
        raise ProfileError(f"Target speedup must be a number; got {target_speedup!r}.") from None
    if not math.isfinite(target) or target < 1.0:
        raise ProfileError(f"Target speedup must be >= 1.0 (1.0 = no elimination); got {target_speedup!r}.")
    shape = EncoderShape.from_config(config)
    lengths = [int(length) for length in lengths]
    if not lengths:
        raise ProfileError("Solving a profile needs the real lengths of at least one sequence.")
    L = shape.num_layers

    def profile_at(knob: float) -> EliminationProfile:
        return replace(family_profile(family, L, knob, r_min), fuse=fuse)

    def speedup_at(knob: float) -> float:
        return estimated_speedup(shape, lengths, profile_at(knob), exact_last_layer=exact_last_layer)

    free = estimated_speedup(shape, lengths, None, exact_last_layer=exact_last_layer)
    knob_low, knob_high = knob_range(family, L, r_min)
    top = speedup_at(knob_high)
    if target <= 1.0 + 1e-9 or target <= free:
        return SolvedProfile(target, None, free, top, True, free)
    if target > top:
        message = (
            f"Target speedup {target:.2f}x is above the most the {family} profile reaches on these "
            f"lengths ({top:.2f}x); using that maximum."
        )
        if warn:
            warnings.warn(message, stacklevel=2)
        return SolvedProfile(target, profile_at(knob_high), top, top, False, free, message)
    for _ in range(_BISECTION_STEPS):  # invariant: speedup_at(knob_low) < target <= speedup_at(knob_high)
        middle = (knob_low + knob_high) / 2
        if speedup_at(middle) >= target:
            knob_high = middle
        else:
            knob_low = middle
    return SolvedProfile(target, profile_at(knob_high), speedup_at(knob_high), top, True, free)
