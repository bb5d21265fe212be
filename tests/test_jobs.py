"""app.jobs: background jobs by name, with fake fast, slow and failing work (no Streamlit, no model)."""

import os
import threading
import time

import pytest

from accviz.errors import AccvizError
from app.jobs import JobBusy, JobRegistry, describe_eta

WAIT_S = 10


def gated(release: threading.Event, result="done", stages=(("train", 4),)):
    """Work that reports each stage's steps, then waits for ``release`` before it returns."""

    def work(progress):
        for stage, total in stages:
            for done in range(total + 1):
                progress(stage, done, total, {})
        release.wait(WAIT_S)
        return result

    return work


def until(predicate, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_job_runs_in_the_background_and_reports_its_progress():
    registry, release = JobRegistry(), threading.Event()
    started = time.monotonic()
    job = registry.start("fine-tune x", gated(release, result=42), title="Fine-tuning x")
    assert time.monotonic() - started < 1  # start never waits for the work
    until(lambda: registry.status("fine-tune x").done == 4)
    status = registry.status("fine-tune x")
    assert (status.state, status.stage, status.total, status.fraction) == ("running", "train", 4, 1.0)
    assert status.title == "Fine-tuning x" and status.result is None and status.error is None
    release.set()
    assert job.wait(WAIT_S)
    status = registry.status("fine-tune x")
    assert (status.state, status.result, status.attempt) == ("done", 42, 1)


def test_the_eta_follows_the_rate_of_the_current_stage():
    registry, release, reported = JobRegistry(), threading.Event(), threading.Event()

    def work(progress):
        progress("eval", 0, 10, {})
        time.sleep(0.2)
        progress("eval", 2, 10, {})  # 0.1 s a unit: 8 left -> about 0.8 s
        reported.set()
        release.wait(WAIT_S)

    registry.start("job", work)
    reported.wait(WAIT_S)
    status = registry.status("job")
    assert 0.6 < status.eta_s < 2.5
    assert describe_eta(status.eta_s) == "about 1 s left" or describe_eta(status.eta_s) == "about 2 s left"
    release.set()
    registry.get("job").wait(WAIT_S)
    assert registry.status("job").eta_s is None  # a finished job has nothing left


def test_no_eta_before_two_units_of_a_stage_are_done():
    registry, release = JobRegistry(), threading.Event()
    registry.start("job", gated(release, stages=(("train", 5), ("eval 1x", 0))))
    until(lambda: registry.status("job").stage == "eval 1x")
    assert registry.status("job").eta_s is None  # a new stage starts its own clock
    release.set()
    assert describe_eta(None) == "" and describe_eta(150) == "about 2 min left"


def test_one_job_per_name_under_concurrent_starts():
    registry, release, calls = JobRegistry(), threading.Event(), []
    barrier = threading.Barrier(8)

    def work(progress):
        calls.append(1)
        release.wait(WAIT_S)

    jobs = []

    def start():
        barrier.wait()
        jobs.append(registry.start("default model", work))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    release.set()
    assert len({id(job) for job in jobs}) == 1
    jobs[0].wait(WAIT_S)
    assert calls == [1]  # the work ran once
    assert [status.name for status in registry.statuses()] == ["default model"]


def test_a_finished_job_is_not_started_again():
    registry, calls = JobRegistry(), []
    registry.start("job", lambda progress: calls.append(1)).wait(WAIT_S)
    registry.start("job", lambda progress: calls.append(2)).wait(WAIT_S)
    registry.retry("job").wait(WAIT_S)  # retry leaves a finished job as it is
    assert calls == [1]


def test_a_failing_job_keeps_its_message_and_a_retry_runs_it_again():
    registry, attempts = JobRegistry(), []

    def flaky(progress):
        attempts.append(1)
        progress("pip download", 0, 1, {})
        if len(attempts) == 1:
            raise AccvizError("pip could not reach PyPI")
        return "data.csv"

    registry.start("data", flaky).wait(WAIT_S)
    status = registry.status("data")
    assert (status.state, status.error, status.attempt) == ("failed", "pip could not reach PyPI", 1)
    registry.retry("data").wait(WAIT_S)
    status = registry.status("data")
    assert (status.state, status.result, status.error, status.attempt) == ("done", "data.csv", None, 2)


def test_an_unexpected_exception_is_a_failure_with_its_type_never_a_dead_registry():
    registry = JobRegistry()

    def broken(progress):
        return {}["missing"]

    registry.start("job", broken).wait(WAIT_S)
    assert registry.status("job").error == "KeyError: 'missing'"
    with pytest.raises(AccvizError, match="No background job"):
        registry.retry("nothing")
    assert registry.status("nothing") is None


def test_one_running_job_per_group():
    registry, release = JobRegistry(), threading.Event()
    registry.start("fine-tune a", gated(release), title="Fine-tuning A", group="fine-tune")
    with pytest.raises(JobBusy, match="Fine-tuning A is still running"):
        registry.start("fine-tune b", gated(release), group="fine-tune")
    assert registry.status("fine-tune b") is None
    other = registry.start("download", gated(release), group="data")  # another group runs beside it
    assert registry.running_in("fine-tune").name == "fine-tune a"
    release.set()
    registry.get("fine-tune a").wait(WAIT_S)
    other.wait(WAIT_S)
    assert registry.running_in("fine-tune") is None
    registry.start("fine-tune b", gated(release), group="fine-tune").wait(WAIT_S)
    assert registry.status("fine-tune b").state == "done"


def test_a_retry_waits_for_the_group_too():
    registry, release = JobRegistry(), threading.Event()

    def failing(progress):
        raise AccvizError("out of disk")

    registry.start("fine-tune a", failing, group="fine-tune").wait(WAIT_S)
    registry.start("fine-tune b", gated(release), group="fine-tune")
    with pytest.raises(JobBusy):
        registry.retry("fine-tune a")
    assert registry.status("fine-tune a").attempt == 1
    release.set()


def test_a_time_budget_caps_the_eta():
    registry, release, reported = JobRegistry(), threading.Event(), threading.Event()

    def work(progress):
        progress("train", 0, 1000, {})
        time.sleep(0.1)
        progress("train", 2, 1000, {"eta_cap_s": 5.0})  # 998 steps at 0.05 s would be ~50 s
        reported.set()
        release.wait(WAIT_S)

    registry.start("job", work)
    reported.wait(WAIT_S)
    assert 3.0 < registry.status("job").eta_s <= 5.0
    release.set()


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="per-thread niceness is Linux's")
def test_a_nice_job_runs_below_the_pages():
    registry = JobRegistry()
    here = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def priority(progress):
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    registry.start("nice", priority, nice=5).wait(WAIT_S)
    registry.start("plain", priority).wait(WAIT_S)
    assert registry.status("nice").result == min(19, here + 5)
    assert registry.status("plain").result == here
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == here  # the caller's own is untouched
