"""The ``accviz`` command line: a thin layer over the engine, one module per group of verbs.

accviz app                       start the Streamlit app (127.0.0.1 unless --host says otherwise)
accviz prepare                   build the default model (MiniLM fine-tuned on the default task)
accviz finetune --task sst2 ...  fine-tune with elimination active
accviz eval --task sst2 --model M --speedup 2.0      offline-tuning: any speedup, no retraining
accviz sweep --task sst2 --model M                   the accuracy-vs-speedup grid -> cached_runs/
accviz search-profile --task sst2 --model M --speedups 2,3,4   a profile searched per task (on train)
accviz corpus --task sst2 --speedup 2                what a strategy keeps across a data set
accviz demo "some text"          which word-vectors each layer keeps
accviz bench speedup|fidelity|accuracy               benchmarks (python -m accviz.bench)
accviz models                    cached fine-tuned checkpoints

This module holds the parser and the flags the verbs share. Each verb names its handler as
"module:function" in ``accviz.cli.show`` / ``train`` / ``measure``, imported only when that verb
runs: those modules pull in torch, transformers and accelerate (seconds), and ``accviz --help`` or
a mistyped flag should answer at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from accviz.errors import AccvizError, TrainingPaused
from accviz.method.profile import DEFAULT_FAMILY, FAMILIES
from accviz.method.quantize import SCHEMES
from accviz.method.scoring import CHOICES, STRATEGY_ORDER

REPO_ROOT = Path(__file__).resolve().parents[2]
STRATEGY_HELP = f"token-scoring strategy: {', '.join(CHOICES)} (default %(default)s)"
EXIT_PAUSED = 3  # a --resumable fine-tune stopped at its --time-budget: run it again with --resume
APP_SCRIPT = REPO_ROOT / "app" / "streamlit_app.py"


def speedup_list(text: str) -> list[float]:
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

    loading = argparse.ArgumentParser(add_help=False)  # every verb that loads a model takes these
    loading.add_argument(
        "--allow-pickle", action="store_true", help="allow pickle (.bin) weights: they can run arbitrary code"
    )

    app = sub.add_parser("app", parents=[loading], help="start the Streamlit app")
    app.add_argument(
        "--host", default="127.0.0.1", help="bind address (default 127.0.0.1; 0.0.0.0 exposes it)"
    )
    app.add_argument("--port", type=int, default=8501)
    app.add_argument("--model", default=None, help="model to open with (default: the prepared default)")
    app.add_argument("--headless", action="store_true", help="don't open a browser")
    app.set_defaults(func="show:cmd_app")

    sub.add_parser("prepare", parents=[loading], help="build the default model now").set_defaults(
        func="show:cmd_prepare"
    )
    sub.add_parser("models", help="list cached fine-tuned checkpoints").set_defaults(func="show:cmd_models")

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
        help="elimination profile family; 'searched': the model's profiles from accviz search-profile "
        "(finetune: the base checkpoint's, trained at)",
    )

    finetune = sub.add_parser("finetune", parents=[common], help="fine-tune with elimination active")
    finetune.add_argument(
        "--model", default="default", help="base checkpoint: local dir or hub id (default MiniLM-L6)"
    )
    finetune.add_argument("--train-speedup", default="random:1-4", help="a number or random:LO-HI")
    finetune.add_argument("--strategy", default="acc", help=STRATEGY_HELP)
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
    finetune.set_defaults(func="train:cmd_finetune", max_length=64, batch_size=32)

    evaluate = sub.add_parser(
        "eval", parents=[common, inference], help="evaluate at any speedup (offline-tuning)"
    )
    evaluate.add_argument("--model", default="default")
    evaluate.add_argument("--speedup", type=float, nargs="+", default=[1.0, 2.0])
    evaluate.add_argument("--strategy", default="acc", help=STRATEGY_HELP)
    evaluate.add_argument("--split", default="dev")
    evaluate.add_argument("--max-examples", type=int, default=None)
    evaluate.add_argument("--no-latency", action="store_true")
    evaluate.set_defaults(func="measure:cmd_eval")

    sweep = sub.add_parser(
        "sweep", parents=[common, inference], help="accuracy vs speedup for every strategy"
    )
    sweep.add_argument("--model", default="default")
    sweep.add_argument("--split", default="dev")
    sweep.add_argument(
        "--speedups", type=speedup_list, default=[1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0]
    )
    sweep.add_argument(
        "--strategies",
        type=lambda s: [x.strip() for x in s.split(",")],
        default=list(STRATEGY_ORDER),
        help=f"comma-separated, from: {', '.join(CHOICES)} (default: every registered strategy)",
    )
    sweep.add_argument("--max-examples", type=int, default=None)
    sweep.add_argument("--name", default=None, help="model name used for the output folder")
    sweep.add_argument("--out", default=str(REPO_ROOT / "cached_runs"))
    sweep.set_defaults(func="measure:cmd_sweep")

    corpus = sub.add_parser(
        "corpus", parents=[common, inference], help="what a strategy keeps and drops across a data set"
    )
    corpus.add_argument("--model", default="default")
    corpus.add_argument("--speedup", type=float, default=2.0)
    corpus.add_argument("--strategy", default="acc", help=STRATEGY_HELP)
    corpus.add_argument("--split", default="dev")
    corpus.add_argument("--max-examples", type=int, default=None)
    corpus.add_argument(
        "--input", default=None, help="your own CSV/TSV (text[, text_b][, label]) or text file"
    )
    corpus.add_argument("--max-rows", type=int, default=20_000, help="cap on --input rows")
    corpus.add_argument("--min-count", type=int, default=5, help="word types seen fewer times are left out")
    corpus.add_argument("--out", default=None, help="also write the tables, summary and card here")
    corpus.add_argument("--no-tokens", action="store_true", help="with --out: leave out the per-token table")
    corpus.set_defaults(func="measure:cmd_corpus")

    search = sub.add_parser(
        "search-profile", parents=[common], help="search per-layer keep ratios per task (on train, never dev)"
    )
    search.add_argument("--model", default="default")
    search.add_argument("--speedups", type=speedup_list, default=[2.0, 3.0, 4.0])
    search.add_argument("--strategy", default="acc", help=STRATEGY_HELP)
    search.add_argument("--examples", type=int, default=600, help="held-out train examples to score on")
    search.add_argument("--rounds", type=int, default=2)
    search.add_argument("--out", default=str(REPO_ROOT / "cached_runs"))
    search.add_argument(
        "--name", default=None,
        help="the folder under --out for the profiles' copy (default MODEL-searched; a sweep's --name to match); "
        "the checkpoint's own profiles, which --family searched reads, are replaced either way",
    )  # fmt: skip
    search.set_defaults(func="train:cmd_search_profile")

    demo = sub.add_parser(
        "demo", parents=[loading, inference], help="show which word-vectors each layer keeps for one text"
    )
    demo.add_argument("text")
    demo.add_argument("text_pair", nargs="?", default=None)
    demo.add_argument("--model", default="default")
    demo.add_argument("--speedup", type=float, default=2.0)
    demo.add_argument("--strategy", default="acc", help=STRATEGY_HELP)
    demo.set_defaults(func="show:cmd_demo")

    bench = sub.add_parser("bench", help="benchmarks (same as python -m accviz.bench)")
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(func="measure:cmd_bench")
    return parser


def _handler(reference: str, threads: int | None):
    """The verb's handler from its "module:function" name, with torch's threads set first."""
    module_name, function = reference.split(":")
    importlib.import_module("accviz.cli.common").set_threads(threads)
    return getattr(importlib.import_module(f"accviz.cli.{module_name}"), function)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _handler(args.func, args.threads)(args)
    except TrainingPaused as paused:
        print(f"paused: {paused}", file=sys.stderr)
        return EXIT_PAUSED
    except AccvizError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: nothing half-written was kept", file=sys.stderr)
        return 130
