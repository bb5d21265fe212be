"""Method: the paper's idea, taught with the live numbers of the current slider value."""

from __future__ import annotations

import streamlit as st

from accviz.figures import costs
from accviz.method.flops import EncoderShape, estimate_flops, unpruned_flops
from accviz.method.speedup import solve_profile
from app import state


def render() -> None:
    selection = state.sidebar()
    config = selection.loaded.model.config
    shape = EncoderShape.from_config(config)
    st.title("How it works")
    speedup = state.speedup_slider("method_speedup")
    state.share_link(selection, speedup)
    length = st.number_input("Sequence length for the numbers below", 4, 512, 32, key="method_length")

    st.header("1. Score every word-vector: Attention Context Contribution")
    st.latex(
        r"\mathrm{ACC}_l(j) = \sum_i m_i \sum_h A_h[i,j]\,\lVert v_{h,j}\rVert_2 \quad\text{(normalised over } j)"
    )
    st.markdown(
        "How much word-vector *j* feeds the attention contexts of all real queries *i*: the attention it "
        "receives in each head *h*, weighted by the size of the value it sends. **This formula is accviz's "
        "interpretation**: the paper's exact definition is not publicly available. The peers' scores sit next "
        "to it: PoWER-BERT sums the attention received (no value norm), LTP averages it over heads and all "
        "query rows; EViT's cls-attention keeps what the [CLS] query attends to (times the value norm); "
        "random and truncation are the floors."
    )
    st.header("2. Keep [CLS] and the best, drop the rest")
    st.markdown(
        "Inside layer *l*, after attention and before the feed-forward block, only the top "
        r"$k_l = \max(1, \lceil r_l \cdot \mathrm{len}\rceil)$ word-vectors survive (gathered, not masked), "
        "so the FFN and every later layer run on fewer vectors. Only [CLS] feeds the classifier, so the last "
        "layer runs for [CLS] alone: exact, and free. With fusion (`acc+fuse`, EViT) the dropped word-vectors "
        "are not lost: their score-weighted mean rides along as one extra vector that later layers attend to."
    )
    st.header("3. One knob: the target speedup")
    st.markdown("A profile family turns one knob into per-layer keep ratios:")
    st.latex(
        r"\text{geometric (default): } r_l = (1-\beta)^l \qquad \text{tilt: } r_l = \max\!\left(r_{\min},\, 1 - \alpha\,\tfrac{l}{L}\right)"
    )
    solved = solve_profile(shape, [int(length)], speedup, warn=False)
    st.plotly_chart(
        costs.profile_plot(solved, shape.num_layers),
        key="method_profile",
        config=state.figure_config("method-profile"),
    )
    if solved.profile is None:
        st.markdown(f"At **{speedup:.2f}x** no elimination is needed: the exact [CLS]-only last layer alone gives "
                    f"{solved.exact_last_layer_speedup:.2f}x.")  # fmt: skip
    else:
        knob_name = "β" if solved.profile.family == "geometric" else "α"
        st.markdown(
            f"At **{speedup:.2f}x** on {int(length)} tokens, bisection on the FLOPs model gives the "
            f"{solved.profile.family} knob {knob_name} = {solved.profile.knob:.3f}."
        )

    st.header("4. The FLOPs model")
    st.latex(
        r"\text{layer } l:\; \underbrace{4 n d^2 + 2 n^2 d}_{\text{attention}} + \underbrace{H n^2}_{\text{scoring}} + \underbrace{2 k d\, d_{ff}}_{\text{FFN}}\ \text{MACs}"
    )
    d, d_ff, H = shape.hidden, shape.intermediate, shape.num_heads
    n = int(length)
    st.markdown(
        f"With this model (d = {d}, d_ff = {d_ff}, H = {H}, L = {shape.num_layers}) and n = {n}: the first layer costs "
        f"4·{n}·{d}² + 2·{n}²·{d} = {4 * n * d * d + 2 * n * n * d:,} MACs for attention and "
        f"2·{n}·{d}·{d_ff} = {2 * n * d * d_ff:,} for the FFN without elimination."
    )
    baseline = unpruned_flops(shape, [n])
    pruned = estimate_flops(shape, [n], solved.profile)
    rows = [
        {"layer": lf.layer, "in": lf.tokens_in, "kept": lf.tokens_kept, "attention MACs": lf.attention,
         "scoring MACs": lf.scoring, "FFN MACs": lf.ffn}
        for lf in pruned.layers
    ]  # fmt: skip
    st.dataframe(rows, hide_index=True, key="method_table")
    st.markdown(
        f"Total: {baseline.total_macs / 1e6:,.1f} M MACs unpruned → {pruned.total_macs / 1e6:,.1f} M pruned "
        f"= **{baseline.total_macs / pruned.total_macs:.2f}x** estimated speedup."
    )
