"""Explore: one input, live. Which word-vectors each layer keeps, and whether the answer changes."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from accviz.errors import AccvizError
from accviz.explain.analysis import analysis_csv, analysis_json, analyze_text
from accviz.figures import plots
from accviz.store.safety import clip_text
from app import background, resources, state
from app.views import compare

EXAMPLE_COUNT = 6
SURVIVORS_INLINE = 40  # more tokens than this reach the last layer: a collapsed list


def _analyze(selection, text_a: str, text_b: str | None, speedup: float, *, attentions: bool = False):
    """This input's analysis; cached (bounded by bytes) without attention maps, which the head
    view recomputes on demand: one 512-token input's maps are ~75 MiB with MiniLM."""
    spec = selection.spec

    def compute():
        loaded = resources.load_model_cached(selection.reference, selection.allow_pickle, selection.int8)
        return analyze_text(
            loaded.model,
            loaded.tokenizer,
            text_a,
            text_b,
            target_speedup=speedup,
            strategy=selection.strategy,
            label_names=tuple(spec.label_names) or None,
            is_regression=spec.is_regression,
            output_attentions=attentions,
        )

    if attentions:  # large and shown once: computed in its turn, never cached
        with resources.in_line("analysis"):
            return compute()
    key = ("analysis", selection.reference, selection.allow_pickle, selection.int8, spec.name,
           text_a, text_b, float(speedup), selection.strategy.name)  # fmt: skip
    return resources.cached_in_line(key, compute, "analysis")


def _examples(spec) -> list[tuple[str, str | None]]:
    data, _ = state.dev_split(spec)
    if data is None:  # no dev data (yet: the embedded data may still be downloading)
        return list(background.BUILTIN_EXAMPLES)
    picked = data.subset(min(EXAMPLE_COUNT, len(data)), seed=3)
    texts_b = picked.texts_b or [None] * len(picked.texts_a)
    return list(zip(picked.texts_a, texts_b, strict=True))


def _prediction_text(prediction) -> str:
    return f"{prediction.score:.3f}" if prediction.score is not None else str(prediction.label)


def _confidence(prediction) -> str | None:
    return None if prediction.probability is None else f"p = {prediction.probability:.1%}"


def _survivors(container, analysis) -> None:
    """The tokens that reach the last layer: inline, or in a collapsed list when there are many."""
    tokens = " ".join(f"`{t}`" for t in analysis.survivors)
    if len(analysis.survivors) <= SURVIVORS_INLINE:
        container.markdown("**Survive to the last layer:** " + tokens)
    else:
        label = f"Survive to the last layer: {len(analysis.survivors)} word-vectors"
        container.expander(label, expanded=False).markdown(tokens)


def _downloads(container, selection, analysis, text_a: str, text_b: str | None) -> None:
    """This analysis, every layer of it, as JSON and as CSV (``accviz.explain.analysis``)."""
    reference = Path(selection.reference)
    about = {
        "model": reference.name if reference.is_absolute() or reference.exists() else selection.reference,
        "task": selection.spec.name,
        "weights": "int8" if selection.int8 else "fp32",
    }
    container.markdown("**Download this analysis** (tokens, per-layer scores and ranks, predictions):")
    left, right = container.columns(2)
    shown = selection.predictions_note is None  # an untrained head's predictions are not exported
    left.download_button("JSON", lambda: analysis_json(analysis, {**about, "text": text_a, "text_b": text_b},
                                                       predictions=shown),
                         file_name="accviz-analysis.json", mime="application/json", on_click="ignore",
                         key="explore_download_json", icon=":material/download:")  # fmt: skip
    right.download_button("CSV", lambda: analysis_csv(analysis, about, predictions=shown), file_name="accviz-analysis.csv",
                          mime="text/csv", on_click="ignore", key="explore_download_csv",
                          icon=":material/download:")  # fmt: skip


def render() -> None:
    selection = state.sidebar()
    spec = selection.spec
    st.title("Explore one input")
    st.caption(
        "Each layer scores its word-vectors, keeps [CLS] and the best-scoring ones, and drops the rest "
        "before its feed-forward block. Grey cells: the word-vector had already been eliminated."
    )
    examples = _examples(spec)
    own = "(type your own)"
    labels = [own] + [a if b is None else f"{a} ‖ {b}" for a, b in examples]
    link = st.session_state.pop("link_text", None)  # a shared link's text (state.apply_link)
    if link is not None:
        st.session_state["explore_example"] = own
        st.session_state[f"explore_a_{own}"], st.session_state[f"explore_b_{own}"] = link[0], link[1] or ""
    if st.session_state.get("explore_example") not in labels:  # first visit, or another task's examples
        st.session_state["explore_example"] = labels[1] if len(labels) > 1 else own
    example = st.selectbox("Example from the dev set", labels, key="explore_example")
    default_a, default_b = ("", "") if example == own else examples[labels.index(example) - 1]
    st.session_state.setdefault(f"explore_a_{example}", default_a or "")
    st.session_state.setdefault(f"explore_b_{example}", default_b or "")
    if spec.is_pair:
        text_a = st.text_area("First sentence", key=f"explore_a_{example}", height=80)
        text_b = st.text_area("Second sentence", key=f"explore_b_{example}", height=80)
    else:
        text_a = st.text_area("Text", key=f"explore_a_{example}", height=100)
        text_b = None
    speedup = state.speedup_slider("explore_speedup")
    state.share_link(selection, speedup, text_a, text_b)

    text_a, cut_a = clip_text(text_a)
    text_b, cut_b = clip_text(text_b) if text_b is not None else (None, False)
    if not text_a.strip() or (spec.is_pair and not (text_b or "").strip()):
        st.info("Enter some text (or pick an example) to see which word-vectors each layer keeps.")
        return
    try:
        analysis = _analyze(selection, text_a, text_b, speedup)
    except AccvizError as error:
        st.error(str(error))
        return
    if cut_a or cut_b or analysis.truncated:
        st.warning(
            f"The input has {analysis.original_token_count} tokens; the model reads at most "
            f"{len(analysis.tokens)}, so it was truncated."
        )
    if analysis.solved.message:
        st.warning(analysis.solved.message)

    columns = st.columns(4)
    if selection.predictions_label:  # an untrained head's prediction means nothing: a label instead
        for column, name in zip(columns[:2], ("Unpruned", "Pruned"), strict=True):
            column.metric(
                name, selection.predictions_label, help=f"Predictions: {selection.predictions_note}."
            )
        st.caption(f"Predictions are {selection.predictions_note}.")
    else:
        columns[0].metric(
            "Unpruned",
            _prediction_text(analysis.unpruned),
            delta=_confidence(analysis.unpruned),
            delta_color="off",
        )
        agreement = "agrees" if analysis.agree else "differs"
        confidence = _confidence(analysis.pruned)
        columns[1].metric(
            "Pruned",
            _prediction_text(analysis.pruned),
            delta=f"{agreement} · {confidence}" if confidence else agreement,
            delta_color="off" if analysis.agree else "inverse",
        )
    columns[2].metric("Estimated speedup", f"{analysis.solved.estimated_speedup:.2f}x")
    columns[3].metric("Word-vectors in the last layer", f"{len(analysis.survivors)} / {len(analysis.tokens)}")

    st.plotly_chart(plots.score_heatmap(analysis, relative=True), key="explore_heatmap",
                    config=state.figure_config("explore-heatmap"))  # fmt: skip
    left, right = st.columns([1, 1])
    left.plotly_chart(
        plots.kept_per_layer_bar(analysis), key="explore_kept", config=state.figure_config("explore-kept")
    )
    _survivors(right, analysis)
    _downloads(right, selection, analysis, text_a, text_b)
    if st.toggle("Compare with…", key="explore_compare_toggle"):  # another strategy or model, side by side
        compare.render_compare(selection, text_a, text_b, speedup, analysis, _analyze)
    if st.toggle("Show the attention of one layer and head", key="explore_attention_toggle"):
        config = selection.loaded.model.config
        a, b = st.columns(2)
        layer = a.number_input("Layer", 1, analysis.num_layers, 1, key="explore_layer")
        head = b.number_input("Head", 1, int(config.num_attention_heads), 1, key="explore_head")
        try:
            full = _analyze(selection, text_a, text_b, speedup, attentions=True)
            figure = plots.attention_heatmap(full, int(layer) - 1, int(head) - 1)
        except AccvizError as error:
            st.error(str(error))
            return
        del full  # every layer's maps: let them go before the page is sent
        st.plotly_chart(figure, key="explore_attention", config=state.figure_config("explore-attention"))
