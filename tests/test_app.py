"""AppTest: every page, with a tiny random model, fixture GLUE data and a real (tiny) sweep."""

import base64
import json
import os

import numpy as np
import pytest

from app import resources

from .conftest import REPO_ROOT

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
MAIN_SCRIPT = REPO_ROOT / "app" / "streamlit_app.py"
TIMEOUT = 120


def _page_script(name: str) -> None:
    """One page alone: AppTest runs this function's source as the script, with the page's name."""
    import importlib

    importlib.import_module(f"app.views.{name}").render()


def page_test(name: str) -> AppTest:
    """The page ``name`` (``app.views.<name>``) as its own app, not yet run. The main script's pages
    are callables, which ``AppTest.switch_page`` (file pages only) cannot select."""
    return AppTest.from_function(_page_script, args=(name,), default_timeout=TIMEOUT)


def run_page(name: str) -> AppTest:
    at = page_test(name)
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


def test_the_main_script_opens_explore_and_records_the_page_run(app_env):

    at = AppTest.from_file(str(MAIN_SCRIPT), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Explore one input"  # the default page, a callable st.Page
    assert metric(at, "Pruned")
    recorded = resources.metrics().records("page")[-1]
    assert recorded["name"] == "explore" and recorded["ok"] is True


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

    from accviz.measure.bench_accuracy import run_accuracy

    runs = tmp_path / "runs"
    shutil.copytree(app_env["runs"], runs)
    written = run_accuracy(runs, runs / "bench", command="test", smoke=True, log=lambda *_: None)
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


def test_tradeoff_shows_the_frontier_at_a_glance_and_survives_a_broken_ablation(app_env, tmp_path):
    import shutil

    import pandas as pd

    from accviz.measure.ablation import glance_table

    runs = tmp_path / "runs"
    shutil.copytree(app_env["runs"], runs)
    (runs / "bench").mkdir(exist_ok=True)
    shutil.copy(REPO_ROOT / "cached_runs" / "bench" / "ablation.csv", runs / "bench" / "ablation.csv")
    os.environ["ACCVIZ_CACHED_RUNS"] = str(runs)
    try:
        at = run_page("tradeoff")
        [shown] = [frame.value for frame in at.dataframe if "verdict" in frame.value.columns]
        expected = glance_table(pd.read_csv(runs / "bench" / "ablation.csv"))
        assert list(shown["suite"]) == list(expected["suite"]) and list(shown["verdict"]) == list(
            expected["verdict"]
        )
        assert np.allclose(shown["drop"], expected["drop"].round(2))
        (runs / "bench" / "ablation.csv").write_text("suite,strategy\nonly,two columns\n")
        at = run_page("tradeoff")
        assert not at.exception and any("ablation table cannot be read" in w.value for w in at.warning)
        header = (REPO_ROOT / "cached_runs" / "bench" / "ablation.csv").read_text().splitlines()[0]
        (runs / "bench" / "ablation.csv").write_text(header + "\n")  # no lever yet: no table, no error
        at = run_page("tradeoff")
        assert not at.exception and not [f for f in at.dataframe if "verdict" in f.value.columns]
    finally:
        os.environ["ACCVIZ_CACHED_RUNS"] = str(app_env["runs"])


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
    from accviz.method.search import SearchedProfiles, rescale_to_budget, write_searched
    from accviz.store.loading import load_model

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
    pd.DataFrame({"lever": ["plain"], "strategy": ["acc"], "seeds": [3], "unpruned": [85.0], "baseline": [85.0],
                  "drop_2x": [2.0]}).to_csv(runs / "bench" / "frontier.csv", index=False)  # fmt: skip
    os.environ["ACCVIZ_CACHED_RUNS"] = str(runs)
    try:
        at = run_page("tradeoff")
        at.slider(key="tradeoff_speedup").set_value(3.0).run()
    finally:
        os.environ["ACCVIZ_CACHED_RUNS"] = str(app_env["runs"])
    assert any("best lever **layer-drop**" in m.value for m in at.markdown)
    levers = [d.value for d in at.dataframe if "lever" in d.value.columns]
    assert levers and list(levers[0].columns) == [
        "lever",
        "strategy",
        "seeds",
        "unpruned",
        "baseline",
        "drop_2x",
    ]


def test_tradeoff_shows_the_best_suite_at_each_speedup(app_env, tmp_path):
    import shutil

    import pandas as pd

    runs = tmp_path / "runs"
    shutil.copytree(app_env["runs"], runs)
    (runs / "bench").mkdir(exist_ok=True)
    shutil.copy(REPO_ROOT / "cached_runs" / "bench" / "accuracy.csv", runs / "bench" / "accuracy.csv")
    pd.DataFrame({"comparison": ["depth"] * 2, "speedup": ["2x", "3x"], "suite": ["plain", "first 3 of 6 layers"],
                  "strategy": ["acc", "acc"], "drop": [2.0, 4.5], "drop_std": [0.3, 0.4], "seeds": [3, 3]}).to_csv(
        runs / "bench" / "accuracy_average_envelope.csv", index=False)  # fmt: skip
    os.environ["ACCVIZ_CACHED_RUNS"] = str(runs)
    try:
        at = run_page("tradeoff")
    finally:
        os.environ["ACCVIZ_CACHED_RUNS"] = str(app_env["runs"])
    assert not at.exception, [e.value for e in at.exception]
    envelopes = [d.value for d in at.dataframe if "suite" in d.value.columns]
    assert envelopes and list(envelopes[0]["suite"]) == ["plain", "first 3 of 6 layers"]
    assert any("best suite at each speedup" in m.value for m in at.markdown)


def test_fusion_is_a_choice_on_explore_and_tradeoff(app_env):
    for page, slider in (("explore", "explore_speedup"), ("tradeoff", "tradeoff_speedup")):
        at = run_page(page)
        at.selectbox(key="strategy").set_value("acc+fuse").run()
        at.slider(key=slider).set_value(3.0).run()
        assert not at.exception, [e.value for e in at.exception]
        assert float(metric(at, "Estimated speedup").rstrip("x")) >= 2.9


def test_explore_caches_no_attention_maps_and_the_head_view_computes_one(app_env):

    at = run_page("explore")
    assert metric(at, "Pruned")
    analyses = [v for k, (v, _) in resources.result_cache()._items.items() if k[0] == "analysis"]
    assert analyses and all(a.attentions == [] for a in analyses)  # the bulk of a result stays out
    at.toggle(key="explore_attention_toggle").set_value(True).run()
    at.number_input(key="explore_layer").set_value(2).run()
    assert not at.exception
    spec = figure(at, "explore_attention")
    assert "layer 2, head 1" in spec["layout"]["title"]["text"]
    rows = plotly_array(spec["data"][0]["z"])
    np.testing.assert_allclose(np.nansum(rows, axis=-1), 1.0, atol=1e-4)  # softmax rows


def test_a_visitor_who_waits_too_long_gets_a_message_and_the_server_goes_on(app_env, monkeypatch):

    from .conftest import occupy

    at = run_page("explore")
    at.selectbox(key="explore_example").set_value("(type your own)").run()
    key = [t.key for t in at.text_area][0]
    release, holder = occupy(resources.work_queue("analysis"), hold_s=30)  # another visitor's long job
    monkeypatch.setenv("ACCVIZ_QUEUE_TIMEOUT_S", "1")
    try:
        at.text_area(key=key).set_value("a text no one has analysed before , queued").run()
        assert not at.exception
        assert any("server is busy" in e.value for e in at.error), [e.value for e in at.error]
    finally:
        release.set()
        holder.join(10)
    at.text_area(key=key).set_value("a text no one has analysed before , served").run()
    assert not at.exception and metric(at, "Pruned")
    dropped = resources.metrics().records("dropped")
    assert dropped and dropped[-1]["name"] == "analysis"


def test_server_panel_shows_queues_cache_and_times(app_env, monkeypatch):
    monkeypatch.setenv("ACCVIZ_SHOW_SERVER_METRICS", "1")
    at = run_page("explore")
    at.run()  # the panel is drawn before the page's own work: the second run shows the first's
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "analysis queue: 0" in captions and "measurement queue: 0" in captions and "MiB" in captions
    assert len(at.sidebar.dataframe) == 1
    shown = at.sidebar.dataframe[0].value
    assert "job:analysis" in set(shown["what"]) and "run_s_p95" in shown.columns


def test_corpus_page_runs_the_lens_and_follows_the_slider(app_env, tmp_path, monkeypatch):
    monkeypatch.setenv("ACCVIZ_CACHE", str(tmp_path / "cache"))
    at = run_page("corpus")
    caption = " ".join(c.value for c in at.caption)
    assert "48 examples" in caption and "at 2x" in caption
    heat = figure(at, "corpus_categories")
    assert heat["data"][0]["type"] == "heatmap"
    for key in (
        "corpus_agreement",
        "corpus_position",
        "corpus_frequency",
        "corpus_words_kept",
        "corpus_words_first",
    ):
        assert figure(at, key)["data"], key
    kept_at_2 = plotly_array(heat["data"][0]["z"])
    at.slider(key="corpus_speedup").set_value(4.0).run()
    assert not at.exception
    kept_at_4 = plotly_array(figure(at, "corpus_categories")["data"][0]["z"])
    assert np.nanmean(kept_at_4) < np.nanmean(kept_at_2)  # more elimination, less kept
    assert any("at 4x" in c.value for c in at.caption)
    assert len(at.get("download_button")) == 2


def test_corpus_page_takes_an_upload_and_refuses_a_bad_one(app_env, tmp_path, monkeypatch):
    monkeypatch.setenv("ACCVIZ_CACHE", str(tmp_path / "cache"))
    at = run_page("corpus")
    rows = "".join(f"review number {i} was {'great' if i % 2 else 'dull'},{i % 2}\n" for i in range(30))
    at.file_uploader(key="corpus_upload").set_value(
        ("mine.csv", ("text,label\n" + rows).encode(), "text/csv")
    ).run()
    assert not at.exception and not at.error
    assert any("your file mine.csv (30 examples)" in c.value for c in at.caption)
    at.file_uploader(key="corpus_upload").set_value(("broken.csv", b"words\nhello\n", "text/csv")).run()
    assert not at.exception
    assert any("broken.csv: no 'text' column" in e.value for e in at.error)
    at.file_uploader(key="corpus_upload").set_value(("blob.txt", b"abc\x00def", "text/plain")).run()
    assert any("blob.txt: looks binary" in e.value for e in at.error)


def test_a_link_opens_explore_on_its_text_speedup_and_strategy(app_env):
    at = page_test("explore")
    at.query_params.update({"text": "a linked sentence , shared", "speedup": "3", "strategy": "attention"})
    at.run()
    assert not at.exception
    assert [t.value for t in at.text_area][0] == "a linked sentence , shared"
    assert at.slider(key="explore_speedup").value == 3.0
    assert at.sidebar.selectbox(key="strategy").value == "attention"
    bad = page_test("explore")
    bad.query_params.update({"speedup": "99", "strategy": "nope"})
    bad.run()
    assert not bad.exception
    warnings = " ".join(w.value for w in bad.warning)
    assert "speedup '99'" in warnings and "strategy 'nope'" in warnings
    assert bad.slider(key="explore_speedup").value == 2.0


def test_a_link_sets_every_sidebar_choice_and_the_page_writes_it_back(app_env):
    at = page_test("tradeoff")
    at.query_params.update({"speedup": "3", "strategy": "attention", "task": "sst2", "model": "tiny-model"})
    at.run()
    assert not at.exception and not at.warning
    assert at.slider(key="tradeoff_speedup").value == 3.0
    assert at.sidebar.selectbox(key="strategy").value == "attention"
    assert at.sidebar.selectbox(key="task").value == "sst2"
    assert at.sidebar.selectbox(key="model_choice").value.startswith("tiny-model")
    assert at.query_params["speedup"] == "3" and at.query_params["model"] == "tiny-model"
    at.slider(key="tradeoff_speedup").set_value(3.5).run()  # the URL follows; the slider is not pulled back
    assert at.slider(key="tradeoff_speedup").value == 3.5 and at.query_params["speedup"] == "3.5"
    at.sidebar.selectbox(key="strategy").set_value("random").run()
    assert at.query_params["strategy"] == "random" and at.slider(key="tradeoff_speedup").value == 3.5


@pytest.mark.parametrize("page", ["method", "attribution", "corpus"])
def test_every_page_honours_and_writes_the_link(app_env, page, tmp_path, monkeypatch):
    monkeypatch.setenv("ACCVIZ_CACHE", str(tmp_path))  # the corpus lens stores its result
    at = page_test(page)
    at.query_params.update({"speedup": "2.5", "strategy": "attention", "text": "a linked text , shared"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.sidebar.selectbox(key="strategy").value == "attention"
    assert at.query_params["speedup"] == "2.5" and at.query_params["task"] == "sst2"
    if page == "attribution":  # no slider of its own: the text and the shared speedup go into the link
        assert at.text_area(key="attribution_a").value == "a linked text , shared"
        assert at.query_params["text"] == "a linked text , shared"
    else:
        assert at.slider(key=f"{page}_speedup").value == 2.5


def test_a_bad_link_falls_back_with_a_notice(app_env):
    at = page_test("explore")
    at.query_params.update({"task": "imagenet", "model": "/etc/passwd", "speedup": "2.6", "strategy": "acc"})
    at.run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "task 'imagenet' is unknown" in warnings
    assert "model '/etc/passwd' is not one this server offers" in warnings
    assert "rounded to 2.5" in warnings
    assert at.sidebar.selectbox(key="task").value == "sst2"  # ACCVIZ_TASK, the default
    assert at.slider(key="explore_speedup").value == 2.5
    assert at.query_params["task"] == "sst2" and at.query_params["model"] == "tiny-model"


def test_a_long_text_is_cut_in_the_link_and_said_so(app_env):
    from app.links import MAX_LINK_TEXT

    at = page_test("explore")
    at.query_params.update({"text": "word " * 1000})
    at.run()
    assert not at.exception
    assert len(at.query_params["text"]) == MAX_LINK_TEXT
    assert any(f"first {MAX_LINK_TEXT:,} characters" in c.value for c in at.caption)


def test_explore_reads_a_512_token_input_windowed_with_downloads(app_env):
    at = page_test("explore")
    at.query_params.update({"text": " ".join(f"w{i % 50}" for i in range(600)), "speedup": "1"})
    at.run()
    assert not at.exception
    heatmap = figure(at, "explore_heatmap")
    assert plotly_array(heatmap["data"][0]["z"]).shape[1] == 128  # the tiny model reads 128 positions
    xaxis = heatmap["layout"]["xaxis"]
    assert xaxis["rangeslider"]["visible"] and xaxis["range"] == [-0.5, 63.5]
    survivors = [e for e in at.expander if e.label.startswith("Survive to the last layer")]
    assert survivors and not survivors[0].proto.expanded
    downloads = {d.proto.label for d in at.get("download_button")}
    assert {"JSON", "CSV"} <= downloads


def test_the_camera_downloads_in_the_sidebar_format(app_env):
    at = run_page("method")
    config = json.loads(at.get("plotly_chart")[0].proto.config)
    assert config["toImageButtonOptions"] == {
        "format": "png",
        "filename": "accviz-method-profile",
        "scale": 2,
    }
    at.sidebar.radio(key="figure_format").set_value("svg").run()
    config = json.loads(at.get("plotly_chart")[0].proto.config)
    assert config["toImageButtonOptions"]["format"] == "svg"


def test_a_rerun_that_carries_the_url_from_before_the_last_write_keeps_the_slider(app_env):
    """Moving the slider twice quickly: the second rerun may bring the URL as it was before the
    first one's write reached the browser. That stale query is the session's own, not a new link."""
    at = page_test("tradeoff")
    at.query_params.update({"speedup": "3"})
    at.run()
    at.slider(key="tradeoff_speedup").set_value(3.5).run()
    assert at.query_params["speedup"] == "3.5"
    at.query_params["speedup"] = "3"  # the browser had not yet shown 3.5 when the slider moved on
    at.slider(key="tradeoff_speedup").set_value(2.5).run()
    assert at.slider(key="tradeoff_speedup").value == 2.5 and at.query_params["speedup"] == "2.5"
    assert not [w for w in at.warning if "link" in w.value]
