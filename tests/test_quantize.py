"""Tests for accviz/method/quantize.py: int8 weights compose with elimination."""

import pytest
import torch
from torch import nn

from accviz.errors import AccvizError
from accviz.method.profile import EliminationProfile
from accviz.method.pruned import PrunedBert
from accviz.method.quantize import Int8Config, int8_config_of, parse_keep_fp32, quantize_int8

from .conftest import random_batch


def _linear_types(model):
    return {name: type(module) for name, module in model.named_modules() if "Linear" in type(module).__name__}


def test_int8_copy_quantizes_the_encoder_and_leaves_the_original(tiny_classifier):
    quantized = quantize_int8(tiny_classifier)
    types = _linear_types(quantized)
    assert types["classifier"] is nn.Linear and types["bert.pooler.dense"] is nn.Linear  # kept fp32
    encoder = [t for name, t in types.items() if name.startswith("bert.encoder")]
    assert encoder and all(t is not nn.Linear for t in encoder)
    assert all(t is nn.Linear for t in _linear_types(tiny_classifier).values())  # original untouched
    assert int8_config_of(quantized) == Int8Config() and int8_config_of(tiny_classifier) is None


@pytest.mark.parametrize("scheme", ["per-channel", "per-tensor"])
def test_int8_runs_the_pruned_forward_close_to_fp32(tiny_classifier, scheme):
    input_ids, attention_mask, token_type_ids = random_batch(4, 19, 99, seed=1, pairs=True)
    profile = EliminationProfile((0.8, 0.5, 0.3))
    quantized = quantize_int8(tiny_classifier, Int8Config(scheme=scheme))
    with torch.no_grad():
        fp32 = PrunedBert(tiny_classifier)(input_ids, attention_mask, token_type_ids, profile=profile)
        int8 = PrunedBert(quantized)(input_ids, attention_mask, token_type_ids, profile=profile)
    assert int8.logits.shape == fp32.logits.shape
    assert (int8.logits - fp32.logits).abs().max() < 0.1  # rounding, not a different model
    assert [t.kept_counts.tolist() for t in int8.traces] == [t.kept_counts.tolist() for t in fp32.traces]


def test_keep_fp32_prefixes_and_bad_scheme(tiny_classifier):
    keep = parse_keep_fp32("bert.encoder.layer.2, ")
    assert keep[-1] == "bert.encoder.layer.2" and "classifier" in keep
    types = _linear_types(quantize_int8(tiny_classifier, Int8Config(keep_fp32=keep)))
    assert all(t is nn.Linear for name, t in types.items() if name.startswith("bert.encoder.layer.2."))
    assert types["bert.encoder.layer.1.output.dense"] is not nn.Linear
    with pytest.raises(AccvizError, match="Unknown int8 scheme"):
        Int8Config(scheme="int4")
    everything = tuple(name for name in _linear_types(tiny_classifier))
    with pytest.raises(AccvizError, match="no linear layers"):
        quantize_int8(tiny_classifier, Int8Config(keep_fp32=everything))


def test_keep_fp32_takes_globs(tiny_classifier):
    keep = parse_keep_fp32("*.attention.self.query,*.attention.self.key")
    quantized = quantize_int8(tiny_classifier, Int8Config(keep_fp32=keep))
    for layer in quantized.bert.encoder.layer:
        assert type(layer.attention.self.query) is nn.Linear and type(layer.attention.self.key) is nn.Linear
        assert type(layer.attention.self.value) is not nn.Linear


def test_a_glob_of_a_parent_module_keeps_its_children(tiny_classifier):
    quantized = quantize_int8(tiny_classifier, Int8Config(keep_fp32=parse_keep_fp32("*.attention.self")))
    assert all(type(layer.attention.self.value) is nn.Linear for layer in quantized.bert.encoder.layer)
    assert all(type(layer.intermediate.dense) is not nn.Linear for layer in quantized.bert.encoder.layer)
