"""How stable the ranking of the cells is: a bootstrap over test images and seeds (``ranks.csv``,
``ranks.md``, ``ranks.png``), in the spirit of challengeR (Wiesenfarth et al. 2021, "Methods and
open-source toolkit for analyzing and visualizing challenge results", Sci. Rep. 11:2369).

Each of ``D`` draws (seeded):

1. resamples the ``N`` test images with replacement, one resample shared by every run of every cell
   (paired across cells, as :func:`~seglightning.sweeps.stats.paired_bootstrap`), as image weights
   ``w ∈ ℕ^N`` (how often each image was drawn);
2. resamples the seeds with replacement, one resample of the union of the seeds shared by every cell
   (runs of the same seed share data order and initialisation), as seed weights ``m_s``;
3. recomputes each run's dataset-level score from the weighted per-image counts,
   ``score_r = f(Σ_i w_i TP_ir, Σ_i w_i FP_ir, Σ_i w_i FN_ir)`` with ``f`` the mIoU or mDice of
   docs/design.md (classes with an empty union left out), and each cell's score as the ``m``-weighted
   mean over its seeds (a cell that has none of the drawn seeds: the plain mean over its seeds);
4. ranks the cells, 1 = highest score; scores equal to 12 decimals are ties, broken at random, so
   two identical cells share the first place evenly.

Per cell: the share of draws ranked first, the median rank and the 95 % rank interval (2.5th and
97.5th percentiles of its ranks, as ranks that occurred: ``inverted_cdf``), and its rank on all
images and seeds. Only images present in every run count. Only the scores the per-image counts
determine can be recomputed: mIoU and mDice (pixel accuracy, bF1 are not in them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..metrics.functional import mean_dice, mean_iou
from ..metrics.image_counts import ImageCounts
from .stats import BOOTSTRAP_DRAWS, BOOTSTRAP_SEED, CONFIDENCE

_CHUNK_ELEMENTS = 1 << 22  # draws are processed in chunks of about this many (draw, column) values
TIE_DECIMALS = 12


SCORES = {"mIoU": mean_iou, "mDice": mean_dice}  # the metrics the per-image TP/FP/FN determine


@dataclass(frozen=True)
class CellRanks:
    """One cell's ranks over the bootstrap draws (1 = best)."""

    key: tuple[str, ...]
    score: float  # on all images and seeds
    rank: int  # on all images and seeds
    first: float  # share of draws ranked first
    median: float
    low: int  # 95 % rank interval
    high: int
    frequency: np.ndarray  # [K] share of draws at rank 1..K


@dataclass(frozen=True)
class RankStability:
    """The rank bootstrap of one metric."""

    metric: str
    cells: list[CellRanks]  # in the order of the cells given
    images: int
    seeds: list[int]
    draws: int
    seed: int
    split: str | None = None

    def rows(self) -> list[dict[str, object]]:
        """One plain dict per cell (what ``ranks.csv`` holds, without the grid columns)."""
        return [
            {"metric": self.metric, "key": c.key, "score": c.score, "rank": c.rank, "p_first": c.first,
             "median_rank": c.median, "rank_low": c.low, "rank_high": c.high, "images": self.images,
             "seeds": len(self.seeds), "draws": self.draws}
            for c in self.cells
        ]


def _rank(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ranks ``[D, K]`` (1 = highest) of ``scores [D, K]``, NaN last, ties in random order."""
    key = np.round(np.where(np.isnan(scores), -np.inf, scores), TIE_DECIMALS)
    order = np.lexsort((rng.random(scores.shape), -key), axis=-1)
    ranks = np.empty(scores.shape, dtype=np.int64)
    np.put_along_axis(ranks, order, np.arange(1, scores.shape[-1] + 1)[None, :], axis=-1)
    return ranks


def rank_bootstrap(cells: Sequence[tuple[tuple[str, ...], dict[int, ImageCounts]]], metric: str = "mIoU",
                   draws: int = BOOTSTRAP_DRAWS, seed: int = BOOTSTRAP_SEED,
                   confidence: float = CONFIDENCE) -> RankStability | None:
    """The rank bootstrap of ``cells`` (each ``(key, {seed: counts})``) on ``metric`` (``mIoU`` or
    ``mDice``), see the module docstring; None with fewer than two cells or no common image."""
    found = rank_bootstraps(cells, [metric], draws, seed, confidence)
    return found[0] if found else None


def rank_bootstraps(cells: Sequence[tuple[tuple[str, ...], dict[int, ImageCounts]]], metrics: Sequence[str],
                    draws: int = BOOTSTRAP_DRAWS, seed: int = BOOTSTRAP_SEED,
                    confidence: float = CONFIDENCE) -> list[RankStability]:
    """:func:`rank_bootstrap` of several metrics from the same draws (one pass over the weighted
    counts; each metric's result is the one :func:`rank_bootstrap` gives alone)."""
    unknown = [m for m in metrics if m not in SCORES]
    if unknown:
        raise ValueError(f"rank stability needs a score the per-image counts determine ({', '.join(SCORES)}), "
                         f"not {', '.join(unknown)}")
    cells = [(key, runs) for key, runs in cells if runs]
    if len(cells) < 2 or not metrics:
        return []
    all_runs = [r for _, runs in cells for r in runs.values()]
    common = set(all_runs[0].ids).intersection(*(r.ids for r in all_runs[1:]))
    if not common:
        return []
    ids = sorted(common)
    n, k = len(ids), len(cells)
    seeds = sorted({s for _, runs in cells for s in runs})
    # one matrix of every run's counts, [N, runs · 3 · C]: one product per chunk of draws
    columns, owner, seed_of = [], [], []
    for c, (_, runs) in enumerate(cells):
        for s, r in runs.items():
            r = r.select(ids)
            columns.append(np.concatenate([r.tp, r.fp, r.fn], axis=1).astype(np.float64))
            owner.append(c)
            seed_of.append(seeds.index(s))
    classes = columns[0].shape[1] // 3
    if any(col.shape[1] != 3 * classes for col in columns):
        raise ValueError("the runs' per_image.csv files have different classes")
    counts = np.concatenate(columns, axis=1)  # [N, R·3C]
    owner_a, seed_a = np.array(owner), np.array(seed_of)
    membership = np.zeros((len(owner), k))
    membership[np.arange(len(owner)), owner_a] = 1.0  # [R, K]

    def cell_scores(weighted: np.ndarray, seed_weights: np.ndarray, metric: str) -> np.ndarray:
        """weighted [D, R·3C] summed counts, seed_weights [D, S] -> cell scores [D, K]."""
        sums = weighted.reshape(len(weighted), len(owner), 3, classes)
        per_run = SCORES[metric](sums[:, :, 0], sums[:, :, 1], sums[:, :, 2])  # [D, R]
        w = seed_weights[:, seed_a]  # [D, R]
        total = w @ membership  # [D, K]
        plain = per_run @ membership / membership.sum(0)
        return np.where(total > 0, (per_run * w) @ membership / np.maximum(total, 1e-300), plain)

    image_rng, seed_rng = np.random.default_rng([seed, 1]), np.random.default_rng([seed, 2])
    tie_rngs = {m: np.random.default_rng([seed, 0, list(SCORES).index(m)]) for m in metrics}
    full = {m: cell_scores(counts.sum(0)[None], np.ones((1, len(seeds))), m)[0] for m in metrics}
    full_rank = {m: _rank(full[m][None], tie_rngs[m])[0] for m in metrics}
    chunk = max(1, _CHUNK_ELEMENTS // max(n, counts.shape[1]))
    ranks: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
    for start in range(0, draws, chunk):
        rows = min(chunk, draws - start)
        index = image_rng.integers(0, n, (rows, n))
        weights = np.bincount((index + n * np.arange(rows)[:, None]).ravel(), minlength=rows * n).reshape(rows, n)
        picked = seed_rng.integers(0, len(seeds), (rows, len(seeds)))
        seed_weights = np.zeros((rows, len(seeds)))
        np.add.at(seed_weights, (np.arange(rows)[:, None], picked), 1.0)
        weighted = weights.astype(np.float64) @ counts
        for m in metrics:
            ranks[m].append(_rank(cell_scores(weighted, seed_weights, m), tie_rngs[m]))
    alpha = (1 - confidence) / 2
    out = []
    for m in metrics:
        drawn = np.concatenate(ranks[m])  # [D, K]
        frequency = (drawn[:, :, None] == np.arange(1, k + 1)).mean(0)  # [K, K]
        low = np.quantile(drawn, alpha, axis=0, method="inverted_cdf")
        high = np.quantile(drawn, 1 - alpha, axis=0, method="inverted_cdf")
        median = np.median(drawn, axis=0)
        out.append(RankStability(m, [
            CellRanks(key, float(full[m][c]), int(full_rank[m][c]), float(frequency[c, 0]), float(median[c]),
                      int(low[c]), int(high[c]), frequency[c])
            for c, (key, _) in enumerate(cells)
        ], n, seeds, draws, seed))
    return out
