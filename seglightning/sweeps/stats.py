"""The statistics of a sweep report: which differences between grid cells are real.

- :func:`t_interval`: mean, sample std (n − 1) and the two-sided 95 % Student-t confidence interval
  of the mean over seeds, ``mean ± t(0.975, n − 1) · s / √n`` (NaN for fewer than two values). It
  covers the mean the cell would have over infinitely many seeds (same data, same epochs), under
  the assumption that per-seed scores are roughly normal.
- :func:`sign_flip_pvalue`: exact paired permutation test (sign flips) of the per-seed differences
  ``d_s = cell_s − baseline_s``: under "no difference" each ``d_s`` is as likely ``+|d_s|`` as
  ``−|d_s|``; the two-sided p-value is ``2 · min(P(T ≤ t), P(T ≥ t))`` (capped at 1) over all
  ``2^n`` sign vectors, with ``T`` the mean difference, as ``scipy.stats.permutation_test``
  (``permutation_type="samples"``, ``n_resamples=inf``) computes it. With 2 seeds the smallest
  p-value is 0.5, with 5 seeds 0.0625: few seeds cannot show significance, whatever the gap.
- :func:`paired_bootstrap`: the uncertainty from the finite test set. Images are resampled with
  replacement (the same resample for both cells and every seed), the dataset-level mIoU of each
  run recomputed from the resampled images' per-class TP/FP/FN counts, averaged over the seeds of
  a cell, and the cell − baseline difference taken; the 95 % interval is the 2.5 and 97.5
  percentiles of 10 000 such draws (percentile bootstrap, Efron & Tibshirani 1993, as
  ``scipy.stats.bootstrap(paired=True, method="percentile")``), seeded, so a report is reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats

from ..metrics.functional import mean_iou
from ..metrics.image_counts import ImageCounts

CONFIDENCE = 0.95
BOOTSTRAP_DRAWS = 10_000
BOOTSTRAP_SEED = 0
EXACT_MAX_SEEDS = 16  # 2^16 sign vectors; beyond, a seeded Monte-Carlo sample of them
MONTE_CARLO_FLIPS = 100_000
_CHUNK_ELEMENTS = 1 << 22  # bootstrap draws are processed in chunks of about this many (draw, image) cells


@dataclass(frozen=True)
class Summary:
    """Mean, sample std, number of values and the 95 % Student-t interval of the mean."""

    mean: float
    std: float
    n: int
    low: float
    high: float

    def separated_above(self, other: Summary) -> bool:
        """True when this interval lies entirely above ``other``'s (both defined)."""
        return bool(np.isfinite(self.low) and np.isfinite(other.high) and self.low > other.high)


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Summary:
    """Mean ± ``t(1 − α/2, n − 1) · s / √n`` of ``values`` (NaN interval for fewer than two)."""
    x = np.asarray(values, dtype=np.float64)
    n = int(x.size)
    if n == 0:
        return Summary(np.nan, np.nan, 0, np.nan, np.nan)
    mean = float(x.mean())
    if n < 2:
        return Summary(mean, np.nan, n, np.nan, np.nan)
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / np.sqrt(n)
    return Summary(mean, std, n, mean - half, mean + half)


def sign_flip_pvalue(differences: Sequence[float], seed: int = BOOTSTRAP_SEED) -> float:
    """Two-sided p-value of the paired sign-flip permutation test on the mean difference (exact
    up to :data:`EXACT_MAX_SEEDS` pairs; beyond, :data:`MONTE_CARLO_FLIPS` seeded random flips
    with the +1 correction). NaN without pairs."""
    d = np.asarray(differences, dtype=np.float64)
    n = d.size
    if n == 0:
        return float("nan")
    if n <= EXACT_MAX_SEEDS:
        bits = (np.arange(1 << n)[:, None] >> np.arange(n)) & 1
        null, adjust = (1 - 2 * bits) @ d / n, 0
    else:
        signs = np.random.default_rng(seed).choice((-1.0, 1.0), size=(MONTE_CARLO_FLIPS, n))
        null, adjust = signs @ d / n, 1
    observed = d.mean()
    tol = abs(observed) * np.finfo(np.float64).eps * 100  # ties that rounding split apart
    less = (np.count_nonzero(null <= observed + tol) + adjust) / (null.size + adjust)
    greater = (np.count_nonzero(null >= observed - tol) + adjust) / (null.size + adjust)
    return float(min(1.0, 2 * min(less, greater)))


@dataclass(frozen=True)
class BootstrapResult:
    difference: float  # cell − baseline, dataset-level mIoU on all images, mean over seeds
    low: float
    high: float
    images: int
    draws: int


def _stacked(runs: Sequence[ImageCounts]) -> np.ndarray:
    """Every run's ``[TP | FP | FN]`` side by side, ``[N, R·3C]`` float64 (exact for counts below 2^53),
    so that one matrix product (BLAS; numpy's integer product is not) weighs all of them."""
    return np.concatenate([np.concatenate([r.tp, r.fp, r.fn], axis=1) for r in runs], axis=1).astype(np.float64)


def _pooled_miou(stacked: np.ndarray, runs: int, weights: np.ndarray) -> np.ndarray:
    """Mean over the ``runs`` of ``stacked`` (see :func:`_stacked`) of the mIoU of each weighting of
    the images (``weights [D, N]``)."""
    sums = (weights @ stacked).reshape(len(weights), runs, 3, -1)
    return mean_iou(sums[:, :, 0], sums[:, :, 1], sums[:, :, 2]).mean(axis=1)


@lru_cache(maxsize=2)
def _image_weights(n: int, draws: int, seed: int) -> tuple[np.ndarray, ...]:
    """The bootstrap resamples of ``n`` images as chunks of weights ``[rows, n]`` (how often each
    image was drawn), float64; cached: every comparison of a report resamples the same images."""
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_ELEMENTS // n)
    out = []
    for start in range(0, draws, chunk):
        rows = min(chunk, draws - start)
        index = rng.integers(0, n, (rows, n))  # as scipy.stats.bootstrap draws its resamples
        weights = np.bincount((index + n * np.arange(rows)[:, None]).ravel(), minlength=rows * n).reshape(rows, n)
        weights = weights.astype(np.float64)
        weights.flags.writeable = False
        out.append(weights)
    return tuple(out)


def paired_bootstrap(baseline: Sequence[ImageCounts], cell: Sequence[ImageCounts], draws: int = BOOTSTRAP_DRAWS,
                     seed: int = BOOTSTRAP_SEED, confidence: float = CONFIDENCE) -> BootstrapResult | None:
    """Percentile bootstrap over images of ``mIoU(cell) − mIoU(baseline)``, each the mean over its
    runs (seeds) of the dataset-level mIoU, with one resample of the images shared by every run.
    Only images present in every run count; None if there are none."""
    runs = [*baseline, *cell]
    common = set(runs[0].ids).intersection(*(r.ids for r in runs[1:])) if runs else set()
    if not baseline or not cell or not common:
        return None
    ids = sorted(common)
    baseline, cell = [r.select(ids) for r in baseline], [r.select(ids) for r in cell]
    n = len(ids)
    base_counts, cell_counts = _stacked(baseline), _stacked(cell)

    def difference_of(weights: np.ndarray) -> np.ndarray:
        return _pooled_miou(cell_counts, len(cell), weights) - _pooled_miou(base_counts, len(baseline), weights)

    difference = float(difference_of(np.ones((1, n)))[0])
    samples = [difference_of(weights) for weights in _image_weights(n, draws, seed)]
    alpha = (1 - confidence) / 2
    low, high = np.quantile(np.concatenate(samples), [alpha, 1 - alpha])
    return BootstrapResult(difference, float(low), float(high), n, draws)
