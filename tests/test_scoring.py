import pytest
import torch

from accviz.errors import AccvizError
from accviz.method.scoring import STRATEGIES, get_scorer


def _attention_inputs(seed=0, B=3, H=4, n=7, d_h=5):
    generator = torch.Generator().manual_seed(seed)
    query_mask = torch.ones(B, n, dtype=torch.bool)
    query_mask[1, 5:] = False
    logits = torch.randn(B, H, n, n, generator=generator)
    logits = logits.masked_fill(~query_mask[:, None, None, :], float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    values = torch.randn(B, H, n, d_h, generator=generator)
    return probs, values, query_mask


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_scores_sum_to_one_and_padding_gets_zero(name):
    probs, values, query_mask = _attention_inputs()
    scores = get_scorer(name).score(probs, values, query_mask)
    assert scores.shape == query_mask.shape
    torch.testing.assert_close(scores.sum(dim=1), torch.ones(3))
    assert torch.all(scores[~query_mask] == 0)
    assert torch.all(scores >= 0)


def test_acc_matches_its_formula():
    probs, values, query_mask = _attention_inputs(seed=3)
    m = query_mask.float()
    expected = torch.einsum("bi,bhij,bhj->bj", m, probs, values.norm(dim=-1))
    expected = expected / expected.sum(dim=1, keepdim=True)
    torch.testing.assert_close(get_scorer("acc").score(probs, values, query_mask), expected)


def test_acc_differs_from_attention_when_value_norms_differ():
    probs, values, query_mask = _attention_inputs(seed=1)
    acc = get_scorer("acc").score(probs, values, query_mask)
    attention = get_scorer("attention").score(probs, values, query_mask)
    assert (acc - attention).abs().max() > 1e-3
    # with equal value norms in every head the two coincide
    unit_values = values / values.norm(dim=-1, keepdim=True)
    torch.testing.assert_close(get_scorer("acc").score(probs, unit_values, query_mask), attention)


def test_acc_value_norm_reorders_tokens():
    # two keys get the same attention; the one with the larger value vector must rank higher under ACC
    probs = torch.full((1, 1, 3, 3), 1 / 3)
    values = torch.ones(1, 1, 3, 2)
    values[0, 0, 2] *= 10
    mask = torch.ones(1, 3, dtype=torch.bool)
    acc = get_scorer("acc").score(probs, values, mask)
    attention = get_scorer("attention").score(probs, values, mask)
    assert acc[0, 2] > acc[0, 1]
    assert attention[0, 2] == attention[0, 1]


def test_mean_attention_counts_padding_queries():
    probs, values, query_mask = _attention_inputs(seed=2)
    attention = get_scorer("attention").score(probs, values, query_mask)
    mean_attention = get_scorer("mean-attention").score(probs, values, query_mask)
    full_rows = query_mask.all(dim=1)
    torch.testing.assert_close(attention[full_rows], mean_attention[full_rows])
    assert (attention[~full_rows] - mean_attention[~full_rows]).abs().max() > 1e-4


def test_random_is_reproducible_with_a_seed():
    probs, values, query_mask = _attention_inputs()
    first = get_scorer("random", seed=7).score(probs, values, query_mask)
    again = get_scorer("random", seed=7).score(probs, values, query_mask)
    other = get_scorer("random", seed=8).score(probs, values, query_mask)
    torch.testing.assert_close(first, again)
    assert not torch.allclose(first, other)


def test_truncation_prefers_earlier_positions():
    probs, values, query_mask = _attention_inputs()
    scores = get_scorer("truncation").score(probs, values, query_mask)
    assert torch.all(scores[0, :-1] > scores[0, 1:])


def test_unknown_strategy_is_a_clear_error():
    with pytest.raises(AccvizError, match="Unknown scoring strategy 'gradient'.*acc"):
        get_scorer("gradient")


def test_cls_attention_matches_its_formula_and_ignores_other_queries():
    probs, values, query_mask = _attention_inputs(seed=4)
    expected = torch.einsum("bhj,bhj->bj", probs[:, :, 0, :], values.norm(dim=-1))
    expected = expected / expected.sum(dim=1, keepdim=True)
    scorer = get_scorer("cls-attention")
    torch.testing.assert_close(scorer.score(probs, values, query_mask), expected)
    shuffled = probs.clone()
    shuffled[:, :, 1:] = shuffled[:, :, 1:].flip(2)  # what the other queries attend to does not count
    torch.testing.assert_close(scorer.score(shuffled, values, query_mask), expected)


def test_one_registry_and_variants():
    from accviz.method.scoring import (
        REGISTRY,
        STRATEGY_ORDER,
        parse_strategy,
        strategy_colour,
        strategy_label,
    )

    assert tuple(REGISTRY) == STRATEGY_ORDER and set(STRATEGIES) == set(REGISTRY)
    assert len({s.colour for s in REGISTRY.values()}) == len(REGISTRY)  # distinguishable curves
    assert parse_strategy("acc+fuse") == ("acc", True) and parse_strategy("cls-attention") == (
        "cls-attention",
        False,
    )
    assert (
        strategy_label("acc+fuse") == "ACC + fuse" and strategy_colour("acc+fuse") == REGISTRY["acc"].colour
    )
    for bad in ("acx", "acc+merge"):
        with pytest.raises(AccvizError):
            parse_strategy(bad)
