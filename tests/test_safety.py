"""Safe defaults: bind address, the visitor allow-list, input limits."""

import os

import pytest

from accviz import cli
from accviz.safety import MAX_INPUT_CHARS, allowed_models, clip_text

from .conftest import REPO_ROOT


def test_app_binds_to_loopback_by_default(monkeypatch):
    calls = []
    monkeypatch.setattr(cli.subprocess, "call", lambda command, env: calls.append((command, env)) or 0)
    assert cli.main(["app", "--headless"]) == 0
    command, env = calls[0]
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert env["ACCVIZ_SERVER_HOST"] == "127.0.0.1"


def test_exposing_the_app_is_explicit_and_warned(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(cli.subprocess, "call", lambda command, env: calls.append((command, env)) or 0)
    cli.main(["app", "--host", "0.0.0.0", "--headless"])
    command, env = calls[0]
    assert command[command.index("--server.address") + 1] == "0.0.0.0"
    assert env["ACCVIZ_SERVER_HOST"] == "0.0.0.0"
    assert "WARNING" in capsys.readouterr().err


def test_allowlist_file(tmp_path, monkeypatch):
    allow = tmp_path / "allow.txt"
    allow.write_text("# teaching models\n/models/a  # first\n\nowner/name\n/models/a\n")
    monkeypatch.setenv("ACCVIZ_ALLOWLIST", str(allow))
    assert allowed_models() == ["/models/a", "owner/name"]
    monkeypatch.setenv("ACCVIZ_ALLOWLIST", str(tmp_path / "missing.txt"))
    assert allowed_models() == []


def test_clip_text():
    assert clip_text("short") == ("short", False)
    clipped, cut = clip_text("x" * (MAX_INPUT_CHARS + 5))
    assert cut and len(clipped) == MAX_INPUT_CHARS
    assert clip_text(None) == ("", False)


def test_exposed_app_offers_no_free_text_paths(app_env, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    allow = tmp_path / "allow.txt"
    allow.write_text(f"{app_env['model']}\n")
    monkeypatch.setenv("ACCVIZ_ALLOWLIST", str(allow))
    monkeypatch.setenv("ACCVIZ_SERVER_HOST", "0.0.0.0")
    at = AppTest.from_file(str(REPO_ROOT / "app" / "page_scripts" / "method.py"), default_timeout=120)
    at.run()
    assert not at.exception
    assert not [t for t in at.text_input if t.key == "model_custom"], "visitors must not type paths"
    assert not [c for c in at.checkbox if c.key == "allow_pickle"]
    options = at.selectbox(key="model_choice").options
    assert any("allow-list" in o for o in options)
    from accviz.models import list_cached_models

    cached = [m.describe() for m in list_cached_models()]
    assert all(
        o.endswith(("(ACCVIZ_MODEL)", "(allow-list)")) or o.startswith("default") or o in cached
        for o in options
    )
    assert os.environ["ACCVIZ_SERVER_HOST"] == "0.0.0.0"


@pytest.mark.parametrize(
    "argv", [["eval", "--task", "nope"], ["eval", "--model", "/no/such/dir", "--task", "sst2"]]
)
def test_cli_errors_are_one_clear_line_and_exit_1(argv, capsys):
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
