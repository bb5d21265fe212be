"""The cache folder, safe by default: atomic writes, checksummed cards, atomic publishing, locks.

Everything accviz keeps between runs (fine-tuned checkpoints, sweeps) lives under
:func:`cache_dir` as a directory holding its files and a ``card.json``::

    {"accviz_card_version": 1, "files": {"model.safetensors": "<sha256>", ...}, ...what produced it}

A directory counts as finished only when its card reads back and every listed file matches
its checksum. Directories are written in a sibling staging folder
(``<name>.partial-<pid>-<random>``) and renamed into place, under a file lock, by
:func:`get_or_build`; so an interrupted run or two processes preparing the same thing at once
never leave a half-written directory that a later run takes for a finished one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import filelock

from accviz.errors import CacheError

logger = logging.getLogger(__name__)

CACHE_ENV_VAR = "ACCVIZ_CACHE"
CARD_FILE = "card.json"
CARD_VERSION = 1
# Anything whose name holds this marker is unfinished (a staging dir, or an old one moved aside).
PARTIAL_MARKER = ".partial-"
# Atomic-write temp files: hidden, next to their target, ``.<name>.tmp-<pid>-<random>``.
TEMP_MARKER = ".tmp-"
STALE_AFTER_S = 3600.0
_HASH_CHUNK_BYTES = 1 << 20


def cache_dir() -> Path:
    """``$ACCVIZ_CACHE`` or ``~/.cache/accviz``, created on demand."""
    configured = os.environ.get(CACHE_ENV_VAR)
    directory = Path(configured).expanduser() if configured else Path.home() / ".cache" / "accviz"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CacheError(
            f"Cannot create the accviz cache folder {directory}: {error}. "
            f"Set {CACHE_ENV_VAR} to a writable folder."
        ) from error
    return directory


# --- atomic writes -------------------------------------------------------------------------------


def _unique_suffix() -> str:
    return f"{os.getpid()}-{secrets.token_hex(4)}"


def _fsync_directory(directory: Path) -> None:
    """Makes a rename in ``directory`` durable (best effort: not every platform can open a dir)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Writes ``data`` to ``path`` so that readers see the old file or the new one, never a part.

    The bytes go to a temp file in the same directory, are fsynced, then ``os.replace``d onto
    ``path``; the temp file is removed if anything fails.
    """
    path = Path(path)
    temp_path = path.with_name(f".{path.name}{TEMP_MARKER}{_unique_suffix()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temp_path, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_path, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temp_path.unlink()
        if isinstance(error, OSError):
            raise CacheError(f"Cannot write {path}: {error}") from error
        raise
    _fsync_directory(path.parent)
    return path


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """:func:`atomic_write_bytes` for text."""
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: str | os.PathLike, obj) -> Path:
    """:func:`atomic_write_bytes` for a JSON value (indented, keys in the order given)."""
    try:
        text = json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError) as error:
        raise CacheError(f"Cannot write {path}: the value is not JSON-serialisable ({error}).") from error
    return atomic_write_text(path, text + "\n")


def file_sha256(path: str | os.PathLike) -> str:
    """The hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


# --- cards ---------------------------------------------------------------------------------------


def directory_fingerprint(directory: str | os.PathLike) -> str:
    """What identifies a checkpoint's contents, cheaply: its card's checksums when it has a card,
    else the name, size and modification time of every file. A hub id (no such folder) is itself."""
    directory = Path(directory)
    if not directory.is_dir():
        return str(directory)
    card = directory / CARD_FILE
    if card.is_file():
        return hashlib.sha256(card.read_bytes()).hexdigest()
    digest = hashlib.sha256(str(directory.resolve()).encode())
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(directory)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def _is_leftover_name(name: str) -> bool:
    """A staging dir, an old dir moved aside, or an atomic-write temp file."""
    return PARTIAL_MARKER in name or (name.startswith(".") and TEMP_MARKER in name)


def _files_to_list(directory: Path) -> list[str]:
    """Every file under ``directory`` (relative, '/'-separated), except the card and temp files."""
    names = []
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or _is_leftover_name(path.name):
            continue
        relative = path.relative_to(directory).as_posix()
        if relative != CARD_FILE:
            names.append(relative)
    return names


def _is_safe_relative_name(name: str) -> bool:
    parts = Path(name).parts
    return bool(parts) and not Path(name).is_absolute() and ".." not in parts


def write_card(directory: str | os.PathLike, card: dict, files: list[str] | None = None) -> dict:
    """Writes ``<directory>/card.json``: ``card`` plus the version and a checksum per file.

    ``files`` are names relative to ``directory``; by default every file in it (recursively)
    except ``card.json``. Write the card last: it vouches for the files as they are now.
    Returns the card as written.
    """
    directory = Path(directory)
    names = _files_to_list(directory) if files is None else [Path(name).as_posix() for name in files]
    checksums = {}
    for name in names:
        if not _is_safe_relative_name(name):
            raise CacheError(f"Card file names must be relative to {directory}; got {name!r}.")
        path = directory / name
        if not path.is_file():
            raise CacheError(f"Cannot write the card of {directory}: {path} does not exist.")
        checksums[name] = file_sha256(path)
    written = {key: value for key, value in card.items() if key not in ("accviz_card_version", "files")}
    written["accviz_card_version"] = CARD_VERSION
    written["files"] = checksums
    atomic_write_json(directory / CARD_FILE, written)
    return written


def read_card(directory: str | os.PathLike, verify: bool = True) -> dict:
    """The card of a finished cache directory; raises CacheError if it is missing or does not hold.

    With ``verify`` every listed file must exist and match its SHA-256; without it only the card
    itself is checked (cheap enough for listing many directories).
    """
    directory = Path(directory)
    card_path = directory / CARD_FILE
    try:
        text = card_path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise CacheError(
            f"{card_path} does not exist: {directory} is not a finished accviz cache entry."
        ) from error
    except (OSError, UnicodeDecodeError) as error:
        raise CacheError(f"Cannot read {card_path}: {error}") from error
    try:
        card = json.loads(text)
    except json.JSONDecodeError as error:
        raise CacheError(
            f"{card_path} is not valid JSON ({error}); delete {directory} to rebuild it."
        ) from error
    if not isinstance(card, dict) or "accviz_card_version" not in card:
        raise CacheError(f"{card_path} is not an accviz card (no accviz_card_version).")
    if card["accviz_card_version"] != CARD_VERSION:
        raise CacheError(
            f"{card_path} has card version {card['accviz_card_version']!r}; this accviz reads version "
            f"{CARD_VERSION}. Delete {directory} to rebuild it."
        )
    checksums = card.get("files")
    if not isinstance(checksums, dict) or not all(
        isinstance(name, str) and _is_safe_relative_name(name) and isinstance(digest, str)
        for name, digest in checksums.items()
    ):
        raise CacheError(f"{card_path} is not an accviz card (its 'files' is not a map of file -> sha256).")
    if verify:
        for name, expected in checksums.items():
            path = directory / name
            if not path.is_file():
                raise CacheError(
                    f"{path} is listed in {card_path} but missing; delete {directory} to rebuild it."
                )
            if file_sha256(path) != expected:
                raise CacheError(
                    f"{path} does not match the checksum in {card_path} (corrupt or edited); "
                    f"delete {directory} to rebuild it."
                )
    return card


# --- staging and publishing ----------------------------------------------------------------------


def staging_directory(final_dir: str | os.PathLike) -> Path:
    """A fresh, empty sibling of ``final_dir`` to write into: ``<name>.partial-<pid>-<random>``."""
    final_dir = Path(final_dir)
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = final_dir.with_name(f"{final_dir.name}{PARTIAL_MARKER}{_unique_suffix()}")
    staging.mkdir()
    return staging


def publish_directory(staging_dir: str | os.PathLike, final_dir: str | os.PathLike) -> Path:
    """Renames a fully written ``staging_dir`` (with its card) to ``final_dir``.

    If ``final_dir`` exists it is replaced: the old one is renamed aside (still a ``.partial-``
    name), the new one renamed in, the old one deleted. A reader sees the old directory, briefly
    none, or the new one; never a half-written one.
    """
    staging_dir, final_dir = Path(staging_dir), Path(final_dir)
    if staging_dir.parent.resolve() != final_dir.parent.resolve():
        raise CacheError(
            f"{staging_dir} must be a sibling of {final_dir} to be renamed into place atomically."
        )
    read_card(staging_dir, verify=False)  # refuse to publish something without a card
    _fsync_directory(staging_dir)
    if not final_dir.exists():
        try:
            os.rename(staging_dir, final_dir)
        except OSError:
            pass  # another one appeared meanwhile (ENOTEMPTY/EEXIST): replace it below
        else:
            _fsync_directory(final_dir.parent)
            return final_dir
    aside = final_dir.with_name(f"{final_dir.name}{PARTIAL_MARKER}old-{_unique_suffix()}")
    try:
        os.rename(final_dir, aside)
    except FileNotFoundError:
        aside = None  # someone removed it meanwhile
    except OSError as error:
        raise CacheError(f"Cannot move {final_dir} aside to replace it: {error}") from error
    try:
        os.rename(staging_dir, final_dir)
    except OSError as error:
        if aside is not None:
            with contextlib.suppress(OSError):
                os.rename(aside, final_dir)
        raise CacheError(f"Cannot move {staging_dir} into place as {final_dir}: {error}") from error
    _fsync_directory(final_dir.parent)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    return final_dir


def _owner_is_running(name: str) -> bool:
    """Whether the pid in a ``.partial-[old-]<pid>-<random>`` name is a live process here."""
    suffix = name.split(PARTIAL_MARKER, 1)[-1].removeprefix("old-")
    try:
        pid = int(suffix.split("-", 1)[0])
    except ValueError:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    return True


def clean_stale_partials(parent: str | os.PathLike, max_age_s: float = STALE_AFTER_S) -> list[Path]:
    """Removes leftovers of interrupted runs in ``parent``; returns what it removed.

    A leftover is a ``.partial-`` directory or an atomic-write temp file, last modified more
    than ``max_age_s`` ago, whose process (the pid in its name) is not running: a long build in
    progress is never pulled from under its owner.
    """
    parent = Path(parent)
    if not parent.is_dir():
        return []
    removed = []
    now = time.time()
    for entry in parent.iterdir():
        if not _is_leftover_name(entry.name):
            continue
        try:
            age_s = now - entry.lstat().st_mtime
        except FileNotFoundError:
            continue
        if age_s < max_age_s or (PARTIAL_MARKER in entry.name and _owner_is_running(entry.name)):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
        removed.append(entry)
    return removed


# --- locking and the build-once pattern ----------------------------------------------------------


def lock_path(name_or_path: str | os.PathLike) -> Path:
    """``<path>.lock`` for a path; ``<cache>/locks/<name>.lock`` for a bare name like ``"default"``."""
    text = os.fspath(name_or_path)
    is_bare_name = not isinstance(name_or_path, Path) and os.sep not in text and "/" not in text
    if is_bare_name:
        directory = cache_dir() / "locks"
        directory.mkdir(parents=True, exist_ok=True)
        return directory / f"{text}.lock"
    path = Path(text).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def cache_lock(name_or_path: str | os.PathLike, timeout: float | None = None) -> Iterator[Path]:
    """Holds an inter-process file lock for ``name_or_path`` (see :func:`lock_path`); yields its path.

    ``timeout`` in seconds, ``None`` to wait as long as it takes; CacheError when it runs out.
    """
    path = lock_path(name_or_path)
    lock = filelock.FileLock(str(path), timeout=-1 if timeout is None else timeout)
    try:
        lock.acquire()
    except filelock.Timeout as error:
        raise CacheError(
            f"Another process is preparing {name_or_path} (lock {path} held for over {timeout:g} s). "
            "Wait for it to finish, or delete the lock file if no accviz process is running."
        ) from error
    try:
        yield path
    finally:
        lock.release()


def get_or_build(
    final_dir: str | os.PathLike,
    build_fn: Callable[[Path], None],
    *,
    verify: bool = True,
    timeout: float | None = None,
) -> Path:
    """``final_dir`` if it holds a valid card, else built once by ``build_fn`` and published.

    Under the lock of ``final_dir``: a valid directory is returned as is; a corrupt one is
    logged and rebuilt; otherwise ``build_fn(staging_dir)`` writes the files and the card
    (:func:`write_card`) into a fresh staging directory, which is checked and then published
    with :func:`publish_directory`. If ``build_fn`` raises, the staging directory is removed
    and nothing is published. Concurrent callers wait for the lock and then find it built.
    """
    final_dir = Path(final_dir).expanduser()
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    with cache_lock(final_dir, timeout=timeout):
        clean_stale_partials(final_dir.parent)
        if final_dir.exists():
            try:
                read_card(final_dir, verify=verify)
                return final_dir
            except CacheError as error:
                logger.warning("Rebuilding %s: %s", final_dir, error)
        staging = staging_directory(final_dir)
        try:
            build_fn(staging)
            try:
                read_card(staging, verify=verify)
            except CacheError as error:
                raise CacheError(
                    f"The build for {final_dir} did not leave a valid card (write_card must come last): {error}"
                ) from error
            publish_directory(staging, final_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return final_dir


def slug(text: str) -> str:
    """``text`` as a safe folder name: runs of other characters become "-", at most 80 characters."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-")[:80] or "model"
