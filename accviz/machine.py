"""The one machine and versions card: what ran a result, recorded next to it.

Every stored result says what produced it. Three views of the same facts, each with the keys its
stored cards already carry (readers and tests of old cards keep working):

    library_versions()     {accviz, torch, transformers, python}        checkpoint, sweep, lens, app cards
    machine_description()  {cpu, cores, torch_threads, cuda}            checkpoint, sweep, lens, app cards
    provenance(command)    {command, created, versions, machine}        the two above, dated: every result card
    machine_card()         {processor, cpu_model, cores, cores_available, torch_threads, torch,
                            transformers, python, platform, load_average_at_start}   benchmark cards

``busy_machine_warning`` says when a timing would measure other jobs' contention rather than the
model: when the 1-minute load average plus the torch threads asked for exceed the cores this
process may use.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path

import torch
import transformers
from accelerate import PartialState

import accviz


def cpu_model() -> str:
    """The CPU's model name ("AMD EPYC ..."): /proc/cpuinfo, else lscpu; "" when neither says."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:  # ARM kernels leave "model name" out of /proc/cpuinfo; lscpu knows it
        output = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in output.splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return ""


def cores_available() -> int:
    """The cores this process may run on (its CPU affinity), which a container can set below the count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def git_commit() -> str:
    """The short commit of the accviz checkout; "" outside a git checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).resolve().parent,
        )
        return result.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def library_versions() -> dict:
    return {
        "accviz": accviz.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
    }


def machine_description() -> dict:
    """The machine in a line's worth of keys, for result cards (checkpoints, sweeps, lenses, the app)."""
    return {
        "cpu": cpu_model() or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def provenance(command: str | None = None) -> dict:
    """What every stored result carries beside its numbers: the command that made it (when one
    did), the date, the library versions and the machine."""
    card = {"command": command} if command else {}
    return card | {
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "versions": library_versions(),
        "machine": machine_description(),
    }


def machine_card() -> dict:
    """The machine in full, for benchmark cards: timings depend on every one of these."""
    versions = library_versions()
    return {
        "processor": platform.processor(),
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "cores_available": cores_available(),
        "torch_threads": torch.get_num_threads(),
        "torch": versions["torch"],
        "transformers": versions["transformers"],
        "python": versions["python"],
        "platform": platform.platform(),
        "load_average_at_start": list(os.getloadavg()),
    }


def busy_machine_warning(threads: int) -> str:
    """A warning when other processes already keep the cores busy (1-minute load average).

    With more torch threads than idle cores, every op waits at a barrier for a descheduled
    thread: on this 2-core machine a BERT-base forward at batch 1 ran ~10x slower with 2 threads
    than with 1 while another job held a core. Ratios measured in one interleaved run stay
    comparable, but they then measure the contention, not the model.
    """
    cores = cores_available()
    load = os.getloadavg()[0]
    if load + threads <= cores + 0.5:
        return ""
    return (
        f"warning: the machine is busy (load average {load:.1f} on {cores} cores) and the benchmark "
        f"runs {threads} torch threads; timings will reflect the contention. Run it when the machine "
        "is idle, or with fewer --threads; the JSON card records the load."
    )


def launched_processes():
    """accelerate's ``PartialState``: the processes ``accelerate launch`` / ``torchrun`` started
    together (one when run plainly), seen as ``finetune``'s Accelerator sees them (gloo without CUDA)."""
    return PartialState(cpu=not torch.cuda.is_available())
