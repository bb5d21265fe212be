"""Tests for accviz/measure/frontier.py: levers over seeds, from stored sweeps named in a data file."""

import json

import numpy as np
import pandas as pd
import pytest

from accviz.errors import AccvizError
from accviz.measure.frontier import envelope_markdown, frontier_markdown, frontier_table, value_at


def _sweep(root, model, strategy, points, wall=60.0):
    from accviz.results import SWEEP_COLUMNS, sweep_dir, write_sweep

    rows = [{"model": model, "task": "sst2", "split": "dev", "source": "test", "strategy": strategy,
             "target_speedup": t, "estimated_speedup": e, "estimated_speedup_padded128": e,
             "measured_speedup": float("nan"), "metric": "accuracy", "value": v, "value_std": 0.0,
             "mean_kept_last": 1.0, "n_examples": 10} for t, e, v in points]  # fmt: skip
    card = {"model": model, "task": "sst2", "model_training": {"wall_time_s": wall}}
    write_sweep(pd.DataFrame(rows, columns=SWEEP_COLUMNS), sweep_dir(root, model, "sst2"), card)


def test_levers_average_seeds_interpolate_and_form_an_envelope(tmp_path):
    _sweep(tmp_path, "plain-s0", "acc", [(1, 1.1, 86.0), (2, 2.0, 84.0), (3, 3.0, 78.0), (4, 4.0, 60.0)])
    _sweep(tmp_path, "plain-s1", "acc", [(1, 1.1, 84.0), (2, 2.0, 82.0), (3, 3.0, 76.0), (4, 4.0, 58.0)])
    _sweep(tmp_path, "cut3", "acc", [(2.7, 2.7, 81.0), (4.0, 4.0, 79.0)], wall=30.0)
    spec = {"task": "sst2", "reference": "plain", "levers": [
        {"name": "plain", "strategy": "acc", "models": ["plain-s0", "plain-s1", "plain-s9"], "command": "c"},
        {"name": "cut", "strategy": "acc", "models": ["cut3"]},
        {"name": "absent", "strategy": "acc", "models": ["nothing"]},
    ]}  # fmt: skip
    (tmp_path / "frontier.json").write_text(json.dumps(spec))
    table, envelope = frontier_table(tmp_path)
    assert list(table["lever"]) == ["plain", "cut"]  # a lever without any sweep is skipped
    plain, cut = table.iloc[0], table.iloc[1]
    assert plain["seeds"] == 2 and plain["unpruned"] == 85.0 and plain["unpruned_spread"] == 2.0
    assert plain["drop_2x"] == pytest.approx(2.0) and plain["spread_2x"] == pytest.approx(2.0)
    assert plain["drop_1.5x"] == pytest.approx(85.0 - np.mean([86 - 2 * 0.4 / 0.9, 84 - 2 * 0.4 / 0.9]))
    assert np.isnan(cut["drop_2x"]) and cut["drop_3x"] == pytest.approx(85.0 - (81 - 2 * 0.3 / 1.3))
    assert cut["unpruned_speedup"] == pytest.approx(2.7) and cut["train_wall_s"] == 30.0
    best = dict(zip(envelope["speedup"], envelope["best_lever"], strict=True))
    assert best == {1.5: "plain", 2.0: "plain", 3.0: "cut", 4.0: "cut"}
    assert "| plain | acc | 2 | 85.0 (1.10x) | " in frontier_markdown(table)
    assert "| 4x | cut | 79.0 | 6.00 |" in envelope_markdown(envelope)


def test_a_lever_on_another_budget_drops_against_the_plain_model_of_that_budget(tmp_path):
    _sweep(tmp_path, "plain-s0", "acc", [(1, 1.1, 85.0), (2, 2.0, 83.0)])
    _sweep(tmp_path, "long-plain", "acc", [(1, 1.1, 88.0), (2, 2.0, 86.5)])
    _sweep(tmp_path, "long-fuse", "acc+fuse", [(1, 1.1, 87.0), (2, 2.0, 87.0)])
    spec = {"task": "sst2", "reference": "plain", "levers": [
        {"name": "plain", "strategy": "acc", "models": ["plain-s0"]},
        {"name": "long plain", "strategy": "acc", "models": ["long-plain"], "reference": "long plain"},
        {"name": "long fused", "strategy": "acc+fuse", "models": ["long-fuse"], "reference": "long plain"},
    ]}  # fmt: skip
    (tmp_path / "frontier.json").write_text(json.dumps(spec))
    table, envelope = frontier_table(tmp_path)
    rows = table.set_index("lever")
    assert list(rows["reference"]) == ["plain", "long plain", "long plain"]
    assert list(rows["baseline"]) == [85.0, 88.0, 88.0]
    assert rows.loc["plain", "drop_2x"] == pytest.approx(2.0)
    assert rows.loc["long plain", "drop_2x"] == pytest.approx(1.5)
    assert rows.loc["long fused", "drop_2x"] == pytest.approx(1.0)  # against 88.0, not against 85.0
    assert envelope.set_index("speedup").loc[2.0, "drop"] == pytest.approx(1.0)
    spec["levers"][2]["reference"] = "nowhere"
    (tmp_path / "frontier.json").write_text(json.dumps(spec))
    with pytest.raises(AccvizError, match="'nowhere' is not among its levers"):
        frontier_table(tmp_path)
    spec["levers"][2]["reference"] = "long plain"
    spec["levers"][1]["models"] = ["not-swept"]
    (tmp_path / "frontier.json").write_text(json.dumps(spec))
    with pytest.raises(AccvizError, match="No sweep of the reference lever 'long plain'"):
        frontier_table(tmp_path)


def test_value_at_leaves_speedups_outside_the_curve_empty():
    curve = pd.DataFrame({"estimated_speedup": [2.7, 4.0], "value": [80.0, 70.0]})
    assert np.isnan(value_at(curve, 2.0)) and value_at(curve, 4.0) == 70.0


def test_a_missing_reference_or_spec_is_a_clear_error(tmp_path):
    with pytest.raises(AccvizError, match="frontier spec"):
        frontier_table(tmp_path)
    (tmp_path / "frontier.json").write_text(json.dumps({"task": "sst2", "reference": "x", "levers": []}))
    with pytest.raises(AccvizError, match="reference lever"):
        frontier_table(tmp_path)
    spec = {"task": "sst2", "reference": "x", "levers": [{"name": "x", "strategy": "acc", "models": ["m"]}]}
    (tmp_path / "frontier.json").write_text(json.dumps(spec))
    with pytest.raises(AccvizError, match="No sweep of the reference"):
        frontier_table(tmp_path)


def test_a_corrupt_sweep_is_an_error_not_a_curve(tmp_path):
    from accviz.errors import CacheError

    _sweep(tmp_path, "plain-s0", "acc", [(1, 1.1, 86.0), (2, 2.0, 84.0)])
    spec = {
        "task": "sst2",
        "reference": "plain",
        "levers": [{"name": "plain", "strategy": "acc", "models": ["plain-s0"]}],
    }
    (tmp_path / "frontier.json").write_text(json.dumps(spec))
    sweep_file = tmp_path / "plain-s0__sst2" / "sweep.csv"
    sweep_file.write_text(sweep_file.read_text().replace(",84,", ",99,"))
    with pytest.raises(CacheError):
        frontier_table(tmp_path)
