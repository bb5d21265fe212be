"""The frontier issue's accuracy goals, and a measured drop judged against one in words.

    goal            the average drop over SST-2, MRPC, STS-B and CoLA <= 0.75 points up to 2x
                    (so at 1.5x and 2x) and <= 2.0 at 3x; SST-2's alone <= 0.75 at 2x, <= 1.5 at 3x
    verdict         "met beyond the spread"                    drop + spread <= goal
                    "met on the mean, not beyond the spread"   drop <= goal < drop + spread
                    "met on the mean"                          drop <= goal, no spread measured
                    "missed by x"                              drop - goal = x > 0

The spread is whatever the table quoting the drop prints beside it (the ablation: the standard
deviation over seeds; the SST-2 frontier: half the seeds' range).
"""

from __future__ import annotations

import math

FRONTIER_GOALS = {
    ("average", "1.5x"): 0.75,
    ("average", "2x"): 0.75,
    ("average", "3x"): 2.0,
    ("SST-2", "2x"): 0.75,
    ("SST-2", "3x"): 1.5,
}


def goal_verdict(drop: float, spread: float, goal: float) -> str:
    """``drop`` (points) against ``goal`` in words, with the ``spread`` printed beside the drop."""
    if drop > goal:
        return f"missed by {drop - goal:.2f}"
    if not math.isfinite(spread):
        return "met on the mean"
    return "met beyond the spread" if drop + spread <= goal else "met on the mean, not beyond the spread"
