"""Figures of the corpus lens (``accviz.explain.lens``): tables in, plotly figures out, one per view.

Same look as ``accviz.figures.plots``: plotly_white, Okabe-Ito colours, viridis for shares.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from accviz.figures.style import OKABE_ITO, SCORE_COLOURSCALE, style
from accviz.method.scoring import strategy_colour


def survival_heatmap(
    table: pd.DataFrame, *, title: str = "Share kept after each layer, by category"
) -> go.Figure:
    """``lens.survival_by_category`` (layer x category) as a heatmap: layer 1 on top."""
    fig = go.Figure(
        go.Heatmap(
            z=table.to_numpy(dtype=float),
            x=[str(c) for c in table.columns],
            y=[f"layer {layer}" for layer in table.index],
            colorscale=SCORE_COLOURSCALE,
            zmin=0,
            zmax=1,
            text=table.to_numpy(dtype=float).round(2),
            texttemplate="%{text}",
            hovertemplate="%{y}, %{x}: %{z:.1%} kept<extra></extra>",
            colorbar=dict(title=dict(text="kept", side="right"), tickformat=".0%"),
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    return style(fig, title, height=120 + 42 * len(table))


def survival_lines(table: pd.DataFrame, *, x_title: str, title: str) -> go.Figure:
    """One line per layer over the columns of ``table`` (position deciles or frequency buckets)."""
    fig = go.Figure()
    columns = [str(c) for c in table.columns]
    for i, (layer, row) in enumerate(table.iterrows()):
        fig.add_trace(
            go.Scatter(
                x=columns,
                y=row.to_numpy(dtype=float),
                mode="lines+markers",
                name=f"after layer {layer}",
                line=dict(color=_sequential(i, len(table))),
                hovertemplate=f"layer {layer}, %{{x}}: %{{y:.1%}} kept<extra></extra>",
            )
        )
    fig.update_xaxes(title=x_title, type="category")
    fig.update_yaxes(title="share kept", tickformat=".0%", range=[0, 1.05])
    return style(fig, title)


def _sequential(i: int, n: int) -> str:
    """Layer i of n on viridis: early layers dark, late layers light."""

    return sample_colorscale("Viridis", [0.85 * i / max(n - 1, 1)])[0]


def word_type_bars(words: pd.DataFrame, column: str, *, top: int = 15, title: str) -> go.Figure:
    """The ``top`` word types by ``column`` of ``lens.word_type_table`` (ties: the more frequent first)."""
    shown = words.nlargest(top, [column, "count"]).iloc[::-1]  # plotly draws bottom-up
    fig = go.Figure(
        go.Bar(
            x=shown[column],
            y=shown.word.astype(str),
            orientation="h",
            marker_color=OKABE_ITO[0] if column == "reached_last_layer" else OKABE_ITO[4],
            customdata=shown["count"],
            hovertemplate="%{y}: %{x:.0%} of %{customdata} occurrences<extra></extra>",
        )
    )
    fig.update_xaxes(title="share of its occurrences", tickformat=".0%", range=[0, 1.02])
    fig.update_yaxes(type="category")
    return style(fig, title, height=140 + 22 * len(shown))


def length_metric_bars(table: pd.DataFrame, metric: str) -> go.Figure:
    """``lens.metric_by_length``: the task metric unpruned vs pruned per length bucket."""
    fig = go.Figure()
    labels = [f"{b} (n={n})" for b, n in zip(table.bucket, table.n, strict=True)]
    for which, colour in (("unpruned", "#555555"), ("pruned", OKABE_ITO[0])):
        fig.add_trace(
            go.Bar(
                x=labels,
                y=table[which],
                name=which,
                marker_color=colour,
                hovertemplate=f"%{{x}}: {metric} %{{y:.1f}} ({which})<extra></extra>",
            )  # fmt: skip
        )
    fig.update_layout(barmode="group")
    fig.update_xaxes(title="input length (tokens)", type="category")
    fig.update_yaxes(title=metric)
    return style(fig, f"{metric} by input length, unpruned and pruned")


def agreement_lines(agreement: pd.DataFrame) -> go.Figure:
    """``lens.agreement``: one line per pair of strategies, Jaccard of kept sets per layer."""
    fig = go.Figure()
    for pair, rows in agreement.groupby("pair", sort=False):
        first, _, second = str(pair).partition(" vs ")
        fig.add_trace(
            go.Scatter(
                x=rows.layer,
                y=rows.jaccard,
                mode="lines+markers",
                name=str(pair),
                line=dict(color=strategy_colour(first), dash="solid" if first == "acc" else "dot"),
                marker=dict(color=strategy_colour(second), size=9),
                hovertemplate=f"{pair}, layer %{{x}}: J = %{{y:.2f}}<extra></extra>",
            )
        )
    fig.update_xaxes(title="layer", dtick=1)
    fig.update_yaxes(title="Jaccard overlap of the kept sets", range=[0, 1.02])
    fig = style(fig, "Do the scores keep the same word-vectors?", height=480)
    fig.update_layout(  # six pairs: the legend goes below the plot, not over the title
        legend=dict(orientation="h", yanchor="top", y=-0.22, xanchor="left", x=0), margin=dict(b=130)
    )
    return fig
