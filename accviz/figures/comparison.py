"""Figures of two settings on one input (``accviz.explain.compare.Comparison``): data in, a figure out."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from accviz.figures.style import (
    ELIMINATED_GREY,
    HEATMAP_WINDOW,
    OKABE_ITO,
    SCORE_COLOURSCALE,
    eliminated_cells,
    solid_cells,
    style,
    token_labels,
)

# --- two settings on one input (accviz.explain.compare.Comparison) ---------------------------

ONLY_A_COLOUR, ONLY_B_COLOUR, BOTH_COLOUR = OKABE_ITO[0], OKABE_ITO[4], "#7a7a7a"


def _kept_categories(comparison) -> list[tuple[str, str, np.ndarray]]:
    """(legend name, colour, (L, T) bool) for kept by both / only A / only B / neither."""
    name_a, name_b = comparison.name_a, comparison.name_b
    neither = ~(comparison.kept_a | comparison.kept_b)
    return [
        ("kept by both", BOTH_COLOUR, comparison.both),
        (f"kept by {name_a} only", ONLY_A_COLOUR, comparison.only_a),
        (f"kept by {name_b} only", ONLY_B_COLOUR, comparison.only_b),
        ("eliminated by both", ELIMINATED_GREY, neither),
    ]


def _fate(analysis, layer: int, j: int) -> str:
    """Where token j stands in one setting at layer ``layer`` (0-based), for a hover text."""
    eliminated_at = int(analysis.eliminated_at[j])
    if 0 < eliminated_at <= layer:
        return f"eliminated after layer {eliminated_at}"
    rank, n = int(analysis.rank[layer, j]), int(np.isfinite(analysis.scores[layer]).sum())
    kept = "eliminated after it" if eliminated_at == layer + 1 else "kept"
    return f"rank {rank} of {n}, {kept}" if rank > 0 else kept


def comparison_heatmap(comparison, *, window: int = HEATMAP_WINDOW) -> go.Figure:
    """Settings A and B on one token axis: three rows of layers (layer 1 on top) x tokens.

    Rows 1 and 2: A's and B's score x n_l (one colour axis; 1 = a uniform share of the layer), gone
    cells grey. Row 3: after each layer, each word-vector is kept by both, by A only, by B only or
    by neither. Traces: 0/1 A's/B's scores, 2/3 their gone cells (1 there, NaN elsewhere), 4-7 the
    four categories (1 where the cell is in it, NaN elsewhere), 8-11 their legend entries. An
    input longer than ``window`` tokens opens on its first ``window``; dragging pans along the rest.
    """
    a, b = comparison.a, comparison.b
    L, T = comparison.kept_a.shape
    x = token_labels(comparison.tokens)
    y = [f"layer {layer}" for layer in range(1, L + 1)]
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        subplot_titles=(
            f"A: {comparison.name_a} — score × n_l",
            f"B: {comparison.name_b} — score × n_l",
            "Kept after each layer",
        ),
    )
    for row, analysis, name in ((1, a, comparison.name_a), (2, b, comparison.name_b)):
        scores = np.asarray(analysis.scores, dtype=float)  # (L, T)
        present = np.isfinite(scores)
        fig.add_trace(
            go.Heatmap(
                z=scores * present.sum(axis=1)[:, None],
                x=x,
                y=y,
                coloraxis="coloraxis",
                xgap=1,
                ygap=1,
                name=name,
                hovertemplate=f"%{{x}}, %{{y}}: score × n_l %{{z:.3g}}<extra>{name}</extra>",
                hoverongaps=False,
            ),
            row=row,
            col=1,
        )
    for row, analysis in ((1, a), (2, b)):
        gone = np.where(np.isfinite(np.asarray(analysis.scores, dtype=float)), np.nan, 1.0)
        fig.add_trace(
            eliminated_cells(gone, x, y, hovertemplate="%{x}, %{y}: already eliminated<extra></extra>"),
            row=row,
            col=1,
        )
    text = [
        [
            f"<b>{comparison.tokens[j]}</b> (position {j}), layer {layer + 1}<br>"
            f"{comparison.name_a}: {_fate(a, layer, j)}<br>{comparison.name_b}: {_fate(b, layer, j)}"
            for j in range(T)
        ]
        for layer in range(L)
    ]
    categories = _kept_categories(comparison)
    for name, colour, cells in categories:
        fig.add_trace(
            solid_cells(
                np.where(cells, 1.0, np.nan),
                x,
                y,
                colour,
                name,
                text=text,
                hovertemplate="%{text}<extra></extra>",
            ),
            row=3,
            col=1,
        )
    for name, colour, cells in categories:  # heatmaps have no legend entry of their own
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                marker=dict(symbol="square", size=12, color=colour),
                name=f"{name} ({int(cells.sum())})",
                showlegend=True,
            ),
            row=3,
            col=1,
        )
    fig.update_layout(
        coloraxis=dict(
            colorscale=SCORE_COLOURSCALE,
            cmin=0,
            colorbar=dict(title=dict(text="score × n_l", side="right"), len=0.6, y=1, yanchor="top"),
        )
    )
    fig.update_yaxes(autorange="reversed", type="category", title=None)
    fig.update_xaxes(type="category", tickangle=-45 if T > 12 else 0, title=None)
    differ = int(comparison.only_a.sum() + comparison.only_b.sum())
    title = (
        f"{comparison.name_a} vs {comparison.name_b}: {differ} cell{'s' if differ != 1 else ''} "
        f"kept by one and not the other"
    )
    if T > window:  # 512 labels at once are unreadable: a window, panned by dragging (all rows share x)
        fig.update_xaxes(range=[-0.5, window - 0.5])
        fig.update_yaxes(fixedrange=True)
        fig.update_layout(dragmode="pan")
        title += f"<br><sup>{T} tokens: the first {window} shown; drag sideways for the rest</sup>"
    fig = style(fig, title, height=300 + 3 * 34 * L)
    # below the token labels: the subplot titles take the space above the plots
    fig.update_layout(
        legend=dict(orientation="h", yref="container", y=0, yanchor="bottom", x=0, xanchor="left"),
        margin=dict(b=130, t=100 if T > window else 70),
    )
    return fig


def overlap_per_layer(comparison) -> go.Figure:
    """Jaccard overlap |K^A_l ∩ K^B_l| / |K^A_l ∪ K^B_l| of the kept sets after each layer (trace 0)."""
    overlap = np.asarray(comparison.overlap, dtype=float)  # (L,)
    layers = list(range(1, len(overlap) + 1))
    both = comparison.both.sum(axis=1)
    union = (comparison.kept_a | comparison.kept_b).sum(axis=1)
    custom = np.column_stack([both, union, comparison.kept_a.sum(axis=1), comparison.kept_b.sum(axis=1)])
    fig = go.Figure(
        go.Bar(
            x=layers,
            y=overlap,
            text=[f"{value:.2f}" for value in overlap],
            textposition="outside",
            marker_color=[BOTH_COLOUR if value == 1 else OKABE_ITO[2] for value in overlap],
            customdata=custom,
            name="overlap",
            hovertemplate=(
                "layer %{x}: overlap %{y:.2f}<br>%{customdata[0]} kept by both of %{customdata[1]} kept "
                f"by either<br>{comparison.name_a} keeps %{{customdata[2]}}, {comparison.name_b} keeps "
                "%{customdata[3]}<extra></extra>"
            ),
        )
    )
    fig.update_xaxes(title="layer", dtick=1)
    fig.update_yaxes(title="|A ∩ B| / |A ∪ B|", range=[0, 1.15])
    return style(fig, f"Kept-set overlap after each layer — mean {overlap.mean():.2f}", height=320)
