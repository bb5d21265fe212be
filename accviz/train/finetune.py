"""Fine-tuning with word-vector elimination active (the paper's fine-tuning phase).

Each training batch runs through ``PrunedBert`` with an elimination profile solved for a target
speedup, so the model learns to classify from the word-vectors ACC keeps. ``train_speedup`` is a
number, or ``random:LO-HI`` to sample a speedup per batch (Length-Adaptive-Transformer style) so
one checkpoint serves the whole speedup slider. With ``profile_family="searched"`` each speedup's
profile is the base checkpoint's searched one (``accviz search-profile``), interpolated: the model
is fine-tuned at the shapes it will be evaluated with. ``inplace_distill`` also runs the full model on
each batch and teaches the pruned pass to match its (detached) predictions, the "sandwich rule"
of Length-Adaptive Transformer: the full model keeps learning and the pruned one follows it.

A separate ``teacher`` (the plain fine-tuned model of the same task, frozen) can replace the
full pass as the pruned pass's target: KL(student_T || teacher_T) * T^2 on the logits, plus
``teacher_hidden_weight`` * MSE between the students' and the teacher's last-layer [CLS] vectors.

``checkpoint_dir`` makes a run resumable: every ``checkpoint_every`` steps the weights, optimizer,
scheduler, RNG states and the position in the epoch are written there atomically, and a later
call with the same config continues from the last one (``accviz finetune --resume``).

The loop uses ``accelerate``: run plainly it is one process; ``accelerate launch`` / ``torchrun``
spreads the same command over P processes (GPUs, nodes, or CPU processes with gloo). Every process
draws the same seeded order and the same profile per step; ``batch_size`` stays the global batch,
and process r trains on the examples ``batch[r::P]`` of it. Its loss is weighted by
``n_r * P / n`` before DDP averages the gradients, so the update is the gradient of the whole
batch's mean loss, as in one process (dropout apart: process r draws its masks from seed + r).
One process is exactly the loop it always was. Progress and resumable state are the main
process's; every process loads a state (on several nodes ``checkpoint_dir`` must be shared), and a
state resumes only with the number of processes that saved it, so the continuation stays exact.
"""

from __future__ import annotations

import math
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator, DataLoaderConfiguration
from accelerate.utils import gather_object
from safetensors.torch import load_file, save_file
from transformers import get_linear_schedule_with_warmup

from accviz.data.batching import encode_split, pad_batch
from accviz.errors import AccvizError
from accviz.machine import provenance
from accviz.method.profile import DEFAULT_FAMILY, EliminationProfile
from accviz.method.pruned import PrunedBert
from accviz.method.scoring import ACC, ChosenStrategy, choose_strategy
from accviz.method.search import SearchedProfiles, solve_in_family

ProgressFn = Callable[[int, int, dict], None]  # (step, total_steps, info) -> None


@dataclass(frozen=True)
class SpeedupSchedule:
    """A fixed training speedup or a uniform range sampled per batch."""

    low: float
    high: float

    @classmethod
    def parse(cls, value) -> SpeedupSchedule:
        if isinstance(value, SpeedupSchedule):
            return value
        text = str(value).strip().lower()
        match = re.fullmatch(r"random:\s*([0-9.]+)\s*-\s*([0-9.]+)", text)
        try:
            low, high = (
                (float(match.group(1)), float(match.group(2))) if match else (float(text), float(text))
            )
        except ValueError:
            raise AccvizError(
                f"--train-speedup must be a number like 2.0 or a range like random:1-4; got {value!r}."
            ) from None
        if not (1.0 <= low <= high) or not math.isfinite(high):
            raise AccvizError(f"Training speedups must satisfy 1 <= low <= high; got {value!r}.")
        return cls(low, high)

    @property
    def is_fixed(self) -> bool:
        return self.low == self.high

    def grid(self, step: float = 0.25) -> list[float]:
        if self.is_fixed:
            return [self.low]
        count = max(1, round((self.high - self.low) / step))
        return [self.low + (self.high - self.low) * i / count for i in range(count + 1)]

    def __str__(self) -> str:
        return f"{self.low:g}" if self.is_fixed else f"random:{self.low:g}-{self.high:g}"


@dataclass(frozen=True)
class FinetuneConfig:
    """One fine-tuning run. Defaults: the app's default model (MiniLM on Rotten Tomatoes)."""

    task: str = "rotten_tomatoes"
    train_speedup: str = "random:1-4"  # a number, or random:LO-HI sampled per batch
    strategy: str = "acc"  # which score ranks word-vectors during training
    profile_family: str = DEFAULT_FAMILY  # "geometric", "tilt", or "searched": the base's searched profiles
    inplace_distill: bool = True  # also train the full model and distil it into the pruned pass
    distill_temperature: float = 2.0
    epochs: float = 1.0
    max_train_examples: int | None = None  # a seeded random subset of the train split
    max_length: int = 64
    batch_size: int = 32
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    seed: int = 0
    time_budget_s: float | None = None  # stop (and say so in the card) when training runs past this
    eval_examples: int | None = None  # dev examples scored in the card (None = whole dev split)
    teacher: str | None = None  # a fine-tuned checkpoint that teaches the pruned pass (see module doc)
    teacher_hidden_weight: float = 0.0  # weight of the MSE on the last layer's [CLS] vector
    num_layers: int | None = None  # keep only the base model's first layers (the layer-drop baseline)
    checkpoint_every: int = 200  # steps between resumable checkpoints (when a checkpoint_dir is given)


@dataclass
class FinetuneResult:
    model: torch.nn.Module
    tokenizer: object
    card: dict
    losses: list[float] = field(default_factory=list)
    strategy: ChosenStrategy = ACC  # the recipe's strategy, resolved once for the run (and its dev scores)


def _profiles_for(
    schedule: SpeedupSchedule, config, lengths, family: str, fuse: bool = False, searched=None
) -> list[EliminationProfile | None]:
    """One profile per grid speedup, solved on a sample of the training lengths (``searched``: the
    base checkpoint's ``SearchedProfiles``, interpolated, for ``family="searched"``)."""
    return [
        solve_in_family(config, lengths, s, family=family, fuse=fuse, searched=searched).profile
        for s in schedule.grid()
    ]


def _loss(logits: torch.Tensor, labels: torch.Tensor, regression: bool) -> torch.Tensor:
    if regression:
        return F.mse_loss(logits.squeeze(-1), labels)
    return F.cross_entropy(logits, labels)


def _distill_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float, regression: bool):
    if regression:
        return F.mse_loss(student, teacher)
    t = temperature
    return (
        F.kl_div(
            F.log_softmax(student / t, -1),
            F.log_softmax(teacher / t, -1),
            log_target=True,
            reduction="batchmean",
        )
        * t
        * t
    )


def finetune(
    model: torch.nn.Module,
    tokenizer,
    train_texts_a,
    train_labels,
    config: FinetuneConfig,
    *,
    train_texts_b=None,
    regression: bool = False,
    progress: ProgressFn | None = None,
    teacher_model: torch.nn.Module | None = None,
    checkpoint_dir: Path | None = None,
    searched: SearchedProfiles | None = None,
) -> FinetuneResult:
    """Fine-tunes ``model`` (a BertForSequenceClassification) in place with elimination active.

    ``teacher_model``: the loaded ``config.teacher`` (frozen, eval mode). ``checkpoint_dir``: where
    resumable state goes; an existing state there for the same config is resumed. ``searched``:
    the profiles ``config.profile_family == "searched"`` trains at (``accviz.method.search``).
    """

    schedule = SpeedupSchedule.parse(config.train_speedup)
    rng = random.Random(config.seed)  # the same draws on every process: order and profiles agree
    indices = training_subset(len(train_texts_a), config.max_train_examples, rng)
    if not indices:
        raise AccvizError("The training split is empty.")
    texts_a = [train_texts_a[i] for i in indices]
    texts_b = [train_texts_b[i] for i in indices] if train_texts_b is not None else None
    labels = [train_labels[i] for i in indices]
    encoded = encode_split(tokenizer, texts_a, texts_b, labels, max_length=config.max_length)

    accelerator = Accelerator(  # the processes of launched_processes(); split_batches: batch_size is
        cpu=not torch.cuda.is_available(),  # the global batch, so the schedule steps once a step
        dataloader_config=DataLoaderConfiguration(split_batches=True),
    )
    rank, processes = accelerator.process_index, accelerator.num_processes
    torch.manual_seed(config.seed + rank)  # dropout: one stream per process (accelerate's convention)
    trainable = PrunedBert(model)
    length_sample = rng.sample(encoded.lengths, min(2000, len(encoded)))
    strategy = choose_strategy(config.strategy)  # the recipe's name, resolved once for the whole run
    profiles = _profiles_for(
        schedule, model.config, length_sample, config.profile_family, strategy.fuse, searched
    )

    steps_per_epoch = math.ceil(len(encoded) / config.batch_size)
    total_steps = max(1, math.ceil(steps_per_epoch * config.epochs))
    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {
            "params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
            "weight_decay": config.weight_decay,
        },
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=config.learning_rate)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(config.warmup_ratio * total_steps), total_steps
    )
    trainable, optimizer, scheduler = accelerator.prepare(trainable, optimizer, scheduler)
    if teacher_model is not None:
        teacher_model = teacher_model.to(accelerator.device).eval()

    model.train()
    losses: list[float] = []
    started = time.perf_counter()
    stopped_early = False
    step, order, start_at, previous_s, examples_seen = 0, None, 0, 0.0, 0
    shapes = _profiles_key(profiles)  # what a resume must train at too
    resumed = _agreed_state(accelerator, checkpoint_dir, config, shapes, model, optimizer, scheduler, rng)
    if resumed is not None:
        step, order, start_at, losses, previous_s, examples_seen = resumed
    while step < total_steps:
        if order is None:
            order = list(range(len(encoded)))
            rng.shuffle(order)
        for start in range(start_at, len(order), config.batch_size):
            if step >= total_steps:
                break
            global_batch = order[start : start + config.batch_size]
            mine = global_batch[rank::processes]  # (n_r,) this process's share
            share = len(mine) * processes / len(global_batch)  # n_r * P / n; exactly 1 for one process
            batch = pad_batch(
                encoded,
                mine or global_batch[:1],  # a share of nothing runs one example at weight 0: DDP
                pad_id=tokenizer.pad_token_id or 0,  # needs every process in every backward
                regression=regression,
            )
            batch = {k: v.to(accelerator.device) for k, v in batch.items()}
            profile = profiles[rng.randrange(len(profiles))]
            inputs = (batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
            # a fresh scorer each step: "random" restarts its seeded stream, so a resume stays exact
            pruned_out = trainable(*inputs, profile=profile, scorer=strategy.new_scorer())
            pruned_logits = pruned_out.logits
            loss = _loss(pruned_logits, batch["labels"], regression)
            in_place = config.inplace_distill and profile is not None
            full_logits = trainable(*inputs, profile=None).logits if in_place else None
            if teacher_model is not None:  # the separate teacher replaces the in-place target
                loss = 0.5 * (loss + _teacher_loss(pruned_out, teacher_model, inputs, config, regression))
            elif in_place:
                target = full_logits.detach()
                loss = 0.5 * (
                    loss + _distill_loss(pruned_logits, target, config.distill_temperature, regression)
                )
            if in_place:  # the full model keeps learning too
                loss = loss + _loss(full_logits, batch["labels"], regression)
            accelerator.backward(loss if processes == 1 else loss * share)
            accelerator.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            examples_seen += len(mine)
            elapsed = time.perf_counter() - started
            over_budget = config.time_budget_s is not None and elapsed > config.time_budget_s
            if processes == 1:
                losses.append(float(loss.detach()))
            else:  # the whole batch's mean loss; one process past the budget stops them all
                totals = accelerator.reduce(
                    torch.tensor([float(loss.detach()) * len(mine), float(over_budget)], device=accelerator.device),
                    "sum",
                )  # fmt: skip
                losses.append(float(totals[0]) / len(global_batch))
                over_budget = bool(totals[1] > 0)
            if progress is not None and accelerator.is_main_process:
                progress(step, total_steps, {"loss": losses[-1], "elapsed_s": elapsed})
            if (
                checkpoint_dir is not None
                and step % max(1, config.checkpoint_every) == 0
                and step < total_steps
            ):
                position = (order, start + config.batch_size)
                _save_state(checkpoint_dir, config, shapes, accelerator, model, optimizer, scheduler, rng, step, position,
                            losses, previous_s + elapsed, examples_seen)  # fmt: skip
            if over_budget and step < total_steps:
                stopped_early = True
                break
        if stopped_early:
            break
        order, start_at = None, 0
    model.eval()
    wall = time.perf_counter() - started + previous_s
    if stopped_early and checkpoint_dir is not None:  # a budget stop is resumable from here
        _save_state(checkpoint_dir, config, shapes, accelerator, model, optimizer, scheduler, rng, step,
                    (order, start + config.batch_size), losses, wall, examples_seen)  # fmt: skip
    examples_seen_per_process = _gathered(accelerator, examples_seen)
    card = {
        "kind": "finetune",
        "config": asdict(config),
        "train_speedup": str(schedule),
        "train_examples": len(encoded),
        "train_truncated": encoded.truncated,
        "steps": step,
        "planned_steps": total_steps,
        "stopped_early": stopped_early,
        "resumed_at_step": resumed[0] if resumed is not None else None,
        "num_processes": processes,
        "examples_seen_per_process": examples_seen_per_process,  # over all sessions of a resumed run
        "wall_time_s": round(wall, 1),
        "final_loss_mean_last_20": sum(losses[-20:]) / max(1, len(losses[-20:])),
        **provenance(),
    }
    return FinetuneResult(model=model, tokenizer=tokenizer, card=card, losses=losses, strategy=strategy)


def training_subset(count: int, max_examples: int | None, rng: random.Random) -> list[int]:
    """The indices ``finetune`` trains on: all ``count``, or a sorted sample of ``max_examples``
    drawn first from ``rng`` = random.Random(seed) (so a checkpoint's card says which were used)."""
    indices = list(range(count))
    if max_examples is not None and max_examples < count:
        indices = sorted(rng.sample(indices, max_examples))
    return indices


def _teacher_loss(pruned_out, teacher_model, inputs, config: FinetuneConfig, regression: bool):
    """KL to the frozen teacher's logits at temperature T (MSE for regression), plus the optional
    MSE between the last layer's [CLS] vectors (both (B, d))."""
    hidden = config.teacher_hidden_weight > 0
    with torch.no_grad():
        taught = teacher_model(
            input_ids=inputs[0],
            attention_mask=inputs[1],
            token_type_ids=inputs[2],
            output_hidden_states=hidden,
        )
    loss = _distill_loss(pruned_out.logits, taught.logits, config.distill_temperature, regression)
    if hidden:
        loss = loss + config.teacher_hidden_weight * F.mse_loss(
            pruned_out.last_hidden[:, 0], taught.hidden_states[-1][:, 0]
        )
    return loss


# --- resumable state ---------------------------------------------------------------------------

STATE_FILE = "state.pt"
WEIGHTS_FILE = "model.safetensors"


def _config_key(config: FinetuneConfig) -> dict:
    """What must match for a saved state to be resumed (the time budget and eval size may change)."""
    key = asdict(config)
    for free in ("time_budget_s", "eval_examples", "checkpoint_every"):
        key.pop(free)
    return key


def _profiles_key(profiles) -> list:
    """The keep ratios of every profile a run draws from (None: unpruned), rounded: a resume must
    draw from the same ones. They follow from the config, except with ``profile_family="searched"``,
    where they come from the base checkpoint's searched profiles, a file that may change meanwhile."""
    return [None if p is None else [round(r, 6) for r in p.keep_ratios] for p in profiles]


def _agreed_state(accelerator, directory, config, shapes, model, optimizer, scheduler, rng):
    """``_load_state`` on every process, which must all find the same state (or none, or fail alike):
    a process that resumed alone would wait forever in the first collective, or mix two runs."""
    try:
        resumed, problem = _load_state(directory, config, shapes, model, optimizer, scheduler, rng,
                                       accelerator.process_index, accelerator.num_processes), None  # fmt: skip
    except AccvizError as error:
        resumed, problem = None, str(error)
    views = _gathered(accelerator, (problem, None if resumed is None else resumed[0]))
    problems = [seen_problem for seen_problem, _ in views if seen_problem]
    if problems:
        raise AccvizError(problems[0])
    if len({step for _, step in views}) > 1:
        raise AccvizError(
            f"The processes found different resumable states in {directory} (steps "
            f"{[step for _, step in views]}): on several machines it must be one shared folder."
        )
    return resumed


def _gathered(accelerator, value) -> list:
    """``value`` of every process, in rank order; every process must call it (an all-gather)."""
    if accelerator.num_processes == 1:
        return [value]

    return gather_object([value])


def _save_state(directory: Path, config, shapes, accelerator, model, optimizer, scheduler, rng, step, position, losses,
                wall, examples_seen):  # fmt: skip
    """Every process calls it: the main process writes, and the others wait until it has."""

    # each process's own streams (dropout, examples seen); the python rng is the same everywhere
    torch_rngs = _gathered(accelerator, torch.get_rng_state())
    cuda_rngs = _gathered(accelerator, torch.cuda.get_rng_state() if torch.cuda.is_available() else None)
    seen = _gathered(accelerator, examples_seen)
    if not accelerator.is_main_process:
        accelerator.wait_for_everyone()
        return
    directory.mkdir(parents=True, exist_ok=True)
    order, start = position
    state = {
        "config": _config_key(config),
        "profiles": shapes,
        "step": step,
        "order": order,
        "start": start,
        "losses": losses,
        "wall_time_s": wall,
        "python_rng": rng.getstate(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "num_processes": accelerator.num_processes,
        "examples_seen_per_process": seen,
        "torch_rng_per_process": torch_rngs,
        "cuda_rng_per_process": cuda_rngs,
    }
    weights = {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    for name, write in (
        (WEIGHTS_FILE, lambda path: save_file(weights, str(path))),
        (STATE_FILE, lambda path: torch.save(state, path)),
    ):
        staging = directory / f"{name}.tmp"
        write(staging)
        os.replace(staging, directory / name)  # an interruption never leaves half a state
    if accelerator.num_processes > 1:
        accelerator.wait_for_everyone()


def _load_state(
    directory: Path | None, config, shapes, model, optimizer, scheduler, rng, rank=0, processes=1
):
    """(step, order, start, losses, wall_s, examples seen by process ``rank``) of a saved state for
    this config, after loading it into every process; else None."""
    if directory is None or not (directory / STATE_FILE).exists():
        return None

    try:
        # written by _save_state only; map to CPU so a state saved on a GPU resumes anywhere
        state = torch.load(directory / STATE_FILE, weights_only=False, map_location="cpu")
        weights = load_file(str(directory / WEIGHTS_FILE))
    except Exception as error:  # a torn or foreign file: start afresh rather than train on garbage
        raise AccvizError(
            f"The resumable state in {directory} cannot be read ({error}); delete the folder to start afresh."
        ) from error
    if state.get("config") != _config_key(config):
        raise AccvizError(
            f"The resumable state in {directory} was made with another recipe; "
            "use the same options, or --rebuild to start afresh."
        )
    if "profiles" in state and state["profiles"] != shapes:  # states from before this check: not compared
        raise AccvizError(
            f"The resumable state in {directory} was trained at other elimination profiles than this run "
            "would use (with --family searched: the base checkpoint's searched profiles changed since the "
            "pause). Restore them, or --rebuild to start afresh."
        )
    saved_processes = state.get("num_processes", 1)  # states from before multi-process runs: one
    if saved_processes != processes:
        raise AccvizError(
            f"The resumable state in {directory} was saved by {saved_processes} process(es), and this run has "
            f"{processes}: resume with {saved_processes}, or --rebuild to start afresh."
        )
    model.load_state_dict(weights, strict=False)  # tied/absent buffers keep their values
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    rng.setstate(state["python_rng"])
    if "torch_rng_per_process" in state:
        torch.set_rng_state(state["torch_rng_per_process"][rank])
        if state["cuda_rng_per_process"][rank] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state(state["cuda_rng_per_process"][rank])
    else:  # a state saved before multi-process runs (one process; every CUDA device's stream)
        torch.set_rng_state(state["torch_rng"])
        if state.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
    if "examples_seen_per_process" in state:
        seen = state["examples_seen_per_process"][rank]
    else:  # an older state, one process: its full epochs, and this epoch up to ``start``
        count, this_epoch = len(state["order"]), min(state["start"], len(state["order"]))
        epochs_done = (state["step"] - math.ceil(this_epoch / config.batch_size)) // math.ceil(
            count / config.batch_size
        )
        seen = epochs_done * count + this_epoch
    return state["step"], state["order"], state["start"], state["losses"], state["wall_time_s"], seen
