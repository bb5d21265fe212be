"""A recipe chosen per task on held-out train slices (accviz.measure.held_out_choice)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from accviz import bench
from accviz.errors import AccvizError
from accviz.measure.average import read_comparisons
from accviz.measure.held_out_choice import CHOICES_FILE, choice_table, chosen_suite, read_choices
from accviz.method.profile import EliminationProfile
from accviz.method.search import HELD_OUT_SLICE, SearchedProfiles, write_searched
from accviz.results import sweep_dir

from .conftest import REPO_ROOT

HELD_OUT = f"600 {HELD_OUT_SLICE} 16000 the checkpoint was fine-tuned on"
TRAINED_ON = "600 train examples the checkpoint was fine-tuned on (it used the whole split)"


def _searched(root, model, metrics, where=HELD_OUT, task="sst2", examples=None):
    """A stored search of ``model`` whose slice metric at 2x and 3x is ``metrics`` (``examples``: the
    card's ``search_examples``, as search-profile now writes it; None: a card from before)."""
    point = EliminationProfile((1.0, 0.5, 0.25), family="searched", knob=1.0, fuse=True)
    details = [
        {"target": t, "metric": m, "geometric_metric": m - 1}
        for t, m in zip((2.0, 3.0), metrics, strict=True)
    ]
    card = {"model": model, "task": task, "search_slice": where, "details": details}
    if examples is not None:
        card["search_examples"] = examples
    write_searched(
        sweep_dir(root, model + "-searched", task), SearchedProfiles(((2.0, point), (3.0, point)), card)
    )


def _spec(root, searches, candidates=("wide", "narrow")):
    choice = {
        "name": "range",
        "targets": [2, 3],
        "candidates": list(candidates),
        "searches": searches,
        "apply": {"wide": "wide chain", "narrow": "narrow chain"},
        "comparison": "the choice",
        "suite": "chosen",
    }
    (root / CHOICES_FILE).write_text(json.dumps({"choices": [choice]}))
    return choice


def test_the_higher_mean_over_seeds_and_targets_wins_and_a_tie_keeps_the_default(tmp_path):
    _searched(tmp_path, "w0", (90, 80))  # wide: mean 84
    _searched(tmp_path, "w1", (88, 78))
    _searched(tmp_path, "n0", (89, 84))  # narrow: mean 85.5, though below wide at 2x
    _searched(tmp_path, "n1", (87, 82))
    _spec(tmp_path, {"sst2": {"wide": ["w0", "w1"], "narrow": ["n0", "n1"]}})
    table = choice_table(tmp_path).set_index("candidate")
    assert table.loc["wide", "score"] == pytest.approx(84.0)
    assert table.loc["narrow", "score"] == pytest.approx(85.5)
    assert table.loc["narrow", "score_2x"] == pytest.approx(88.0)
    assert table.loc["wide", "spread"] == pytest.approx(2.0)
    assert list(table["chosen"]) == [False, True]

    _searched(tmp_path, "n0", (90, 80))  # now equal: the first candidate stays
    _searched(tmp_path, "n1", (88, 78))
    assert list(choice_table(tmp_path)["chosen"]) == [True, False]


def test_a_slice_the_model_trained_on_a_missing_target_or_unequal_seeds_are_refused(tmp_path):
    _searched(tmp_path, "w0", (90, 80))
    _searched(tmp_path, "n0", (89, 84), where=TRAINED_ON)
    _spec(tmp_path, {"sst2": {"wide": ["w0"], "narrow": ["n0"]}})
    with pytest.raises(AccvizError, match="not trained on"):
        choice_table(tmp_path)

    _searched(tmp_path, "n0", (89, 84), where=None)  # a card that does not say
    with pytest.raises(AccvizError, match="not trained on"):
        choice_table(tmp_path)

    _spec(tmp_path, {"sst2": {"wide": ["w0"], "narrow": ["absent"]}})
    with pytest.raises(AccvizError, match="search-profile"):
        choice_table(tmp_path)

    for runs in ({"wide": ["w0"], "narrow": []}, {"narrow": ["w0"]}):  # no run; the default absent
        _spec(tmp_path, {"sst2": runs})
        with pytest.raises(AccvizError, match="same number"):
            choice_table(tmp_path)

    _searched(tmp_path, "nan", (float("nan"), 80))
    _spec(tmp_path, {"sst2": {"wide": ["w0"], "narrow": ["nan"]}})
    with pytest.raises(AccvizError, match="non-finite"):
        choice_table(tmp_path)

    _searched(tmp_path, "n0", (89, 84), where=HELD_OUT.replace("600", "300", 1))  # a smaller slice
    _spec(tmp_path, {"sst2": {"wide": ["w0"], "narrow": ["n0"]}})
    with pytest.raises(AccvizError, match="slices of different sizes"):
        choice_table(tmp_path)
    _searched(tmp_path, "n0", (89, 84), where="a slice of " + HELD_OUT)  # a note without its count
    with pytest.raises(AccvizError, match="how many examples"):
        choice_table(tmp_path)
    _searched(tmp_path, "n0", (89, 84), where=HELD_OUT.replace("600", "300", 1), examples=600)
    assert len(choice_table(tmp_path)) == 2  # the card's field, not its note, gives the size
    _searched(tmp_path, "n0", (89, 84), examples=300)
    with pytest.raises(AccvizError, match="slices of different sizes"):
        choice_table(tmp_path)

    spec = _spec(tmp_path, {"sst2": {"wide": ["w0"], "narrow": ["w0"]}})
    spec["targets"] = [2, 4]
    (tmp_path / CHOICES_FILE).write_text(json.dumps({"choices": [spec]}))
    with pytest.raises(AccvizError, match=r"not searched at \[4\]x"):
        choice_table(tmp_path)


@pytest.mark.parametrize(
    "text", ["[]", "{", '{"choices": []}', '{"choices": [{"name": "x"}]}', '{"choices": [{"name": "x", "targets": [2], '
     '"candidates": ["a"], "searches": {}, "apply": {"a": "s"}, "comparison": "c", "suite": "s"}]}',
     '{"choices": [{"name": "x", "targets": ["2"], "candidates": ["a", "b"], "searches": {}, '
     '"apply": {"a": "s", "b": "t"}, "comparison": "c", "suite": "s"}]}',
     '{"choices": [{"name": "x", "targets": [2], "candidates": ["a", "b"], "searches": {"sst2": ["m"]}, '
     '"apply": {"a": "s", "b": "t"}, "comparison": "c", "suite": "s"}]}'],
)  # fmt: skip
def test_a_malformed_spec_is_one_clear_error_and_the_bench_writes_nothing(tmp_path, text, capsys):
    (tmp_path / CHOICES_FILE).write_text(text)
    with pytest.raises(AccvizError, match="cannot be read as a choice spec"):
        read_choices(tmp_path)
    out = tmp_path / "out"
    assert bench.main(["choice", "--cached-runs", str(tmp_path), "--out", str(out)]) == 1
    assert "cannot be read as a choice spec" in capsys.readouterr().err
    assert not out.exists()


def test_the_bench_writes_the_table_and_the_chosen_suite_comes_from_the_winners_suite(tmp_path):
    for model, metrics in {"w0": (90, 80), "n0": (89, 84), "wm": (70, 60), "nm": (60, 50)}.items():
        _searched(tmp_path, model, metrics)
    _spec(tmp_path, {"sst2": {"wide": ["w0"], "narrow": ["n0"]}, "mrpc": {"wide": ["wm"], "narrow": ["nm"]}})
    for model in ("wm", "nm"):  # the mrpc searches are stored under mrpc
        _searched(tmp_path, model, {"wm": (70, 60), "nm": (60, 50)}[model], task="mrpc")
    out = tmp_path / "out"
    assert bench.main(["choice", "--cached-runs", str(tmp_path), "--out", str(out)]) == 0
    table = pd.read_csv(out / "held_out_choice.csv")
    assert json.loads((out / "held_out_choice.json").read_text())["kind"] == "bench-choice"
    assert set(table.loc[table["chosen"], "candidate"] + "@" + table.loc[table["chosen"], "task"]) == {
        "narrow@sst2", "wide@mrpc"}  # fmt: skip

    suites = {
        "wide chain": {"sst2": ["W-sst2"], "mrpc": ["W-mrpc"]},
        "narrow chain": {"sst2": ["N-sst2"], "mrpc": ["N-mrpc"]},
    }
    (tmp_path / "suites.json").write_text(
        json.dumps({"comparisons": [{"name": "the choice", "reference": "wide chain", "suites": suites}]})
    )
    comparisons = read_comparisons(tmp_path / "suites.json")
    choice = read_choices(tmp_path)[0]
    assert chosen_suite(table, choice, comparisons) == {"sst2": ("N-sst2",), "mrpc": ("W-mrpc",)}
    choice["comparison"] = "another"
    with pytest.raises(AccvizError, match="no comparison 'another'"):
        chosen_suite(table, choice, comparisons)


def test_the_stored_choice_is_the_suite_suites_json_holds():
    """suites.json's chosen suite is, task by task, the full-train chain of the recipe that won."""
    cached_runs = REPO_ROOT / "cached_runs"
    table = choice_table(cached_runs)
    stored = pd.read_csv(cached_runs / "bench" / "held_out_choice.csv")
    pd.testing.assert_frame_equal(table, stored, check_dtype=False)  # the committed table is today's
    comparisons = read_comparisons(cached_runs / "suites.json")
    for choice in read_choices(cached_runs):
        held = next(c for c in comparisons if c.name == choice["comparison"]).suites[choice["suite"]]
        assert held == chosen_suite(table, choice, comparisons)
