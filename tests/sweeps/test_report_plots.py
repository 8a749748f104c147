"""What the report's plots and tables must not mislead about: the heatmap's colours (tied cells
greyed, intervals printed, the colour bar says what it spans), paired.png's legend and limits,
clipped intervals and seed counts in words."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.patches import Rectangle

from seglightning.sweeps.cells import Cell
from seglightning.sweeps.comparison import Comparison
from seglightning.sweeps.plots import heatmap, paired
from seglightning.sweeps.stats import BootstrapResult, t_interval
from seglightning.sweeps.tables import comparison_markdown, markdown_table

COLUMNS = ["loss", "model"]


def cell(loss: str, values: list[float]) -> Cell:
    return Cell((loss, "unet"), [], {"mIoU": t_interval(values)})


def test_heatmap_greys_cells_tied_with_the_best_and_prints_their_intervals():
    cells = [cell("ce", [0.0110, 0.0950, 0.0300]), cell("dice", [0.0120, 0.0800, 0.0400]),
             cell("lovasz", [0.0112, 0.0115, 0.0113])]  # all three intervals overlap ce's: tied
    fig = heatmap(cells, COLUMNS, "mIoU")
    ax = fig.axes[0]
    hatched = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_hatch() == "//"]
    assert len(hatched) == 3
    texts = [t.get_text() for t in ax.texts]
    low, high = cells[0].summary["mIoU"].low, cells[0].summary["mIoU"].high
    assert low < 0 and f"[0.000, {high:.3f}]" in texts[0]  # the interval, clipped to [0, 1]
    colorbar = fig.axes[-1]
    assert "colours span the cell means only" in colorbar.get_ylabel()
    assert "tied with the best" in fig.get_suptitle()

    separated = [cell("ce", [0.80, 0.81, 0.82]), cell("dice", [0.50, 0.52, 0.51])]
    fig = heatmap(separated, COLUMNS, "mIoU")
    assert not [p for p in fig.axes[0].patches if p.get_hatch() == "//"]


def comparison(loss: str, differences: list[float], boot: BootstrapResult | None = None) -> Comparison:
    return Comparison((loss, "unet"), "mIoU", list(range(len(differences))), differences, t_interval(differences),
                      math.nan, boot)


def test_paired_plot_keeps_the_legend_off_the_intervals_and_every_point_inside():
    rows = [comparison("dice", [0.05, 0.09, 0.07], BootstrapResult(0.07, 0.01, 0.16, 20, 100)),
            comparison("lovasz", [0.31])]  # one seed: a point without an interval, far right
    fig = paired(rows, COLUMNS, "loss=ce, model=unet")
    FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    assert ax.get_legend() is None and len(fig.legends) == 1
    legend_box = fig.legends[0].get_window_extent()
    assert not legend_box.overlaps(ax.get_window_extent())  # the legend sits outside the axes
    low, high = ax.get_xlim()
    ends = [0.0, 0.31, rows[0].summary.low, rows[0].summary.high, 0.01, 0.16]
    assert all(low < v < high for v in ends) and high - 0.31 > 0.01 * (high - low)


def test_tables_say_seed_in_the_singular_and_mark_clipped_bounds():
    cells = [cell("ce", [0.010, 0.090, 0.030]), cell("dice", [0.5])]
    table = markdown_table(cells, COLUMNS, ["mIoU"])
    header, _, ce, dice = table.splitlines()
    assert "mIoU mean | mIoU std | mIoU 95 % CI" in header
    assert ce.split("|")[6].strip().startswith("[0.0000*,")
    assert dice.split("|")[4:7] == [" 0.5000 (tied) ", " – ", " – "]
    text = comparison_markdown("Sweep s", Cell(("ce", "unet"), [object()], {}), [comparison("dice", [0.1])],
                               COLUMNS, "test metrics")
    assert "(1 seed)" in text and "1 seeds" not in text


def test_heatmap_with_one_seed_cells(tmp_path: Path):
    fig = heatmap([cell("ce", [0.5]), cell("dice", [0.6])], COLUMNS, "mIoU")
    assert any("(1 seed)" in t.get_text() for t in fig.axes[0].texts)
    assert np.isfinite(fig.axes[0].get_xlim()).all()
