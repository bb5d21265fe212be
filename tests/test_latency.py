"""Tests for accviz/measure/latency.py: interleaving, statistics, and the calibrated latency predictor.

No test asserts on a measured time: the predictor is checked on synthetic records whose costs
are known.
"""

import functools
import math

import numpy as np
import pytest
import torch

from accviz.errors import AccvizError
from accviz.measure.latency import (
    LATENCY_COST_COLUMNS,
    TERMS,
    LatencyModel,
    LatencyRecord,
    LatencyStats,
    evaluate_held_out,
    fit_latency_model,
    interleaved_latency,
    latency_features,
    mean_abs_percent_error,
    measured_speedup,
    round_order,
)
from accviz.method.flops import EncoderShape, estimate_flops, sequence_token_counts
from accviz.method.speedup import solve_profile

BERT_BASE = EncoderShape(num_layers=12, hidden=768, num_heads=12, intermediate=3072)
MINILM = EncoderShape(num_layers=6, hidden=384, num_heads=12, intermediate=1536)
TRUE_COSTS = LatencyModel(
    attention_s_per_mac=2.0e-11,
    ffn_s_per_mac=1.5e-11,
    scoring_s_per_mac=3.0e-9,  # large enough that its term is visible above the noise
    attention_map_s_per_element=2.0e-9,
    layer_s=1.5e-3,
    token_layer_s=5.0e-6,
)


# --- interleaving -------------------------------------------------------------------------------


def test_round_order_rotates_so_each_callable_goes_first_once_per_cycle():
    names = ["a", "b", "c"]
    orders = [round_order(names, r) for r in range(3)]
    assert orders == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]
    assert sorted(order[0] for order in orders) == names
    assert round_order(names, 3) == names


def test_interleaved_latency_runs_rounds_in_rotated_order_under_inference_mode():
    calls, modes = [], []

    def make(name):
        def run():
            calls.append(name)
            modes.append(torch.is_inference_mode_enabled())

        return run

    stats = interleaved_latency({name: make(name) for name in "abc"}, repeats=3, warmup=2)
    expected = [name for r in range(5) for name in round_order(list("abc"), r)]
    assert calls == expected  # interleaved A/B/C, never A,A,A then B,B,B
    assert all(modes)
    assert list(stats) == ["a", "b", "c"]
    assert all(s.repeats == 3 for s in stats.values())  # warm-up rounds are not recorded
    assert all(sample >= 0 for s in stats.values() for sample in s.samples_s)


def test_interleaved_latency_rejects_bad_arguments():
    with pytest.raises(AccvizError):
        interleaved_latency({})
    with pytest.raises(AccvizError):
        interleaved_latency({"a": lambda: None}, repeats=0)


# --- statistics ---------------------------------------------------------------------------------


def test_latency_stats_percentiles_and_spread():
    stats = LatencyStats("x", (5.0, 1.0, 3.0, 2.0, 4.0))
    assert stats.median_s == 3.0
    assert stats.p10_s == pytest.approx(1.4)  # linear interpolation between samples
    assert stats.p90_s == pytest.approx(4.6)
    assert stats.spread == pytest.approx((4.6 - 1.4) / 3.0)
    assert stats.as_dict()["median_s"] == 3.0
    single = LatencyStats("one", (0.25,))
    assert single.median_s == single.p10_s == single.p90_s == 0.25 and single.spread == 0.0


def test_latency_stats_needs_samples():
    with pytest.raises(AccvizError):
        LatencyStats("empty", ())


def test_measured_speedup_is_a_ratio_of_medians():
    base = LatencyStats("base", (2.0, 2.0, 9.0))
    new = LatencyStats("new", (1.0, 0.5, 1.0))
    assert measured_speedup(base, new) == pytest.approx(2.0)


# --- the latency predictor ----------------------------------------------------------------------


@functools.cache
def _workloads() -> tuple[tuple[EncoderShape, tuple[int, ...], object, int, str], ...]:
    """(shape, lengths, profile, batch_size, label) over two shapes, four lengths, three batches, six targets."""
    workloads = []
    for shape in (BERT_BASE, MINILM):
        for length in (32, 64, 128, 256):
            for target in (1.0, 1.5, 2.0, 3.0, 4.0, 5.0):
                profile = solve_profile(shape, [length], target, warn=False).profile  # same for any batch
                for batch_size in (1, 4, 16):
                    workloads.append((shape, (length,) * batch_size, profile, batch_size, f"{target:g}x"))
    return tuple(workloads)


def _records(costs: LatencyModel, *, noise: float, seed: int = 0) -> list[LatencyRecord]:
    """Synthetic measured runs: seconds = features . costs, times (1 + noise * N(0, 1))."""
    generator = np.random.default_rng(seed)
    records = []
    for shape, lengths, profile, batch_size, label in _workloads():
        exact = LatencyRecord(shape, lengths, profile, batch_size, seconds=1.0)
        seconds = costs.predict_record(exact) * (1 + noise * generator.standard_normal())
        records.append(LatencyRecord(shape, lengths, profile, batch_size, seconds, label=label))
    return records


def test_features_are_the_flops_model_terms_plus_attention_map_layers_and_tokens():
    lengths = [100, 80, 60]
    profile = solve_profile(BERT_BASE, lengths, 2.0, warn=False).profile
    features = dict(zip(TERMS, latency_features(BERT_BASE, lengths, profile, batch_size=2), strict=True))
    # batches of 2: [100, 80] runs padded to 100, [60] alone
    first = estimate_flops(BERT_BASE, [100, 100], profile)
    second = estimate_flops(BERT_BASE, [60], profile)
    assert features["attention"] == first.attention_macs + second.attention_macs
    assert features["ffn"] == first.ffn_macs + second.ffn_macs
    assert features["scoring"] == first.scoring_macs + second.scoring_macs
    expected_map = 0
    for rows, length in ((2, 100), (1, 60)):
        entering = [n for n, _ in sequence_token_counts(12, length, profile, exact_last_layer=True)]
        expected_map += sum(rows * 12 * n * n for n in entering[:-1]) + rows * 12 * 1 * entering[-1]
    assert features["attention_map"] == expected_map  # the last layer has one query: [CLS]
    assert features["layer"] == 2 * 12  # two forward calls of 12 layers
    assert features["token"] == sum(layer.tokens_in for layer in first.layers + second.layers)


def test_fit_recovers_known_costs_exactly_without_noise():
    fitted = fit_latency_model(_records(TRUE_COSTS, noise=0.0))
    np.testing.assert_allclose(fitted.costs, TRUE_COSTS.costs, rtol=1e-6)


def test_fit_recovers_known_costs_within_a_few_percent_with_noise():
    records = _records(TRUE_COSTS, noise=0.003)
    fitted = fit_latency_model(records)
    relative = np.abs(fitted.costs / TRUE_COSTS.costs - 1)
    assert relative.max() < 0.05, dict(zip(TERMS, relative, strict=True))
    assert fitted.num_records == len(records)
    assert mean_abs_percent_error(fitted, records) < 1.0


def test_fit_keeps_costs_non_negative_and_absent_terms_at_zero():
    no_scoring = LatencyModel(2e-11, 1.5e-11, 0.0, 1e-9, 1e-3, 0.0)
    records = [r for r in _records(no_scoring, noise=0.0) if r.profile is None]  # never scores
    fitted = fit_latency_model(records)
    assert (fitted.costs >= 0).all()
    assert fitted.scoring_s_per_mac == 0.0


def test_held_out_profiles_are_predicted_from_the_others():
    records = _records(TRUE_COSTS, noise=0.005, seed=1)
    evaluation = evaluate_held_out(records, lambda r: r.label in ("1.5x", "3x", "5x"))
    assert evaluation.num_train + evaluation.num_held_out == len(records)
    assert evaluation.num_held_out == len(records) // 2
    assert evaluation.held_out_error_percent < 2.0
    assert len(evaluation.held_out_errors) == evaluation.num_held_out


def test_predict_matches_predict_record_and_grows_with_work():
    model = TRUE_COSTS
    lengths = [128] * 4
    profile = solve_profile(BERT_BASE, lengths, 3.0, warn=False).profile
    record = LatencyRecord(BERT_BASE, tuple(lengths), profile, 4, seconds=1.0)
    assert model.predict(BERT_BASE, lengths, profile, 4) == pytest.approx(model.predict_record(record))
    unpruned = model.predict(BERT_BASE, lengths, None, 4)
    assert unpruned > model.predict(BERT_BASE, lengths, profile, 4)
    one_at_a_time = model.predict(BERT_BASE, lengths, None, 1)
    assert one_at_a_time > unpruned  # 4 calls pay the per-layer cost 4 times


def test_fit_and_evaluation_errors_are_accviz_errors():
    with pytest.raises(AccvizError):
        fit_latency_model([])
    records = _records(TRUE_COSTS, noise=0.0)[:3]
    with pytest.raises(AccvizError):
        evaluate_held_out(records, lambda r: False)
    with pytest.raises(AccvizError):
        latency_features(BERT_BASE, [], None, 1)
    with pytest.raises(AccvizError):
        latency_features(BERT_BASE, [8], None, 0)
    assert math.isfinite(mean_abs_percent_error(TRUE_COSTS, records))


def test_interleaved_latency_reports_progress_after_timed_rounds_only():
    progress = []
    interleaved_latency(
        {"a": lambda: None}, repeats=2, warmup=1, on_round=lambda d, t: progress.append((d, t))
    )
    assert progress == [(1, 2), (2, 2)]


def test_int8_rates_are_learnt_like_fp32_ones():
    """int8 weights cut the matmul and per-layer costs, not the attention map: a separate fit per
    precision recovers the int8 costs from synthetic int8 timings and predicts held-out profiles,
    and round-trips through a stored table row (what the app reads)."""
    int8_costs = LatencyModel(
        TRUE_COSTS.attention_s_per_mac / 2.5,
        TRUE_COSTS.ffn_s_per_mac / 3.0,
        TRUE_COSTS.scoring_s_per_mac,
        TRUE_COSTS.attention_map_s_per_element,
        TRUE_COSTS.layer_s / 3.5,
        TRUE_COSTS.token_layer_s,
    )
    records = _records(int8_costs, noise=0.005, seed=2)
    evaluation = evaluate_held_out(records, lambda r: r.label in ("1.5x", "3x"))
    assert evaluation.held_out_error_percent < 2.0
    assert evaluation.model.layer_s < TRUE_COSTS.layer_s / 2  # it learnt a cheaper per-layer cost
    row = dict(zip(LATENCY_COST_COLUMNS, evaluation.model.costs, strict=True))
    np.testing.assert_allclose(LatencyModel.from_row(row).costs, evaluation.model.costs)
    with pytest.raises(AccvizError, match="lacks its costs"):
        LatencyModel.from_row({"layer_s": 1.0})
