"""What one server shares between its visitors: work queues, the bounded result cache, metrics,
torch threads, and the models (loaded once per server with ``st.cache_resource``).

Per-input results (an analysis, an attribution, a live measurement) go through
``cached_in_line``: a hit is returned at once, a miss waits its turn in one of the server's work
queues (``app.server``) and is kept in a cache bounded by bytes, so memory stops growing however
many distinct inputs visitors bring.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import streamlit as st
import torch

from accviz.data.tasks import get_task
from accviz.method.quantize import quantize_int8
from accviz.store.cache import read_card
from accviz.store.checkpoints import (
    default_base_model,
    default_model_dir,
    default_recipe,
    list_cached_models,
)
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
def configure_threads() -> int:
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
    choices.append(ModelChoice(_default_label(), str(default_model_dir())))
    for cached in list_cached_models():
        if str(cached.path) != str(default_model_dir()):
            choices.append(ModelChoice(cached.describe(), str(cached.path)))
    for reference in allowed_models():
        choices.append(ModelChoice(f"{reference} (allow-list)", reference))
    return choices


def _default_label() -> str:
    base, recipe = default_base_model(), default_recipe()
    if base is None and recipe.task == "rotten_tomatoes":
        return "default: MiniLM-L6 fine-tuned on Rotten Tomatoes"
    return f"default: {Path(base).name if base else 'MiniLM-L6'} fine-tuned on {get_task(recipe.task).display_name}"


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


def card_task(reference: str) -> str | None:
    try:
        return read_card(Path(reference), verify=False).get("task")
    except Exception:  # no card: a plain checkpoint
        return None
