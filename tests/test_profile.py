import math

import pytest
import torch

from accviz.errors import ProfileError
from accviz.method.profile import EliminationProfile, geometric_profile, keep_count, knob_range, tilt_profile


def test_tilt_formula():
    profile = tilt_profile(4, alpha=1.0, r_min=0.3)
    assert profile.keep_ratios == pytest.approx((0.75, 0.5, 0.3, 0.3))
    assert profile.family == "tilt" and profile.knob == 1.0


def test_geometric_formula():
    profile = geometric_profile(3, beta=0.5)
    assert profile.keep_ratios == pytest.approx((0.5, 0.25, 0.125))


def test_keep_count_is_ceil_with_floor_one():
    assert keep_count(0.3, 10) == 3  # not 4 from 0.30000000000000004 * 10
    assert keep_count(0.31, 10) == 4
    assert keep_count(0.01, 10) == 1
    assert keep_count(1.0, 17) == 17


def test_kept_counts_tensor_matches_python():
    profile = tilt_profile(6, alpha=2.5)
    lengths = torch.tensor([1, 7, 25, 64, 128])
    for layer in range(6):
        expected = [keep_count(profile.keep_ratios[layer], int(n)) for n in lengths]
        assert profile.kept_counts_tensor(layer, lengths).tolist() == expected


@pytest.mark.parametrize(
    "ratios, message",
    [((), "one keep ratio"), ((1.0, 0.0), "layer 2"), ((0.5, 0.7), "must not increase"), ((1.2,), "layer 1")],
)
def test_invalid_profiles_are_refused(ratios, message):
    with pytest.raises(ProfileError, match=message):
        EliminationProfile(ratios)


def test_knobs_out_of_range():
    with pytest.raises(ProfileError):
        tilt_profile(4, alpha=-0.1)
    with pytest.raises(ProfileError):
        geometric_profile(4, beta=1.0)


def test_knob_range_top_reaches_the_floor():
    low, high = knob_range("tilt", 6, r_min=0.05)
    assert low == 0
    assert all(math.isclose(r, 0.05) for r in tilt_profile(6, high).keep_ratios)
