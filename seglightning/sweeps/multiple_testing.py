"""p-values adjusted for the number of comparisons in a family (``seglightning-report --adjust``).

A report compares every cell with the baseline, so with 11 cells about one p-value in 20 falls
below 0.05 by chance alone. The family is one metric's comparisons (every cell against the
baseline on, say, mIoU). With ``m`` p-values of a family sorted ascending ``p(1) ≤ … ≤ p(m)``:

- ``holm`` (Holm 1979, "A simple sequentially rejective multiple test procedure", Scand. J.
  Statist. 6:65–70): ``p̃(i) = max_{j ≤ i} min(1, (m − j + 1) · p(j))``. Controls the family-wise
  error rate (the chance of any false "different") at α, under any dependence; the default.
- ``bh`` (Benjamini & Hochberg 1995, "Controlling the false discovery rate", JRSS B 57:289–300):
  ``p̃(i) = min_{j ≥ i} min(1, m / j · p(j))``. Controls the expected share of false discoveries
  among the differences called real (independent or positively dependent tests); less strict.
- ``none``: ``p̃ = p``.

As ``statsmodels.stats.multitest.multipletests`` (``holm``, ``fdr_bh``) computes them. NaN
p-values (a comparison without paired seeds) are left out of the family and stay NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

METHODS = ("holm", "bh", "none")
DEFAULT_METHOD = "holm"
ALPHA = 0.05
DESCRIPTION = {
    "holm": "Holm-adjusted (family-wise error rate)",
    "bh": "Benjamini–Hochberg-adjusted (false discovery rate)",
    "none": "unadjusted",
}


def adjust_pvalues(pvalues: Sequence[float], method: str = DEFAULT_METHOD) -> np.ndarray:
    """The adjusted p-values of one family, in the order given (see the module docstring)."""
    if method not in METHODS:
        raise ValueError(f"--adjust {method}: not one of {', '.join(METHODS)}")
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = finite.size
    if m == 0:
        return out
    if method == "none":
        out[finite] = p[finite]
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    ranked = p[order]
    j = np.arange(1, m + 1)
    if method == "holm":
        adjusted = np.maximum.accumulate(np.minimum(1.0, (m - j + 1) * ranked))
    else:
        adjusted = np.minimum.accumulate(np.minimum(1.0, m / j * ranked)[::-1])[::-1]
    out[order] = adjusted
    return out
