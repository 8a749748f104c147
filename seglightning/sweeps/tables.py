"""``results.csv`` (one row per run) and ``results.md`` (mean ± std over seeds per grid cell)."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

from .cells import HEADLINE, SEED, Cell, best_cells, cell_of
from .runs import PREFIX, SECTIONS, Run

SECTION_TITLES = {
    "best": "validation metrics at the best epoch (by `{monitor}`)",
    "final": "validation metrics after the last epoch",
    "test": "test-split metrics of the best checkpoint",
}


def _section_keys(runs: Sequence[Run], section: str) -> list[str]:
    """Every metric key of ``section`` (split prefix removed): epoch, step, headline, then the rest."""
    seen: dict[str, None] = {}
    for r in runs:
        seen.update((k.removeprefix(PREFIX[section]), None) for k in r.metrics.get(section, {}))
    first = [k for k in ("epoch", "step", *HEADLINE) if k in seen]
    return first + [k for k in seen if k not in first]


def csv_rows(runs: Sequence[Run], columns: Sequence[str], sweep_dir: Path) -> tuple[list[str], list[list[object]]]:
    """Header and rows of ``results.csv``: grid values, seed, status, every metric, run dir, error."""
    metric_cols = [(s, k) for s in SECTIONS for k in _section_keys(runs, s)]
    header = [*columns, SEED, "status", *(f"{s}/{k}" for s, k in metric_cols), "run_dir", "error"]
    rows = []
    for r in runs:
        values = []
        for section, key in metric_cols:
            raw = r.metrics.get(section, {})
            values.append(raw.get(key, raw.get(PREFIX[section] + key, "")))
        rows.append([*cell_of(r, columns), "" if r.seed is None else r.seed, r.status, *values,
                     str(r.path.relative_to(sweep_dir)), r.error or ""])
    return header, rows


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Floats are written with ``repr`` precision, so a value read back is the logged value."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def format_cell(mean: float, std: float, bold: bool) -> str:
    if math.isnan(mean):
        return "–"
    text = f"{mean:.4f}" if math.isnan(std) else f"{mean:.4f} ± {std:.4f}"
    return f"**{text}**" if bold else text


def markdown_table(cells: Sequence[Cell], columns: Sequence[str], metrics: Sequence[str]) -> str:
    """One row per cell; the best mean of each metric column in bold."""
    best = {m: best_cells(cells, m) for m in metrics}
    lines = ["| " + " | ".join([*columns, "seeds", *metrics]) + " |",
             "|" + "---|" * len(columns) + "---:|" * (1 + len(metrics))]
    for c in cells:
        scores = [format_cell(c.mean[m], c.std[m], c.key in best[m]) for m in metrics]
        lines.append("| " + " | ".join([*c.key, str(len(c.runs)), *scores]) + " |")
    return "\n".join(lines)


def markdown_report(title: str, status_line: str, section_title: str, table: str, runs: Sequence[Run], sweep_dir: Path) -> str:
    """The whole ``results.md``: headline, status of the jobs, the table, failed and unfinished runs."""
    parts = [f"# {title}", "", status_line, "",
             f"Mean ± sample std (n−1) over seeds of the {section_title}; best mean per column in **bold**.", "", table]
    failed = [r for r in runs if r.status == "failed"]
    if failed:
        parts += ["", "## Failed runs", ""]
        parts += [f"- `{r.path.relative_to(sweep_dir)}`: {r.error_line}" for r in failed]
    unfinished = [r for r in runs if r.status == "incomplete"]
    if unfinished:
        parts += ["", "## Unfinished runs (running, interrupted or not started)", ""]
        parts += [f"- `{r.path.relative_to(sweep_dir)}`" for r in unfinished]
    return "\n".join(parts) + "\n"
