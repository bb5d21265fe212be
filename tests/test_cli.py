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
