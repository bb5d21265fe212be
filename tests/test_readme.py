"""The README's benchmark tables are the stored ones (cached_runs/bench), not a second copy."""

import re

import pandas as pd
import pytest

from accviz.measure.average import average_drop_markdown
from accviz.measure.frontier import envelope_markdown, frontier_markdown
from accviz.measure.report import (
    accuracy_markdown,
    fidelity_markdown,
    int8_markdown,
    int8_predictor_markdown,
    speedup_markdown,
)

from .conftest import REPO_ROOT

BENCH_DIR = REPO_ROOT / "cached_runs" / "bench"
README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("render", "name"),
    [
        (speedup_markdown, "speedup.csv"),
        (fidelity_markdown, "fidelity.csv"),
        (average_drop_markdown, "accuracy_average.csv"),
        (int8_markdown, "int8.csv"),
        (int8_predictor_markdown, "int8_predictor.csv"),
        (frontier_markdown, "frontier.csv"),
    ],
)
def test_readme_shows_the_stored_table(render, name):
    rows = render(pd.read_csv(BENCH_DIR / name)).splitlines()[2:]  # below the header and rule
    assert rows
    missing = [row for row in rows if row not in README]
    assert not missing, f"README rows differ from {name} (python -m accviz.bench report): {missing[:3]}"


def test_readme_glue_rows_come_from_the_accuracy_table():
    stored = set(accuracy_markdown(pd.read_csv(BENCH_DIR / "accuracy.csv")).splitlines())
    shown = [line for line in README.splitlines() if re.match(r"\| (mrpc|stsb|cola|rte) \(", line)]
    assert len(shown) >= 40  # four tasks, two models, five strategies
    assert [row for row in shown if row not in stored] == []


def test_readme_sst2_rows_and_the_frontier_envelope_are_the_stored_ones():
    stored = set(accuracy_markdown(pd.read_csv(BENCH_DIR / "accuracy.csv")).splitlines())
    shown = [line for line in README.splitlines() if line.startswith("| sst2 (accuracy) | minilm-sst2-")]
    assert len(shown) >= 7  # fp32 and int8 variants of two models
    assert [row for row in shown if row not in stored] == []
    envelope = envelope_markdown(pd.read_csv(BENCH_DIR / "frontier_envelope.csv")).splitlines()[2:]
    assert envelope and [row for row in envelope if row not in README] == []


def test_readme_corpus_findings_are_the_stored_summary():
    import json

    summary = json.loads((REPO_ROOT / "cached_runs/corpus/default__sst2__2x__acc/summary.json").read_text())
    kept = {row["layer"]: row for row in summary["survival_by_category"]}

    def pct(layer, category):
        return f"{100 * kept[layer][category]:.0f}%"

    for phrase in (
        f'After layer 1, {pct(1, "other word")} of the "other\n  words" are kept but {pct(1, "stop word")} of stop words '
        f"and {pct(1, 'sub-word')} of sub-word pieces",
        f"{pct(3, 'other word')} of the other\n  words against {pct(3, 'stop word')} of stop words, "
        f"{pct(3, 'punctuation')} of punctuation and {pct(3, 'sub-word')} of sub-word pieces",
        f"{pct(5, 'other word')} of other words, {pct(5, 'stop word')} of stop words",
    ):
        assert phrase in README, phrase
    flips = summary["flips"]
    broke = sum(f["effect"] == "broke" for f in flips)
    fixed = sum(f["effect"] == "fixed" for f in flips)
    assert (
        f"{len(flips)} of 872 predictions flip under pruning: {broke} flips break a correct\n  answer, {fixed} fix"
        in README
    )
    words = {w["word"]: w for w in summary["most_kept_words"]}
    assert all(
        words[w]["reached_last_layer"] == 1.0 for w in ("dull", "manages", "lacks", "worth", "amusing")
    )
    first = {w["word"]: w for w in summary["first_eliminated_words"]}
    assert all(first[w]["eliminated_first"] == 1.0 for w in ("end", "high", "back"))
    assert (
        round(first["time"]["eliminated_first"] * first["time"]["count"]) == 33
        and first["time"]["count"] == 35
    )
    agreement = {(a["pair"], a["layer"]): a["jaccard"] for a in summary["agreement"]}
    acc_power = [agreement[("acc vs attention", layer)] for layer in range(2, 6)]
    assert (
        f"{agreement[('acc vs attention', 1)]:.2f} in layer 1 and {min(acc_power):.2f}–{max(acc_power):.2f}"
        in README
    )
    acc_cls = [agreement[("acc vs cls-attention", layer)] for layer in range(1, 6)]
    assert f"{min(acc_cls):.2f}–{max(acc_cls):.2f} (layers 1–5)" in README


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
