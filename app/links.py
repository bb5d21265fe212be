"""Shareable links: the URL carries what a page shows, so a copied link reproduces the view.

    ?text=…&text_b=…&speedup=2.5&strategy=attention&task=sst2&model=default

``read_link`` checks a link's values against what the server offers (a model only by the name
of one of its choices, never a free path) and says what it could not use; ``write_link`` puts
the page's current values back into the URL. Both sides share one signature in the session, so
a link is applied once and the URL the page writes is never read back as a new link: writing
the URL never reruns the script or overrides a widget the visitor just moved.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

LINK_KEYS = ("text", "text_b", "speedup", "strategy", "task", "model")
MAX_LINK_TEXT = 2_000  # characters of each text a link carries: URLs past ~8 kB break in browsers and proxies
MAX_READ_TEXT = 20_000  # what a hand-made link may bring at most (the app clips inputs further)
SPEEDUP_STEP = 0.25  # the sliders' step
APPLIED = "_applied_link"  # the signature of the last link applied or written, in session state
WRITTEN = "_written_links"  # the signatures this session wrote lately: never taken for a new link
WRITTEN_KEPT = 64


@dataclass(frozen=True)
class LinkValues:
    """What a link asks for, each value checked (None: not in the link, or unusable)."""

    text: str | None = None
    text_b: str | None = None
    speedup: float | None = None
    strategy: str | None = None
    task: str | None = None
    model: str | None = None  # a model_key, one of the server's choices
    problems: tuple[str, ...] = field(default=())  # what could not be used, for the notice


def model_key(reference: str, default_reference: str) -> str:
    """The name a link uses for a model choice: ``default``, a checkpoint folder's name, or a hub id."""
    if str(reference) == str(default_reference):
        return "default"
    path = Path(reference)
    return path.name if path.is_absolute() or path.exists() else str(reference)


def _one(params: Mapping, key: str) -> str | None:
    value = params.get(key)
    if isinstance(value, list | tuple):  # AppTest and repeated keys: the last one wins
        value = value[-1] if value else None
    return value if value else None


def read_link(
    params: Mapping,
    *,
    strategies,
    tasks,
    models,
    speedup_range: tuple[float, float],
) -> LinkValues:
    """The link's values that this server can show; each one it cannot becomes a problem."""
    problems = []
    speedup = _one(params, "speedup")
    if speedup is not None:
        try:
            value = float(speedup)
        except ValueError:
            value = math.nan
        if speedup_range[0] <= value <= speedup_range[1]:
            snapped = round(value / SPEEDUP_STEP) * SPEEDUP_STEP
            if abs(snapped - value) > 1e-9:
                problems.append(f"speedup {speedup!r} is rounded to {snapped:g} (the slider's step)")
            speedup = snapped
        else:
            problems.append(
                f"speedup {speedup!r} is not a number from {speedup_range[0]:g} to {speedup_range[1]:g}; "
                "using the default instead"
            )
            speedup = None
    checked = {}
    for key, allowed in (("strategy", strategies), ("task", tasks), ("model", models)):
        value = _one(params, key)
        if value is not None and value not in allowed:
            shown = value if len(value) <= 80 else value[:80] + "…"
            reason = (
                "is unknown"
                if key != "model"
                else "is not one this server offers (a link names a model from the sidebar's list)"
            )
            problems.append(f"{key} {shown!r} {reason}; using the default instead")
            value = None
        checked[key] = value
    text = _one(params, "text")
    text_b = _one(params, "text_b")
    return LinkValues(
        text=None if text is None else text[:MAX_READ_TEXT],
        text_b=None if text_b is None else text_b[:MAX_READ_TEXT],
        speedup=speedup,
        problems=tuple(problems),
        **checked,
    )


def link_params(
    *,
    speedup: float | None,
    strategy: str | None,
    task: str | None,
    model: str | None,
    text: str | None = None,
    text_b: str | None = None,
) -> tuple[dict[str, str], bool]:
    """The query of a link to this view, each text cut to MAX_LINK_TEXT characters, and whether one was cut."""
    params, cut = {}, False
    for key, value in (("text", text), ("text_b", text_b)):
        if value and value.strip():
            cut = cut or len(value) > MAX_LINK_TEXT
            params[key] = value[:MAX_LINK_TEXT]
    if speedup is not None:
        params["speedup"] = f"{float(speedup):g}"
    for key, value in (("strategy", strategy), ("task", task), ("model", model)):
        if value:
            params[key] = value
    return params, cut


def signature(params: Mapping) -> str:
    return json.dumps({k: _one(params, k) for k in LINK_KEYS if _one(params, k)}, sort_keys=True)


def link_to_apply() -> dict[str, str] | None:
    """This URL's link values, unless they were applied already or are what the page wrote."""
    params = {k: _one(st.query_params, k) for k in LINK_KEYS}
    params = {k: v for k, v in params.items() if v}
    # A rerun may carry the URL as it was before this session's last write (the slider moved again
    # before the browser got the new URL): a query this session wrote itself is never a new link.
    if not params or signature(params) in (st.session_state.get(APPLIED), *st.session_state.get(WRITTEN, ())):
        return None
    st.session_state[APPLIED] = signature(params)
    return params


def write_link(params: Mapping[str, str]) -> None:
    """Puts ``params`` into the URL (only the link's keys; others stay) and remembers them as
    applied, so the next run does not take the page's own URL for a new link."""
    for key in LINK_KEYS:
        value = params.get(key)
        if value is None:
            if key in st.query_params:
                del st.query_params[key]
        elif st.query_params.get(key) != value:
            st.query_params[key] = value
    st.session_state[APPLIED] = signature(params)
    written = [s for s in st.session_state.get(WRITTEN, ()) if s != st.session_state[APPLIED]]
    st.session_state[WRITTEN] = (written + [st.session_state[APPLIED]])[-WRITTEN_KEPT:]
