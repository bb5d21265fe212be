"""Load: 10 browser sessions at once against one server, each with its own text."""

import asyncio
import os

import pytest

from .conftest import REPO_ROOT

pytestmark = pytest.mark.browser
if not os.path.exists("/usr/bin/chromium"):
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)", allow_module_level=True)


def test_ten_sessions_at_once_get_correct_independent_results(app_env, minilm_tokenizer):
    from accviz.analysis import analyze_text
    from accviz.loading import load_model
    from app.bench_app import SENTENCES, load_sessions, peak_memory_mib, streamlit_server

    loaded = load_model(str(app_env["model"]))
    texts = SENTENCES[:10]
    expected = {}
    for text in texts:
        analysis = analyze_text(
            loaded.model, loaded.tokenizer, text, target_speedup=2.0, label_names=("negative", "positive")
        )
        expected[text] = (analysis.unpruned.label, analysis.pruned.label)

    log = REPO_ROOT / "test-artifacts" / "load-server.log"
    log.parent.mkdir(exist_ok=True)
    with streamlit_server(log_path=log) as (url, process, _):
        sessions = asyncio.run(asyncio.wait_for(load_sessions(url, texts), timeout=300))
        assert process.poll() is None, "the server died under load"
        peak = peak_memory_mib(process.pid)
    assert len(sessions) == 10
    for session in sessions:
        unpruned_label, pruned_label = expected[session["text"]]
        assert session["unpruned"].startswith(unpruned_label), (session, expected[session["text"]])
        assert session["pruned"].startswith(pruned_label), (session, expected[session["text"]])
    slowest = max(s["seconds"] for s in sessions)
    print(f"10 sessions: slowest {slowest:.1f} s, server peak RSS {peak:.0f} MiB")
