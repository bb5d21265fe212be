"""The verbs that train: ``finetune`` (elimination active) and ``search-profile`` (a per-task profile, on train)."""

from __future__ import annotations

import random
import sys
from dataclasses import replace
from pathlib import Path

from accviz.cli.common import load_checkpoint, no_searched_family, progress_bars
from accviz.data.batching import encode_split
from accviz.data.splits import load_split
from accviz.data.tasks import TaskSpec, get_task
from accviz.errors import AccvizError, CacheError
from accviz.machine import launched_processes, provenance
from accviz.measure.evaluate import evaluate_encoded
from accviz.method.scoring import choose_strategy
from accviz.method.search import HELD_OUT_SLICE, SearchedProfiles, search_profile, write_searched
from accviz.method.speedup import SolvedProfile
from accviz.results import sweep_dir
from accviz.store.cache import read_card
from accviz.store.checkpoints import DEFAULT_MODEL, prepare_finetuned, resolve_model
from accviz.train.finetune import FinetuneConfig, SpeedupSchedule, training_subset


def cmd_finetune(args) -> int:
    spec = get_task(args.task)  # resolved once, here; the recipe records the names it stands for
    config = replace(
        FinetuneConfig(),
        task=spec.name,
        train_speedup=args.train_speedup,
        strategy=choose_strategy(args.strategy).name,  # a typo fails before any model or data loads
        profile_family=args.family,
        inplace_distill=not args.no_distill,
        epochs=args.epochs,
        max_train_examples=args.max_train_examples,
        max_length=args.max_length,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        seed=args.seed,
        time_budget_s=args.time_budget,
        eval_examples=args.eval_examples,
        teacher=args.teacher,
        teacher_hidden_weight=args.teacher_hidden_weight,
        num_layers=args.layers,
        checkpoint_every=args.checkpoint_every,
    )
    SpeedupSchedule.parse(config.train_speedup)  # bad options fail before any model or data loads
    # a checkpoint in the cache by its name too (a second stage, a searched base); "default" here is
    # the base MiniLM, not the prepared default model resolve_model would give
    base = args.model if args.model in (None, "", DEFAULT_MODEL) else resolve_model(args.model)
    path = prepare_finetuned(
        base,
        spec,
        config,
        name=args.name,
        glue_dir=args.glue_dir,
        allow_pickle=args.allow_pickle,
        progress=progress_bars(),
        rebuild=args.rebuild,
        resume=args.resume if (args.resumable or args.resume) else None,
    )
    if not launched_processes().is_main_process:  # several processes: the main one publishes, reports
        return 0
    card = read_card(path, verify=False)
    print(f"checkpoint: {path}")
    print(
        f"trained {card['steps']}/{card['planned_steps']} steps in {card['wall_time_s']} s"
        + (" (stopped by the time budget)" if card["stopped_early"] else "")
    )
    for speedup, metrics in card["dev_metrics"].items():
        print(f"dev at {speedup}x: " + ", ".join(f"{k} {v:.2f}" for k, v in metrics.items()))
    return 0


def held_out_train_slice(spec: TaskSpec, args, model_dir: Path, examples: int, seed: int = 1234):
    """``examples`` train examples the checkpoint was not fine-tuned on (never dev), and a note."""
    train = load_split(spec, "train", glue_dir=args.glue_dir)
    candidates = list(range(len(train)))
    note = "train examples (the checkpoint has no accviz card: its training data is unknown)"
    try:
        card = read_card(model_dir, verify=False)
    except CacheError:
        card = None
    config = card.get("config", {}) if card is not None else None
    if card is not None and card.get("train_source") not in (None, train.source):
        raise AccvizError(
            f"The checkpoint was fine-tuned on {card['train_source']}; this train split is {train.source}. "
            "Pass the same --glue-dir, so the examples it trained on can be left out."
        )
    if config is not None:
        used_count = config.get("max_train_examples")
        if used_count is not None and used_count < len(train):
            rng = random.Random(config.get("seed", 0))  # the draw finetune() made, replayed
            used = set(training_subset(len(train), used_count, rng))
            candidates = [i for i in candidates if i not in used]
            note = f"{HELD_OUT_SLICE} {used_count} the checkpoint was fine-tuned on"
        else:
            note = "train examples the checkpoint was fine-tuned on (it used the whole split)"
    picked = sorted(random.Random(seed).sample(candidates, min(examples, len(candidates))))
    return train.select(picked, f"{len(picked)} of {len(train)}: {note}"), note


def cmd_search_profile(args) -> int:
    no_searched_family(args, "search-profile")
    spec, strategy = get_task(args.task), choose_strategy(args.strategy)  # names resolved once, here
    model_dir = Path(resolve_model(args.model))
    loaded = load_checkpoint(args.model, allow_pickle=args.allow_pickle)
    data, note = held_out_train_slice(spec, args, model_dir, args.examples)
    encoded = encode_split(
        loaded.tokenizer, data.texts_a, data.texts_b, data.labels, max_length=args.max_length
    )
    print(f"searching on {len(data)} {note} ({data.source})")

    def score(profile, target) -> float:
        solved = SolvedProfile(target, profile, 0.0, 0.0, True, 0.0)
        result = evaluate_encoded(loaded.model, encoded, spec, strategy=strategy, solved=solved,
                                  batch_size=args.batch_size, pad_id=loaded.tokenizer.pad_token_id or 0)  # fmt: skip
        return result.primary_value

    progress = progress_bars()
    points, details = [], []
    for target in args.speedups:
        result = search_profile(
            loaded.model.config, encoded.lengths, target, lambda p, t=target: score(p, t), fuse=strategy.fuse,
            rounds=args.rounds, progress=lambda done, total, t=target: progress(f"search {t:g}x", done, total, {}),
        )  # fmt: skip
        points.append((target, result.profile))
        details.append({"target": target, "metric": result.metric, "geometric_metric": result.start_metric,
                        "evaluations": result.evaluations})  # fmt: skip
        kept = " ".join(f"{r:.3f}" for r in result.profile.keep_ratios)
        print(f"{target:g}x: {result.metric:.2f} (geometric {result.start_metric:.2f}) with r = {kept}")
    card = {
        "model": model_dir.name,
        "task": data.task,
        "strategy": strategy.name,
        "search_slice": f"{len(data)} {note}",
        "search_examples": len(data),
        "source": data.source,
        "details": details,
        **provenance(" ".join(["accviz", *sys.argv[1:]])),
    }
    searched = SearchedProfiles(tuple(points), card)
    copy = sweep_dir(Path(args.out), args.name or model_dir.name + "-searched", data.task)
    for directory in (model_dir, copy):  # the checkpoint's own (what --family searched reads), a copy
        print(f"wrote {write_searched(directory, searched)}")
    return 0
