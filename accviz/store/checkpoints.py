"""Fine-tuned checkpoints in the cache: the default model, and any the user fine-tuned.

A checkpoint lives in ``<cache>/models/<name>/`` with safetensors weights, the tokenizer and a
``card.json`` (with checksums) saying what produced it. It is written in a staging folder and
published atomically under a file lock, so an interrupted or concurrent run never leaves a
half-written checkpoint that is later taken for a finished one.

Test and development hooks (environment variables; unset in normal use):

    ACCVIZ_DEFAULT_BASE_MODEL  a local base checkpoint the default model is fine-tuned from (and
                               the app runs while it is not ready) instead of all-MiniLM-L6-v2;
                               also the base of the GLUE models the app fine-tunes.
    ACCVIZ_DEFAULT_RECIPE      a JSON object of ``FinetuneConfig`` fields that replace those of
                               ``DEFAULT_RECIPE``, e.g. ``{"task": "sst2", "max_train_examples": 48}``.

Either one changes the default model's name (``default_model_dir``), so a tiny test model never
takes the real default's place in a cache.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path

import torch
from accelerate.utils import broadcast_object_list
from torch import nn

from accviz.data.splits import load_split
from accviz.data.tasks import TaskSpec, get_task
from accviz.errors import AccvizError, CacheError, TrainingPaused
from accviz.machine import launched_processes
from accviz.measure.evaluate import evaluate_split
from accviz.method.scoring import ChosenStrategy
from accviz.method.search import read_searched, write_searched
from accviz.store import cache
from accviz.store.cache import slug
from accviz.store.loading import default_base_model_path, load_model
from accviz.train.finetune import FinetuneConfig, finetune

DEFAULT_TASK = "rotten_tomatoes"
DEFAULT_MODEL = "default"
# The app's default: MiniLM-L6 fine-tuned on the embedded Rotten Tomatoes data, with elimination
# sampled over the whole slider range and in-place distillation. Sized so the whole preparation
# (training, three dev evaluations) fits in 5 minutes on 2 CPU cores: 175 steps at ~1.3 s each.
# The time budget is a safety net on a slower machine: it stops early, and the card says so.
DEFAULT_RECIPE = FinetuneConfig(
    task=DEFAULT_TASK,
    train_speedup="random:1-4",
    inplace_distill=True,
    epochs=1.0,
    max_train_examples=5600,
    max_length=64,
    batch_size=32,
    learning_rate=8e-5,
    time_budget_s=240.0,
    eval_examples=None,
)
DEFAULT_BASE_ENV = "ACCVIZ_DEFAULT_BASE_MODEL"
DEFAULT_RECIPE_ENV = "ACCVIZ_DEFAULT_RECIPE"
# Seconds per training step of DEFAULT_RECIPE's shape (batch 32, 64 tokens, MiniLM-L6, in-place
# distillation) on 2 CPU cores, measured when the recipe was sized; the app's time estimates use
# it until a checkpoint fine-tuned on this machine says otherwise.
STORED_SECONDS_PER_STEP = 1.3


@dataclass(frozen=True)
class CachedModel:
    name: str
    path: Path
    card: dict

    @property
    def task(self) -> str:
        return self.card.get("task", "?")

    def describe(self) -> str:
        dev = self.card.get("dev_metrics", {}).get("1.0", {})
        metric = ", ".join(f"{k} {v:.1f}" for k, v in dev.items())
        return f"{self.name} ({self.task}; {metric or 'no dev metric'})"


def models_dir() -> Path:
    directory = cache.cache_dir() / "models"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def checkpoint_name(base_model: str, task: str, config: FinetuneConfig) -> str:
    base = "minilm-l6" if base_model in (None, "", DEFAULT_MODEL, "minilm") else Path(str(base_model)).name
    extra = (f"__{config.num_layers}L" if config.num_layers else "") + (
        f"__teacher-{Path(config.teacher).name}" if config.teacher else ""
    )
    return slug(f"{base}__{task}__{config.train_speedup}__{config.strategy}__s{config.seed}{extra}")


def default_base_model() -> str | None:
    """The default model's base checkpoint: ``$ACCVIZ_DEFAULT_BASE_MODEL``, else None (all-MiniLM-L6-v2)."""
    return os.environ.get(DEFAULT_BASE_ENV, "").strip() or None


def default_base_reference() -> str:
    """What ``load_model`` takes for the default model's base (ModelLoadError if MiniLM is missing)."""
    return default_base_model() or str(default_base_model_path())


def default_recipe() -> FinetuneConfig:
    """``DEFAULT_RECIPE``, with the fields of ``$ACCVIZ_DEFAULT_RECIPE`` (a JSON object) replaced."""
    text = os.environ.get(DEFAULT_RECIPE_ENV, "").strip()
    if not text:
        return DEFAULT_RECIPE
    try:
        overrides = json.loads(text)
    except json.JSONDecodeError as error:
        raise AccvizError(f"{DEFAULT_RECIPE_ENV} is not valid JSON: {error}.") from None
    known = {field.name for field in fields(FinetuneConfig)}
    if not isinstance(overrides, dict) or set(overrides) - known:
        unknown = sorted(set(overrides) - known) if isinstance(overrides, dict) else overrides
        raise AccvizError(
            f"{DEFAULT_RECIPE_ENV} must be a JSON object of FinetuneConfig fields; not {unknown!r}."
        )
    recipe = replace(DEFAULT_RECIPE, **overrides)
    return replace(recipe, task=get_task(recipe.task).name)  # "SST-2" names the task "sst2"


def default_model_dir() -> Path:
    recipe = default_recipe()
    return models_dir() / checkpoint_name(default_base_model() or DEFAULT_MODEL, recipe.task, recipe)


def task_recipe(spec: TaskSpec) -> FinetuneConfig:
    """The recipe of ``accviz finetune --task TASK`` with no other option (the CLI's defaults)."""
    return FinetuneConfig(task=spec.name)


def planned_steps(config: FinetuneConfig, train_examples: int) -> int:
    """The optimizer steps ``finetune`` plans for ``train_examples`` (before any time budget)."""
    used = min(train_examples, config.max_train_examples or train_examples)
    return max(1, math.ceil(math.ceil(used / config.batch_size) * config.epochs))


def seconds_per_step(config: FinetuneConfig) -> tuple[float, str]:
    """(seconds per training step, how it was found) for a run of ``config``'s batch and length.

    Measured: the median wall time per step of the cached checkpoints fine-tuned here with the
    same batch size, length, distillation and base; else ``STORED_SECONDS_PER_STEP``.
    """
    try:
        base = default_base_reference()
    except AccvizError:  # MiniLM is not installed: nothing measured can match
        base = None
    measured = []
    for cached in list_cached_models():
        card, trained = cached.card, cached.card.get("config", {})
        same_shape = all(trained.get(key) == getattr(config, key) for key in
                         ("batch_size", "max_length", "inplace_distill", "num_layers"))  # fmt: skip
        same_base = base is not None and card.get("base_model_path") in (base, str(Path(base).resolve()))
        if same_shape and same_base and card.get("steps") and card.get("wall_time_s"):
            measured.append(card["wall_time_s"] / card["steps"])
    if measured:
        rate = sorted(measured)[len(measured) // 2]
        return rate, f"measured on this machine ({len(measured)} earlier fine-tune(s) of the same shape)"
    return STORED_SECONDS_PER_STEP, "stored: measured for MiniLM-L6 with this batch and length on 2 CPU cores"


def list_cached_models() -> list[CachedModel]:
    """Every finished, checksum-valid checkpoint in the cache (partial or corrupt ones are skipped)."""
    found = []
    for directory in sorted(models_dir().iterdir()):
        if not directory.is_dir() or ".partial-" in directory.name:
            continue
        try:
            card = cache.read_card(directory, verify=False)
        except CacheError:
            continue
        found.append(CachedModel(directory.name, directory, card))
    return found


def prepare_finetuned(
    base_model: str | None,
    spec: TaskSpec,
    config: FinetuneConfig,
    *,
    name: str | None = None,
    glue_dir: str | None = None,
    allow_pickle: bool = False,
    progress=None,
    rebuild: bool = False,
    resume: bool | None = None,
) -> Path:
    """Fine-tunes ``base_model`` on the task ``spec`` with the recipe ``config`` (its ``task`` must
    be ``spec``'s name) once and caches it; later calls return the cached path.

    ``resume``: None = one uninterrupted run (the default model: a time-budget stop publishes what
    was trained, and the card says so). True/False = a resumable run: state goes to
    ``<cache>/resume/<name>/`` every ``config.checkpoint_every`` steps; True continues a saved state
    (False refuses to overwrite one); a time-budget stop publishes nothing and raises
    ``TrainingPaused``, to be continued with ``resume=True``.

    Launched on several processes (``accelerate launch``, ``torchrun``), every process trains its
    share and only the main one evaluates dev and publishes; the others return ``final_dir`` at once,
    before it is published.
    """

    if config.task != spec.name:  # one task: the recipe records the name of the one it trains on
        raise AccvizError(f"The recipe is for {config.task!r}, not {spec.name!r}.")
    base = str(default_base_model_path()) if base_model in (None, "", DEFAULT_MODEL) else str(base_model)
    if Path(base).is_dir():  # absolute, so the card's base can be found again from anywhere
        base = str(Path(base).resolve())
    final_dir = models_dir() / (name or checkpoint_name(base_model or DEFAULT_MODEL, spec.name, config))
    state_dir = resume_dir(final_dir.name) if resume is not None else None
    processes = launched_processes()
    if rebuild and state_dir is not None and state_dir.exists() and processes.is_main_process:
        shutil.rmtree(state_dir)
    processes.wait_for_everyone()  # every process decides on the same folders
    if resume is False and state_dir is not None and state_dir.exists() and not final_dir.exists():
        raise AccvizError(
            f"A paused run of {final_dir.name} exists ({state_dir}): pass --resume to continue it, "
            "or --rebuild to start afresh."
        )

    searched = None  # the base's searched profiles, for a recipe that trains at them
    if config.profile_family == "searched":
        if not Path(base).is_dir():
            raise AccvizError(
                f"--family searched trains at the base checkpoint's searched profiles; {base} is not a local "
                "checkpoint folder: run `accviz search-profile` on a local base first."
            )
        searched = read_searched(Path(base))  # a missing or malformed file fails here, before training

    def trained():
        """Run by every process: the splits, the model (and teacher), and its share of training."""
        train = load_split(spec, "train", glue_dir=glue_dir)
        dev = load_split(spec, "dev", glue_dir=glue_dir)
        torch.manual_seed(config.seed)  # a base without this task's head gets a new one: the seed draws it
        loaded = load_model(
            base, num_labels=spec.num_labels, allow_pickle=allow_pickle, attn_implementation="sdpa"
        )
        base_layers = loaded.model.config.num_hidden_layers
        if config.num_layers is not None:
            keep_first_layers(loaded.model, config.num_layers)
        teacher = None
        if config.teacher:
            teacher = load_model(resolve_model(config.teacher), allow_pickle=allow_pickle).model.eval()
            if teacher.config.num_labels != spec.num_labels:
                raise AccvizError(
                    f"The teacher {config.teacher} has {teacher.config.num_labels} outputs; {spec.name} needs "
                    f"{spec.num_labels}: use a model fine-tuned on {spec.name}."
                )
        result = finetune(
            loaded.model,
            loaded.tokenizer,
            train.texts_a,
            train.labels,
            config,
            train_texts_b=train.texts_b,
            regression=spec.is_regression,
            progress=(lambda step, total, info: progress("train", step, total, info)) if progress else None,
            teacher_model=teacher,
            checkpoint_dir=state_dir,
            searched=searched,
        )
        if state_dir is not None and result.card["stopped_early"]:
            raise TrainingPaused(
                f"{final_dir.name}: stopped by the time budget at step {result.card['steps']}/"
                f"{result.card['planned_steps']}; its state is saved: run the same command with --resume."
            )
        return train, dev, loaded, base_layers, result

    announced = []  # whether the main process told the others to train

    def build(staging: Path) -> None:
        started = time.perf_counter()
        if processes.num_processes > 1:
            broadcast_object_list([True])  # the other processes train beside this one
            announced.append(True)
        train, dev, loaded, base_layers, result = trained()
        dev_metrics = _dev_metrics(
            result.model, loaded.tokenizer, dev, config, result.strategy, progress, searched
        )
        card = dict(result.card)
        card.update(
            {
                "name": final_dir.name,
                "task": spec.name,
                "base_model": base_model or DEFAULT_MODEL,
                "base_model_path": base,
                "base_num_layers": base_layers,
                "num_layers": result.model.config.num_hidden_layers,
                "train_source": train.source,
                "dev_source": dev.source,
                "strategy": config.strategy,
                "seed": config.seed,
                "dev_metrics": dev_metrics,
                "dev_strategy": config.strategy,  # what scored dev: the strategy it was trained with
                "total_time_s": round(time.perf_counter() - started, 1),
                "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),  # published now, after the dev scores
            }
        )
        id2label = {i: n for i, n in enumerate(spec.label_names)} if spec.label_names else None
        if id2label:
            result.model.config.id2label = id2label
            result.model.config.label2id = {n: i for i, n in id2label.items()}
        result.model.save_pretrained(staging)
        loaded.tokenizer.save_pretrained(staging)
        if searched is not None:  # the shapes it was trained at travel with it (sweep --family searched)
            write_searched(staging, searched)
        cache.write_card(staging, card)

    if not processes.is_main_process:  # the main process says whether the checkpoint gets built
        if broadcast_object_list([None])[0]:
            trained()
        return final_dir
    try:
        if rebuild and final_dir.exists():
            shutil.rmtree(final_dir)
        path = cache.get_or_build(final_dir, build)
    except BaseException:
        if processes.num_processes > 1 and not announced:  # the others stop waiting; nobody trains
            broadcast_object_list([False])
        raise
    if processes.num_processes > 1 and not announced:  # found built: nobody trains
        broadcast_object_list([False])
    if state_dir is not None and state_dir.exists():  # published: the paused state is spent
        shutil.rmtree(state_dir, ignore_errors=True)
    return path


def resume_dir(name: str) -> Path:
    """Where a resumable run keeps its state between sessions (never published, never a model)."""
    directory = cache.cache_dir() / "resume" / name
    directory.parent.mkdir(parents=True, exist_ok=True)
    return directory


def keep_first_layers(model, num_layers: int) -> None:
    """Cuts a BertForSequenceClassification to its first ``num_layers`` encoder layers, in place.

    The layer-drop baseline: a model that is simply shallower, the alternative a user would pick
    instead of eliminating word-vectors.
    """

    layers = model.bert.encoder.layer
    if not 1 <= num_layers <= len(layers):
        raise AccvizError(f"--layers must be between 1 and {len(layers)} for this model; got {num_layers}.")
    model.bert.encoder.layer = nn.ModuleList(list(layers)[:num_layers])
    model.config.num_hidden_layers = num_layers


def _dev_metrics(
    model, tokenizer, dev, config: FinetuneConfig, strategy: ChosenStrategy, progress, searched=None
) -> dict:
    """The card's dev scores at 1/2/3x, with the strategy (resolved by ``finetune``) and profile family
    the model was trained with (a fusion-trained model is scored with fusion; one trained at searched
    profiles, ``searched``, with them), on ``eval_examples`` of dev."""
    if config.eval_examples is not None and config.eval_examples < len(dev):
        dev = dev.subset(config.eval_examples, seed=0)
    metrics = {}
    for speedup in (1.0, 2.0, 3.0):
        result = evaluate_split(
            model,
            tokenizer,
            dev,
            target_speedup=speedup,
            strategy=strategy,
            family=config.profile_family,
            searched=searched,
            max_length=config.max_length * 2,
            progress=(lambda done, total, s=speedup: progress(f"eval {s:g}x", done, total, {}))
            if progress
            else None,
        )
        metrics[f"{speedup:.1f}"] = result.metrics
    return metrics


def prepare_default_model(progress=None, allow_pickle: bool = False) -> Path:
    """The app's default model, built on first use (a few minutes on 2 cores) and cached.
    ``allow_pickle``: the base model (``ACCVIZ_DEFAULT_BASE_MODEL``) may have ``.bin`` weights."""
    recipe = default_recipe()
    return prepare_finetuned(
        default_base_model(), get_task(recipe.task), recipe, name=default_model_dir().name, progress=progress,
        allow_pickle=allow_pickle,
    )  # fmt: skip


TRAINING_KEYS = ("config", "base_model", "train_source", "train_examples", "steps", "wall_time_s", "machine",
                 "base_num_layers", "num_layers")  # fmt: skip


def _finetune_card(directory: Path) -> dict | None:
    try:
        card = cache.read_card(directory, verify=False)
    except (CacheError, OSError):  # no card, or a broken one: nothing to tell
        return None
    return card if card.get("kind") == "finetune" else None


def training_summary(model_dir: str | os.PathLike) -> dict | None:
    """How an accviz checkpoint was fine-tuned (its card's recipe), for a sweep card; None for any
    other checkpoint. A checkpoint fine-tuned from another accviz checkpoint (a second stage)
    also cost the first: ``fine_tuned_from`` names the chain of bases, and ``total_wall_time_s``
    = its own wall time + every base's (absent when a base's is unknown)."""
    card = _finetune_card(Path(model_dir))
    if card is None:
        return None
    summary = {key: card[key] for key in TRAINING_KEYS if key in card}
    chain, total, seen = [], card.get("wall_time_s"), {Path(model_dir).resolve()}
    base = card.get("base_model_path")
    while base and Path(base).resolve() not in seen and (base_card := _finetune_card(Path(base))) is not None:
        seen.add(Path(base).resolve())
        chain.append(base_card.get("name", Path(base).name))
        wall = base_card.get("wall_time_s")
        total = None if total is None or wall is None else total + wall
        base = base_card.get("base_model_path")
    if chain:
        summary["fine_tuned_from"] = chain
        if total is not None:
            summary["total_wall_time_s"] = round(float(total), 1)
    return summary


def resolve_model(name_or_path: str | None) -> str:
    """'default' / a cached checkpoint name / a local path / a hub id -> what load_model takes."""
    if name_or_path in (None, "", DEFAULT_MODEL):
        directory = default_model_dir()
        if not (directory / "card.json").exists():
            raise AccvizError(
                "The default model is not prepared yet: run `accviz prepare` (or start the app)."
            )
        return str(directory)
    candidate = models_dir() / str(name_or_path)
    if (candidate / "card.json").exists():
        return str(candidate)
    return str(name_or_path)
