"""Sweep plots (matplotlib, Agg; no pyplot state): the loss x architecture heatmap, bar charts and
the paired differences to the baseline, every interval a 95 % confidence interval (stated on the
plot). Each function returns a ``Figure``; :func:`save` writes it as PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .cells import Cell, ranking
from .comparison import Comparison
from .tables import clip_interval

CI_NOTE = "; none with a single seed"


def save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return path


def _unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _label(key: tuple[str, ...], columns: Sequence[str], skip: Sequence[str]) -> str:
    return ", ".join(f"{c}={v}" for c, v in zip(columns, key) if c not in skip)


def heatmap(
    cells: Sequence[Cell], columns: Sequence[str], metric: str = "mIoU", rows: str = "loss", cols: str = "model"
) -> Figure:
    """Mean ``metric`` per (``rows``, ``cols``) cell, annotated with the mean and its 95 % t-interval
    over seeds (clipped to [0, 1] for a bounded score); one panel per combination of the remaining
    grid columns. The colour scale spans the range of the cell means (the colour bar says so), so
    it would show any difference as a strong contrast: the cells tied with the best (intervals
    overlapping its own, see :func:`~seglightning.sweeps.cells.ranking`) are drawn grey and hatched
    instead, whatever their mean."""
    r, c = columns.index(rows), columns.index(cols)
    row_vals = _unique([k.key[r] for k in cells])
    col_vals = _unique([k.key[c] for k in cells])
    facets = _unique([_label(k.key, columns, (rows, cols)) for k in cells])
    values = [k.mean.get(metric, np.nan) for k in cells]
    finite = [v for v in values if np.isfinite(v)]
    vmin, vmax = (min(finite), max(finite)) if finite else (0.0, 1.0)
    tied = {key for key, mark in ranking(cells, metric).items() if mark == "tied"}
    fig = Figure(figsize=(2.4 + 1.7 * len(col_vals) * len(facets), 1.6 + 0.8 * len(row_vals)), layout="constrained")
    axes = fig.subplots(1, len(facets), squeeze=False)[0]
    for ax, facet in zip(axes, facets):
        grid = np.full((len(row_vals), len(col_vals)), np.nan)
        for k in cells:
            if _label(k.key, columns, (rows, cols)) == facet:
                i, j = row_vals.index(k.key[r]), col_vals.index(k.key[c])
                mean = k.mean.get(metric, np.nan)
                s = k.summary.get(metric)
                low, high, _ = clip_interval(metric, s.low, s.high) if s else (np.nan, np.nan, False)
                text = f"{mean:.3f}" + ("\n(1 seed)" if np.isnan(low) else f"\n[{low:.3f}, {high:.3f}]")
                if k.key in tied:
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="lightgrey", edgecolor="dimgrey",
                                           hatch="//", lw=0.5, zorder=2))
                    dark = False
                else:
                    grid[i, j] = mean
                    dark = mean < (vmin + vmax) / 2
                ax.text(j, i, text, ha="center", va="center", fontsize=7, zorder=3,
                        color="white" if dark else "black")
        image = ax.imshow(grid, cmap="viridis", vmin=vmin, vmax=vmax if vmax > vmin else vmin + 1e-9, aspect="auto")
        ax.set_xticks(range(len(col_vals)), col_vals, rotation=30, ha="right")
        ax.set_yticks(range(len(row_vals)), row_vals)
        ax.set_xlabel(cols)
        ax.set_ylabel(rows)
        if facet:
            ax.set_title(facet, fontsize=9)
    fig.colorbar(image, ax=list(axes),
                 label=f"mean {metric}; colours span the cell means only ({vmin:.3f}–{vmax:.3f})")
    note = "grey hatched: tied with the best (95 % intervals overlap)" if tied else "no cell tied with the best"
    fig.suptitle(f"{metric}: mean over seeds [95 % CI, Student t]\n{note}", fontsize=9)
    return fig


def grouped_bars(ax, groups: Sequence[str], series: dict[str, tuple[Sequence[float], Sequence[float]]]) -> None:
    """Bars at each of ``groups``, one per series (label -> (means, error half-widths)); a NaN error
    draws no error bar."""
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(groups))
    for i, (label, (means, errors)) in enumerate(series.items()):
        err = np.nan_to_num(np.asarray(errors, dtype=float), nan=0.0)
        ax.bar(x + (i - (len(series) - 1) / 2) * width, means, width, yerr=err, capsize=3, label=label)
    ax.set_xticks(x, groups, rotation=30, ha="right")


def bars(cells: Sequence[Cell], columns: Sequence[str], metrics: Sequence[str], group: str = "loss") -> Figure:
    """One panel per metric: a bar group per value of ``group``, a bar per remaining grid cell,
    error bars = 95 % t-interval of the mean over seeds."""
    g = columns.index(group)
    groups = _unique([k.key[g] for k in cells])
    hues = _unique([_label(k.key, columns, (group,)) for k in cells])
    fig = Figure(figsize=(1.0 + len(metrics) * (0.9 + 0.3 * len(groups) * len(hues)), 3.4), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics):
        series = {}
        for hue in hues:
            found = {k.key[g]: k for k in cells if _label(k.key, columns, (group,)) == hue}
            series[hue] = (
                [found[v].mean.get(metric, np.nan) if v in found else np.nan for v in groups],
                [found[v].half_width(metric) if v in found else np.nan for v in groups],
            )
        grouped_bars(ax, groups, series)
        ax.set_title(metric)
        ax.set_xlabel(group)
    if len(hues) > 1:
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", fontsize=8)
    fig.suptitle(f"mean over seeds; error bars: 95 % CI of the mean (Student t){CI_NOTE}")
    return fig


def per_class(cells: Sequence[Cell], columns: Sequence[str], classes: Sequence[str], metric: str = "IoU") -> Figure:
    """Per-class ``metric`` (``IoU`` or ``Dice``): a bar group per class, a bar per grid cell."""
    fig = Figure(figsize=(2 + 0.35 * len(classes) * max(len(cells), 1), 3.4), layout="constrained")
    ax = fig.subplots()
    series = {
        _label(k.key, columns, ()): (
            [k.mean.get(f"{metric}/{c}", np.nan) for c in classes],
            [k.half_width(f"{metric}/{c}") for c in classes],
        )
        for k in cells
    }
    grouped_bars(ax, list(classes), series)
    ax.set_ylabel(metric)
    ax.legend(fontsize=7)
    ax.set_title(f"per-class {metric}: mean over seeds, error bars 95 % CI (Student t){CI_NOTE}")
    return fig


def paired(comparisons: Sequence[Comparison], columns: Sequence[str], baseline: str, metric: str = "mIoU") -> Figure:
    """Per cell, the difference of ``metric`` to the baseline: the mean per-seed difference with its
    95 % t-interval and, where per-image results exist, the image-bootstrap 95 % interval. The legend
    sits below the axes and the x-range covers every point and interval end (and 0) with a margin."""
    rows = [c for c in comparisons if c.metric == metric]
    labels = [_label(c.key, columns, ()) for c in rows]
    fig = Figure(figsize=(6.5, 1.7 + 0.45 * max(len(rows), 1)), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(rows), dtype=float)
    means = [c.summary.mean for c in rows]
    err = np.array([[c.summary.mean - c.summary.low, c.summary.high - c.summary.mean] for c in rows]).reshape(-1, 2).T
    ax.errorbar(means, y - 0.12, xerr=np.nan_to_num(err), fmt="o", capsize=3, label="paired over seeds (t)")
    ends = [0.0, *means, *(c.summary.low for c in rows), *(c.summary.high for c in rows)]
    booted = [(i, c.bootstrap) for i, c in enumerate(rows) if c.bootstrap is not None]
    if booted:
        b_err = np.array([[b.difference - b.low, b.high - b.difference] for _, b in booted]).T
        ax.errorbar(
            [b.difference for _, b in booted],
            [i + 0.12 for i, _ in booted],
            xerr=b_err,
            fmt="s",
            capsize=3,
            label="bootstrap over images",
        )
        ends += [v for _, b in booted for v in (b.low, b.difference, b.high)]
    finite = np.array([v for v in ends if np.isfinite(v)])
    span = float(finite.max() - finite.min()) or max(abs(float(finite.max())), 1e-3)
    ax.set_xlim(finite.min() - 0.08 * span, finite.max() + 0.08 * span)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.axvline(0.0, color="grey", lw=1)
    ax.set_yticks(y, labels)
    ax.set_xlabel(f"{metric} difference to the baseline")
    fig.legend(*ax.get_legend_handles_labels(), fontsize=7, loc="outside lower center", ncols=2)
    ax.set_title(f"{metric} − baseline ({baseline}), 95 % CI{CI_NOTE}", fontsize=9)
    return fig
