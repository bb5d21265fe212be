"""Plot builders: data in, ``plotly.graph_objects.Figure`` out (one function per view, bertviz-style).

No Streamlit here: the app passes the figures to ``st.plotly_chart``, the tests read their traces.
One look everywhere: the ``plotly_white`` template, the Okabe-Ito colour-blind-safe palette,
viridis for continuous values, light grey for word-vectors that are gone.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from accviz.errors import AccvizError
from accviz.method.scoring import STRATEGY_ORDER, strategy_colour, strategy_label, strategy_rank

TEMPLATE = "plotly_white"
FONT = dict(family="Inter, Helvetica, Arial, sans-serif", size=13)
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000")
STRATEGY_LABELS = {name: strategy_label(name) for name in STRATEGY_ORDER}  # from the one registry
COMPONENT_COLOURS = {"attention": OKABE_ITO[0], "FFN": OKABE_ITO[1], "scoring": OKABE_ITO[2]}
ELIMINATED_GREY = "#d4d4d4"
SCORE_COLOURSCALE = "Viridis"
SEPARATOR = "·"  # "the", "the·2": repeated tokens stay distinct categories on an axis


def _style(fig: go.Figure, title: str, *, height: int | None = None) -> go.Figure:
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


def _strategy_label(strategy: str) -> str:
    return strategy_label(strategy)


# --- one input (accviz.explain.analysis.TextAnalysis) ------------------------------------------------


def score_heatmap(analysis, *, relative: bool = False) -> go.Figure:
    """Layers (rows, layer 1 on top) x tokens (columns): each word-vector's score in each layer.

    Trace 0 holds the scores (NaN once a token is gone), trace 1 paints the gone cells grey
    (1 there, NaN elsewhere), trace 2 marks with an x the layer in which each token was dropped.
    ``relative=True`` colours by score x n_l (1 = a uniform share of the layer), which makes deep
    layers, with fewer and so larger scores, comparable to the first ones.
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
    name = _strategy_label(analysis.strategy)

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
    fig.add_trace(
        go.Heatmap(
            z=gone,
            x=x,
            y=y,
            text=gone_text,
            hovertemplate="%{text}<extra></extra>",
            colorscale=[[0, ELIMINATED_GREY], [1, ELIMINATED_GREY]],
            showscale=False,
            xgap=1,
            ygap=1,
            name="eliminated",
            hoverongaps=False,
        )
    )
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
    return _style(fig, title, height=160 + 34 * L)


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
            name=f"kept ({_strategy_label(analysis.strategy)})",
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
    return _style(fig, f"Word-vectors kept after each layer, of {T}")


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
    return _style(
        fig,
        f"Attention of layer {layer + 1}, head {head + 1}: {n} word-vectors entering the layer",
        height=max(360, 140 + 18 * n),
    )


# --- FLOPs, profiles, latency -------------------------------------------------------------


def _flops_unit(largest_flops: float) -> tuple[float, str]:
    for scale, unit in ((1e12, "TFLOPs"), (1e9, "GFLOPs"), (1e6, "MFLOPs"), (1e3, "kFLOPs")):
        if largest_flops >= scale:
            return scale, unit
    return 1.0, "FLOPs"


def flops_breakdown_bar(baseline_estimate, pruned_estimate) -> go.Figure:
    """Per-layer FLOPs (2 x MACs) split into attention / FFN / scoring: unpruned and pruned side by side.

    Six traces, unpruned first: (attention, FFN, scoring) x (unpruned, pruned). Each variant is one
    ``offsetgroup`` stacked by ``base``; y is in the unit named on the axis.
    """
    if len(baseline_estimate.layers) != len(pruned_estimate.layers):
        raise AccvizError("The two FLOPs estimates are for models with different numbers of layers.")
    largest = 2 * max(layer.total for layer in (*baseline_estimate.layers, *pruned_estimate.layers))
    scale, unit = _flops_unit(largest)
    fig = go.Figure()
    for variant, estimate, pattern in (
        ("unpruned", baseline_estimate, "/"),
        ("pruned", pruned_estimate, ""),
    ):
        layers = [layer.layer for layer in estimate.layers]
        base = np.zeros(len(layers))
        for component in ("attention", "FFN", "scoring"):
            macs = np.array([getattr(layer, component.lower()) for layer in estimate.layers], dtype=float)
            values = 2 * macs / scale
            fig.add_trace(
                go.Bar(
                    x=layers,
                    y=values,
                    base=base.copy(),
                    offsetgroup=variant,
                    name=f"{component} ({variant})",
                    legendgroup=variant,
                    marker=dict(
                        color=COMPONENT_COLOURS[component],
                        opacity=0.55 if variant == "unpruned" else 1.0,
                        pattern=dict(shape=pattern),
                    ),
                    hovertemplate=f"layer %{{x}}, {variant}<br>{component}: %{{y:.4g}} {unit}<extra></extra>",
                )
            )
            base += values
    speedup = baseline_estimate.total_macs / max(pruned_estimate.total_macs, 1)
    fig.update_layout(barmode="group", bargap=0.2, bargroupgap=0.05)
    fig.update_xaxes(title="layer", dtick=1)
    fig.update_yaxes(title=unit)
    return _style(
        fig,
        f"FLOPs per layer, unpruned (hatched) vs pruned — {speedup:.2f}x fewer in total "
        f"({pruned_estimate.num_sequences} sequence{'s' if pruned_estimate.num_sequences != 1 else ''})",
    )


def profile_plot(profile_or_solved, num_layers: int) -> go.Figure:
    """Keep ratio r_l after each layer (the elimination profile), a step line; None = keep all."""
    solved = None
    profile = profile_or_solved
    if hasattr(profile_or_solved, "estimated_speedup"):  # a SolvedProfile
        solved, profile = profile_or_solved, profile_or_solved.profile
    if profile is None:
        ratios = [1.0] * num_layers
        family = "no elimination"
    else:
        ratios = list(profile.keep_ratios)
        if len(ratios) != num_layers:
            raise AccvizError(f"The profile has {len(ratios)} layers; the model has {num_layers}.")
        family = profile.family if profile.knob is None else f"{profile.family}, knob {profile.knob:.3g}"
    layers = list(range(1, num_layers + 1))
    fig = go.Figure(
        go.Scatter(
            x=layers,
            y=ratios,
            mode="lines+markers",
            line=dict(shape="hv", color=OKABE_ITO[0], width=3),
            marker=dict(size=8),
            name="keep ratio",
            hovertemplate="after layer %{x}: keep %{y:.0%} of the word-vectors<extra></extra>",
        )
    )
    fig.update_xaxes(title="layer", dtick=1)
    fig.update_yaxes(title="keep ratio r_l", range=[0, 1.05], tickformat=".0%")
    title = f"Elimination profile ({family})"
    if solved is not None:
        title += f": target {solved.target_speedup:.2f}x, estimated {solved.estimated_speedup:.2f}x"
    return _style(fig, title)


def _percentiles_ms(samples) -> tuple[float, float, float]:
    values = np.asarray(samples, dtype=float) * 1e3
    if values.size == 0:
        raise AccvizError("No latency samples to plot.")
    p10, median, p90 = np.percentile(values, [10, 50, 90])
    return float(p10), float(median), float(p90)


def latency_box(stats) -> go.Figure:
    """Measured latency per run: median (marker, trace 0) with the p10–p90 spread, raw samples behind.

    ``stats`` maps a name ("unpruned", "pruned", ...) to an object with ``samples_s`` (seconds).
    """
    if not stats:
        raise AccvizError("No latency measurements to plot.")
    names = list(stats)
    summary = {name: _percentiles_ms(stats[name].samples_s) for name in names}
    medians = [summary[name][1] for name in names]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=names,
            y=medians,
            mode="markers",
            marker=dict(
                size=16, symbol="diamond", color=[OKABE_ITO[i % len(OKABE_ITO)] for i in range(len(names))]
            ),
            error_y=dict(
                type="data",
                symmetric=False,
                array=[summary[name][2] - summary[name][1] for name in names],
                arrayminus=[summary[name][1] - summary[name][0] for name in names],
                thickness=2,
                width=12,
            ),
            name="median (p10–p90)",
            customdata=[[summary[name][0], summary[name][2]] for name in names],
            hovertemplate="%{x}: median %{y:.2f} ms<br>p10 %{customdata[0]:.2f} – p90 %{customdata[1]:.2f} ms<extra></extra>",
        )
    )
    for index, name in enumerate(names):
        samples = np.asarray(stats[name].samples_s, dtype=float) * 1e3
        fig.add_trace(
            go.Box(
                x=[name] * len(samples),
                y=samples,
                name=f"{name} samples",
                boxpoints="all",
                jitter=0.4,
                pointpos=0,
                fillcolor="rgba(0,0,0,0)",
                line=dict(color="rgba(0,0,0,0)"),
                marker=dict(color=OKABE_ITO[index % len(OKABE_ITO)], opacity=0.35, size=6),
                hoveron="points",
                hovertemplate="%{y:.2f} ms<extra></extra>",
                showlegend=False,
            )
        )
    title = "Measured latency: median with p10–p90"
    if "unpruned" in summary and "pruned" in summary and summary["pruned"][1] > 0:
        title += f" — {summary['unpruned'][1] / summary['pruned'][1]:.2f}x faster pruned (median)"
    fig.update_yaxes(title="latency (ms)", rangemode="tozero")
    fig.update_xaxes(title=None, type="category")
    return _style(fig, title)


# --- sweeps ----------------------------------------------------------------------------------

TRADEOFF_COLUMNS = ("strategy", "estimated_speedup", "metric", "value")


def tradeoff_curve(sweep_df, current_speedup: float | None = None, metric: str | None = None) -> go.Figure:
    """Accuracy against estimated speedup, one line per strategy, from a tidy sweep table.

    x = ``estimated_speedup``, y = ``value`` of ``metric`` (default: the table's first metric).
    ``current_speedup`` draws a vertical dashed line (``fig.layout.shapes[0]``).
    """
    missing = [column for column in TRADEOFF_COLUMNS if column not in sweep_df.columns]
    if missing:
        raise AccvizError(f"The sweep table lacks the columns {', '.join(missing)}.")
    if len(sweep_df) == 0:
        raise AccvizError("The sweep table is empty.")
    metrics = list(dict.fromkeys(sweep_df["metric"]))
    metric = metrics[0] if metric is None else metric
    if metric not in metrics:
        raise AccvizError(f"The sweep has no metric {metric!r}; it has: {', '.join(map(str, metrics))}.")
    table = sweep_df[sweep_df["metric"] == metric]
    present = list(dict.fromkeys(table["strategy"]))
    strategies = sorted(present, key=strategy_rank)
    several_models = "model" in table.columns and table["model"].nunique() > 1
    groups = ["model", "strategy"] if several_models else ["strategy"]
    rank = {strategy: index for index, strategy in enumerate(strategies)}
    grouped = sorted(
        (
            (keys if isinstance(keys, tuple) else (keys,), rows)
            for keys, rows in table.groupby(groups, sort=False)
        ),
        key=lambda item: (rank[item[0][-1]], str(item[0][0])),
    )
    fig = go.Figure()
    for keys, rows in grouped:
        strategy = keys[-1]
        rows = rows.sort_values("estimated_speedup")
        name = _strategy_label(strategy) + (f" ({keys[0]})" if several_models else "")
        colour = strategy_colour(strategy, OKABE_ITO[(len(STRATEGY_ORDER) + rank[strategy]) % len(OKABE_ITO)])
        error = None
        if "value_std" in rows.columns and rows["value_std"].fillna(0).gt(0).any():
            error = dict(type="data", array=rows["value_std"].fillna(0).tolist(), thickness=1.5, width=4)
        custom = np.column_stack(
            [
                rows[column].to_numpy(dtype=float) if column in rows.columns else np.full(len(rows), np.nan)
                for column in ("target_speedup", "measured_speedup", "mean_kept_last")
            ]
        )
        fig.add_trace(
            go.Scatter(
                x=rows["estimated_speedup"].tolist(),
                y=rows["value"].tolist(),
                mode="lines+markers",
                name=name,
                line=dict(color=colour, width=3 if strategy == "acc" else 2),
                marker=dict(size=8 if strategy == "acc" else 6),
                error_y=error,
                customdata=custom,
                hovertemplate=(
                    f"{name}<br>estimated %{{x:.2f}}x (target %{{customdata[0]:.2f}}x)<br>"
                    f"{metric} %{{y:.2f}}<br>measured %{{customdata[1]:.2f}}x<br>"
                    "mean kept in the last scored layer %{customdata[2]:.1f}<extra></extra>"
                ),
            )
        )
    if current_speedup is not None:
        fig.add_vline(
            x=float(current_speedup),
            line=dict(color="#333333", dash="dash", width=1.5),
            annotation_text=f"now: {float(current_speedup):.2f}x",
            annotation_position="bottom right",
        )
    fig.update_xaxes(title="estimated speedup (FLOPs, vs the unpruned model)", ticksuffix="x")
    fig.update_yaxes(title=metric)
    task = ""
    if "task" in table.columns and table["task"].nunique() == 1:
        task = f" on {table['task'].iloc[0]}"
    return _style(fig, f"{metric} against estimated speedup{task}, one line per strategy")


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
    fig = _style(fig, title, height=640)
    # inside the token panel's top-right corner: clear of the title and the subplot titles
    fig.update_layout(
        legend=dict(
            orientation="v", x=1, y=1, xanchor="right", yanchor="top", bgcolor="rgba(255,255,255,0.8)"
        )
    )
    return fig
