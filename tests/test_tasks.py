"""accviz.data.tasks: the registry's GLUE conventions and the metrics against hand-computed values."""

import math
import warnings

import numpy as np
import pytest
import torch

from accviz.data.tasks import TASKS, TaskSpec, compute_metrics, get_task, predictions_from_logits
from accviz.errors import DataError

# --------------------------------------------------------------------------------------------------
# The registry


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("sst2", "sst2"),
        ("SST-2", "sst2"),
        (" Sst2 ", "sst2"),
        ("CoLA", "cola"),
        ("MRPC", "mrpc"),
        ("STS-B", "stsb"),
        ("stsb", "stsb"),
        ("RTE", "rte"),
        ("QNLI", "qnli"),
        ("Rotten_Tomatoes", "rotten_tomatoes"),
        ("rotten-tomatoes", "rotten_tomatoes"),
    ],
)
def test_get_task_accepts_names_and_glue_folder_names(alias, name):
    assert get_task(alias).name == name


def test_unknown_task_lists_the_known_ones():
    with pytest.raises(DataError) as raised:
        get_task("mnli")
    message = str(raised.value)
    assert "'mnli'" in message
    assert all(name in message for name in TASKS)


@pytest.mark.parametrize("spec", TASKS.values(), ids=list(TASKS))
def test_every_spec_is_consistent(spec: TaskSpec):
    assert spec.primary_metric == spec.metric_names[0]
    assert len(spec.text_columns) in (1, 2)
    assert spec.is_pair == (len(spec.text_columns) == 2)
    if spec.is_regression:
        assert spec.num_labels == 1 and spec.label_names == ()
    else:
        assert spec.num_labels == len(spec.label_names) == 2
    assert (spec.glue_dir_name is None) == (spec.name == "rotten_tomatoes")
    with pytest.raises(AttributeError):  # frozen
        spec.num_labels = 3


def test_glue_conventions():
    assert TASKS["sst2"].label_names == ("negative", "positive")
    assert TASKS["cola"].primary_metric == "matthews_corr"
    assert TASKS["mrpc"].metric_names == ("f1", "accuracy")
    assert TASKS["stsb"].metric_names == ("pearson", "spearman") and TASKS["stsb"].num_labels == 1
    assert TASKS["rte"].label_names == ("entailment", "not_entailment")  # HF glue: 0 = entailment
    assert TASKS["qnli"].label_names == ("entailment", "not_entailment")
    assert TASKS["qnli"].text_columns == ("question", "sentence")
    rotten = TASKS["rotten_tomatoes"]
    assert rotten.label_names[1] == "positive"  # 1 = fresh
    assert (rotten.hub_dataset, rotten.hub_config) == ("cornell-movie-review-data/rotten_tomatoes", None)
    assert (TASKS["sst2"].hub_dataset, TASKS["sst2"].hub_config) == ("nyu-mll/glue", "sst2")


# --------------------------------------------------------------------------------------------------
# Metrics against hand-computed values

# 2x2 confusion: TP = 3, FN = 1, FP = 2, TN = 4
REFERENCES = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
PREDICTIONS = [1, 1, 1, 0, 1, 1, 0, 0, 0, 0]


def test_accuracy_f1_and_matthews_by_hand():
    accuracy = 100 * 7 / 10  # (TP + TN) / N
    f1 = 100 * 2 * 3 / (2 * 3 + 2 + 1)  # 2TP / (2TP + FP + FN) = 66.67
    mcc = 100 * (3 * 4 - 2 * 1) / math.sqrt((3 + 2) * (3 + 1) * (4 + 2) * (4 + 1))  # 10 / √600 = 40.82
    assert compute_metrics(get_task("sst2"), PREDICTIONS, REFERENCES) == {"accuracy": pytest.approx(accuracy)}
    assert compute_metrics(get_task("mrpc"), PREDICTIONS, REFERENCES) == {
        "f1": pytest.approx(f1),
        "accuracy": pytest.approx(accuracy),
    }
    assert compute_metrics(get_task("cola"), PREDICTIONS, REFERENCES) == {
        "matthews_corr": pytest.approx(mcc),
        "accuracy": pytest.approx(accuracy),
    }


def test_pearson_and_spearman_by_hand():
    # ŷ = (1, 2, 3), y = (1, 2, 4): deviations (-1, 0, 1) and (-4/3, -1/3, 5/3)
    # pearson = 3 / √(2 · 14/3); the ranks agree exactly, so spearman = 1
    metrics = compute_metrics(get_task("stsb"), [1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    assert metrics == {
        "pearson": pytest.approx(100 * 3 / math.sqrt(2 * 14 / 3)),
        "spearman": pytest.approx(100.0),
    }
    assert compute_metrics(get_task("stsb"), [3.0, 2.0, 1.0], [1.0, 2.0, 4.0])["spearman"] == pytest.approx(
        -100.0
    )


def test_metrics_accept_numpy_and_torch_inputs():
    expected = compute_metrics(get_task("cola"), PREDICTIONS, REFERENCES)
    assert compute_metrics(get_task("cola"), np.array(PREDICTIONS), tuple(REFERENCES)) == expected
    assert compute_metrics(get_task("cola"), torch.tensor(PREDICTIONS), REFERENCES) == expected
    assert (
        compute_metrics(get_task("cola"), [float(p) for p in PREDICTIONS], REFERENCES) == expected
    )  # 1.0 is class 1


@pytest.mark.parametrize(
    ("task", "predictions", "references", "expected"),
    [
        ("stsb", [2.5, 2.5, 2.5], [0.0, 1.0, 4.0], {"pearson": 0.0, "spearman": 0.0}),
        ("stsb", [0.0, 1.0, 4.0], [3.0, 3.0, 3.0], {"pearson": 0.0, "spearman": 0.0}),
        ("stsb", [1.0], [2.0], {"pearson": 0.0, "spearman": 0.0}),
        ("cola", [1, 1, 1, 1], [1, 0, 1, 0], {"matthews_corr": 0.0, "accuracy": 50.0}),
        ("cola", [1, 0, 1, 0], [1, 1, 1, 1], {"matthews_corr": 0.0, "accuracy": 50.0}),
        ("mrpc", [0, 0, 0, 0], [1, 0, 1, 0], {"f1": 0.0, "accuracy": 50.0}),
    ],
)
def test_degenerate_inputs_give_zero_without_warnings(task, predictions, references, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        assert compute_metrics(get_task(task), predictions, references) == expected


@pytest.mark.parametrize(
    ("task", "predictions", "references", "fragment"),
    [
        ("sst2", [1, 0], [1], "as many predictions as references"),
        ("sst2", [], [], "at least one"),
        ("sst2", [1, 2], [1, 0], "0..1"),
        ("sst2", [0.5, 1.0], [1, 0], "integers"),
        ("sst2", ["a", "b"], [1, 0], "integers"),
        ("stsb", [float("nan"), 1.0], [1.0, 2.0], "NaN"),
    ],
)
def test_bad_metric_inputs_raise_data_error(task, predictions, references, fragment):
    with pytest.raises(DataError, match=fragment):
        compute_metrics(get_task(task), predictions, references)


# --------------------------------------------------------------------------------------------------
# Logits to predictions


def test_classification_logits_give_class_ids():
    logits = torch.tensor([[0.1, 2.0], [3.0, -1.0], [0.0, 0.5]])
    for form in (logits, logits.numpy(), logits.tolist()):
        predictions = predictions_from_logits(get_task("rte"), form)
        assert predictions.dtype == np.int64 and predictions.tolist() == [1, 0, 1]


def test_regression_logits_give_scores():
    assert predictions_from_logits(get_task("stsb"), torch.tensor([[1.5], [4.0]])).tolist() == [1.5, 4.0]
    assert predictions_from_logits(get_task("STS-B"), [1.5, 4.0]).tolist() == [1.5, 4.0]
    assert predictions_from_logits(
        get_task("stsb"), torch.tensor([[1.5]], dtype=torch.bfloat16)
    ).tolist() == [1.5]


@pytest.mark.parametrize(("task", "shape"), [("sst2", (4, 3)), ("sst2", (4,)), ("stsb", (4, 2))])
def test_logits_of_the_wrong_shape_raise(task, shape):
    with pytest.raises(DataError, match="needs logits of shape"):
        predictions_from_logits(get_task(task), np.zeros(shape))
