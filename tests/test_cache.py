"""Tests for accviz/store/cache.py: atomic writes, checksummed cards, publishing, locks, get_or_build."""

import hashlib
import json
import logging
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from accviz.errors import CacheError
from accviz.store import cache

# --- helpers (top level, so spawned processes can import them) -----------------------------------


def build_two_files(staging: Path, log_path: Path | None = None, delay_s: float = 0.0) -> None:
    """A build_fn: two files and a card; appends one line to ``log_path`` per run."""
    if log_path is not None:
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(f"{os.getpid()}\n")
    time.sleep(delay_s)
    (staging / "weights.bin").write_bytes(bytes(range(256)) * 64)
    (staging / "notes.txt").write_text("built by the test\n", encoding="utf-8")
    cache.write_card(staging, {"kind": "test"})


def prepare_in_child(final_dir: str, log_path: str, barrier, results) -> None:
    barrier.wait()
    path = cache.get_or_build(Path(final_dir), lambda staging: build_two_files(staging, Path(log_path), 1.0))
    results.put(str(path))


def built_directory(tmp_path: Path, name: str = "entry") -> Path:
    directory = tmp_path / name
    directory.mkdir()
    build_two_files(directory)
    return directory


def flip_first_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))


def leftovers(parent: Path) -> list[str]:
    return sorted(
        p.name for p in parent.iterdir() if cache.PARTIAL_MARKER in p.name or cache.TEMP_MARKER in p.name
    )


# --- cache_dir -----------------------------------------------------------------------------------


def test_cache_dir_follows_env_and_is_created(tmp_path, monkeypatch):
    target = tmp_path / "nested" / "accviz-cache"
    monkeypatch.setenv("ACCVIZ_CACHE", str(target))
    assert cache.cache_dir() == target
    assert target.is_dir()


def test_cache_dir_defaults_to_home_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("ACCVIZ_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / ".cache" / "accviz"
    assert (tmp_path / ".cache" / "accviz").is_dir()


# --- atomic writes and hashing -------------------------------------------------------------------


def test_atomic_writes_round_trip_and_leave_no_temp_files(tmp_path):
    cache.atomic_write_bytes(tmp_path / "a.bin", b"\x00\x01")
    cache.atomic_write_text(tmp_path / "b.txt", "héllo")
    cache.atomic_write_json(tmp_path / "sub" / "c.json", {"x": [1, 2.5, None]})
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.txt").read_text(encoding="utf-8") == "héllo"
    assert json.loads((tmp_path / "sub" / "c.json").read_text()) == {"x": [1, 2.5, None]}
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.bin", "b.txt", "c.json"]


def test_failed_atomic_write_keeps_the_old_file_and_removes_the_temp(tmp_path, monkeypatch):
    target = tmp_path / "data.txt"
    target.write_text("old")

    def failing_replace(source, destination):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache.os, "replace", failing_replace)
    with pytest.raises(CacheError, match="data.txt"):
        cache.atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["data.txt"]


def test_atomic_write_json_refuses_values_json_cannot_hold(tmp_path):
    with pytest.raises(CacheError, match="not JSON-serialisable"):
        cache.atomic_write_json(tmp_path / "bad.json", {"path": object()})
    assert not any(tmp_path.iterdir())


def test_file_sha256_matches_hashlib(tmp_path):
    data = os.urandom(3 * (1 << 20) + 17)  # spans several read chunks
    (tmp_path / "blob").write_bytes(data)
    assert cache.file_sha256(tmp_path / "blob") == hashlib.sha256(data).hexdigest()


# --- cards ---------------------------------------------------------------------------------------


def test_write_card_lists_every_file_with_its_checksum(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"w")
    (tmp_path / "pool").mkdir()
    (tmp_path / "pool" / "config.json").write_text("{}")
    written = cache.write_card(tmp_path, {"task": "sst2", "files": "ignored", "accviz_card_version": 99})
    assert written["accviz_card_version"] == 1
    assert written["task"] == "sst2"
    assert written["files"] == {
        "pool/config.json": hashlib.sha256(b"{}").hexdigest(),
        "weights.bin": hashlib.sha256(b"w").hexdigest(),
    }
    assert cache.read_card(tmp_path) == written


def test_write_card_with_explicit_files_lists_only_those(tmp_path):
    (tmp_path / "sweep.csv").write_text("a,b\n1,2\n")
    (tmp_path / "scratch.txt").write_text("not vouched for")
    written = cache.write_card(tmp_path, {"kind": "sweep"}, files=["sweep.csv"])
    assert list(written["files"]) == ["sweep.csv"]
    (tmp_path / "scratch.txt").write_text("changed: does not matter")
    assert cache.read_card(tmp_path)["kind"] == "sweep"


@pytest.mark.parametrize("name", ["missing.bin", "../outside.txt"])
def test_write_card_refuses_missing_or_escaping_files(tmp_path, name):
    (tmp_path / "entry").mkdir()
    (tmp_path / "outside.txt").write_text("x")
    with pytest.raises(CacheError):
        cache.write_card(tmp_path / "entry", {}, files=[name])
    assert not (tmp_path / "entry" / cache.CARD_FILE).exists()


def test_read_card_without_card_names_the_file(tmp_path):
    with pytest.raises(CacheError, match="card.json does not exist"):
        cache.read_card(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["a", "list"]', "not an accviz card"),
        ('{"task": "sst2"}', "not an accviz card"),
        ('{"accviz_card_version": 1, "files": ["a"]}', "not an accviz card"),
        ('{"accviz_card_version": 1, "files": {"../../etc/passwd": "00"}}', "not an accviz card"),
        ('{"accviz_card_version": 7, "files": {}}', "card version 7"),
    ],
)
def test_read_card_refuses_broken_or_foreign_cards(tmp_path, content, message):
    (tmp_path / "card.json").write_text(content)
    with pytest.raises(CacheError, match=message) as raised:
        cache.read_card(tmp_path)
    assert "card.json" in str(raised.value)


def test_read_card_detects_a_flipped_byte_and_a_missing_file(tmp_path):
    directory = built_directory(tmp_path)
    flip_first_byte(directory / "weights.bin")
    with pytest.raises(CacheError, match="weights.bin does not match the checksum"):
        cache.read_card(directory)
    assert cache.read_card(directory, verify=False)["kind"] == "test"  # the cheap check trusts the card
    (directory / "notes.txt").unlink()
    build_two_files(directory)
    (directory / "notes.txt").unlink()
    with pytest.raises(CacheError, match="notes.txt is listed .* but missing"):
        cache.read_card(directory)


# --- staging and publishing ----------------------------------------------------------------------


def test_staging_directory_is_a_fresh_partial_sibling(tmp_path):
    final_dir = tmp_path / "models" / "mine"
    first, second = cache.staging_directory(final_dir), cache.staging_directory(final_dir)
    assert first != second
    for staging in (first, second):
        assert staging.parent == final_dir.parent and staging.is_dir() and not any(staging.iterdir())
        assert staging.name.startswith(f"mine.partial-{os.getpid()}-")


def test_publish_moves_the_staging_directory_into_place(tmp_path):
    final_dir = tmp_path / "entry"
    staging = cache.staging_directory(final_dir)
    build_two_files(staging)
    assert cache.publish_directory(staging, final_dir) == final_dir
    assert not staging.exists()
    assert cache.read_card(final_dir)["kind"] == "test"


def test_publish_replaces_an_existing_directory_without_leftovers(tmp_path):
    final_dir = built_directory(tmp_path, "entry")
    (final_dir / "stale-extra.txt").write_text("from the old build")
    staging = cache.staging_directory(final_dir)
    (staging / "new.txt").write_text("new")
    cache.write_card(staging, {"kind": "new"})
    cache.publish_directory(staging, final_dir)
    assert cache.read_card(final_dir)["kind"] == "new"
    assert sorted(p.name for p in final_dir.iterdir()) == ["card.json", "new.txt"]
    assert leftovers(tmp_path) == []


def test_publish_refuses_a_staging_directory_without_a_card(tmp_path):
    final_dir = tmp_path / "entry"
    staging = cache.staging_directory(final_dir)
    (staging / "half-written.bin").write_bytes(b"...")
    with pytest.raises(CacheError, match="card.json does not exist"):
        cache.publish_directory(staging, final_dir)
    assert not final_dir.exists()


def test_clean_stale_partials_removes_only_old_orphans(tmp_path):
    an_hour_ago = time.time() - 2 * 3600
    dead_pid = 2**22 + 12345  # above Linux's pid_max default: never a live process
    orphan = tmp_path / f"entry.partial-{dead_pid}-abcd"
    orphan_aside = tmp_path / f"entry.partial-old-{dead_pid}-abcd"
    fresh = tmp_path / f"entry.partial-{dead_pid}-ef01"
    still_building = tmp_path / f"entry.partial-{os.getpid()}-2345"
    finished = tmp_path / "entry"
    for directory in (orphan, orphan_aside, fresh, still_building, finished):
        directory.mkdir()
        (directory / "weights.bin").write_bytes(b"w")
    temp_file = tmp_path / f".card.json{cache.TEMP_MARKER}{dead_pid}-abcd"
    temp_file.write_text("{")
    for path in (orphan, orphan_aside, still_building, finished, temp_file):
        os.utime(path, (an_hour_ago, an_hour_ago))
    removed = cache.clean_stale_partials(tmp_path)
    assert sorted(p.name for p in removed) == sorted([orphan.name, orphan_aside.name, temp_file.name])
    assert fresh.exists() and still_building.exists() and finished.exists()


# --- locks ---------------------------------------------------------------------------------------


def test_cache_lock_excludes_a_second_holder_and_times_out_clearly(tmp_path):
    target = tmp_path / "entry"
    with cache.cache_lock(target) as lock_file:
        assert lock_file == tmp_path / "entry.lock"
        with pytest.raises(CacheError, match="Another process is preparing"):
            with cache.cache_lock(target, timeout=0.2):
                pass
    with cache.cache_lock(target, timeout=0.2):
        pass  # released


def test_cache_lock_for_a_bare_name_lives_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCVIZ_CACHE", str(tmp_path))
    with cache.cache_lock("default") as lock_file:
        assert lock_file == tmp_path / "locks" / "default.lock"


# --- get_or_build --------------------------------------------------------------------------------


def test_get_or_build_builds_once_then_reuses(tmp_path):
    log_path = tmp_path / "builds.log"
    final_dir = tmp_path / "models" / "entry"
    for _ in range(3):
        path = cache.get_or_build(final_dir, lambda staging: build_two_files(staging, log_path))
        assert path == final_dir
    assert len(log_path.read_text().splitlines()) == 1
    assert cache.read_card(final_dir)["kind"] == "test"
    assert leftovers(final_dir.parent) == []


def test_get_or_build_rebuilds_a_corrupted_directory(tmp_path, caplog):
    log_path = tmp_path / "builds.log"
    final_dir = tmp_path / "entry"
    cache.get_or_build(final_dir, lambda staging: build_two_files(staging, log_path))
    flip_first_byte(final_dir / "weights.bin")
    with caplog.at_level(logging.WARNING, logger="accviz.store.cache"):
        cache.get_or_build(final_dir, lambda staging: build_two_files(staging, log_path))
    assert "weights.bin does not match the checksum" in caplog.text
    assert len(log_path.read_text().splitlines()) == 2
    cache.read_card(final_dir)  # valid again
    assert leftovers(tmp_path) == []


def test_get_or_build_with_verify_false_trusts_the_card(tmp_path):
    log_path = tmp_path / "builds.log"
    final_dir = tmp_path / "entry"
    cache.get_or_build(final_dir, lambda staging: build_two_files(staging, log_path))
    flip_first_byte(final_dir / "weights.bin")
    cache.get_or_build(final_dir, lambda staging: build_two_files(staging, log_path), verify=False)
    assert len(log_path.read_text().splitlines()) == 1


def test_an_interrupted_build_leaves_nothing_that_counts(tmp_path):
    final_dir = tmp_path / "entry"

    def crashing_build(staging):
        build_two_files(staging)  # files and card written ...
        raise KeyboardInterrupt  # ... but interrupted before publishing

    with pytest.raises(KeyboardInterrupt):
        cache.get_or_build(final_dir, crashing_build)
    with pytest.raises(CacheError):
        cache.read_card(final_dir)
    assert list(tmp_path.iterdir()) == [tmp_path / "entry.lock"]

    def forgetful_build(staging):
        (staging / "weights.bin").write_bytes(b"no card")

    with pytest.raises(CacheError, match="did not leave a valid card"):
        cache.get_or_build(final_dir, forgetful_build)
    assert not final_dir.exists()

    cache.get_or_build(final_dir, build_two_files)  # the next run builds it properly
    assert cache.read_card(final_dir)["kind"] == "test"


def test_a_killed_builds_staging_directory_is_never_taken_for_the_finished_one(tmp_path):
    final_dir = tmp_path / "entry"
    killed_staging = cache.staging_directory(final_dir)  # as if SIGKILLed after writing its card
    build_two_files(killed_staging)
    with pytest.raises(CacheError):
        cache.read_card(final_dir)
    log_path = tmp_path / "builds.log"
    cache.get_or_build(final_dir, lambda staging: build_two_files(staging, log_path))
    assert len(log_path.read_text().splitlines()) == 1  # built, not borrowed from the leftover


def test_two_processes_preparing_the_same_directory_build_it_once(tmp_path):
    context = multiprocessing.get_context("spawn")
    final_dir = tmp_path / "models" / "shared"
    log_path = tmp_path / "builds.log"
    barrier = context.Barrier(2)
    results = context.Queue()
    workers = [
        context.Process(target=prepare_in_child, args=(str(final_dir), str(log_path), barrier, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    paths = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert paths == [str(final_dir)] * 2
    assert len(log_path.read_text().splitlines()) == 1
    assert cache.read_card(final_dir)["kind"] == "test"
    assert sorted(p.name for p in final_dir.parent.iterdir()) == ["shared", "shared.lock"]
