"""Group the finished runs of a sweep into grid cells and aggregate over seeds.

A cell is one combination of the grid values other than the seed: the loss and architecture
labels of every run, plus each override whose value differs between runs (``optim.lr=1e-3,3e-3``
adds an ``optim.lr`` column). Within a cell, a metric is summarised over the complete runs by its
mean, sample standard deviation (ddof = 1) and 95 % Student-t interval of the mean
(:func:`~seglightning.sweeps.stats.t_interval`; NaN for a single seed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..run.directory import RunStatus
from ..run.report_table import HEADLINE, LOWER_IS_BETTER
from .runs import LABELS, PREFIX, Run
from .stats import Summary, t_interval

SEED = "seed"


def _sort_key(value: str) -> tuple[int, float, str]:
    """Numbers in numeric order before text in alphabetical order."""
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def grid_columns(runs: Sequence[Run]) -> list[str]:
    """``loss``, ``model``, then every other override key whose value varies across runs."""
    keys = sorted({k for r in runs for k in r.overrides} - {SEED, *LABELS})
    varying = [k for k in keys if len({r.overrides.get(k) for r in runs}) > 1]
    return [*LABELS, *varying]


def cell_of(run: Run, columns: Sequence[str]) -> tuple[str, ...]:
    return tuple(run.labels[c] if c in LABELS else run.overrides.get(c, "") for c in columns)


def _tolerance_order(name: str) -> tuple[str, str, float]:
    """``bF1@<t>px`` / ``bF1@<t>diag`` (then ``bIoU@...``) columns by unit, then by tolerance as a
    number (3 px before 12 px)."""
    family, _, value = name.partition("@")
    unit = value.lstrip("0123456789.e-")
    number = value[: len(value) - len(unit)]
    return (family, unit, float(number) if number else 0.0)


def metric_names(runs: Iterable[Run], section: str) -> list[str]:
    """Scalar summary metrics present in ``section``: the headline ones, then the ``bF1@<t>``,
    ``bIoU@<r>`` and ``NSD@<t>px`` variants."""
    prefix = PREFIX[section]
    present = {k[len(prefix):] for r in runs for k in r.metrics.get(section, {}) if k.startswith(prefix)}
    tolerances = sorted((m for m in present if m.startswith(("bF1@", "bIoU@", "NSD@"))), key=_tolerance_order)
    return [m for m in HEADLINE if m in present] + tolerances


def class_names(runs: Iterable[Run], section: str) -> list[str]:
    """Classes with a per-class IoU in ``section``, in the order the runs logged them."""
    prefix = PREFIX[section] + "IoU/"
    names: dict[str, None] = {}
    for r in runs:
        names.update((k[len(prefix):], None) for k in r.metrics.get(section, {}) if k.startswith(prefix))
    return list(names)


@dataclass
class Cell:
    """The complete runs of one grid cell and their metrics summarised over seeds."""

    key: tuple[str, ...]
    runs: list[Run]
    summary: dict[str, Summary]  # metric -> mean, std, n, 95 % t-interval over seeds

    @property
    def seeds(self) -> list[int | None]:
        return [r.seed for r in self.runs]

    @property
    def mean(self) -> dict[str, float]:
        return {m: s.mean for m, s in self.summary.items()}

    @property
    def std(self) -> dict[str, float]:
        return {m: s.std for m, s in self.summary.items()}

    def half_width(self, metric: str) -> float:
        """Half the width of the 95 % interval of ``metric`` (NaN for a single seed)."""
        s = self.summary.get(metric)
        return float("nan") if s is None else (s.high - s.low) / 2


def aggregate(runs: Sequence[Run], columns: Sequence[str], section: str, metrics: Sequence[str]) -> list[Cell]:
    """One :class:`Cell` per grid combination that has at least one complete run, sorted by key."""
    groups: dict[tuple[str, ...], list[Run]] = {}
    for run in runs:
        if run.status == RunStatus.COMPLETE:
            groups.setdefault(cell_of(run, columns), []).append(run)
    cells = []
    for key in sorted(groups, key=lambda k: tuple(_sort_key(v) for v in k)):
        members = sorted(groups[key], key=lambda r: (r.seed is None, r.seed or 0))
        summary = {m: t_interval([v for r in members if (v := r.value(section, m)) is not None]) for m in metrics}
        cells.append(Cell(key, members, summary))
    return cells


def ranking(cells: Sequence[Cell], metric: str) -> dict[tuple[str, ...], str]:
    """``{key: "best"}`` for the cell with the highest mean ``metric`` when its 95 % interval lies
    above the runner-up's; otherwise ``"tied"`` for it and every cell whose interval overlaps its
    own (or that has none: a single seed separates nothing). Higher is better, except for the
    calibration errors (``LOWER_IS_BETTER``: ECE, Brier, NLL), ranked by the lowest mean."""
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    finite = (c for c in cells if np.isfinite(c.summary[metric].mean))
    ranked = sorted(finite, key=lambda c: -sign * c.summary[metric].mean)
    if len(ranked) < 2:
        return {}

    def apart(a: Summary, b: Summary) -> bool:  # a's interval lies entirely on the better side of b's
        return a.separated_above(b) if sign > 0 else b.separated_above(a)

    top = ranked[0].summary[metric]
    if apart(top, ranked[1].summary[metric]):
        return {ranked[0].key: "best"}
    return {c.key: "tied" for c in ranked if not apart(top, c.summary[metric])}
