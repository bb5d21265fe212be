"""Compare (inside Explore): the same input under a second setting, another strategy or another model.

UI only: ``accviz.explain.compare`` aligns the two analyses, ``accviz.figures.plots`` draws them.
The second analysis goes through Explore's own path (its ``_analyze``: the server's bounded cache
and analysis queue), so a setting one visitor compares is a cache hit for the next.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import streamlit as st

from accviz.errors import AccvizError
from accviz.explain.compare import compare_analyses
from accviz.figures import comparison as comparison_figures
from accviz.method.scoring import choose_strategy, strategy_description, strategy_label
from app import background, resources, state

KINDS = ("another strategy", "another model")
PREFERRED_STRATEGY = "attention"  # PoWER-BERT's: the peer ACC is most often held against


def _prediction_text(prediction) -> str:
    return f"{prediction.score:.3f}" if prediction.score is not None else str(prediction.label)


def _prediction_delta(analysis) -> str:
    confidence = "" if analysis.pruned.probability is None else f"p = {analysis.pruned.probability:.1%} · "
    return f"{confidence}unpruned: {_prediction_text(analysis.unpruned)}"


def _short_name(reference: str) -> str:
    return Path(reference).name or reference


def _reaching_last_layer(only, tokens) -> str:
    """The tokens of ``only`` (L, T) kept after layer L - 1: what the last layer's [CLS] query reads."""
    if only.shape[0] < 2:  # one layer: every token enters it
        return "—"
    return " ".join(f"`{tokens[j]}`" for j in only[-2].nonzero()[0]) or "—"


def _other_strategy(selection):
    """Setting B with another strategy, and the two settings' names."""
    others = [name for name in state.strategy_choices() if name != selection.strategy.name]
    if st.session_state.get("compare_strategy") not in others:  # first visit, or the sidebar took it
        st.session_state["compare_strategy"] = (
            PREFERRED_STRATEGY if PREFERRED_STRATEGY in others else others[0]
        )
    other = st.selectbox("Strategy B", others, key="compare_strategy", format_func=strategy_description)
    chosen = choose_strategy(other)  # one of the picker's names, resolved once here
    return replace(selection, strategy=chosen), (
        strategy_label(selection.strategy.name),
        strategy_label(other),
    )


def _other_model(selection):
    """Setting B with another model (same strategy) and the two names, or None with the reason shown.

    The same choices as the sidebar's: on an exposed server only the listed models (cached
    checkpoints and the allow-list), elsewhere also a path or hub id."""
    choices = [choice for choice in resources.model_choices() if choice.reference != selection.reference]
    labels = [choice.label for choice in choices]
    reference = None
    if labels:  # nothing picked at first: picking the default model may start its fine-tune
        picked = st.selectbox("Model B", labels, index=None, key="compare_model", placeholder="pick a model…")
        reference = None if picked is None else choices[labels.index(picked)].reference
    exposed = resources.server_is_exposed()
    if not exposed:
        custom = st.text_input("…or a local checkpoint path / hub id", key="compare_model_custom").strip()
        reference = custom or reference
    if reference is None:
        st.info(
            "Pick a model to compare with."
            if labels or not exposed
            else "This server offers no other model to compare with."
        )
        return None
    names = (_short_name(selection.reference), _short_name(reference))
    if names[0] == names[1]:
        names = (f"{names[0]} (A)", f"{names[1]} (B)")
    try:  # as the sidebar does: the default model not yet fine-tuned runs as its pretrained encoder
        reference, note = background.ensure_default_model(reference)
        loaded = resources.load_model_cached(reference, selection.allow_pickle, selection.int8)
    except AccvizError as error:
        st.error(f"Cannot use this model: {error}")
        return None
    if note is None and loaded.head_initialised:
        note = "not available: this checkpoint has no trained classifier head (accviz gave it a random one)"
    return replace(selection, loaded=loaded, reference=reference, predictions_note=note), names


def render_compare(
    selection, text_a: str, text_b: str | None, speedup: float, first_analysis, analyze: Callable
) -> None:
    """Setting A (the sidebar's, already analysed as ``first_analysis``) next to a setting B picked
    here; ``analyze(selection, text_a, text_b, speedup)`` is Explore's cached, queued analysis."""
    kind = st.radio("Setting B: the same input with", KINDS, key="compare_kind", horizontal=True)
    picked = _other_strategy(selection) if kind == KINDS[0] else _other_model(selection)
    if picked is None:
        return
    second_selection, (name_a, name_b) = picked
    try:
        second = analyze(second_selection, text_a, text_b, speedup)
        comparison = compare_analyses(first_analysis, second, name_a=name_a, name_b=name_b)
    except AccvizError as error:
        st.error(str(error))
        return

    columns = st.columns(3)
    shown = selection.predictions_label is None and second_selection.predictions_label is None
    for column, name, setting, analysis in (
        (columns[0], f"A · {name_a}", selection, first_analysis),
        (columns[1], f"B · {name_b}", second_selection, second),
    ):
        if setting.predictions_label is not None:  # no trained head (yet): no prediction to show
            column.metric(name, setting.predictions_label, help=f"Predictions: {setting.predictions_note}.")
            continue
        agreement = ""
        if analysis is second and shown:
            agreement = "agrees with A · " if comparison.predictions_agree else "differs from A · "
        column.metric(
            name,
            _prediction_text(analysis.pruned),
            delta=agreement + _prediction_delta(analysis),
            delta_color="inverse" if agreement.startswith("differs") else "off",
        )
    columns[2].metric(
        "Mean kept-set overlap",
        f"{comparison.overlap.mean():.2f}",
        delta=f"lowest {comparison.overlap.min():.2f}, after layer {int(comparison.overlap.argmin()) + 1}",
        delta_color="off",
    )
    st.plotly_chart(
        comparison_figures.comparison_heatmap(comparison),
        key="compare_heatmap",
        config=state.figure_config("compare-heatmap"),
    )
    left, right = st.columns([1, 1])
    left.plotly_chart(
        comparison_figures.overlap_per_layer(comparison),
        key="compare_overlap",
        config=state.figure_config("compare-overlap"),
    )
    tokens = comparison.tokens
    right.markdown(
        "**Overlap** after layer l: |A ∩ B| / |A ∪ B| of the word-vectors each setting keeps (1 = the "
        "same set).\n\n"
        f"**Reach the last layer with {name_a} only:** {_reaching_last_layer(comparison.only_a, tokens)}\n\n"
        f"**Reach the last layer with {name_b} only:** {_reaching_last_layer(comparison.only_b, tokens)}"
    )
