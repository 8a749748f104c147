"""The cost of a sweep's runs (``metrics.json["cost"]``, written by :mod:`seglightning.run.cost`):
the ``cost/...`` columns of ``runs.csv``, each cell's mean over seeds (results.md/.csv), the sweep's
total (the summary line) and ``cost.png`` (each cell's metric with its 95 % interval against its
mean device-hours)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..run.directory import METRICS_FILE
from .cells import Cell
from .runs import Run

COST_KEYS = (
    "wall_seconds", "fit_seconds", "train_seconds", "val_seconds", "test_seconds", "train_images_per_second",
    "eval_images_per_second", "peak_host_memory_mb", "peak_device_memory_mb", "device", "device_count",
    "device_hours", "segments",
)
COST_COLUMNS = tuple(f"cost/{k}" for k in COST_KEYS)
CELL_COST = ("device_hours", "wall_seconds")  # averaged over a cell's seeds


def run_cost(run: Run) -> dict[str, Any]:
    """The run's recorded cost ({} when it has none: unfinished, failed, or older than the record)."""
    try:
        cost = json.loads((run.path / METRICS_FILE).read_text()).get("cost")
    except (OSError, ValueError, AttributeError):
        return {}
    return cost if isinstance(cost, dict) else {}


def cost_values(run: Run) -> list[object]:
    """The run's ``cost/...`` values of ``runs.csv`` ('' where missing; null peak device memory: '')."""
    cost = run_cost(run)
    return ["" if cost.get(k) is None else cost[k] for k in COST_KEYS]


def cell_cost(cell: Cell) -> dict[str, float]:
    """Mean over the cell's runs of device-hours and wall seconds (NaN when no run recorded them)."""
    out = {}
    for key in CELL_COST:
        values = [float(v) for r in cell.runs if isinstance(v := run_cost(r).get(key), (int, float))]
        out[key] = float(np.mean(values)) if values else float("nan")
    return out


def format_cost(cell: Cell) -> str:
    """results.md's cost column: mean device-hours and wall time over the cell's seeds."""
    cost = cell_cost(cell)
    if np.isnan(cost["device_hours"]):
        return "–"
    return f"{cost['device_hours']:.3g} device-h ({_duration(cost['wall_seconds'])})"


def _duration(seconds: float) -> str:
    if np.isnan(seconds):
        return "–"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def total_cost(runs: Sequence[Run]) -> str:
    """The sweep's total: device-hours and wall time over every run that recorded a cost."""
    costs = [c for c in (run_cost(r) for r in runs) if c]
    if not costs:
        return "cost: none recorded"
    hours = sum(float(c.get("device_hours") or 0) for c in costs)
    wall = sum(float(c.get("wall_seconds") or 0) for c in costs)
    return f"cost: {hours:.3g} device-hours, {_duration(wall)} wall time over {len(costs)} runs"


def cost_figure(cells: Sequence[Cell], columns: Sequence[str], metric: str) -> Figure | None:
    """Each cell's mean ``metric`` (error bar: 95 % t-interval over seeds) against its mean
    device-hours; None when no run recorded a cost."""
    points = [(c, cell_cost(c)["device_hours"]) for c in cells]
    points = [(c, x) for c, x in points if np.isfinite(x) and metric in c.summary]
    if not points:
        return None
    fig = Figure(figsize=(8.5, 4.2), layout="constrained")
    ax = fig.subplots()
    for cell, x in points:
        s = cell.summary[metric]
        err = None if np.isnan(s.low) else [[s.mean - s.low], [s.high - s.mean]]
        ax.errorbar([x], [s.mean], yerr=err, fmt="o", capsize=3,
                    label=", ".join(f"{k}={v}" for k, v in zip(columns, cell.key)))
    ax.set_xlabel("device-hours per run (mean over seeds)")
    ax.set_ylabel(metric)
    ax.margins(x=0.15, y=0.15)
    fig.legend(fontsize=7, loc="outside right upper")
    ax.set_title(f"{metric} (mean, 95 % CI over seeds; none with a single seed) against cost", fontsize=9)
    return fig
