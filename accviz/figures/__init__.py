"""Figures (matplotlib/plotly functions that take results and return a figure, bertviz-style)."""
