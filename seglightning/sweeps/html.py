"""``report.html``: the whole sweep report on one self-contained page (Jinja2 template
``templates/report.html.j2``), readable offline: every plot and gallery panel is embedded as a
``data:`` URI, and there is no script, font or style sheet to fetch.

The page renders the report's files as they are in the sweep dir, so an output added to the report
later appears without a change here: each known table (``results.csv``, ``comparison.csv``,
``ranks.csv``, ``seeds_needed.csv``, ...) and plot (``heatmap.png``, ``cost.png``, ``ranks.png``, ...)
gets its titled section when its file exists, and any other CSV or PNG of the sweep dir is listed
under "More tables" / "More plots". The grid, status, cost, per-class tables and the galleries come
from the same :class:`~seglightning.sweeps.report.SweepReport` as the other outputs.
"""

from __future__ import annotations

import base64
import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from jinja2 import Environment, FileSystemLoader, select_autoescape
from PIL import Image

from ..run.directory import RunStatus
from .cells import class_names
from .cost import cell_cost, total_cost
from .gallery import Gallery, Worst, cell_label
from .outputs import of_section, output_name
from .stats import t_interval

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE = "report.html.j2"
PANEL_MAX = 256  # px: the longer side of a gallery panel on the page

# (file, title, what it is): the sections of known outputs, in page order; present files only
TABLES = (
    ("results.csv", "Results", "Per cell and metric: mean, sample std, number of seeds, 95 % interval and rank."),
    ("comparison.csv", "Comparisons with the baseline",
     "Each cell against the baseline: paired over seeds (mean difference, 95 % CI, p-values) and the paired "
     "bootstrap over test images; adjusted p-values where the report computed them."),
    ("seeds_needed.csv", "Seeds needed", "Seeds a paired t-test needs for 80 % power at α = 0.05."),
    ("ranks.csv", "Rank stability",
     "Per cell: share of bootstrap draws ranked first, median rank, 95 % rank interval."),
)
PLOTS = (
    ("heatmap.png", "Heatmap", "Mean over seeds ± half-width of the 95 % interval."),
    ("bars.png", "Metrics per loss", "Error bars: 95 % interval of the mean over seeds."),
    ("paired.png", "Differences to the baseline", "Paired over seeds (t) and bootstrap over images, 95 % CI."),
    ("ranks.png", "Rank stability", "Cells × rank; dot size: share of bootstrap draws."),
    ("cost.png", "Metric against cost", "Each cell's mean metric (95 % CI over seeds) against its mean device-hours."),
)
GALLERY_FILES = ("gallery.png", "worst_images.csv")
LATER = ("runs.csv",)  # shown at the end, folded
INTERVALS = (
    ("Over seeds (results, heatmap, bars)",
     "The 95 % Student-t confidence interval of a cell's mean over its seeds (n − 1 degrees of freedom). "
     "It says how far the mean of more seeds could plausibly move; a single seed has none."),
    ("Paired over seeds (comparisons)",
     "The 95 % t-interval of the mean per-seed difference between a cell and the baseline, pairing runs of the "
     "same seed. An interval that excludes 0 means the seeds separate the two cells."),
    ("Bootstrap over images (comparisons)",
     "The 95 % percentile interval of the dataset-level mIoU difference when the test images are resampled with "
     "replacement, the same images for both cells. It reflects the finite test set, not the variation between seeds."),
    ("Rank interval (rank stability)",
     "The 2.5th to 97.5th percentile of a cell's rank over bootstrap draws of images and seeds. A wide interval "
     "says the ranking would change with another test set or other seeds."),
)


@dataclass
class Table:
    title: str
    note: str
    header: list[str]
    rows: list[list[str]]
    name: str = ""


@dataclass
class Plot:
    title: str
    note: str
    uri: str
    name: str = ""


@dataclass
class HtmlGallery:
    seed: int | None
    measure: str
    band: str
    labels: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    boundary_colour: str = ""
    other_colour: str = ""


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def array_uri(array: np.ndarray, max_side: int = PANEL_MAX) -> str:
    """A uint8 RGB array as an embedded PNG, shrunk (nearest neighbour) to ``max_side``."""
    image = Image.fromarray(array)
    scale = max_side / max(image.size)
    if scale < 1:
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return data_uri(buffer.getvalue())


def _cell_text(value: str) -> str:
    """A CSV value for the page: floats to 4 significant decimals, the rest as written."""
    try:
        number = float(value)
    except ValueError:
        return value
    if value.strip().lstrip("-").isdigit() or math.isinf(number):
        return value
    if math.isnan(number):
        return "–"
    return f"{number:.4g}" if abs(number) >= 1e4 or (number != 0 and abs(number) < 1e-3) else f"{number:.4f}"


def read_table(path: Path, title: str, note: str) -> Table | None:
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError:
        return None
    if not rows:
        return None
    return Table(title, note, rows[0], [[_cell_text(v) for v in row] for row in rows[1:]], path.name)


def _title(name: str) -> str:
    return Path(name).stem.replace("_", " ").capitalize()


def per_class_tables(report: Any) -> list[Table]:
    """Per metric (IoU, Dice), a class × cell table of the mean over seeds with its 95 % interval."""
    classes = class_names(report.runs, report.section)
    tables = []
    for metric in ("IoU", "Dice"):
        columns = [cell_label(c.key, report.columns) for c in report.cells]
        rows = []
        for name in classes:
            row = [name]
            for cell in report.cells:
                values = [v for r in cell.runs if (v := r.value(report.section, f"{metric}/{name}")) is not None]
                s = t_interval(values)
                row.append("–" if math.isnan(s.mean) else f"{s.mean:.4f}" + (
                    "" if math.isnan(s.low) else f" [{s.low:.4f}, {s.high:.4f}]"))
            rows.append(row)
        if rows and any(v != "–" for row in rows for v in row[1:]):
            tables.append(Table(f"Per-class {metric}", "Mean over seeds [95 % t-interval].", ["class", *columns], rows))
    return tables


def html_gallery(gallery: Gallery | None) -> HtmlGallery | None:
    from .gallery import BOUNDARY_COLOUR, OTHER_COLOUR

    if gallery is None or not gallery.rows:
        return None
    out = HtmlGallery(gallery.seed, gallery.measure, gallery.band, gallery.labels,
                      boundary_colour=f"rgb{BOUNDARY_COLOUR}", other_colour=f"rgb{OTHER_COLOUR}")
    for row in gallery.rows:
        panels = []
        for panel, errors in zip(row.predictions, row.errors):
            panels.append(None if panel is None else {
                "uri": array_uri(panel), "boundary": f"{100 * errors[0]:.1f} %", "other": f"{100 * errors[1]:.1f} %"})
        out.rows.append({"id": row.image_id, "disagreement": f"{row.disagreement:.3f}", "image": array_uri(row.image),
                         "truth": array_uri(row.truth), "predictions": panels})
    return out


def grid_summary(report: Any) -> list[tuple[str, str]]:
    values = [(c, sorted({str(k.key[i]) for k in report.cells})) for i, c in enumerate(report.columns)]
    seeds = sorted({str(r.seed) for r in report.runs if r.seed is not None})
    return [(c, ", ".join(v) or "–") for c, v in values] + [("seed", ", ".join(seeds) or "–")]


def cost_rows(report: Any) -> list[list[str]]:
    rows = []
    for cell in report.cells:
        cost = cell_cost(cell)
        rows.append([cell_label(cell.key, report.columns), str(len(cell.runs)),
                     "–" if math.isnan(cost["device_hours"]) else f"{cost['device_hours']:.4g}",
                     "–" if math.isnan(cost["wall_seconds"]) else f"{cost['wall_seconds']:.1f}"])
    return rows


def render_html(report: Any, gallery: Gallery | None = None, worst: Sequence[Worst] = ()) -> str:
    """The page (module docstring) for ``report`` as written to its sweep dir: the files of its
    metrics section (:mod:`.outputs`)."""
    sweep = Path(report.sweep_dir)

    def file(name: str) -> Path:
        return sweep / output_name(name, report.section)

    known = [name for name, _, _ in TABLES] + [name for name, _, _ in PLOTS] + [*GALLERY_FILES, *LATER]
    shown = {file(name).name for name in known}
    tables = [t for name, title, note in TABLES if (t := read_table(file(name), title, note))]
    plots = [Plot(title, note, data_uri(file(name).read_bytes()), file(name).name)
             for name, title, note in PLOTS if file(name).is_file()]
    others = [p for p in sorted(sweep.iterdir()) if p.name not in shown and of_section(p, report.section)]
    more_tables = [t for p in others if p.suffix == ".csv" if (t := read_table(p, _title(p.name), ""))]
    more_plots = [Plot(_title(p.name), "", data_uri(p.read_bytes()), p.name) for p in others if p.suffix == ".png"]
    runs_table = read_table(file("runs.csv"), "Runs", "One row per run: grid values, status, metrics, cost.")
    gallery_png = file("gallery.png")
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    return env.get_template(TEMPLATE).render(
        title=f"Sweep {sweep.name}",
        sweep_dir=str(sweep),
        status=report.status_line(),
        section=report.section_title(),
        total_cost=total_cost(report.runs),
        grid=grid_summary(report),
        baseline=cell_label(report.baseline.key, report.columns) if report.baseline else None,
        cost_rows=cost_rows(report),
        failed=[(str(r.path.relative_to(sweep)), r.error_line) for r in report.runs if r.status == RunStatus.FAILED],
        tables=tables,
        plots=plots,
        per_class=per_class_tables(report),
        gallery=html_gallery(gallery),
        gallery_png=data_uri(gallery_png.read_bytes()) if gallery_png.is_file() else None,
        worst=worst,
        more_tables=more_tables,
        more_plots=more_plots,
        runs=runs_table,
        intervals=[(t, s) for t, s in INTERVALS if "Rank" not in t or file("ranks.csv").is_file()],
    )


def write_html(report: Any, gallery: Gallery | None = None, worst: Sequence[Worst] = ()) -> Path:
    path = Path(report.sweep_dir) / output_name("report.html", report.section)
    path.write_text(render_html(report, gallery, worst), encoding="utf-8")
    return path


def write_pages(report: Any, metric: str, gallery_seed: int | None = None) -> dict[str, Path]:
    """``cost.png``, ``gallery.png``, ``worst_images.csv`` (each when its data exist), then
    ``report.html`` from everything in the sweep dir; returns what was written."""
    from .cost import cost_figure
    from .gallery import build_gallery, gallery_figure, worst_images, write_worst_csv
    from .plots import save

    def file(name: str) -> Path:
        return Path(report.sweep_dir) / output_name(name, report.section)

    written: dict[str, Path] = {}
    figure = cost_figure(report.cells, report.columns, metric) if metric else None
    if figure is not None:
        written["cost.png"] = save(figure, file("cost.png"))
    gallery = build_gallery(report.cells, report.columns, gallery_seed) if report.cells else None
    if gallery is not None and gallery.rows:
        written["gallery.png"] = save(gallery_figure(gallery), file("gallery.png"))
    worst = worst_images(report.cells, report.columns, gallery)
    if worst:
        written["worst_images.csv"] = write_worst_csv(file("worst_images.csv"), worst)
    written["report.html"] = write_html(report, gallery, worst)
    return written
