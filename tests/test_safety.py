"""Safe defaults: bind address, the visitor allow-list, input limits."""

import os

import pytest

from accviz import cli
from accviz.cli import show as cli_show
from accviz.store.safety import MAX_INPUT_CHARS, allowed_models, clip_text

from .conftest import REPO_ROOT


def _capture_serve(monkeypatch) -> list:
    calls = []
    monkeypatch.setattr(
        cli_show, "_serve", lambda command, env, open_url: calls.append((command, env, open_url)) or 0
    )
    return calls


def test_app_binds_to_loopback_by_default(monkeypatch):
    calls = _capture_serve(monkeypatch)
    assert cli.main(["app", "--headless"]) == 0
    command, env, open_url = calls[0]
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert env["ACCVIZ_SERVER_HOST"] == "127.0.0.1"
    assert open_url is None


def test_app_never_lets_streamlit_prompt_and_opens_the_browser_itself(monkeypatch):
    calls = _capture_serve(monkeypatch)
    assert cli.main(["app", "--port", "8600"]) == 0
    command, _, open_url = calls[0]
    # not headless, Streamlit's first run asks for an e-mail on stdin and blocks the start
    assert command[command.index("--server.headless") + 1] == "true"
    assert open_url == "http://127.0.0.1:8600"
    cli.main(["app", "--host", "::1"])
    assert calls[-1][2] == "http://[::1]:8501"


def test_exposing_the_app_is_explicit_and_warned(monkeypatch, capsys):
    calls = _capture_serve(monkeypatch)
    cli.main(["app", "--host", "0.0.0.0", "--headless"])
    command, env, _ = calls[0]
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
    at = AppTest.from_file(str(REPO_ROOT / "app" / "streamlit_app.py"), default_timeout=120)
    at.run()
    assert not at.exception
    assert not [t for t in at.text_input if t.key == "model_custom"], "visitors must not type paths"
    assert not [c for c in at.checkbox if c.key == "allow_pickle"]
    options = at.selectbox(key="model_choice").options
    assert any("allow-list" in o for o in options)
    from accviz.store.checkpoints import list_cached_models

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


def test_the_browser_is_not_opened_for_a_server_that_died(monkeypatch):
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)

    class Exited:
        def poll(self):
            return 1

    assert cli_show._open_when_ready("http://127.0.0.1:9", Exited(), timeout_s=5) is False
    assert opened == []


def test_app_takes_the_loading_flags_on_loopback_only(monkeypatch, capsys):
    """Every verb that loads a model takes --allow-pickle; the app passes it to the sidebar's box,
    and refuses it on an exposed server, whose visitors must not choose what pickle runs."""
    calls = _capture_serve(monkeypatch)
    assert cli.main(["app", "--headless", "--allow-pickle"]) == 0
    assert calls[-1][1]["ACCVIZ_ALLOW_PICKLE"] == "1"
    assert cli.main(["app", "--headless"]) == 0
    assert "ACCVIZ_ALLOW_PICKLE" not in calls[-1][1] or calls[-1][1]["ACCVIZ_ALLOW_PICKLE"] != "1"
    assert cli.main(["app", "--headless", "--host", "0.0.0.0", "--allow-pickle"]) == 1
    assert "loopback server only" in capsys.readouterr().err
    assert len(calls) == 2
