"""How many seeds a comparison needs (``seglightning-report --delta``).

The per-seed differences ``d_s = cell_s − baseline_s`` of a pilot sweep give an estimate of their
standard deviation ``σ``. A two-sided paired t-test (= one-sample t-test of the ``d_s``) at level
``α`` with ``n`` seeds, for a true mean difference ``δ``, has the power (Cohen 1988, "Statistical
Power Analysis for the Behavioral Sciences", ch. 2; as ``statsmodels.stats.power.TTestPower``)::

    power(n) = P(T > t_{1−α/2, n−1}) + P(T < −t_{1−α/2, n−1}),
    T ~ noncentral t(df = n − 1, noncentrality = (δ / σ) · √n)

:func:`seeds_needed` solves ``power(n) = 0.8`` for ``n`` (a real number, bisection on the
noncentral t of scipy) and rounds it up: the number of seeds per cell to run. ``δ`` is the observed
mean difference, or a difference the user names (``--delta 0.01``). The estimate is only as good as
``σ``: from fewer than 3 seeds (1 degree of freedom) it is unreliable, and it is flagged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

POWER = 0.8
ALPHA = 0.05
MIN_RELIABLE_SEEDS = 3
MIN_SEEDS = 2  # a t-test needs one degree of freedom
HUGE_EFFECT = 1e6  # δ/σ beyond which two seeds have power 1 to double precision
MAX_SEEDS = 10_000  # beyond, the difference is reported as out of reach (inf)


def t_test_power(effect_size: float, n: float, alpha: float = ALPHA) -> float:
    """Power of the two-sided one-sample (paired) t-test with ``n`` pairs for ``effect_size = δ/σ``."""
    df = n - 1
    crit = stats.t.isf(alpha / 2, df)
    nc = effect_size * math.sqrt(n)
    # P(T < −c | nc) = P(T > c | −nc): scipy's nct.cdf returns NaN far in the left tail
    return float(stats.nct.sf(crit, df, nc) + stats.nct.sf(crit, df, -nc))


def solve_seeds(effect_size: float, power: float = POWER, alpha: float = ALPHA) -> float:
    """The real ``n ≥ 2`` with ``t_test_power(effect_size, n) = power``; 2 if two seeds already
    suffice, inf for no effect or beyond :data:`MAX_SEEDS`; NaN for an undefined effect."""
    if math.isnan(effect_size):
        return math.nan
    effect = abs(effect_size)
    if effect == 0:
        return math.inf
    if effect >= HUGE_EFFECT:  # also inf; scipy's nct is NaN for noncentralities near 1e10
        return float(MIN_SEEDS)
    if t_test_power(effect, MIN_SEEDS, alpha) >= power:
        return float(MIN_SEEDS)
    low, high = float(MIN_SEEDS), float(2 * MIN_SEEDS)
    while t_test_power(effect, high, alpha) < power:  # double up to a bracket (extreme n make nct NaN)
        if high >= MAX_SEEDS:
            return math.inf
        low, high = high, min(2 * high, float(MAX_SEEDS))
    return float(optimize.brentq(lambda n: t_test_power(effect, n, alpha) - power, low, high, xtol=1e-12, rtol=1e-14))


@dataclass(frozen=True)
class SeedsNeeded:
    """Seeds per cell for a paired t-test to detect ``delta`` (80 % power, α = 0.05) given the
    pilot's std of the per-seed differences."""

    delta: float  # the difference to detect
    std: float  # sample std (n − 1) of the pilot's per-seed differences
    pilot: int  # seeds in the pilot
    n_exact: float  # the real solution of power(n) = 0.8
    seeds: float  # ceil(n_exact): seeds to run (inf: out of reach; NaN: unknown)

    @property
    def reliable(self) -> bool:
        return self.pilot >= MIN_RELIABLE_SEEDS

    def text(self) -> str:
        """``7`` / ``≥ 1e6`` / ``–``, with ``(unreliable: 2-seed pilot)`` under 3 seeds."""
        if math.isnan(self.seeds):
            value = "–"
        elif math.isinf(self.seeds):
            value = f"> {MAX_SEEDS:.0e}" if self.delta != 0 else "∞ (no difference)"
        else:
            value = str(int(self.seeds))
        if not self.reliable and self.pilot >= 2:
            value += f" (unreliable: {self.pilot}-seed pilot)"
        elif self.pilot < 2:
            value = f"– (needs ≥ 2 seeds, pilot has {self.pilot})"
        return value


def seeds_needed(differences: Sequence[float], delta: float | None = None, power: float = POWER,
                 alpha: float = ALPHA) -> SeedsNeeded:
    """Seeds needed to detect ``delta`` (default: the observed mean of ``differences``) given the
    std of ``differences`` (a zero std: 2 seeds detect any nonzero difference)."""
    d = np.asarray(differences, dtype=np.float64)
    pilot = int(d.size)
    target = float(d.mean()) if delta is None and pilot else (math.nan if delta is None else float(delta))
    if pilot < 2 or not math.isfinite(target):
        return SeedsNeeded(target, math.nan, pilot, math.nan, math.nan)
    std = float(d.std(ddof=1))
    if std == 0:
        n = math.inf if target == 0 else float(MIN_SEEDS)
    else:
        n = solve_seeds(target / std, power, alpha)
    return SeedsNeeded(target, std, pilot, n, float(math.ceil(n)) if math.isfinite(n) else n)
