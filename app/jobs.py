"""Background jobs of one server: long work (a fine-tune, a download) that no page waits for.

A ``Job`` runs ``work(progress)`` once in a daemon thread. ``work`` reports through
``progress(stage, done, total, info)`` (the signature of ``accviz``'s progress callbacks; an
``info["eta_cap_s"]`` says the stage ends within that many seconds, e.g. a time budget) and
returns a result; an exception ends the job as failed, with its message kept for the pages.

A ``JobRegistry`` holds a server's jobs by name (the app keeps one in ``st.cache_resource``, so
every tab and every reload sees the same jobs):

    start(name, work)  the job of that name, started once: concurrent calls get the same job
    status(name)       a snapshot (``JobStatus``): state, stage, done/total, ETA, error, result
    retry(name)        a failed job runs its work again; a running or finished one is left as is

Jobs of one ``group`` run one at a time (a second one is refused with ``JobBusy``): on a small
machine two fine-tunes at once would each take twice as long. Nothing here imports Streamlit.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from accviz.errors import AccvizError

logger = logging.getLogger(__name__)

ProgressFn = Callable[[str, int, int, dict], None]
Work = Callable[[ProgressFn], Any]
STATES = ("running", "done", "failed")
ETA_MIN_UNITS = 2  # units of a stage done before its rate is trusted (the first step warms up)
ETA_CAP_KEY = "eta_cap_s"  # in a report's info: the stage ends within this many seconds (a time budget)


class JobBusy(AccvizError):
    """Another job of the same group is running."""


@dataclass(frozen=True)
class JobStatus:
    """What a job is doing, as of the moment it was asked."""

    name: str
    title: str  # what the pages call it, e.g. "Fine-tuning the default model"
    state: str  # one of STATES
    stage: str  # the last stage reported, e.g. "train", "eval 2x"; "" before the first report
    done: int  # units of the stage done
    total: int  # units in the stage
    eta_s: float | None  # seconds left in this stage, from its rate so far; None until known
    elapsed_s: float  # since this attempt started (until it ended, once it has)
    attempt: int  # 1, then 2 after the first retry, ...
    error: str | None = None  # the failure's message
    result: Any = None  # what ``work`` returned

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0


class Job:
    """One named piece of work in its own thread; thread-safe."""

    def __init__(self, name: str, work: Work, title: str = "", group: str | None = None, nice: int = 0):
        self.name, self.title, self.group, self.nice = name, title or name, group, nice
        self._work = work
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._attempt = 0
        self._state, self._error, self._result = "running", None, None
        self._stage, self._done, self._total = "", 0, 0
        self._started = self._stage_started = time.monotonic()
        self._stage_first_done, self._ended = 0, None
        self._eta_cap: tuple[float, float] | None = None  # (seconds, when reported)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Runs the work (again) in a fresh daemon thread; the registry calls this under its lock."""
        with self._lock:
            self._attempt += 1
            self._state, self._error, self._result = "running", None, None
            self._stage, self._done, self._total = "", 0, 0
            self._started = self._stage_started = time.monotonic()
            self._stage_first_done, self._ended, self._eta_cap = 0, None, None
            self._finished.clear()
            attempt = self._attempt
        # daemon: a server that stops does not wait for a fine-tune; accviz's cache publishes a
        # checkpoint atomically, so an interrupted one leaves nothing that passes for finished
        self._thread = threading.Thread(
            target=self._run, args=(attempt,), name=f"accviz-job-{self.name}", daemon=True
        )
        self._thread.start()

    def _run(self, attempt: int) -> None:
        _lower_priority(self.nice)
        try:
            result = self._work(self.report)
        except Exception as error:  # any failure ends the job; the pages show the message
            message = str(error) if isinstance(error, AccvizError) else f"{type(error).__name__}: {error}"
            if not isinstance(error, AccvizError):
                logger.exception("background job %s failed", self.name)
            self._end(attempt, "failed", error=message or type(error).__name__)
        else:
            self._end(attempt, "done", result=result)

    def _end(self, attempt: int, state: str, error: str | None = None, result: Any = None) -> None:
        with self._lock:
            if attempt != self._attempt:  # a stale thread (cannot happen: retry needs a failed job)
                return
            self._state, self._error, self._result = state, error, result
            self._ended = time.monotonic()
            self._finished.set()  # under the lock: a retry cannot clear it in between

    def report(self, stage: str, done: int, total: int, info: dict | None = None) -> None:
        """The progress callback handed to ``work``."""
        with self._lock:
            now = time.monotonic()
            if stage != self._stage or done < self._done:
                self._stage, self._stage_started, self._stage_first_done = stage, now, done
                self._eta_cap = None
            self._done, self._total = int(done), int(total)
            if info and info.get(ETA_CAP_KEY) is not None:
                self._eta_cap = (max(0.0, float(info[ETA_CAP_KEY])), now)

    def status(self) -> JobStatus:
        with self._lock:
            now = self._ended if self._ended is not None else time.monotonic()
            units = self._done - self._stage_first_done
            eta = None
            if self._state == "running" and units >= ETA_MIN_UNITS and self._total > self._done:
                eta = (now - self._stage_started) / units * (self._total - self._done)
                if self._eta_cap is not None:  # a time budget ends the stage sooner
                    eta = min(eta, max(0.0, self._eta_cap[0] - (now - self._eta_cap[1])))
            return JobStatus(
                name=self.name,
                title=self.title,
                state=self._state,
                stage=self._stage,
                done=self._done,
                total=self._total,
                eta_s=eta,
                elapsed_s=now - self._started,
                attempt=self._attempt,
                error=self._error,
                result=self._result,
            )

    @property
    def running(self) -> bool:
        with self._lock:
            return self._state == "running"

    def wait(self, timeout: float | None = None) -> bool:
        """Until this attempt ends (True) or ``timeout`` passes (False)."""
        return self._finished.wait(timeout)


class JobRegistry:
    """A server's jobs by name; at most one job per name, and one running job per group."""

    def __init__(self):
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, name: str, work: Work, title: str = "", group: str | None = None, nice: int = 0) -> Job:
        """The job ``name``: the one already registered (whatever its state), else ``work`` started now.

        Raises ``JobBusy`` when it would start while another job of ``group`` runs. ``nice``: how
        much lower the job's thread runs than the pages (Linux; its torch and pip threads inherit it).
        """
        with self._lock:
            job = self._jobs.get(name)
            if job is not None:
                return job
            self._refuse_if_busy(group, name)
            job = Job(name, work, title, group, nice)
            job.start()
            self._jobs[name] = job
            return job

    def retry(self, name: str) -> Job:
        """Runs a failed job's work again (a new attempt); a running or finished job is returned as is."""
        with self._lock:
            job = self._jobs.get(name)
            if job is None:
                raise AccvizError(f"No background job named {name!r} to retry.")
            if job.status().state == "failed":
                self._refuse_if_busy(job.group, name)
                job.start()
            return job

    def status(self, name: str) -> JobStatus | None:
        with self._lock:
            job = self._jobs.get(name)
        return None if job is None else job.status()

    def statuses(self) -> list[JobStatus]:
        """Every job's status, in the order they were started."""
        with self._lock:
            jobs = list(self._jobs.values())
        return [job.status() for job in jobs]

    def get(self, name: str) -> Job | None:
        with self._lock:
            return self._jobs.get(name)

    def running_in(self, group: str) -> JobStatus | None:
        """The running job of ``group``, if any."""
        with self._lock:
            jobs = list(self._jobs.values())
        return next((job.status() for job in jobs if job.group == group and job.running), None)

    def _refuse_if_busy(self, group: str | None, name: str) -> None:
        if group is None:
            return
        for other in self._jobs.values():
            if other.name != name and other.group == group and other.running:
                raise JobBusy(
                    f"{other.title} is still running; one {group} job runs at a time on this server."
                )


def _lower_priority(nice: int) -> None:
    """Lowers the calling thread's CPU priority by ``nice`` (Linux: niceness is per thread, and the
    threads and processes it starts inherit it), so a fine-tune yields the cores to page runs."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + nice))
    except OSError:  # not permitted here: the job runs at the pages' priority
        logger.info("could not lower the priority of a background job's thread")


def describe_eta(seconds: float | None) -> str:
    """'about 40 s left' / 'about 3 min left', or '' when unknown."""
    if seconds is None:
        return ""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s left"
    return f"about {round(seconds / 60)} min left"
