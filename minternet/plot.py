"""The experiment's figures, drawn with matplotlib (off screen): the notes' picture of
distribution time against N, measured and bound, and the rarest piece's availability."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed, none opened

import matplotlib.pyplot as plt

from peer.distribution import CLIENT_SERVER, P2P, Result

FORMATS = ("png", "svg")


def _finish(
    fig: plt.Figure, ax: plt.Axes, x: str, y: str, title: str, subtitle: str, stem: Path
) -> list[Path]:
    """Label the axes, title, grid and legend, and write the figure as PNG and SVG."""
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{title}\n{subtitle}", fontsize=10)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return _save(fig, stem)


def _save(fig: plt.Figure, stem: Path) -> list[Path]:
    paths = [stem.with_suffix(f".{ext}") for ext in FORMATS]
    for path in paths:
        fig.savefig(path, dpi=120)
    plt.close(fig)
    return paths


def distribution(results: Sequence[Result], stem: Path, subtitle: str) -> list[Path]:
    """Minimum distribution time against N: both measured curves, both bounds."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = {CLIENT_SERVER: ("tab:red", "client-server"), P2P: ("tab:blue", "P2P")}
    for mode, (color, name) in styles.items():
        runs = sorted((r for r in results if r.mode == mode), key=lambda r: r.n)
        if not runs:
            continue
        ns = [r.n for r in runs]
        ax.plot(ns, [r.measured_s for r in runs], "o-", color=color, label=f"{name}, measured")
        ax.plot(ns, [r.bound_s for r in runs], "--", color=color, label=f"{name}, bound")
    return _finish(
        fig, ax, "N (downloaders)", "time to distribute the file (s)", "Client-server vs P2P",
        subtitle, stem,
    )  # fmt: skip


def availability(
    curves: dict[str, list[tuple[float, int]]], stem: Path, subtitle: str
) -> list[Path]:
    """Copies of the rarest piece in the swarm over time, one step curve per piece order."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, points in curves.items():
        ax.step([t for t, _ in points], [c for _, c in points], where="post", label=name)
    return _finish(
        fig, ax, "time since the downloaders started (s)", "copies of the rarest piece",
        "Availability of the rarest piece", subtitle, stem,
    )  # fmt: skip
