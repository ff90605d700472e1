"""Alternating measurement rounds (reference, ours, reference, ours, ...) and their summary.

Both sides get the same treatment: the same number of runs, interleaved so that a slow
stretch of the machine hits both, every run printed, then the median and the best of each
and the ratio of the medians (the figure the targets refer to) and of the bests.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence


def alternate(
    rounds: int, measures: Sequence[tuple[str, Callable[[], float]]]
) -> dict[str, list[float]]:
    """Run every measure once per round, in the given order; the figures by label."""
    runs: dict[str, list[float]] = {label: [] for label, _ in measures}
    for n in range(1, rounds + 1):
        for label, measure in measures:
            print(f"round {n}/{rounds}: {label}", flush=True)
            runs[label].append(measure())
    return runs


def summary(runs: dict[str, list[float]], reference: str, unit: str, target: str = "") -> str:
    """One line per side (every run, median, best) and the ratios to `reference`."""
    lines = []
    for label, figures in runs.items():
        each = ", ".join(f"{f:,.0f}" for f in figures)
        lines.append(
            f"{label}: median {statistics.median(figures):,.0f} {unit}, "
            f"best {max(figures):,.0f} (runs: {each})"
        )
    ref = runs[reference]
    for label, figures in runs.items():
        if label == reference:
            continue
        med = statistics.median(figures) / statistics.median(ref)
        best = max(figures) / max(ref)
        lines.append(
            f"{label} = {med:.0%} of {reference} (medians), {best:.0%} (bests)"
            + (f" (target {target})" if target else "")
        )
    return "\n".join(lines)
