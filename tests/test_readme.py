"""The README's benchmark tables are the stored ones (cached_runs/bench), not a second copy."""

import re

import pandas as pd
import pytest

from accviz import bench

from .conftest import REPO_ROOT

BENCH_DIR = REPO_ROOT / "cached_runs" / "bench"
README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("render", "name"),
    [
        (bench.speedup_markdown, "speedup.csv"),
        (bench.fidelity_markdown, "fidelity.csv"),
        (bench.average_drop_markdown, "accuracy_average.csv"),
        (bench.int8_markdown, "int8.csv"),
        (bench.int8_predictor_markdown, "int8_predictor.csv"),
        (bench._frontier_markdown, "frontier.csv"),
    ],
)
def test_readme_shows_the_stored_table(render, name):
    rows = render(pd.read_csv(BENCH_DIR / name)).splitlines()[2:]  # below the header and rule
    assert rows
    missing = [row for row in rows if row not in README]
    assert not missing, f"README rows differ from {name} (python -m accviz.bench report): {missing[:3]}"


def test_readme_glue_rows_come_from_the_accuracy_table():
    stored = set(bench.accuracy_markdown(pd.read_csv(BENCH_DIR / "accuracy.csv")).splitlines())
    shown = [line for line in README.splitlines() if re.match(r"\| (mrpc|stsb|cola|rte) \(", line)]
    assert len(shown) >= 40  # four tasks, two models, five strategies
    assert [row for row in shown if row not in stored] == []


def test_readme_sst2_rows_and_the_frontier_envelope_are_the_stored_ones():
    from accviz.frontier import envelope_markdown

    stored = set(bench.accuracy_markdown(pd.read_csv(BENCH_DIR / "accuracy.csv")).splitlines())
    shown = [line for line in README.splitlines() if line.startswith("| sst2 (accuracy) | minilm-sst2-")]
    assert len(shown) >= 7  # fp32 and int8 variants of two models
    assert [row for row in shown if row not in stored] == []
    envelope = envelope_markdown(pd.read_csv(BENCH_DIR / "frontier_envelope.csv")).splitlines()[2:]
    assert envelope and [row for row in envelope if row not in README] == []
