"""``seglightning-report <sweep dir>``: the comparison table and plots of a sweep, finished or not.

Writes into the sweep dir ``results.csv`` (one row per run), ``results.md`` (mean ± std over seeds
per grid cell, best per column in bold), ``heatmap.png`` (loss x architecture, mIoU) and
``bars.png`` (mIoU / mDice / bF1 per loss, error bars over seeds).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .cells import Cell, aggregate, grid_columns, metric_names
from .grid import expected_jobs, not_started
from .plots import bars, heatmap, save
from .runs import SECTIONS, Run, collect_runs
from .tables import SECTION_TITLES, csv_rows, markdown_report, markdown_table, write_csv

OUTPUTS = ("results.csv", "results.md", "heatmap.png", "bars.png")
BAR_METRICS = ("mIoU", "mDice", "bF1")


@dataclass
class SweepReport:
    """Everything the outputs are made of; also what the compare-sweep notebook works with."""

    sweep_dir: Path
    runs: list[Run]
    columns: list[str]  # grid columns of a cell: loss, model, then the other varying overrides
    section: str  # best | final | test
    metrics: list[str]
    cells: list[Cell]
    pending: list[dict[str, str]] | None  # jobs with no run dir yet; None when unknown

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.runs)

    def status_line(self) -> str:
        total = len(self.runs) + len(self.pending or [])
        parts = [f"{self.count('complete')} of {total} jobs complete", f"{self.count('failed')} failed",
                 f"{self.count('incomplete')} unfinished"]
        if self.pending is not None:
            parts.append(f"{len(self.pending)} not started")
        return ", ".join(parts)

    def section_title(self) -> str:
        monitor = next((r.monitor for r in self.runs if r.monitor), "val/mIoU")
        return SECTION_TITLES[self.section].format(monitor=monitor)


def build_report(sweep_dir: str | Path, section: str = "best") -> SweepReport:
    """Collect the runs under ``sweep_dir`` and aggregate ``section`` (best | final | test)."""
    if section not in SECTIONS:
        raise ValueError(f"metrics section '{section}' is not one of {', '.join(SECTIONS)} (option --metrics)")
    sweep_dir = Path(sweep_dir).resolve()
    runs = collect_runs(sweep_dir)
    complete = [r for r in runs if r.status == "complete"]
    if complete and not any(r.metrics.get(section) for r in complete):
        raise ValueError(f"no complete run of {sweep_dir} has '{section}' metrics"
                         + (" (trained with test_after_fit=false?)" if section == "test" else "") + "; choose another --metrics")
    columns = grid_columns(runs)
    metrics = metric_names(complete, section)
    jobs = expected_jobs(sweep_dir)
    return SweepReport(sweep_dir, runs, columns, section, metrics, aggregate(runs, columns, section, metrics),
                       None if jobs is None else not_started(jobs, runs))


def write_report(report: SweepReport, rows: str = "loss", cols: str = "model") -> dict[str, Path]:
    """Write the four outputs into the sweep dir; plots need at least one complete run."""
    for option, key in (("--rows", rows), ("--cols", cols)):
        if key not in report.columns:
            raise ValueError(f"{option} {key}: not a grid column of this sweep (columns: {', '.join(report.columns)})")
    out = {name: report.sweep_dir / name for name in OUTPUTS}
    header, csv_body = csv_rows(report.runs, report.columns, report.sweep_dir)
    write_csv(out["results.csv"], header, csv_body)
    table = markdown_table(report.cells, report.columns, report.metrics)
    out["results.md"].write_text(markdown_report(f"Sweep {report.sweep_dir.name}", report.status_line(),
                                                 report.section_title(), table, report.runs, report.sweep_dir))
    if not report.cells or not report.metrics:  # nothing finished yet: tables only
        return {k: v for k, v in out.items() if k.endswith((".csv", ".md"))}
    headline = "mIoU" if "mIoU" in report.metrics else report.metrics[0]
    save(heatmap(report.cells, report.columns, headline, rows, cols), out["heatmap.png"])
    bar_metrics = [m for m in BAR_METRICS if m in report.metrics] or report.metrics[:1]
    save(bars(report.cells, report.columns, bar_metrics, group=rows), out["bars.png"])
    return out


def summary(report: SweepReport) -> str:
    """What the end of a multirun prints: job counts, failures with their error, the table."""
    lines = [f"[seglightning] sweep {report.sweep_dir}: {report.status_line()}"]
    lines += [f"  FAILED {r.path.relative_to(report.sweep_dir)}: {r.error_line}" for r in report.runs if r.status == "failed"]
    if report.cells:
        lines += ["", markdown_table(report.cells, report.columns, report.metrics)]
    return "\n".join(lines)
