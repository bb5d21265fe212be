"""Attribution: does ACC keep what the gradient says matters? Integrated Gradients next to ACC."""

from __future__ import annotations

import streamlit as st

from accviz.errors import AccvizError
from accviz.explain.attribution import integrated_gradients
from accviz.figures import plots
from accviz.store.safety import clip_text
from app import resources, state


def _attribution(reference: str, allow_pickle: bool, text_a: str, text_b: str | None, steps: int):
    """Integrated Gradients next to ACC: a heavy job, in the measurement queue; cached by bytes."""

    def compute():
        loaded = resources.load_model_cached(reference, allow_pickle)
        return integrated_gradients(loaded.model, loaded.tokenizer, text_a, text_b, n_steps=steps)

    key = ("attribution", reference, allow_pickle, text_a, text_b, int(steps))
    return resources.cached_in_line(key, compute, "measurement")


def render() -> None:
    selection = state.sidebar()
    spec = selection.spec
    st.title("ACC against Integrated Gradients")
    st.caption(
        "captum's LayerIntegratedGradients on the embeddings says how much each token moved the prediction; "
        "ACC says how much each word-vector feeds the attention contexts. Spearman's rho per layer compares the rankings."
    )
    link = st.session_state.pop("link_text", None)  # a shared link's text (state.apply_link)
    if link is not None:
        st.session_state["attribution_a"], st.session_state["attribution_b"] = link[0], link[1] or ""
    st.session_state.setdefault("attribution_a", "a charming and often affecting journey .")
    st.session_state.setdefault("attribution_b", "")
    text_a = st.text_area("Text", key="attribution_a", height=80)
    text_b = st.text_area("Second sentence", key="attribution_b", height=60) if spec.is_pair else None
    state.share_link(selection, text=text_a, text_b=text_b)
    steps = st.select_slider("Integration steps", options=[8, 16, 32, 64], value=32, key="attribution_steps")
    text_a, _ = clip_text(text_a)
    if not text_a.strip():
        st.info("Enter some text.")
        return
    if selection.predictions_label:  # IG explains the classifier's prediction: none from an untrained head
        st.info(
            f"Attribution: {selection.predictions_label}. Integrated Gradients explains the classifier's "
            f"prediction, and predictions are {selection.predictions_note}.",
            icon=":material/hourglass:",
        )
        return
    try:
        with st.spinner("Integrating gradients…"):
            result = _attribution(
                selection.reference, selection.allow_pickle, text_a, text_b or None, int(steps)
            )
    except AccvizError as error:
        st.error(str(error))
        return
    if selection.int8:
        st.caption(
            "Integrated Gradients needs gradients, which int8 layers have none of: computed on the fp32 weights."
        )
    st.plotly_chart(
        plots.attribution_vs_acc(result),
        key="attribution_chart",
        config=state.figure_config("attribution-chart"),
    )
    rhos = [r for r in result.spearman_per_layer if r == r]
    if rhos:
        st.metric("Mean Spearman rho (ACC vs |IG|)", f"{sum(rhos) / len(rhos):.2f}")
    st.caption(
        f"Convergence delta of the integral: {float(result.convergence_delta):.2e} (smaller is better)."
    )
