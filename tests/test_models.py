"""The cache of fine-tuned checkpoints: built once, rebuilt when corrupt, safe under concurrency."""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import pytest

from accviz.data.tasks import get_task
from accviz.errors import AccvizError, CacheError
from accviz.store.cache import read_card
from accviz.store.checkpoints import list_cached_models, prepare_finetuned
from accviz.train.finetune import FinetuneConfig

from .conftest import write_glue_fixture

TINY_RECIPE = FinetuneConfig(task="sst2", epochs=1, batch_size=16, max_length=16, eval_examples=16)


@pytest.fixture
def tiny_base(tmp_path, minilm_tokenizer):
    from .conftest import tiny_vocab_classifier

    path = tmp_path / "tiny-base"
    tiny_vocab_classifier().save_pretrained(path)
    minilm_tokenizer.save_pretrained(path)
    glue = write_glue_fixture(tmp_path / "glue")
    (glue / "SST-2" / "train.tsv").write_text((glue / "SST-2" / "dev.tsv").read_text())
    return path, glue


def _prepare(base, glue, name, recipe=TINY_RECIPE):
    return prepare_finetuned(str(base), get_task("sst2"), recipe, name=name, glue_dir=str(glue))


def test_prepared_once_then_reused_with_a_card(tiny_base):
    base, glue = tiny_base
    first = _prepare(base, glue, "tiny")
    card = read_card(first)
    assert (
        card["task"] == "sst2"
        and card["train_speedup"] == "random:1-4"
        and set(card["dev_metrics"]) == {"1.0", "2.0", "3.0"}
    )
    assert "model.safetensors" in card["files"]
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    assert _prepare(base, glue, "tiny") == first
    assert (first / "model.safetensors").stat().st_mtime_ns == stamp  # not rebuilt
    assert [m.name for m in list_cached_models()].count("tiny") == 1


def test_the_card_scores_dev_with_the_strategy_the_model_was_trained_with(tiny_base, monkeypatch):
    import accviz.store.checkpoints as checkpoints

    scored_with = []
    evaluate = checkpoints.evaluate_split

    def recording(*args, **kwargs):
        scored_with.append((kwargs["strategy"].name, kwargs["family"]))
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(checkpoints, "evaluate_split", recording)
    base, glue = tiny_base
    recipe = replace(TINY_RECIPE, strategy="acc+fuse", profile_family="tilt")
    card = read_card(_prepare(base, glue, "tiny-fused", recipe))
    assert card["dev_strategy"] == "acc+fuse" and set(card["dev_metrics"]) == {"1.0", "2.0", "3.0"}
    assert scored_with == [("acc+fuse", "tilt")] * 3  # not the default ACC on the default family


def test_a_corrupted_checkpoint_is_detected_and_rebuilt(tiny_base):
    base, glue = tiny_base
    path = _prepare(base, glue, "tiny-corrupt")
    weights = path / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CacheError):
        read_card(path)
    rebuilt = _prepare(base, glue, "tiny-corrupt")
    assert read_card(rebuilt)  # checksums hold again


def test_the_seed_draws_a_new_classifier_head(tiny_base, tmp_path, minilm_tokenizer):
    """A base without this task's head (MiniLM has none) gets a new one: the recipe's seed draws it,
    not whatever the process's random state holds, so the same command trains the same model."""
    import torch
    from safetensors.torch import load_file
    from transformers import BertModel

    from .conftest import tiny_vocab_classifier

    _, glue = tiny_base
    headless = tmp_path / "headless"
    BertModel(tiny_vocab_classifier().config).save_pretrained(headless)
    minilm_tokenizer.save_pretrained(headless)
    trained = []
    for name, state in (("tiny-a", 1), ("tiny-b", 2)):
        torch.manual_seed(state)  # what the process's random state happens to hold
        trained.append(load_file(str(_prepare(headless, glue, name) / "model.safetensors")))
    assert trained[0].keys() == trained[1].keys() and "classifier.weight" in trained[0]
    assert all(torch.equal(trained[0][key], trained[1][key]) for key in trained[0])


def _prepare_in_subprocess(args):
    import os

    base, glue, cache = args
    os.environ["ACCVIZ_CACHE"] = cache
    os.environ["HF_HUB_OFFLINE"] = "1"
    path = prepare_finetuned(base, get_task("sst2"), replace(TINY_RECIPE), name="tiny-shared", glue_dir=glue)
    return str(path), read_card(path)["created"]


def test_two_processes_preparing_the_same_default_end_with_one_valid_checkpoint(tiny_base, tmp_path):
    import os

    base, glue = tiny_base
    # an executor, not a Pool: a worker that dies fails the test (BrokenProcessPool, its stderr in the
    # report) instead of being replaced forever while map() waits
    jobs = [(str(base), str(glue), os.environ["ACCVIZ_CACHE"])] * 2
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as executor:
        results = list(executor.map(_prepare_in_subprocess, jobs, timeout=600))
    paths, created = zip(*results, strict=True)
    assert len(set(paths)) == 1
    assert len(set(created)) == 1, "built twice: the lock did not hold"
    assert read_card(paths[0])


def test_cli_resumable_run_pauses_publishes_nothing_then_resumes(tiny_base, capsys):
    from accviz import cli
    from accviz.store.checkpoints import models_dir, resume_dir

    base, glue = tiny_base
    argv = ["finetune", "--task", "sst2", "--glue-dir", str(glue), "--model", str(base), "--name", "tiny-paused",
            "--epochs", "3", "--batch-size", "16", "--max-length", "16", "--eval-examples", "16",
            "--resumable", "--time-budget", "0", "--checkpoint-every", "1"]  # fmt: skip
    assert cli.main(argv) == cli.EXIT_PAUSED
    assert "run the same command with --resume" in capsys.readouterr().err
    assert not (models_dir() / "tiny-paused").exists() and (resume_dir("tiny-paused") / "state.pt").exists()
    assert cli.main(argv) == 1  # a paused run is neither overwritten nor silently continued
    assert "pass --resume" in capsys.readouterr().err
    rounds = 0
    while cli.main([*argv, "--resume"]) == cli.EXIT_PAUSED:
        rounds += 1
        assert rounds < 20
    card = read_card(models_dir() / "tiny-paused")
    assert card["steps"] == card["planned_steps"] == 9 and card["resumed_at_step"] == 8
    assert not resume_dir("tiny-paused").exists()  # spent once published


def test_layer_drop_and_teacher_checkpoints_say_what_they_are(tiny_base):
    base, glue = tiny_base
    plain = _prepare(
        base, glue, "tiny-plain", replace(TINY_RECIPE, train_speedup="1.0", inplace_distill=False)
    )
    cut = _prepare(base, glue, "tiny-cut", replace(TINY_RECIPE, num_layers=2))
    card = read_card(cut)
    assert card["num_layers"] == 2 and card["base_num_layers"] == 3
    taught = _prepare(base, glue, "tiny-taught", replace(TINY_RECIPE, teacher=str(plain)))
    assert read_card(taught)["config"]["teacher"] == str(plain)
    from accviz.errors import AccvizError

    with pytest.raises(AccvizError, match="between 1 and 3"):
        _prepare(base, glue, "tiny-cut9", replace(TINY_RECIPE, num_layers=9))


def test_a_second_stage_trains_at_its_bases_searched_profiles(tiny_base, monkeypatch, capsys):
    from transformers import AutoConfig

    import accviz.train.finetune as finetune_module
    from accviz import cli
    from accviz.method.search import (
        SEARCH_FILE,
        SearchedProfiles,
        read_searched,
        rescale_to_budget,
        write_searched,
    )
    from accviz.store.checkpoints import models_dir, training_summary

    base, glue = tiny_base
    plain = _prepare(
        base, glue, "tiny-stage1", replace(TINY_RECIPE, train_speedup="1.0", inplace_distill=False)
    )
    argv = ["finetune", "--task", "sst2", "--glue-dir", str(glue), "--model", "tiny-stage1", "--family", "searched",
            "--train-speedup", "random:1.5-2", "--strategy", "acc+fuse", "--epochs", "1", "--batch-size", "16",
            "--max-length", "16", "--eval-examples", "16", "--name", "tiny-stage2"]  # fmt: skip
    assert cli.main(argv) == 1  # the base has no searched profiles yet: said before any training
    assert "run `accviz search-profile` first" in capsys.readouterr().err
    assert not (models_dir() / "tiny-stage2").exists()

    config = AutoConfig.from_pretrained(plain)
    lengths = [8, 10, 12, 16]
    points = tuple(
        (t, rescale_to_budget(config, lengths, [0.8, 0.3, 0.05], t, fuse=True)) for t in (1.5, 2.0)
    )
    write_searched(plain, SearchedProfiles(points, {"model": "tiny-stage1", "task": "sst2"}))
    used = []
    profiles_for = finetune_module._profiles_for

    def recording(*args, **kwargs):
        used.extend(profiles_for(*args, **kwargs))
        return used[-len(args[0].grid()) :]

    monkeypatch.setattr(finetune_module, "_profiles_for", recording)
    assert cli.main(argv) == 0
    assert used and all(p is not None and p.family == "searched" and p.fuse for p in used)
    stage2 = models_dir() / "tiny-stage2"
    assert read_searched(stage2).points == read_searched(plain).points  # the shapes it was trained at
    assert SEARCH_FILE in read_card(stage2)["files"]
    assert training_summary(stage2)["fine_tuned_from"] == ["tiny-stage1"]


def test_the_default_recipe_names_its_task_as_the_registry_does(monkeypatch):
    from accviz.store import checkpoints

    monkeypatch.setenv(checkpoints.DEFAULT_RECIPE_ENV, '{"task": "SST-2", "epochs": 0.5}')
    recipe = checkpoints.default_recipe()
    assert (recipe.task, recipe.epochs) == ("sst2", 0.5)
    monkeypatch.setenv(checkpoints.DEFAULT_RECIPE_ENV, '{"task": "mnli"}')
    with pytest.raises(AccvizError, match="Unknown task 'mnli'"):
        checkpoints.default_recipe()
