"""A recipe chosen per task on a held-out slice of the train split (never dev).

    python -m accviz.bench choice   ->  cached_runs/bench/held_out_choice.csv (+ .json)

Which recipes compete is data, not code: ``cached_runs/choices.json`` lists, per choice, the
candidate recipes (the first is the default) and, per task, each candidate's searched runs: models
fine-tuned on the train split less a slice and searched on that slice (``accviz search-profile``
stores the metric the search reached per target speedup in ``<model>-searched__<task>``). Then

    score(task, recipe) = mean over seeds ( mean over targets ( metric on the slice at the target ) )
    chosen(task)        = the recipe with the highest score (a tie keeps the earlier one)

A search whose slice the model was trained on is refused: its score would say nothing about
examples the model has not seen; so are a task's runs scored on slices of different sizes (their
metrics would not be comparable) or of a size the card does not give (``search_examples``, or the
count its slice note starts with). Equal sizes are checked, not equal examples. What a choice selects is named by ``apply``: per recipe, a suite
of ``suites.json``'s comparison ``comparison`` (the full-train models of that recipe, swept on dev);
``chosen_suite`` returns the suite the choice makes of them, task by task, which ``suites.json``
holds under the choice's ``suite`` name (tests check that the two agree).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from accviz.errors import AccvizError
from accviz.method.search import HELD_OUT_SLICE, read_searched
from accviz.results import bench_card, sweep_dir, write_table

CHOICES_FILE = "choices.json"


def read_choices(cached_runs: Path) -> list[dict]:
    path = Path(cached_runs) / CHOICES_FILE
    try:
        choices = json.loads(path.read_text())["choices"]
        if not isinstance(choices, list) or not choices:
            raise ValueError("'choices' must be a non-empty list")
        for choice in choices:
            for key in ("name", "targets", "candidates", "searches", "apply", "comparison", "suite"):
                choice[key]  # noqa: B018 - every key is required
            if not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in choice["targets"]):
                raise ValueError(f"{choice['name']!r}: targets must be numbers, not {choice['targets']}")
            if (
                not isinstance(choice["apply"], dict)
                or not isinstance(choice["searches"], dict)
                or not all(isinstance(runs, dict) for runs in choice["searches"].values())
            ):
                raise ValueError(f"{choice['name']!r}: 'searches' and 'apply' must be objects")
            missing = [c for c in choice["candidates"] if c not in choice["apply"]]
            if missing or len(choice["candidates"]) < 2:
                raise ValueError(
                    f"{choice['name']!r}: needs >= 2 candidates, each in 'apply' (missing {missing})"
                )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise AccvizError(f"{path} cannot be read as a choice spec: {error}") from None
    return choices


def slice_examples(card: dict) -> int | None:
    """How many examples a search card's slice held: its ``search_examples``, else the count its
    ``search_slice`` note starts with (cards written before the field); None if neither says."""
    if isinstance(card.get("search_examples"), int):
        return card["search_examples"]
    found = re.match(r"\s*(\d+) ", str(card.get("search_slice") or ""))
    return int(found.group(1)) if found else None


def slice_metrics(cached_runs: Path, model: str, task: str, targets) -> tuple[list[float], int | None]:
    """The search's metric on its slice at each target, and the slice's size; AccvizError if absent
    or not held out."""
    searched = read_searched(sweep_dir(cached_runs, model + "-searched", task))
    where = searched.card.get("search_slice") or ""
    if HELD_OUT_SLICE not in str(where):
        raise AccvizError(
            f"{model} was searched on {where or 'an unnamed slice'}: a choice needs a slice the model was "
            f"not trained on (fine-tune with --max-train-examples below the train split's size)."
        )
    reached = {float(d["target"]): float(d["metric"]) for d in searched.card.get("details", [])}
    absent = [t for t in targets if float(t) not in reached]
    if absent:
        raise AccvizError(f"{model} was not searched at {absent}x (searched: {sorted(reached)}).")
    metrics = [reached[float(t)] for t in targets]
    if not all(math.isfinite(m) for m in metrics):
        raise AccvizError(
            f"{model}'s search reached a non-finite metric ({metrics}): rerun accviz search-profile."
        )
    return metrics, slice_examples(searched.card)


def choice_table(cached_runs: Path) -> pd.DataFrame:
    """One row per (choice, task, candidate): its score on the held-out slices and whether it won."""
    rows = []
    for choice in read_choices(cached_runs):
        targets = choice["targets"]
        for task, by_candidate in choice["searches"].items():
            seeds = {len(by_candidate.get(c, [])) for c in choice["candidates"]}
            if len(seeds) != 1 or 0 in seeds:
                raise AccvizError(
                    f"{choice['name']!r}, {task}: every candidate needs the same number (> 0) of runs."
                )
            scored, sizes = [], {}
            for candidate in choice["candidates"]:
                runs = [slice_metrics(cached_runs, m, task, targets) for m in by_candidate[candidate]]
                sizes.update({m: size for m, (_, size) in zip(by_candidate[candidate], runs, strict=True)})
                scored.append((candidate, np.array([metrics for metrics, _ in runs])))  # (seeds, targets)
            unknown = sorted(m for m, size in sizes.items() if size is None)
            if unknown:
                raise AccvizError(
                    f"{choice['name']!r}, {task}: {unknown} do not say how many examples their slice held; "
                    "search them again (accviz search-profile stores it)."
                )
            if len(set(sizes.values())) != 1:
                raise AccvizError(
                    f"{choice['name']!r}, {task}: the runs were searched on slices of different sizes "
                    f"({sizes}); search them all with the same --examples."
                )
            winner = max(range(len(scored)), key=lambda i: (scored[i][1].mean(), -i))
            for i, (candidate, per_seed) in enumerate(scored):
                rows.append({
                    "choice": choice["name"], "task": task, "candidate": candidate, "seeds": len(per_seed),
                    "score": float(per_seed.mean()), "spread": float(np.ptp(per_seed.mean(axis=1))),
                    **{f"score_{t:g}x": float(v) for t, v in zip(targets, per_seed.mean(axis=0), strict=True)},
                    "chosen": i == winner, "applies": choice["apply"][candidate],
                    "models": " ".join(by_candidate[candidate]),
                })  # fmt: skip
    return pd.DataFrame(rows)


def chosen_suite(table: pd.DataFrame, choice: dict, comparisons) -> dict[str, tuple[str, ...]]:
    """{task: models} the choice selects: each task's models from its winner's suite in ``comparisons``."""
    found = [c for c in comparisons if c.name == choice["comparison"]]
    if not found:
        raise AccvizError(f"suites.json has no comparison {choice['comparison']!r} for {choice['name']!r}.")
    winners = table[(table["choice"] == choice["name"]) & table["chosen"]]
    suite = {}
    for row in winners.itertuples():
        models = found[0].suites.get(row.applies, {}).get(row.task)
        if not models:
            raise AccvizError(
                f"suites.json's {choice['comparison']!r} has no {row.applies!r} models for {row.task}."
            )
        suite[row.task] = tuple(models)
    return suite


def run_choice(cached_runs: Path, out_dir: Path, *, command: str, smoke: bool, note: str = "", log=print):
    table = choice_table(Path(cached_runs))
    card = bench_card("choice", command, smoke, {"spec": str(Path(cached_runs) / CHOICES_FILE)}, note)
    write_table(out_dir, "held_out_choice", table, card)
    for row in table.itertuples():
        mark = "chosen" if row.chosen else ""
        log(
            f"{row.task:6} {row.candidate:12} {row.score:6.2f} (seeds {row.seeds}, spread {row.spread:.2f}) {mark}"
        )
    return table
