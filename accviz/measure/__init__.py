"""Measuring the method: latency, offline-tuning evaluation, sweeps, averages, the frontier, benchmarks.

latency   interleaved timing and the calibrated latency predictor
evaluate  one checkpoint at one target speedup on one split
sweep     a checkpoint over a grid of speedups and strategies
average   the average drop over tasks and seeds (suites from cached_runs/suites.json), its envelope
ablation  one row per lever over every task: average and SST-2 drops, fine-tuning time, command
frontier  the per-lever table and the envelope over depth and speedup
held_out_choice  a recipe chosen per task on held-out train slices (cached_runs/choices.json)
workloads what the latency benchmarks time, and timing it in one interleaved run
bench_speedup, bench_fidelity, bench_accuracy   one module per benchmark (``python -m accviz.bench``)
int8, gpu benchmarks of int8 × elimination and of a GPU
report    the stored benchmark tables as Markdown
"""
