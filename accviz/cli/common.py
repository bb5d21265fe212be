"""What the verbs share: progress bars, torch threads, loading a checkpoint (optionally int8), a split."""

from __future__ import annotations

import os

import torch
from tqdm.auto import tqdm

from accviz.data.splits import load_split
from accviz.data.tasks import TaskSpec
from accviz.errors import AccvizError
from accviz.method.quantize import Int8Config, parse_keep_fp32, quantize_int8
from accviz.store.checkpoints import resolve_model
from accviz.store.loading import load_model


def progress_bars():
    bars: dict[str, tqdm] = {}

    def update(stage: str, done: int, total: int, info: dict) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="step", dynamic_ncols=True)
        bar.n = done
        if "loss" in info:
            bar.set_postfix(loss=f"{info['loss']:.3f}")
        bar.refresh()
        if done >= total:
            bar.close()

    return update


def set_threads(threads: int | None) -> None:
    """``--threads``, else every core, shared out when a launcher (torchrun, accelerate launch)
    started several processes on this machine: P processes with all cores each oversubscribe them."""
    local_processes = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))
    torch.set_num_threads(threads or max(1, (os.cpu_count() or 1) // local_processes))


def load_checkpoint(model: str | None, num_labels=None, allow_pickle=False):
    return load_model(
        resolve_model(model), num_labels=num_labels, allow_pickle=allow_pickle, attn_implementation="sdpa"
    )


def int8_config(args):
    """The --int8 choice as an ``Int8Config``, or None for fp32 weights."""
    if not args.int8:
        return None
    return Int8Config(scheme=args.int8, keep_fp32=parse_keep_fp32(args.int8_keep_fp32))


def load_for_inference(args):
    """(loaded, model to run, fp32 model): the model to run has int8 weights when --int8 is given."""
    loaded = load_checkpoint(args.model, allow_pickle=args.allow_pickle)
    config = int8_config(args)
    return loaded, (quantize_int8(loaded.model, config) if config else loaded.model), loaded.model


def load_data(spec: TaskSpec, args):
    """The split asked for, cut to --max-examples (a seeded subset) when given."""
    data = load_split(spec, args.split, glue_dir=args.glue_dir)
    if args.max_examples and args.max_examples < len(data):
        data = data.subset(args.max_examples, seed=0)
    return data


def no_searched_family(args, verb: str) -> None:
    if args.family == "searched":
        raise AccvizError(
            f"accviz {verb} takes --family tilt or geometric; 'searched' is for accviz sweep "
            "(and finetune, which trains at its base checkpoint's searched profiles)."
        )
