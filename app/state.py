"""What every page shares: the sidebar choices, cached models and data, and the server's limits.

UI only: every number comes from an ``accviz`` function. Models are loaded once per server
(``st.cache_resource``) and shared by all sessions. Per-input results (an analysis, an
attribution, a live measurement) go through ``cached_in_line``: a hit is returned at once, a miss
waits its turn in one of the server's work queues (``app.server``) and is kept in a cache bounded
by bytes, so memory stops growing however many distinct inputs visitors bring.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import streamlit as st
import torch

from accviz.data.splits import load_split
from accviz.data.tasks import TASKS, get_task
from accviz.errors import AccvizError
from accviz.method.quantize import quantize_int8
from accviz.method.scoring import STRATEGIES, strategy_description
from accviz.store.cache import read_card
from accviz.store.checkpoints import default_model_dir, list_cached_models, prepare_default_model
from accviz.store.loading import load_model
from accviz.store.safety import allowed_models
from app.server import BoundedCache, Metrics, Turn, WorkQueue, cache_bytes

T = TypeVar("T")
# The server's work queues: quick per-input analyses, and the heavy jobs (live accuracy, latency,
# Integrated Gradients), so a long measurement never holds up everyone's Explore page.
QUEUES = ("analysis", "measurement")
MISSING = object()  # a cache miss (a cached result may itself be None)

REPO_ROOT = Path(__file__).resolve().parents[1]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", ""}


def cached_runs_dir() -> Path:
    return Path(os.environ.get("ACCVIZ_CACHED_RUNS", REPO_ROOT / "cached_runs"))


def max_live_examples() -> int:
    """Cap on the live accuracy subset, so one visitor can't starve the others."""
    return int(os.environ.get("ACCVIZ_MAX_LIVE_EXAMPLES", "500"))


def server_is_exposed() -> bool:
    return os.environ.get("ACCVIZ_SERVER_HOST", "127.0.0.1") not in LOOPBACK_HOSTS


def show_server_panel() -> bool:
    """The About/Server expander: on an exposed server, or when ACCVIZ_SHOW_SERVER_METRICS=1."""
    return server_is_exposed() or os.environ.get("ACCVIZ_SHOW_SERVER_METRICS") == "1"


@st.cache_resource
def metrics() -> Metrics:
    """Wait and run times of every job and page run on this server (``app.server.Metrics``)."""
    return Metrics(path=os.environ.get("ACCVIZ_METRICS_FILE") or None)


@st.cache_resource
def work_queue(name: str) -> WorkQueue:
    if name not in QUEUES:
        raise ValueError(f"unknown work queue {name!r}; expected one of {QUEUES}")
    return WorkQueue(name, metrics())


@st.cache_resource
def result_cache() -> BoundedCache:
    """Every per-input result of every page, at most ACCVIZ_CACHE_MIB (256) MiB in all."""
    return BoundedCache(cache_bytes())


@contextmanager
def in_line(queue: str) -> Iterator[Turn]:
    """Runs the body when this visitor's turn in ``queue`` comes, showing how many are ahead.

    Raises ``app.server.ServerBusy`` (an AccvizError the pages show) past the queue's time limit.
    """
    notice = st.empty()

    def waiting(ahead: int) -> None:
        notice.info(
            f"Waiting for the server: {ahead} request(s) ahead of yours…", icon=":material/hourglass:"
        )

    try:
        with work_queue(queue).turn(on_wait=waiting) as turn:
            notice.empty()
            yield turn
    finally:
        notice.empty()


def cached_in_line(key: Hashable, compute: Callable[[], T], queue: str = "analysis") -> T:
    """``compute()``'s result for ``key``: from the bounded cache, else computed in its turn."""
    cache = result_cache()
    hit = cache.get(key, MISSING)
    if hit is not MISSING:
        return hit
    with in_line(queue) as turn:
        hit = cache.get(key, MISSING)  # computed by a visitor ahead in the line while this one waited
        if hit is not MISSING:
            turn.outcome = "cached"
            return hit
        value = compute()
    cache.put(key, value)
    metrics().record("cache", "results", bytes=cache.total_bytes, entries=len(cache))
    return value


def server_panel() -> None:
    """Queue lengths, cache size and p50/p95 times, in the sidebar's About/Server expander."""
    if not show_server_panel():
        return
    with st.sidebar.expander("About this server"):
        cache = result_cache()
        st.caption(
            " · ".join(f"{name} queue: {len(work_queue(name))}" for name in QUEUES)
            + f" · cache: {len(cache)} results, {cache.total_bytes / 2**20:.0f} of "
            f"{cache.max_bytes / 2**20:.0f} MiB"
        )
        rows = [
            {"what": key, **{k: round(v, 3) for k, v in stats.items()}}
            for key, stats in metrics().summary().items()
        ]
        if rows:
            st.dataframe(rows, hide_index=True)


@st.cache_resource
def _configure_threads() -> int:
    """Torch threads per computation: every core for one visitor on loopback; one on an exposed
    server, where many visitors' jobs share the cores and two threads each oversubscribe them
    (30 sessions on 2 cores: p95 per analysis 4.5 s with 2 threads, 1.5 s with 1; README)."""
    default = 1 if server_is_exposed() else max(1, os.cpu_count() or 2)
    threads = int(os.environ.get("ACCVIZ_THREADS", default))
    torch.set_num_threads(threads)
    return threads


@dataclass(frozen=True)
class ModelChoice:
    label: str
    reference: str  # what accviz.store.loading.load_model takes


def model_choices() -> list[ModelChoice]:
    """The default, cached fine-tuned checkpoints, ACCVIZ_MODEL and the allow-list."""
    choices = []
    forced = os.environ.get("ACCVIZ_MODEL")
    if forced:
        choices.append(ModelChoice(f"{Path(forced).name} (ACCVIZ_MODEL)", forced))
    choices.append(ModelChoice("default: MiniLM-L6 fine-tuned on Rotten Tomatoes", str(default_model_dir())))
    for cached in list_cached_models():
        if str(cached.path) != str(default_model_dir()):
            choices.append(ModelChoice(cached.describe(), str(cached.path)))
    for reference in allowed_models():
        choices.append(ModelChoice(f"{reference} (allow-list)", reference))
    return choices


@st.cache_resource(show_spinner="Loading the model (once per server)…")
def _load_fp32(reference: str, allow_pickle: bool):
    loaded = load_model(reference, allow_pickle=allow_pickle, attn_implementation="sdpa")
    loaded.model.eval()
    return loaded


@st.cache_resource(show_spinner="Quantizing the weights to int8 (once per server)…")
def _load_int8(reference: str, allow_pickle: bool):
    loaded = _load_fp32(reference, allow_pickle)
    return replace(loaded, model=quantize_int8(loaded.model))


def load_model_cached(reference: str, allow_pickle: bool = False, int8: bool = False):
    """The model shared by every session; with ``int8`` a second copy whose linear layers are int8."""
    return _load_int8(reference, allow_pickle) if int8 else _load_fp32(reference, allow_pickle)


def ensure_default_model(reference: str) -> None:
    """Builds the default model on first start, with a progress bar and the time left."""
    if Path(reference) != default_model_dir() or (default_model_dir() / "card.json").exists():
        return
    notice = st.empty()
    notice.info(
        "First start: fine-tuning the default model (MiniLM-L6 on Rotten Tomatoes polarity, with "
        "elimination active). This happens once and takes a few minutes on a laptop; later starts reuse it."
    )
    bar = st.progress(0.0, text="preparing…")
    started = time.perf_counter()

    def progress(stage: str, done: int, total: int, info: dict) -> None:
        fraction = done / max(total, 1)
        elapsed = time.perf_counter() - started
        left = elapsed / fraction - elapsed if stage == "train" and fraction > 0.02 else None
        eta = f", about {left:.0f} s left" if left is not None else ""
        bar.progress(min(fraction, 1.0), text=f"{stage}: {done}/{total}{eta}")

    prepare_default_model(progress=progress)
    bar.empty()
    notice.success(
        f"The default model is ready ({time.perf_counter() - started:.0f} s); later starts reuse it."
    )


@dataclass(frozen=True)
class Selection:
    """What the sidebar picked."""

    loaded: object  # accviz.store.loading.LoadedModel
    spec: object  # accviz.data.tasks.TaskSpec
    strategy: str
    reference: str
    allow_pickle: bool
    int8: bool = False  # int8 weights in the linear layers (accviz.method.quantize)


SPEEDUP_RANGE = (1.0, 5.0)
SPEEDUP_SLIDERS = ("explore_speedup", "tradeoff_speedup", "corpus_speedup")


def strategy_choices() -> list[str]:
    return [*STRATEGIES, "acc+fuse"]


def apply_link() -> None:
    """A link's ``?text=…&text_b=…&speedup=…&strategy=…`` (the Corpus page's flips link to
    Explore this way), applied once per distinct link, before any widget is drawn. A bad value
    falls back to the default, with a notice."""
    params = {k: st.query_params.get(k) for k in ("text", "text_b", "speedup", "strategy")}
    params = {k: v for k, v in params.items() if v}
    signature = json.dumps(params, sort_keys=True)
    if not params or st.session_state.get("_applied_link") == signature:
        return
    st.session_state["_applied_link"] = signature
    problems = []
    if "speedup" in params:
        try:
            value = float(params["speedup"])
        except ValueError:
            value = float("nan")
        if SPEEDUP_RANGE[0] <= value <= SPEEDUP_RANGE[1]:
            st.session_state["target_speedup"] = value
            for key in SPEEDUP_SLIDERS:  # let every slider start from the link's value
                st.session_state.pop(key, None)
        else:
            problems.append(
                f"speedup {params['speedup']!r} is not a number from {SPEEDUP_RANGE[0]:g} to {SPEEDUP_RANGE[1]:g}"
            )
    if "strategy" in params:
        if params["strategy"] in strategy_choices():
            st.session_state["strategy"] = params["strategy"]
        else:
            problems.append(f"strategy {params['strategy']!r} is unknown")
    if "text" in params:
        st.session_state["link_text"] = (params["text"][:20_000], params.get("text_b"))
    if problems:
        st.session_state["link_problems"] = problems


def sidebar() -> Selection:
    """Model, task and strategy pickers; stops the page with an error if the model can't be used."""
    _configure_threads()
    apply_link()
    for problem in st.session_state.pop("link_problems", []):
        st.warning(f"From the link: {problem}; using the default instead.")
    st.sidebar.title("accviz")
    st.sidebar.caption("Latency-adjustable BERT by ACC word-vector elimination")
    choices = model_choices()
    labels = [c.label for c in choices]
    picked = st.sidebar.selectbox("Model", labels, key="model_choice")
    reference = choices[labels.index(picked)].reference
    allow_pickle = False
    if not server_is_exposed():
        custom = st.sidebar.text_input("…or a local checkpoint path / hub id", key="model_custom").strip()
        if custom:
            reference = custom
        allow_pickle = st.sidebar.checkbox(
            "Allow pickle weights (.bin)",
            key="allow_pickle",
            help="Pickle files can run arbitrary code when loaded. Only tick this for checkpoints you trust.",
        )
    else:
        st.sidebar.caption(
            "This server is shared: models are limited to cached checkpoints and the allow-list."
        )

    int8 = st.sidebar.toggle(
        "int8 weights",
        key="int8",
        help="Dynamic int8 quantization of the linear layers (PyTorch's own). The FLOPs estimate does not "
        "change; measured latency and accuracy do. Elimination works unchanged on top.",
    )
    try:
        ensure_default_model(reference)
        loaded = load_model_cached(reference, allow_pickle, int8)
    except AccvizError as error:
        st.error(f"Cannot use this model: {error}")
        st.stop()

    card_task = _card_task(reference)
    task_names = list(TASKS)
    wanted = card_task or os.environ.get("ACCVIZ_TASK", "rotten_tomatoes")
    default_task = wanted if wanted in TASKS else "rotten_tomatoes"
    task_name = st.sidebar.selectbox(
        "Task",
        task_names,
        index=task_names.index(default_task),
        key="task",
        format_func=lambda n: TASKS[n].display_name,
    )
    spec = get_task(task_name)
    if loaded.model.config.num_labels != spec.num_labels:
        st.sidebar.warning(
            f"This model has {loaded.model.config.num_labels} outputs; {spec.display_name} needs {spec.num_labels}. "
            "Predictions will not mean much."
        )
    strategy = st.sidebar.selectbox(
        "Token-scoring strategy",
        strategy_choices(),
        key="strategy",
        format_func=strategy_description,
    )
    server_panel()
    return Selection(loaded, spec, strategy, reference, allow_pickle, int8)


def _card_task(reference: str) -> str | None:
    try:
        return read_card(Path(reference), verify=False).get("task")
    except Exception:  # no card: a plain checkpoint
        return None


@st.cache_data(show_spinner=False, max_entries=16)
def dev_split(task: str):
    """The task's dev split (or None with the reason) from the GLUE folder, the hub or the embedded default."""
    try:
        return load_split(task, "dev"), None
    except AccvizError as error:
        return None, str(error)


def speedup_slider(key: str, max_value: float = 5.0) -> float:
    """The target-speedup slider; every page shares its value."""
    if "target_speedup" not in st.session_state:
        st.session_state["target_speedup"] = 2.0
    value = st.slider(
        "Target speedup (vs the unpruned model)",
        min_value=SPEEDUP_RANGE[0],
        max_value=max_value,
        step=0.25,
        key=key,
        value=float(st.session_state["target_speedup"]),
        help="1.0 = no elimination. The FLOPs model turns this into how many word-vectors each layer keeps.",
    )
    st.session_state["target_speedup"] = value
    return value
