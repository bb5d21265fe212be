"""The command line: every verb answers --help, and bad input ends with a clear message and a
non-zero exit code (1: accviz refused it; 2: argparse did), never a traceback."""

import pytest

from accviz import cli

VERBS = ["app", "prepare", "models", "finetune", "eval", "sweep", "corpus", "search-profile", "demo", "bench"]


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_answers_help(verb, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([verb, "--help"])
    assert exit_info.value.code == 0
    assert "usage: accviz" in capsys.readouterr().out


def test_the_verbs_listed_are_the_verbs_there():
    parser = cli.build_parser()
    choices = next(a for a in parser._actions if a.dest == "command").choices
    assert sorted(choices) == sorted(VERBS)


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["eval", "--task", "nope", "--model", "x"], 1, "nope"),
        (["demo", "hello", "--model", "/no/such/model"], 1, "no such directory"),
        (["eval", "--model", "/no/such/model", "--int8", "int4"], 2, "invalid choice"),
        (["sweep", "--speedups", "1,fast"], 2, "speedups must be numbers"),
        (["finetune", "--train-speedup", "fast", "--model", "/no/such/model"], 1, "--train-speedup"),
        (["eval", "--family", "searched", "--model", "x"], 1, "is for accviz sweep"),
        (["bench", "nothing"], 2, "invalid choice"),
        (["search-profile", "--task", "nope", "--model", "x"], 1, "Unknown task 'nope'"),
        (["corpus", "--input", "/no/such.csv", "--model", "/no/such/model"], 1, "no such file"),
        (["models", "--bogus"], 2, "unrecognized arguments"),
    ],
)
def test_bad_input_is_a_clear_error(argv, code, message, capsys):
    try:
        result = cli.main(argv)
    except SystemExit as exit_info:  # argparse
        result = exit_info.code
    captured = capsys.readouterr()
    assert result == code
    assert message in captured.err, captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["sweep", "--strategies", "acc,magic", "--model", "/no/such/model"],
            "Unknown scoring strategy 'magic'",
        ),
        (["corpus", "--strategy", "acc+merge", "--model", "/no/such/model"], "Unknown strategy variant"),
        (["demo", "text", "--strategy", "magic", "--model", "/no/such/model"], "Unknown scoring strategy"),
        (
            ["finetune", "--task", "sst2", "--strategy", "magic", "--model", "/no/such/model"],
            "Unknown scoring",
        ),
    ],
)
def test_a_bad_name_fails_before_any_model_loads(argv, message, capsys):
    assert cli.main(argv) == 1  # the model path does not exist: the name was checked first
    assert message in capsys.readouterr().err


RESOLVERS = {  # module of definition -> the functions that turn a typed name into an object
    "accviz.data.tasks": ("get_task",),
    "accviz.method.scoring": ("choose_strategy", "parse_strategy", "get_scorer"),
}


def _count_resolutions(monkeypatch) -> dict[str, int]:
    """Counts every call of a resolver, however a module imported it (``from ... import get_task``)."""
    import importlib
    import sys

    for verbs in ("show", "train", "measure"):  # the verbs' modules, imported lazily by the CLI
        importlib.import_module(f"accviz.cli.{verbs}")
    counts: dict[str, int] = {}
    for home, names in RESOLVERS.items():
        for name in names:
            original = getattr(importlib.import_module(home), name)
            counts[name] = 0

            def counting(*args, _original=original, _name=name, **kwargs):
                counts[_name] += 1
                return _original(*args, **kwargs)

            for module in list(sys.modules.values()):
                if (
                    getattr(module, "__name__", "").startswith(("accviz", "app"))
                    and getattr(module, name, None) is original
                ):
                    monkeypatch.setattr(module, name, counting)
    return counts


def test_names_are_resolved_once_along_a_command(tmp_path, minilm_tokenizer, monkeypatch, capsys):
    """``accviz eval``/``sweep``/``corpus``/``demo`` turn --task into its TaskSpec and each strategy
    name into its scorer once, at the command line, and pass the objects down: no engine function
    looks a name up again (the issue's count was six ``get_task`` calls for one ``accviz eval``)."""
    from .conftest import tiny_vocab_classifier, write_glue_fixture

    model_dir = tmp_path / "tiny"
    tiny_vocab_classifier().save_pretrained(model_dir)
    minilm_tokenizer.save_pretrained(model_dir)
    glue = write_glue_fixture(tmp_path / "glue", rows=12)
    common = ["--task", "sst2", "--glue-dir", str(glue), "--model", str(model_dir)]
    runs = {
        "eval": (
            ["eval", *common, "--speedup", "1", "2", "3", "--strategy", "acc+fuse", "--no-latency"],
            1,
            1,
        ),
        "sweep": (
            [
                "sweep",
                *common,
                "--speedups",
                "1,2",
                "--strategies",
                "acc,attention,random",
                "--out",
                str(tmp_path / "runs"),
            ],
            1,
            3,
        ),  # fmt: skip
        "corpus": (["corpus", *common, "--speedup", "2", "--strategy", "attention"], 1, 1),
        "demo": (["demo", "a charming film", "--model", str(model_dir), "--strategy", "cls-attention"], 0, 1),
    }
    monkeypatch.setenv("ACCVIZ_CACHE", str(tmp_path / "cache"))
    for verb, (argv, tasks, strategies) in runs.items():
        counts = _count_resolutions(monkeypatch)
        assert cli.main(argv) == 0, capsys.readouterr().err
        assert counts["get_task"] == tasks, verb
        assert counts["choose_strategy"] == strategies, verb
        assert counts["parse_strategy"] == strategies and counts["get_scorer"] == 0, (verb, counts)
        monkeypatch.undo()
        monkeypatch.setenv("ACCVIZ_CACHE", str(tmp_path / "cache"))


MODEL_VERBS = ["app", "prepare", "finetune", "eval", "sweep", "corpus", "search-profile", "demo"]


@pytest.mark.parametrize("verb", MODEL_VERBS)
def test_every_verb_that_loads_a_model_takes_the_loading_flags(verb):
    extra = ["some text"] if verb == "demo" else []
    args = cli.build_parser().parse_args([verb, *extra, "--allow-pickle"])
    assert args.allow_pickle is True
