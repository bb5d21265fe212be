"""The verbs that measure: ``eval`` (offline-tuning), ``sweep``, ``corpus`` (the lens), ``bench``."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

from accviz import bench
from accviz.cli.common import (
    load_data,
    load_for_inference,
    no_searched_family,
    progress_bars,
)
from accviz.data.corpus import corpus_from_task_data, read_corpus_file
from accviz.data.tasks import get_task
from accviz.errors import CacheError
from accviz.explain import lens as lenses
from accviz.machine import launched_processes
from accviz.measure.evaluate import evaluate_split
from accviz.measure.sweep import run_sweep
from accviz.method.quantize import int8_config_of
from accviz.method.scoring import choose_strategy
from accviz.method.search import read_searched
from accviz.results import sweep_dir, write_sweep
from accviz.store.cache import directory_fingerprint, read_card
from accviz.store.checkpoints import resolve_model, training_summary


def cmd_eval(args) -> int:
    no_searched_family(args, "eval")
    spec, strategy = get_task(args.task), choose_strategy(args.strategy)  # names resolved once, here
    loaded, model, fp32_model = load_for_inference(args)
    data = load_data(spec, args)
    print(f"{spec.name} {data.split}: {len(data)} examples from {data.source}")
    if model is not fp32_model:
        print(f"weights: {model.accviz_int8.label}; measured speedups are against the fp32 unpruned model")
    for speedup in args.speedup:
        result = evaluate_split(
            model,
            loaded.tokenizer,
            data,
            target_speedup=speedup,
            strategy=strategy,
            family=args.family,
            batch_size=args.batch_size,
            max_length=args.max_length,
            measure_latency=not args.no_latency,
            baseline_model=fp32_model,
        )
        metrics = ", ".join(f"{k} {v:.2f}" for k, v in result.metrics.items())
        measured = f"{result.measured_speedup:.2f}x" if result.measured_speedup else "not measured"
        kept = " ".join(f"{k:.1f}" for k in result.mean_kept_per_layer)
        print(
            f"target {speedup:g}x [{result.strategy}]: {metrics} | estimated {result.estimated_speedup:.2f}x "
            f"(vs padded-128: {result.estimated_speedup_padded128:.2f}x; exact last layer alone {result.exact_last_layer_speedup:.2f}x) | "
            f"measured {measured} | mean kept per layer: {kept} (mean length {result.mean_length:.1f})"
        )
        if result.message:
            print(f"  note: {result.message}")
    return 0


def _reference_config(model_dir: Path, config):
    """The deeper base model's config when this checkpoint was cut to fewer layers (--layers); else None."""
    try:
        base_layers = read_card(model_dir, verify=False).get("base_num_layers")
    except CacheError:
        return None
    if not base_layers or base_layers <= config.num_hidden_layers:
        return None
    reference = copy.deepcopy(config)
    reference.num_hidden_layers = int(base_layers)
    return reference


def cmd_sweep(args) -> int:
    spec = get_task(args.task)  # names resolved once, here: a typo fails before an hour of sweeping
    strategies = tuple(choose_strategy(name) for name in args.strategies)
    loaded, model, fp32_model = load_for_inference(args)
    data = load_data(spec, args)
    model_dir = Path(resolve_model(args.model))
    int8 = int8_config_of(model)
    searched = read_searched(model_dir) if args.family == "searched" else None
    suffix = ("-searched" if searched else "") + ("-int8" if int8 else "")
    name = args.name or model_dir.name + suffix
    progress = progress_bars()
    reference = _reference_config(model_dir, loaded.model.config)
    table = run_sweep(
        model,
        loaded.tokenizer,
        data,
        model_name=name,
        speedups=args.speedups,
        strategies=strategies,
        family=args.family,
        max_length=args.max_length,
        batch_size=args.batch_size,
        progress=lambda done, total, what: progress("sweep", done, total, {}),
        reference_config=reference,
        searched=searched,
        baseline_model=fp32_model,  # an int8 sweep's measured speedup is against fp32 unpruned
    )
    processes = launched_processes()
    if not processes.is_main_process:  # several processes: the main one writes the table
        return 0
    card = {
        "model": name,
        "model_path": str(model_dir),
        "task": data.task,
        "split": data.split,
        "source": data.source,
        "n_examples": len(data),
        "profile_family": args.family,
        "weights": int8.label if int8 else "fp32",
        "command": " ".join(["accviz", *sys.argv[1:]]),
        "num_processes": processes.num_processes,  # each timed its own jobs' measured_speedup
    }
    if reference is not None:
        card["speedup_reference"] = f"the {reference.num_hidden_layers}-layer base model, unpruned"
    training = training_summary(model_dir)
    if training:
        card["model_training"] = training  # how the checkpoint was made, so the sweep explains itself
    path = write_sweep(table, sweep_dir(args.out, name, data.task), card)
    print(f"wrote {path}")
    primary = table[table.metric == table.metric.iloc[0]]
    print(
        primary.pivot_table(index="target_speedup", columns="strategy", values="value").round(2).to_string()
    )
    return 0


def cmd_corpus(args) -> int:
    spec, strategy = get_task(args.task), choose_strategy(args.strategy)  # names resolved once, here
    if args.input:  # a bad file fails here, before any model is loaded
        corpus = read_corpus_file(args.input, spec, max_rows=args.max_rows)
    else:
        corpus = corpus_from_task_data(load_data(spec, args))
    loaded, model, _ = load_for_inference(args)
    model_path = resolve_model(args.model)
    weights = f"int8 {args.int8} keep {args.int8_keep_fp32}" if args.int8 else "fp32"
    about = {"model": Path(model_path).name, "model_path": str(model_path), "weights": weights,
             "command": " ".join(["accviz", *sys.argv[1:]])}  # fmt: skip
    progress = progress_bars()
    lens, folder, cached = lenses.lens_of(
        model, loaded.tokenizer, corpus, spec, model_fingerprint=f"{directory_fingerprint(model_path)} {weights}",
        target_speedup=args.speedup, strategy=strategy, max_length=args.max_length, about=about,
        progress=lambda stage, done, total: progress(stage, done, total, {}),
    )  # fmt: skip
    print(lenses.report(lens, spec, min_count=args.min_count))
    print(f"{'cached' if cached else 'computed'}: {folder}")
    if args.out:
        print(f"wrote {lenses.save_lens(lens, spec, args.out, tokens=not args.no_tokens)}")
    return 0


def cmd_bench(args) -> int:
    return bench.main(args.bench_args)
