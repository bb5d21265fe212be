"""AppTest: every page, with a tiny random model, fixture GLUE data and a real (tiny) sweep."""

import base64
import json
import os

import numpy as np
import pytest

from .conftest import REPO_ROOT

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
PAGES = REPO_ROOT / "app" / "page_scripts"
TIMEOUT = 120


def run_page(name: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def figure(at: AppTest, key: str) -> dict:
    """The plotly figure (as JSON) of the chart with this widget key."""
    for element in at.get("plotly_chart"):
        if element.proto.id.endswith(f"-{key}"):
            return json.loads(element.proto.spec)
    raise AssertionError(f"no chart {key!r} among {[e.proto.id for e in at.get('plotly_chart')]}")


def metric(at: AppTest, label: str) -> str:
    for element in at.metric:
        if element.label.startswith(label):
            return element.value
    raise AssertionError(f"no metric {label!r}: {[m.label for m in at.metric]}")


def plotly_array(value) -> np.ndarray:
    """A plotly JSON array: a plain list, or plotly's base64 typed array {dtype, bdata, shape}."""
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = [int(part) for part in str(value.get("shape", len(array))).split(",")]
        return array.reshape(shape)
    return np.array(value, dtype=float)


def eliminated_cells(spec: dict) -> int:
    """Cells of the score heatmap (trace 0) that are empty because the word-vector was eliminated."""
    return int(np.isnan(plotly_array(spec["data"][0]["z"])).sum())


def test_explore_page_reacts_to_the_slider(app_env):
    at = run_page("explore")
    at.selectbox(key="explore_example").set_value(at.selectbox(key="explore_example").options[1]).run()
    assert not at.exception
    assert metric(at, "Unpruned") and metric(at, "Pruned")
    at.slider(key="explore_speedup").set_value(1.0).run()
    none_eliminated = eliminated_cells(figure(at, "explore_heatmap"))
    estimate_low = metric(at, "Estimated speedup")
    at.slider(key="explore_speedup").set_value(3.0).run()
    assert not at.exception
    assert eliminated_cells(figure(at, "explore_heatmap")) > none_eliminated
    assert metric(at, "Estimated speedup") != estimate_low


def test_explore_bad_inputs_keep_the_page_alive(app_env):
    at = run_page("explore")
    assert metric(at, "Pruned")  # opens on the first dev example
    at.selectbox(key="explore_example").set_value("(type your own)").run()
    assert any("Enter some text" in i.value for i in at.info)  # empty box
    key = [t.key for t in at.text_area][0]
    at.text_area(key=key).set_value(" ".join(["word"] * 2000)).run()
    assert not at.exception
    assert any("truncated" in w.value for w in at.warning)
    at.text_area(key=key).set_value("😀 это пример 日本語のテキスト 🎬").run()
    assert not at.exception and metric(at, "Pruned")


def test_tradeoff_page_recomputes_estimate_latency_and_accuracy(app_env):
    at = run_page("tradeoff")
    at.slider(key="tradeoff_speedup").set_value(1.5).run()
    first = (metric(at, "Estimated speedup"), metric(at, "Measured speedup"))
    at.slider(key="tradeoff_speedup").set_value(3.0).run()
    assert not at.exception
    second = (metric(at, "Estimated speedup"), metric(at, "Measured speedup"))
    assert float(second[0].rstrip("x")) > float(first[0].rstrip("x"))
    assert metric(at, "accuracy (live")
    curve = figure(at, "tradeoff_curve")
    names = {trace.get("name", "") for trace in curve["data"]}
    assert sum("acc" in n.lower() for n in names) >= 1 and len(names) >= 5
    assert any("From cached_runs" in c.value for c in at.caption)


def test_tradeoff_survives_a_corrupt_cached_run(app_env, tmp_path):
    import shutil

    broken = tmp_path / "runs"
    shutil.copytree(app_env["runs"], broken)
    sweep_file = next(broken.glob("*/sweep.csv"))
    sweep_file.write_text("this is not,a sweep\n1,2\n")
    os.environ["ACCVIZ_CACHED_RUNS"] = str(broken)
    try:
        at = run_page("tradeoff")
        assert any("cannot be read" in w.value for w in at.warning)
        assert metric(at, "Estimated speedup")
    finally:
        os.environ["ACCVIZ_CACHED_RUNS"] = str(app_env["runs"])


def test_tradeoff_shows_the_accuracy_benchmark_it_reads(app_env, tmp_path):
    import shutil

    import pandas as pd

    from accviz import bench

    runs = tmp_path / "runs"
    shutil.copytree(app_env["runs"], runs)
    written = bench.run_accuracy(runs, runs / "bench", command="test", smoke=True, log=lambda *_: None)
    os.environ["ACCVIZ_CACHED_RUNS"] = str(runs)
    try:
        at = run_page("tradeoff")
    finally:
        os.environ["ACCVIZ_CACHED_RUNS"] = str(app_env["runs"])
    shown = [frame.value for frame in at.dataframe if "speedup_at_0.75_drop" in frame.value.columns]
    assert len(shown) == 1
    expected = pd.read_csv(runs / "bench" / "accuracy.csv")
    assert len(shown[0]) == len(written) and list(shown[0]["strategy"]) == list(expected["strategy"])
    assert np.allclose(shown[0]["1x"], expected["1x"].round(2))
    assert not [f for f in at.dataframe if "layer_ms" in f.value.columns]  # no fidelity table, no predictor


def test_tradeoff_shows_the_cached_speedup_benchmark_and_predictor(app_env, tmp_path):
    import shutil

    from accviz import bench

    runs = tmp_path / "runs"
    shutil.copytree(app_env["runs"], runs)
    bench.main(["all", "--smoke", "--threads", "1", "--cached-runs", str(runs), "--out", str(runs / "bench")])
    os.environ["ACCVIZ_CACHED_RUNS"] = str(runs)
    try:
        at = run_page("tradeoff")
    finally:
        os.environ["ACCVIZ_CACHED_RUNS"] = str(app_env["runs"])
    columns = [set(frame.value.columns) for frame in at.dataframe]
    assert any({"estimated_speedup", "measured_over_estimated"} <= c for c in columns)
    assert any({"held_out_profiles_error_percent", "layer_ms"} <= c for c in columns)


def test_attribution_page(app_env):
    at = run_page("attribution")
    assert at.get("plotly_chart")
    rho = float(metric(at, "Mean Spearman"))
    assert -1.0 <= rho <= 1.0


def test_method_page_fills_in_the_numbers(app_env):
    at = run_page("method")
    assert len(at.latex) >= 3
    at.slider(key="method_speedup").set_value(1.0).run()
    low = [m.value for m in at.markdown if "estimated speedup" in m.value]
    at.slider(key="method_speedup").set_value(3.0).run()
    high = [m.value for m in at.markdown if "estimated speedup" in m.value]
    assert low and high and low != high


def test_a_model_path_that_is_not_a_checkpoint_is_a_clear_error(app_env, tmp_path):
    at = run_page("explore")
    at.text_input(key="model_custom").set_value(str(tmp_path / "nowhere")).run()
    assert not at.exception
    assert any("Cannot use this model" in e.value for e in at.error)


def test_int8_switch_changes_the_model_not_the_estimate(app_env):
    at = run_page("tradeoff")
    at.slider(key="tradeoff_speedup").set_value(2.0).run()
    estimate_fp32 = metric(at, "Estimated speedup")
    at.toggle(key="int8").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert metric(at, "Estimated speedup") == estimate_fp32  # FLOPs do not see int8
    assert metric(at, "Measured speedup (int8")
    assert metric(at, "accuracy (live")
    explore = run_page("explore")
    explore.toggle(key="int8").set_value(True).run()
    assert not explore.exception and metric(explore, "Pruned")


def test_tradeoff_offers_the_searched_family_when_the_model_has_one(app_env):
    from accviz.loading import load_model
    from accviz.search import SearchedProfiles, rescale_to_budget, write_searched

    config = load_model(str(app_env["model"])).model.config
    lengths = [12, 15, 20]
    points = tuple((t, rescale_to_budget(config, lengths, [0.9, 0.5, 0.2], t)) for t in (1.5, 3.0))
    path = write_searched(app_env["model"], SearchedProfiles(points, {"model": "tiny", "task": "sst2"}))
    try:
        at = run_page("tradeoff")
        assert at.selectbox(key="tradeoff_family").options == ["geometric", "tilt", "searched"]
        at.selectbox(key="tradeoff_family").set_value("searched").run()
        assert not at.exception, [e.value for e in at.exception]
        at.slider(key="tradeoff_speedup").set_value(2.0).run()
        assert float(metric(at, "Estimated speedup").rstrip("x")) >= 1.98
        assert metric(at, "accuracy (live")
    finally:
        path.unlink()


def test_tradeoff_shows_the_stored_frontier_nearest_the_slider(app_env, tmp_path):
    import shutil

    import pandas as pd

    runs = tmp_path / "runs"
    shutil.copytree(app_env["runs"], runs)
    (runs / "bench").mkdir(exist_ok=True)
    pd.DataFrame({"speedup": [2.0, 3.0], "best_lever": ["plain", "layer-drop"], "value": [83.0, 80.5],
                  "drop": [2.0, 4.5]}).to_csv(runs / "bench" / "frontier_envelope.csv", index=False)  # fmt: skip
    pd.DataFrame({"lever": ["plain"], "strategy": ["acc"], "seeds": [3], "unpruned": [85.0],
                  "drop_2x": [2.0]}).to_csv(runs / "bench" / "frontier.csv", index=False)  # fmt: skip
    os.environ["ACCVIZ_CACHED_RUNS"] = str(runs)
    try:
        at = run_page("tradeoff")
        at.slider(key="tradeoff_speedup").set_value(3.0).run()
    finally:
        os.environ["ACCVIZ_CACHED_RUNS"] = str(app_env["runs"])
    assert any("best lever **layer-drop**" in m.value for m in at.markdown)


def test_fusion_is_a_choice_on_explore_and_tradeoff(app_env):
    for page, slider in (("explore", "explore_speedup"), ("tradeoff", "tradeoff_speedup")):
        at = run_page(page)
        at.selectbox(key="strategy").set_value("acc+fuse").run()
        at.slider(key=slider).set_value(3.0).run()
        assert not at.exception, [e.value for e in at.exception]
        assert float(metric(at, "Estimated speedup").rstrip("x")) >= 2.9
