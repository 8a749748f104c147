"""The rank-stability outputs of a sweep report: ``ranks.csv``, ``ranks.md`` and ``ranks.png``
(cells × rank, dot area = share of the bootstrap draws at that rank), from
:func:`~seglightning.sweeps.rank_stability.rank_bootstrap`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from .rank_stability import RankStability


def _label(key: tuple[str, ...], columns: Sequence[str]) -> str:
    return ", ".join(f"{c}={v}" for c, v in zip(columns, key))


def rank_rows(stabilities: Sequence[RankStability], columns: Sequence[str]) -> tuple[list[str], list[list[object]]]:
    """Header and rows of ``ranks.csv``: per metric and cell, its score and rank on all images and seeds,
    the share of draws ranked first, the median rank and the 95 % rank interval."""
    header = [*columns, "metric", "score", "rank", "p_first", "median_rank", "rank_low", "rank_high", "images",
              "seeds", "draws", "split"]
    rows = [
        [*c.key, s.metric, c.score, c.rank, c.first, c.median, c.low, c.high, s.images, len(s.seeds), s.draws,
         s.split or ""]
        for s in stabilities
        for c in sorted(s.cells, key=lambda c: c.rank)
    ]
    return header, rows


def ranks_markdown(title: str, stabilities: Sequence[RankStability], columns: Sequence[str],
                   left_out: Sequence[tuple[str, ...]] = ()) -> str:
    """``ranks.md``: per metric, the cells by their rank on all data, with the bootstrap's share of
    first places, median rank and 95 % rank interval."""
    parts = [f"# {title}: how stable is the ranking?", ""]
    if not stabilities:
        parts.append("No per-image results (`per_image.csv`) shared by two or more cells: nothing to resample.")
        return "\n".join(parts) + "\n"
    s0 = stabilities[0]
    parts += [
        f"Bootstrap of the ranking ({s0.draws} seeded draws, seed {s0.seed}): each draw resamples the "
        f"{s0.images} `{s0.split or '?'}` images of the runs' `per_image.csv` with replacement (the same images "
        f"for every cell) and the {len(s0.seeds)} seeds with replacement (the same seeds for every cell), "
        "recomputes every run's dataset-level score from the drawn images' per-class TP/FP/FN, averages a "
        "cell's drawn seeds and ranks the cells (1 = best; exact ties broken at random). A cell that is first in "
        "most draws and whose 95 % rank interval is [1, 1] leads on this test set and these seeds; overlapping "
        "rank intervals mean the data do not order those cells.",
    ]
    if left_out:
        parts += ["", "Left out (no `per_image.csv` of that split): "
                  + "; ".join(_label(k, columns) for k in left_out) + "."]
    for s in stabilities:
        parts += [
            "",
            f"## {s.metric}",
            "",
            "| " + " | ".join([*columns, s.metric, "rank", "first in", "median rank", "95 % rank interval"]) + " |",
            "|" + "---|" * len(columns) + "---:|---:|---:|---:|---|",
        ]
        for c in sorted(s.cells, key=lambda c: c.rank):
            parts.append("| " + " | ".join([*c.key, f"{c.score:.4f}", str(c.rank), f"{100 * c.first:.1f} %",
                                             f"{c.median:g}", f"[{c.low}, {c.high}]"]) + " |")
    return "\n".join(parts) + "\n"


def ranks_plot(stabilities: Sequence[RankStability], columns: Sequence[str]) -> Figure:
    """One panel per metric: a row per cell (best on top), a dot per rank sized by the share of draws
    at that rank, the median rank marked and the 95 % rank interval drawn as a line."""
    k = max(len(s.cells) for s in stabilities)
    fig = Figure(figsize=(2.5 + 0.45 * k * len(stabilities) + 2.5, 1.4 + 0.38 * k), layout="constrained")
    axes = fig.subplots(1, len(stabilities), squeeze=False, sharey=False)[0]
    for ax, s in zip(axes, stabilities):
        cells = sorted(s.cells, key=lambda c: c.rank)
        y = np.arange(len(cells))
        for i, c in enumerate(cells):
            ranks = np.arange(1, len(c.frequency) + 1)
            seen = c.frequency > 0
            ax.scatter(ranks[seen], np.full(seen.sum(), i), s=600 * c.frequency[seen], color="tab:blue", alpha=0.6,
                       linewidths=0)
            ax.plot([c.low, c.high], [i, i], color="black", lw=1)
            ax.plot([c.median], [i], marker="|", color="black", markersize=12)
        ax.set_yticks(y, [_label(c.key, columns) for c in cells], fontsize=8)
        ax.set_xticks(np.arange(1, len(cells) + 1))
        ax.set_xlim(0.4, len(cells) + 0.6)
        ax.set_ylim(len(cells) - 0.5, -0.5)
        ax.set_xlabel("rank (1 = best)")
        ax.grid(axis="x", alpha=0.3)
        ax.set_title(s.metric)
    s0 = stabilities[0]
    fig.suptitle(f"rank in {s0.draws} bootstrap draws over images and seeds: dot area = share of draws, "
                 "line = 95 % rank interval, | = median", fontsize=9)
    return fig
