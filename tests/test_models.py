"""The cache of fine-tuned checkpoints: built once, rebuilt when corrupt, safe under concurrency."""

import multiprocessing
from dataclasses import replace

import pytest

from accviz.cache import read_card
from accviz.errors import CacheError
from accviz.finetune import FinetuneConfig
from accviz.models import list_cached_models, prepare_finetuned

from .conftest import write_glue_fixture

TINY_RECIPE = FinetuneConfig(epochs=1, batch_size=16, max_length=16, eval_examples=16)


@pytest.fixture
def tiny_base(tmp_path, minilm_tokenizer):
    from .conftest import tiny_vocab_classifier

    path = tmp_path / "tiny-base"
    tiny_vocab_classifier().save_pretrained(path)
    minilm_tokenizer.save_pretrained(path)
    glue = write_glue_fixture(tmp_path / "glue")
    (glue / "SST-2" / "train.tsv").write_text((glue / "SST-2" / "dev.tsv").read_text())
    return path, glue


def _prepare(base, glue, name, recipe=TINY_RECIPE):
    return prepare_finetuned(str(base), "sst2", recipe, name=name, glue_dir=str(glue))


def test_prepared_once_then_reused_with_a_card(tiny_base):
    base, glue = tiny_base
    first = _prepare(base, glue, "tiny")
    card = read_card(first)
    assert (
        card["task"] == "sst2"
        and card["train_speedup"] == "random:1-4"
        and set(card["dev_metrics"]) == {"1.0", "2.0", "3.0"}
    )
    assert "model.safetensors" in card["files"]
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    assert _prepare(base, glue, "tiny") == first
    assert (first / "model.safetensors").stat().st_mtime_ns == stamp  # not rebuilt
    assert [m.name for m in list_cached_models()].count("tiny") == 1


def test_a_corrupted_checkpoint_is_detected_and_rebuilt(tiny_base):
    base, glue = tiny_base
    path = _prepare(base, glue, "tiny-corrupt")
    weights = path / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CacheError):
        read_card(path)
    rebuilt = _prepare(base, glue, "tiny-corrupt")
    assert read_card(rebuilt)  # checksums hold again


def _prepare_in_subprocess(args):
    import os

    base, glue, cache = args
    os.environ["ACCVIZ_CACHE"] = cache
    os.environ["HF_HUB_OFFLINE"] = "1"
    path = prepare_finetuned(base, "sst2", replace(TINY_RECIPE), name="tiny-shared", glue_dir=glue)
    return str(path), read_card(path)["created"]


def test_two_processes_preparing_the_same_default_end_with_one_valid_checkpoint(tiny_base, tmp_path):
    import os

    base, glue = tiny_base
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        results = pool.map(_prepare_in_subprocess, [(str(base), str(glue), os.environ["ACCVIZ_CACHE"])] * 2)
    paths, created = zip(*results, strict=True)
    assert len(set(paths)) == 1
    assert len(set(created)) == 1, "built twice: the lock did not hold"
    assert read_card(paths[0])
