import pytest
import torch

from accviz.errors import AccvizError
from accviz.finetune import FinetuneConfig, SpeedupSchedule, finetune

from .conftest import NEGATIVE, POSITIVE, tiny_vocab_classifier


def test_speedup_schedule_parsing():
    assert SpeedupSchedule.parse("2.0") == SpeedupSchedule(2.0, 2.0)
    assert SpeedupSchedule.parse("random:1-4") == SpeedupSchedule(1.0, 4.0)
    assert (
        SpeedupSchedule.parse("random:1-4").grid()[0] == 1.0
        and SpeedupSchedule.parse("random:1-4").grid()[-1] == 4.0
    )
    for bad in ("fast", "random:4-1", "0.5", "random:0-2"):
        with pytest.raises(AccvizError):
            SpeedupSchedule.parse(bad)


@pytest.mark.parametrize("train_speedup, distill", [("2.0", False), ("random:1-3", True)])
def test_a_few_steps_lower_the_loss(minilm_tokenizer, train_speedup, distill):
    model = tiny_vocab_classifier()
    texts = (POSITIVE + NEGATIVE) * 8
    labels = ([1] * 3 + [0] * 3) * 8
    config = FinetuneConfig(
        train_speedup=train_speedup,
        inplace_distill=distill,
        epochs=12,
        batch_size=12,
        learning_rate=2e-3,
        max_length=16,
    )
    result = finetune(model, minilm_tokenizer, texts, labels, config)
    first, last = sum(result.losses[:4]) / 4, sum(result.losses[-4:]) / 4
    assert last < first * 0.7, (first, last)
    assert result.card["steps"] == result.card["planned_steps"] == 48
    assert not result.model.training


def test_regression_head_trains(minilm_tokenizer):
    model = tiny_vocab_classifier(num_labels=1)
    texts = (POSITIVE + NEGATIVE) * 4
    scores = ([4.5] * 3 + [0.5] * 3) * 4
    result = finetune(
        model, minilm_tokenizer, texts, scores, FinetuneConfig(train_speedup="1.5", epochs=10, batch_size=8, learning_rate=2e-3),
        regression=True,
    )  # fmt: skip
    assert result.losses[-1] < result.losses[0]


def test_time_budget_stops_early_and_says_so(minilm_tokenizer):
    model = tiny_vocab_classifier()
    result = finetune(
        model,
        minilm_tokenizer,
        POSITIVE * 20,
        [1] * 60,
        FinetuneConfig(epochs=5, batch_size=4, time_budget_s=0.0),
    )
    assert result.card["stopped_early"] and result.card["steps"] == 1


def test_empty_training_split_is_an_error(minilm_tokenizer):
    with pytest.raises(AccvizError, match="empty"):
        finetune(tiny_vocab_classifier(), minilm_tokenizer, [], [], FinetuneConfig())


def test_training_is_seeded(minilm_tokenizer):
    runs = []
    for _ in range(2):
        model = tiny_vocab_classifier(seed=1)
        finetune(
            model,
            minilm_tokenizer,
            POSITIVE + NEGATIVE,
            [1, 1, 1, 0, 0, 0],
            FinetuneConfig(epochs=2, batch_size=3, seed=5),
        )
        runs.append(model.classifier.weight.detach().clone())
    torch.testing.assert_close(runs[0], runs[1])
