"""The README's int8, app, server and example passages are the stored benchmark cards and the
code (the tables and the results prose: tests/test_readme.py)."""

import re

import pandas as pd

from .test_readme import BENCH_DIR, FIDELITY, README, accuracy, assert_in_readme, signed, stored_json

INT8 = pd.read_csv(BENCH_DIR / "int8.csv")
INT8_PREDICTOR = pd.read_csv(BENCH_DIR / "int8_predictor.csv")


def test_readme_server_and_corpus_page_numbers_are_the_stored_ones():
    import json

    from app.bench_app import soak_summary

    def stored(name):
        return json.loads((BENCH_DIR / name).read_text())

    soak = stored("app_soak.json")
    summary = soak_summary(soak["rss_after_each_mib"], soak["warm_rss_mib"])
    for phrase in (
        f"**{summary['warm_rss_mib']:.0f} MiB** warm, peak **{summary['peak_rss_mib']:.0f} MiB**",
        f"**{summary['growth_over_warm_mib']:.0f} MiB** above warm",
        f"slope is {summary['slope_last_window_mib_per_input']:+.1f} MiB per input",
        f"their mean is {summary['growth_between_windows_mib']:.0f} MiB above",
    ):
        assert phrase in README, phrase
    for name in ("app_load_10.json", "app_load_30.json"):
        load = stored(name)
        analysis = load["server_times"]["job:analysis"]
        assert load["correct_sessions"] == load["n_sessions"] == load["distinct_expected_answers"]
        phrase = (
            f"{load['n_sessions']} of {load['n_sessions']} sessions showed exactly the engine's answer"
            f" for their own input ({load['n_sessions']} different expected pages), the server stayed up at a peak"
            f" of **{load['server_peak_rss_mib']:.0f} MiB**; server time per analysis p50"
            f" **{analysis['run_s_p50']:.2f} s**, p95 **{analysis['run_s_p95']:.2f} s**"
        )
        assert phrase in README.replace("\n", " "), phrase
    corpus = stored("app_corpus.json")
    assert f"**{corpus['task_to_figures_cold_s']:.1f} s** (goal ≤ 10 s" in README


def test_readme_app_timings_are_the_stored_ones():
    import json

    timings = json.loads((BENCH_DIR / "app_timings.json").read_text())
    for key in ("first_full_render_s", "slider_to_estimate_s", "explore_reanalysis_s"):
        value = timings[key]
        assert f"**{value:.{1 if key == 'first_full_render_s' else 2}f} s**" in README, key
    for key in ("slider_to_estimate_samples_s", "explore_reanalysis_samples_s"):
        samples = timings[key]
        assert f"samples {min(samples):.2f}–{max(samples):.2f} s" in README.replace("\n", " "), key


def test_readme_app_queue_and_corpus_page_numbers_are_the_stored_ones():
    """Under "The app": queue waits, page runs, the slowest session, two threads per job, the cache,
    the soak's saw-tooth, the queue's limit, the Corpus page."""
    import inspect

    from app.benchmarks.soak import TOOTH_MIB, soak_summary
    from app.benchmarks.soak import soak as soak_run
    from app.server import DEFAULT_CACHE_MIB, DEFAULT_QUEUE_TIMEOUT_S

    def stored(name):
        return stored_json(f"cached_runs/bench/{name}")

    phrases = []
    for name in ("app_load_10.json", "app_load_30.json"):
        load = stored(name)
        analysis, page = load["server_times"]["job:analysis"], load["server_times"]["page:explore"]
        phrases.append(
            f"p95 **{analysis['run_s_p95']:.2f} s**; wait in the queue p50 {analysis['wait_s_p50']:.1f} s, "
            f"p95 {analysis['wait_s_p95']:.1f} s; page run p50 {page['run_s_p50']:.1f} s, p95 {page['run_s_p95']:.1f} s; "
            f"the slowest browser session took {load['slowest_session_s']:.0f} s"
        )
    threads2 = stored("app_load_30_threads2.json")
    analysis = threads2["server_times"]["job:analysis"]
    assert threads2["correct_sessions"] == threads2["n_sessions"] and threads2["server_torch_threads"] == 2
    phrases.append(
        f"all {threads2['n_sessions']} correct, but p50 {analysis['run_s_p50']:.2f} s and p95 {analysis['run_s_p95']:.2f} s "
        f"per analysis, queue wait p95 {analysis['wait_s_p95']:.0f} s"
    )
    soak = stored("app_soak.json")
    summary = soak_summary(soak["rss_after_each_mib"], soak["warm_rss_mib"])
    every = inspect.signature(soak_run).parameters["session_every"].default
    phrases += [
        f"(MiniLM fine-tuned on SST-2, {soak['inputs']} distinct inputs of {soak['words_per_input']} words",
        f"a new browser session every {every}):",
        f"{summary['teeth']} falls of more than {TOOTH_MIB:.0f} MiB, a median {summary['inputs_between_teeth']:.0f} inputs "
        f"apart and {summary['tooth_height_mib']:.0f} MiB tall",
        f"The result cache, bounded at {DEFAULT_CACHE_MIB} MiB, held "
        f"{soak['server_times']['result_cache_at_end']['mib']:.0f} MiB at the end",
    ]
    load_30 = stored("app_load_30.json")["server_times"]["job:analysis"]["run_s_p95"]
    verdict = "meets" if load_30 <= 2.0 else "misses"
    phrases.append(f"**The 30-session p95 of {load_30:.2f} s {verdict} the 2 s goal.**")
    for name in ("app_load_10.json", "app_load_30.json", "app_load_30_threads2.json"):
        load = stored(name)
        assert load["problems"] == [] and load["server_alive"], name  # "none was lost"
        assert all(t["wait_s_max"] < DEFAULT_QUEUE_TIMEOUT_S for k, t in load["server_times"].items()
                   if k.startswith("job:")), name  # fmt: skip
        assert load["server_torch_threads"] == (2 if "threads2" in name else 1), name
    phrases.append(f"No session waited past the {DEFAULT_QUEUE_TIMEOUT_S:.0f} s limit, and none was lost.")
    corpus = stored("app_corpus.json")
    lens_s = float(re.search(r"computed in ([\d.]+) s", corpus["caption"]).group(1))
    examples = int(re.search(r": (\d+) examples", corpus["caption"]).group(1))
    phrases += [
        f"SST-2 dev, {examples} sentences, the default model",
        f"**{corpus['task_to_figures_cold_s']:.1f} s** (goal ≤ 10 s; the lens itself {lens_s:.1f} s), a slider step "
        f"to the figures at the new speedup {corpus['slider_step_to_figures_cold_s']:.1f} s, and back to a speedup "
        f"already computed {corpus['slider_back_to_figures_cached_s']:.2f} s",
    ]
    assert_in_readme(phrases)


def test_readme_first_start_numbers_are_the_stored_ones():
    import json

    first = json.loads((BENCH_DIR / "app_first-start.json").read_text())
    assert first["ok"] and first["not_ready_label_shown"]
    assert_in_readme(
        [
            f"**{first['first_heatmap_s']:.1f} s** after the server started",
            f"**{first['default_model_ready_s']:.0f} s** after it",
        ]
    )


def test_the_readme_python_example_runs(tmp_path, minilm_tokenizer):
    """The 'In Python:' block, run as written on a tiny checkpoint saved where it says
    ``path/to/bert-checkpoint``."""
    from .conftest import tiny_vocab_classifier

    block = re.search(r"In Python:\n\n```python\n(.*?)```", README, re.S).group(1)
    model_dir = tmp_path / "tiny"
    tiny_vocab_classifier().save_pretrained(model_dir)
    minilm_tokenizer.save_pretrained(model_dir)
    namespace: dict = {}
    exec(block.replace("path/to/bert-checkpoint", str(model_dir)), namespace)  # noqa: S102
    out = namespace["out"]
    assert out.logits.shape == (1, 2) and len(out.traces) == 3
    kept = [len(trace.kept_positions[0]) for trace in out.traces]
    assert kept[0] < namespace["batch"]["input_ids"].shape[1]  # 2x: the first layer already eliminates


def test_readme_int8_prose_is_the_stored_int8_runs():
    """Under "int8 weights × elimination": the goals, the gains, the accuracy costs and batch-16 fidelity."""

    def speedup(model, batch, length, target, variant="int8"):
        rows = INT8[
            (INT8["model"] == model)
            & (INT8["batch"] == batch)
            & (INT8["length"] == length)
            & (INT8["target"] == target)
            & (INT8["variant"] == variant)
        ]
        assert len(rows) == 1
        return rows.iloc[0]

    def span(values, digits=1, unit=""):
        return f"{min(values):.{digits}f}–{max(values):.{digits}f}{unit}"

    gain = INT8[(INT8["variant"] == "int8") & (INT8["target"] == 1)]
    bert128 = gain[(gain["model"] == "bert-base") & (gain["length"] == 128)][
        "measured_speedup_vs_fp32_unpruned"
    ]
    minilm = gain[gain["model"] == "all-MiniLM-L6-v2"]["measured_speedup_vs_fp32_unpruned"]
    fixed = INT8_PREDICTOR.pivot(index="model", columns="variant", values="layer_ms")
    b1_2x = speedup("bert-base", 1, 128, 2)["measured_speedup_vs_fp32_unpruned"]
    fp32_16 = INT8[(INT8["variant"] == "fp32") & (INT8["batch"] > 1) & (INT8["target"].between(1.5, 4))]
    minilm256 = fp32_16[(fp32_16["model"] == "all-MiniLM-L6-v2") & (fp32_16["length"] == 256)][
        "measured_over_estimated"
    ]
    bert128_16 = fp32_16[
        (fp32_16["model"] == "bert-base") & (fp32_16["length"] == 128) & (fp32_16["target"] >= 3)
    ]["measured_over_estimated"]
    fidelity128 = FIDELITY[
        (FIDELITY["model"] == "bert-base")
        & (FIDELITY["length"] == 128)
        & (FIDELITY["batch_size"] == 16)
        & (FIDELITY["target_speedup"].isin([3, 4]))
    ]["measured_over_estimated"]
    met = f"{(fp32_16['measured_over_estimated'] >= 0.9).sum()} of {len(fp32_16)}"
    assert set(INT8["repeats"]) == {5}
    assert_in_readme(
        [
            "interleaved run (5 rounds)",
            f"batch 1 **{b1_2x:.2f}x** at target 2x (goal ≥ 3.5x) and "
            f"**{speedup('bert-base', 1, 128, 3)['measured_speedup_vs_fp32_unpruned']:.2f}x** at 3x (goal ≥ 4.5x); "
            f"batch 16 **{speedup('bert-base', 16, 128, 3)['measured_speedup_vs_fp32_unpruned']:.2f}x** at 3x (goal ≥ 6.0x)",
            f"int8 alone gives {span(bert128, unit='x')} at 128 tokens",
            f"MiniLM gains less ({span(minilm, unit='x')} from int8",
            f"int8 cuts the fixed per-layer cost {span(fixed['fp32'] / fixed['int8'], unit='x')}",
            f"measured / estimated is {span(minilm256, 2)} for MiniLM at 256 tokens",
            f"**the ≥ 0.9 goal at batch 16 is met in {met} runs only**",
            f"BERT-base at 128 tokens lower ({span(bert128_16, 2)} at 3–4x) than the fidelity table above "
            f"({span(fidelity128, 2)})",
            f"fp32 fidelity is {span(minilm256, 2)} for MiniLM at 256 tokens and ≥ 0.9 in only {met} runs",
            f"({b1_2x:.1f}x at target 2x for BERT-base at batch 1)",
        ]
    )
    sst2 = "sst2"

    def costs(fp32, int8):
        return " / ".join(
            signed(accuracy(fp32, "acc", c, task=sst2) - accuracy(int8, "acc", c, task=sst2))
            for c in ("1x", "2x", "3x", "4x")
        )

    per_tensor = [
        accuracy(fp32, "acc", c, task=sst2) - accuracy(f"{fp32}-int8-per-tensor", "acc", c, task=sst2)
        for fp32 in ("minilm-sst2-plain-s0", "minilm-sst2-elim-s0")
        for c in ("1x", "2x", "3x", "4x")
    ]
    log = (BENCH_DIR / "int8_variants_on_train.log").read_text(encoding="utf-8")
    train_sentences = int(re.search(r"compared on ([\d,]+) SST-2 TRAIN", log).group(1).replace(",", ""))
    assert_in_readme(
        [
            f"costs {costs('minilm-sst2-plain-s0', 'minilm-sst2-plain-s0-int8')} points on the plain model at "
            f"1 / 2 / 3 / 4x and {costs('minilm-sst2-elim-s0', 'minilm-sst2-elim-s0-int8')} on the "
            f"elimination-trained one (negative: int8 scored higher); per-tensor costs {span(per_tensor)} points",
            f"picked on {train_sentences:,} *train* sentences",
            f"gives {costs('minilm-sst2-plain-s0', 'minilm-sst2-plain-s0-int8-qk-fp32')} on the plain model",
        ]
    )


def test_readme_benchmark_machine_is_the_cards_machine():
    # the timings only: frontier.csv is a table of stored sweeps, built wherever `bench frontier` last ran
    cards = [stored_json(f"cached_runs/bench/{name}.json") for name in ("speedup", "fidelity", "int8")]
    machines = {
        (
            c["machine"]["cores"],
            c["machine"]["cpu_model"],
            c["machine"]["torch"],
            c["machine"]["torch_threads"],
        )
        for c in cards
    }
    dates = {c["created"][:10] for c in cards}  # the timings' day
    assert len(machines) == 1 and len(dates) == 1
    ((cores, cpu, torch, threads),) = machines
    assert_in_readme(
        [f"the {cores}-core {cpu} VM", f"torch {torch}, {threads} torch threads", f"running, {dates.pop()}."]
    )
