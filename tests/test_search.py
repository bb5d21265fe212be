"""Tests for accviz/method/search.py: the searched profile family."""

import pytest

from accviz.data.tasks import get_task
from accviz.errors import AccvizError
from accviz.method.flops import EncoderShape, estimated_speedup
from accviz.method.search import (
    SearchedProfiles,
    interpolate,
    read_searched,
    rescale_to_budget,
    search_profile,
    write_searched,
)

SHAPE = EncoderShape(num_layers=6, hidden=384, num_heads=12, intermediate=1536)
LENGTHS = [12, 25, 31, 40, 64, 18]


@pytest.mark.parametrize("target", [1.5, 2.0, 3.0, 4.0])
def test_rescaled_profiles_hit_the_budget(target):
    profile = rescale_to_budget(SHAPE, LENGTHS, [0.9, 0.9, 0.5, 0.4, 0.2, 0.1], target)
    assert estimated_speedup(SHAPE, LENGTHS, profile) == pytest.approx(target, rel=0.01)
    assert list(profile.keep_ratios) == sorted(profile.keep_ratios, reverse=True)


def test_search_keeps_the_budget_and_never_ends_below_its_start():
    """A metric that rewards keeping layer 2: the search moves ratios, always at the same FLOPs."""
    calls = []

    def score(profile):
        calls.append(profile)
        return 100 * profile.keep_ratios[1] - 10 * profile.keep_ratios[0]

    result = search_profile(SHAPE, LENGTHS, 3.0, score, rounds=2)
    assert result.metric >= result.start_metric and result.metric > result.start_metric
    for profile in calls:
        assert estimated_speedup(SHAPE, LENGTHS, profile) == pytest.approx(3.0, rel=0.01)
    assert result.profile.keep_ratios[0] == pytest.approx(result.profile.keep_ratios[1])  # layer 1 gave way


def test_interpolated_family_reaches_every_target_and_round_trips(tmp_path):
    points = tuple(
        (t, rescale_to_budget(SHAPE, LENGTHS, ratios, t))
        for t, ratios in ((2.0, [0.9, 0.7, 0.5, 0.4, 0.3, 0.1]), (4.0, [0.8, 0.4, 0.2, 0.1, 0.05, 0.05]))
    )
    searched = SearchedProfiles(points, {"model": "m", "task": "sst2"})
    write_searched(tmp_path, searched)
    again = read_searched(tmp_path)
    assert [t for t, _ in again.points] == [2.0, 4.0] and again.card["task"] == "sst2"
    for target in (1.5, 2.0, 2.7, 3.5, 4.0, 4.5):
        solved = interpolate(again, SHAPE, LENGTHS, target)
        assert solved.reached and solved.estimated_speedup == pytest.approx(target, rel=0.01)
    assert interpolate(again, SHAPE, LENGTHS, 1.0).profile is None
    (tmp_path / "searched_profiles.json").write_text('{"points": [{"target": 2}]}')
    with pytest.raises(AccvizError, match="malformed"):
        read_searched(tmp_path)
    with pytest.raises(AccvizError, match="search-profile"):
        read_searched(tmp_path / "nowhere")


def test_cli_search_profile_scores_on_train_examples_the_fine_tune_did_not_use(
    tmp_path, minilm_tokenizer, capsys
):
    import random
    import shutil

    from accviz import cli
    from accviz.cli import train as cli_train
    from accviz.results import read_sweep
    from accviz.store.cache import write_card

    from .conftest import tiny_vocab_classifier, write_glue_fixture

    glue = write_glue_fixture(tmp_path / "glue", rows=40)
    shutil.copy(glue / "SST-2" / "dev.tsv", glue / "SST-2" / "train.tsv")
    model_dir = tmp_path / "tiny"
    tiny_vocab_classifier().save_pretrained(model_dir)
    minilm_tokenizer.save_pretrained(model_dir)
    write_card(
        model_dir,
        {"kind": "finetune", "config": {"max_train_examples": 30, "seed": 4}},
        files=["config.json"],
    )

    class Args:
        task, glue_dir = "sst2", str(glue)

    data, note = cli_train.held_out_train_slice(get_task("sst2"), Args, model_dir, examples=100)
    used = set(random.Random(4).sample(range(40), 30))
    all_texts = [
        line.split("\t")[0].strip() for line in (glue / "SST-2" / "train.tsv").read_text().splitlines()[1:]
    ]
    assert len(data) == 10 and set(data.texts_a) == {all_texts[i] for i in range(40) if i not in used}
    assert "outside the 30" in note

    out = tmp_path / "runs"
    argv = ["search-profile", "--task", "sst2", "--glue-dir", str(glue), "--model", str(model_dir),
            "--speedups", "2", "--examples", "10", "--rounds", "1", "--out", str(out)]  # fmt: skip
    assert cli.main(argv) == 0
    assert "searching on 10 train examples outside the 30" in capsys.readouterr().out
    searched = read_searched(model_dir)
    assert searched.points[0][0] == 2.0 and searched.card["strategy"] == "acc"
    assert searched.card["search_examples"] == 10  # the slice's size, as the held-out choice compares it
    assert read_searched(out / "tiny-searched__sst2").points == searched.points
    assert (
        cli.main([*argv, "--name", "tiny-again"]) == 0
    )  # searched again: the copy goes where a sweep's --name puts its table
    assert read_searched(out / "tiny-again__sst2").points == read_searched(model_dir).points
    capsys.readouterr()
    sweep = ["sweep", "--task", "sst2", "--glue-dir", str(glue), "--model", str(model_dir), "--family", "searched",
             "--speedups", "1,2,3", "--strategies", "acc", "--out", str(out)]  # fmt: skip
    assert cli.main(sweep) == 0
    table, card = read_sweep(out / "tiny-searched__sst2")
    assert card["profile_family"] == "searched" and set(table.target_speedup) == {1.0, 2.0, 3.0}
    assert cli.main(["eval", "--task", "sst2", "--glue-dir", str(glue), "--model", str(model_dir),
                     "--family", "searched"]) == 1  # fmt: skip
    assert "is for accviz sweep" in capsys.readouterr().err


def test_the_strategy_decides_fusion_in_the_searched_family():
    point = rescale_to_budget(SHAPE, LENGTHS, [0.9, 0.7, 0.5, 0.4, 0.3, 0.1], 2.0, fuse=True)
    searched = SearchedProfiles(((2.0, point),), {})
    assert interpolate(searched, SHAPE, LENGTHS, 2.5).profile.fuse  # as searched
    assert not interpolate(searched, SHAPE, LENGTHS, 2.5, fuse=False).profile.fuse
    assert interpolate(searched, SHAPE, LENGTHS, 500.0, fuse=True).profile.fuse  # beyond reach, still fused


def test_the_held_out_slice_refuses_another_train_split(tmp_path, minilm_tokenizer):
    import shutil

    from accviz.cli import train as cli_train
    from accviz.store.cache import write_card

    from .conftest import tiny_vocab_classifier, write_glue_fixture

    glue = write_glue_fixture(tmp_path / "glue", rows=20)
    shutil.copy(glue / "SST-2" / "dev.tsv", glue / "SST-2" / "train.tsv")
    model_dir = tmp_path / "tiny"
    tiny_vocab_classifier().save_pretrained(model_dir)
    card = {"kind": "finetune", "config": {"max_train_examples": 10}, "train_source": "GLUE TSV /elsewhere"}
    write_card(model_dir, card, files=["config.json"])

    class Args:
        task, glue_dir = "sst2", str(glue)

    with pytest.raises(AccvizError, match="same --glue-dir"):
        cli_train.held_out_train_slice(get_task("sst2"), Args, model_dir, examples=5)


def test_one_solver_for_every_family():
    from accviz.method.search import solve_in_family
    from accviz.method.speedup import solve_profile

    geometric = solve_in_family(SHAPE, LENGTHS, 2.0, family="geometric", fuse=True)
    assert geometric.profile == solve_profile(SHAPE, LENGTHS, 2.0, fuse=True, warn=False).profile
    with pytest.raises(AccvizError, match="accviz search-profile"):
        solve_in_family(SHAPE, LENGTHS, 2.0, family="searched")
