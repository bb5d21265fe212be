import pytest
import torch

from accviz.errors import AccvizError
from accviz.train.finetune import FinetuneConfig, SpeedupSchedule, finetune

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


def _paused_runs(tokenizer, config, directory, texts, labels):
    """Runs ``config`` in sessions of one step each (time budget 0), each in a fresh model."""
    from dataclasses import replace

    sessions = 0
    while True:
        model = tiny_vocab_classifier(seed=1)
        result = finetune(
            model, tokenizer, texts, labels, replace(config, time_budget_s=0.0), checkpoint_dir=directory
        )
        sessions += 1
        if not result.card["stopped_early"]:
            return result, sessions
        assert sessions < 50


def test_resume_continues_where_it_stopped(minilm_tokenizer, tmp_path):
    texts, labels = (POSITIVE + NEGATIVE) * 4, [1, 1, 1, 0, 0, 0] * 4
    config = FinetuneConfig(epochs=2, batch_size=6, seed=3, train_speedup="random:1-3", checkpoint_every=3)
    whole = tiny_vocab_classifier(seed=1)
    uninterrupted = finetune(whole, minilm_tokenizer, texts, labels, config)
    resumed, sessions = _paused_runs(minilm_tokenizer, config, tmp_path / "state", texts, labels)
    assert sessions == uninterrupted.card["planned_steps"] == 8  # one step per session
    assert resumed.card["steps"] == 8 and resumed.card["resumed_at_step"] == 7
    torch.testing.assert_close(resumed.model.classifier.weight, whole.classifier.weight)
    torch.testing.assert_close(
        resumed.model.bert.encoder.layer[0].output.dense.weight,
        whole.bert.encoder.layer[0].output.dense.weight,
    )
    assert resumed.losses == pytest.approx(uninterrupted.losses)
    assert resumed.card["num_processes"] == uninterrupted.card["num_processes"] == 1
    assert (
        resumed.card["examples_seen_per_process"] == uninterrupted.card["examples_seen_per_process"] == [48]
    )


def test_a_state_from_before_several_processes_still_resumes(minilm_tokenizer, tmp_path):
    """A state without the per-process fields is one process's; the examples it saw are recounted."""
    from dataclasses import replace

    texts, labels = (POSITIVE + NEGATIVE) * 4, [1, 1, 1, 0, 0, 0] * 4
    config = FinetuneConfig(epochs=2, batch_size=5, seed=3, checkpoint_every=100)
    whole = finetune(tiny_vocab_classifier(seed=1), minilm_tokenizer, texts, labels, config)
    for _ in range(6):  # 24 examples in batches of 5: the 6th step opens the second epoch
        paused = replace(config, time_budget_s=0.0)
        finetune(
            tiny_vocab_classifier(seed=1), minilm_tokenizer, texts, labels, paused, checkpoint_dir=tmp_path
        )
    state = torch.load(tmp_path / "state.pt", weights_only=False)
    for key in [key for key in state if key.endswith("_per_process") or key == "num_processes"]:
        del state[key]
    torch.save(state, tmp_path / "state.pt")
    resumed = finetune(
        tiny_vocab_classifier(seed=1), minilm_tokenizer, texts, labels, config, checkpoint_dir=tmp_path
    )
    assert resumed.card["resumed_at_step"] == 6 and resumed.card["steps"] == 10
    assert resumed.card["examples_seen_per_process"] == whole.card["examples_seen_per_process"] == [48]
    torch.testing.assert_close(resumed.model.classifier.weight, whole.model.classifier.weight)


def test_resume_refuses_a_state_of_another_recipe(minilm_tokenizer, tmp_path):
    texts, labels = POSITIVE + NEGATIVE, [1, 1, 1, 0, 0, 0]
    config = FinetuneConfig(epochs=3, batch_size=3, time_budget_s=0.0)
    finetune(tiny_vocab_classifier(), minilm_tokenizer, texts, labels, config, checkpoint_dir=tmp_path)
    other = FinetuneConfig(epochs=3, batch_size=3, learning_rate=1e-3)
    with pytest.raises(AccvizError, match="another recipe"):
        finetune(tiny_vocab_classifier(), minilm_tokenizer, texts, labels, other, checkpoint_dir=tmp_path)
    (tmp_path / "state.pt").write_bytes(b"torn")
    with pytest.raises(AccvizError, match="cannot be read"):
        finetune(tiny_vocab_classifier(), minilm_tokenizer, texts, labels, config, checkpoint_dir=tmp_path)


def test_resume_refuses_a_state_trained_at_other_searched_profiles(minilm_tokenizer, tmp_path):
    """``--family searched`` reads the base's searched profiles again on a resume: if that file
    changed during the pause, the run would go on at other shapes than it started with."""
    from accviz.method.search import SearchedProfiles, rescale_to_budget

    texts, labels = POSITIVE + NEGATIVE, [1, 1, 1, 0, 0, 0]
    config = FinetuneConfig(
        epochs=3, batch_size=3, train_speedup="random:1.4-1.5", profile_family="searched", time_budget_s=0.0
    )
    model_config = tiny_vocab_classifier().config
    layers = model_config.num_hidden_layers

    def searched(last_keep: float) -> SearchedProfiles:
        shape = [1.0 - (1.0 - last_keep) * layer / (layers - 1) for layer in range(layers)]
        points = tuple((t, rescale_to_budget(model_config, [8, 9], shape, t)) for t in (1.4, 1.5))
        assert all(profile is not None for _, profile in points)
        return SearchedProfiles(points, {"model": "tiny", "task": "sst2"})

    def run(profiles: SearchedProfiles, **changes):
        from dataclasses import replace

        return finetune(tiny_vocab_classifier(), minilm_tokenizer, texts, labels, replace(config, **changes),
                        checkpoint_dir=tmp_path, searched=profiles)  # fmt: skip

    assert run(searched(0.2)).card["stopped_early"]  # paused after one step, at the first shapes
    with pytest.raises(AccvizError, match="other elimination profiles"):
        run(searched(0.6))
    resumed = run(searched(0.2), time_budget_s=None)  # the same shapes: it goes on
    assert resumed.card["resumed_at_step"] == 1 and not resumed.card["stopped_early"]


def _divergence(student, teacher, tokenizer, texts) -> float:
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        s = torch.log_softmax(student(**batch).logits, -1)
        t = torch.log_softmax(teacher(**batch).logits, -1)
    return float(torch.nn.functional.kl_div(s, t, log_target=True, reduction="batchmean"))


def test_teacher_loss_lowers_the_students_divergence(minilm_tokenizer):
    """Two students on the same labels (half of them flipped): the one taught by the teacher ends
    closer to the teacher's predictions than the one trained on the labels alone."""
    texts = (POSITIVE + NEGATIVE) * 4
    teacher = tiny_vocab_classifier(seed=7)
    finetune(teacher, minilm_tokenizer, texts, [1, 1, 1, 0, 0, 0] * 4,
             FinetuneConfig(train_speedup="1.0", inplace_distill=False, epochs=12, batch_size=12, learning_rate=5e-3))  # fmt: skip
    noisy = [1, 0, 1, 0, 1, 0] * 4
    divergences = {}
    for taught in (False, True):
        student = tiny_vocab_classifier(seed=1)
        config = FinetuneConfig(train_speedup="2.0", inplace_distill=False, epochs=24, batch_size=12,
                                learning_rate=5e-3, teacher="t" if taught else None, teacher_hidden_weight=0.1)  # fmt: skip
        result = finetune(
            student, minilm_tokenizer, texts, noisy, config, teacher_model=teacher if taught else None
        )
        assert all(torch.isfinite(torch.tensor(result.losses)))
        divergences[taught] = _divergence(student, teacher, minilm_tokenizer, POSITIVE + NEGATIVE)
    assert divergences[True] < divergences[False] * 0.5, divergences


def test_keep_first_layers_makes_the_layer_drop_baseline():
    from accviz.store.checkpoints import keep_first_layers

    model = tiny_vocab_classifier()
    keep_first_layers(model, 2)
    assert len(model.bert.encoder.layer) == model.config.num_hidden_layers == 2
    with pytest.raises(AccvizError, match="between 1 and 2"):
        keep_first_layers(model, 3)
