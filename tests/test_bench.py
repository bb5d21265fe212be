"""Tests for the benchmarks (accviz/bench.py, accviz/measure/bench_*.py, workloads.py, report.py) and
the tables and cards they write (accviz/results.py, accviz/machine.py): the smoke versions write
well-formed tables (no timing is asserted)."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from accviz import bench
from accviz.machine import library_versions, machine_card, machine_description
from accviz.measure.average import speedup_at_drop
from accviz.measure.bench_accuracy import accuracy_table
from accviz.measure.report import accuracy_markdown
from accviz.measure.workloads import EXACT_ONLY, TINY_2L, TINY_3L, TimingBudget
from accviz.results import ACCURACY_SPEEDUPS, SWEEP_COLUMNS, write_sweep

from .conftest import REPO_ROOT

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
            "value_std": 0.0,
            "mean_kept_last": 1.0,
            "n_examples": 872,
        }
        for target, estimated, value in curve
    ]


SWEEP = pd.DataFrame(
    columns=SWEEP_COLUMNS,
    data=_sweep_rows(
        "acc", [(1.0, 1.1, 90.0), (1.5, 1.5, 89.9), (2.0, 2.0, 89.5), (3.0, 3.0, 88.5), (4.0, 4.0, 85.0)]
    )
    + _sweep_rows("random", [(1.0, 1.1, 90.0), (1.5, 1.5, 89.0), (2.0, 2.0, 80.0), (3.0, 3.0, 70.0)])
    + _sweep_rows("attention", [(1.0, 1.1, 90.0), (2.0, 2.0, 89.8), (4.0, 4.0, 89.5)]),
)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """Every smoke benchmark once, into a temporary folder, with one synthetic sweep to read."""
    root = tmp_path_factory.mktemp("bench")
    write_sweep(SWEEP, root / "cached_runs" / "minilm__sst2", {"model": "minilm", "task": "sst2"})
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
    assert (table["variant"] == EXACT_ONLY).sum() == 2  # one per batch size
    assert (table["estimated_speedup"] >= 1.0).all()
    assert (table["exact_last_layer_estimated"] >= 1.0).all()
    assert set(table["baseline"]) <= {"hf-eager", "hf-sdpa"}
    assert (table[["pruned_ms", "baseline_ms", "measured_speedup"]] > 0).all().all()
    # the unpruned hand-written forward gives the HF logits
    assert (table["exact_only_max_logit_diff"] < 1e-4).all()


def test_smoke_fidelity_table_and_predictor(smoke_run):
    table = pd.read_csv(smoke_run / "fidelity.csv")
    assert FIDELITY_COLUMNS <= set(table.columns)
    assert set(table["model"]) == {TINY_2L.name, TINY_3L.name}
    assert set(table["length"]) == {8, 16}
    assert set(table["batch_size"]) == {2}
    assert (table["estimated_speedup"] >= 1.0).all()
    assert set(table["predictor_split"]) == {"fit", "held-out"}
    assert table["predicted_ms"].notna().all()
    predictor = pd.read_csv(smoke_run / "fidelity_predictor.csv")
    assert list(predictor["fit_on"]) == [TINY_2L.name, TINY_3L.name, "pooled"]
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
    assert speedup_at_drop([1, 2, 3], [90, 90, 90], 90.0) == (3.0, True)
    speedup, censored = speedup_at_drop([1, 2], [88, 87], 90.0)
    assert math.isnan(speedup) and not censored  # even the first point is too far down
    assert speedup_at_drop([3, 1, 2], [80, 90, 90], 90.0)[0] == pytest.approx(2.0 + 0.75 / 10)


def test_accuracy_without_sweeps_says_so(tmp_path, capsys):
    assert accuracy_table(tmp_path).empty
    code = bench.main(["accuracy", "--cached-runs", str(tmp_path / "none"), "--out", str(tmp_path / "out")])
    assert code == 0
    assert "no sweep found" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


def test_accuracy_with_foreign_columns_is_an_error(tmp_path, capsys):
    write_sweep(pd.DataFrame({"task": ["sst2"], "acc": [1.0]}), tmp_path / "x__y", {})
    code = bench.main(["accuracy", "--cached-runs", str(tmp_path), "--out", str(tmp_path / "out")])
    assert code == 1
    assert "is not an accviz sweep (missing columns" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_accuracy_reads_sweeps_with_their_checksums_verified(tmp_path, capsys):
    """One reader of sweeps (accviz.results.read_sweep): an edited or card-less sweep is an error."""
    args = ["accuracy", "--cached-runs", str(tmp_path), "--out", str(tmp_path / "out")]
    write_sweep(SWEEP, tmp_path / "minilm__sst2", {})
    edited = SWEEP.assign(value=SWEEP["value"] + 1)
    edited.to_csv(tmp_path / "minilm__sst2" / "sweep.csv", index=False)
    assert bench.main(args) == 1
    assert "does not match the checksum" in capsys.readouterr().err
    (tmp_path / "minilm__sst2" / "card.json").unlink()
    assert bench.main(args) == 1
    assert "is not a finished accviz cache entry" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_timing_budget_bounds_repeats():
    budget = TimingBudget(seconds=10.0, min_repeats=3, max_repeats=20)
    assert budget.repeats_for(100.0) == 3
    assert budget.repeats_for(1.0) == 10
    assert budget.repeats_for(0.01) == 20


def _accuracy_row(model, task, metric, strategy, values, reachable=float("nan"), lower_bound=False):
    row = {"model": model, "task": task, "metric": metric, "strategy": strategy, "baseline": values[0]}
    row.update({f"{s:g}x": v for s, v in zip(ACCURACY_SPEEDUPS, values, strict=True)})
    row.update({"speedup_at_0.75_drop": reachable, "reachable_is_lower_bound": lower_bound})
    return row


def test_average_drop_is_against_the_reference_suite_over_common_tasks():
    from accviz.measure.average import Comparison, average_drop_markdown, average_drop_table

    table = pd.DataFrame(
        [
            _accuracy_row("plain-sst2", "sst2", "accuracy", "acc", [90, 90, 89, 88, 80]),
            _accuracy_row("plain-mrpc", "mrpc", "f1", "acc", [80, 80, 80, 78, 70]),
            _accuracy_row("plain-mrpc", "mrpc", "accuracy", "acc", [10, 10, 10, 10, 10]),  # not primary
            _accuracy_row("plain-cola", "cola", "matthews_corr", "acc", [40, 0, 0, 0, 0]),  # only one suite
            _accuracy_row("plain-rte", "rte", "accuracy", "acc", [55, 50, 50, 50, 50]),  # near chance
            _accuracy_row("elim-sst2", "sst2", "accuracy", "acc", [89, 89, 89, 89, 85]),
            _accuracy_row("elim-mrpc", "mrpc", "f1", "acc", [80, 80, 80, 80, 76]),
            _accuracy_row("elim-mrpc", "mrpc", "f1", "random", [80, 70, 60, 50, 40]),  # no sst2 curve
            _accuracy_row("elim-rte", "rte", "accuracy", "acc", [55, 50, 50, 50, 50]),
        ]
    )
    suites = {
        "plain": {
            "sst2": ("plain-sst2",),
            "mrpc": ("plain-mrpc",),
            "cola": ("plain-cola",),
            "rte": ("plain-rte",),
        },
        "elim": {"sst2": ("elim-sst2",), "mrpc": ("elim-mrpc",), "rte": ("elim-rte",)},
    }
    average = average_drop_table(table, [Comparison("c", "plain", suites, {"rte": 60})])
    assert list(zip(average["suite"], average["strategy"], strict=True)) == [
        ("plain", "acc"),
        ("elim", "acc"),
    ]
    assert set(average["tasks"]) == {"mrpc sst2"} and set(average["left_out"]) == {"rte"}
    plain, elim = average.iloc[0], average.iloc[1]
    assert [plain[f"drop_{c}"] for c in ("1x", "1.5x", "2x", "3x")] == [0, 0, 0.5, 2.0]
    # drop 0.5 at 2x, 2.0 at 3x: 0.75 average drop is reached a sixth of the way from 2x to 3x
    assert plain["speedup_at_0.75_average_drop"] == pytest.approx(2 + 0.25 / 1.5)
    # the elimination suite pays its own 1x loss against the plain baseline: 0.5 at every point to 3x
    assert [elim[f"drop_{c}"] for c in ("1x", "2x", "3x", "4x")] == [0.5, 0.5, 0.5, 4.5]
    assert elim["speedup_at_0.75_average_drop"] == pytest.approx(3 + 0.25 / 4.0)
    markdown = average_drop_markdown(average)
    assert (
        "| c | elim | ACC | mrpc sst2 (left out: rte) | 1 | 0.50 | 0.50 | 0.50 | 0.50 | 4.50 | 3.06x |"
        in markdown
    )
    assert average_drop_table(table, [Comparison("c", "plain", {"plain": {"qnli": ("x",)}}, {})]).empty


def test_average_drop_over_seeds_pairs_seeds_and_reports_the_spread():
    from accviz.measure.average import Comparison, average_drop_table

    table = pd.DataFrame(
        [
            _accuracy_row("p0", "sst2", "accuracy", "acc", [90, 90, 88, 80, 70]),
            _accuracy_row("p1", "sst2", "accuracy", "acc", [92, 92, 90, 84, 70]),
            _accuracy_row("q0", "mrpc", "f1", "acc", [80, 80, 80, 80, 80]),
            _accuracy_row("q1", "mrpc", "f1", "acc", [82, 82, 82, 82, 82]),
            _accuracy_row("e0", "sst2", "accuracy", "acc", [91, 91, 91, 91, 91]),
            _accuracy_row("e1", "sst2", "accuracy", "acc", [91, 91, 91, 89, 91]),
            _accuracy_row("f0", "mrpc", "f1", "acc", [81, 81, 81, 81, 81]),
            _accuracy_row("f1", "mrpc", "f1", "acc", [81, 81, 81, 81, 81]),
            # the third seed exists for one task only: two seeds are used everywhere
            _accuracy_row("p2", "sst2", "accuracy", "acc", [0, 0, 0, 0, 0]),
        ]
    )
    suites = {
        "plain": {"sst2": ("p0", "p1", "p2"), "mrpc": ("q0", "q1")},
        "elim": {"sst2": ("e0", "e1"), "mrpc": ("f0", "f1")},
    }
    plain, elim = average_drop_table(table, [Comparison("seeds", "plain", suites, {})]).to_dict("records")
    # baselines: sst2 91, mrpc 81 (means over seeds 0-1). plain at 3x: seed 0 (11 + 1) / 2 = 6, seed 1 (7 - 1) / 2 = 3
    assert plain["seeds"] == 2 and plain["drop_3x"] == pytest.approx(4.5)
    assert plain["drop_std_3x"] == pytest.approx(np.std([6, 3], ddof=1))
    assert elim["drop_1x"] == pytest.approx(0.0) and elim["drop_3x"] == pytest.approx(0.5)


def test_accuracy_markdown_shows_primary_metric_best_in_bold():
    table = pd.DataFrame(
        [
            _accuracy_row("m", "mrpc", "f1", "acc", [84, 83, 82, 81, 80], 1.2),
            _accuracy_row("m", "mrpc", "f1", "attention", [84, 84, 81, 81, 79], 1.7),
            _accuracy_row("m", "mrpc", "accuracy", "acc", [76, 75, 74, 73, 72], 1.1),
            _accuracy_row("m", "mrpc", "f1", "random", [84, 84, 84, 84, 84], 4.0, lower_bound=True),
        ]
    )
    lines = accuracy_markdown(table).splitlines()
    assert len(lines) == 2 + 3  # header, rule, the three f1 rows; accuracy is not MRPC's primary metric
    assert lines[2] == "| mrpc (f1) | m | ACC | 84.0 | 83.0 | 82.0 | 81.0 | 80.0 | 1.20x |"
    assert (
        lines[3]
        == "| mrpc (f1) | m | attention (PoWER-BERT) | 84.0 | **84.0** | 81.0 | 81.0 | 79.0 | 1.70x |"
    )
    assert lines[4].endswith("| **84.0** | **84.0** | **84.0** | **84.0** | ≥ 4.00x |")


def test_report_prints_the_stored_tables_as_markdown(smoke_run, tmp_path, capsys):
    assert bench.main(["report", "--out", str(smoke_run)]) == 0
    printed = capsys.readouterr().out
    speedup = pd.read_csv(smoke_run / "speedup.csv")
    first = speedup.iloc[0]
    assert f"| {first['batch_size']} | {first['variant']} |" in printed
    assert f"{first['measured_over_estimated']:.2f} |" in printed
    assert "### fidelity" in printed and "| model | length | batch |" in printed
    assert "| sst2 (accuracy) | minilm | ACC | 90.0 | **89.9** | 89.5 | **88.5** | 85.0 | 2.25x |" in printed
    assert "| sst2 (accuracy) | minilm | attention (PoWER-BERT) | 90.0 | – | **89.8** |" in printed
    assert "average drop over tasks:" in printed and "not found" in printed  # the smoke sweeps form no suite
    assert bench.main(["report", "--out", str(tmp_path / "empty")]) == 0
    assert capsys.readouterr().out.count("not found") == 10  # every table (the ablation renders twice)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "speedup.csv").write_text("a,b\n1,2\n")
    assert bench.main(["report", "--out", str(tmp_path / "bad")]) == 1
    assert "not a table this version" in capsys.readouterr().err
    (tmp_path / "bad" / "speedup.csv").unlink()
    (tmp_path / "bad" / "accuracy.csv").write_text("garbage,x\n")  # a header and nothing under it
    assert bench.main(["report", "--out", str(tmp_path / "bad")]) == 1
    assert (
        "accuracy.csv is not a table this version of accviz.bench wrote: it holds no rows"
        in capsys.readouterr().err
    )


INT8_COLUMNS = {
    "model",
    "batch",
    "length",
    "target",
    "variant",
    "measured_speedup_vs_fp32_unpruned",
    "estimated_speedup",
    "ms_p10",
    "ms_median",
    "ms_p90",
}


def test_int8_smoke_writes_the_table_the_predictor_and_a_card(tmp_path):
    from accviz.measure.bench_int8 import INT8_SMOKE, predict_speedup
    from accviz.method.profile import EliminationProfile

    assert bench.main(["int8", "--smoke", "--threads", "1", "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "int8.csv")
    assert INT8_COLUMNS <= set(table.columns)
    expected_rows = len(INT8_SMOKE.batch_sizes) * len(INT8_SMOKE.lengths) * len(INT8_SMOKE.targets) * 2
    assert len(table) == expected_rows and set(table.variant) == {"fp32", "int8"}
    assert (table.measured_speedup_vs_fp32_unpruned > 0).all()
    assert (table.ms_p10 <= table.ms_median).all() and (table.ms_median <= table.ms_p90).all()
    card = json.loads((tmp_path / "int8.json").read_text())
    assert card["machine"]["torch_threads"] == 1 and "load_average_at_end" in card and card["command"]
    predictor = pd.read_csv(tmp_path / "int8_predictor.csv")
    assert set(predictor.variant) == {"fp32", "int8"} and (predictor.held_out_error_percent >= 0).all()
    config = INT8_SMOKE.encoders[0].build().config
    predicted, fitted_on = predict_speedup(
        tmp_path, config, [16] * 8, EliminationProfile((0.6, 0.3)), True, 2
    )
    assert predicted > 0 and fitted_on == INT8_SMOKE.encoders[0].name
    config.hidden_size = 48  # no stored fit for another shape
    assert predict_speedup(tmp_path, config, [16], None, True, 2) is None


def test_gpu_benchmark_skips_without_cuda_and_its_smoke_runs_anywhere(tmp_path, capsys):
    assert bench.main(["gpu", "--out", str(tmp_path / "full")]) == 0
    if not torch.cuda.is_available():
        assert "no CUDA device" in capsys.readouterr().out and not (tmp_path / "full").exists()
    assert bench.main(["gpu", "--smoke", "--threads", "1", "--out", str(tmp_path / "smoke")]) == 0
    table = pd.read_csv(tmp_path / "smoke" / "gpu.csv")
    assert {"fp32", "bf16"} == set(table.dtype) and (table.measured_speedup > 0).all()
    assert {"device", "batch", "target", "estimated_speedup", "measured_over_estimated"} <= set(table.columns)


def test_a_missing_seed_does_not_shift_the_others_out_of_their_pairs():
    from accviz.measure.average import Comparison, average_drop_table

    table = pd.DataFrame(
        [
            _accuracy_row("p0", "sst2", "accuracy", "acc", [90, 90, 90, 90, 90]),
            _accuracy_row("p1", "sst2", "accuracy", "acc", [80, 80, 80, 80, 80]),
            _accuracy_row("e1", "sst2", "accuracy", "acc", [79, 79, 79, 79, 79]),  # e0 has no sweep
        ]
    )
    suites = {"plain": {"sst2": ("p0", "p1")}, "elim": {"sst2": ("e0", "e1")}}
    rows = average_drop_table(table, [Comparison("c", "plain", suites, {})])
    # seed 1 only: baseline 80 (p1), elim e1 is 1 point below; pairing e1 with p0 would say 11
    elim = rows[rows.suite == "elim"].iloc[0]
    assert elim["seeds"] == 1 and elim["drop_1x"] == pytest.approx(1.0)


def test_a_suite_swept_with_fusion_only_is_averaged():
    from accviz.measure.average import Comparison, average_drop_table

    table = pd.DataFrame(
        [
            _accuracy_row("p0", "sst2", "accuracy", "acc", [90, 90, 88, 84, 80]),
            _accuracy_row("q0", "mrpc", "f1", "acc", [80, 80, 80, 78, 76]),
            # a searched profile with fusion: its sweeps hold the acc+fuse curve only
            _accuracy_row("s0", "sst2", "accuracy", "acc+fuse", [90, 90, 89, 87, 85]),
            _accuracy_row("t0", "mrpc", "f1", "acc+fuse", [80, 80, 80, 79, 78]),
        ]
    )
    suites = {"plain": {"sst2": ("p0",), "mrpc": ("q0",)}, "searched": {"sst2": ("s0",), "mrpc": ("t0",)}}
    rows = average_drop_table(table, [Comparison("c", "plain", suites, {})])
    searched = rows[rows.suite == "searched"]
    assert list(searched["strategy"]) == ["acc+fuse"] and searched.iloc[0]["tasks"] == "mrpc sst2"
    assert searched.iloc[0]["drop_3x"] == pytest.approx((3 + 1) / 2)


def test_the_average_envelope_picks_the_best_suite_and_a_shallower_model_counts_where_it_exists():
    from accviz.measure.average import (
        Comparison,
        average_drop_markdown,
        average_drop_table,
        average_envelope,
        average_envelope_markdown,
    )

    nan = float("nan")
    table = pd.DataFrame(
        [
            _accuracy_row("p0", "sst2", "accuracy", "acc", [90, 90, 88, 80, 70]),
            _accuracy_row("q0", "mrpc", "f1", "acc", [80, 80, 79, 76, 70]),
            # a 3-layer model: faster than 2x unpruned, so its sweep has no 1-2x points
            _accuracy_row("l0", "sst2", "accuracy", "acc", [nan, nan, nan, 87, 86]),
            _accuracy_row("m0", "mrpc", "f1", "acc", [nan, nan, nan, 78, 78]),
        ]
    )
    suites = {"plain": {"sst2": ("p0",), "mrpc": ("q0",)}, "3 layers": {"sst2": ("l0",), "mrpc": ("m0",)}}
    average = average_drop_table(table, [Comparison("depth", "plain", suites, {})])
    shallow = average[average.suite == "3 layers"].iloc[0]
    assert np.isnan(shallow["drop_2x"]) and shallow["drop_3x"] == pytest.approx((3 + 2) / 2)
    markdown = average_drop_markdown(average)
    assert "| depth | 3 layers | ACC | mrpc sst2 | 1 | – | – | – | 2.50 | 3.00 |" in markdown
    envelope = average_envelope(average).set_index("speedup")
    # plain wins where the shallow model has no point (and at 1x-2x ties nothing), 3 layers at 3x and 4x
    assert list(envelope["suite"]) == ["plain", "plain", "plain", "3 layers", "3 layers"]
    assert envelope.loc["3x", "drop"] == pytest.approx(2.5)
    assert envelope.loc["2x", "drop"] == pytest.approx(1.5)
    assert "| depth | 4x | 3 layers | ACC | 3.00 |" in average_envelope_markdown(envelope.reset_index())
    assert average_envelope(pd.DataFrame()).empty


def _write_sweep(root, model, task, metric, points, wall_s):
    """A sweep of one acc curve: points = [(target, estimated, value), ...], trained in wall_s."""
    from accviz.results import SWEEP_COLUMNS, sweep_dir, write_sweep

    rows = [
        {"model": model, "task": task, "split": "dev", "source": "test", "strategy": "acc", "target_speedup": t,
         "estimated_speedup": e, "estimated_speedup_padded128": e, "measured_speedup": np.nan, "metric": metric,
         "value": v, "value_std": 0.0, "mean_kept_last": 1.0, "n_examples": 10}
        for t, e, v in points
    ]  # fmt: skip
    card = {"model": model, "task": task, "model_training": {"wall_time_s": wall_s}}
    write_sweep(pd.DataFrame(rows, columns=SWEEP_COLUMNS), sweep_dir(root, model, task), card)


def test_the_ablation_joins_the_average_the_sst2_drop_and_the_fine_tuning_time(tmp_path):
    from accviz.errors import AccvizError
    from accviz.measure.ablation import ablation_markdown, ablation_table, read_ablation_spec
    from accviz.measure.bench_accuracy import accuracy_table

    full = [(1, 1.1, None), (1.5, 1.5, None), (2, 2, None), (3, 3, None), (4, 4, None)]

    def curve(values):
        return [(t, e, v) for (t, e, _), v in zip(full, values, strict=True)]

    _write_sweep(tmp_path, "p0", "sst2", "accuracy", curve([90, 90, 88, 84, 80]), 600)
    _write_sweep(tmp_path, "q0", "mrpc", "f1", curve([80, 80, 80, 78, 76]), 300)
    # a 3-layer model: its sweep starts at its own unpruned point, faster than 2x
    _write_sweep(tmp_path, "l0", "sst2", "accuracy", [(1.99, 2.7, 86), (3, 3, 85), (4, 4, 83)], 240)
    _write_sweep(tmp_path, "m0", "mrpc", "f1", [(1.99, 2.7, 79), (3, 3, 79), (4, 4, 78)], 60)
    # a second seed of SST-2 only: the SST-2 columns must pair the average's seeds, not these
    _write_sweep(tmp_path, "p1", "sst2", "accuracy", curve([70, 70, 70, 70, 70]), 600)
    _write_sweep(tmp_path, "l1", "sst2", "accuracy", [(1.99, 2.7, 50), (3, 3, 50), (4, 4, 50)], 240)
    suites = {
        "comparisons": [
            {"name": "c", "reference": "plain", "suites": {
                "plain": {"sst2": ["p0", "p1"], "mrpc": ["q0"]}, "3 layers": {"sst2": ["l0", "l1"], "mrpc": ["m0"]}}}
        ],
        "ablation": {"comparison": "c", "commands": {"3 layers": "accviz finetune --layers 3 ..."}},
    }  # fmt: skip
    (tmp_path / "suites.json").write_text(json.dumps(suites))
    table = accuracy_table(tmp_path)
    shallow = table[table.model == "l0"].iloc[0]  # (s0)
    assert shallow["baseline"] == 86 and np.isnan(shallow["2x"])  # its unpruned point, not NaN
    comparison, commands = read_ablation_spec(tmp_path / "suites.json")
    ablation = ablation_table(table, comparison, commands, tmp_path).set_index("suite")
    plain, three = ablation.loc["plain"], ablation.loc["3 layers"]
    assert plain["unpruned"] == pytest.approx(85) and three["unpruned"] == pytest.approx((86 + 79) / 2)
    # baselines 90 (sst2) and 80 (mrpc): at 3x (90 - 85 + 80 - 79) / 2 = 3; SST-2 alone 5
    assert three["avg_drop_3x"] == pytest.approx(3.0) and three["sst2_drop_3x"] == pytest.approx(5.0)
    assert plain["avg_drop_2x"] == pytest.approx(1.0) and plain["sst2_drop_2x"] == pytest.approx(2.0)
    assert np.isnan(three["avg_drop_2x"]) and np.isnan(three["sst2_drop_2x"])
    assert plain["fine_tuning_min"] == pytest.approx(15) and three["fine_tuning_min"] == pytest.approx(5)
    assert three["command"].startswith("accviz finetune --layers 3") and plain["command"] == ""
    markdown = ablation_markdown(ablation.reset_index())
    assert "| 3 layers | ACC | 1 | 82.5 | – | – | 3.00 | 4.50 | – | 5.00 | 5 min |" in markdown
    # a lever of another comparison joins when that comparison drops against the same models
    _write_sweep(tmp_path, "t0", "sst2", "accuracy", curve([91, 91, 89, 87, 85]), 900)
    _write_sweep(tmp_path, "u0", "mrpc", "f1", curve([80, 80, 80, 79, 77]), 300)
    reference = suites["comparisons"][0]["suites"]["plain"]
    suites["comparisons"] += [
        {"name": "d", "reference": "plain", "suites": {"plain": reference, "taught": {"sst2": ["t0", "t1"], "mrpc": ["u0"]}}},
        {"name": "e", "reference": "plain", "suites": {"plain": {"sst2": ["p1"]}, "other": {"sst2": ["t0"]}}},
        {"name": "f", "reference": "plain", "suites": {"plain": reference, "sst2 only": {"sst2": ["t0", "t1"]}}},
    ]  # fmt: skip
    suites["ablation"]["also"] = [{"comparison": "d", "suite": "taught"}]
    (tmp_path / "suites.json").write_text(json.dumps(suites))
    comparison, commands = read_ablation_spec(tmp_path / "suites.json")
    ablation = ablation_table(accuracy_table(tmp_path), comparison, commands, tmp_path).set_index("suite")
    assert list(ablation.index) == ["plain", "3 layers", "taught"]
    # at 3x (90 - 87 + 80 - 79) / 2 = 2; SST-2 alone 3; 15 + 5 minutes of fine-tuning
    assert ablation.loc["taught", "avg_drop_3x"] == pytest.approx(2.0)
    assert ablation.loc["taught", "sst2_drop_3x"] == pytest.approx(3.0)
    assert ablation.loc["taught", "fine_tuning_min"] == pytest.approx(20)
    assert ablation.loc["plain", "avg_drop_3x"] == plain["avg_drop_3x"]  # the borrowed suite changes no row
    for borrowed, message in (
        ({"comparison": "e", "suite": "other"}, "other reference models"),
        ({"comparison": "d", "suite": "no such suite"}, "borrows no suite"),
        ({"comparison": ["d"], "suite": "taught"}, "borrows no suite"),
        ({"comparison": "d", "suite": "plain"}, "already has"),
        ({"comparison": "f", "suite": "sst2 only"}, "other tasks or seeds"),
        ({"comparison": "d", "suite": 1}, "borrows no suite"),
        ("d", "borrows no suite"),
    ):
        suites["ablation"]["also"] = [borrowed]
        (tmp_path / "suites.json").write_text(json.dumps(suites))
        with pytest.raises(AccvizError, match=message):
            read_ablation_spec(tmp_path / "suites.json")
    suites["ablation"]["comparison"] = "no such comparison"
    (tmp_path / "suites.json").write_text(json.dumps(suites))
    with pytest.raises(AccvizError, match="names no comparison"):
        read_ablation_spec(tmp_path / "suites.json")
    # the bench reads the whole spec before it writes: a bad one leaves no table behind
    from accviz.measure.bench_accuracy import run_accuracy

    with pytest.raises(AccvizError, match="names no comparison"):
        run_accuracy(tmp_path, tmp_path / "bench", command="test", smoke=True, log=lambda *_: None)
    assert not (tmp_path / "bench").exists() or not any((tmp_path / "bench").iterdir())
    for text, message in (
        ("[1, 2]", "not a JSON object"),
        ('{"comparisons": [', "Expecting"),
        ("{}", "comparisons"),
        ('{"comparisons": [{"name": "a", "reference": "r", "suites": []}]}', "AttributeError"),
    ):
        (tmp_path / "suites.json").write_text(text)  # read once: each reader sees the same error
        with pytest.raises(AccvizError, match=message):
            run_accuracy(tmp_path, tmp_path / "bench", command="test", smoke=True, log=lambda *_: None)
        with pytest.raises(AccvizError, match=message):
            read_ablation_spec(tmp_path / "suites.json")
    assert not (tmp_path / "bench").exists() or not any((tmp_path / "bench").iterdir())


def test_the_glance_takes_each_speedups_lowest_drop_and_judges_the_goals_with_the_spread():
    from accviz.measure.ablation import glance_markdown, glance_table
    from accviz.measure.goals import FRONTIER_GOALS, goal_verdict

    nan = float("nan")

    def lever(name, drops, stds, sst2=(nan, nan), sst2_std=0.5):
        row = {"suite": name, "strategy": "acc+fuse", "seeds": 3}
        for s, d, e in zip(("1.5x", "2x", "3x", "4x"), drops, stds, strict=True):
            row[f"avg_drop_{s}"], row[f"avg_drop_std_{s}"] = d, e
        for s, d in zip(("2x", "3x"), sst2, strict=True):
            row[f"sst2_drop_{s}"], row[f"sst2_drop_std_{s}"] = d, sst2_std
        return row

    ablation = pd.DataFrame([
        lever("a", (0.2, 0.7, 5.0, 9.0), (0.6, 0.2, 1.0, 1.0), sst2=(0.1, 1.2), sst2_std=0.9),
        lever("b", (0.3, 0.5, 1.5, nan), (0.1, 0.1, 0.6, nan), sst2=(0.9, 1.2), sst2_std=0.2),
        lever("c", (nan, 8.0, 12.0, 8.5), (nan, 3.0, 1.0, 0.5)),  # a shallow model: no 1.5x point
    ])  # fmt: skip
    glance = glance_table(ablation).set_index(["scope", "speedup"])
    assert list(glance.suite) == ["a", "b", "b", "c", "a", "b"]  # SST-2 3x: a tie, the smaller spread wins
    assert (
        glance.loc[("average", "1.5x"), "verdict"] == "met on the mean, not beyond the spread"
    )  # 0.2 + 0.6 > 0.75
    assert glance.loc[("average", "2x"), "verdict"] == "met beyond the spread"  # 0.5 + 0.1 <= 0.75
    assert (
        glance.loc[("average", "3x"), "verdict"] == "met on the mean, not beyond the spread"
    )  # 1.5 <= 2 < 2.1
    assert glance.loc[("SST-2", "3x"), "verdict"] == "met beyond the spread"  # 1.2 + 0.2 <= 1.5
    assert glance.loc[("average", "4x"), "verdict"] == ""  # no goal there
    assert goal_verdict(1.0, 0.1, FRONTIER_GOALS[("average", "2x")]) == "missed by 0.25"
    assert goal_verdict(0.5, 0.25, 0.75) == "met beyond the spread"  # the boundary counts as met
    assert goal_verdict(0.5, nan, 0.75) == "met on the mean"  # one seed: no spread to be beyond
    assert (
        "| average | 3x | 1.50 ± 0.60 | b | ACC + fuse | ≤ 2: met on the mean, not beyond the spread |"
        in (glance_markdown(ablation))
    )
    empty = glance_table(ablation.assign(**{c: nan for c in ablation.columns if "drop" in c}))
    assert empty.empty and "verdict" in empty.columns  # nothing measured: no row, the same columns


def test_machine_cards_keep_the_keys_of_the_stored_cards():
    """One machine module for every card: the keys readers of the stored cards rely on stay."""
    sweep_card = json.loads(
        (REPO_ROOT / "cached_runs" / "minilm-sst2-elim-s0__sst2" / "card.json").read_text()
    )
    assert set(machine_description()) == set(sweep_card["machine"])
    assert set(library_versions()) == set(sweep_card["versions"])
    bench_card = json.loads((REPO_ROOT / "cached_runs" / "bench" / "speedup.json").read_text())
    assert set(machine_card()) == set(bench_card["machine"])
    assert machine_card()["torch"] == library_versions()["torch"] == torch.__version__
