"""``seglightning-report <sweep dir>``: the comparison table and plots of a sweep, finished or not.

Writes into the sweep dir ``runs.csv`` (one row per run), ``results.csv``/``results.md`` (per grid
cell: mean, std, n and 95 % t-interval over seeds; the best in bold only where its interval lies
above the runner-up's, else marked tied), ``comparison.csv``/``comparison.md`` (each cell against
the baseline: paired over seeds with the sign-flip p-value, and the per-image bootstrap of the
mIoU and bIoU differences; p-values adjusted per metric, seeds needed), ``ranks.csv``/``ranks.md``/
``ranks.png`` (the bootstrap of the cells' ranking over images and seeds), ``heatmap.png`` (loss x
architecture, mIoU), ``bars.png`` (mIoU / mDice / bF1 / bIoU / ECE per loss, those logged) and
``paired.png`` (mIoU difference to the baseline), every interval a 95 % CI; ``cost.png`` (mIoU
against device-hours), ``gallery.png`` and ``worst_images.csv`` (predictions side by side,
:mod:`.gallery`) and ``report.html`` (all of it on one self-contained page, :mod:`.html`).
``chosen`` (``seglightning-report --columns mIoU,bIoU,ECE``) picks the metric columns of the tables
and plots.

The files that depend on the metrics section (all but ``runs.csv``) of ``--metrics best`` (the
default) have the names above; those of ``final`` and ``test`` carry the section as a suffix
(``results-test.md``, ``heatmap-test.png``), so reports of several sections live side by side.

This module and everything it imports read files and compute with numpy/scipy/matplotlib: no torch,
no Lightning (``tests/sweeps/test_report_imports.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ..run.directory import RunStatus, write_csv
from ..run.report_table import test_label
from .cells import Cell, aggregate, grid_columns, metric_names
from .comparison import Comparison, ImageCountsCache, choose_baseline, compare
from .cost import total_cost
from .grid import expected_jobs, not_started
from .html import write_pages
from .multiple_testing import DEFAULT_METHOD
from .multiple_testing import METHODS as ADJUST_METHODS
from .outputs import DEFAULT_SECTION, output_name
from .plots import bars, heatmap, paired, save
from .rank_report import rank_rows, ranks_markdown, ranks_plot
from .rank_stability import SCORES, RankStability, rank_bootstraps
from .rerun import current_code_version, rerun_reason
from .runs import SECTIONS, Run, collect_runs
from .stats import BOOTSTRAP_DRAWS
from .tables import (
    SECTION_TITLES,
    comparison_markdown,
    comparison_rows,
    markdown_report,
    markdown_table,
    result_rows,
    run_rows,
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
    "ranks.csv",
    "ranks.md",
    "ranks.png",
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
    ranks: list[RankStability] = field(default_factory=list)  # per metric the per-image counts determine
    ranks_left_out: list[tuple[str, ...]] = field(default_factory=list)  # cells without per-image results

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.runs)

    def status_line(self) -> str:
        total = len(self.runs) + len(self.pending or [])
        parts = [
            f"{self.count(RunStatus.COMPLETE)} of {total} jobs complete",
            f"{self.count(RunStatus.FAILED)} failed",
            f"{self.count(RunStatus.INCOMPLETE)} unfinished",
        ]
        if self.count(RunStatus.UNREADABLE):
            parts.append(f"{self.count(RunStatus.UNREADABLE)} unreadable (left out)")
        if self.pending is not None:
            parts.append(f"{len(self.pending)} not started")
        return ", ".join(parts)

    def test_on_other_split(self) -> list[str]:
        """The splits other than ``test`` that complete runs' test passes ran on (no test split)."""
        complete = [r for r in self.runs if r.status == RunStatus.COMPLETE]
        return sorted({r.test_split for r in complete if r.test_split not in (None, "test")})

    def section_title(self) -> str:
        monitor = next((r.monitor for r in self.runs if r.monitor), "val/mIoU")
        splits = self.test_on_other_split()
        if self.section == "test" and splits:  # never a test label on a pass that ran on val
            return f"{test_label(splits[0])} metrics of the best checkpoint: the test pass ran on the " \
                   f"{'/'.join(splits)} split (the dataset has no test split), not an independent test set"
        return SECTION_TITLES[self.section].format(monitor=monitor)


def rank_stability(cells: list[Cell], metrics: list[str], reader: ImageCountsCache, draws: int = BOOTSTRAP_DRAWS,
                   ) -> tuple[list[RankStability], list[tuple[str, ...]]]:
    """The rank bootstrap of every metric the per-image counts determine (mIoU, mDice), over the cells
    whose runs wrote ``per_image.csv`` of the most common split; and the cells left out."""
    read = {(c.key, r.path): found for c in cells for r in c.runs if (found := reader(r.path)) is not None}
    if not read:
        return [], [c.key for c in cells]
    splits = [split for split, _ in read.values()]
    split = max(dict.fromkeys(splits), key=splits.count)
    per_cell = []
    for c in cells:
        runs = {(r.seed if r.seed is not None else -1 - i): read[(c.key, r.path)][1]
                for i, r in enumerate(c.runs) if read.get((c.key, r.path), ("",))[0] == split}
        per_cell.append((c.key, runs))
    left_out = [key for key, runs in per_cell if not runs]
    found = rank_bootstraps(per_cell, [m for m in SCORES if m in metrics], draws=draws)
    return [replace(result, split=split) for result in found], left_out


def build_report(sweep_dir: str | Path, section: str = DEFAULT_SECTION, baseline: str | None = None,
                 adjust: str = DEFAULT_METHOD, delta: float | None = None,
                 draws: int = BOOTSTRAP_DRAWS, chosen: list[str] | None = None) -> SweepReport:
    """Collect the runs under ``sweep_dir``, aggregate ``section`` (best | final | test), compare
    every cell with ``baseline`` (``"loss=ce,model=unet"``; default: the first cell) with p-values
    adjusted by ``adjust`` (holm | bh | none) and the seeds needed (also for ``delta``), and
    bootstrap the ranking (``draws`` draws), on the metrics ``chosen`` (default: every headline
    metric the runs logged, :func:`~.cells.metric_names`)."""
    if adjust not in ADJUST_METHODS:
        raise ValueError(f"--adjust {adjust}: not one of {', '.join(ADJUST_METHODS)}")
    if section not in SECTIONS:
        raise ValueError(f"metrics section '{section}' is not one of {', '.join(SECTIONS)} (option --metrics)")
    sweep_dir = Path(sweep_dir).resolve()
    runs = collect_runs(sweep_dir)
    complete = [r for r in runs if r.status == RunStatus.COMPLETE]
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
    reader = ImageCountsCache()
    ranks, left_out = rank_stability(cells, metrics, reader, draws) if len(cells) > 1 else ([], [])
    return SweepReport(
        sweep_dir,
        runs,
        columns,
        section,
        metrics,
        cells,
        None if jobs is None else not_started(jobs, runs),
        base,
        compare(cells, base, section, metrics, adjust, delta, reader) if base else [],
        ranks,
        left_out,
    )


def write_report(
    report: SweepReport, rows: str = "loss", cols: str = "model", gallery_seed: int | None = None
) -> dict[str, Path]:
    """Write the outputs into the sweep dir; plots need at least one complete run. Last ``cost.png``,
    ``gallery.png`` (at ``gallery_seed``; default: see :mod:`.gallery`), ``worst_images.csv`` and
    ``report.html`` (:mod:`.html`), the page of everything in the sweep dir."""
    for option, key in (("--rows", rows), ("--cols", cols)):
        if key not in report.columns:
            raise ValueError(f"{option} {key}: not a grid column of this sweep (columns: {', '.join(report.columns)})")
    out = {name: report.sweep_dir / output_name(name, report.section) for name in OUTPUTS}
    title = f"Sweep {report.sweep_dir.name}"
    write_csv(out["runs.csv"], *run_rows(report.runs, report.columns, report.sweep_dir))
    write_csv(out["results.csv"], *result_rows(report.cells, report.columns, report.metrics))
    table = markdown_table(report.cells, report.columns, report.metrics)
    out["results.md"].write_text(
        markdown_report(title, report.status_line(), report.section_title(), table, report.runs, report.sweep_dir)
    )
    if report.baseline is None or not report.metrics:  # nothing finished yet: the run tables only
        return {k: out[k] for k in ("runs.csv", "results.csv", "results.md")} | write_pages(report, "", gallery_seed)
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
    write_csv(out["ranks.csv"], *rank_rows(report.ranks, report.columns))
    out["ranks.md"].write_text(ranks_markdown(title, report.ranks, report.columns, report.ranks_left_out))
    if report.ranks:
        save(ranks_plot(report.ranks, report.columns), out["ranks.png"])
    else:
        del out["ranks.png"]
    return out | write_pages(report, headline, gallery_seed)


def code_lines(runs: list[Run]) -> list[str]:
    """A warning when runs were made with other code than this (git commit or package version)."""
    current = current_code_version()
    other = [r for r in runs if r.code_version and current and r.code_version != current]
    if not other:
        return []
    versions = ", ".join(sorted({r.code_version for r in other}))
    return [
        f"  CODE {len(other)} run(s) were made with other code ({versions}) than this ({current}); "
        "their results are kept (sweep.on_code_change=keep; rerun the sweep with sweep.on_code_change=rerun "
        "to run them again; runs.csv: code_version)"
    ]


def summary(report: SweepReport) -> str:
    """What the end of a multirun prints: job counts, failures with their error, the table."""
    lines = [f"[seglightning] sweep {report.sweep_dir}: {report.status_line()}; {total_cost(report.runs)}"]
    lines += [
        f"  FAILED {r.path.relative_to(report.sweep_dir)}: {r.error_line}"
        for r in report.runs
        if r.status == RunStatus.FAILED
    ]
    lines += [f"  UNREADABLE {r.path.relative_to(report.sweep_dir)} (left out): {r.error}"
              for r in report.runs if r.status == RunStatus.UNREADABLE]
    lines += [f"  RERUN {r.path.relative_to(report.sweep_dir)}: {rerun_reason(r.rerun)}"
              for r in report.runs if r.rerun]
    lines += code_lines(report.runs)
    for split in report.test_on_other_split():
        lines.append(f"  NOTE the test pass ran on the {split} split (the dataset has no test split): "
                     f"test/ metrics are {test_label(split)}, not an independent test set (runs.csv: test_split)")
    lines += [f"  IMAGES {', '.join(c.key)}: {c.image_note}" for c in report.comparisons if c.image_note]
    if report.cells:
        lines += ["", markdown_table(report.cells, report.columns, report.metrics)]
    return "\n".join(lines)
