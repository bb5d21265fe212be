"""Plot builders: data in, ``plotly.graph_objects.Figure`` out (one function per view, bertviz-style): one input and its attributions.

The comparison of two settings is in ``accviz.figures.comparison``, FLOPs, profiles, latency and
sweeps in ``accviz.figures.costs``, the corpus lens in ``accviz.figures.lens_plots``; the look in
``accviz.figures.style``..

No Streamlit here: the app passes the figures to ``st.plotly_chart``, the tests read their traces.
One look everywhere: the ``plotly_white`` template, the Okabe-Ito colour-blind-safe palette,
viridis for continuous values, light grey for word-vectors that are gone.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from accviz.errors import AccvizError
from accviz.figures.style import (
    HEATMAP_WINDOW,
    OKABE_ITO,
    SCORE_COLOURSCALE,
    eliminated_cells,
    style,
    token_labels,
)
from accviz.method.scoring import strategy_label

# --- one input (accviz.explain.analysis.TextAnalysis) ------------------------------------------------


def score_heatmap(analysis, *, relative: bool = False, window: int = HEATMAP_WINDOW) -> go.Figure:
    """Layers (rows, layer 1 on top) x tokens (columns): each word-vector's score in each layer.

    Trace 0 holds the scores (NaN once a token is gone), trace 1 paints the gone cells grey
    (1 there, NaN elsewhere), trace 2 marks with an x the layer in which each token was dropped.
    ``relative=True`` colours by score x n_l (1 = a uniform share of the layer), which makes deep
    layers, with fewer and so larger scores, comparable to the first ones. An input longer than
    ``window`` tokens opens on its first ``window`` with a range slider below: the whole input in
    miniature, whose handles move and widen the window (512 labels at once are unreadable).
    """
    scores = np.asarray(analysis.scores, dtype=float)  # (L, T)
    rank = np.asarray(analysis.rank)
    L, T = scores.shape
    x = token_labels(analysis.tokens)
    y = [f"layer {layer}" for layer in range(1, L + 1)]
    present = np.isfinite(scores)
    n_per_layer = present.sum(axis=1)  # (L,) n_l
    z = scores * n_per_layer[:, None] if relative else scores
    gone = np.where(present, np.nan, 1.0)
    eliminated_at = np.asarray(analysis.eliminated_at)
    name = strategy_label(analysis.strategy)

    live_text, gone_text = [], []
    for layer in range(L):
        live_row, gone_row = [], []
        for j in range(T):
            if present[layer, j]:
                live_row.append(
                    f"<b>{analysis.tokens[j]}</b> (position {j})<br>layer {layer + 1}: {name} score "
                    f"{scores[layer, j]:.4g}<br>rank {rank[layer, j]} of {n_per_layer[layer]}"
                    + ("<br>eliminated after this layer" if eliminated_at[j] == layer + 1 else "")
                )
                gone_row.append("")
            else:
                live_row.append("")
                gone_row.append(
                    f"<b>{analysis.tokens[j]}</b> (position {j})<br>eliminated after layer {eliminated_at[j]}"
                )
        live_text.append(live_row)
        gone_text.append(gone_row)

    fig = go.Figure()
    fig.add_trace(
        go.Heatmap(
            z=z,
            x=x,
            y=y,
            text=live_text,
            hovertemplate="%{text}<extra></extra>",
            colorscale=SCORE_COLOURSCALE,
            zmin=0,
            colorbar=dict(title=dict(text="score × n_l" if relative else "score", side="right")),
            xgap=1,
            ygap=1,
            name="score",
            hoverongaps=False,  # a gone cell answers from the grey trace
        )
    )
    fig.add_trace(eliminated_cells(gone, x, y, text=gone_text, hovertemplate="%{text}<extra></extra>"))
    dropped = np.flatnonzero(eliminated_at > 0)
    fig.add_trace(
        go.Scatter(
            x=[x[j] for j in dropped],
            y=[y[eliminated_at[j] - 1] for j in dropped],
            mode="markers",
            marker=dict(symbol="x", size=9, color="white", line=dict(width=1, color="black")),
            name="eliminated after this layer",
            hoverinfo="skip",
            showlegend=bool(len(dropped)),
        )
    )
    fig.update_yaxes(autorange="reversed", type="category", title=None)
    fig.update_xaxes(type="category", tickangle=-45 if T > 12 else 0, title=None)
    solved = analysis.solved
    title = (
        f"{name} score of each word-vector, layer by layer — target {analysis.target_speedup:.2f}x, "
        f"estimated {solved.estimated_speedup:.2f}x (grey: already eliminated)"
    )
    if T <= window:
        return style(fig, title, height=160 + 34 * L)
    # windowed: the first `window` tokens, and the whole input in the range slider under the axis
    fig.update_xaxes(range=[-0.5, window - 0.5], rangeslider=dict(visible=True, thickness=0.12))
    fig.update_yaxes(fixedrange=True)  # scroll along the tokens only; the layers always fit
    title += (
        f"<br><sup>{T} tokens: the first {window} shown; drag or widen the window in the strip below</sup>"
    )
    return style(fig, title, height=260 + 34 * L).update_layout(margin=dict(t=95))


def kept_per_layer_bar(analysis) -> go.Figure:
    """Word-vectors kept after each layer (bars) against the unpruned count (trace 1, a line)."""
    kept = list(analysis.kept_per_layer)
    layers = list(range(1, len(kept) + 1))
    T = len(analysis.tokens)
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=layers,
            y=kept,
            name=f"kept ({strategy_label(analysis.strategy)})",
            marker_color=OKABE_ITO[0],
            text=kept,
            textposition="outside",
            hovertemplate="layer %{x}: keeps %{y} word-vectors<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=layers,
            y=[T] * len(layers),
            mode="lines",
            line=dict(color="#555555", dash="dash", shape="hvh"),
            name=f"unpruned ({T})",
            hovertemplate="unpruned: %{y} word-vectors<extra></extra>",
        )
    )
    fig.update_xaxes(title="layer", dtick=1)
    fig.update_yaxes(title="word-vectors kept", rangemode="tozero", range=[0, T * 1.15])
    return style(fig, f"Word-vectors kept after each layer, of {T}")


def attention_heatmap(analysis, layer: int, head: int) -> go.Figure:
    """Attention A_h[i, j] of one layer and head (0-based): queries (rows) x keys (columns)."""
    if not analysis.attentions:
        raise AccvizError("This analysis holds no attention maps.")
    if not 0 <= layer < len(analysis.attentions):
        raise AccvizError(f"Layer {layer + 1} does not exist; the model has {len(analysis.attentions)}.")
    attention = np.asarray(analysis.attentions[layer])  # (H, n_q, n_l)
    if not 0 <= head < attention.shape[0]:
        raise AccvizError(f"Head {head + 1} does not exist; the layer has {attention.shape[0]}.")
    labels = token_labels(analysis.tokens)
    positions = np.asarray(analysis.layer_positions[layer])
    keys = [labels[p] for p in positions]
    queries = keys if attention.shape[1] == len(keys) else keys[: attention.shape[1]]
    fig = go.Figure(
        go.Heatmap(
            z=attention[head],
            x=keys,
            y=queries,
            colorscale=SCORE_COLOURSCALE,
            zmin=0,
            hovertemplate="query %{y} → key %{x}<br>attention %{z:.4f}<extra></extra>",
            colorbar=dict(title=dict(text="attention", side="right")),
        )
    )
    fig.update_yaxes(autorange="reversed", type="category", title="query")
    fig.update_xaxes(type="category", title="key", tickangle=-45 if len(keys) > 12 else 0)
    n = len(keys)
    return style(
        fig,
        f"Attention of layer {layer + 1}, head {head + 1}: {n} word-vectors entering the layer",
        height=max(360, 140 + 18 * n),
    )


# --- attribution ----------------------------------------------------------------------------


def attribution_vs_acc(attribution_result, layer: int = 0) -> go.Figure:
    """|IG| against the ACC score of one layer (0-based), token by token, and rho in every layer.

    Row 1: bars per content token ([CLS]/[SEP] left out: IG gives them 0 by construction), both
    normalised to sum to 1 over the tokens shown; trace 0 is |IG|, trace 1 ACC. Row 2 (trace 2):
    Spearman's rho between |IG| and ACC per layer.
    """

    result = attribution_result
    L = result.num_layers
    if not 0 <= layer < L:
        raise AccvizError(f"Layer {layer + 1} does not exist; the model has {L}.")
    content = ~np.asarray(result.special_mask, dtype=bool)
    acc = np.asarray(result.acc_scores[layer], dtype=float)
    shown = content & np.isfinite(acc)
    labels = [label for label, keep in zip(token_labels(result.tokens), shown, strict=True) if keep]
    ig = np.abs(np.asarray(result.attributions, dtype=float))[shown]
    acc_shown = acc[shown]
    ig = ig / ig.sum() if ig.sum() > 0 else ig
    acc_shown = acc_shown / acc_shown.sum() if acc_shown.sum() > 0 else acc_shown
    rhos = np.asarray(result.spearman_per_layer, dtype=float)

    fig = make_subplots(
        rows=2,
        cols=1,
        row_heights=[0.62, 0.38],
        vertical_spacing=0.22,
        subplot_titles=(
            f"|IG| and ACC of layer {layer + 1}, per token (each sums to 1)",
            "Spearman ρ(|IG|, ACC) per layer",
        ),
    )
    fig.add_trace(
        go.Bar(
            x=labels,
            y=ig,
            name="|IG| (normalised)",
            marker_color=OKABE_ITO[1],
            hovertemplate="%{x}: |IG| %{y:.3f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=labels,
            y=acc_shown,
            name=f"ACC, layer {layer + 1}",
            marker_color=OKABE_ITO[0],
            hovertemplate="%{x}: ACC %{y:.3f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=list(range(1, L + 1)),
            y=[None if not np.isfinite(r) else float(r) for r in rhos],
            name="ρ per layer",
            marker_color=[OKABE_ITO[2] if np.isfinite(r) and r >= 0 else OKABE_ITO[4] for r in rhos],
            marker_opacity=[1.0 if index == layer else 0.45 for index in range(L)],  # the layer shown above
            hovertemplate="layer %{x}: ρ = %{y:.2f}<extra></extra>",
            showlegend=False,
        ),
        row=2,
        col=1,
    )
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category", tickangle=-45 if len(labels) > 12 else 0, row=1, col=1)
    fig.update_xaxes(title="layer", dtick=1, row=2, col=1)
    fig.update_yaxes(title="share", row=1, col=1)
    fig.update_yaxes(title="ρ", range=[-1.05, 1.05], row=2, col=1)
    rho = rhos[layer]
    rho_text = f"{rho:.2f}" if np.isfinite(rho) else "undefined"
    finite = rhos[np.isfinite(rhos)]
    mean_text = f", mean over layers {finite.mean():.2f}" if finite.size else ""
    title = (
        f"Does ACC keep what Integrated Gradients says matters? Spearman ρ = {rho_text} in layer "
        f"{layer + 1}{mean_text} (target {result.target_label})"
    )
    fig = style(fig, title, height=640)
    # inside the token panel's top-right corner: clear of the title and the subplot titles
    fig.update_layout(
        legend=dict(
            orientation="v", x=1, y=1, xanchor="right", yanchor="top", bgcolor="rgba(255,255,255,0.8)"
        )
    )
    return fig
