"""Explaining one input or a corpus: the per-layer trace, attributions, the corpus lens."""
