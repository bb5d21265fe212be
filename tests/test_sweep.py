import pytest

from accviz.data.splits import load_split
from accviz.data.tasks import get_task
from accviz.errors import CacheError
from accviz.measure.sweep import run_sweep
from accviz.method.scoring import ACC, STRATEGY_ORDER, choose_strategy
from accviz.results import SWEEP_COLUMNS, read_sweep, sweep_dir, write_sweep

from .conftest import tiny_vocab_classifier, write_glue_fixture


@pytest.fixture(scope="module")
def sweep_table(tmp_path_factory, minilm_tokenizer):
    glue = write_glue_fixture(tmp_path_factory.mktemp("glue"), rows=24)
    data = load_split(get_task("sst2"), "dev", glue_dir=glue)
    table = run_sweep(
        tiny_vocab_classifier(), minilm_tokenizer, data, model_name="tiny", speedups=[1.0, 2.0, 3.0]
    )
    return table, data


def test_sweep_is_tidy_and_complete(sweep_table):
    table, data = sweep_table
    assert list(table.columns) == SWEEP_COLUMNS
    assert set(table.strategy) == set(STRATEGY_ORDER)  # every registered strategy by default
    assert sorted(set(table.target_speedup)) == [1.0, 2.0, 3.0]
    assert len(table) == len(STRATEGY_ORDER) * 3  # one metric for sst2
    assert (table.estimated_speedup >= table.target_speedup * 0.999).all()
    assert (table.estimated_speedup_padded128 > table.estimated_speedup).all()
    at_one = table[table.target_speedup == 1.0]
    assert at_one.value.nunique() == 1  # no elimination: every strategy is the same model
    assert table[table.strategy == "acc"].measured_speedup.notna().all()
    assert table[table.strategy == "attention"].measured_speedup.isna().all()
    assert (table.n_examples == len(data)).all()


def test_write_then_read_round_trip_and_corruption_is_caught(sweep_table, tmp_path):
    table, data = sweep_table
    directory = sweep_dir(tmp_path, "tiny model/v1", "sst2")
    assert directory.name == "tiny-model-v1__sst2"
    write_sweep(table, directory, {"model": "tiny", "task": "sst2"})
    again, card = read_sweep(directory)
    assert card["task"] == "sst2" and card["kind"] == "sweep"
    assert list(again.columns) == SWEEP_COLUMNS and len(again) == len(table)
    (directory / "sweep.csv").write_text((directory / "sweep.csv").read_text().replace("acc", "acx", 1))
    with pytest.raises(CacheError):
        read_sweep(directory)


def _tiny_checkpoint_and_data(tmp_path, tokenizer):
    """(a tiny checkpoint, a GLUE folder with 16 SST-2 dev rows, an output folder)."""
    model_dir = tmp_path / "tiny"
    tiny_vocab_classifier().save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    return model_dir, write_glue_fixture(tmp_path / "glue", rows=16), tmp_path / "runs"


def test_cli_sweep_and_eval_on_fixture_data(tmp_path, minilm_tokenizer, capsys):
    from accviz import cli

    model_dir, glue, out = _tiny_checkpoint_and_data(tmp_path, minilm_tokenizer)
    argv = ["sweep", "--task", "sst2", "--glue-dir", str(glue), "--model", str(model_dir), "--speedups", "1,2",
            "--strategies", "acc,random", "--out", str(out)]  # fmt: skip
    assert cli.main(argv) == 0
    table, card = read_sweep(out / "tiny__sst2")
    assert set(table.strategy) == {"acc", "random"} and card["profile_family"] == "geometric"
    assert "accviz sweep" in card["command"] or card["command"].startswith("accviz")
    assert "model_training" not in card  # a checkpoint accviz did not fine-tune has no recipe to tell
    from accviz.store.cache import write_card

    write_card(model_dir, {"kind": "finetune", "config": {"epochs": 2.0, "train_speedup": "random:1-4"}, "steps": 7},
               files=["config.json"])  # fmt: skip
    assert cli.main([*argv, "--strategies", "acc"]) == 0
    _, card = read_sweep(out / "tiny__sst2")
    assert card["model_training"] == {"config": {"epochs": 2.0, "train_speedup": "random:1-4"}, "steps": 7}
    # a second stage fine-tuned from another accviz checkpoint: the sweep counts the first stage too
    import shutil

    import numpy as np

    from accviz.results import training_wall_s

    first = tmp_path / "first"
    shutil.copytree(model_dir, first)
    write_card(first, {"kind": "finetune", "name": "first", "wall_time_s": 100.0}, files=["config.json"])
    write_card(model_dir, {"kind": "finetune", "wall_time_s": 30.0, "base_model_path": str(first)},
               files=["config.json"])  # fmt: skip
    assert cli.main([*argv, "--strategies", "acc"]) == 0
    training = read_sweep(out / "tiny__sst2")[1]["model_training"]
    assert training["fine_tuned_from"] == ["first"] and training_wall_s(training) == 130.0
    write_card(first, {"kind": "finetune", "name": "first"}, files=["config.json"])  # its time unknown
    assert cli.main([*argv, "--strategies", "acc"]) == 0
    training = read_sweep(out / "tiny__sst2")[1]["model_training"]
    assert "total_wall_time_s" not in training and np.isnan(training_wall_s(training))
    assert cli.main(["eval", "--task", "sst2", "--glue-dir", str(glue), "--model", str(model_dir), "--speedup", "1", "3",
                     "--family", "tilt", "--no-latency"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "target 3x [acc]" in printed and "estimated" in printed and "mean kept per layer" in printed


def test_cli_int8_runs_demo_eval_and_sweep_end_to_end(tmp_path, minilm_tokenizer, capsys):
    from accviz import cli

    model_dir, glue, out = _tiny_checkpoint_and_data(tmp_path, minilm_tokenizer)
    assert (
        cli.main(["demo", "a charming journey .", "--model", str(model_dir), "--int8", "--allow-pickle"]) == 0
    )
    assert "weights: int8 per-channel" in capsys.readouterr().out
    assert cli.main(["eval", "--task", "sst2", "--glue-dir", str(glue), "--model", str(model_dir), "--speedup", "2",
                     "--int8", "per-tensor", "--int8-keep-fp32", "bert.encoder.layer.0"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "int8 per-tensor (fp32: bert.encoder.layer.0)" in printed and "measured" in printed
    argv = ["sweep", "--task", "sst2", "--glue-dir", str(glue), "--model", str(model_dir), "--speedups", "1,2",
            "--strategies", "acc", "--out", str(out), "--int8"]  # fmt: skip
    assert cli.main(argv) == 0
    table, card = read_sweep(out / "tiny-int8__sst2")
    assert card["weights"] == "int8 per-channel" and card["model"] == "tiny-int8" and len(table)
    with pytest.raises(SystemExit):
        cli.main(["eval", "--model", str(model_dir), "--int8", "int4"])


def test_a_shallower_model_is_swept_against_its_deeper_base(minilm_tokenizer, tmp_path):
    """Layer-drop: speedups are FLOPs(base, unpruned) / FLOPs(cut model, pruned) on the same lengths."""
    import copy

    from accviz.method.flops import unpruned_flops
    from accviz.store.checkpoints import keep_first_layers

    data = load_split(get_task("sst2"), "dev", glue_dir=write_glue_fixture(tmp_path, rows=16))
    model = tiny_vocab_classifier()  # 3 layers
    reference = copy.deepcopy(model.config)
    keep_first_layers(model, 2)
    table = run_sweep(model, minilm_tokenizer, data, model_name="cut", speedups=[1.0, 1.2, 2.0, 3.0],
                      strategies=(ACC, choose_strategy("acc+fuse")), reference_config=reference)  # fmt: skip
    lengths = [len(ids) for ids in minilm_tokenizer(data.texts_a)["input_ids"]]
    depth = unpruned_flops(reference, lengths).total_macs / unpruned_flops(model.config, lengths).total_macs
    assert 1.3 < depth < 1.6  # 3 layers against 2, the last a [CLS]-only one
    own = table[table.estimated_speedup == table.estimated_speedup.min()]
    assert own.target_speedup.iloc[0] == pytest.approx(depth)  # the cut model itself, no elimination
    assert table.target_speedup.min() == pytest.approx(depth)  # 1.0 and 1.2 are out of its reach
    assert (table.estimated_speedup >= table.target_speedup * 0.999).all()
    assert table.measured_speedup.isna().all()  # measured only against itself: not reported
    assert set(table.strategy) == {"acc", "acc+fuse"}
    assert not table.duplicated(["strategy", "target_speedup"]).any()
    again = run_sweep(model, minilm_tokenizer, data, model_name="cut", speedups=[depth * 1.000001, 3.0],
                      strategies=(ACC,), reference_config=reference)  # fmt: skip
    assert len(again) == 2  # a target a hair above the cut model's own point is that point
