"""Fine-tuning and sweeps on two CPU processes (torch.distributed.run, gloo), against one process.

One launch runs this file as a module in two processes (``_worker``): the CLI's finetune and sweep,
then ``finetune`` itself twice (dropout off, against one process; and paused and resumed, against
an uninterrupted run). The tests read what the launch left behind.
"""

import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch

from accviz.errors import AccvizError
from accviz.train.finetune import FinetuneConfig, finetune

from .conftest import NEGATIVE, POSITIVE, REPO_ROOT, tiny_vocab_classifier, write_glue_fixture

PROCESSES = 2
# 13 examples in batches of 4: the last batch is one example, so one process gets a share of none
TEXTS = [f"{text} , take {i}" for i, text in enumerate((POSITIVE + NEGATIVE) * 3)][:13]
LABELS = ([1] * 3 + [0] * 3) * 2 + [1]
AVERAGED = FinetuneConfig(train_speedup="random:1-3", epochs=1, batch_size=4, max_length=16, seed=2,
                          learning_rate=1e-3)  # fmt: skip
TAUGHT = replace(
    AVERAGED, train_speedup="2.0", inplace_distill=False, teacher="tiny", teacher_hidden_weight=0.1
)
RESUMED = FinetuneConfig(train_speedup="random:1-3", epochs=2, batch_size=4, max_length=16, seed=3,
                         learning_rate=1e-3, checkpoint_every=3)  # fmt: skip
CLI_GLUE = ["--task", "sst2", "--max-length", "16"]
SWEEP = ["--speedups", "1,2,3", "--strategies", "acc,attention,random"]


def _cli_finetune(root: Path) -> list[str]:
    return ["--threads", "1", "finetune", *CLI_GLUE, "--glue-dir", str(root / "glue"), "--model", str(root / "tiny"),
            "--name", "two-processes", "--epochs", "2", "--batch-size", "8", "--lr", "1e-3", "--eval-examples", "8",
            "--train-speedup", "random:1-3"]  # fmt: skip


def _cli_sweep(root: Path, out: Path) -> list[str]:
    return ["--threads", "1", "sweep", *CLI_GLUE, "--glue-dir", str(root / "glue"), "--model", str(root / "tiny"),
            *SWEEP, "--out", str(out)]  # fmt: skip


def _worker(root: Path) -> None:
    """One of the launched processes; writes what it saw to ``root / rank<r>.pt``."""
    from transformers import AutoTokenizer, BertForSequenceClassification

    from accviz import cli

    os.environ["ACCVIZ_CACHE"] = str(root / "cache")  # the same for both (conftest made each its own)
    rank = int(os.environ["RANK"])
    assert cli.main(_cli_finetune(root)) == 0
    assert cli.main(_cli_sweep(root, root / "runs-two")) == 0
    tokenizer = AutoTokenizer.from_pretrained(root / "tiny")
    without_dropout = BertForSequenceClassification.from_pretrained(root / "tiny-no-dropout")
    averaged = finetune(without_dropout, tokenizer, TEXTS, LABELS, AVERAGED)
    student = BertForSequenceClassification.from_pretrained(root / "tiny-no-dropout")
    teacher = BertForSequenceClassification.from_pretrained(root / "tiny").eval()
    taught = finetune(student, tokenizer, TEXTS, LABELS, TAUGHT, teacher_model=teacher)
    whole = BertForSequenceClassification.from_pretrained(root / "tiny")
    uninterrupted = finetune(whole, tokenizer, TEXTS, LABELS, RESUMED)
    sessions = 0
    while True:  # one step per session (time budget 0), each in a fresh model, as after a restart
        sessions += 1
        paused = BertForSequenceClassification.from_pretrained(root / "tiny")
        result = finetune(paused, tokenizer, TEXTS, LABELS, replace(RESUMED, time_budget_s=0.0),
                          checkpoint_dir=root / "state")  # fmt: skip
        if not result.card["stopped_early"] or sessions > 20:
            break
    torch.save(
        {
            "averaged": (without_dropout.state_dict(), averaged.card, averaged.losses),
            "taught": (student.state_dict(), taught.card, taught.losses),
            "uninterrupted": (whole.state_dict(), uninterrupted.card, uninterrupted.losses),
            "resumed": (paused.state_dict(), result.card, result.losses, sessions),
        },
        root / f"rank{rank}.pt",
    )


@pytest.fixture(scope="module")
def launched(tmp_path_factory, minilm_tokenizer):
    """Two processes run ``_worker`` once; returns the folder it wrote to."""
    root = tmp_path_factory.mktemp("two-processes")
    for name, dropout in (("tiny", 0.1), ("tiny-no-dropout", 0.0)):
        model = tiny_vocab_classifier()
        model.config.hidden_dropout_prob = model.config.attention_probs_dropout_prob = dropout
        model.save_pretrained(root / name)
        minilm_tokenizer.save_pretrained(root / name)
    glue = write_glue_fixture(root / "glue", rows=16)
    (glue / "SST-2" / "train.tsv").write_text((glue / "SST-2" / "dev.tsv").read_text())
    env = {**os.environ, "ACCVIZ_CACHE": str(root / "cache"), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}  # fmt: skip
    # --standalone: a rendezvous on a free local port; the workers' gloo group follows it
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={PROCESSES}",
               "-m", "tests.test_multiprocess", str(root)]  # fmt: skip
    launcher = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)  # fmt: skip
    try:
        output, _ = launcher.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(launcher.pid, signal.SIGKILL)  # the launcher and the two workers it started
        output, _ = launcher.communicate()
        pytest.fail(f"two processes did not finish in 300 s:\n{output[-6000:]}")
    assert launcher.returncode == 0, f"exit {launcher.returncode}:\n{output[-6000:]}"
    return root


def _ranks(root: Path) -> list[dict]:
    return [torch.load(root / f"rank{rank}.pt", weights_only=False) for rank in range(PROCESSES)]


def test_cli_finetune_shards_the_batches_and_publishes_one_checkpoint(launched):
    from accviz.store.cache import read_card
    from accviz.store.loading import load_model

    models = launched / "cache" / "models"
    assert [path.name for path in models.iterdir() if path.is_dir()] == ["two-processes"]  # no staging left
    card = read_card(models / "two-processes")
    seen = card["examples_seen_per_process"]
    assert card["num_processes"] == PROCESSES and len(seen) == PROCESSES
    assert sum(seen) == 2 * card["train_examples"] == 2 * 16  # two epochs, every example once each
    assert max(seen) - min(seen) <= card["steps"]  # batch[r::2]: at most one more per step
    assert card["steps"] == card["planned_steps"] == 4 and set(card["dev_metrics"]) == {"1.0", "2.0", "3.0"}
    loaded = load_model(str(models / "two-processes"))
    batch = loaded.tokenizer(POSITIVE, return_tensors="pt", padding=True)
    with torch.no_grad():
        assert torch.isfinite(loaded.model(**batch).logits).all()


def test_sweep_on_two_processes_is_the_one_process_table(launched, capsys):
    from accviz import cli
    from accviz.results import read_sweep

    assert cli.main(_cli_sweep(launched, launched / "runs-one")) == 0
    one, _ = read_sweep(launched / "runs-one" / "tiny__sst2")
    two, card = read_sweep(launched / "runs-two" / "tiny__sst2")
    assert card["num_processes"] == PROCESSES and len(one) == 9
    # measured latency is each process's own timing: present for the same rows, not the same number
    pd.testing.assert_series_equal(one.measured_speedup.notna(), two.measured_speedup.notna())
    pd.testing.assert_frame_equal(one.drop(columns="measured_speedup"), two.drop(columns="measured_speedup"))


@pytest.mark.parametrize("run, config", [("averaged", AVERAGED), ("taught", TAUGHT)])
def test_two_processes_average_gradients_into_the_one_process_update(launched, minilm_tokenizer, run, config):
    """Dropout off: each process's share of a batch, weighted and averaged, is the whole batch;
    with in-place distillation (averaged) and with a separate teacher (taught)."""
    from transformers import BertForSequenceClassification

    ranks = _ranks(launched)
    alone = BertForSequenceClassification.from_pretrained(launched / "tiny-no-dropout")
    teacher = (
        BertForSequenceClassification.from_pretrained(launched / "tiny").eval() if config.teacher else None
    )
    reference = finetune(alone, minilm_tokenizer, TEXTS, LABELS, config, teacher_model=teacher)
    for seen in ranks:
        weights, card, losses = seen[run]
        assert card["examples_seen_per_process"] == [7, 6]  # 2+2+2+1 and 2+2+2+0 of 4+4+4+1
        assert card["steps"] == reference.card["steps"] == 4
        assert losses == pytest.approx(reference.losses, rel=1e-4)
        for name, value in alone.state_dict().items():
            torch.testing.assert_close(weights[name], value, rtol=1e-4, atol=1e-5, msg=name)
    first, second = (seen[run][0] for seen in ranks)
    assert all(torch.equal(first[name], second[name]) for name in first)  # DDP keeps them one model


def test_a_paused_two_process_run_resumes_to_the_uninterrupted_weights(launched, minilm_tokenizer):
    for seen in _ranks(launched):
        whole, whole_card, whole_losses = seen["uninterrupted"]
        resumed, card, losses, sessions = seen["resumed"]
        assert sessions == whole_card["planned_steps"] == 8  # one step per session
        assert card["examples_seen_per_process"] == whole_card["examples_seen_per_process"] == [14, 12]
        assert losses == pytest.approx(whole_losses)
        for name, value in whole.items():  # dropout on: each process's own stream was restored
            torch.testing.assert_close(resumed[name], value, rtol=0, atol=0, msg=name)
    state = launched / "state"
    with pytest.raises(AccvizError, match="saved by 2 process"):  # this process is one
        finetune(tiny_vocab_classifier(), minilm_tokenizer, TEXTS, LABELS, RESUMED, checkpoint_dir=state)


if __name__ == "__main__":
    _worker(Path(sys.argv[1]))
