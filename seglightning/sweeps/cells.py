"""Group the finished runs of a sweep into grid cells and aggregate over seeds.

A cell is one combination of the grid values other than the seed: the loss and architecture
labels of every run, plus each override whose value differs between runs (``optim.lr=1e-3,3e-3``
adds an ``optim.lr`` column). Within a cell, a metric is summarised by its mean and its sample
standard deviation (ddof = 1; NaN for a single seed) over the complete runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..report_table import HEADLINE
from .runs import LABELS, PREFIX, Run

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


def metric_names(runs: Iterable[Run], section: str) -> list[str]:
    """Scalar summary metrics present in ``section``: the headline ones, then ``bF1@<t>`` variants."""
    prefix = PREFIX[section]
    present = {k[len(prefix):] for r in runs for k in r.metrics.get(section, {}) if k.startswith(prefix)}
    tolerances = sorted(m for m in present if m.startswith("bF1@"))
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
    mean: dict[str, float]
    std: dict[str, float]

    @property
    def seeds(self) -> list[int | None]:
        return [r.seed for r in self.runs]


def summarise(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1, NaN for fewer than two values)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return float("nan"), float("nan")
    return float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else float("nan")


def aggregate(runs: Sequence[Run], columns: Sequence[str], section: str, metrics: Sequence[str]) -> list[Cell]:
    """One :class:`Cell` per grid combination that has at least one complete run, sorted by key."""
    groups: dict[tuple[str, ...], list[Run]] = {}
    for run in runs:
        if run.status == "complete":
            groups.setdefault(cell_of(run, columns), []).append(run)
    cells = []
    for key in sorted(groups, key=lambda k: tuple(_sort_key(v) for v in k)):
        members = sorted(groups[key], key=lambda r: (r.seed is None, r.seed or 0))
        mean, std = {}, {}
        for metric in metrics:
            values = [v for r in members if (v := r.value(section, metric)) is not None]
            mean[metric], std[metric] = summarise(values)
        cells.append(Cell(key, members, mean, std))
    return cells


def best_cells(cells: Sequence[Cell], metric: str) -> set[tuple[str, ...]]:
    """Keys of the cells with the highest mean ``metric`` (every metric here is higher-is-better)."""
    means = [c.mean.get(metric, float("nan")) for c in cells]
    finite = [m for m in means if np.isfinite(m)]
    if not finite:
        return set()
    top = max(finite)
    return {c.key for c, m in zip(cells, means) if m == top}
