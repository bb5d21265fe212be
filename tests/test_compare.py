"""Two settings on one input: accviz.explain.compare, its figures, and the Compare panel on Explore."""

from dataclasses import replace

import numpy as np
import pytest

from accviz.errors import AccvizError
from accviz.explain.analysis import Prediction, analyze_text
from accviz.explain.compare import compare_analyses, kept_after_each_layer
from accviz.figures import comparison as comparison_figures
from accviz.figures import style
from accviz.method.scoring import choose_strategy

from .conftest import expected_strategy_comparison, tiny_bert_config, tiny_vocab_classifier
from .test_app import figure, metric, plotly_array, run_page

TEXT = "good fun movie night"  # [CLS] good fun movie night [SEP]: 6 tokens, 3 layers


@pytest.fixture(scope="module")
def analysis(minilm_tokenizer):
    model = tiny_vocab_classifier()
    result = analyze_text(model, minilm_tokenizer, TEXT, target_speedup=2.0, output_attentions=False)
    assert len(result.tokens) == 6 and result.num_layers == 3
    return result


def hand_pair(analysis):
    """A and B with hand-set eliminations (layer after which each token left; 0 = never).

    kept after layer 1: A {0,2,3,4,5}, B {0,1,3,4,5} -> 4 / 6
               layer 2: A {0,2,4,5},   B {0,1,3,5}   -> 2 / 6
               layer 3: A {0,2,5},     B {0,1,5}     -> 2 / 4
    """
    a = replace(analysis, eliminated_at=np.array([0, 1, 0, 2, 3, 0]), strategy="acc")
    b = replace(analysis, eliminated_at=np.array([0, 0, 1, 3, 2, 0]), strategy="attention")
    return a, b


def test_overlap_and_the_one_sided_sets_by_hand(analysis):
    comparison = compare_analyses(*hand_pair(analysis))
    np.testing.assert_allclose(comparison.overlap, [4 / 6, 2 / 6, 2 / 4])
    only_a = [set(np.flatnonzero(row)) for row in comparison.only_a]
    only_b = [set(np.flatnonzero(row)) for row in comparison.only_b]
    assert only_a == [{2}, {2, 4}, {2}]
    assert only_b == [{1}, {1, 3}, {1}]
    assert [set(np.flatnonzero(row)) for row in comparison.both] == [{0, 3, 4, 5}, {0, 5}, {0, 5}]
    assert (comparison.name_a, comparison.name_b) == ("ACC", "attention (PoWER-BERT)")
    assert comparison.predictions_agree  # the same pruned prediction on both sides


def test_real_strategies_keep_the_profile_counts_and_a_setting_matches_itself(minilm_tokenizer):
    model = tiny_vocab_classifier()
    text = "a charming and often affecting journey , with a dull and tedious middle ."
    acc = analyze_text(model, minilm_tokenizer, text, target_speedup=3.0, strategy=choose_strategy("acc"))
    attention = analyze_text(
        model, minilm_tokenizer, text, target_speedup=3.0, strategy=choose_strategy("attention")
    )
    comparison = compare_analyses(acc, attention)
    assert comparison.kept_a.sum(axis=1).tolist() == list(acc.kept_per_layer)
    assert comparison.kept_b.sum(axis=1).tolist() == list(attention.kept_per_layer)
    assert comparison.kept_a[:, 0].all() and comparison.kept_b[:, 0].all()  # [CLS] stays
    assert ((comparison.overlap > 0) & (comparison.overlap <= 1)).all()
    same = compare_analyses(acc, acc)
    np.testing.assert_array_equal(same.overlap, np.ones(acc.num_layers))
    assert not same.only_a.any() and not same.only_b.any() and same.predictions_agree
    assert (same.name_a, same.name_b) == ("ACC (A)", "ACC (B)")
    assert kept_after_each_layer(acc)[-2].sum() == len(acc.survivors)  # kept after L - 1 = entering L


def test_predictions_agree_by_class_and_regressions_by_distance(analysis):
    a, b = hand_pair(analysis)
    other_class = Prediction("x", 1 - a.pruned.label_id, 0.9, None, (0.1, 0.9))
    assert not compare_analyses(a, replace(b, pruned=other_class)).predictions_agree
    near, close, far = (Prediction(f"{v}", None, None, v, ()) for v in (2.0, 2.3, 3.0))
    assert compare_analyses(replace(a, pruned=near), replace(b, pruned=close)).predictions_agree
    assert not compare_analyses(replace(a, pruned=near), replace(b, pruned=far)).predictions_agree
    assert not compare_analyses(replace(a, pruned=near), b).predictions_agree  # regression vs class


def test_different_tokens_or_depths_are_refused_with_a_reason(analysis):
    a, b = hand_pair(analysis)
    other_tokens = replace(b, tokens=("[CLS]", "good", "fu", "##n", "movie", "[SEP]"))
    with pytest.raises(AccvizError, match="different tokens.*position 2 \\('fun' vs 'fu'\\)"):
        compare_analyses(a, other_tokens)
    with pytest.raises(AccvizError, match="one has 6 tokens, the other 5"):
        compare_analyses(a, replace(b, tokens=b.tokens[:5]))
    with pytest.raises(AccvizError, match="3 and 2 layers"):
        compare_analyses(a, replace(b, scores=b.scores[:2], rank=b.rank[:2]))


def test_comparison_heatmap_paints_each_cell_by_who_keeps_it(analysis):
    comparison = compare_analyses(*hand_pair(analysis), name_a="plain", name_b="elim")
    fig = comparison_figures.comparison_heatmap(comparison)
    data = fig.data
    assert len(data) == 12
    painted = [~np.isnan(np.asarray(trace.z, dtype=float)) for trace in data[4:8]]
    np.testing.assert_array_equal(painted[0], comparison.both)
    np.testing.assert_array_equal(painted[1], comparison.only_a)
    np.testing.assert_array_equal(painted[2], comparison.only_b)
    assert (sum(p.astype(int) for p in painted) == 1).all()  # every cell in exactly one category
    legend = [trace.name for trace in data[8:12]]
    assert legend == [
        "kept by both (8)",
        "kept by plain only (4)",
        "kept by elim only (4)",
        "eliminated by both (2)",
    ]
    assert list(data[0].x) == list(data[1].x) == list(data[4].x)  # one token axis
    assert "8 cells kept by one and not the other" in fig.layout.title.text


def test_overlap_chart_shows_the_jaccard_per_layer(analysis):
    comparison = compare_analyses(*hand_pair(analysis))
    trace = comparison_figures.overlap_per_layer(comparison).data[0]
    np.testing.assert_allclose(np.asarray(trace.y, dtype=float), [4 / 6, 2 / 6, 2 / 4])
    assert list(trace.text) == ["0.67", "0.33", "0.50"]
    np.testing.assert_array_equal(np.asarray(trace.customdata)[:, :2], [[4, 6], [2, 6], [2, 4]])


# --- the Compare panel on Explore (AppTest) -----------------------------------------------------


@pytest.fixture(scope="module")
def other_models(tmp_path_factory, minilm_tokenizer):
    """More checkpoints: one with the app's tokenizer, one without a classifier head, one with a
    tokenizer of its own."""
    from transformers import BertForSequenceClassification, BertModel, BertTokenizer

    root = tmp_path_factory.mktemp("compare-models")
    same = root / "same-tokenizer"
    tiny_vocab_classifier(seed=1).save_pretrained(same)
    minilm_tokenizer.save_pretrained(same)
    headless = root / "no-head"
    BertModel(tiny_bert_config(vocab_size=30522, max_position_embeddings=128)).save_pretrained(headless)
    minilm_tokenizer.save_pretrained(headless)
    other = root / "other-tokenizer"
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "charm", "##ing", "journey", "."]
    (root / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizer(str(root / "vocab.txt")).save_pretrained(other)
    BertForSequenceClassification(tiny_bert_config(vocab_size=len(vocab))).eval().save_pretrained(other)
    return {"same": same, "headless": headless, "other": other}


def _typed(at, text: str):
    at.selectbox(key="explore_example").set_value("(type your own)").run()
    at.text_area(key=[t.key for t in at.text_area][0]).set_value(text).run()
    return at


def test_compare_with_another_strategy_shows_both_predictions_and_the_overlap(app_env):

    text = "a charming and often affecting journey , with a dull middle"
    at = _typed(run_page("explore"), text)
    at.slider(key="explore_speedup").set_value(3.0).run()
    at.toggle(key="explore_compare_toggle").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="compare_kind").value == "another strategy"
    assert at.selectbox(key="compare_strategy").value == "attention"
    assert metric(at, "A · ACC") and metric(at, "B · attention (PoWER-BERT)")
    assert metric(at, "Pruned")  # Explore's own view stays above

    expected = expected_strategy_comparison(app_env["model"], text, 3.0)
    overlap = plotly_array(figure(at, "compare_overlap")["data"][0]["y"])
    np.testing.assert_allclose(overlap, expected.overlap)
    assert metric(at, "Mean kept-set overlap") == f"{expected.overlap.mean():.2f}"
    assert metric(at, "B · attention") == expected.b.pruned.label
    heatmap = figure(at, "compare_heatmap")
    assert "ACC vs attention (PoWER-BERT)" in heatmap["layout"]["title"]["text"]

    at.selectbox(key="compare_strategy").set_value("random").run()
    assert not at.exception and metric(at, "B · random")


def test_compare_with_another_model_and_a_clear_error_for_another_tokenizer(app_env, other_models):
    at = _typed(run_page("explore"), "a charming journey .")
    at.toggle(key="explore_compare_toggle").set_value(True).run()
    at.radio(key="compare_kind").set_value("another model").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Pick a model" in i.value for i in at.info)  # nothing runs before a pick
    at.text_input(key="compare_model_custom").set_value(str(other_models["same"])).run()
    assert not at.exception, [e.value for e in at.exception]
    assert metric(at, "A · tiny-model") and metric(at, "B · same-tokenizer")
    assert figure(at, "compare_overlap") and figure(at, "compare_heatmap")
    assert metric(at, "B · same-tokenizer").split(" ")[0] in ("negative", "positive")

    at.text_input(key="compare_model_custom").set_value(str(other_models["headless"])).run()
    assert not at.exception, [e.value for e in at.exception]
    assert metric(at, "B · no-head") == "not available"  # a random head predicts nothing
    assert metric(at, "A · tiny-model") in ("negative", "positive")

    at.text_input(key="compare_model_custom").set_value(str(other_models["other"])).run()
    assert not at.exception, [e.value for e in at.exception]
    errors = " ".join(e.value for e in at.error)
    assert "split this input into different tokens" in errors and "share a tokenizer" in errors
    assert not any(m.label.startswith("B · ") for m in at.metric)

    at.text_input(key="compare_model_custom").set_value(str(other_models["same"] / "nowhere")).run()
    assert not at.exception
    assert any("Cannot use this model" in e.value for e in at.error)


def test_an_exposed_server_compares_only_with_the_models_it_lists(app_env, monkeypatch):
    monkeypatch.setenv("ACCVIZ_SERVER_HOST", "0.0.0.0")
    at = run_page("explore")
    at.toggle(key="explore_compare_toggle").set_value(True).run()
    at.radio(key="compare_kind").set_value("another model").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "compare_model_custom" not in [t.key for t in at.text_input]
    listed = at.selectbox(key="compare_model").options
    assert listed and not any("tiny-model" in label for label in listed)  # the sidebar's own model is A


def test_a_long_input_opens_on_a_window_of_the_comparison(minilm_tokenizer):
    model = tiny_vocab_classifier()
    text = " ".join(f"word{i}" for i in range(60))  # well past 64 word-pieces
    comparison = compare_analyses(
        *(
            analyze_text(model, minilm_tokenizer, text, strategy=choose_strategy(s))
            for s in ("acc", "attention")
        )
    )
    assert len(comparison.tokens) > style.HEATMAP_WINDOW
    fig = comparison_figures.comparison_heatmap(comparison)
    assert list(fig.layout.xaxis3.range) == [-0.5, style.HEATMAP_WINDOW - 0.5]
    assert f"{len(comparison.tokens)} tokens: the first {style.HEATMAP_WINDOW} shown" in fig.layout.title.text
    assert len(fig.data[4].x) == len(comparison.tokens)  # the whole input is there to pan to
    short = compare_analyses(
        *(
            analyze_text(model, minilm_tokenizer, "a fine film", strategy=choose_strategy(s))
            for s in ("acc", "attention")
        )
    )
    assert comparison_figures.comparison_heatmap(short).layout.xaxis3.range is None
