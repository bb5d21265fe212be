"""The ``accviz`` command line: a thin layer over the engine.

accviz app                       start the Streamlit app (127.0.0.1 unless --host says otherwise)
accviz prepare                   build the default model (MiniLM fine-tuned on the default task)
accviz finetune --task sst2 ...  fine-tune with elimination active
accviz eval --task sst2 --model M --speedup 2.0      offline-tuning: any speedup, no retraining
accviz sweep --task sst2 --model M                   the accuracy-vs-speedup grid -> cached_runs/
accviz search-profile --task sst2 --model M --speedups 2,3,4   a profile searched per task (on train)
accviz demo "some text"          which word-vectors each layer keeps
accviz bench speedup|fidelity|accuracy               benchmarks (python -m accviz.bench)
accviz models                    cached fine-tuned checkpoints
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from accviz.errors import AccvizError, TrainingPaused
from accviz.method.profile import DEFAULT_FAMILY, FAMILIES
from accviz.method.quantize import SCHEMES
from accviz.method.scoring import STRATEGY_ORDER, parse_strategy

REPO_ROOT = Path(__file__).resolve().parents[1]
EXIT_PAUSED = 3  # a --resumable fine-tune stopped at its --time-budget: run it again with --resume
APP_SCRIPT = REPO_ROOT / "app" / "streamlit_app.py"


def _tqdm_progress():
    from tqdm.auto import tqdm

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


def _set_threads(threads: int | None) -> None:
    import torch

    torch.set_num_threads(threads or max(1, os.cpu_count() or 1))


def _load(model: str | None, num_labels=None, allow_pickle=False):
    from accviz.store.checkpoints import resolve_model
    from accviz.store.loading import load_model

    return load_model(
        resolve_model(model), num_labels=num_labels, allow_pickle=allow_pickle, attn_implementation="sdpa"
    )


def _int8_config(args):
    """The --int8 choice as an ``Int8Config``, or None for fp32 weights."""
    from accviz.method.quantize import Int8Config, parse_keep_fp32

    if not args.int8:
        return None
    return Int8Config(scheme=args.int8, keep_fp32=parse_keep_fp32(args.int8_keep_fp32))


def _load_for_inference(args):
    """(loaded, model to run, fp32 model): the model to run has int8 weights when --int8 is given."""
    from accviz.method.quantize import quantize_int8

    loaded = _load(args.model, allow_pickle=args.allow_pickle)
    config = _int8_config(args)
    return loaded, (quantize_int8(loaded.model, config) if config else loaded.model), loaded.model


def _load_data(task: str, args):
    """The split asked for, cut to --max-examples (a seeded subset) when given."""
    from accviz.data.splits import load_split

    data = load_split(task, args.split, glue_dir=args.glue_dir)
    if args.max_examples and args.max_examples < len(data):
        data = data.subset(args.max_examples, seed=0)
    return data


def cmd_app(args) -> int:
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"WARNING: serving on {args.host}: anyone who can reach this machine can use the app. "
            "Visitors can only pick cached checkpoints and the allow-list; free-text model paths are off.",
            file=sys.stderr,
        )
    env = dict(os.environ, ACCVIZ_SERVER_HOST=args.host)
    if args.model:
        env["ACCVIZ_MODEL"] = args.model
    # Always headless for Streamlit itself: otherwise its first run on a machine asks for an e-mail
    # address on stdin, which blocks the one-command start (and ends it where stdin is not a
    # terminal). accviz opens the browser itself unless --headless.
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT),
        "--server.address", args.host, "--server.port", str(args.port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    browse_host = "localhost" if args.host in ("0.0.0.0", "::") else args.host
    url = f"http://[{browse_host}]:{args.port}" if ":" in browse_host else f"http://{browse_host}:{args.port}"
    print(f"accviz app: serving on {url}", flush=True)
    return _serve(command, env, open_url=None if args.headless else url)


def _serve(command: list[str], env: dict, open_url: str | None) -> int:
    """Runs the Streamlit server until it exits; opens ``open_url`` in a browser once it answers."""
    import threading

    process = subprocess.Popen(command, env=env)
    if open_url:
        threading.Thread(target=_open_when_ready, args=(open_url, process), daemon=True).start()
    try:
        return process.wait()
    except KeyboardInterrupt:  # Ctrl-C reaches the server too; wait for it to finish
        return process.wait()


def _open_when_ready(url: str, process: subprocess.Popen, timeout_s: float = 120.0) -> bool:
    import time
    import urllib.request
    import webbrowser

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return webbrowser.open(url)  # False, quietly, where no browser is available
        except OSError:
            time.sleep(0.5)
    return False


def cmd_prepare(args) -> int:
    from accviz.store.checkpoints import prepare_default_model

    path = prepare_default_model(progress=_tqdm_progress())
    print(f"default model ready: {path}")
    return 0


def _no_searched_family(args, verb: str) -> None:
    if args.family == "searched":
        raise AccvizError(f"accviz {verb} takes --family tilt or geometric; 'searched' is for accviz sweep.")


def cmd_finetune(args) -> int:
    from dataclasses import replace

    _no_searched_family(args, "finetune")
    from accviz.store.cache import read_card
    from accviz.store.checkpoints import prepare_finetuned
    from accviz.train.finetune import FinetuneConfig, SpeedupSchedule

    config = replace(
        FinetuneConfig(),
        task=args.task,
        train_speedup=args.train_speedup,
        strategy=args.strategy,
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
    parse_strategy(config.strategy)
    path = prepare_finetuned(
        args.model,
        args.task,
        config,
        name=args.name,
        glue_dir=args.glue_dir,
        allow_pickle=args.allow_pickle,
        progress=_tqdm_progress(),
        rebuild=args.rebuild,
        resume=args.resume if (args.resumable or args.resume) else None,
    )
    card = read_card(path, verify=False)
    print(f"checkpoint: {path}")
    print(
        f"trained {card['steps']}/{card['planned_steps']} steps in {card['wall_time_s']} s"
        + (" (stopped by the time budget)" if card["stopped_early"] else "")
    )
    for speedup, metrics in card["dev_metrics"].items():
        print(f"dev at {speedup}x: " + ", ".join(f"{k} {v:.2f}" for k, v in metrics.items()))
    return 0


def cmd_eval(args) -> int:
    from accviz.data.tasks import get_task
    from accviz.measure.evaluate import evaluate_split

    _no_searched_family(args, "eval")
    spec = get_task(args.task)
    loaded, model, fp32_model = _load_for_inference(args)
    data = _load_data(spec.name, args)
    print(f"{spec.name} {data.split}: {len(data)} examples from {data.source}")
    if model is not fp32_model:
        print(f"weights: {model.accviz_int8.label}; measured speedups are against the fp32 unpruned model")
    for speedup in args.speedup:
        result = evaluate_split(
            model,
            loaded.tokenizer,
            data,
            target_speedup=speedup,
            strategy=args.strategy,
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


def _training_summary(model_dir: Path) -> dict | None:
    """The fine-tuning recipe from an accviz checkpoint's card; None for any other checkpoint."""
    from accviz.errors import CacheError
    from accviz.store.cache import read_card

    try:
        card = read_card(model_dir, verify=False)
    except CacheError:  # no card, or a broken one: the sweep simply does not describe the training
        return None
    if card.get("kind") != "finetune":
        return None
    keys = ("config", "base_model", "train_source", "train_examples", "steps", "wall_time_s", "machine",
            "base_num_layers", "num_layers")  # fmt: skip
    return {key: card[key] for key in keys if key in card}


def _reference_config(model_dir: Path, config):
    """The deeper base model's config when this checkpoint was cut to fewer layers (--layers); else None."""
    import copy

    from accviz.errors import CacheError
    from accviz.store.cache import read_card

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
    from accviz.measure.sweep import run_sweep, sweep_dir, write_sweep
    from accviz.method.quantize import int8_config_of
    from accviz.method.search import read_searched
    from accviz.store.checkpoints import resolve_model
    from accviz.train.finetune import library_versions, machine_description

    loaded, model, fp32_model = _load_for_inference(args)
    data = _load_data(args.task, args)
    model_dir = Path(resolve_model(args.model))
    int8 = int8_config_of(model)
    searched = read_searched(model_dir) if args.family == "searched" else None
    suffix = ("-searched" if searched else "") + ("-int8" if int8 else "")
    name = args.name or model_dir.name + suffix
    progress = _tqdm_progress()
    reference = _reference_config(model_dir, loaded.model.config)
    table = run_sweep(
        model,
        loaded.tokenizer,
        data,
        model_name=name,
        speedups=args.speedups,
        strategies=args.strategies,
        family=args.family,
        max_length=args.max_length,
        batch_size=args.batch_size,
        progress=lambda done, total, what: progress("sweep", done, total, {}),
        reference_config=reference,
        searched=searched,
        baseline_model=fp32_model,  # an int8 sweep's measured speedup is against fp32 unpruned
    )
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
        "versions": library_versions(),
        "machine": machine_description(),
    }
    if reference is not None:
        card["speedup_reference"] = f"the {reference.num_hidden_layers}-layer base model, unpruned"
    training = _training_summary(model_dir)
    if training:
        card["model_training"] = training  # how the checkpoint was made, so the sweep explains itself
    path = write_sweep(table, sweep_dir(args.out, name, data.task), card)
    print(f"wrote {path}")
    primary = table[table.metric == table.metric.iloc[0]]
    print(
        primary.pivot_table(index="target_speedup", columns="strategy", values="value").round(2).to_string()
    )
    return 0


def held_out_train_slice(args, model_dir: Path, examples: int, seed: int = 1234):
    """``examples`` train examples the checkpoint was not fine-tuned on (never dev), and a note."""
    import random

    from accviz.data.splits import load_split
    from accviz.errors import CacheError
    from accviz.store.cache import read_card
    from accviz.train.finetune import training_subset

    train = load_split(args.task, "train", glue_dir=args.glue_dir)
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
            note = f"train examples outside the {used_count} the checkpoint was fine-tuned on"
        else:
            note = "train examples the checkpoint was fine-tuned on (it used the whole split)"
    picked = sorted(random.Random(seed).sample(candidates, min(examples, len(candidates))))
    return train.select(picked, f"{len(picked)} of {len(train)}: {note}"), note


def cmd_search_profile(args) -> int:
    _no_searched_family(args, "search-profile")
    from accviz.data.batching import encode_split
    from accviz.measure.evaluate import evaluate_encoded
    from accviz.measure.sweep import sweep_dir
    from accviz.method.search import SearchedProfiles, search_profile, write_searched
    from accviz.method.speedup import SolvedProfile
    from accviz.store.checkpoints import resolve_model
    from accviz.train.finetune import library_versions, machine_description

    model_dir = Path(resolve_model(args.model))
    loaded = _load(args.model, allow_pickle=args.allow_pickle)
    data, note = held_out_train_slice(args, model_dir, args.examples)
    encoded = encode_split(
        loaded.tokenizer, data.texts_a, data.texts_b, data.labels, max_length=args.max_length
    )
    print(f"searching on {len(data)} {note} ({data.source})")
    base_strategy, fuse = parse_strategy(args.strategy)

    def score(profile, target) -> float:
        solved = SolvedProfile(target, profile, 0.0, 0.0, True, 0.0)
        result = evaluate_encoded(loaded.model, encoded, data.task, strategy=args.strategy, solved=solved,
                                  batch_size=args.batch_size, pad_id=loaded.tokenizer.pad_token_id or 0)  # fmt: skip
        return result.primary_value

    progress = _tqdm_progress()
    points, details = [], []
    for target in args.speedups:
        result = search_profile(
            loaded.model.config, encoded.lengths, target, lambda p, t=target: score(p, t), fuse=fuse,
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
        "strategy": args.strategy,
        "search_slice": f"{len(data)} {note}",
        "source": data.source,
        "details": details,
        "command": " ".join(["accviz", *sys.argv[1:]]),
        "versions": library_versions(),
        "machine": machine_description(),
    }
    searched = SearchedProfiles(tuple(points), card)
    for directory in (model_dir, sweep_dir(Path(args.out), model_dir.name + "-searched", data.task)):
        print(f"wrote {write_searched(directory, searched)}")
    return 0


def cmd_demo(args) -> int:
    from accviz.explain.analysis import analyze_text

    loaded, model, _ = _load_for_inference(args)
    analysis = analyze_text(
        model,
        loaded.tokenizer,
        args.text,
        args.text_pair,
        target_speedup=args.speedup,
        strategy=args.strategy,
    )
    if model is not loaded.model:
        print(f"weights: {model.accviz_int8.label}")
    if analysis.solved.message:
        print(f"note: {analysis.solved.message}")
    if analysis.truncated:
        print(
            f"note: the input has {analysis.original_token_count} tokens; the model reads {len(analysis.tokens)}."
        )
    print(f"tokens ({len(analysis.tokens)}): {' '.join(analysis.tokens)}")
    for layer, kept in enumerate(analysis.kept_per_layer, start=1):
        survivors = [
            t
            for t, left in zip(analysis.tokens, analysis.eliminated_at, strict=True)
            if left == 0 or left > layer
        ]
        print(f"layer {layer}: keeps {kept:3d}  {' '.join(survivors)}")
    print(
        f"unpruned: {analysis.unpruned.label}  pruned: {analysis.pruned.label}  (estimated speedup {analysis.solved.estimated_speedup:.2f}x)"
    )
    return 0


def cmd_models(args) -> int:
    from accviz.store.checkpoints import list_cached_models, models_dir

    models = list_cached_models()
    print(f"cache: {models_dir()}")
    for model in models:
        print(f"  {model.describe()}")
    if not models:
        print("  (none yet: `accviz prepare` builds the default)")
    return 0


def cmd_bench(args) -> int:
    from accviz import bench

    return bench.main(args.bench_args)


def cmd_corpus(args) -> int:
    from accviz.data.corpus import corpus_from_task_data, read_corpus_file
    from accviz.data.tasks import get_task
    from accviz.explain import lens as lenses
    from accviz.store.cache import directory_fingerprint
    from accviz.store.checkpoints import resolve_model

    spec = get_task(args.task)
    if args.input:  # a bad file fails here, before any model is loaded
        corpus = read_corpus_file(args.input, spec, max_rows=args.max_rows)
    else:
        corpus = corpus_from_task_data(_load_data(spec.name, args))
    loaded, model, _ = _load_for_inference(args)
    model_path = resolve_model(args.model)
    weights = f"int8 {args.int8} keep {args.int8_keep_fp32}" if args.int8 else "fp32"
    about = {"model": Path(model_path).name, "model_path": str(model_path), "weights": weights,
             "command": " ".join(["accviz", *sys.argv[1:]])}  # fmt: skip
    progress = _tqdm_progress()
    lens, folder, cached = lenses.lens_of(
        model, loaded.tokenizer, corpus, spec, model_fingerprint=f"{directory_fingerprint(model_path)} {weights}",
        target_speedup=args.speedup, strategy=args.strategy, max_length=args.max_length, about=about,
        progress=lambda stage, done, total: progress(stage, done, total, {}),
    )  # fmt: skip
    print(lenses.report(lens, spec, min_count=args.min_count))
    print(f"{'cached' if cached else 'computed'}: {folder}")
    if args.out:
        print(f"wrote {lenses.save_lens(lens, spec, args.out, tokens=not args.no_tokens)}")
    return 0


def _speedups(text: str) -> list[float]:
    try:
        return [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"speedups must be numbers separated by commas; got {text!r}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="accviz", description="Latency-adjustable BERT by ACC word-vector elimination."
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    sub = parser.add_subparsers(dest="command", required=True)

    app = sub.add_parser("app", help="start the Streamlit app")
    app.add_argument(
        "--host", default="127.0.0.1", help="bind address (default 127.0.0.1; 0.0.0.0 exposes it)"
    )
    app.add_argument("--port", type=int, default=8501)
    app.add_argument("--model", default=None, help="model to open with (default: the prepared default)")
    app.add_argument("--headless", action="store_true", help="don't open a browser")
    app.set_defaults(func=cmd_app)

    sub.add_parser("prepare", help="build the default model now").set_defaults(func=cmd_prepare)
    sub.add_parser("models", help="list cached fine-tuned checkpoints").set_defaults(func=cmd_models)

    loading = argparse.ArgumentParser(add_help=False)  # every verb that loads a model takes these
    loading.add_argument(
        "--allow-pickle", action="store_true", help="allow pickle (.bin) weights: they can run arbitrary code"
    )
    inference = argparse.ArgumentParser(add_help=False)  # the verbs that run a model take these too
    inference.add_argument(
        "--int8",
        nargs="?",
        const="per-channel",
        default=None,
        choices=SCHEMES,
        help="int8 weights in the linear layers (dynamic quantization; default scheme per-channel)",
    )
    inference.add_argument(
        "--int8-keep-fp32",
        default=None,
        metavar="NAMES",
        help="comma-separated module-name prefixes or globs kept in fp32, e.g. *.attention.self.query (the pooler and classifier always are)",
    )
    common = argparse.ArgumentParser(add_help=False, parents=[loading])
    common.add_argument("--task", default="rotten_tomatoes")
    common.add_argument("--glue-dir", default=None, help="GLUE TSV folder (or set ACCVIZ_GLUE_DIR)")
    common.add_argument("--max-length", type=int, default=128)
    common.add_argument("--batch-size", type=int, default=64)
    common.add_argument(
        "--family",
        default=DEFAULT_FAMILY,
        choices=(*FAMILIES, "searched"),
        help="elimination profile family; 'searched' (sweep only): the profiles from accviz search-profile",
    )

    finetune = sub.add_parser("finetune", parents=[common], help="fine-tune with elimination active")
    finetune.add_argument(
        "--model", default="default", help="base checkpoint: local dir or hub id (default MiniLM-L6)"
    )
    finetune.add_argument("--train-speedup", default="random:1-4", help="a number or random:LO-HI")
    finetune.add_argument("--strategy", default="acc")
    finetune.add_argument(
        "--no-distill", action="store_true", help="no in-place distillation from the full model"
    )
    finetune.add_argument("--epochs", type=float, default=1.0)
    finetune.add_argument("--max-train-examples", type=int, default=None)
    finetune.add_argument("--lr", type=float, default=5e-5)
    finetune.add_argument("--seed", type=int, default=0)
    finetune.add_argument("--time-budget", type=float, default=None, help="seconds; stop early past it")
    finetune.add_argument("--eval-examples", type=int, default=None)
    finetune.add_argument("--name", default=None, help="checkpoint name in the cache")
    finetune.add_argument(
        "--rebuild", action="store_true", help="discard a finished or paused run and start afresh"
    )
    finetune.add_argument(
        "--teacher",
        default=None,
        help="a fine-tuned checkpoint of the same task that teaches the pruned pass",
    )
    finetune.add_argument(
        "--teacher-hidden-weight", type=float, default=0.0, help="weight of the MSE on the last [CLS] vector"
    )
    finetune.add_argument("--layers", type=int, default=None, help="keep only the first N encoder layers")
    finetune.add_argument(
        "--resumable",
        action="store_true",
        help="save resumable state every --checkpoint-every steps; a --time-budget stop publishes nothing",
    )
    finetune.add_argument("--resume", action="store_true", help="continue a paused --resumable run")
    finetune.add_argument("--checkpoint-every", type=int, default=200)
    finetune.set_defaults(func=cmd_finetune, max_length=64, batch_size=32)

    evaluate = sub.add_parser(
        "eval", parents=[common, inference], help="evaluate at any speedup (offline-tuning)"
    )
    evaluate.add_argument("--model", default="default")
    evaluate.add_argument("--speedup", type=float, nargs="+", default=[1.0, 2.0])
    evaluate.add_argument("--strategy", default="acc")
    evaluate.add_argument("--split", default="dev")
    evaluate.add_argument("--max-examples", type=int, default=None)
    evaluate.add_argument("--no-latency", action="store_true")
    evaluate.set_defaults(func=cmd_eval)

    sweep = sub.add_parser(
        "sweep", parents=[common, inference], help="accuracy vs speedup for every strategy"
    )
    sweep.add_argument("--model", default="default")
    sweep.add_argument("--split", default="dev")
    sweep.add_argument("--speedups", type=_speedups, default=[1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0])
    sweep.add_argument(
        "--strategies",
        type=lambda s: [x.strip() for x in s.split(",")],
        default=list(STRATEGY_ORDER),
    )
    sweep.add_argument("--max-examples", type=int, default=None)
    sweep.add_argument("--name", default=None, help="model name used for the output folder")
    sweep.add_argument("--out", default=str(REPO_ROOT / "cached_runs"))
    sweep.set_defaults(func=cmd_sweep)

    corpus = sub.add_parser(
        "corpus", parents=[common, inference], help="what a strategy keeps and drops across a data set"
    )
    corpus.add_argument("--model", default="default")
    corpus.add_argument("--speedup", type=float, default=2.0)
    corpus.add_argument("--strategy", default="acc")
    corpus.add_argument("--split", default="dev")
    corpus.add_argument("--max-examples", type=int, default=None)
    corpus.add_argument(
        "--input", default=None, help="your own CSV/TSV (text[, text_b][, label]) or text file"
    )
    corpus.add_argument("--max-rows", type=int, default=20_000, help="cap on --input rows")
    corpus.add_argument("--min-count", type=int, default=5, help="word types seen fewer times are left out")
    corpus.add_argument("--out", default=None, help="also write the tables, summary and card here")
    corpus.add_argument("--no-tokens", action="store_true", help="with --out: leave out the per-token table")
    corpus.set_defaults(func=cmd_corpus)

    search = sub.add_parser(
        "search-profile", parents=[common], help="search per-layer keep ratios per task (on train, never dev)"
    )
    search.add_argument("--model", default="default")
    search.add_argument("--speedups", type=_speedups, default=[2.0, 3.0, 4.0])
    search.add_argument("--strategy", default="acc")
    search.add_argument("--examples", type=int, default=600, help="held-out train examples to score on")
    search.add_argument("--rounds", type=int, default=2)
    search.add_argument("--out", default=str(REPO_ROOT / "cached_runs"))
    search.set_defaults(func=cmd_search_profile)

    demo = sub.add_parser(
        "demo", parents=[loading, inference], help="show which word-vectors each layer keeps for one text"
    )
    demo.add_argument("text")
    demo.add_argument("text_pair", nargs="?", default=None)
    demo.add_argument("--model", default="default")
    demo.add_argument("--speedup", type=float, default=2.0)
    demo.add_argument("--strategy", default="acc")
    demo.set_defaults(func=cmd_demo)

    bench = sub.add_parser("bench", help="benchmarks (same as python -m accviz.bench)")
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _set_threads(args.threads)
    try:
        return args.func(args)
    except TrainingPaused as paused:
        print(f"paused: {paused}", file=sys.stderr)
        return EXIT_PAUSED
    except AccvizError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: nothing half-written was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
