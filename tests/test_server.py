"""The classroom server's shared parts: a fair work queue with a time limit, a cache bounded by
bytes, and the metrics store (app.server)."""

import json
import threading
import time

import numpy as np
import pytest

from app.server import BoundedCache, Metrics, ServerBusy, WorkQueue, nbytes, summarize

from .conftest import occupy


def test_queue_runs_jobs_one_at_a_time_in_arrival_order():
    queue = WorkQueue("test", Metrics())
    order, running, overlap = [], [0], []
    first_in = threading.Event()

    def job(name: str, hold: float):
        with queue.turn(timeout_s=10):
            running[0] += 1
            overlap.append(running[0])
            order.append(name)
            first_in.set()
            time.sleep(hold)
            running[0] -= 1

    threads = [threading.Thread(target=job, args=("a", 0.3))]
    threads[0].start()
    first_in.wait(5)
    for name in "bcd":  # they line up behind a, in this order
        threads.append(threading.Thread(target=job, args=(name, 0.02)))
        threads[-1].start()
        time.sleep(0.05)
    for thread in threads:
        thread.join(10)
    assert order == ["a", "b", "c", "d"]
    assert max(overlap) == 1
    assert len(queue) == 0


def test_a_waiting_job_sees_how_many_are_ahead_and_is_dropped_past_the_limit():
    metrics = Metrics()
    queue = WorkQueue("test", metrics)
    release, holder = occupy(queue)
    seen = []
    started = time.perf_counter()
    with pytest.raises(ServerBusy, match="1 request"):
        with queue.turn(on_wait=seen.append, timeout_s=0.8):
            pytest.fail("must not run while the line is blocked")
    assert 0.8 <= time.perf_counter() - started < 3
    assert seen and set(seen) == {1}
    assert len(queue) == 1  # the dropped job left the line; the holder is still in it
    release.set()
    holder.join(5)
    with queue.turn(timeout_s=1) as turn:  # the server is fine afterwards
        assert turn.waited_s < 0.5
    kinds = [(r["kind"], r.get("ok")) for r in metrics.records()]
    assert ("dropped", None) in kinds and kinds.count(("job", True)) == 2


def test_an_abandoned_wait_frees_its_place():
    queue = WorkQueue("test")
    release, holder = occupy(queue)

    def give_up(ahead: int):
        raise KeyboardInterrupt  # what Streamlit does to a script whose visitor moved on

    with pytest.raises(KeyboardInterrupt):
        with queue.turn(on_wait=give_up, timeout_s=10):
            pass
    assert len(queue) == 1
    release.set()
    holder.join(5)
    assert len(queue) == 0


def test_a_job_that_finds_its_result_ready_is_recorded_apart():
    metrics = Metrics()
    queue = WorkQueue("analysis", metrics)
    with queue.turn():
        pass
    with queue.turn() as turn:
        turn.outcome = "cached"
    assert [r["name"] for r in metrics.records("job")] == ["analysis", "analysis (cached)"]


def test_a_failing_job_is_recorded_and_releases_the_queue():
    metrics = Metrics()
    queue = WorkQueue("test", metrics)
    with pytest.raises(ValueError):
        with queue.turn():
            raise ValueError("boom")
    assert len(queue) == 0
    (record,) = metrics.records("job")
    assert record["ok"] is False and record["run_s"] >= 0


def test_cache_is_bounded_by_bytes_and_drops_the_least_recently_used():
    block = np.zeros(100_000, dtype=np.uint8)  # ~100 kB pickled
    size = nbytes(block)
    cache = BoundedCache(max_bytes=int(size * 3.5))
    for key in "abc":
        cache.put(key, block.copy())
    assert cache.get("a") is not None  # a is now the most recently used
    cache.put("d", block.copy())
    assert cache.get("b") is None and cache.get("a") is not None
    assert len(cache) == 3 and cache.total_bytes <= cache.max_bytes
    for i in range(50):  # many distinct inputs: the total never grows past the bound
        cache.put(("x", i), block.copy())
        assert cache.total_bytes <= cache.max_bytes
    cache.put("huge", np.zeros(size * 4, dtype=np.uint8))  # larger than the whole cache: not kept
    assert cache.get("huge") is None and cache.total_bytes <= cache.max_bytes


def test_metrics_summary_and_file(tmp_path):
    path = tmp_path / "metrics.jsonl"
    metrics = Metrics(kept=3, path=str(path))
    for run in (0.1, 0.2, 0.3, 0.4):
        metrics.record("job", "analysis", run_s=run, wait_s=0.0)
    assert len(metrics.records()) == 3  # bounded in memory
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [row["run_s"] for row in lines] == [0.1, 0.2, 0.3, 0.4]  # the file keeps everything
    stats = summarize(lines)["job:analysis"]
    assert stats["n"] == 4
    assert stats["run_s_p50"] == pytest.approx(0.25)
    assert stats["run_s_p95"] == pytest.approx(np.percentile([0.1, 0.2, 0.3, 0.4], 95))
    assert stats["run_s_max"] == 0.4
