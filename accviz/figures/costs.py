"""Figures of what elimination costs and buys: the FLOPs breakdown, the profile, measured latency,
and the accuracy-versus-speedup curves of the sweeps. Data in, a figure out."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from accviz.errors import AccvizError
from accviz.figures.style import (
    COMPONENT_COLOURS,
    OKABE_ITO,
    style,
)
from accviz.method.scoring import STRATEGY_ORDER, strategy_colour, strategy_label, strategy_rank

# --- FLOPs, profiles, latency -------------------------------------------------------------


def flops_unit(largest_flops: float) -> tuple[float, str]:
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
    scale, unit = flops_unit(largest)
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
    return style(
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
    return style(fig, title)


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
    return style(fig, title)


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
        name = strategy_label(strategy) + (f" ({keys[0]})" if several_models else "")
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
    return style(fig, f"{metric} against estimated speedup{task}, one line per strategy")
