"""The corpus lens: what a strategy keeps and eliminates across a whole data set.

``run_lens`` runs a corpus (``accviz.data.corpus``) through the unpruned model and the pruned one at
one target speedup (the profile solved on the corpus's real lengths; every layer's scores kept,
``exact_last_layer=False`` as in ``accviz.explain.analysis``, same logits) and returns a ``Lens``:

    tokens     one row per example x token x layer l (1-based): example, position,
               relative_position = position / (T - 1), token, word, category (``accviz.data.words``),
               entered (the word-vector entered layer l), score (NaN when it had not), rank
               (1 = best in the layer, -1), kept (entered and survived layer l), left_at (the layer
               after which it was eliminated; 0 = never)
    examples   one row per example: the text(s), length, gold, both predictions, flipped, effect
    agreement  per layer and pair of strategies, the mean Jaccard overlap J = |A ∩ B| / |A ∪ B| of
               the word-vectors each strategy's score would keep ([CLS] left out: all keep it),
               chosen from the same word-vectors entering the layer (the lens strategy's run), so
               a layer's number is its own disagreement, not one compounded from earlier layers
    card       model, task, source, speedup, strategy, profile, n, versions, date

The summaries below (survival by category, position and word frequency; word types; metric by
length; flips) are functions of these tables, shared by the CLI, the app and the tests.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from accviz.data.batching import encode_split, length_sorted_batches, pad_batch
from accviz.data.tasks import TaskSpec, compute_metrics, predictions_from_logits
from accviz.data.words import CATEGORIES, token_categories, word_types
from accviz.errors import CacheError
from accviz.explain.analysis import REGRESSION_AGREEMENT, per_token_tables
from accviz.machine import provenance
from accviz.method.pruned import PrunedBert, select_kept
from accviz.method.scoring import ACC, REGISTRY, ChosenStrategy, TokenScorer, checked, choose_strategy
from accviz.method.speedup import solve_profile
from accviz.store.cache import cache_dir, publish_directory, read_card, staging_directory, write_card

COMPARED = tuple(  # the scores the agreement compares: every registered one that reads attention
    choose_strategy(name) for name, entry in REGISTRY.items() if entry.needs_attention
)
LENGTH_EDGES = (16, 32, 64, 128, 256, 512)  # metric-by-length buckets: <= 16, 17-32, ...
FREQUENCY_BUCKETS = ((1, 1, "1"), (2, 4, "2-4"), (5, 19, "5-19"), (20, 99, "20-99"), (100, None, "100+"))
ProgressFn = Callable[[str, int, int], None]


@dataclass
class Lens:
    tokens: pd.DataFrame
    examples: pd.DataFrame
    agreement: pd.DataFrame
    card: dict = field(default_factory=dict)

    @property
    def num_layers(self) -> int:
        return int(self.tokens.layer.max())


class _RecordingScorer(TokenScorer):
    """Scores with ``main``; records what each of ``others`` scores on the very same input."""

    needs_attention = True  # the others read the attention map, even when ``main`` does not

    def __init__(self, main: TokenScorer, others: dict[str, TokenScorer]):
        self.main, self.others, self.name = main, others, main.name
        self.calls: list[dict[str, torch.Tensor]] = []  # one per scorer call: name -> (b, n + fused)

    def score(self, attn_probs, values, query_mask):
        main = self.main.score(attn_probs, values, query_mask)
        call = {name: s.score(attn_probs, values, query_mask) for name, s in self.others.items()}
        self.calls.append({self.main.name: main, **call})
        return main


def _calls_per_layer(calls: list[dict], traces, batch_size: int) -> dict[int, dict[str, torch.Tensor]]:
    """The recorded calls of one batch, regrouped: layer -> name -> (B, n_l). A large map is
    scored a few sequences at a time (``pruned._chunked_scores``), so one layer may be several calls."""
    grouped, pending, rows = {}, [], 0
    scored_layers = iter(i for i, trace in enumerate(traces) if trace.scores is not None)
    for call in calls:
        pending.append(call)
        rows += next(iter(call.values())).shape[0]
        if rows == batch_size:
            layer = next(scored_layers)
            n = traces[layer].mask.shape[1]
            grouped[layer] = {name: torch.cat([c[name] for c in pending])[:, :n] for name in pending[0]}
            pending, rows = [], 0
    return grouped


def _membership(scores: torch.Tensor, mask: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """(B, n) bool: the slots ``select_kept`` keeps under these scores, [CLS] (slot 0) left out."""
    kept_idx, kept_mask = select_kept(scores, mask, keep)
    member = torch.zeros_like(mask).scatter(1, kept_idx, kept_mask)
    member[:, 0] = False
    return member


def kept_overlap(scores_a: torch.Tensor, scores_b: torch.Tensor, mask: torch.Tensor, keep: torch.Tensor):
    """Jaccard J = |A ∩ B| / |A ∪ B| of the slots two scores keep, per sequence, [CLS] left out.

    scores (B, n), mask (B, n), keep (B,) -> (B,) float; NaN where the layer keeps every
    word-vector (nothing to compare) or keeps only [CLS].
    """
    a, b = _membership(scores_a, mask, keep), _membership(scores_b, mask, keep)
    union = (a | b).sum(dim=1)
    valid = (keep < mask.sum(dim=1)) & (union > 0)
    jaccard = (a & b).sum(dim=1).double() / union.clamp_min(1)
    return torch.where(valid, jaccard, torch.full_like(jaccard, float("nan")))


def run_lens(
    model,
    tokenizer,
    corpus,
    spec: TaskSpec,
    *,
    target_speedup: float,
    strategy: ChosenStrategy = ACC,
    compare: tuple[ChosenStrategy, ...] = COMPARED,
    max_length: int = 128,
    batch_size: int = 64,
    progress: ProgressFn | None = None,
) -> Lens:
    """The corpus through the unpruned and the pruned model; tables as in the module docstring."""
    started = time.perf_counter()
    strategy = checked(strategy)
    base = strategy.entry.name  # "acc+fuse" ranks as "acc"; the profile fuses
    names = list(dict.fromkeys([base, *(peer.entry.name for peer in compare)]))
    peers = {peer.entry.name: peer.new_scorer() for peer in compare if peer.entry.name != base}
    recorder = _RecordingScorer(strategy.new_scorer(), peers)
    labels = corpus.labels if corpus.labels is not None else [0] * len(corpus)
    encoded = encode_split(tokenizer, corpus.texts_a, corpus.texts_b, labels, max_length=max_length)
    lengths = encoded.lengths
    solved = solve_profile(model.config, lengths, target_speedup, fuse=strategy.fuse, warn=False)
    pruned = PrunedBert(model)
    pad_id = tokenizer.pad_token_id or 0
    L = model.config.num_hidden_layers
    per_example: list[dict | None] = [None] * len(lengths)
    unpruned_logits: list = [None] * len(lengths)
    pruned_logits: list = [None] * len(lengths)
    overlap_sum = np.zeros((L, len(names), len(names)))
    overlap_n = np.zeros((L, len(names), len(names)))
    batches = length_sorted_batches(lengths, batch_size)
    model.eval()
    with torch.inference_mode():
        for number, indices in enumerate(batches):
            batch = pad_batch(encoded, indices, pad_id=pad_id)
            inputs = (batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
            plain = model(input_ids=inputs[0], attention_mask=inputs[1], token_type_ids=inputs[2]).logits
            recorder.calls = []
            out = pruned(
                *inputs, profile=solved.profile, scorer=recorder, exact_last_layer=False, output_scores=True
            )
            for row, index in enumerate(indices):
                unpruned_logits[index], pruned_logits[index] = plain[row], out.logits[row]
                scores, rank, left_at, _, _, layer_positions = per_token_tables(
                    out.traces, lengths[index], row
                )
                per_example[index] = {
                    "scores": scores,
                    "rank": rank,
                    "left_at": left_at,
                    "entered": layer_positions,
                }
            for layer, by_name in _calls_per_layer(recorder.calls, out.traces, len(indices)).items():
                trace = out.traces[layer]
                keep = trace.kept_mask.sum(dim=1)  # (B,) k_l
                for i, j in itertools.combinations(range(len(names)), 2):
                    jaccard = kept_overlap(by_name[names[i]], by_name[names[j]], trace.mask, keep)
                    valid = ~torch.isnan(jaccard)
                    overlap_sum[layer, i, j] += float(jaccard[valid].sum())
                    overlap_n[layer, i, j] += int(valid.sum())
            if progress is not None:
                progress("lens", number + 1, len(batches))

    examples = _examples_table(
        corpus, encoded, spec, torch.stack(unpruned_logits), torch.stack(pruned_logits)
    )
    tokens = _tokens_table(tokenizer, encoded, per_example, L)
    agreement = pd.DataFrame(
        [
            {
                "layer": layer + 1,
                "pair": f"{names[i]} vs {names[j]}",
                "jaccard": overlap_sum[layer, i, j] / n,
                "n": int(n),
            }  # fmt: skip
            for layer in range(L)
            for i, j in itertools.combinations(range(len(names)), 2)
            if (n := overlap_n[layer, i, j]) > 0
        ],
        columns=["layer", "pair", "jaccard", "n"],
    )
    card = {
        "task": spec.name,
        "source": corpus.source,
        "fingerprint": corpus.fingerprint,
        "target_speedup": float(target_speedup),
        "estimated_speedup": float(solved.estimated_speedup),
        "strategy": strategy.name,
        "compared": names,
        "profile": solved.profile.as_dict() if solved.profile is not None else None,
        "n_examples": len(corpus),
        "max_length": max_length,
        "truncated_examples": encoded.truncated,
        "seconds": time.perf_counter() - started,
    }
    return Lens(tokens=tokens, examples=examples, agreement=agreement, card=card)


def _tokens_table(tokenizer, encoded, per_example: list[dict], L: int) -> pd.DataFrame:
    columns: dict[str, list] = {k: [] for k in ("example", "position", "token", "word", "category", "layer")}
    numeric: dict[str, list] = {
        k: [] for k in ("relative_position", "entered", "score", "rank", "kept", "left_at")
    }
    for index, found in enumerate(per_example):
        tokens = tokenizer.convert_ids_to_tokens(list(encoded.input_ids[index]))
        T = len(tokens)
        words = word_types(tokens)
        entered = np.zeros((L, T), dtype=bool)
        for layer, positions in enumerate(found["entered"]):
            entered[layer, positions] = True
        left_at = found["left_at"]  # (T,)
        layer_ids = np.repeat(np.arange(1, L + 1), T)  # (L*T,) layer-major
        columns["example"].append(np.full(L * T, index))
        columns["position"].append(np.tile(np.arange(T), L))
        columns["token"].append(np.tile(np.array(tokens, dtype=object), L))
        columns["word"].append(np.tile(np.array(words, dtype=object), L))
        columns["category"].append(np.tile(np.array(token_categories(tokens, words), dtype=object), L))
        columns["layer"].append(layer_ids)
        numeric["relative_position"].append(np.tile(np.arange(T) / max(T - 1, 1), L))
        numeric["entered"].append(entered.ravel())
        numeric["score"].append(found["scores"].ravel())
        numeric["rank"].append(found["rank"].ravel())
        numeric["kept"].append((entered & (left_at[None, :] != np.arange(1, L + 1)[:, None])).ravel())
        numeric["left_at"].append(np.tile(left_at, L))
    table = {k: np.concatenate(v) for k, v in {**columns, **numeric}.items()}
    frame = pd.DataFrame(table)
    for name in ("token", "word"):
        frame[name] = frame[name].astype("category")
    frame["category"] = pd.Categorical(frame["category"], categories=CATEGORIES)
    return frame[
        ["example", "layer", "position", "relative_position", "token", "word", "category", "entered", "score",
         "rank", "kept", "left_at"]
    ]  # fmt: skip


def _examples_table(corpus, encoded, spec: TaskSpec, unpruned_logits, pruned_logits) -> pd.DataFrame:
    unpruned = predictions_from_logits(spec, unpruned_logits)
    pruned = predictions_from_logits(spec, pruned_logits)
    frame = pd.DataFrame(
        {
            "example": np.arange(len(corpus)),
            "text": list(corpus.texts_a),
            "text_b": list(corpus.texts_b) if corpus.texts_b is not None else [None] * len(corpus),
            "length": encoded.lengths,
            "gold": list(corpus.labels) if corpus.labels is not None else [np.nan] * len(corpus),
            "unpruned": unpruned,
            "pruned": pruned,
        }
    )
    if spec.is_regression:
        frame["flipped"] = (frame.pruned - frame.unpruned).abs() >= REGRESSION_AGREEMENT
        pruned_error, unpruned_error = (frame.pruned - frame.gold).abs(), (frame.unpruned - frame.gold).abs()
        effect = np.where(
            pruned_error < unpruned_error,
            "fixed",
            np.where(pruned_error > unpruned_error, "broke", "neither"),
        )
    else:
        frame["flipped"] = frame.pruned != frame.unpruned
        effect = np.where(
            frame.pruned == frame.gold, "fixed", np.where(frame.unpruned == frame.gold, "broke", "neither")
        )
        names = list(spec.label_names)
        frame["unpruned_label"] = [names[int(p)] if int(p) < len(names) else str(p) for p in unpruned]
        frame["pruned_label"] = [names[int(p)] if int(p) < len(names) else str(p) for p in pruned]
    has_gold = corpus.labels is not None
    frame["effect"] = np.where(frame.flipped & has_gold, effect, np.where(frame.flipped, "no gold label", ""))
    return frame


# --- summaries ------------------------------------------------------------------------------


def survival_by_category(tokens: pd.DataFrame) -> pd.DataFrame:
    """layer x category: the share of a category's word-vectors still kept after layer l."""
    table = tokens.groupby(["layer", "category"], observed=True).kept.mean().unstack()
    return table[[c for c in CATEGORIES if c in table.columns]]


def survival_by_position(tokens: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """layer x relative-position decile (special tokens left out: [CLS] and [SEP] sit at the ends)."""
    words = tokens[tokens.category != "special"]
    decile = np.minimum((words.relative_position * bins).astype(int), bins - 1)
    return words.groupby([words.layer, decile.rename("decile")]).kept.mean().unstack()


def word_frequencies(tokens: pd.DataFrame) -> pd.Series:
    """How often each word type occurs in the corpus (one count per word-piece, specials left out)."""
    first = tokens[(tokens.layer == 1) & (tokens.category != "special")]
    return first.word.value_counts()


def survival_by_frequency(tokens: pd.DataFrame) -> pd.DataFrame:
    """layer x corpus-frequency bucket of the word ("1", "2-4", ..., "100+")."""
    counts = word_frequencies(tokens)
    words = tokens[tokens.category != "special"]
    count = words.word.map(counts).astype(int)
    bucket = pd.Series("", index=words.index)
    for low, high, label in FREQUENCY_BUCKETS:
        bucket[(count >= low) & ((count <= high) if high is not None else True)] = label
    order = [label for _, _, label in FREQUENCY_BUCKETS]
    table = words.groupby([words.layer, bucket.rename("frequency")]).kept.mean().unstack()
    return table[[c for c in order if c in table.columns]]


def word_type_table(tokens: pd.DataFrame, min_count: int = 5) -> pd.DataFrame:
    """Per word type seen at least ``min_count`` times: count, the share of its word-vectors that
    reach the last layer, the share eliminated in the first layer that eliminates anything, and
    the mean layer it left after (never eliminated counts as L + 1)."""
    L = int(tokens.layer.max())
    last = tokens[(tokens.layer == L) & (tokens.category != "special")]
    left = last.left_at.where(last.left_at > 0, L + 1)
    first_layer = int(last.left_at[last.left_at > 0].min()) if (last.left_at > 0).any() else L + 1
    frame = pd.DataFrame(
        {
            "word": last.word.astype(str),
            "reached_last": last.entered,
            "out_first": last.left_at == first_layer,
            "left_after": left,
        }  # fmt: skip
    )
    table = frame.groupby("word").agg(
        count=("reached_last", "size"),
        reached_last_layer=("reached_last", "mean"),
        eliminated_first=("out_first", "mean"),
        mean_layer_left=("left_after", "mean"),
    )
    return table[table["count"] >= min_count].reset_index()


def metric_by_length(examples: pd.DataFrame, spec: TaskSpec, edges=LENGTH_EDGES) -> pd.DataFrame:
    """Per length bucket (tokens): n, the task metric unpruned and pruned (when gold labels exist
    and the bucket has at least 2 examples), and the share of predictions pruning left unchanged."""
    rows, low = [], 0
    for high in edges:
        part = examples[(examples.length > low) & (examples.length <= high)]
        if len(part):
            row = {"bucket": f"{low + 1}-{high}", "n": len(part), "unchanged": float(1 - part.flipped.mean())}
            if part.gold.notna().all() and len(part) >= 2:
                for which in ("unpruned", "pruned"):
                    values = compute_metrics(spec, part[which].tolist(), part.gold.tolist())
                    row[which] = values[spec.primary_metric]
            rows.append(row)
        low = high
    return pd.DataFrame(rows, columns=["bucket", "n", "unpruned", "pruned", "unchanged"])


def flips(examples: pd.DataFrame) -> pd.DataFrame:
    """The examples whose prediction changed under pruning, with both predictions and the gold."""
    return examples[examples.flipped].reset_index(drop=True)


def summary(lens: Lens, spec: TaskSpec, min_count: int = 5) -> dict:
    """Every summary as JSON-ready data (for ``summary.json`` and the app's download)."""

    def records(frame: pd.DataFrame) -> list[dict]:
        named = frame.index.name is not None or not isinstance(frame.index, pd.RangeIndex)
        return json_ready((frame.reset_index() if named else frame).to_dict(orient="records"))

    words = word_type_table(lens.tokens, min_count)
    return {
        "card": lens.card,
        "survival_by_category": records(survival_by_category(lens.tokens)),
        "survival_by_position": records(survival_by_position(lens.tokens)),
        "survival_by_frequency": records(survival_by_frequency(lens.tokens)),
        "most_kept_words": records(
            words.nlargest(20, ["reached_last_layer", "count"]).reset_index(drop=True)
        ),
        "first_eliminated_words": records(
            words.nlargest(20, ["eliminated_first", "count"]).reset_index(drop=True)
        ),
        "metric_by_length": records(metric_by_length(lens.examples, spec)),
        "flips": records(flips(lens.examples)),
        "agreement": records(lens.agreement),
    }


def json_ready(value):
    """numpy scalars and NaN -> plain Python (NaN -> None), recursively."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


# --- storing a lens -------------------------------------------------------------------------

LENS_FILES = ("tokens.csv", "examples.csv", "agreement.csv", "summary.json")


def lens_key(model_fingerprint: str, corpus_fingerprint: str, target_speedup: float, strategy: str,
             max_length: int) -> str:  # fmt: skip
    """The cache key: which model, which data, which speedup and strategy (and the reader's cap)."""
    text = json.dumps(
        [model_fingerprint, corpus_fingerprint, round(float(target_speedup), 4), strategy, max_length]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def save_lens(lens: Lens, spec: TaskSpec, directory: str | Path, *, tokens: bool = True) -> Path:
    """Writes the lens to ``directory`` (CSV tables, summary.json, a checksummed card), all at once:
    into a staging folder renamed into place, so a reader never sees half of it."""

    directory = Path(directory)
    staging = staging_directory(directory)
    try:
        if tokens:
            lens.tokens.to_csv(staging / "tokens.csv", index=False)
        lens.examples.to_csv(staging / "examples.csv", index=False)
        lens.agreement.to_csv(staging / "agreement.csv", index=False)
        (staging / "summary.json").write_text(json.dumps(summary(lens, spec), indent=1) + "\n")
        write_card(staging, {"kind": "corpus-lens", **json_ready(lens.card)})
        return publish_directory(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def load_lens(directory: str | Path) -> Lens:
    """A lens written by ``save_lens``; its card's checksums are verified (CacheError if not)."""

    directory = Path(directory)
    card = read_card(directory, verify=True)
    strings = {"keep_default_na": False}  # a word such as "nan" or "null" stays a word
    tokens = pd.read_csv(
        directory / "tokens.csv", na_values={"score": [""]}, dtype={"token": str, "word": str}, **strings
    )
    for name in ("token", "word"):
        tokens[name] = tokens[name].astype("category")
    tokens["category"] = pd.Categorical(tokens["category"], categories=CATEGORIES)
    examples = pd.read_csv(directory / "examples.csv", na_values={"gold": [""]}, dtype={"text": str, "text_b": str},
                           **strings)  # fmt: skip
    examples["text_b"] = pd.Series(
        [v if isinstance(v, str) and v else None for v in examples.text_b], dtype=object
    )
    examples["effect"] = examples["effect"].astype(str)
    agreement = pd.read_csv(directory / "agreement.csv")
    lens_card = {k: v for k, v in card.items() if k not in ("kind", "files", "accviz_card_version")}
    return Lens(tokens=tokens, examples=examples, agreement=agreement, card=lens_card)


def lens_of(
    model,
    tokenizer,
    corpus,
    spec: TaskSpec,
    *,
    model_fingerprint: str,
    target_speedup: float,
    strategy: ChosenStrategy = ACC,
    max_length: int = 128,
    cache_root: str | Path | None = None,
    about: dict | None = None,
    progress: ProgressFn | None = None,
    store: bool = True,
) -> tuple[Lens, Path, bool]:
    """The lens from the cache (``<ACCVIZ_CACHE>/corpus/<key>``) or computed and stored there.

    ``about`` (model name, command, versions, machine, ...) joins the card of a new lens. Returns
    (lens, its folder, whether it came from the cache). A cached lens that fails its checksums is
    computed again and replaced. ``store=False`` reads the cache but writes nothing (a shared server
    keeps its visitors' lenses in memory only).
    """

    key = lens_key(
        model_fingerprint,
        f"{spec.name}:{corpus.fingerprint}",
        target_speedup,
        checked(strategy).name,
        max_length,
    )
    directory = Path(cache_root) if cache_root is not None else cache_dir() / "corpus"
    directory = directory / key
    if (directory / "card.json").exists():
        try:
            return load_lens(directory), directory, True
        except (CacheError, OSError, ValueError, KeyError):
            pass  # corrupt or foreign: computed again below, and replaced
    lens = run_lens(
        model, tokenizer, corpus, spec, target_speedup=target_speedup, strategy=strategy, max_length=max_length,
        progress=progress,
    )  # fmt: skip

    lens.card.update({**provenance(), **(about or {}), "model_fingerprint": model_fingerprint})
    if store:
        save_lens(lens, spec, directory)
    return lens, directory, False


def report(lens: Lens, spec: TaskSpec, min_count: int = 5) -> str:
    """The lens in a few plain-text tables (what ``accviz corpus`` prints)."""
    card = lens.card
    words = word_type_table(lens.tokens, min_count)
    flipped = flips(lens.examples)
    agreement = lens.agreement.pivot(index="layer", columns="pair", values="jaccard")
    parts = [
        f"{card.get('source')}: {card.get('n_examples')} examples, {card.get('strategy')} at "
        f"{card.get('target_speedup'):g}x (estimated {card.get('estimated_speedup', float('nan')):.2f}x)",
        "\nShare kept after each layer, by category:",
        survival_by_category(lens.tokens).round(2).to_string(),
        f"\nWord types (seen >= {min_count} times) that most often reach the last layer:",
        words.nlargest(10, ["reached_last_layer", "count"]).round(2).to_string(index=False),
        "\n... and that are most often eliminated first:",
        words.nlargest(10, ["eliminated_first", "count"]).round(2).to_string(index=False),
        f"\nMetric by input length ({spec.primary_metric}):",
        metric_by_length(lens.examples, spec).round(3).to_string(index=False),
        f"\nFlips: {len(flipped)} of {len(lens.examples)} predictions change"
        + (
            f" ({', '.join(f'{k} {v}' for k, v in flipped.effect.value_counts().items())})"
            if len(flipped)
            else ""
        ),
        "\nKept-set agreement (Jaccard, same word-vectors entering each layer):",
        agreement.round(2).to_string() if len(agreement) else "(no layer eliminates anything)",
    ]
    return "\n".join(parts)
