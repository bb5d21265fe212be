"""Tests for accviz/bench.py: the smoke versions write well-formed tables (no timing is asserted)."""

import json
import math

import pandas as pd
import pytest
import torch

from accviz import bench

SPEEDUP_COLUMNS = {
    "batch_size",
    "variant",
    "target_speedup",
    "reached",
    "profile_family",
    "estimated_speedup",
    "measured_speedup",
    "measured_over_estimated",
    "baseline",
    "measured_vs_eager",
    "measured_vs_sdpa",
    "exact_last_layer_estimated",
    "exact_last_layer_measured",
    "elimination_only_estimated",
    "elimination_only_measured",
    "pruned_ms",
    "pruned_p10_ms",
    "pruned_p90_ms",
    "baseline_ms",
    "repeats",
}
FIDELITY_COLUMNS = SPEEDUP_COLUMNS | {
    "model",
    "length",
    "measured_speedup_p10",
    "measured_speedup_p90",
    "pruned_spread",
    "predictor_split",
    "predicted_ms",
    "predicted_speedup",
    "predictor_error_percent",
}


def _sweep_rows(strategy, curve, model="minilm", task="sst2", metric="accuracy"):
    return [
        {
            "model": model,
            "task": task,
            "split": "dev",
            "source": "test",
            "strategy": strategy,
            "target_speedup": target,
            "estimated_speedup": estimated,
            "estimated_speedup_padded128": estimated * 3,
            "measured_speedup": float("nan"),
            "metric": metric,
            "value": value,
            "mean_kept_last": 1.0,
            "n_examples": 872,
        }
        for target, estimated, value in curve
    ]


SWEEP = pd.DataFrame(
    _sweep_rows(
        "acc", [(1.0, 1.1, 90.0), (1.5, 1.5, 89.9), (2.0, 2.0, 89.5), (3.0, 3.0, 88.5), (4.0, 4.0, 85.0)]
    )
    + _sweep_rows("random", [(1.0, 1.1, 90.0), (1.5, 1.5, 89.0), (2.0, 2.0, 80.0), (3.0, 3.0, 70.0)])
    + _sweep_rows("attention", [(1.0, 1.1, 90.0), (2.0, 2.0, 89.8), (4.0, 4.0, 89.5)])
)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """Every smoke benchmark once, into a temporary folder, with one synthetic sweep to read."""
    root = tmp_path_factory.mktemp("bench")
    sweep_dir = root / "cached_runs" / "minilm__sst2"
    sweep_dir.mkdir(parents=True)
    SWEEP.to_csv(sweep_dir / "sweep.csv", index=False)
    out = root / "out"
    threads = torch.get_num_threads()
    try:
        code = bench.main(
            [
                "all",
                "--smoke",
                "--threads",
                "1",
                "--out",
                str(out),
                "--cached-runs",
                str(root / "cached_runs"),
                "--note",
                "smoke test",
            ]
        )
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    return out


def test_smoke_speedup_table(smoke_run):
    table = pd.read_csv(smoke_run / "speedup.csv")
    assert SPEEDUP_COLUMNS <= set(table.columns)
    assert sorted(table["batch_size"].unique()) == [1, 2]
    assert (table["variant"] == bench.EXACT_ONLY).sum() == 2  # one per batch size
    assert (table["estimated_speedup"] >= 1.0).all()
    assert (table["exact_last_layer_estimated"] >= 1.0).all()
    assert set(table["baseline"]) <= {"hf-eager", "hf-sdpa"}
    assert (table[["pruned_ms", "baseline_ms", "measured_speedup"]] > 0).all().all()
    # the unpruned hand-written forward gives the HF logits
    assert (table["exact_only_max_logit_diff"] < 1e-4).all()


def test_smoke_fidelity_table_and_predictor(smoke_run):
    table = pd.read_csv(smoke_run / "fidelity.csv")
    assert FIDELITY_COLUMNS <= set(table.columns)
    assert set(table["model"]) == {bench.TINY_2L.name, bench.TINY_3L.name}
    assert set(table["length"]) == {8, 16}
    assert set(table["batch_size"]) == {2}
    assert (table["estimated_speedup"] >= 1.0).all()
    assert set(table["predictor_split"]) == {"fit", "held-out"}
    assert table["predicted_ms"].notna().all()
    predictor = pd.read_csv(smoke_run / "fidelity_predictor.csv")
    assert list(predictor["fit_on"]) == [bench.TINY_2L.name, bench.TINY_3L.name, "pooled"]
    assert predictor["held_out_profiles_error_percent"].notna().all()


def test_smoke_cards_say_what_produced_them(smoke_run):
    for stem in ("speedup", "fidelity", "accuracy"):
        card = json.loads((smoke_run / f"{stem}.json").read_text())
        assert card["kind"] == f"bench-{stem}"
        assert card["smoke"] is True
        assert card["command"].startswith("python -m accviz.bench all --smoke")
        assert card["machine"]["torch_threads"] == 1
        assert card["machine"]["torch"] == torch.__version__
        assert {"cpu_model", "processor", "cores"} <= set(card["machine"])
        assert card["files"] == [f"{stem}.csv"]
        assert card["note"] == "smoke test"
    fidelity = json.loads((smoke_run / "fidelity.json").read_text())
    assert len(fidelity["predictor"]) == 3


def test_accuracy_table_pivots_and_interpolates(smoke_run, tmp_path):
    table = pd.read_csv(smoke_run / "accuracy.csv")
    assert list(table["strategy"]) == ["acc", "attention", "random"]  # the usual order
    acc = table[table["strategy"] == "acc"].iloc[0]
    assert acc["1x"] == 90.0 and acc["2x"] == 89.5 and acc["4x"] == 85.0
    # drop 0.5 at 2x, 1.5 at 3x: 0.75 is reached a quarter of the way from 2x to 3x
    assert acc["speedup_at_0.75_drop"] == pytest.approx(2.25)
    attention = table[table["strategy"] == "attention"].iloc[0]
    assert math.isnan(attention["1.5x"]) and attention["reachable_is_lower_bound"]
    assert attention["speedup_at_0.75_drop"] == pytest.approx(4.0)
    random = table[table["strategy"] == "random"].iloc[0]
    assert math.isnan(random["4x"])
    assert random["speedup_at_0.75_drop"] == pytest.approx(1.1 + 0.75 / 1.0 * 0.4)


def test_speedup_at_drop_edge_cases():
    assert bench.speedup_at_drop([1, 2, 3], [90, 90, 90], 90.0) == (3.0, True)
    speedup, censored = bench.speedup_at_drop([1, 2], [88, 87], 90.0)
    assert math.isnan(speedup) and not censored  # even the first point is too far down
    assert bench.speedup_at_drop([3, 1, 2], [80, 90, 90], 90.0)[0] == pytest.approx(2.0 + 0.75 / 10)


def test_accuracy_without_sweeps_says_so(tmp_path, capsys):
    assert bench.accuracy_table(tmp_path).empty
    code = bench.main(["accuracy", "--cached-runs", str(tmp_path / "none"), "--out", str(tmp_path / "out")])
    assert code == 0
    assert "no sweep found" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


def test_accuracy_with_foreign_columns_is_an_error(tmp_path, capsys):
    (tmp_path / "x__y").mkdir()
    pd.DataFrame({"task": ["sst2"], "acc": [1.0]}).to_csv(tmp_path / "x__y" / "sweep.csv", index=False)
    code = bench.main(["accuracy", "--cached-runs", str(tmp_path), "--out", str(tmp_path / "out")])
    assert code == 1
    assert "COL_" in capsys.readouterr().err


def test_timing_budget_bounds_repeats():
    budget = bench.TimingBudget(seconds=10.0, min_repeats=3, max_repeats=20)
    assert budget.repeats_for(100.0) == 3
    assert budget.repeats_for(1.0) == 10
    assert budget.repeats_for(0.01) == 20
