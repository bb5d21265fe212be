import random

import pytest

from accviz.errors import ProfileError
from accviz.method.flops import EncoderShape, estimated_speedup
from accviz.method.speedup import max_speedup, solve_profile

BERT_BASE = EncoderShape(num_layers=12, hidden=768, num_heads=12, intermediate=3072)
MINILM = EncoderShape(num_layers=6, hidden=384, num_heads=12, intermediate=1536)


def _sst2_like_lengths(seed=0, count=200):
    rng = random.Random(seed)
    return [max(3, int(rng.gauss(25, 9))) for _ in range(count)]


@pytest.mark.parametrize("shape", [BERT_BASE, MINILM])
@pytest.mark.parametrize("family", ["tilt", "geometric"])
@pytest.mark.parametrize("lengths", [[128], _sst2_like_lengths()])
def test_solver_reaches_every_target_within_one_percent(shape, family, lengths):
    top = max_speedup(shape, lengths, family)
    assert top > 4
    targets = [1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, top]
    for target in targets:
        solved = solve_profile(shape, lengths, target, family=family)
        reached = estimated_speedup(shape, lengths, solved.profile)
        assert reached == pytest.approx(solved.estimated_speedup)
        assert solved.reached
        assert reached >= target * 0.999
        if target > solved.exact_last_layer_speedup:
            assert reached <= target * 1.01, (target, reached)


def test_speedup_one_means_no_elimination():
    solved = solve_profile(MINILM, [30], 1.0)
    assert solved.profile is None
    assert solved.estimated_speedup == pytest.approx(solved.exact_last_layer_speedup)
    assert solved.estimated_speedup > 1.0  # the exact last layer is free


def test_without_exact_last_layer_speedup_one_is_exactly_one():
    solved = solve_profile(MINILM, [30], 1.0, exact_last_layer=False)
    assert solved.profile is None and solved.estimated_speedup == 1.0


def test_target_above_max_warns_and_returns_max():
    with pytest.warns(UserWarning, match="above the most"):
        solved = solve_profile(MINILM, [20], 50.0)
    assert not solved.reached
    assert solved.estimated_speedup == pytest.approx(solved.max_speedup)
    assert "50.00x" in solved.message


@pytest.mark.parametrize("bad", [0.5, 0.0, -2, float("nan"), float("inf"), "fast", None])
def test_bad_targets_are_errors(bad):
    with pytest.raises(ProfileError, match="Target speedup"):
        solve_profile(MINILM, [20], bad)


def test_no_lengths_is_an_error():
    with pytest.raises(ProfileError):
        solve_profile(MINILM, [], 2.0)
