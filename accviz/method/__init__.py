"""The method: ACC scores, elimination profiles, the FLOPs model, the speedup solver, the pruned forward.

scoring   which word-vectors matter in a layer (ACC and the peers' scores; the one strategy registry)
profile   how many word-vectors survive each layer, as a function of one knob
flops     the analytic FLOPs model of a pruned encoder
speedup   the solver: target speedup -> elimination profile
pruned    the exact pruned forward over HF's BERT modules (gather, never mask)
search    a per-task searched profile family
quantize  int8 weights composed with elimination
"""
