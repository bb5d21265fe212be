import types

import pytest

from accviz.data.tasks import get_task
from accviz.measure.evaluate import evaluate_split

from .conftest import NEGATIVE, POSITIVE, tiny_vocab_classifier


def _data(task="sst2"):
    texts = (POSITIVE + NEGATIVE) * 4
    return types.SimpleNamespace(
        spec=get_task(task),
        task=task,
        split="dev",
        source="fixture",
        texts_a=texts,
        texts_b=None,
        labels=([1] * 3 + [0] * 3) * 4,
    )


@pytest.mark.parametrize("speedup", [1.0, 1.5, 2.0, 3.0])
def test_eval_at_several_speedups(minilm_tokenizer, speedup):
    model = tiny_vocab_classifier()
    result = evaluate_split(model, minilm_tokenizer, _data(), target_speedup=speedup, batch_size=5)
    assert set(result.metrics) == {"accuracy"} and 0 <= result.primary_value <= 100
    assert result.n_examples == 24
    assert result.estimated_speedup >= speedup * 0.999
    assert result.estimated_speedup_padded128 > result.estimated_speedup  # short inputs vs 128 padded tokens
    kept = result.mean_kept_per_layer
    assert all(a >= b for a, b in zip(kept, kept[1:], strict=False))
    assert kept[-1] == 1.0  # [CLS]-only last layer
    if speedup == 1.0:
        assert result.profile is None and kept[0] == pytest.approx(result.mean_length)
    else:
        assert kept[0] < result.mean_length


def test_speedup_one_matches_plain_model_predictions(minilm_tokenizer):
    import torch

    from accviz.data.tasks import compute_metrics

    model = tiny_vocab_classifier(seed=3)
    data = _data()
    batch = minilm_tokenizer(list(data.texts_a), padding=True, return_tensors="pt")
    with torch.no_grad():
        predictions = model(**batch).logits.argmax(-1).tolist()
    expected = compute_metrics(get_task("sst2"), predictions, list(data.labels))
    assert evaluate_split(model, minilm_tokenizer, data, target_speedup=1.0).metrics == expected


def test_measured_latency_is_reported(minilm_tokenizer):
    result = evaluate_split(
        tiny_vocab_classifier(), minilm_tokenizer, _data(), target_speedup=2.0, measure_latency=True
    )
    assert result.measured_speedup is not None and result.measured_speedup > 0
    assert result.latency_unpruned_s > 0 and result.latency_pruned_s > 0


def test_pair_task_and_regression(minilm_tokenizer):
    data = types.SimpleNamespace(
        spec=get_task("stsb"),
        split="dev",
        source="fixture",
        texts_a=POSITIVE * 3,
        texts_b=NEGATIVE * 3,
        labels=[0.5, 2.0, 4.0] * 3,
    )
    result = evaluate_split(tiny_vocab_classifier(num_labels=1), minilm_tokenizer, data, target_speedup=2.0)
    assert set(result.metrics) == {"pearson", "spearman"}


def test_measured_latency_is_the_medians_of_interleaved_rounds(minilm_tokenizer, monkeypatch):
    """One latency path: every batch is timed by accviz.measure.latency.interleaved_latency."""
    from accviz.measure import evaluate
    from accviz.measure.latency import LatencyStats, interleaved_latency

    calls = []

    def timed_by_the_one_path(runs, *, repeats, warmup):
        interleaved_latency(runs, repeats=repeats, warmup=warmup)  # runs the callables for real
        calls.append((list(runs), warmup))
        return {"plain": LatencyStats("plain", (3.0, 5.0)), "pruned": LatencyStats("pruned", (1.0, 3.0))}

    monkeypatch.setattr(evaluate, "interleaved_latency", timed_by_the_one_path)
    model, data = tiny_vocab_classifier(), _data()
    result = evaluate_split(
        model, minilm_tokenizer, data, target_speedup=2.0, measure_latency=True, batch_size=5
    )
    assert [runs for runs, _ in calls] == [["plain", "pruned"]] * 5  # 24 examples in batches of 5
    assert [warmup for _, warmup in calls] == [1, 0, 0, 0, 0]  # only the first batch warms up
    assert result.latency_unpruned_s == pytest.approx(5 * 4.0)  # sums of the per-batch medians
    assert result.latency_pruned_s == pytest.approx(5 * 2.0)
    assert result.measured_speedup == pytest.approx(2.0)
    untimed = evaluate_split(model, minilm_tokenizer, data, target_speedup=2.0, batch_size=5)
    assert result.metrics == untimed.metrics  # the timed pruned output is the one evaluated
