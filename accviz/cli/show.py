"""The verbs that show things: ``app`` (the Streamlit server), ``prepare``, ``models``, ``demo``."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
import webbrowser

from accviz.cli import APP_SCRIPT
from accviz.cli.common import load_for_inference, progress_bars
from accviz.errors import AccvizError
from accviz.explain.analysis import analyze_text
from accviz.method.scoring import choose_strategy
from accviz.store.checkpoints import (
    list_cached_models,
    models_dir,
    prepare_default_model,
)


def cmd_app(args) -> int:
    exposed = args.host not in ("127.0.0.1", "localhost", "::1")
    if args.allow_pickle and exposed:
        raise AccvizError(
            "--allow-pickle is for a loopback server only: pickle weights can run code, and an exposed "
            "server's visitors must not choose what it loads."
        )
    if exposed:
        print(
            f"WARNING: serving on {args.host}: anyone who can reach this machine can use the app. "
            "Visitors can only pick cached checkpoints and the allow-list; free-text model paths are off.",
            file=sys.stderr,
        )
    env = dict(os.environ, ACCVIZ_SERVER_HOST=args.host)
    if args.model:
        env["ACCVIZ_MODEL"] = args.model
    if args.allow_pickle:  # the sidebar's "Allow pickle weights" starts ticked
        env["ACCVIZ_ALLOW_PICKLE"] = "1"
    # Always headless for Streamlit itself: otherwise its first run on a machine asks for an e-mail
    # address on stdin, which blocks the one-command start (and ends it where stdin is not a
    # terminal). accviz opens the browser itself unless --headless.
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT),
        "--server.address", args.host, "--server.port", str(args.port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    browse_host = "localhost" if args.host in ("0.0.0.0", "::") else args.host
    url = f"http://[{browse_host}]:{args.port}" if ":" in browse_host else f"http://{browse_host}:{args.port}"
    print(f"accviz app: serving on {url}", flush=True)
    return _serve(command, env, open_url=None if args.headless else url)


def _serve(command: list[str], env: dict, open_url: str | None) -> int:
    """Runs the Streamlit server until it exits; opens ``open_url`` in a browser once it answers."""
    process = subprocess.Popen(command, env=env)
    if open_url:
        threading.Thread(target=_open_when_ready, args=(open_url, process), daemon=True).start()
    try:
        return process.wait()
    except KeyboardInterrupt:  # Ctrl-C reaches the server too; wait for it to finish
        return process.wait()


def _open_when_ready(url: str, process: subprocess.Popen, timeout_s: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return webbrowser.open(url)  # False, quietly, where no browser is available
        except OSError:
            time.sleep(0.5)
    return False


def cmd_prepare(args) -> int:
    path = prepare_default_model(progress=progress_bars(), allow_pickle=args.allow_pickle)
    print(f"default model ready: {path}")
    return 0


def cmd_models(args) -> int:
    models = list_cached_models()
    print(f"cache: {models_dir()}")
    for model in models:
        print(f"  {model.describe()}")
    if not models:
        print("  (none yet: `accviz prepare` builds the default)")
    return 0


def cmd_demo(args) -> int:
    strategy = choose_strategy(args.strategy)  # resolved once, here: a typo fails before any loading
    loaded, model, _ = load_for_inference(args)
    analysis = analyze_text(
        model,
        loaded.tokenizer,
        args.text,
        args.text_pair,
        target_speedup=args.speedup,
        strategy=strategy,
    )
    if model is not loaded.model:
        print(f"weights: {model.accviz_int8.label}")
    if analysis.solved.message:
        print(f"note: {analysis.solved.message}")
    if analysis.truncated:
        print(
            f"note: the input has {analysis.original_token_count} tokens; the model reads {len(analysis.tokens)}."
        )
    print(f"tokens ({len(analysis.tokens)}): {' '.join(analysis.tokens)}")
    for layer, kept in enumerate(analysis.kept_per_layer, start=1):
        survivors = [
            t
            for t, left in zip(analysis.tokens, analysis.eliminated_at, strict=True)
            if left == 0 or left > layer
        ]
        print(f"layer {layer}: keeps {kept:3d}  {' '.join(survivors)}")
    print(
        f"unpruned: {analysis.unpruned.label}  pruned: {analysis.pruned.label}  (estimated speedup {analysis.solved.estimated_speedup:.2f}x)"
    )
    return 0
