"""A corpus for the lens: a task's split, or the user's own file, read whole or not at all.

Your own data (``accviz corpus --input FILE`` and the app's upload box) is one of

    CSV or TSV (by extension)  a header with a ``text`` column; optional ``text_b`` (sentence
                               pairs) and ``label`` (a class id, a label name or, for a regression
                               task, a number)
    anything else              plain text, one example per line (blank lines skipped)

UTF-8 only (a byte-order mark is fine). A file that is empty, binary, not UTF-8, has no text
column, a malformed row or a bad label, or is over the caps (DEFAULT_MAX_ROWS rows,
DEFAULT_MAX_BYTES bytes) raises a DataError that names the file and the line or column; nothing
is returned half-read.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from accviz.data.tasks import TaskSpec
from accviz.errors import DataError

DEFAULT_MAX_ROWS = 20_000
DEFAULT_MAX_BYTES = 20 * 2**20
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}


@dataclass(frozen=True)
class Corpus:
    """N examples: texts (or pairs) and, when known, their gold labels."""

    texts_a: tuple[str, ...]  # (N,)
    texts_b: tuple[str, ...] | None  # (N,) for sentence pairs
    labels: tuple | None  # (N,) class ids or scores; None when the source has none
    source: str  # what it is, for cards and captions
    fingerprint: str  # sha256 of the content, how it was read and for which task: the cache key

    def __len__(self) -> int:
        return len(self.texts_a)


def corpus_from_task_data(data) -> Corpus:
    """A task split (``accviz.data.splits.TaskData``) as a corpus; its fingerprint is its source's."""
    digest = hashlib.sha256(f"{data.task}\x00".encode())
    for i in range(len(data)):
        digest.update(data.texts_a[i].encode() + b"\x00")
        if data.texts_b is not None:
            digest.update(data.texts_b[i].encode() + b"\x00")
        digest.update(repr(data.labels[i]).encode() + b"\x01")
    return Corpus(data.texts_a, data.texts_b, tuple(data.labels), data.source, digest.hexdigest())


def read_corpus_file(
    path: str | Path,
    spec: TaskSpec,
    *,
    content: bytes | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Corpus:
    """The user's file as a corpus for ``spec``'s model. ``content``: the bytes of an upload (then
    ``path`` is only its name); else the file is read from disk."""
    name = Path(path).name
    if content is None:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: no such file.")
        size = path.stat().st_size
        if size > max_bytes:
            raise DataError(f"{name}: {size / 2**20:.1f} MB is over the {max_bytes / 2**20:.0f} MB cap.")
        content = path.read_bytes()
    if len(content) > max_bytes:
        raise DataError(f"{name}: {len(content) / 2**20:.1f} MB is over the {max_bytes / 2**20:.0f} MB cap.")
    text = _decode(name, content)
    if not text.strip():
        raise DataError(f"{name}: the file is empty.")
    delimiter = TABLE_SUFFIXES.get(Path(name).suffix.lower())
    if delimiter is None:
        texts_a, texts_b, labels = _read_lines(name, text, max_rows)
    else:
        texts_a, texts_b, labels = _read_table(name, text, delimiter, spec, max_rows)
    if spec.is_pair and texts_b is None:
        raise DataError(f"{name}: {spec.display_name} reads sentence pairs; add a text_b column.")
    return Corpus(
        texts_a=texts_a,
        texts_b=texts_b,
        labels=labels,
        source=f"your file {name} ({len(texts_a)} examples)",
        # how the bytes were read (table or lines) and for which task's labels is part of the data
        fingerprint=hashlib.sha256(
            content + f"\x00{Path(name).suffix.lower()}\x00{spec.name}".encode()
        ).hexdigest(),
    )


def _decode(name: str, content: bytes) -> str:
    nul = content.find(b"\x00")
    if nul >= 0:
        line = content.count(b"\n", 0, nul) + 1
        raise DataError(f"{name}: looks binary (a NUL byte on line {line}); expected UTF-8 text, CSV or TSV.")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content.count(b"\n", 0, error.start) + 1
        raise DataError(
            f"{name}: not UTF-8 (line {line}, byte {error.start}); save the file as UTF-8 and try again."
        ) from None


def _over_cap(name: str, rows: int, max_rows: int, line: int) -> DataError:
    return DataError(f"{name}: more than the {max_rows:,}-row cap (row {rows:,} is on line {line:,}).")


def _read_lines(name: str, text: str, max_rows: int):
    texts = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            texts.append(line.strip())
            if len(texts) > max_rows:
                raise _over_cap(name, len(texts), max_rows, number)
    return tuple(texts), None, None


def _read_table(name: str, text: str, delimiter: str, spec: TaskSpec, max_rows: int):
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL  # GLUE-style TSV: quotes are text
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting, strict=True)
    try:
        header = [column.strip().lower() for column in next(reader)]
    except (StopIteration, csv.Error) as error:
        raise DataError(f"{name}: cannot read the header line ({error}).") from None
    if "text" not in header:
        raise DataError(f"{name}: no 'text' column in the header (columns: {', '.join(header) or 'none'}).")
    where = {column: header.index(column) for column in ("text", "text_b", "label") if column in header}
    texts_a, texts_b, labels = [], [], []
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # a blank line
            if len(row) != len(header):
                raise DataError(f"{name}, line {line}: {len(row)} fields, the header has {len(header)}.")
            a = row[where["text"]].strip()
            if not a:
                raise DataError(f"{name}, line {line}: the 'text' column is empty.")
            texts_a.append(a)
            if "text_b" in where:
                b = row[where["text_b"]].strip()
                if not b:
                    raise DataError(f"{name}, line {line}: the 'text_b' column is empty.")
                texts_b.append(b)
            if "label" in where:
                labels.append(_label(name, line, row[where["label"]].strip(), spec))
            if len(texts_a) > max_rows:
                raise _over_cap(name, len(texts_a), max_rows, line)
    except csv.Error as error:
        raise DataError(f"{name}, line {reader.line_num}: {error}.") from None
    if not texts_a:
        raise DataError(f"{name}: a header but no rows.")
    return (
        tuple(texts_a),
        (tuple(texts_b) if "text_b" in where else None),
        (tuple(labels) if labels else None),
    )


def _label(name: str, line: int, value: str, spec: TaskSpec):
    """A label cell -> class id (from an id or a label name) or, for regression, a float."""
    if spec.is_regression:
        try:
            return float(value)
        except ValueError:
            raise DataError(f"{name}, line {line}: label {value!r} is not a number.") from None
    names = [n.lower() for n in spec.label_names]
    if value.lower() in names:
        return names.index(value.lower())
    if value.isascii() and value.isdigit() and int(value) < spec.num_labels:
        return int(value)
    choices = ", ".join(f"{i} or {n!r}" for i, n in enumerate(spec.label_names))
    raise DataError(f"{name}, line {line}: label {value!r} is not one of {spec.display_name}'s ({choices}).")
