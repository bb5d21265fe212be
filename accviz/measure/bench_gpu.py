"""Benchmark on a GPU: BERT-base shapes, 128 tokens, batch 1/32/128, fp32 and bf16, targets 1-4x.

    python -m accviz.bench gpu [--smoke]   ->  cached_runs/bench/gpu.csv (+ .json)

Per precision and batch, one interleaved run times the plain HF model (eager and sdpa) and
``PrunedBert`` at each target; every timed call ends with ``torch.cuda.synchronize()`` so the
clock sees the kernels, not their launch. Speedups are against the faster plain model in the same
precision; the estimate is the FLOPs model's. Sized to finish in under 5 minutes on one GPU.

On a machine without CUDA it writes nothing and says so (exit 0), so it never breaks a CPU-only
run; ``--smoke`` runs the same code on a tiny model on whatever device there is (CPU here), which
is how the tests keep it working.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from accviz.measure.latency import forward_runs, interleaved_latency
from accviz.measure.report import show_table
from accviz.measure.workloads import (
    BERT_BASE,
    PLAIN_MODELS,
    TINY_2L,
    EncoderSpec,
    benchmark_inputs,
    plain_models,
    pruned_key,
)
from accviz.method.flops import estimated_speedup
from accviz.method.pruned import PrunedBert
from accviz.method.scoring import ACC
from accviz.method.speedup import solve_profile
from accviz.results import bench_card, write_table


@dataclass(frozen=True)
class GpuSettings:
    encoder: EncoderSpec
    length: int
    batch_sizes: tuple[int, ...]
    dtypes: tuple[str, ...]
    targets: tuple[float, ...]
    repeats: int
    warmup: int


GPU_FULL = GpuSettings(BERT_BASE, 128, (1, 32, 128), ("fp32", "bf16"), (1.0, 1.5, 2.0, 3.0, 4.0), 30, 5)
GPU_SMOKE = GpuSettings(TINY_2L, 16, (1, 2), ("fp32", "bf16"), (1.0, 2.0), 2, 1)
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({device.type})"


def run_gpu(
    settings: GpuSettings, out_dir: Path, *, command: str, smoke: bool, note: str = "", log=print
) -> pd.DataFrame | None:
    if torch.cuda.is_available():
        device = torch.device("cuda")
    elif smoke:
        device = torch.device("cpu")
    else:
        log("gpu: no CUDA device on this machine; nothing measured, nothing written.")
        return None
    card = bench_card(
        "gpu",
        command,
        smoke,
        {
            "model": settings.encoder.name,
            "length": settings.length,
            "batch_sizes": list(settings.batch_sizes),
            "dtypes": list(settings.dtypes),
            "targets": list(settings.targets),
            "repeats": settings.repeats,
            "device": device_name(device),
        },
        note,
    )
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    base_model = settings.encoder.build()
    rows = []
    for dtype_name in settings.dtypes:
        model = copy.deepcopy(base_model).to(device=device, dtype=DTYPES[dtype_name]).eval()
        plain = plain_models(model)
        pruned = PrunedBert(model)
        for batch in settings.batch_sizes:
            ids, mask = (t.to(device) for t in benchmark_inputs(model.config, batch, settings.length))
            lengths = [settings.length] * batch
            profiles = {
                t: (solve_profile(model.config, lengths, t, warn=False).profile if t > 1 else None)
                for t in settings.targets
            }
            named = {pruned_key(t): profile for t, profile in profiles.items()}
            runs = forward_runs(plain, pruned, (ids, mask), named, ACC.new_scorer(), synchronize=synchronize)
            stats = interleaved_latency(runs, repeats=settings.repeats, warmup=settings.warmup)
            base_name = min(PLAIN_MODELS, key=lambda n: stats[n].median_s)
            base = stats[base_name]
            for target, profile in profiles.items():
                run = stats[pruned_key(target)]
                estimate = estimated_speedup(model.config, lengths, profile)
                measured = base.median_s / run.median_s
                rows.append(
                    {
                        "device": device_name(device),
                        "model": settings.encoder.name,
                        "dtype": dtype_name,
                        "batch": batch,
                        "length": settings.length,
                        "target": target,
                        "estimated_speedup": estimate,
                        "measured_speedup": measured,
                        "measured_over_estimated": measured / estimate,
                        "baseline": base_name,
                        "baseline_ms": base.median_s * 1e3,
                        "ms_p10": run.p10_s * 1e3,
                        "ms_median": run.median_s * 1e3,
                        "ms_p90": run.p90_s * 1e3,
                    }
                )
            log(f"  {dtype_name} batch {batch}: done")
    table = pd.DataFrame(rows)
    write_table(out_dir, "gpu", table, card)
    shown = ("dtype", "batch", "target", "estimated_speedup", "measured_speedup", "ms_median")
    log(show_table(table, shown, f"\ngpu: {device_name(device)}"))
    return table
