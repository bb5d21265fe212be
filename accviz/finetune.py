"""Fine-tuning with word-vector elimination active (the paper's fine-tuning phase).

Each training batch runs through ``PrunedBert`` with an elimination profile solved for a target
speedup, so the model learns to classify from the word-vectors ACC keeps. ``train_speedup`` is a
number, or ``random:LO-HI`` to sample a speedup per batch (Length-Adaptive-Transformer style) so
one checkpoint serves the whole speedup slider. ``inplace_distill`` also runs the full model on
each batch and teaches the pruned pass to match its (detached) predictions, the "sandwich rule"
of Length-Adaptive Transformer: the full model keeps learning and the pruned one follows it.

The loop uses ``accelerate``: on CPU it is one process; ``accelerate launch`` / ``torchrun``
spreads the same command over GPUs or nodes.
"""

from __future__ import annotations

import math
import platform
import random
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from accviz.batching import encode_split, pad_batch
from accviz.errors import AccvizError
from accviz.profile import DEFAULT_FAMILY, EliminationProfile
from accviz.pruned import PrunedBert
from accviz.speedup import solve_profile

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
    profile_family: str = DEFAULT_FAMILY  # "geometric" or "tilt"
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


@dataclass
class FinetuneResult:
    model: torch.nn.Module
    tokenizer: object
    card: dict
    losses: list[float] = field(default_factory=list)


def _profiles_for(schedule: SpeedupSchedule, config, lengths, family: str) -> list[EliminationProfile | None]:
    """One profile per grid speedup, solved on a sample of the training lengths."""
    return [solve_profile(config, lengths, s, family=family, warn=False).profile for s in schedule.grid()]


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
) -> FinetuneResult:
    """Fine-tunes ``model`` (a BertForSequenceClassification) in place with elimination active."""
    from accelerate import Accelerator
    from transformers import get_linear_schedule_with_warmup

    schedule = SpeedupSchedule.parse(config.train_speedup)
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    indices = list(range(len(train_texts_a)))
    if config.max_train_examples is not None and config.max_train_examples < len(indices):
        indices = sorted(rng.sample(indices, config.max_train_examples))
    if not indices:
        raise AccvizError("The training split is empty.")
    texts_a = [train_texts_a[i] for i in indices]
    texts_b = [train_texts_b[i] for i in indices] if train_texts_b is not None else None
    labels = [train_labels[i] for i in indices]
    encoded = encode_split(tokenizer, texts_a, texts_b, labels, max_length=config.max_length)

    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    trainable = PrunedBert(model)
    length_sample = rng.sample(encoded.lengths, min(2000, len(encoded)))
    profiles = _profiles_for(schedule, model.config, length_sample, config.profile_family)

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

    model.train()
    losses: list[float] = []
    started = time.perf_counter()
    stopped_early = False
    step = 0
    while step < total_steps:
        order = list(range(len(encoded)))
        rng.shuffle(order)
        for start in range(0, len(order), config.batch_size):
            if step >= total_steps:
                break
            batch = pad_batch(
                encoded,
                order[start : start + config.batch_size],
                pad_id=tokenizer.pad_token_id or 0,
                regression=regression,
            )
            batch = {k: v.to(accelerator.device) for k, v in batch.items()}
            profile = profiles[rng.randrange(len(profiles))]
            inputs = (batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
            pruned_logits = trainable(*inputs, profile=profile, scorer=config.strategy).logits
            loss = _loss(pruned_logits, batch["labels"], regression)
            if config.inplace_distill and profile is not None:
                full_logits = trainable(*inputs, profile=None).logits
                teacher = full_logits.detach()
                loss = 0.5 * (
                    loss + _distill_loss(pruned_logits, teacher, config.distill_temperature, regression)
                )
                loss = loss + _loss(full_logits, batch["labels"], regression)
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            losses.append(float(loss.detach()))
            elapsed = time.perf_counter() - started
            if progress is not None:
                progress(step, total_steps, {"loss": losses[-1], "elapsed_s": elapsed})
            if config.time_budget_s is not None and elapsed > config.time_budget_s:
                stopped_early = True
                break
        if stopped_early:
            break
    model.eval()
    wall = time.perf_counter() - started
    card = {
        "kind": "finetune",
        "config": asdict(config),
        "train_speedup": str(schedule),
        "train_examples": len(encoded),
        "train_truncated": encoded.truncated,
        "steps": step,
        "planned_steps": total_steps,
        "stopped_early": stopped_early,
        "wall_time_s": round(wall, 1),
        "final_loss_mean_last_20": sum(losses[-20:]) / max(1, len(losses[-20:])),
        "versions": library_versions(),
        "machine": machine_description(),
    }
    return FinetuneResult(model=model, tokenizer=tokenizer, card=card, losses=losses)


def library_versions() -> dict:
    import transformers

    import accviz

    return {
        "accviz": accviz.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
    }


def machine_description() -> dict:
    import os

    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": name,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
