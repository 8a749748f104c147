"""The report's statistics against scipy on fixed numbers: Student-t interval, exact sign-flip
permutation test, paired percentile bootstrap over images."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from seglightning.metrics.functional import mean_iou
from seglightning.metrics.image_counts import ImageCounts
from seglightning.sweeps.stats import paired_bootstrap, sign_flip_pvalue, t_interval

SCORES = [0.612, 0.655, 0.631, 0.598, 0.640]


def test_t_interval_is_scipys_student_t_interval_of_the_mean():
    summary = t_interval(SCORES)
    x = np.array(SCORES)
    low, high = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert (summary.mean, summary.std, summary.n) == (pytest.approx(x.mean()), pytest.approx(x.std(ddof=1)), 5)
    assert (summary.low, summary.high) == (pytest.approx(low, rel=1e-12), pytest.approx(high, rel=1e-12))
    # two seeds: t(0.975, 1) = 12.706, a wide interval
    two = t_interval([0.60, 0.62])  # s = 0.01·√2, half-width t(0.975, 1)·s/√2 = 12.7062·0.01
    assert two.high - two.low == pytest.approx(2 * 12.706204736 * 0.01, rel=1e-8)
    one = t_interval([0.6])
    assert one.mean == 0.6 and np.isnan(one.std) and np.isnan(one.low) and np.isnan(one.high)


@pytest.mark.parametrize("pair", [
    ([0.61, 0.64, 0.60, 0.66, 0.63], [0.60, 0.61, 0.59, 0.62, 0.60]),  # all positive: smallest p = 2/32
    ([0.61, 0.64, 0.60, 0.66, 0.63], [0.62, 0.61, 0.59, 0.67, 0.60]),  # mixed signs
    ([0.5, 0.7], [0.4, 0.8]),  # ties in the null distribution (|d| equal)
    ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5]),  # no difference at all
])
def test_sign_flip_pvalue_is_scipys_exact_paired_permutation_test(pair):
    cell, base = map(np.array, pair)
    expected = stats.permutation_test((cell, base), lambda x, y, axis=-1: np.mean(x - y, axis=axis),
                                      permutation_type="samples", n_resamples=np.inf, vectorized=True,
                                      alternative="two-sided").pvalue
    assert sign_flip_pvalue(cell - base) == pytest.approx(expected, abs=1e-12)


def test_sign_flip_pvalue_by_hand():
    assert sign_flip_pvalue([0.01, 0.02]) == 0.5  # 2 seeds can never go below 0.5
    assert sign_flip_pvalue([0.01] * 5) == pytest.approx(2 / 32)


def counts(rng: np.random.Generator, ids: list[str], classes: int, quality: float) -> ImageCounts:
    tp = rng.integers(0, 50, (len(ids), classes)) + int(quality * 20)
    return ImageCounts(ids, tp, rng.integers(0, 30, tp.shape), rng.integers(0, 30, tp.shape))


def test_paired_bootstrap_matches_scipys_paired_percentile_bootstrap():
    rng = np.random.default_rng(7)
    ids = [f"img{i:02d}" for i in range(30)]
    base, cell = counts(rng, ids, 3, 0.0), counts(rng, ids, 3, 1.0)
    shuffled = ImageCounts(ids[::-1], cell.tp[::-1], cell.fp[::-1], cell.fn[::-1])  # matched by id, not by row
    ours = paired_bootstrap([base], [shuffled], draws=10_000, seed=3)

    def statistic(*arrays, axis=-1):
        b_tp, b_fp, b_fn, c_tp, c_fp, c_fn = (np.stack(arrays[k:k + 3], -1).sum(axis - 1) for k in range(0, 18, 3))
        return mean_iou(c_tp, c_fp, c_fn) - mean_iou(b_tp, b_fp, b_fn)

    # one 1-D sample per (count, class), scipy resamples them together (paired=True)
    scipy_data = [a[:, c] for a in (base.tp, base.fp, base.fn, cell.tp, cell.fp, cell.fn) for c in range(3)]
    expected = stats.bootstrap(scipy_data, statistic, paired=True, vectorized=True, n_resamples=10_000,
                               method="percentile", rng=np.random.default_rng(3))
    full = statistic(*[x[None] for x in scipy_data])
    assert ours.images == 30 and ours.difference == pytest.approx(float(full[0]), rel=1e-12)
    assert ours.low == pytest.approx(expected.confidence_interval.low, rel=1e-12)
    assert ours.high == pytest.approx(expected.confidence_interval.high, rel=1e-12)
    assert ours.low < ours.difference < ours.high


def test_paired_bootstrap_pools_seeds_and_uses_common_images_only():
    rng = np.random.default_rng(0)
    ids = [f"i{k}" for k in range(12)]
    base = [counts(rng, ids, 2, 0.0) for _ in range(2)]
    cell = [counts(rng, ids, 2, 0.5) for _ in range(2)]
    pooled = paired_bootstrap(base, cell, draws=2000)
    per_seed = np.mean(
        [
            mean_iou(c.tp.sum(0), c.fp.sum(0), c.fn.sum(0)) - mean_iou(b.tp.sum(0), b.fp.sum(0), b.fn.sum(0))
            for b, c in zip(base, cell)
        ]
    )
    assert pooled.difference == pytest.approx(per_seed)
    assert pooled == paired_bootstrap(base, cell, draws=2000)  # seeded
    partial = ImageCounts(ids[:6], cell[0].tp[:6], cell[0].fp[:6], cell[0].fn[:6])
    assert paired_bootstrap(base, [partial], draws=100).images == 6
    assert paired_bootstrap(base, [ImageCounts(["other"], *(np.ones((1, 2), int),) * 3)]) is None
