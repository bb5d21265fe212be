"""One look for every figure: the ``plotly_white`` template, the Okabe-Ito colour-blind-safe palette,
viridis for continuous values, light grey for word-vectors that are gone, unique token labels."""

from __future__ import annotations

from collections import Counter

import plotly.graph_objects as go

from accviz.method.scoring import STRATEGY_ORDER, strategy_label

TEMPLATE = "plotly_white"
FONT = dict(family="Inter, Helvetica, Arial, sans-serif", size=13)
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000")
STRATEGY_LABELS = {name: strategy_label(name) for name in STRATEGY_ORDER}  # from the one registry
COMPONENT_COLOURS = {"attention": OKABE_ITO[0], "FFN": OKABE_ITO[1], "scoring": OKABE_ITO[2]}
ELIMINATED_GREY = "#d4d4d4"
SCORE_COLOURSCALE = "Viridis"
SEPARATOR = "·"  # "the", "the·2": repeated tokens stay distinct categories on an axis


def style(fig: go.Figure, title: str, *, height: int | None = None) -> go.Figure:
    fig.update_layout(
        template=TEMPLATE,
        font=FONT,
        title=dict(text=title, font=dict(size=16), x=0, xanchor="left"),
        margin=dict(l=60, r=20, t=70, b=60),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1),
        colorway=list(OKABE_ITO),
    )
    if height is not None:
        fig.update_layout(height=height)
    return fig


def token_labels(tokens) -> list[str]:
    """Unique axis labels: the second "the" becomes "the·2", the third "the·3"."""
    seen: Counter[str] = Counter()
    labels = []
    for token in tokens:
        seen[token] += 1
        labels.append(token if seen[token] == 1 else f"{token}{SEPARATOR}{seen[token]}")
    return labels


HEATMAP_WINDOW = 64  # tokens shown at once; a longer input scrolls, with the whole as a minimap


def solid_cells(cells, x, y, colour: str, name: str, **hover) -> go.Heatmap:
    """One colour on the layer × token cells where ``cells`` is set (NaN elsewhere), no colour bar.
    ``hover``: the trace's ``hovertemplate`` (and ``text``)."""
    return go.Heatmap(
        z=cells,
        x=x,
        y=y,
        colorscale=[[0, colour], [1, colour]],
        showscale=False,
        xgap=1,
        ygap=1,
        name=name,
        hoverongaps=False,
        **hover,
    )


def eliminated_cells(gone, x, y, **hover) -> go.Heatmap:
    """Light grey cells where ``gone`` is set: word-vectors already eliminated."""
    return solid_cells(gone, x, y, ELIMINATED_GREY, "eliminated", **hover)
