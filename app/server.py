"""What one server shares between its visitors: a line for CPU work, a size-bounded cache, metrics.

Streamlit runs every visitor's page script in its own thread of one process. On a classroom
server (30 students, 2 cores) three things keep that process healthy:

    WorkQueue     first come, first served, one job at a time. A visitor who has to wait sees
                  "waiting (n ahead)"; one who waits longer than ACCVIZ_QUEUE_TIMEOUT_S (60 s)
                  gets a message and their request is dropped, never the server.
    BoundedCache  results cached up to a total of bytes (pickled size), least recently used out
                  first, so memory stops growing however many distinct inputs arrive.
    Metrics       each job's wait and run time, each page run's wall time, in a bounded ring; the
                  About/Server expander and the benchmarks read its summary (p50/p95). With
                  ACCVIZ_METRICS_FILE set every record is also appended there as one JSON line.

Nothing here imports Streamlit: the pages pass a callback that draws the waiting notice.
"""

from __future__ import annotations

import json
import os
import pickle
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from accviz.errors import AccvizError

DEFAULT_QUEUE_TIMEOUT_S = 60.0
DEFAULT_CACHE_MIB = 256
METRICS_KEPT = 20_000  # records in memory; the file (when set) keeps everything


class ServerBusy(AccvizError):
    """A request waited longer than the queue's limit and was dropped."""


def queue_timeout_s() -> float:
    return float(os.environ.get("ACCVIZ_QUEUE_TIMEOUT_S", DEFAULT_QUEUE_TIMEOUT_S))


class Metrics:
    """A bounded in-memory record of what the server did; thread-safe."""

    def __init__(self, kept: int = METRICS_KEPT, path: str | None = None):
        self._records: deque[dict] = deque(maxlen=kept)
        self._lock = threading.Lock()
        self._path = path

    def record(self, kind: str, name: str, **values) -> dict:
        row = {"kind": kind, "name": name, "t": time.time(), **values}
        with self._lock:
            self._records.append(row)
            if self._path:
                with open(self._path, "a") as out:
                    out.write(json.dumps(row) + "\n")
        return row

    def records(self, kind: str | None = None) -> list[dict]:
        with self._lock:
            return [r for r in self._records if kind is None or r["kind"] == kind]

    def summary(self) -> dict[str, dict[str, float]]:
        """Per (kind, name): count, and p50/p95 of every timing field (``*_s``)."""
        return summarize(self.records())


def summarize(records: list[dict]) -> dict[str, dict[str, float]]:
    """Records -> {"kind:name": {"n": …, "run_s_p50": …, "run_s_p95": …, "wait_s_p50": …, …}}."""
    groups: dict[str, list[dict]] = {}
    for row in records:
        groups.setdefault(f"{row['kind']}:{row['name']}", []).append(row)
    out = {}
    for key, rows in sorted(groups.items()):
        stats: dict[str, float] = {"n": len(rows)}
        fields = sorted({f for row in rows for f in row if f.endswith("_s")})
        for field in fields:
            values = [row[field] for row in rows if isinstance(row.get(field), int | float)]
            if values:
                stats[f"{field}_p50"] = float(np.percentile(values, 50))
                stats[f"{field}_p95"] = float(np.percentile(values, 95))
                stats[f"{field}_max"] = float(max(values))
        out[key] = stats
    return out


@dataclass
class Turn:
    waited_s: float
    outcome: str = "computed"  # or "cached": a visitor ahead in the line computed the same result


class WorkQueue:
    """One job at a time, in arrival order, with a visible line and a limit on the wait."""

    def __init__(self, name: str, metrics: Metrics | None = None):
        self.name = name
        self._metrics = metrics
        self._condition = threading.Condition()
        self._line: deque[object] = deque()  # the head is the job running now

    def __len__(self) -> int:
        """Jobs running or waiting."""
        with self._condition:
            return len(self._line)

    @contextmanager
    def turn(
        self, on_wait: Callable[[int], None] | None = None, timeout_s: float | None = None
    ) -> Iterator[Turn]:
        """Waits for this job's turn, then runs the body alone; yields a ``Turn`` (seconds waited;
        the body may set ``turn.outcome``, e.g. "cached" when it found its result ready).

        ``on_wait(n_ahead)`` is called while waiting, about twice a second, outside the queue's
        lock (it may draw on the page, or raise to abandon the wait). Past ``timeout_s``
        (default ACCVIZ_QUEUE_TIMEOUT_S) the job leaves the line and ServerBusy is raised.
        """
        limit = queue_timeout_s() if timeout_s is None else timeout_s
        ticket = object()
        arrived = time.perf_counter()
        with self._condition:
            self._line.append(ticket)
            ahead_at_arrival = len(self._line) - 1
        try:
            self._wait_for_head(ticket, arrived, limit, on_wait, ahead_at_arrival)
            current = Turn(waited_s=time.perf_counter() - arrived)
            started = time.perf_counter()
            ok = False
            try:
                yield current
                ok = True
            finally:
                self._record("job", wait_s=current.waited_s, run_s=time.perf_counter() - started,
                             ahead_at_arrival=ahead_at_arrival, ok=ok, outcome=current.outcome)  # fmt: skip
        finally:
            with self._condition:
                self._line.remove(ticket)
                self._condition.notify_all()

    def _wait_for_head(self, ticket, arrived: float, limit: float, on_wait, ahead_at_arrival: int) -> None:
        while True:
            with self._condition:
                ahead = self._line.index(ticket)
                if ahead == 0:
                    return
                if time.perf_counter() - arrived > limit:
                    self._record(
                        "dropped", wait_s=time.perf_counter() - arrived, ahead_at_arrival=ahead_at_arrival
                    )
                    raise ServerBusy(
                        f"The server is busy ({ahead} request(s) ahead of yours); yours was dropped after "
                        f"{limit:.0f} s of waiting. Please try again in a moment."
                    )
                self._condition.wait(timeout=0.5)
                ahead = self._line.index(ticket)
            if ahead and on_wait is not None:
                on_wait(ahead)

    def _record(self, kind: str, **values) -> None:
        if self._metrics is not None:
            name = (
                self.name
                if values.get("outcome", "computed") == "computed"
                else f"{self.name} ({values['outcome']})"
            )
            self._metrics.record(kind, name, **values)


def nbytes(value) -> int:
    """The pickled size of a cached value: what it costs to hold, within a few percent."""
    return len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


class BoundedCache:
    """A thread-safe LRU cache bounded by the total size of its values, not their count."""

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[Hashable, tuple[object, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, default=None):
        with self._lock:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            return self._items[key][0]

    def put(self, key: Hashable, value) -> None:
        size = nbytes(value)
        if size > self.max_bytes:
            return  # larger than the whole cache: not kept
        with self._lock:
            if key in self._items:
                self._bytes -= self._items.pop(key)[1]
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    @property
    def total_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)


def cache_bytes() -> int:
    return int(float(os.environ.get("ACCVIZ_CACHE_MIB", DEFAULT_CACHE_MIB)) * 2**20)
