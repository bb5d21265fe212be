import random

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode
from transformers import BertConfig, BertForSequenceClassification

from accviz.method.flops import EncoderShape, estimate_flops, estimated_speedup, unpruned_flops
from accviz.method.profile import EliminationProfile
from accviz.method.pruned import PrunedBert

from .conftest import tiny_bert_config


def test_bert_base_at_128_tokens_is_11_2_gmacs():
    estimate = unpruned_flops(BertConfig(), [128])
    assert estimate.total_macs == pytest.approx(11.2e9, rel=0.01)
    assert estimate.total_flops == pytest.approx(22.4e9, rel=0.01)


def test_breakdown_adds_up():
    shape = EncoderShape(num_layers=4, hidden=64, num_heads=4, intermediate=256)
    profile = EliminationProfile((0.8, 0.5, 0.3, 0.2))
    estimate = estimate_flops(shape, [10, 31, 57], profile)
    assert (
        estimate.total_macs
        == estimate.head + estimate.attention_macs + estimate.ffn_macs + estimate.scoring_macs
    )
    assert [layer.tokens_in for layer in estimate.layers] == [98, 8 + 25 + 46, 5 + 16 + 29, 3 + 10 + 18]
    assert estimate.layers[-1].tokens_kept == 3  # exact last layer: [CLS] only


def test_speedup_grows_with_elimination_and_is_one_without():
    shape = EncoderShape(num_layers=6, hidden=384, num_heads=12, intermediate=1536)
    assert estimated_speedup(shape, [40], None, exact_last_layer=False) == 1.0
    light = estimated_speedup(shape, [40], EliminationProfile((0.9,) * 6))
    heavy = estimated_speedup(shape, [40], EliminationProfile((0.5,) * 6))
    assert 1.0 < light < heavy


def _counted_flops(pruned, input_ids, profile, exact_last_layer):
    # Layers that need no scores run scaled_dot_product_attention; FlopCounterMode does not count
    # the CPU flash kernel, so the reference backend (the same products, as matmuls) is forced here.
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter, torch.no_grad():
        pruned(input_ids, profile=profile, exact_last_layer=exact_last_layer)
    return counter.get_total_flops()


@pytest.mark.parametrize("seed", range(6))
def test_estimate_matches_counted_flops_of_the_pruned_forward(seed):
    """estimate == FlopCounterMode on the real forward, within 2%, for random configs/profiles/lengths."""
    rng = random.Random(seed)
    heads = rng.choice([2, 4, 8])
    config = tiny_bert_config(
        hidden_size=heads * rng.choice([8, 16]),
        num_attention_heads=heads,
        num_hidden_layers=rng.randint(2, 5),
        intermediate_size=rng.choice([64, 128, 256]),
        max_position_embeddings=128,
    )
    torch.manual_seed(seed)
    pruned = PrunedBert(BertForSequenceClassification(config).eval())
    ratios = sorted((rng.uniform(0.05, 1.0) for _ in range(config.num_hidden_layers)), reverse=True)
    profiles = (None, EliminationProfile(tuple(ratios)), EliminationProfile(tuple(ratios), fuse=True))
    for profile in profiles:
        for exact_last_layer in (True, False):
            lengths = [rng.randint(2, 100) for _ in range(4)]
            counted = sum(
                _counted_flops(pruned, torch.randint(5, 99, (1, n)), profile, exact_last_layer)
                for n in lengths
            )
            estimated = estimate_flops(
                config, lengths, profile, exact_last_layer=exact_last_layer
            ).total_flops
            assert estimated == pytest.approx(counted, rel=0.02), (profile, exact_last_layer, lengths)


def test_fusion_costs_one_more_vector_per_layer_after_the_first_elimination():
    shape = EncoderShape(num_layers=4, hidden=64, num_heads=4, intermediate=256)
    ratios = (1.0, 0.5, 0.3, 0.2)
    plain = estimate_flops(shape, [40], EliminationProfile(ratios))
    fused = estimate_flops(shape, [40], EliminationProfile(ratios, fuse=True))
    assert fused.layers[0].total == plain.layers[0].total  # nothing eliminated yet: no fused vector
    assert fused.layers[1].ffn == plain.layers[1].ffn + 2 * 64 * 256  # layer 2 eliminates: k + 1 rows
    assert fused.layers[2].attention > plain.layers[2].attention  # n + 1 from layer 3 on
    assert fused.total_macs > plain.total_macs


@pytest.mark.parametrize("seed", range(3))
def test_a_padded_batch_costs_what_its_longest_sequence_costs_per_row(seed):
    """On a padded batch, every layer's width is the longest row's keep count (counts grow with the
    real length), so FlopCounterMode counts B sequences of the longest real length: the padding is
    paid for, and sorting by length (accviz.data.batching) is what keeps it small."""
    rng = random.Random(100 + seed)
    config = tiny_bert_config(
        hidden_size=32,
        num_attention_heads=4,
        num_hidden_layers=4,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    torch.manual_seed(seed)
    pruned = PrunedBert(BertForSequenceClassification(config).eval())
    lengths = [rng.randint(3, 60) for _ in range(4)]
    width = max(lengths)
    input_ids = torch.randint(5, 99, (len(lengths), width))
    attention_mask = (torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]).long()
    ratios = tuple(sorted((rng.uniform(0.1, 1.0) for _ in range(4)), reverse=True))
    for profile in (None, EliminationProfile(ratios)):
        with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter, torch.no_grad():
            pruned(input_ids, attention_mask=attention_mask, profile=profile)
        counted = counter.get_total_flops()
        as_longest = estimate_flops(config, [width] * len(lengths), profile).total_flops
        real = estimate_flops(config, lengths, profile).total_flops
        assert counted == pytest.approx(as_longest, rel=0.02), (profile, lengths)
        assert real < counted  # the real lengths alone would understate a padded batch
