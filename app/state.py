"""What every page shares: the sidebar's choices (model, task, strategy), links, the speedup slider,
and the task's dev split. UI only: every number comes from an ``accviz`` function; the server's
shared resources are in ``app.resources``, its background jobs in ``app.background``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st

from accviz.data.splits import load_split
from accviz.data.tasks import TASKS, TaskSpec
from accviz.errors import AccvizError
from accviz.method.scoring import CHOICES, ChosenStrategy, choose_strategy, strategy_description
from accviz.store.checkpoints import (
    default_model_dir,
    default_recipe,
)
from app import background, links, resources


@dataclass(frozen=True)
class Selection:
    """What the sidebar picked."""

    loaded: object  # accviz.store.loading.LoadedModel
    spec: TaskSpec
    strategy: ChosenStrategy
    reference: str
    allow_pickle: bool
    int8: bool = False  # int8 weights in the linear layers (accviz.method.quantize)
    predictions_note: str | None = None  # why predictions are not shown (no trained head yet); None: they are
    choice: str = ""  # the sidebar's pick (the default model while ``reference`` stands in for it)

    @property
    def predictions_label(self) -> str | None:
        """What the pages show instead of a prediction ("not ready yet"), or None when they show it."""
        return None if self.predictions_note is None else self.predictions_note.split(":", 1)[0]


SPEEDUP_RANGE = (1.0, 5.0)
SPEEDUP_SLIDERS = ("explore_speedup", "tradeoff_speedup", "corpus_speedup", "method_speedup")


def strategy_choices() -> list[str]:
    return list(CHOICES)


def _link_models() -> dict[str, resources.ModelChoice]:
    """The sidebar's model choices by the name a link gives them (``app.links.model_key``)."""
    default = str(default_model_dir())
    named: dict[str, resources.ModelChoice] = {}
    for choice in resources.model_choices():
        named.setdefault(links.model_key(choice.reference, default), choice)
    return named


def apply_link() -> None:
    """A link's ``?text=…&text_b=…&speedup=…&strategy=…&task=…&model=…`` (``app.links``; the
    Corpus page's flips link to Explore this way), applied once per distinct link, before any
    widget is drawn. A bad value falls back to the default, with a notice."""
    params = links.link_to_apply()
    if params is None:
        return
    models = _link_models()
    values = links.read_link(
        params, strategies=strategy_choices(), tasks=list(TASKS), models=models, speedup_range=SPEEDUP_RANGE
    )
    if values.speedup is not None:
        st.session_state["target_speedup"] = values.speedup
        for key in SPEEDUP_SLIDERS:  # let every slider start from the link's value
            st.session_state.pop(key, None)
    if values.strategy is not None:
        st.session_state["strategy"] = values.strategy
    if values.task is not None:
        st.session_state["task"] = values.task
    if values.model is not None:
        st.session_state["model_choice"] = models[values.model].label
        st.session_state["model_custom"] = ""  # the linked model, not a path typed earlier
    if values.text is not None:
        st.session_state["link_text"] = (values.text, values.text_b)
    if values.problems:
        st.session_state["link_problems"] = list(values.problems)


def link_model(reference: str) -> str | None:
    """The name a link gives this model, or None when it is not one of the sidebar's choices."""
    named = [key for key, choice in _link_models().items() if choice.reference == reference]
    return named[0] if named else None


def share_link(selection: Selection, speedup: float | None = None, text: str | None = None,
               text_b: str | None = None) -> None:  # fmt: skip
    """Writes this view into the URL (``app.links``): the page's text, the speedup (the shared
    slider value when the page has none), the strategy, the task and the model when it is one of
    the sidebar's choices. Says so when the link cannot carry all of it."""
    if speedup is None:
        speedup = st.session_state.get("target_speedup")
    model = link_model(selection.choice or selection.reference)
    params, cut = links.link_params(speedup=speedup, strategy=selection.strategy.name, task=selection.spec.name,
                                    model=model, text=text, text_b=text_b)  # fmt: skip
    links.write_link(params)
    if cut:
        st.caption(
            f"The link in the address bar carries the first {links.MAX_LINK_TEXT:,} characters of the text."
        )
    if model is None:
        st.caption(
            "The link in the address bar does not name this model: links carry the sidebar's choices only."
        )


FIGURE_FORMATS = ("png", "svg")


def figure_config(name: str) -> dict:
    """``st.plotly_chart``'s config: the camera button downloads the figure as ``accviz-<name>`` in
    the sidebar's format. Plotly's toolbar has one download button, and Streamlit passes the config
    as JSON, so a second button (which needs a JavaScript click handler) cannot be added."""
    image_format = st.session_state.get("figure_format", "png")
    if image_format not in FIGURE_FORMATS:
        image_format = "png"
    options = {"format": image_format, "filename": f"accviz-{name}"}
    if image_format == "png":
        options["scale"] = 2  # sharp on a projector
    return {"toImageButtonOptions": options, "displaylogo": False}


def sidebar() -> Selection:
    """Model, task and strategy pickers; stops the page with an error if the model can't be used."""
    resources.configure_threads()
    apply_link()
    for problem in st.session_state.pop("link_problems", []):
        st.warning(f"From the link: {problem}.")
    st.sidebar.title("accviz")
    st.sidebar.caption("Latency-adjustable BERT by ACC word-vector elimination")
    jobs_slot = st.sidebar.container()  # filled last, once every job this run may start has started
    choices = resources.model_choices()
    labels = [c.label for c in choices]
    picked = st.sidebar.selectbox("Model", labels, key="model_choice")
    reference = choices[labels.index(picked)].reference
    allow_pickle = False
    if not resources.server_is_exposed():
        custom = st.sidebar.text_input("…or a local checkpoint path / hub id", key="model_custom").strip()
        if custom:
            reference = custom
        allow_pickle = st.sidebar.checkbox(
            "Allow pickle weights (.bin)",
            key="allow_pickle",
            value=os.environ.get("ACCVIZ_ALLOW_PICKLE") == "1",  # `accviz app --allow-pickle`
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
    picked_reference = reference
    try:
        reference, predictions_note = background.ensure_default_model(reference)
        loaded = resources.load_model_cached(reference, allow_pickle, int8)
    except AccvizError as error:
        background.jobs_panel(jobs_slot)
        st.error(f"Cannot use this model: {error}")
        st.stop()
    if predictions_note is None and loaded.head_initialised:
        predictions_note = (
            "not available: this checkpoint has no trained classifier head (accviz gave it a random one); "
            f"fine-tune it first (`accviz finetune --model {reference}`)"
        )

    card_task = resources.card_task(reference) or (
        None if background.model_ready(picked_reference) else default_recipe().task
    )
    task_names = list(TASKS)
    wanted = card_task or os.environ.get("ACCVIZ_TASK", "rotten_tomatoes")
    default_task = wanted if wanted in TASKS else "rotten_tomatoes"
    if st.session_state.get("task") not in TASKS:  # a first visit; a link may have set it (apply_link)
        st.session_state["task"] = default_task
    task_name = st.sidebar.selectbox(
        "Task", task_names, key="task", format_func=lambda n: TASKS[n].display_name
    )
    spec = TASKS[task_name]  # the picker offers the registry's names
    background.ensure_embedded_data(spec)
    background.finetune_offer(spec, picked_reference)
    background.jobs_panel(jobs_slot)
    if predictions_note is None and loaded.model.config.num_labels != spec.num_labels:
        st.sidebar.warning(
            f"This model has {loaded.model.config.num_labels} outputs; {spec.display_name} needs {spec.num_labels}. "
            "Predictions will not mean much."
        )
    strategy_name = st.sidebar.selectbox(
        "Token-scoring strategy",
        strategy_choices(),
        key="strategy",
        format_func=strategy_description,
    )
    st.sidebar.radio(
        "Figure downloads (the camera above each figure)",
        FIGURE_FORMATS,
        key="figure_format",
        horizontal=True,
        format_func=str.upper,
        help="PNG for slides, SVG to scale and edit. Plotly's toolbar has one download button, so pick its format here.",
    )
    resources.server_panel()
    return Selection(  # names resolved once, here: the pages pass the task and strategy objects down
        loaded,
        spec,
        choose_strategy(strategy_name),
        reference,
        allow_pickle,
        int8,
        predictions_note,
        picked_reference,
    )


def dev_split(spec: TaskSpec):
    """The task's dev split (or None with the reason) from the GLUE folder, the hub or the embedded
    default; None while the embedded data is still downloading in the background."""
    if background.embedded_data_pending(spec):
        failed = [s for s in background.job_registry().statuses() if s.state == "failed"]
        if failed:  # the download is the default job's first stage, or a job of its own
            return (
                None,
                f"the Rotten Tomatoes data is not here: {failed[0].title.lower()} failed (see the sidebar)",
            )
        return None, "the Rotten Tomatoes data is still downloading in the background (see the sidebar)"
    return _dev_split(spec.name, spec)


@st.cache_data(show_spinner=False, max_entries=16)
def _dev_split(task: str, _spec: TaskSpec):  # cached by the task's name; the spec is not hashed
    try:
        return load_split(_spec, "dev"), None
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
