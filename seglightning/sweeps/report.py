"""``seglightning-report <sweep dir>``: the comparison table and plots of a sweep, finished or not.

Writes into the sweep dir ``runs.csv`` (one row per run), ``results.csv``/``results.md`` (per grid
cell: mean, std, n and 95 % t-interval over seeds; the best in bold only where its interval lies
above the runner-up's, else marked tied), ``comparison.csv``/``comparison.md`` (each cell against
the baseline: paired over seeds with the sign-flip p-value, and the per-image bootstrap of the
mIoU and bIoU differences), ``heatmap.png`` (loss x architecture, mIoU), ``bars.png`` (mIoU / mDice /
bF1 / bIoU / ECE per loss, those logged) and ``paired.png`` (mIoU difference to the baseline), every
interval a 95 % CI. ``chosen`` (``seglightning-report --columns mIoU,bIoU,ECE``) picks the metric
columns of the tables and plots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .cells import Cell, aggregate, grid_columns, metric_names
from .comparison import Comparison, choose_baseline, compare
from .grid import expected_jobs, not_started
from .plots import bars, heatmap, paired, save
from .runs import SECTIONS, Run, collect_runs
from .tables import (
    SECTION_TITLES,
    comparison_markdown,
    comparison_rows,
    markdown_report,
    markdown_table,
    result_rows,
    run_rows,
    write_csv,
)

OUTPUTS = (
    "runs.csv",
    "results.csv",
    "results.md",
    "comparison.csv",
    "comparison.md",
    "heatmap.png",
    "bars.png",
    "paired.png",
)
BAR_METRICS = ("mIoU", "mDice", "bF1", "bIoU", "ECE")  # bars.png panels, those the runs logged


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
    baseline: Cell | None = None  # what comparisons are against (None: no complete run yet)
    comparisons: list[Comparison] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.runs)

    def status_line(self) -> str:
        total = len(self.runs) + len(self.pending or [])
        parts = [
            f"{self.count('complete')} of {total} jobs complete",
            f"{self.count('failed')} failed",
            f"{self.count('incomplete')} unfinished",
        ]
        if self.pending is not None:
            parts.append(f"{len(self.pending)} not started")
        return ", ".join(parts)

    def section_title(self) -> str:
        monitor = next((r.monitor for r in self.runs if r.monitor), "val/mIoU")
        return SECTION_TITLES[self.section].format(monitor=monitor)


def build_report(
    sweep_dir: str | Path, section: str = "best", baseline: str | None = None, chosen: list[str] | None = None
) -> SweepReport:
    """Collect the runs under ``sweep_dir``, aggregate ``section`` (best | final | test) and compare
    every cell with ``baseline`` (``"loss=ce,model=unet"``; default: the first cell), on the metrics
    ``chosen`` (default: every headline metric the runs logged, :func:`~.cells.metric_names`)."""
    if section not in SECTIONS:
        raise ValueError(f"metrics section '{section}' is not one of {', '.join(SECTIONS)} (option --metrics)")
    sweep_dir = Path(sweep_dir).resolve()
    runs = collect_runs(sweep_dir)
    complete = [r for r in runs if r.status == "complete"]
    if complete and not any(r.metrics.get(section) for r in complete):
        raise ValueError(
            f"no complete run of {sweep_dir} has '{section}' metrics"
            + (" (trained with test_after_fit=false?)" if section == "test" else "")
            + "; choose another --metrics"
        )
    metrics = metric_names(complete, section)
    if chosen is not None:
        missing = [m for m in chosen if m not in metrics]
        if missing:
            logged = ", ".join(metrics)
            raise ValueError(f"--columns: {', '.join(missing)} not logged in '{section}' (logged: {logged})")
        metrics = list(chosen)
    columns = grid_columns(runs)
    jobs = expected_jobs(sweep_dir)
    cells = aggregate(runs, columns, section, metrics)
    base = choose_baseline(cells, columns, baseline) if cells else None
    return SweepReport(
        sweep_dir,
        runs,
        columns,
        section,
        metrics,
        cells,
        None if jobs is None else not_started(jobs, runs),
        base,
        compare(cells, base, section, metrics) if base else [],
    )


def write_report(report: SweepReport, rows: str = "loss", cols: str = "model") -> dict[str, Path]:
    """Write the outputs into the sweep dir; plots need at least one complete run."""
    for option, key in (("--rows", rows), ("--cols", cols)):
        if key not in report.columns:
            raise ValueError(f"{option} {key}: not a grid column of this sweep (columns: {', '.join(report.columns)})")
    out = {name: report.sweep_dir / name for name in OUTPUTS}
    title = f"Sweep {report.sweep_dir.name}"
    write_csv(out["runs.csv"], *run_rows(report.runs, report.columns, report.sweep_dir))
    write_csv(out["results.csv"], *result_rows(report.cells, report.columns, report.metrics))
    table = markdown_table(report.cells, report.columns, report.metrics)
    out["results.md"].write_text(
        markdown_report(title, report.status_line(), report.section_title(), table, report.runs, report.sweep_dir)
    )
    if report.baseline is None or not report.metrics:  # nothing finished yet: the run tables only
        return {k: out[k] for k in ("runs.csv", "results.csv", "results.md")}
    write_csv(out["comparison.csv"], *comparison_rows(report.comparisons, report.columns))
    out["comparison.md"].write_text(
        comparison_markdown(title, report.baseline, report.comparisons, report.columns, report.section_title())
    )
    headline = "mIoU" if "mIoU" in report.metrics else report.metrics[0]
    save(heatmap(report.cells, report.columns, headline, rows, cols), out["heatmap.png"])
    bar_metrics = [m for m in BAR_METRICS if m in report.metrics] or report.metrics[:1]
    save(bars(report.cells, report.columns, bar_metrics, group=rows), out["bars.png"])
    baseline = ", ".join(f"{k}={v}" for k, v in zip(report.columns, report.baseline.key))
    save(paired(report.comparisons, report.columns, baseline, headline), out["paired.png"])
    return out


def summary(report: SweepReport) -> str:
    """What the end of a multirun prints: job counts, failures with their error, the table."""
    lines = [f"[seglightning] sweep {report.sweep_dir}: {report.status_line()}"]
    lines += [
        f"  FAILED {r.path.relative_to(report.sweep_dir)}: {r.error_line}" for r in report.runs if r.status == "failed"
    ]
    if report.cells:
        lines += ["", markdown_table(report.cells, report.columns, report.metrics)]
    return "\n".join(lines)
