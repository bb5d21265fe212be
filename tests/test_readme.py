"""The README's benchmark tables are the stored ones (cached_runs/bench), not a second copy."""

import re

import pandas as pd
import pytest

from accviz.data.tasks import TASKS
from accviz.measure.ablation import ablation_markdown, glance_markdown
from accviz.measure.average import average_drop_markdown, average_envelope_markdown, read_comparisons
from accviz.measure.frontier import envelope_markdown, frontier_markdown
from accviz.measure.goals import goal_verdict
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
        (average_envelope_markdown, "accuracy_average_envelope.csv"),
        (ablation_markdown, "ablation.csv"),
        (glance_markdown, "ablation.csv"),
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


# --- The prose and the tables that no renderer prints: every number rebuilt from its stored file ---

ACCURACY = pd.read_csv(BENCH_DIR / "accuracy.csv")
AVERAGE = pd.read_csv(BENCH_DIR / "accuracy_average.csv")
FRONTIER = pd.read_csv(BENCH_DIR / "frontier.csv").set_index("lever")
FIDELITY = pd.read_csv(BENCH_DIR / "fidelity.csv")


def flat(text: str) -> str:
    """Whitespace folded, so a phrase matches across the README's line breaks."""
    return " ".join(text.split())


FLAT_README = flat(README)


def assert_in_readme(phrases):
    missing = [phrase for phrase in phrases if flat(phrase) not in FLAT_README]
    assert not missing, f"README does not say (stored values): {missing}"


def signed(value: float, digits: int = 1) -> str:
    """A difference as the README's prose prints it: a real minus sign."""
    return f"{value:.{digits}f}".replace("-", "−")


def stored_json(path: str) -> dict:
    import json

    return json.loads((REPO_ROOT / path).read_text(encoding="utf-8"))


def ahead_within_spread(better: float, worse: float, better_std: float, worse_std: float) -> bool:
    """``better``'s drop is below ``worse``'s, by less than the two standard deviations together."""
    return 0 < worse - better < better_std + worse_std


def standing(new: dict, old: dict, new_spread: dict, old_spread: dict) -> str:
    """How ``new``'s drops stand against ``old``'s, in the README's words: where each is ahead on the
    mean, and where the gap exceeds the two spreads together (dicts keyed by speedup, e.g. "2x")."""

    def at(speedups):
        return speedups[0] if len(speedups) == 1 else ", ".join(speedups[:-1]) + " and " + speedups[-1]

    ahead = [s for s in new if new[s] < old[s]]
    behind = [s for s in new if new[s] > old[s]]
    beyond = [s for s in new if abs(new[s] - old[s]) >= new_spread[s] + old_spread[s]]
    words = [f"ahead on the mean at {at(ahead)}"] if ahead else []
    if behind:
        words.append(f"behind at {at(behind)}" if ahead else f"behind on the mean at {at(behind)}")
    if not beyond:
        words.append("within the spread everywhere")
    else:
        elsewhere = "" if len(beyond) == len(new) else ", within it elsewhere"
        words.append(f"beyond the spread at {at(beyond)}{elsewhere}")
    return ", ".join(words)


def models_metric(models, task: str, column: str):
    """A task's primary metric in one accuracy.csv column (acc+fuse), one value per model, in order."""
    rows = ACCURACY[
        ACCURACY.model.isin(list(models))
        & (ACCURACY.task == task)
        & (ACCURACY.strategy == "acc+fuse")
        & (ACCURACY.metric == TASKS[task].primary_metric)
    ]
    assert len(rows) == len(models), (task, models)
    return rows.set_index("model").loc[list(models), column].to_numpy(dtype=float)


def searched_task_mean(task: str, family: str, column: str) -> float:
    """A task's primary metric in one accuracy.csv column, mean of the three seeds' searched sweeps
    (``minilm-{task}-{family}-s{seed}-searched``, acc+fuse)."""
    return float(
        models_metric([f"minilm-{task}-{family}-s{s}-searched" for s in range(3)], task, column).mean()
    )


def sweep(name: str) -> pd.DataFrame:
    return pd.read_csv(REPO_ROOT / "cached_runs" / name / "sweep.csv")


def accuracy(
    model: str, strategy: str, column: str, metric: str | None = None, task: str | None = None
) -> float:
    """One cell of cached_runs/bench/accuracy.csv (column: '1x', '2x', ..., or another column)."""
    rows = ACCURACY[(ACCURACY["model"] == model) & (ACCURACY["strategy"] == strategy)]
    if metric is not None:
        rows = rows[rows["metric"] == metric]
    if task is not None:
        rows = rows[rows["task"] == task]
    assert len(rows) == 1, (model, strategy, metric, task)
    return float(rows[column].iloc[0])


def average(comparison: str, suite: str, strategy: str, column: str) -> float:
    rows = AVERAGE[
        (AVERAGE["comparison"] == comparison)
        & (AVERAGE["suite"] == suite)
        & (AVERAGE["strategy"] == strategy)
    ]
    assert len(rows) == 1, (comparison, suite, strategy)
    return float(rows[column].iloc[0])


def drop_pm(comparison: str, suite: str, speedup: str) -> str:
    """A suite's ACC + fuse average drop at ``speedup`` ("2x") with its deviation, as the README prints it."""
    drop, std = (average(comparison, suite, "acc+fuse", f"{c}_{speedup}") for c in ("drop", "drop_std"))
    return f"{drop:.2f} ± {std:.2f}"


def drops_at(comparison: str, suite: str, column: str = "drop", speedups=("2x", "3x", "4x")) -> dict:
    """{speedup: a suite's ACC + fuse ``column`` ("drop" or "drop_std")}, as ``standing`` takes them."""
    return {s: average(comparison, suite, "acc+fuse", f"{column}_{s}") for s in speedups}


def versus(comparison: str, new: str, old: str, speedups=("2x", "3x", "4x")) -> str:
    """``standing`` of suite ``new`` against suite ``old`` (ACC + fuse) in one comparison."""
    return standing(
        *(drops_at(comparison, suite, "drop", speedups) for suite in (new, old)),
        *(drops_at(comparison, suite, "drop_std", speedups) for suite in (new, old)),
    )


def reach(comparison: str, suite: str) -> str:
    """The speedup up to which a suite's ACC + fuse average drop stays <= 0.75, as the README prints it."""
    return f"{average(comparison, suite, 'acc+fuse', 'speedup_at_0.75_average_drop'):.2f}x"


def comparison_suites(comparison: str) -> dict:
    """{suite: {task: models}} of one ``suites.json`` comparison."""
    return {c.name: c for c in read_comparisons(REPO_ROOT / "cached_runs" / "suites.json")}[comparison].suites


CHOICE = "the training range chosen per task on a held-out train slice (session 15)"
CHOSEN = "the tuned chain at the training range chosen per task on a held-out train slice"
TASK_NAMES = {"sst2": "SST-2", "mrpc": "MRPC", "stsb": "STS-B", "cola": "CoLA"}


verdict = goal_verdict  # a goal in the README's words (the glance table's too)


def test_readme_frontier_at_a_glance_is_the_stored_ablation():
    """Under "The frontier at a glance": the table (checked with the other stored tables), how many
    rows it picks from, and the equal-budget lows, from the envelope table."""
    envelope = pd.read_csv(BENCH_DIR / "accuracy_average_envelope.csv").set_index(["comparison", "speedup"])
    equal = envelope.loc["equal budget: the plain models one more epoch too (sessions 9-10)"]
    lows = [f"{equal.loc[s, 'drop']:.2f} ± {equal.loc[s, 'drop_std']:.2f}" for s in ("2x", "3x")]
    sst2_equal = "equal budget: tuned with the separate teacher, against it"  # SST-2's frontier lever
    drop, spread = FRONTIER.loc[sst2_equal, "drop_2x"], FRONTIER.loc[sst2_equal, "spread_2x"] / 2
    assert_in_readme([
        f"The lowest of {len(pd.read_csv(BENCH_DIR / 'ablation.csv'))} rows is picked on the dev sets it reports",
        f"the lowest average drop is {lows[0]} at 2x and {lows[1]} at 3x (the \"equal budget\" rows",
        f"and SST-2's at 2x is {round(drop, 2) + 0.0:.2f} ± {spread:.2f}, "
        f"{verdict(drop, spread, 0.75).replace(', not beyond the spread', ' only')} (",
    ])  # fmt: skip


def listed(names) -> str:
    return (
        "no task"
        if not names
        else names[0]
        if len(names) == 1
        else ", ".join(names[:-1]) + " and " + names[-1]
    )


def lowest_drop(column: str) -> str:
    """The ablation row with the lowest value of ``column``, in the README's words."""
    table = pd.read_csv(BENCH_DIR / "ablation.csv")
    suite = table.loc[table[column].idxmin(), "suite"]
    return {
        CHOSEN: "the chosen ranges",
        "fusion-trained, then one epoch at its searched profiles": "the chain at 1-4x",
        "fusion-trained with the separate teacher, then one epoch at its searched profiles with it": "the separate teacher's chain",
        "the tuned chain without a teacher, trained at random:1-3 (both stages)": "the chain at 1-3x",
        "the tuned chain at random:1-3, searched again after its second stage": "the chain at 1-3x searched again",
        "the tuned chain with the separate teacher, searched again after its second stage": (
            "the separate teacher's chain searched again"
        ),
    }.get(suite, suite)


SST2_RESULTS_MODELS = {"A": "minilm-sst2-plain", "B": "minilm-sst2-elim-geo"}


def test_readme_sst2_results_table_is_the_stored_accuracy():
    """Under "Results: SST-2": checkpoints A and B, every strategy, from accuracy.csv (the sweeps)."""
    rows = [line for line in README.splitlines() if re.match(r"\| [AB][ :|]", line)]
    assert len(rows) == 10  # two checkpoints, five strategies
    seen = set()
    for line in rows:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        model = SST2_RESULTS_MODELS[cells[0][0]]
        strategy = cells[1].replace("**", "").split()[0]
        seen.add((model, strategy))
        others = ACCURACY[(ACCURACY["model"] == model) & (ACCURACY["task"] == "sst2")]
        expected = []
        for column, cell in zip(("1x", "1.5x", "2x", "3x", "4x"), cells[2:7], strict=True):
            value = accuracy(model, strategy, column, task="sst2")
            best = value > others[others["strategy"] != strategy][column].max()
            expected.append(f"**{value:.1f}**" if strategy == "acc" and best else f"{value:.1f}")
            assert cell.replace("**", "") == f"{value:.1f}", (line, column)
        reach = accuracy(model, strategy, "speedup_at_0.75_drop", task="sst2")
        lower = bool(
            ACCURACY[(ACCURACY["model"] == model) & (ACCURACY["strategy"] == strategy)][
                "reachable_is_lower_bound"
            ].iloc[0]
        )
        expected.append(f"{'≥ ' if lower else ''}{reach:.2f}x")
        assert cells[2:] == expected, line
    assert seen == {
        (m, s)
        for m in SST2_RESULTS_MODELS.values()
        for s in ("acc", "attention", "mean-attention", "random", "truncation")
    }


def test_readme_sst2_results_prose_is_the_stored_accuracy():
    plain, elim = SST2_RESULTS_MODELS["A"], SST2_RESULTS_MODELS["B"]

    def a(model, column, strategy="acc"):
        return accuracy(model, strategy, column, task="sst2")

    assert_in_readme(
        [
            f"A+acc {a(plain, '2x'):.1f} vs 79.2 at 2x and {a(plain, '3x'):.1f} vs 63.6 at 3x; "
            f"B+acc {a(elim, '2x'):.1f} vs 79.7 at 2x and {a(elim, '3x'):.1f} vs 63.1 at 3x",
            f"Against the honest baseline (A, {a(plain, '1x'):.1f}) B loses {a(plain, '1x') - a(elim, '2x'):.1f} points "
            f"at 2x (goal ≤ 0.75) and {a(plain, '1x') - a(elim, '3x'):.1f} at 3x (goal ≤ 1.5)",
            f"(+{a(elim, '2x') - a(plain, '2x'):.1f} at 2x)",
        ]
    )
    # "ACC ranks above PoWER-BERT's and LTP's scores at 1.5x–3x on both checkpoints"
    for model in (plain, elim):
        for column in ("1.5x", "2x", "3x"):
            assert a(model, column) > max(a(model, column, "attention"), a(model, column, "mean-attention"))
    # the default model's sweeps (rotten_tomatoes on 1,000 dev snippets, and SST-2 dev)
    curves = {
        s: " / ".join(
            f"{accuracy('default', s, c, task='rotten_tomatoes'):.1f}"
            for c in ("1x", "1.5x", "2x", "3x", "4x")
        )
        for s in ("acc", "attention", "random", "truncation")
    }
    n_default = stored_json("cached_runs/default__rotten_tomatoes/card.json")["n_examples"]
    assert_in_readme(
        [
            f"On {n_default:,} of the embedded dev snippets",
            f"ACC {curves['acc']} at 1 / 1.5 / 2 / 3 / 4x (attention {curves['attention']}, "
            f"random {curves['random']}, truncation {curves['truncation']})",
            f"(`cached_runs/default__sst2`, {accuracy('default', 'acc', '1x', task='sst2'):.1f} unpruned)",
        ]
    )


def test_readme_padded_baseline_is_the_stored_sweep():
    """6.1x / 10.6x against SST-2 padded to 128 tokens: estimated_speedup_padded128 of the A and B sweeps."""
    padded = {}
    for name in ("minilm-sst2-plain__sst2", "minilm-sst2-elim-geo__sst2"):
        acc = sweep(name).query("strategy == 'acc'").set_index("target_speedup")
        padded[name] = (
            acc.loc[1.0, "estimated_speedup_padded128"],
            acc.loc[2.0, "estimated_speedup_padded128"],
        )
        length = acc.loc[1.0, "mean_kept_last"]  # nothing eliminated at 1x: the mean real length
    at1, at2 = padded["minilm-sst2-plain__sst2"]
    assert [f"{x:.1f}" for x in padded["minilm-sst2-elim-geo__sst2"]] == [f"{at1:.1f}", f"{at2:.1f}"]
    assert_in_readme(
        [
            f"the same runs are {at1:.1f}x faster at speedup 1.0 (dynamic padding alone) and {at2:.1f}x at 2x",
            f"| {at1:.1f}x at speedup 1.0 (padding alone), {at2:.1f}x at 2x |",
            f"padding SST-2's {length:.0f}-token sentences to 128",
        ]
    )


def test_readme_frontier_prose_is_the_stored_frontier():
    """Under "The frontier", its conclusions, the goals and the Limitations: frontier.csv (and three sweeps)."""
    plain, power, cls = "plain (reference)", "plain, PoWER-BERT's score", "plain, cls-attention (EViT)"
    plain_fuse, elim = (
        "plain, fusion at evaluation only",
        "elimination-trained (random:1-4, in-place distillation)",
    )
    elim_fuse = "elimination-trained, fusion at evaluation only"
    teacher, teacher_fuse = (
        "separate teacher (the plain model) instead of the in-place target",
        "separate teacher, fusion at evaluation",
    )
    fused, searched = "fusion-trained (--strategy acc+fuse)", "searched profile (elimination-trained)"
    teacher_fused = "fusion-trained with the separate teacher"
    plain_searched = "searched profile (plain, no retraining)"
    fused_searched = "fusion-trained, searched profile with fusion"
    tuned = "fusion-trained, one more epoch at its searched profiles"
    teacher_searched = "fusion-trained with the separate teacher, searched profile with fusion"
    teacher_tuned = (
        "fusion-trained with the separate teacher, one more epoch at its searched profiles with it"
    )
    equal_teacher_tuned = "equal budget: tuned with the separate teacher, against it"
    hidden = "fusion-trained with the separate teacher and its [CLS] vector"
    hidden_fused, hidden_searched, hidden_tuned = (
        f"{hidden} (MSE, weight 1)",
        f"{hidden}, searched profile with fusion",
        f"{hidden}, one more epoch at its searched profiles with both",
    )
    equal_hidden_tuned = "equal budget: tuned with the teacher and its [CLS] vector, against it"
    equal_plain = "equal budget: plain, one more epoch"
    equal_tuned = "equal budget: tuned at its searched profiles, against it"
    long_plain, long_plain_fuse, long_fused = (
        "long budget (67k, 2 epochs): plain",
        "long budget: plain, fusion at evaluation",
        "long budget: fusion-trained",
    )
    drop3, drop2 = "layer-drop: first 3 of 6 layers", "layer-drop: first 2 of 6 layers"
    drop4, drop4_fuse = "layer-drop: first 4 of 6 layers", "layer-drop 4 layers, fusion at evaluation"
    drop3_fuse = "layer-drop 3 layers, fusion at evaluation"

    def d(lever, s, digits=2):  # a rounded -0.00 prints as 0.00, as the tables do
        return f"{round(FRONTIER.loc[lever, f'drop_{s}x'], digits) + 0.0:.{digits}f}"

    def pm(lever, s):
        return f"{d(lever, s)} ± {FRONTIER.loc[lever, f'spread_{s}x'] / 2:.2f}"

    def goal(lever):  # SST-2 <= 0.75 at 2x, with the frontier's spread (half the seeds' range)
        return verdict(FRONTIER.loc[lever, "drop_2x"], FRONTIER.loc[lever, "spread_2x"] / 2, 0.75)

    baseline = FRONTIER.loc[plain, "baseline"]
    seeds = [
        sweep(f"minilm-sst2-plain-s{i}__sst2")
        .query("strategy == 'acc' and target_speedup == 1")["value"]
        .iloc[0]
        for i in range(3)
    ]
    three = (
        sweep("minilm3-sst2-plain-s0__sst2").query("strategy == 'acc'").set_index("target_speedup")["value"]
    )
    envelope = pd.read_csv(BENCH_DIR / "frontier_envelope.csv").set_index("speedup")
    long_one, long_chain = (
        "long budget, one epoch: fusion-trained (66k)",
        "long budget: the tuned chain (66k, then 33k at its searched profiles)",
    )
    assert envelope.loc[2, "best_lever"] == long_chain and envelope.loc[3, "best_lever"] == long_fused
    lowest = {s: FRONTIER[f"drop_{s}x"].idxmin() for s in (2, 3, 4)}  # the goals: the smallest drop
    assert lowest == {2: teacher_tuned, 3: tuned, 4: long_fused}
    assert int(FRONTIER.loc[equal_tuned, "seeds"]) == int(FRONTIER.loc[equal_plain, "seeds"]) == 3
    assert int(FRONTIER.loc[teacher_tuned, "seeds"]) == int(FRONTIER.loc[equal_teacher_tuned, "seeds"]) == 3
    # the teacher: "ahead on the mean, at the edge of the spread at 2x" (within the two half-ranges by less
    # than 0.1 point) "and within it at 3x", with fusion "beyond the spread at 2x, within it at 3x", "behind the searched profile"

    def gap(a, b, s):  # how far a's drop is below b's, less both half-ranges
        spread = (FRONTIER.loc[a, f"spread_{s}x"] + FRONTIER.loc[b, f"spread_{s}x"]) / 2
        return FRONTIER.loc[b, f"drop_{s}x"] - FRONTIER.loc[a, f"drop_{s}x"] - spread

    def level(a, b, s):  # neither is ahead of the other by more than both half-ranges
        return gap(a, b, s) < 0 and gap(b, a, s) < 0

    assert int(FRONTIER.loc[teacher, "seeds"]) == 3
    assert -0.1 < gap(teacher, elim, 2) < 0 and gap(teacher, elim, 3) < 0
    assert gap(teacher_fuse, elim_fuse, 2) > 0 > gap(teacher_fuse, elim_fuse, 3)
    assert level(teacher_fuse, searched, 2)
    assert FRONTIER.loc[tuned, "drop_2x"] < FRONTIER.loc[teacher_fuse, "drop_2x"]
    assert int(FRONTIER.loc[teacher_fused, "seeds"]) == 3  # "no gain beyond the spread" over fusion-trained
    assert all(gap(teacher_fused, fused, s) < 0 for s in (2, 3, 4))
    # the tuned chain with the teacher: "ahead at 2x on the mean but within the spread, level at 3x"; its
    # search alone: "the smallest 2x drop of every lever without an extra epoch", within the spread of
    # the searched elimination-trained models
    assert (
        FRONTIER.loc[teacher_tuned, "drop_2x"] < FRONTIER.loc[tuned, "drop_2x"]
        and gap(teacher_tuned, tuned, 2) < 0
    )
    assert d(teacher_tuned, 3) == d(tuned, 3)
    narrow, equal_narrow = (
        "the tuned chain without a teacher, trained at random:1-3 (both stages)",
        "equal budget: the chain trained at random:1-3, against it",
    )
    one_epoch = FRONTIER.drop(index=[tuned, teacher_tuned, hidden_tuned, narrow])
    one_epoch = one_epoch[one_epoch["reference"] == plain]
    assert one_epoch["drop_2x"].idxmin() == teacher_searched and gap(teacher_searched, searched, 2) < 0
    two_epochs = [
        tuned,
        teacher_tuned,
        hidden_tuned,
        narrow,
        equal_tuned,
        equal_teacher_tuned,
        equal_hidden_tuned,
        equal_narrow,
    ]
    others = FRONTIER.drop(index=[*two_epochs, equal_plain])
    others = others[others["reference"] == plain]
    # "At 2x the lever is still ahead of every lever of the one-epoch reference but its two teacher twins and
    # the chain trained at random:1-3"
    # (against a stronger reference); "at 3x it falls back to the fusion-trained models' level": within
    # both spreads of them
    assert (
        FRONTIER.loc[teacher_tuned, "drop_2x"]
        < FRONTIER.loc[equal_tuned, "drop_2x"]
        < others["drop_2x"].min()
    )
    assert FRONTIER.loc[hidden_tuned, "drop_2x"] < FRONTIER.loc[equal_tuned, "drop_2x"]
    assert FRONTIER.loc[narrow, "drop_2x"] < FRONTIER.loc[equal_tuned, "drop_2x"]
    assert level(equal_tuned, fused, 3)
    # "level at 3x": the long budget's fusion-trained model and the tuned models print the same drop
    assert d(tuned, 3) == d(long_fused, 3)
    # "the best 16k lever at 3x, and at 1.5x, 2x and 4x until variants of the same chain were run (below: at
    # 1.5x trained at random:1-3, at 2x with a separate teacher, at 4x with its [CLS] vector too)"
    for s, lever in ((1.5, narrow), (2, teacher_tuned), (3, tuned), (4, hidden_tuned)):
        assert FRONTIER.loc[FRONTIER["reference"] == plain, f"drop_{s:g}x"].idxmin() == lever, s
    # the [CLS] vector: "Level everywhere: each difference is within the seeds' spread"; its 4x "within the
    # spread of the tuned models without a teacher"
    assert all(
        int(FRONTIER.loc[lever, "seeds"]) == 3 for lever in (hidden_fused, hidden_searched, hidden_tuned)
    )
    for with_it, without, speedups in (
        (hidden_fused, teacher_fused, (2, 3, 4)),
        (hidden_searched, teacher_searched, (2, 3)),
        (hidden_tuned, teacher_tuned, (2, 3, 4)),
    ):
        assert all(level(with_it, without, s) for s in speedups), with_it
    assert level(hidden_tuned, tuned, 4)
    # "still behind the searched elimination-trained models", "no gain where fusion-trained models are best"
    assert FRONTIER.loc[fused_searched, "drop_2x"] > FRONTIER.loc[searched, "drop_2x"]
    assert FRONTIER.loc[fused_searched, "drop_3x"] > FRONTIER.loc[fused, "drop_3x"]
    # the long budget's tuned chain: "gains beyond the spread at 2x and 4x and nothing at 3x, where it is
    # behind on the mean"; "the highest 2x accuracy measured"; drops "larger than the 16k chain's", and at 3x and
    # 4x than the one-seed fusion-trained model's
    assert int(FRONTIER.loc[long_chain, "seeds"]) == int(FRONTIER.loc[long_one, "seeds"]) == 3
    assert gap(long_chain, long_one, 2) > 0 and gap(long_chain, long_one, 4) > 0
    assert FRONTIER.loc[long_chain, "drop_3x"] > FRONTIER.loc[long_one, "drop_3x"]
    assert level(long_chain, long_one, 3)
    assert all(FRONTIER.loc[long_chain, f"drop_{s}x"] > FRONTIER.loc[tuned, f"drop_{s}x"] for s in (2, 3))
    assert all(
        FRONTIER.loc[long_chain, f"drop_{s}x"] > FRONTIER.loc[long_fused, f"drop_{s}x"] for s in (3, 4)
    )
    # "The SST-2 goal at 3x is no closer": behind the 16k chain at 3x (above), whose drop is beyond the goal
    assert FRONTIER.loc[tuned, "drop_3x"] > 1.5
    assert FRONTIER.loc[long_chain, "reference"] == long_plain and int(FRONTIER.loc[long_plain, "seeds"]) == 1
    assert_in_readme(
        [
            f"plain model (one seed, {FRONTIER.loc[long_plain, 'unpruned']:.2f}). It loses **{pm(long_chain, 2)} at "
            f"2x**, {pm(long_chain, 3)} at 3x and {pm(long_chain, 4)}",
            f"at 4x; its first stage alone, at the geometric profiles, {pm(long_one, 2)}, {pm(long_one, 3)} and "
            f"{pm(long_one, 4).replace(' ± ', ' ±' + chr(10) + '  ')}.",
            f"Its {FRONTIER.loc[long_chain, 'value_2x']:.1f} at 2x is the highest 2x accuracy measured",
            f"than the 16k chain's ({pm(tuned, 2)} at 2x, {pm(tuned, 3)} at 3x), and at 3x\n  and 4x than the long "
            f"budget's one-seed fusion-trained model ({d(long_fused, 3)} and {d(long_fused, 4)})",
        ]
    )
    # the long budget's "drops do not shrink"
    assert all(FRONTIER.loc[long_plain, f"drop_{s}x"] >= FRONTIER.loc[plain, f"drop_{s}x"] for s in (2, 3, 4))
    long = FRONTIER.loc[long_plain]
    sixteen_k = FRONTIER[FRONTIER["reference"] == plain]
    envelope_16k_2x = sixteen_k["value_2x"].max()

    def walls(lever):
        return f"{FRONTIER.loc[lever, 'train_wall_s'] / 60:.0f} min"

    def v(lever, s):
        return f"{FRONTIER.loc[lever, f'value_{s}x']:.1f}"

    layer4, layer3, layer2 = FRONTIER.loc[drop4], FRONTIER.loc[drop3], FRONTIER.loc[drop2]
    # "depth is within the spread everywhere": each gap to the elimination lever is below both spreads
    for depth, lever, s in ((drop4, searched, 2), (drop4, fused, 3), (drop3, fused, 4)):
        assert level(depth, lever, s), (depth, s)
    # "ahead of 4 layers beyond the spread at 2x and 3x"
    for s in (2, 3):
        depth = min((drop4, drop4_fuse), key=lambda lever: FRONTIER.loc[lever, f"drop_{s}x"])
        assert gap(tuned, depth, s) > 0, s
    assert_in_readme(
        [
            f"accuracy, **{baseline:.2f}**, the mean of its three seeds ({' / '.join(f'{s:.2f}' for s in seeds)}: "
            f"one seed moves the unpruned accuracy by {FRONTIER.loc[plain, 'unpruned_spread']:.1f} points)",
            f"at 2x ({pm(plain, 2)} against {pm(power, 2)}) and 3x ({d(plain, 3)} against {d(power, 3)})",
            f"far worse** everywhere ({d(cls, 2)} at 2x)",
            f"4x goes from {d(plain, 4, 1)} to {d(plain_fuse, 4, 1)} (plain) and from {d(elim, 4, 1)} to "
            f"{d(elim_fuse, 4, 1)} (elimination-trained)",
            f"moves it further: {pm(fused, 3)} at 3x and {pm(fused, 4)} at 4x",
            f"against {pm(elim_fuse, 3)} and {pm(elim_fuse, 4)} for fusion on the elimination-trained seeds); "
            f"at 2x it gives {pm(fused, 2)}",
            f"gains at every speedup: {d(elim, 2)} / {d(elim, 3)} / {d(elim, 4, 1)} against "
            f"{d(plain, 2)} / {d(plain, 3)} / {d(plain, 4, 1)} at 2 / 3 / 4x",
            f"{pm(searched, 1.5)} at 1.5x, **{pm(searched, 2)} at 2x** (geometric: {pm(elim, 2)}); it is worse at 3x "
            f"({d(searched, 3)}) and better at 4x ({d(searched, 4, 1)})",
            f"search gives {pm(fused_searched, 2)} at 2x against their geometric profile's {pm(fused, 2)}, within the "
            f"spread, still behind the searched elimination-trained models, and {pm(fused_searched, 3)} at 3x against "
            f"{pm(fused, 3)}: no gain where fusion-trained models are best",
            f"the search gains nothing at 2x ({d(plain_searched, 2)} against {d(plain, 2)}) and much at 4x "
            f"({d(plain_searched, 4, 1)} against {d(plain, 4, 1)})",
            f"{pm(teacher, 2)} at 2x and {pm(teacher, 3)} at 3x, against the elimination-trained seeds' {pm(elim, 2)} "
            f"and {pm(elim, 3)}: ahead on the mean, at the edge of the spread at 2x and within it at 3x. With fusion at "
            f"evaluation it is a gain "
            f"beyond\n  the spread at 2x, {pm(teacher_fuse, 2)} against {pm(elim_fuse, 2)}, and within it at 3x "
            f"({pm(teacher_fuse, 3)} against\n  {pm(elim_fuse, 3)}). At 2x it is level with the searched profile "
            f"({pm(searched, 2)}) and behind the tuned models",
            f"three seeds: `--strategy acc+fuse\n  --teacher minilm-sst2-plain-sS`): {pm(teacher_fused, 2)} at 2x, "
            f"{pm(teacher_fused, 3)} at 3x and {pm(teacher_fused, 4)} at 4x,\n  against {pm(fused, 2)}, {pm(fused, 3)} "
            f"and {pm(fused, 4)} for the fusion-trained models with in-place\n  distillation: no gain beyond the spread",
            f"Fusion-trained with it: {pm(hidden_fused, 2)} at 2x, {pm(hidden_fused, 3)} at 3x and {pm(hidden_fused, 4)} "
            f"at 4x (without\n  the MSE {pm(teacher_fused, 2)}, {pm(teacher_fused, 3)} and {pm(teacher_fused, 4)}); "
            f"searched with fusion: {pm(hidden_searched, 2)} at 2x and\n  {pm(hidden_searched, 3)} at 3x (without: "
            f"{pm(teacher_searched, 2)} and {pm(teacher_searched, 3)}); one more epoch at its searched profiles with\n"
            f"  both: **{pm(hidden_tuned, 2)} at 2x**, {pm(hidden_tuned, 3)} at 3x and **{pm(hidden_tuned, 4)} at 4x**, "
            f"against {pm(teacher_tuned, 2)},\n  {pm(teacher_tuned, 3)} and {pm(teacher_tuned, 4)} without the MSE.",
            f"within the spread of the tuned models without a teacher ({pm(tuned, 4)}).\n  Against the plain models "
            f"given the same extra epoch it loses {pm(equal_hidden_tuned, 2)} at 2x and {pm(equal_hidden_tuned, 3)}\n  "
            f"at 3x (with the logits alone: {pm(equal_teacher_tuned, 2)} and {pm(equal_teacher_tuned, 3)}).",
            f"the first 4 of 6 layers alone reach {layer4['unpruned']:.1f} at {layer4['unpruned_speedup']:.2f}x "
            f"({baseline - layer4['unpruned']:.1f} points), and with ACC elimination on top lose {pm(drop4, 2)} at 2x "
            f"and {pm(drop4, 3)} at 3x ({pm(drop4_fuse, 3)} with fusion on top); the first 3 alone reach "
            f"{layer3['unpruned']:.1f} at {layer3['unpruned_speedup']:.2f}x ({baseline - layer3['unpruned']:.1f} "
            f"points), and with ACC on top lose {pm(drop3, 3)} at 3x and **{pm(drop3, 4)} at 4x** "
            f"({pm(drop3_fuse, 4)} with fusion on top)",
            f"4 layers against the searched profile at 2x ({pm(searched, 2)}) and against the fusion-trained model at "
            f"3x ({pm(fused, 3)}); at 4x 3 layers tie the fusion-trained model ({pm(fused, 4)}).",
            "The models tuned at their searched profiles are ahead of 4\n  layers beyond the spread at 2x and 3x, with one "
            "more epoch than the shallow models had.",
            f"Past 4x the 2-layer "
            f"model ({layer2['unpruned']:.1f} at {layer2['unpruned_speedup']:.0f}x) and the 3-layer one with "
            f"elimination (seed 0: {three.loc[5.0]:.1f} at 5x, {three.loc[6.0]:.1f} at 6x)",
            f"SST-2 ≤ 0.75 points at 2x: **{goal(teacher_tuned)}**, {pm(teacher_tuned, 2)} (fusion-trained with\nthe "
            f"separate teacher, then one more epoch at its searched profiles with it, three seeds; "
            f"{pm(tuned, 2).replace(' ± ', ' ±' + chr(10))} without the teacher, {goal(tuned)})",
            f"same extra epoch it is {pm(equal_teacher_tuned, 2)} with the teacher (three seeds, the equal-budget check "
            f"above),\n{goal(equal_teacher_tuned)}; without the teacher {pm(equal_tuned, 2)}, "
            f"{FRONTIER.loc[equal_tuned, 'drop_2x'] - 0.75:.2f} over the goal; with the teacher's\n`[CLS]` vector too "
            f"{pm(hidden_tuned, 2)} ({pm(equal_hidden_tuned, 2)} against the same extra epoch).",
            f"reach {FRONTIER.loc[equal_plain, 'unpruned']:.2f} unpruned and lose {pm(equal_plain, 2)} at 2x and "
            f"{pm(equal_plain, 3)} at 3x with ACC. Against them the tuned models of the same three seeds lose\n  "
            f"**{pm(equal_tuned, 2)} at 2x**, {pm(equal_tuned, 3)} at 3x and {pm(equal_tuned, 4)} at 4x, instead of "
            f"{d(tuned, 2)} and {d(tuned, 3)} against\n  the one-epoch reference",
            f"on SST-2 the best lever loses {pm(teacher_tuned, 2)} points at 2x\n  (goal 0.75, {goal(teacher_tuned)}; "
            f"{pm(equal_teacher_tuned, 2)}, {goal(equal_teacher_tuned).replace(', not beyond the spread', ' only')}, "
            f"against plain models given the\n  same extra epoch, "
            f"three seeds; without its separate teacher {pm(tuned, 2)} and {pm(equal_tuned, 2)}) and\n  {pm(tuned, 3)} at 3x",
            f"at 3x it falls back to the fusion-trained\n  models' level ({pm(fused, 3)} against the one-epoch reference)",
            f"SST-2 ≤ 1.5\nat 3x: best {pm(tuned, 3)} (the tuned lever; with the teacher {pm(teacher_tuned, 3)}, with its `[CLS]` vector\n"
            f"too {pm(hidden_tuned, 3)}; the long "
            f"budget's\nfusion-trained model, one seed, also {d(long_fused, 3)}), missed by "
            f"{FRONTIER.loc[tuned, 'drop_3x'] - 1.5:.2f}; the\nlong budget's tuned chain does not "
            f"come close ({pm(long_chain, 3)}, three seeds).",
            f"| {pm(tuned, 2)} points at 2x, {pm(tuned, 3)} at 3x and {pm(tuned, 4)} at 4x (fusion-trained, then one "
            f"more epoch at its searched profiles: one epoch more than the reference); {pm(teacher_tuned, 2)} at 2x the "
            f"same chain with a separate teacher, {pm(hidden_tuned, 4)} at 4x with the teacher's `[CLS]` vector too; "
            f"on the long budget (one seed) "
            f"{d(long_fused, 3)} at 3x and {d(long_fused, 4)} at 4x (fusion-trained) |",
            f"and {pm(tuned, 3)} at 3x (goal\n  1.5); both are models fine-tuned one more epoch",
            f"sweep): **{pm(teacher_tuned, 2)} at 2x**, {pm(teacher_tuned, 3)} at\n  3x and {pm(teacher_tuned, 4)} at 4x, "
            f"against {pm(tuned, 2)}, {pm(tuned, 3)} and {pm(tuned, 4)} for the tuned models\n  without a teacher",
            f"Against the plain\n  models given the same extra epoch it loses **{pm(equal_teacher_tuned, 2)} at 2x** and "
            f"{pm(equal_teacher_tuned, 3)} at 3x (without\n  a teacher: {pm(equal_tuned, 2)} and {pm(equal_tuned, 3)}). "
            f"The search alone, before the extra epoch, gives "
            f"{pm(teacher_searched, 2).replace(' ± ', ' ±' + chr(10) + '  ')} at 2x (the same search on the "
            f"fusion-trained models: {pm(fused_searched, 2)}), the smallest 2x drop of\n  every lever without an extra "
            f"epoch, within the spread of the searched elimination-trained models\n  ({pm(searched, 2)}).",
            f"fusion; then a `--family searched` sweep): **{pm(tuned, 2)} at 2x**, {pm(tuned, 1.5)} at 1.5x,\n  "
            f"**{pm(tuned, 3)} at 3x** and {pm(tuned, 4)} at 4x, the best 16k lever at 3x, and at 1.5x, 2x and 4x\n  "
            f"until variants of the same chain were run (below: at 1.5x trained at random:1-3, at 2x with a separate "
            f"teacher, at 4x with its [CLS] vector too); before it, {pm(searched, 2)} at 2x, the searched elimination-trained models; {pm(fused, 3)} at 3x,\n  "
            f"fusion-trained. It is also the first lever whose unpruned accuracy rises, to "
            f"{FRONTIER.loc[tuned, 'unpruned']:.2f}.",
            f"spread of the best elimination lever of the same 16k recipe at 2x, 3x and 4x (at 4x {pm(drop3, 4)} "
            f"with 3 layers against {pm(fused, 4)} fusion-trained; fine-tuned with fusion on the long budget, "
            f"{d(long_fused, 4)}, but no shallower model",
            f"their drop is against the plain model of the same budget ({long['unpruned']:.2f} unpruned, one seed), "
            f"not {baseline:.2f}",
            f"the long budget's against {long['unpruned']:.2f}",
            f"{walls(long_plain)} of training for the plain model, {walls(long_fused)} for its fusion-trained twin",
            f"The plain model reaches **{long['unpruned']:.2f}** unpruned, {long['unpruned'] - baseline:.1f} points above "
            f"the 16k recipe, and every pruned point rises with it ({v(long_plain_fuse, 2)} at 2x with fusion at "
            f"evaluation, against {envelope_16k_2x:.1f} for the best 16k lever), but its drops do not shrink: ACC loses "
            f"{' / '.join(d(long_plain, s) for s in (1.5, 2, 3, 4))} at 1.5 / 2 / 3 / 4x (16k: "
            f"{' / '.join(d(plain, s) for s in (1.5, 2, 3, 4))}), fusion at evaluation {d(long_plain_fuse, 2)} at 2x",
            f"the model keeps {v(long_fused, 3)} at 3x and {v(long_fused, 4)} at 4x: **{d(long_fused, 3)} at 3x and "
            f"{d(long_fused, 4)} at 4x** (16k fusion-trained: {pm(fused, 3)} and {pm(fused, 4)}), the best at 4x of "
            f"every lever\n  and level at 3x with the 16k models tuned at their searched profiles ({pm(tuned, 3)}), for "
            f"{long['unpruned'] - FRONTIER.loc[long_fused, 'unpruned']:.2f}\n  points at 1x and {d(long_fused, 2)} at 2x",
        ]
    )


def test_readme_retrained_seed_two_is_the_stored_rebuild_check():
    """Under "What a seed fixes": the retrained seed-2 plain models against the stored seed-2 sweeps, at 1x."""
    gaps = {}
    for task in ("sst2", "stsb", "cola", "mrpc"):
        metric = TASKS[task].primary_metric
        at_1x = f"strategy == 'acc' and target_speedup == 1 and metric == '{metric}'"
        name = f"minilm-{task}-plain-s2__{task}"
        retrained = sweep(f"rebuilt/{name}").query(at_1x)
        stored = [sweep(f"minilm-{task}-plain-s{s}__{task}").query(at_1x)["value"].iloc[0] for s in range(3)]
        gaps[task] = retrained["value"].iloc[0] - stored[2]
        if task == "stsb":  # "2 points below all three stored seeds"
            assert round(min(stored) - retrained["value"].iloc[0]) == 2
    retrained_card = stored_json("cached_runs/rebuilt/minilm-sst2-plain-s2__sst2/card.json")
    stored_card = stored_json("cached_runs/minilm-sst2-plain-s2__sst2/card.json")
    here, there = retrained_card["model_training"], stored_card["model_training"]
    assert "Xeon" in here["machine"]["cpu"] and "EPYC" in there["machine"]["cpu"]
    assert_in_readme(
        [
            f"differ from the stored seed-2 sweeps by {gaps['sst2']:.2f} (SST-2 accuracy), {gaps['stsb']:.2f} (STS-B "
            f"Pearson), {gaps['cola']:.2f} (CoLA\nMatthews correlation) and {gaps['mrpc']:.2f} (MRPC F1)",
            f"SST-2's plain seed 2 took {here['wall_time_s']:.0f} s there against {there['wall_time_s']:.0f} s on the first",
        ]
    )


def test_readme_rte_at_length_128_is_the_stored_sweep():
    rte = ACCURACY[(ACCURACY.model == "minilm-rte-plain128-s0") & (ACCURACY.strategy == "acc")].iloc[0]
    assert rte["1x"] < 60  # "longer inputs do not lift it": still below the bar for the average
    assert_in_readme(
        [
            f"it reaches {rte['1x']:.1f}%: longer inputs do\nnot lift it",
            f"at max\n  length 128 too ({rte['1x']:.1f}%",
        ]
    )


def test_readme_average_drop_prose_is_the_stored_average():
    """Under "Every GLUE task": the conclusions under the tables, from accuracy_average.csv and accuracy.csv."""
    s12, s4 = "one seed (sessions 1-2)", "session 4"
    s56 = "every lever on every task, three seeds (sessions 5-9)"
    equal = "equal budget: the plain models one more epoch too (sessions 9-10)"
    tuned = "fusion-trained, then one epoch at its searched profiles"
    without, with_elim = "without elimination", "with elimination (random:1-4)"
    plain, fused = "plain", "fusion-trained (acc+fuse, random:1-4)"

    def avg(comparison, suite, strategy, s, digits=2):
        return f"{average(comparison, suite, strategy, f'drop_{s}x'):.{digits}f}"

    def pm(comparison, suite, strategy, column):
        spread = average(comparison, suite, strategy, f"drop_std_{column}")
        return f"{average(comparison, suite, strategy, f'drop_{column}'):.2f} ± {spread:.2f}"

    session4 = AVERAGE[AVERAGE["comparison"] == s4]
    best = {s: session4[f"drop_{s}x"].min() for s in (2, 3)}
    assert best[2] == average(s4, fused, "acc", "drop_2x") and best[3] == average(
        s4, fused, "acc+fuse", "drop_3x"
    )
    # "ACC is the best ranking on average at every speedup in every suite that compares them"
    for (comparison, suite), rows in AVERAGE.groupby(["comparison", "suite"]):
        rankings = rows[~rows["strategy"].isin(["acc", "acc+fuse"])]
        for s in ("1.5x", "2x", "3x", "4x"):
            assert (
                rankings.empty or average(comparison, suite, "acc", f"drop_{s}") < rankings[f"drop_{s}"].min()
            )
    stsb_plain = accuracy("minilm-stsb-plain-s0", "acc", "1x", "pearson")
    mrpc = [accuracy("minilm-mrpc-plain-s0", "acc", c, "f1") for c in ("1x", "1.5x", "2x", "3x", "4x")]
    cola = sweep("minilm-cola-plain3__cola").query("strategy == 'acc' and target_speedup == 1").iloc[0]

    def stsb(model, column):
        return accuracy(model, "acc", column, "pearson")

    def goal(comparison, suite, column, limit):
        drop, std = (average(comparison, suite, "acc+fuse", f"{c}_{column}") for c in ("drop", "drop_std"))
        return verdict(drop, std, limit)

    rte = accuracy("minilm-rte-plain", "acc", "1x", "accuracy")
    rte_train = stored_json("cached_runs/minilm-rte-elim__rte/card.json")["model_training"]["train_examples"]
    assert_in_readme(
        [
            f"{best[2]:.2f} at 2x (fusion-trained model scored with ACC; plain ACC {avg(s4, plain, 'acc', 2)}) and "
            f"{best[3]:.2f} at 3x (fusion-trained with fusion; goal 2.0)",
            f"its Pearson falls from {stsb_plain:.1f} to {accuracy('minilm-stsb-plain-s0', 'acc', '2x', 'pearson'):.1f} "
            f"at 2x with plain ACC (to {accuracy('minilm-stsb-fuse-s0', 'acc+fuse', '2x', 'pearson'):.1f} "
            "fusion-trained with fusion)",
            f"MRPC stays within {mrpc[0] - min(mrpc):.1f} points up to 4x",
            f"Fusion-trained models also lose {avg(s4, fused, 'acc', 1)} points at 1x on average",
            f"(plain, session 4: {avg(s4, plain, 'acc', 2)} against {avg(s4, plain, 'attention', 2)} for PoWER-BERT's "
            f"score at 2x, {avg(s4, plain, 'acc', 3)} against {avg(s4, plain, 'attention', 3)} at 3x)",
            f"(plain: {avg(s4, plain, 'acc+fuse', 4)} instead of {avg(s4, plain, 'acc', 4)} at 4x), and fine-tuning "
            f"with fusion active adds to it ({avg(s4, fused, 'acc+fuse', 4)} at 4x, {avg(s4, fused, 'acc+fuse', 3)} at 3x)",
            f"the average drop at 2/3/4x goes from {' / '.join(avg(s12, without, 'acc', s) for s in (2, 3, 4))} to "
            f"{' / '.join(avg(s12, with_elim, 'acc', s) for s in (2, 3, 4))} points",
            f"lifts Pearson at 3x from {stsb('minilm-stsb-plain3', '3x'):.1f} to {stsb('minilm-stsb-elim3', '3x'):.1f} "
            f"and at 4x from {stsb('minilm-stsb-plain3', '4x'):.1f} to {stsb('minilm-stsb-elim3', '4x'):.1f}, at "
            f"{stsb('minilm-stsb-plain3', '1x') - stsb('minilm-stsb-elim3', '1x'):.1f} points unpruned",
            f"cost STS-B {stsb('minilm-stsb-plain', '1x') - stsb('minilm-stsb-elim', '1x'):.0f} points unpruned "
            f"(`cached_runs/minilm-stsb-elim__stsb`, {stsb('minilm-stsb-elim', '1x'):.1f} against "
            f"{stsb('minilm-stsb-plain', '1x'):.1f} for the one-epoch plain model)",
            f"CoLA's sentences are short ({cola['mean_kept_last']:.1f} tokens with",
            f"Matthews correlation on {int(cola['n_examples']):,} examples",
            f"RTE is near chance ({rte:.0f}%) in both regimes",
            f"RTE is near chance ({rte:.0f}%, {rte_train:,} training pairs",
            f"**{average(s12, with_elim, 'acc', 'speedup_at_0.75_average_drop'):.2f}x** at ≤ 0.75 points average drop "
            f"(elimination-trained, sessions 1-2; {average(s12, without, 'acc', 'speedup_at_0.75_average_drop'):.2f}x "
            f"plain; {average(s4, plain, 'acc+fuse', 'speedup_at_0.75_average_drop'):.2f}x plain with fusion, "
            f"session 4), {avg(s12, with_elim, 'acc', 2)} points at 2x (Results)",
            f"being near chance) ≤ 0.75 points holds up to {reach(CHOICE, CHOSEN)} with each task's tuned chain at its "
            f"training range chosen on a held-out train slice ({reach(s56, tuned)} at 1-4x on every task), not 4.8x; "
            f"they lose {pm(CHOICE, CHOSEN, 'acc+fuse', '2x')} and {pm(s56, tuned, 'acc+fuse', '2x')} points at 2x and "
            f"{pm(CHOICE, CHOSEN, 'acc+fuse', '3x')} and {pm(s56, tuned, 'acc+fuse', '3x')} at 3x",
            f"the drop is {pm(CHOICE, CHOSEN, 'acc+fuse', '2x')} points at 2x ({goal(CHOICE, CHOSEN, '2x', 0.75)}; ≤ 0.75 "
            f"holding up to {reach(CHOICE, CHOSEN)}; against plain models given the same extra epoch "
            f"{pm(equal, CHOSEN, 'acc+fuse', '2x')}, {goal(equal, CHOSEN, '2x', 0.75)}) and "
            f"{pm(CHOICE, CHOSEN, 'acc+fuse', '3x')} at 3x ({goal(CHOICE, CHOSEN, '3x', 2.0)}).",
            f"The tuned chain at 1-4x on every task loses {pm(s56, tuned, 'acc+fuse', '2x')} points at 2x (≤ 0.75 holds up\nto "
            f"{reach(s56, tuned)}; {pm(equal, tuned, 'acc+fuse', '2x')} against plain models given the same extra epoch) and "
            f"{pm(s56, tuned, 'acc+fuse', '3x')} at 3x (the\nsame lever on every task, three seeds each",
        ]
    )


def test_readme_corpus_accuracy_and_agreement_are_the_stored_summary():
    summary = stored_json("cached_runs/corpus/default__sst2__2x__acc/summary.json")
    buckets = {b["bucket"]: b for b in summary["metric_by_length"]}
    n = sum(b["n"] for b in buckets.values())
    unpruned = sum(b["n"] * b["unpruned"] for b in buckets.values()) / n
    pruned = sum(b["n"] * b["pruned"] for b in buckets.values()) / n

    def loss(bucket):
        return buckets[bucket]["unpruned"] - buckets[bucket]["pruned"]

    agreement = [a["jaccard"] for a in summary["agreement"] if a["pair"] == "attention vs mean-attention"]
    assert n == summary["card"]["n_examples"] and agreement  # every layer
    assert_in_readme(
        [
            f"(accuracy {unpruned:.1f} → {pruned:.1f}). Short sentences (≤ 16 tokens) lose {loss('1-16'):.1f} points, "
            f"17–32 tokens {loss('17-32'):.1f}, 33–64 tokens {loss('33-64'):.1f}.",
            f"differ only through padding queries ({min(agreement):.2f}–{max(agreement):.2f})",
            f"Tomatoes; {n} sentences; ACC at {summary['card']['target_speedup']:g}x;",
        ]
    )


def test_readme_fidelity_and_predictor_prose_are_the_stored_ones():
    """Under "Speedup fidelity" and "Calibrated latency predictor": fidelity.csv, fidelity_predictor.csv, the card."""
    pruned = FIDELITY[(FIDELITY["variant"] != "exact-last-layer only") & (FIDELITY["target_speedup"] <= 4)]
    ratio = pruned["measured_over_estimated"]
    bert16 = ratio[(pruned["model"] == "bert-base") & (pruned["batch_size"] == 16)]
    assert (bert16 >= 0.85).all()
    minilm16 = pruned[(pruned["model"] == "all-MiniLM-L6-v2") & (pruned["batch_size"] == 16)]
    up_to_3x = minilm16[(minilm16["length"] <= 128) & (minilm16["target_speedup"] <= 3)]
    assert (
        up_to_3x["measured_over_estimated"] >= 0.85
    ).all()  # "and for MiniLM at batch 16 up to 3x at 64–128 tokens"
    all_targets = FIDELITY[(FIDELITY["variant"] != "exact-last-layer only")]
    minilm256 = all_targets[
        (all_targets["model"] == "all-MiniLM-L6-v2")
        & (all_targets["length"] == 256)
        & (all_targets["batch_size"] == 16)
    ]["measured_over_estimated"]
    fit = pd.read_csv(BENCH_DIR / "fidelity_predictor.csv").set_index("fit_on")
    pooled = next(
        p for p in stored_json("cached_runs/bench/fidelity.json")["predictor"] if p["fit_on"] == "pooled"
    )
    bert, minilm = fit.loc["bert-base"], fit.loc["all-MiniLM-L6-v2"]
    baseline = FIDELITY[
        (FIDELITY["model"] == "bert-base") & (FIDELITY["length"] == 128) & (FIDELITY["batch_size"] == 1)
    ]
    assert_in_readme(
        [
            f"holds for BERT-base at batch 16** (all {len(bert16)} runs, {bert16.min():.2f}–{bert16.max():.2f})",
            f"**it is missed at batch 1** ({(ratio >= 0.85).sum()} of {len(ratio)} runs meet it in all)",
            f"{bert['layer_ms']:.1f} ms per BERT-base layer and {minilm['layer_ms']:.1f} ms per MiniLM layer by the "
            f"predictor's fit below, against ~{baseline['baseline_ms'].iloc[0] / 12:.0f} ms for a whole BERT-base layer",
            f"to {minilm256.min():.2f}–{minilm256.max():.2f} of its estimate",
            f"({minilm['layer_ms']:.1f} ms per MiniLM layer by the fit)",
            f"mean absolute error **{bert['held_out_profiles_error_percent']:.1f}% (BERT-base), "
            f"{minilm['held_out_profiles_error_percent']:.1f}% (MiniLM)**, {pooled['held_out_profiles_error_percent']:.1f}% "
            f"for one fit pooled over both models (goal ≤ 10%); on a held-out length "
            f"{bert['held_out_length_error_percent']:.1f}% / {minilm['held_out_length_error_percent']:.1f}%. "
            f"Fitted rates on this machine: FFN {bert['ffn_gmac_s']:.0f} GMAC/s, attention {bert['attention_gmac_s']:.0f} "
            "GMAC/s (BERT-base)",
        ]
    )


def test_readme_sst2_gaps_fidelity_rounds_and_int8_losses_are_the_stored_ones():
    """What the stored files say where the README said otherwise (it fails until the README says this)."""
    plain, elim = SST2_RESULTS_MODELS["A"], SST2_RESULTS_MODELS["B"]

    def a(model, column, strategy="acc"):
        return accuracy(model, strategy, column, task="sst2")

    at4 = {m: [a(m, "4x", s) for s in ("acc", "attention", "mean-attention")] for m in (plain, elim)}
    spread4 = max(max(v) - min(v) for v in at4.values())
    session4 = AVERAGE[AVERAGE["comparison"] == "session 4"]
    best15 = session4.loc[session4["drop_1.5x"].idxmin()]

    def unpruned_cost(task, metric):
        return accuracy(f"minilm-{task}-plain-s0", "acc", "1x", metric) - accuracy(
            f"minilm-{task}-fuse-s0", "acc", "1x", metric
        )

    per_channel = [
        a(fp32, c) - a(f"{fp32}-int8", c)
        for fp32 in ("minilm-sst2-plain-s0", "minilm-sst2-elim-s0")
        for c in ("1x", "2x", "3x", "4x")
    ]
    losses = [x for x in per_channel if round(x, 1) > 0.3]  # the goal was 0.3
    (rounds,) = set(pd.read_csv(BENCH_DIR / "speedup.csv")["repeats"])
    assert_in_readme(
        [
            f"(+{a(elim, '2x') - a(plain, '2x'):.1f} at 2x) but not at 3x ({signed(a(elim, '3x') - a(plain, '3x'))}), "
            f"and costs {a(plain, '1x') - a(elim, '1x'):.2f} points unpruned",
            f"at 4x all attention-based scores are within {spread4:.1f} points",
            f"the best lever loses {best15['drop_1.5x']:.2f} points at 1.5x",
            f"(STS-B {unpruned_cost('stsb', 'pearson'):.1f}, CoLA {unpruned_cost('cola', 'matthews_corr'):.1f})",
            f"interleaved in one run ({rounds} rounds)",
            f"int8 weights lose {min(losses):.1f}–{max(losses):.1f} points at some speedups",
        ]
    )


def test_readme_three_seed_and_searched_prose_is_the_stored_average():
    """Under "Every GLUE task": the three-seed bullet and the searched-profile bullet."""
    table = pd.read_csv(BENCH_DIR / "accuracy_average.csv")
    both = table[table.comparison == "every lever on every task, three seeds (sessions 5-9)"]

    def row(suite, strategy):
        return both[(both.suite == suite) & (both.strategy == strategy)].iloc[0]

    plain, fuse = row("plain", "acc"), row("plain", "acc+fuse")
    trained = "fusion-trained (acc+fuse, random:1-4)"
    trained_acc, trained_fuse = row(trained, "acc"), row(trained, "acc+fuse")
    searched = row("plain, searched profile (no retraining)", "acc")
    fused_searched = row("fusion-trained, searched profile with fusion", "acc+fuse")
    tuned_name = "fusion-trained, then one epoch at its searched profiles"
    tuned = row(tuned_name, "acc+fuse")
    equal = table[table.comparison == "equal budget: the plain models one more epoch too (sessions 9-10)"]
    equal_tuned = equal[(equal.suite == tuned_name) & (equal.strategy == "acc+fuse")].iloc[0]
    equal_plain1 = equal[(equal.suite == "plain (each task's epochs)") & (equal.strategy == "acc")].iloc[0]
    # "still the best lever at 2x": even against the stronger reference, below every other suite's drop
    assert int(equal_tuned.seeds) == 3 and equal_tuned.drop_2x < both[both.suite != tuned_name].drop_2x.min()
    # "until session 15's chosen ranges": lower at 2x, against either reference
    assert average(CHOICE, CHOSEN, "acc+fuse", "drop_2x") < tuned.drop_2x
    assert (
        equal[(equal.suite == CHOSEN) & (equal.strategy == "acc+fuse")].iloc[0].drop_2x < equal_tuned.drop_2x
    )

    def pm(r, column):
        return f"{r[f'drop_{column}']:.2f} ± {r[f'drop_std_{column}']:.2f}"

    def task_mean(task, kind, column, strategy="acc", seeds=3):
        metric = TASKS[task].primary_metric
        rows = ACCURACY[
            ACCURACY.model.isin([f"minilm-{task}-{kind}".format(s=s) for s in range(seeds)])
            & (ACCURACY.strategy == strategy)
            & (ACCURACY.metric == metric)
        ]
        assert len(rows) == seeds, (task, kind)
        return f"{rows[column].mean():.1f}"

    def stsb(kind):
        return " / ".join(task_mean("stsb", kind, c) for c in ("1.5x", "2x", "4x"))

    def fused_mean(task, kind):
        return task_mean(task, kind, "2x", strategy="acc+fuse")

    assert int(plain.seeds) == 3 and int(searched.seeds) == 3
    same_epochs = both[both.suite != tuned_name]  # every other suite had its task's epochs, no more
    assert (
        fused_searched.drop_2x == same_epochs.drop_2x.min()
        and fused_searched.drop_3x == same_epochs.drop_3x.min()
    )
    assert all(tuned[f"drop_{c}"] == both[f"drop_{c}"].min() for c in ("2x", "3x", "4x"))
    assert searched["drop_1.5x"] == both["drop_1.5x"].min()  # "the best lever at 1.5x"

    def second(task, kind):  # the one-seed second stage from the plain model, and its fusion-trained twin
        return task_mean(task, f"{kind}-s0-searched", "2x", strategy="acc+fuse", seeds=1)

    def gain(task):  # "Every task gains at 2x": the tuned models against the ones they started from
        before, after = fused_mean(task, "fuse-s{s}-searched"), fused_mean(task, "fuse3-s{s}-searched")
        assert float(after) > float(before), task
        return f"{before} → {after}"

    assert_in_readme(
        [
            "**Three seeds** (sessions 5-6",
            f"lose {pm(plain, '1.5x')} points at 1.5x, {pm(plain, '2x')} at 2x and {pm(plain, '3x')} at 3x",
            f"{plain.drop_std_1x:.2f} is already the unpruned models' own spread",
            f"takes 4x from {plain.drop_4x:.2f} to {fuse.drop_4x:.2f}",
            f"Fusion-trained models lose {pm(trained_acc, '2x')} at 2x scored with ACC and "
            f"{pm(trained_fuse, '3x')} at 3x with fusion",
            f"they lose {pm(trained_acc, '1x')} at 1x",
            f"{pm(searched, '1.5x')} at 1.5x and **{pm(searched, '2x')} at 2x** (plain ACC: {pm(plain, '2x')})",
            f"holds up to **{searched['speedup_at_0.75_average_drop']:.2f}x** "
            f"(plain: {plain['speedup_at_0.75_average_drop']:.2f}x)",
            f"at 3x it is no better ({pm(searched, '3x')}), at 4x {pm(searched, '4x')}",
            f"goes from {stsb('plain-s{s}')} to {stsb('plain-s{s}-searched')}",
            f"({task_mean('sst2', 'plain-s{s}', '2x')} against {task_mean('sst2', 'plain-s{s}-searched', '2x')}; "
            f"at 4x {task_mean('sst2', 'plain-s{s}', '4x')} against {task_mean('sst2', 'plain-s{s}-searched', '4x')})",
            f"at 2x and 3x: **{pm(fused_searched, '2x')} at 2x** (their geometric profile: {pm(trained_fuse, '2x')}) "
            f"and **{pm(fused_searched, '3x')} at 3x** ({pm(trained_fuse, '3x')}), with {pm(fused_searched, '1.5x')} "
            f"at 1.5x and {pm(fused_searched, '4x')} at 4x. Its lead over the searched plain models at 2x "
            f"({pm(searched, '2x')}) is within the spread",
            f"STS-B and CoLA take the gain at 2x: Pearson {fused_mean('stsb', 'fuse-s{s}')} → "
            f"{fused_mean('stsb', 'fuse-s{s}-searched')}, Matthews correlation {fused_mean('cola', 'fuse-s{s}')} → "
            f"{fused_mean('cola', 'fuse-s{s}-searched')}",
            f"misses the\n  average goals by {fused_searched.drop_2x - 0.75:.2f} points at 2x and "
            f"{fused_searched.drop_3x - 2.0:.2f} at 3x",
            f"was the best lever at 2x, 3x and 4x until later chains (below: at 4x the teacher chain, at 2x session 15's chosen ranges, at 3x session 16's search again): **{pm(tuned, '2x')} at 2x** "
            f"and **{pm(tuned, '3x')} at 3x** (the "
            f"searched fusion-trained models it started from: {pm(fused_searched, '2x')} and {pm(fused_searched, '3x')}), "
            f"{pm(tuned, '1.5x')} at 1.5x and {pm(tuned, '4x')} at 4x, so ≤ 0.75 points now holds up to "
            f"**{tuned['speedup_at_0.75_average_drop']:.2f}x**",
            f"SST-2 {gain('sst2')}, STS-B's\n  Pearson {gain('stsb')}, CoLA's Matthews correlation {gain('cola')}, "
            f"MRPC's F1 {gain('mrpc')}",
            f"loss at 1x is gone ({pm(tuned, '1x')} against {pm(fused_searched, '1x')})",
            f"goals stay missed**: {tuned.drop_2x - 0.75:.2f} points over at 2x and {tuned.drop_3x - 2.0:.2f} over at 3x",
            f"gain {equal_plain1.drop_1x:.2f} points at 1x on average, and against them the tuned models of the same\n  "
            f"three seeds lose {pm(equal_tuned, '1x')} at 1x, {pm(equal_tuned, '1.5x')} at 1.5x, **{pm(equal_tuned, '2x')} "
            f"at 2x** and {pm(equal_tuned, '3x')} at\n  3x (≤ 0.75 up to {equal_tuned['speedup_at_0.75_average_drop']:.2f}x): "
            f"still the best lever at 2x until session 15's chosen ranges (below), {equal_tuned.drop_2x - 0.75:.2f} points over the goal",
            f"reaches STS-B's Pearson {second('stsb', 'fuse2')} at 2x (the fusion-trained seed 0: {second('stsb', 'fuse')}), "
            f"CoLA's Matthews\n  correlation {second('cola', 'fuse2')} ({second('cola', 'fuse')}) and MRPC's F1 "
            f"{second('mrpc', 'fuse2')} ({second('mrpc', 'fuse')})",
        ]
    )


def test_readme_teacher_chain_prose_is_the_stored_average():
    """Under "Every GLUE task" and the goals: the tuned chain with the separate teacher (sessions 11-12)."""
    table = pd.read_csv(BENCH_DIR / "accuracy_average.csv")
    tuned = "fusion-trained, then one epoch at its searched profiles"
    taught = "fusion-trained with the separate teacher, then one epoch at its searched profiles with it"

    def row(comparison, suite):
        rows = table[
            (table.comparison == comparison) & (table.suite == suite) & (table.strategy == "acc+fuse")
        ]
        assert len(rows) == 1, (comparison, suite)
        return rows.iloc[0]

    def pm(r, column):
        return f"{r[f'drop_{column}']:.2f} ± {r[f'drop_std_{column}']:.2f}"

    def ahead(better, worse, columns):  # ahead on the mean, within the spread
        for c in columns:
            drops, stds = (
                (better[f"drop_{c}"], worse[f"drop_{c}"]),
                (better[f"drop_std_{c}"], worse[f"drop_std_{c}"]),
            )
            assert ahead_within_spread(*drops, *stds), c

    stsb = "the separate teacher on STS-B (session 11)"
    stsb_taught, stsb_tuned = row(stsb, taught), row(stsb, tuned)
    assert int(stsb_taught.seeds) == int(stsb_tuned.seeds) == 3
    # "ahead on the mean at every speedup, within the seeds' spread everywhere"
    ahead(stsb_taught, stsb_tuned, ("1x", "1.5x", "2x", "3x", "4x"))
    every = "the tuned chain with the separate teacher on every task (sessions 11-12)"
    taught3, tuned3 = row(every, taught), row(every, tuned)
    assert int(taught3.seeds) == int(tuned3.seeds) == 3
    assert set(taught3.tasks.split()) == {"cola", "mrpc", "sst2", "stsb"}
    # "behind on the mean at 2x and 3x, ahead at 4x, within the spread everywhere"
    ahead(taught3, tuned3, ("4x",))
    ahead(tuned3, taught3, ("2x", "3x"))

    def task_mean(task, family):  # the primary metric at 2x, mean of the three seeds
        return searched_task_mean(task, family, "2x")

    # "CoLA pulls it down": the only task where the teacher is behind at 2x
    behind = [t for t in ("sst2", "mrpc", "stsb", "cola") if task_mean(t, "tfuse3") < task_mean(t, "fuse3")]
    assert behind == ["cola"]
    # the teacher's [CLS] vector on STS-B, two seeds: "ahead on the mean at 2x and 3x, behind at 4x, within
    # the spread everywhere"
    vector = "the teacher's [CLS] vector on STS-B (session 12)"
    with_vector = row(
        vector,
        "fusion-trained with the separate teacher and its [CLS] vector, then one epoch at its searched profiles with both",
    )
    without_vector = row(vector, taught)
    assert int(with_vector.seeds) == int(without_vector.seeds) == 2
    ahead(with_vector, without_vector, ("2x", "3x"))
    ahead(without_vector, with_vector, ("4x",))
    reach = "speedup_at_0.75_average_drop"
    assert_in_readme(
        [
            f"reason to try it here): **{pm(with_vector, '2x')} at 2x**, {pm(with_vector, '3x')} at 3x and "
            f"{pm(with_vector, '4x')} at 4x, against {pm(without_vector, '2x')}, {pm(without_vector, '3x')} and "
            f"{pm(without_vector, '4x')} for the same seeds without the MSE",
            f"**{pm(stsb_taught, '2x')} at 2x**, {pm(stsb_taught, '3x')} at 3x and {pm(stsb_taught, '4x')} at 4x, "
            f"against {pm(stsb_tuned, '2x')}, {pm(stsb_tuned, '3x').replace(' ± ', ' ±' + chr(10) + '  ')} and "
            f"{pm(stsb_tuned, '4x')} for the same chain without the teacher",
            f"retrained, in sessions 11 and 12): {pm(taught3, '2x')} at 2x, {pm(taught3, '3x')} at 3x and "
            f"{pm(taught3, '4x')} at 4x, against {pm(tuned3, '2x')}, {pm(tuned3, '3x')} and {pm(tuned3, '4x')} for "
            f"the same chain without the teacher",
            f"and ≤ 0.75 points up to {taught3[reach]:.2f}x ({tuned3[reach]:.2f}x without)",
            f"its Matthews correlation at 2x is {task_mean('cola', 'tfuse3'):.1f} with the teacher against "
            f"{task_mean('cola', 'fuse3'):.1f} without (means of three seeds); SST-2's accuracy is "
            f"{task_mean('sst2', 'tfuse3'):.1f} against {task_mean('sst2', 'fuse3'):.1f}, STS-B's Pearson "
            f"{task_mean('stsb', 'tfuse3'):.1f} against {task_mean('stsb', 'fuse3'):.1f}, MRPC's F1 "
            f"{task_mean('mrpc', 'tfuse3'):.1f} against {task_mean('mrpc', 'fuse3'):.1f}.",
            f"in both its stages, three seeds, {pm(taught3, '2x')} at 2x and {pm(taught3, '3x')} at 3x;",
        ]
    )


def test_readme_goals_range_prose_is_the_stored_average():
    """Under "Every GLUE task" and "The frontier": the tuned chain trained at random:1-3 (session 13)."""
    comparison = "the tuned chain trained at random:1-3 (session 13)"
    tuned, narrow = (
        "fusion-trained, then one epoch at its searched profiles",
        "the tuned chain without a teacher, trained at random:1-3 (both stages)",
    )
    new, old = (average(comparison, suite, "acc+fuse", "seeds") for suite in (narrow, tuned))
    assert new == old == 3
    speedups = ("2x", "3x", "4x")

    def drops(suite, column="drop"):
        return {s: average(comparison, suite, "acc+fuse", f"{column}_{s}") for s in speedups}

    def pm(suite, s):
        return f"{average(comparison, suite, 'acc+fuse', f'drop_{s}'):.2f} ± {average(comparison, suite, 'acc+fuse', f'drop_std_{s}'):.2f}"

    def task_mean(task, family, column):
        return f"{searched_task_mean(task, family, column):.1f}"

    reach = "speedup_at_0.75_average_drop"
    # SST-2 alone, under "The frontier": half-ranges, as the frontier table prints them
    sst2_tuned, sst2_equal = (
        "fusion-trained, one more epoch at its searched profiles",
        "equal budget: the chain trained at random:1-3, against it",
    )

    def half(lever, s):
        return FRONTIER.loc[lever, f"spread_{s}"] / 2

    def fpm(lever, s):
        return f"{round(FRONTIER.loc[lever, f'drop_{s}'], 2) + 0.0:.2f} ± {half(lever, s):.2f}"

    sst2_standing = standing(
        *({s: FRONTIER.loc[lever, f"drop_{s}"] for s in speedups} for lever in (narrow, sst2_tuned)),
        *({s: half(lever, s) for s in speedups} for lever in (narrow, sst2_tuned)),
    )
    assert int(FRONTIER.loc[narrow, "seeds"]) == int(FRONTIER.loc[sst2_equal, "seeds"]) == 3
    assert (
        standing(
            *({"1.5x": FRONTIER.loc[lever, "drop_1.5x"]} for lever in (narrow, sst2_tuned)),
            *({"1.5x": half(lever, "1.5x")} for lever in (narrow, sst2_tuned)),
        )
        == "ahead on the mean at 1.5x, within the spread everywhere"
    )
    assert_in_readme(
        [
            f"**{pm(narrow, '2x')} at 2x**, {pm(narrow, '3x')} at 3x and {pm(narrow, '4x')} at 4x, against "
            f"{pm(tuned, '2x')}, {pm(tuned, '3x')} and {pm(tuned, '4x')} for the same chain at 1-4x",
            f'trained at random:1-3" rows): '
            f"{standing(drops(narrow), drops(tuned), drops(narrow, 'drop_std'), drops(tuned, 'drop_std'))}; "
            f"≤ 0.75 points up to {average(comparison, narrow, 'acc+fuse', reach):.2f}x "
            f"({average(comparison, tuned, 'acc+fuse', reach):.2f}x at 1-4x)",
            f"STS-B's Pearson at 2x is {task_mean('stsb', 'fuse13t', '2x')} against {task_mean('stsb', 'fuse3', '2x')}, "
            f"SST-2's accuracy {task_mean('sst2', 'fuse13t', '2x')} against {task_mean('sst2', 'fuse3', '2x')}, "
            f"MRPC's F1 {task_mean('mrpc', 'fuse13t', '2x')} against {task_mean('mrpc', 'fuse3', '2x')} and CoLA's "
            f"Matthews correlation {task_mean('cola', 'fuse13t', '2x')} against {task_mean('cola', 'fuse3', '2x')} "
            f"({task_mean('cola', 'fuse13t', '1x')} against {task_mean('cola', 'fuse3', '1x')} already at 1x",
            f"stages): {fpm(narrow, '2x')} at 2x, {fpm(narrow, '3x')} at 3x and {fpm(narrow, '4x')} at 4x, against "
            f"{fpm(sst2_tuned, '2x')}, {fpm(sst2_tuned, '3x')} and {fpm(sst2_tuned, '4x')} at 1-4x: {sst2_standing};",
            f"the same extra epoch it loses {fpm(sst2_equal, '2x')} at 2x and {fpm(sst2_equal, '3x')} at 3x.",
            f"its {fpm(narrow, '1.5x')} at 1.5x is the smallest 1.5x drop of the 16k levers, within the spread too "
            f"({fpm(sst2_tuned, '1.5x')} at 1-4x).",
            f"trained at the goals' range, random:1-3, in both stages, {pm(narrow, '2x')} at 2x and {pm(narrow, '3x')} at 3x)",
        ]
    )


def test_readme_ablation_commands_are_the_stored_commands():
    """Under "The ablation": each row's commands, as ``suites.json`` holds them (one line each)."""
    import json

    ablation = json.loads((REPO_ROOT / "cached_runs" / "suites.json").read_text())["ablation"]
    block = README.split("The commands behind each row", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    shown, suite = {}, None
    for line in block.splitlines():
        if line.startswith("# "):
            suite = line[2:]
            shown[suite] = []
        else:
            shown[suite].append(line)
    levers = set(pd.read_csv(BENCH_DIR / "ablation.csv")["suite"])
    assert set(shown) == levers
    for lever in levers:
        assert shown[lever] == ablation["commands"][lever].split("; "), lever


def test_readme_ablation_prose_is_the_stored_ablation():
    """Under "The ablation": depth against elimination, from ablation.csv and accuracy.csv."""
    table = pd.read_csv(BENCH_DIR / "ablation.csv").set_index(["suite", "strategy"])
    four, three = "layer-drop: first 4 of 6 layers (plain)", "layer-drop: first 3 of 6 layers (plain)"
    best, fused = "fusion-trained, searched profile with fusion", "fusion-trained (acc+fuse, random:1-4)"
    tuned = "fusion-trained, then one epoch at its searched profiles"

    def pm(suite, strategy, column):
        row = table.loc[(suite, strategy)]
        return f"{row[column]:.2f} ± {row[column.replace('drop_', 'drop_std_')]:.2f}"

    def unpruned(task, layers):
        metric = TASKS[task].primary_metric
        rows = ACCURACY[
            ACCURACY.model.isin([f"minilm{layers}-{task}-plain-s{s}" for s in range(3)])
            & (ACCURACY.strategy == "acc")
            & (ACCURACY.metric == metric)
        ]
        assert len(rows) == 3, (task, layers)
        return f"{rows['baseline'].mean():.1f}"

    mrpc = ACCURACY[
        ACCURACY.model.isin([f"minilm-mrpc-plain-s{s}" for s in range(3)])
        & (ACCURACY.strategy == "acc")
        & (ACCURACY.metric == "f1")
    ]
    mrpc_drop = mrpc["baseline"].mean() - min(mrpc[c].mean() for c in ("1.5x", "2x", "3x", "4x"))
    # "the envelope over depth and speedup is elimination at every speedup measured"
    envelope = pd.read_csv(BENCH_DIR / "accuracy_average_envelope.csv")
    latest = envelope[envelope.comparison.str.contains("sessions 5-9")]
    assert not latest.empty and not latest.suite.str.startswith("layer-drop").any()
    taught = "fusion-trained with the separate teacher, then one epoch at its searched profiles with it"
    # the levers with each task's epochs
    narrow = "the tuned chain without a teacher, trained at random:1-3 (both stages)"
    tuned_again = [HELD_OUT_CHAIN, RESEARCHED, TEACHER_AGAIN]  # session 16's chains: one more epoch too
    same_epochs = table.drop(index=[four, three, tuned, taught, narrow, CHOSEN, *tuned_again], level=0)
    assert same_epochs["sst2_drop_2x"].idxmin() == (best, "acc+fuse")
    assert same_epochs["sst2_drop_3x"].idxmin() == (fused, "acc+fuse")
    assert same_epochs["avg_drop_2x"].idxmin() == (best, "acc+fuse")
    for column in ("sst2_drop_2x", "sst2_drop_3x", "avg_drop_4x"):  # 2x and 3x: lowest_drop, in the prose
        best_of_all = {"sst2_drop_2x": taught, "avg_drop_4x": taught}
        assert table[column].idxmin() == (best_of_all.get(column, tuned), "acc+fuse"), column
    # the teacher chain's row: "behind ... at 2x and 3x and ahead at 4x, within the spread everywhere"
    for column in ("avg_drop_2x", "avg_drop_3x", "avg_drop_4x"):
        better, worse = (taught, tuned) if column == "avg_drop_4x" else (tuned, taught)
        drops = [table.loc[(lever, "acc+fuse"), column] for lever in (better, worse)]
        stds = [
            table.loc[(lever, "acc+fuse"), column.replace("drop_", "drop_std_")] for lever in (better, worse)
        ]
        assert ahead_within_spread(*drops, *stds), column
    assert_in_readme(
        [
            f"the model loses {pm(four, 'acc+fuse', 'avg_drop_2x')} points at 2x and {pm(four, 'acc+fuse', 'avg_drop_3x')} "
            f"at 3x on average (fusion on top), against {pm(best, 'acc+fuse', 'avg_drop_2x')} and "
            f"{pm(best, 'acc+fuse', 'avg_drop_3x')} for the best\n  elimination lever of the same number of epochs",
            f"and {pm(tuned, 'acc+fuse', 'avg_drop_2x')} and {pm(tuned, 'acc+fuse', 'avg_drop_3x')} for those models "
            f"tuned one more epoch at their searched profiles ({pm(CHOSEN, 'acc+fuse', 'avg_drop_2x')} and "
            f"{pm(CHOSEN, 'acc+fuse', 'avg_drop_3x')} with each task's training range chosen on a held-out train "
            f"slice; the lowest drops of all: {lowest_drop('avg_drop_2x')} at 2x, {lowest_drop('avg_drop_3x')} at 3x)",
            f"on the average at 2x and 3x ({pm(taught, 'acc+fuse', 'avg_drop_2x')} and {pm(taught, 'acc+fuse', 'avg_drop_3x')}) "
            f"and ahead at 4x ({pm(taught, 'acc+fuse', 'avg_drop_4x')} against {pm(tuned, 'acc+fuse', 'avg_drop_4x')}), "
            f"within the spread everywhere; on SST-2 alone it has the smallest 2x drop of the table "
            f"({pm(taught, 'acc+fuse', 'sst2_drop_2x')}).",
            f"and behind the models tuned one more epoch at their searched profiles "
            f"({pm(tuned, 'acc+fuse', 'sst2_drop_2x')} at 2x, {pm(tuned, 'acc+fuse', 'sst2_drop_3x')} at 3x)",
            f"{pm(three, 'acc', 'avg_drop_3x')} at 3x (ACC on top)",
            f"4 layers lose {pm(four, 'acc', 'sst2_drop_2x')} there at 2x (ACC on top) and "
            f"{pm(four, 'acc+fuse', 'sst2_drop_3x')} at 3x (fusion on top), within the seeds' spread of the best "
            f"elimination levers of the same\n  number of epochs ({pm(best, 'acc+fuse', 'sst2_drop_2x')} at 2x, a searched "
            f"profile with "
            f"fusion; {pm(fused, 'acc+fuse', 'sst2_drop_3x')} at 3x, fusion-trained)",
            f"Unpruned, STS-B's Pearson is {unpruned('stsb', 4)} with 4 layers and {unpruned('stsb', 3)} with 3 (6 layers: "
            f"{unpruned('stsb', '')}), CoLA's Matthews correlation {unpruned('cola', 4)} and {unpruned('cola', 3)} "
            f"({unpruned('cola', '')}), MRPC's F1 {unpruned('mrpc', 4)} and {unpruned('mrpc', 3)} ({unpruned('mrpc', '')}",
            f"the 6-layer model with ACC stays within {mrpc_drop:.1f} points of it up to 4x",
            f"a model cut to fewer layers does not reach them either ({pm(four, 'acc+fuse', 'avg_drop_2x')} at 2x and "
            f"{pm(four, 'acc+fuse', 'avg_drop_3x')} at 3x with 4 layers",
        ]
    )


def test_readme_accviz_commands_use_flags_the_cli_has():
    """Every ``accviz SUBCOMMAND --flag`` in the README's bash blocks parses: no renamed or dropped flag."""
    import argparse

    from accviz.cli import build_parser

    parser = build_parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    top_level = {o for a in parser._actions for o in a.option_strings}
    checked, wrong = 0, []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for command in re.split(r"[;\n]", block):
            found = re.match(
                r"(?:nohup |nice -n \d+ )*accviz ([a-z][a-z-]*)(.*)", command.split("#")[0].strip()
            )
            if found is None:
                continue
            name, rest = found.groups()
            if name not in subcommands:
                wrong.append(f"accviz {name}")
                continue
            flags = {o for a in subcommands[name]._actions for o in a.option_strings} | top_level
            wrong += [
                f"accviz {name} {f}" for f in re.findall(r"(?<!\S)(--[a-z0-9-]+)", rest) if f not in flags
            ]
            checked += 1
    assert checked >= 50 and not wrong, (checked, wrong)


def held_out_choice_phrases() -> list[str]:
    """What the README says of the range chosen per task on held-out train slices (session 15)."""
    table = pd.read_csv(BENCH_DIR / "held_out_choice.csv")
    tuned = "fusion-trained, then one epoch at its searched profiles"
    equal = "equal budget: the plain models one more epoch too (sessions 9-10)"
    family = {"random:1-4": "fuse3", "random:1-3": "fuse13t"}  # the full-train chains each range applies to

    def pm(suite, s, comparison=CHOICE):
        return drop_pm(comparison, suite, s)

    picks, clear, close, agree, disagree = [], [], [], [], []
    for task, rows in table.groupby("task", sort=False):
        won, lost = rows[rows["chosen"]].iloc[0], rows[~rows["chosen"]].iloc[0]
        picks.append(
            f"{TASK_NAMES[task]} {won['candidate']} ({won['score']:.2f} against {lost['score']:.2f})"
        )
        separated = abs(won["score"] - lost["score"]) > rows["spread"].max()
        (clear if separated else close).append(TASK_NAMES[task])
        dev = {
            f: searched_task_mean(task, f, "2x") + searched_task_mean(task, f, "3x") for f in family.values()
        }
        # dev scored as the slice is: the sum (so the mean) of 2x and 3x
        dev_agrees = dev[family[won["candidate"]]] > dev[family[lost["candidate"]]]
        (agree if dev_agrees else disagree).append(TASK_NAMES[task])
    return [
        "Chosen: " + ", ".join(picks) + ".",
        f"The two ranges' scores differ by more than either's spread over seeds on {listed(clear)}, by less on "
        f"{listed(close)}.",
        f"Dev's metric (the chains' sweeps, mean of 2x and 3x, as the slice's score) ranks the ranges as the slice "
        f"does on {listed(agree)}, the other way on {listed(disagree)}.",
        f"Against plain models given the same extra epoch, {pm(CHOSEN, '2x', equal)} at 2x and "
        f"{pm(CHOSEN, '3x', equal)} at 3x.",
        f"**{pm(CHOSEN, '2x')} at 2x**, {pm(CHOSEN, '3x')} at 3x and {pm(CHOSEN, '4x')} at 4x, against "
        f"{pm(tuned, '2x')}, {pm(tuned, '3x')} and {pm(tuned, '4x')} for the chain at 1-4x on every task",
        f"{versus(CHOICE, CHOSEN, tuned)}; ≤ 0.75 points up to {reach(CHOICE, CHOSEN)}",
    ]


def test_readme_held_out_choice_prose_is_the_stored_choice():
    """Under "Every GLUE task": the range chosen per task on held-out train slices, and what it gives."""
    assert average(CHOICE, CHOSEN, "acc+fuse", "seeds") == 3
    assert_in_readme(held_out_choice_phrases())


SEARCH_AGAIN = "the tuned chain's search: held out, or run again after its second stage (session 16)"
HELD_OUT_CHAIN = (
    "the tuned chain at the chosen ranges, trained without 600 train examples and searched on them"
)
NARROW_CHAIN = "the tuned chain without a teacher, trained at random:1-3 (both stages)"
RESEARCHED = "the tuned chain at random:1-3, searched again after its second stage"
TEACHER_CHAIN = "fusion-trained with the separate teacher, then one epoch at its searched profiles with it"
TEACHER_AGAIN = "the tuned chain with the separate teacher, searched again after its second stage"
METRIC_NAMES = {
    "sst2": "SST-2's accuracy",
    "mrpc": "MRPC's F1",
    "stsb": "STS-B's Pearson",
    "cola": "CoLA's Matthews correlation",
}


def search_again_phrases() -> list[str]:
    """What the README says of session 16's variants of the tuned chain's search."""
    suites = comparison_suites(SEARCH_AGAIN)
    equal = "equal budget: the plain models one more epoch too (sessions 9-10)"

    def pm(suite, s, comparison=SEARCH_AGAIN):
        return drop_pm(comparison, suite, s)

    def task_mean(suite, task, column):  # the task's primary metric, mean of the suite's seeds
        assert len(suites[suite][task]) == 3, (suite, task)
        return f"{models_metric(suites[suite][task], task, column).mean():.1f}"

    def per_task(new, old, tasks, column):
        said = [
            f"{METRIC_NAMES[t]} {task_mean(new, t, column)} against {task_mean(old, t, column)}"
            for t in tasks
        ]
        return ", ".join(said[:-1]) + " and " + said[-1]

    def three(suite):
        return f"{pm(suite, '2x')} at 2x, {pm(suite, '3x')} at 3x and {pm(suite, '4x')} at 4x"

    assert all(
        average(SEARCH_AGAIN, s, "acc+fuse", "seeds") == 3
        for s in (HELD_OUT_CHAIN, RESEARCHED, TEACHER_AGAIN)
    )
    return [
        f"**{pm(HELD_OUT_CHAIN, '2x')} at 2x**, {pm(HELD_OUT_CHAIN, '3x')} at 3x and {pm(HELD_OUT_CHAIN, '4x')} at "
        f"4x, against {three(CHOSEN)} for the full-train chains: {versus(SEARCH_AGAIN, HELD_OUT_CHAIN, CHOSEN)}; ≤ 0.75 points up "
        f"to {reach(SEARCH_AGAIN, HELD_OUT_CHAIN)}.",
        f"At 2x (means of three seeds), {per_task(HELD_OUT_CHAIN, CHOSEN, ('stsb', 'mrpc', 'cola'), '2x')}.",
        f"Against plain models given the same extra epoch, {pm(HELD_OUT_CHAIN, '2x', equal)} at 2x.",
        f"{pm(RESEARCHED, '2x')} at 2x, **{pm(RESEARCHED, '3x')} at 3x** and {pm(RESEARCHED, '4x')} at 4x, against "
        f"{three(NARROW_CHAIN)} at the first search's profiles: {versus(SEARCH_AGAIN, RESEARCHED, NARROW_CHAIN)}; ≤ 0.75 points up "
        f"to {reach(SEARCH_AGAIN, RESEARCHED)} ({reach(SEARCH_AGAIN, NARROW_CHAIN)} at the first search's).",
        f"At 3x, {per_task(RESEARCHED, NARROW_CHAIN, ('sst2', 'mrpc', 'stsb', 'cola'), '3x')}.",
        f"The chain with the separate teacher, searched again the same way: {three(TEACHER_AGAIN)}, against "
        f"{three(TEACHER_CHAIN)}: {versus(SEARCH_AGAIN, TEACHER_AGAIN, TEACHER_CHAIN)}.",
        f"Against plain models given the same extra epoch, {pm(RESEARCHED, '2x', equal)} at 2x and "
        f"{pm(RESEARCHED, '3x', equal)} at 3x (the chain at 1-3x searched again), {pm(TEACHER_AGAIN, '3x', equal)} "
        f"at 3x (with the teacher).",
        f"the chain at 1-3x searched again after its second stage loses {pm(RESEARCHED, '3x')} points at 3x "
        f"(the ≤ 2.0 goal at 3x: "
        f"{verdict(*(average(SEARCH_AGAIN, RESEARCHED, 'acc+fuse', c) for c in ('drop_3x', 'drop_std_3x')), 2.0)})",
    ]


def test_readme_search_again_prose_is_the_stored_average():
    """Under "Every GLUE task": the tuned chain's search held out, or run again (session 16); the
    lowest 3x drop, said in the goals paragraph and the limitations."""
    phrases = search_again_phrases()
    assert_in_readme(phrases)
    assert FLAT_README.count(flat(phrases[-1])) == 2
    ablation = pd.read_csv(BENCH_DIR / "ablation.csv")
    assert ablation.loc[ablation["avg_drop_3x"].idxmin(), "suite"] == RESEARCHED  # "the lowest drop at 3x"
    # "STS-B gains, MRPC and CoLA lose on the mean; only CoLA's loss holds on every seed" (2x, per seed)
    suites = comparison_suites(SEARCH_AGAIN)
    gains = {
        t: models_metric(suites[HELD_OUT_CHAIN][t], t, "2x") - models_metric(suites[CHOSEN][t], t, "2x")
        for t in ("stsb", "mrpc", "cola")
    }
    assert gains["stsb"].mean() > 0 > gains["mrpc"].mean() and gains["cola"].mean() < 0
    assert (gains["cola"] < 0).all() and (gains["stsb"] < 0).any() and (gains["mrpc"] > 0).any()
    assert_in_readme(["STS-B gains, MRPC and CoLA lose on the mean; only CoLA's loss holds on every seed"])


SST2_2K = "SST-2: the second search on 2,000 held-out sentences (session 16)"
RESEARCHED_2K = RESEARCHED + ", on 2,000 sentences (at 2x and 3x)"


def test_readme_sst2_search_on_2000_sentences_is_the_stored_average():
    """Under "Every GLUE task": SST-2's second search on 2,000 held-out sentences instead of 600."""

    def pm(suite, s):
        return drop_pm(SST2_2K, suite, s)

    assert average(SST2_2K, RESEARCHED_2K, "acc+fuse", "seeds") == 3
    drop3, std3 = (average(SST2_2K, RESEARCHED_2K, "acc+fuse", c) for c in ("drop_3x", "drop_std_3x"))
    assert_in_readme([
        f"loses {pm(RESEARCHED_2K, '2x')} at 2x and {pm(RESEARCHED_2K, '3x')} at 3x on SST-2, against "
        f"{pm(RESEARCHED, '2x')} and {pm(RESEARCHED, '3x')} searched again on 600 and {pm(NARROW_CHAIN, '2x')} and "
        f"{pm(NARROW_CHAIN, '3x')} at the first search's profiles: "
        f"{versus(SST2_2K, RESEARCHED_2K, RESEARCHED, speedups=('2x', '3x'))} "
        f"against the search on 600 (the ≤ 1.5 goal at 3x: {verdict(drop3, std3, 1.5)})",
    ])  # fmt: skip
