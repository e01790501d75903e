"""One summary line per benchmark, collected by ``bench/run_all.py`` into ``bench/RESULTS.md``.

A benchmark prints its own detail, then calls :func:`emit` once per headline figure:
the figure, the baseline it was measured against in the same process, and their ratio.
"""

from __future__ import annotations

import json

PREFIX = "BENCH-RESULT "


def emit(metric: str, figure: str, baseline: str, ratio: float | None, goal: str = "") -> None:
    """Print a machine-readable summary line (one table row in RESULTS.md)."""
    row = {"metric": metric, "figure": figure, "baseline": baseline,
           "ratio": None if ratio is None else round(float(ratio), 2), "goal": goal}
    print(PREFIX + json.dumps(row), flush=True)
