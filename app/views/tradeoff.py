"""Trade-off: the target-speedup slider against FLOPs, measured latency and accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from accviz.data.batching import encode_split, pad_batch
from accviz.data.tasks import TaskSpec
from accviz.errors import AccvizError
from accviz.figures import costs
from accviz.measure.ablation import glance_table
from accviz.measure.bench_int8 import predict_speedup
from accviz.measure.evaluate import evaluate_split
from accviz.measure.latency import forward_runs, interleaved_latency, measured_speedup
from accviz.method.flops import estimate_flops, unpruned_flops
from accviz.method.pruned import PrunedBert
from accviz.method.scoring import ChosenStrategy, strategy_label
from accviz.method.search import read_searched, solve_in_family
from accviz.results import list_sweeps, primary_metric_rows, read_sweep
from app import background, resources, state

LATENCY_BATCH = 32
LATENCY_REPEATS = 5


@st.cache_data(show_spinner=False, max_entries=64)
def _encoded_lengths(reference: str, allow_pickle: bool, task: str, n: int, _spec: TaskSpec):
    data, error = state.dev_split(_spec)  # cached by the task's name; the spec is not hashed
    if data is None:
        return None, error
    loaded = resources.load_model_cached(reference, allow_pickle)
    subset = data.subset(min(n, len(data)), seed=0)
    encoded = encode_split(loaded.tokenizer, subset.texts_a, subset.texts_b, subset.labels, max_length=128)
    return encoded.lengths, None


def _builtin_lengths(tokenizer) -> list[int]:
    """The token counts of the built-in examples (``background.BUILTIN_EXAMPLES``)."""
    texts_a = [a for a, _ in background.BUILTIN_EXAMPLES]
    return encode_split(tokenizer, texts_a, None, [0] * len(texts_a), max_length=128).lengths


def _searched(reference: str):
    """The model's searched profiles (accviz search-profile), or None. Not cached: a small file that
    may appear while the server runs."""
    try:
        return read_searched(Path(reference))
    except AccvizError:
        return None


def _solve(config, lengths, speedup: float, family: str, reference: str, strategy: ChosenStrategy):
    searched = _searched(reference) if family == "searched" else None
    return solve_in_family(config, lengths, speedup, family=family, fuse=strategy.fuse, searched=searched)


def _live_accuracy(
    reference: str,
    allow_pickle: bool,
    int8: bool,
    spec: TaskSpec,
    n: int,
    speedup: float,
    strategy: ChosenStrategy,
    family: str = "geometric",
):
    data, error = state.dev_split(spec)
    if data is None:
        raise AccvizError(error)
    loaded = resources.load_model_cached(reference, allow_pickle, int8)
    subset = data.subset(min(n, len(data)), seed=0)
    searched = _searched(reference) if family == "searched" else None
    return evaluate_split(
        loaded.model, loaded.tokenizer, subset, target_speedup=speedup, strategy=strategy, family=family,
        searched=searched,
    )  # fmt: skip


def _measured_latency(
    reference: str,
    allow_pickle: bool,
    int8: bool,
    spec: TaskSpec,
    speedup: float,
    strategy: ChosenStrategy,
    family: str,
):
    """Interleaved latency of the fp32 unpruned model and the pruned one (int8 weights if asked)."""
    data, error = state.dev_split(spec)
    if data is None:
        raise AccvizError(error)
    loaded = resources.load_model_cached(reference, allow_pickle)
    running = resources.load_model_cached(reference, allow_pickle, int8).model
    subset = data.subset(min(LATENCY_BATCH, len(data)), seed=1)
    encoded = encode_split(loaded.tokenizer, subset.texts_a, subset.texts_b, subset.labels, max_length=128)
    batch = pad_batch(encoded, range(len(encoded)), pad_id=loaded.tokenizer.pad_token_id or 0)
    solved = _solve(loaded.model.config, encoded.lengths, speedup, family, reference, strategy)
    inputs = (batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    runs = forward_runs(
        {"unpruned": loaded.model},
        PrunedBert(running),
        inputs,
        {"pruned": solved.profile},
        strategy.new_scorer(),
    )
    return interleaved_latency(runs, repeats=LATENCY_REPEATS, warmup=1), solved.estimated_speedup


def _flops_per_example(pruned_flops: int, baseline_flops: int, count: int) -> tuple[tuple[str, str], str]:
    """('value', 'change') per example in GFLOPs, or MFLOPs for small models."""
    scale, unit = (1e9, "GFLOPs") if baseline_flops / count >= 1e8 else (1e6, "MFLOPs")
    value = pruned_flops / count / scale
    change = (pruned_flops - baseline_flops) / count / scale
    return (f"{value:.3f}", f"{change:+.3f}"), unit


def _predicted_latency(config, lengths, profile, int8: bool) -> None:
    """The calibrated predictor's speedup for this profile and precision (from ``bench int8``)."""
    try:
        predicted = predict_speedup(
            resources.cached_runs_dir() / "bench", config, lengths, profile, int8, LATENCY_BATCH
        )
    except AccvizError as error:
        st.caption(f"No calibrated latency prediction: {error}")
        return
    if predicted is None:
        st.caption(
            "No calibrated latency prediction for this encoder shape (`python -m accviz.bench int8` fits "
            "BERT-base and MiniLM-L6)."
        )
        return
    speedup, fitted_on = predicted
    weights = "int8" if int8 else "fp32"
    st.metric(
        f"Predicted speedup ({weights} weights, batches of {LATENCY_BATCH}, vs fp32 unpruned)",
        f"{speedup:.2f}x",
        help=f"The latency predictor calibrated by `python -m accviz.bench int8` on {fitted_on}: "
        "per-term costs fit on measured runs, including the fixed per-layer cost the FLOPs model ignores.",
    )


def _bench_fidelity_table() -> None:
    """The cached speedup benchmark (python -m accviz.bench speedup), as measured on its machine."""
    folder = resources.cached_runs_dir() / "bench"
    table_path, card_path = folder / "speedup.csv", folder / "speedup.json"
    if not table_path.exists():
        return
    with st.expander("Does the estimate hold? The cached speedup benchmark (BERT-base shapes)"):
        try:
            table = pd.read_csv(table_path)
            card = json.loads(card_path.read_text()) if card_path.exists() else {}
            columns = [
                "batch_size",
                "variant",
                "estimated_speedup",
                "measured_speedup",
                "measured_over_estimated",
            ]
            st.dataframe(table[columns].round(2), hide_index=True, key="tradeoff_bench")
            predictor_path = folder / "fidelity_predictor.csv"
            if predictor_path.exists():
                st.markdown(
                    "**Calibrated latency predictor** (`python -m accviz.bench fidelity`): per-term costs fit on "
                    "measured runs; its error on held-out profiles, and the fixed cost per layer that "
                    "eliminating word-vectors cannot remove"
                )
                predictor = pd.read_csv(predictor_path)
                shown = ["fit_on", "runs", "held_out_profiles_error_percent", "layer_ms"]
                st.dataframe(predictor[shown].round(2), hide_index=True, key="tradeoff_bench_predictor")
        except (ValueError, KeyError, OSError) as error:
            st.warning(f"The cached benchmark table cannot be read: {error}")
            return
        machine = card.get("machine", {})
        st.caption(
            f"From `{card.get('command', 'python -m accviz.bench speedup')}` on {machine.get('cpu_model', '?')} "
            f"({machine.get('cores', '?')} cores, {machine.get('torch_threads', '?')} torch threads), {card.get('created', '?')}."
        )


def _bench_glance() -> None:
    """The frontier at a glance: the ablation's lowest drop at each speedup and the issue's goals."""
    path = resources.cached_runs_dir() / "bench" / "ablation.csv"
    if not path.exists():
        return
    try:
        glance = glance_table(pd.read_csv(path))
    except (ValueError, KeyError, OSError) as error:
        st.warning(f"The cached ablation table cannot be read: {error}")
        return
    if glance.empty:
        return
    st.markdown(
        "**The frontier at a glance**: the lowest drop any lever reached on the dev sets (points below the "
        "plain models; average over SST-2, MRPC, STS-B and CoLA, or SST-2 alone; three seeds, ± their "
        "standard deviation) and the goals of the frontier issue. Picked on the dev sets it reports."
    )
    shown = glance.assign(
        drop=glance["drop"].round(2),
        drop_std=glance["drop_std"].round(2),
        strategy=glance["strategy"].map(strategy_label),
        goal=[f"≤ {goal:g}" if np.isfinite(goal) else "–" for goal in glance["goal"]],
    )
    st.dataframe(shown, hide_index=True, key="tradeoff_glance")


def _bench_accuracy_tables() -> None:
    """The cached accuracy benchmark (python -m accviz.bench accuracy): every task and strategy."""
    folder = resources.cached_runs_dir() / "bench"
    table_path, average_path = folder / "accuracy.csv", folder / "accuracy_average.csv"
    if not table_path.exists():
        return
    with st.expander("Every task and strategy: the cached accuracy benchmark"):
        try:
            primary = primary_metric_rows(pd.read_csv(table_path))
            st.dataframe(primary.round(2), hide_index=True, key="tradeoff_bench_accuracy")
            if average_path.exists():
                st.markdown(
                    "**Average drop over tasks** (points below the plain model's unpruned value; the paper's criterion is ≤ 0.75)"
                )
                st.dataframe(
                    pd.read_csv(average_path).round(2), hide_index=True, key="tradeoff_bench_average"
                )
            envelope_path = folder / "accuracy_average_envelope.csv"
            if envelope_path.exists():
                st.markdown(
                    "**The best suite at each speedup** (smallest average drop per comparison; with the "
                    "layer-drop suites, the best pair of depth and elimination for that target, picked on dev)"
                )
                st.dataframe(
                    pd.read_csv(envelope_path).round(2),
                    hide_index=True,
                    key="tradeoff_bench_average_envelope",
                )
            card_path = folder / "accuracy.json"
            card = json.loads(card_path.read_text()) if card_path.exists() else {}
        except (ValueError, KeyError, OSError, AttributeError) as error:
            st.warning(f"The cached accuracy benchmark cannot be read: {error}")
            return
        st.caption(
            f"From `{card.get('command', 'python -m accviz.bench accuracy')}`, {card.get('created', '?')}."
        )


def _bench_frontier(speedup: float) -> None:
    """The stored frontier (python -m accviz.bench frontier): every lever over seeds, and the best one
    at the stored speedup nearest the slider."""
    folder = resources.cached_runs_dir() / "bench"
    table_path, envelope_path = folder / "frontier.csv", folder / "frontier_envelope.csv"
    if not table_path.exists() or not envelope_path.exists():
        return
    with st.expander("The frontier: which lever wins at each speedup (fine-tuning seeds averaged)"):
        try:
            envelope = pd.read_csv(envelope_path)
            table = pd.read_csv(table_path)
            nearest = envelope.iloc[(envelope["speedup"] - speedup).abs().argsort().iloc[0]]
        except (ValueError, KeyError, OSError, IndexError) as error:
            st.warning(f"The stored frontier cannot be read: {error}")
            return
        st.markdown(
            f"Nearest stored speedup to the slider, **{nearest['speedup']:g}x**: best lever "
            f"**{nearest['best_lever']}**, {nearest['value']:.1f} ({nearest['drop']:+.2f} points below the "
            "unpruned value of the plain model trained on the same budget, its `baseline`; positive = a drop)."
        )
        st.dataframe(envelope.round(2), hide_index=True, key="tradeoff_frontier_envelope")
        shown = [c for c in ("lever", "strategy", "seeds", "unpruned", "baseline") if c in table] + [
            c for c in table.columns if c.startswith("drop_")
        ]
        st.dataframe(table[shown].round(2), hide_index=True, key="tradeoff_frontier")


def _runs_fingerprint(root) -> tuple:
    """(path, size, mtime) of every cached sweep file: the cache key that notices any change."""
    files = [d / name for d in list_sweeps(root) for name in ("sweep.csv", "card.json")]
    return tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.exists())


@st.cache_data(show_spinner=False, max_entries=8)
def _read_sweeps(root: str, fingerprint: tuple):
    """Every readable sweep (table, card) and the reason for each unreadable one."""
    readable, problems = [], []
    for directory in list_sweeps(root):
        try:
            readable.append(read_sweep(directory))
        except AccvizError as error:
            problems.append(str(error))
    return readable, problems


def _matching_sweep(model_name: str, task: str):
    """The cached sweep of this model and task, else any sweep of the task (said so), else None."""
    root = resources.cached_runs_dir()
    readable, problems = _read_sweeps(str(root), _runs_fingerprint(root))
    for problem in problems:
        st.warning(f"Skipping a cached run that cannot be read: {problem}")
    candidates = [
        (card.get("model") == model_name, table, card) for table, card in readable if card.get("task") == task
    ]
    candidates.sort(key=lambda c: not c[0])
    return candidates[0] if candidates else None


def render() -> None:
    selection = state.sidebar()
    loaded, spec, strategy = selection.loaded, selection.spec, selection.strategy
    st.title("Speedup against accuracy")
    st.caption(
        "Move the slider: the FLOPs model re-plans the elimination; latency and accuracy are measured live."
    )
    speedup = state.speedup_slider("tradeoff_speedup")
    state.share_link(selection, speedup)
    n_live = st.number_input(
        f"Dev examples for the live accuracy (at most {resources.max_live_examples()})",
        min_value=16,
        max_value=resources.max_live_examples(),
        value=min(200, resources.max_live_examples()),
        step=16,
        key="tradeoff_examples",
    )
    pending = background.embedded_data_pending(spec)
    if pending:  # the embedded dev data is still downloading: FLOPs on the built-in examples meanwhile
        lengths = _builtin_lengths(loaded.tokenizer)
        st.info(
            f"The dev data is still downloading in the background (see the sidebar): the FLOPs below are "
            f"on the {len(lengths)} built-in examples until it is there; latency and accuracy are measured then."
        )
    else:
        lengths, error = _encoded_lengths(
            selection.reference, selection.allow_pickle, spec.name, int(n_live), spec
        )
    if lengths is None:
        st.error(f"No dev data for {spec.display_name}: {error}")
        return

    families = ["geometric", "tilt"] + (["searched"] if _searched(selection.reference) is not None else [])
    family = st.selectbox(
        "Profile family",
        families,
        key="tradeoff_family",
        help="geometric r_l = (1-β)^l (default); tilt r_l = max(0.05, 1-αl/L); searched: per-layer ratios "
        "searched for this model and task on held-out train examples (accviz search-profile), interpolated.",
    )

    # 1. the estimate: instant
    solved = _solve(loaded.model.config, lengths, speedup, family, selection.reference, strategy)
    baseline = unpruned_flops(loaded.model.config, lengths)
    pruned_estimate = estimate_flops(loaded.model.config, lengths, solved.profile)
    if solved.message:
        st.warning(solved.message)
    columns = st.columns(4)
    columns[0].metric("Estimated speedup", f"{solved.estimated_speedup:.2f}x")
    per_example, unit = _flops_per_example(pruned_estimate.total_flops, baseline.total_flops, len(lengths))
    columns[1].metric(f"{unit} per example", per_example[0], delta=per_example[1], delta_color="inverse")
    columns[2].metric("Free part ([CLS]-only last layer)", f"{solved.exact_last_layer_speedup:.2f}x")
    columns[3].metric("Most this profile reaches", f"{solved.max_speedup:.2f}x")
    st.plotly_chart(
        costs.flops_breakdown_bar(baseline, pruned_estimate),
        key="tradeoff_flops",
        config=state.figure_config("tradeoff-flops"),
    )
    _predicted_latency(loaded.model.config, lengths, solved.profile, selection.int8)

    # 2. measured: one visitor at a time
    live = st.toggle("Measure latency and accuracy live", value=True, key="tradeoff_live")
    result = None
    if live and not pending:
        # heavy jobs: one at a time per server, in the measurement queue; results cached by bytes
        where = (selection.reference, selection.allow_pickle, selection.int8, spec)
        try:
            with st.spinner("Measuring latency (interleaved runs)…"):
                stats, estimated = resources.cached_in_line(
                    ("latency", *where, speedup, strategy, family),
                    lambda: _measured_latency(*where, speedup, strategy, family),
                    "measurement",
                )
            if not selection.predictions_label:  # an untrained head's accuracy is not shown
                with st.spinner(f"Scoring {int(n_live)} dev examples…"):
                    result = resources.cached_in_line(
                        ("accuracy", *where, int(n_live), speedup, strategy, family),
                        lambda: _live_accuracy(*where, int(n_live), speedup, strategy, family),
                        "measurement",
                    )
        except AccvizError as error:
            st.error(str(error))
            return
        measured = measured_speedup(stats["unpruned"], stats["pruned"])
        columns = st.columns(4)
        weights = "int8" if selection.int8 else "fp32"
        columns[0].metric(f"Measured speedup ({weights}, batch of 32, vs fp32 unpruned)", f"{measured:.2f}x")
        columns[1].metric("Measured / estimated", f"{measured / estimated:.2f}")
        if result is None:
            columns[2].metric(
                f"{spec.primary_metric} (live)",
                selection.predictions_label,
                help=f"Accuracy: {selection.predictions_note}.",
            )
        else:
            columns[2].metric(
                f"{spec.primary_metric} (live, {result.n_examples} ex.)", f"{result.primary_value:.1f}"
            )
            columns[3].metric("Mean word-vectors kept (last scored layer)",
                              f"{result.mean_kept_per_layer[-2]:.1f} of {result.mean_length:.1f}")  # fmt: skip
        st.plotly_chart(
            costs.latency_box(stats), key="tradeoff_latency", config=state.figure_config("tradeoff-latency")
        )

    _bench_fidelity_table()
    _bench_glance()
    _bench_accuracy_tables()
    _bench_frontier(speedup)

    # 3. the whole curve, from cached_runs/
    match = _matching_sweep(Path(selection.reference).name, spec.name)
    if match is None:
        st.info(
            f"No cached sweep for {spec.display_name} yet: `accviz sweep --task {spec.name} --model …` writes one."
        )
        return
    same_model, table, card = match
    note = "" if same_model else " — a different model than the one selected"
    st.subheader("Accuracy against speedup, every strategy")
    st.caption(
        f"From cached_runs: model {card.get('model')}, task {card.get('task')}, {card.get('n_examples')} "
        f"{card.get('split')} examples from {card.get('source')}, run {card.get('created')}{note}."
    )
    st.plotly_chart(
        costs.tradeoff_curve(table, current_speedup=speedup, metric=spec.primary_metric),
        key="tradeoff_curve",
        config=state.figure_config("tradeoff-curve"),
    )
    cached = table[(table.strategy == strategy.name) & (table.metric == spec.primary_metric)]
    if len(cached):
        nearest = cached.iloc[(cached.target_speedup - speedup).abs().argsort().iloc[0]]
        text = f"Cached full-dev {spec.primary_metric} for {strategy.name} at {nearest.target_speedup:g}x: **{nearest.value:.1f}**"
        if result is not None:
            text += f" (live subset: {result.primary_value:.1f})"
        st.markdown(text)
