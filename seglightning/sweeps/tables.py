"""The report's tables: ``runs.csv`` (one row per run), ``results.csv``/``results.md`` (per grid
cell: mean, std, n and 95 % interval over seeds; best only where separated) and
``comparison.csv``/``comparison.md`` (each cell against the baseline)."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

from .cells import HEADLINE, SEED, Cell, cell_of, ranking
from .comparison import Comparison
from .runs import PREFIX, SECTIONS, Run
from .stats import BOOTSTRAP_DRAWS, Summary

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


def run_rows(runs: Sequence[Run], columns: Sequence[str], sweep_dir: Path) -> tuple[list[str], list[list[object]]]:
    """Header and rows of ``runs.csv``: grid values, seed, status, every metric, run dir, error."""
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


def result_rows(
    cells: Sequence[Cell], columns: Sequence[str], metrics: Sequence[str]
) -> tuple[list[str], list[list[object]]]:
    """Header and rows of ``results.csv``: per cell and metric the mean, sample std, number of seeds,
    95 % t-interval and ``best``/``tied`` (see :func:`~seglightning.sweeps.cells.ranking`)."""
    marks = {m: ranking(cells, m) for m in metrics}
    stats = ("mean", "std", "n", "ci_low", "ci_high", "rank")
    header = [*columns, "seeds", *(f"{m}/{k}" for m in metrics for k in stats)]
    rows = []
    for c in cells:
        values: list[object] = []
        for m in metrics:
            s = c.summary[m]
            values += [s.mean, s.std, s.n, s.low, s.high, marks[m].get(c.key, "")]
        rows.append([*c.key, " ".join(str(seed) for seed in c.seeds), *values])
    return header, rows


def format_summary(s: Summary, mark: str = "") -> str:
    """``mean ± std [low, high]`` (as far as defined); bold when ``best``, ``(tied)`` when tied."""
    if math.isnan(s.mean):
        return "–"
    text = f"{s.mean:.4f}" + ("" if math.isnan(s.std) else f" ± {s.std:.4f}")
    text += "" if math.isnan(s.low) else f" [{s.low:.4f}, {s.high:.4f}]"
    return f"**{text}**" if mark == "best" else f"{text} (tied)" if mark == "tied" else text


def markdown_table(cells: Sequence[Cell], columns: Sequence[str], metrics: Sequence[str]) -> str:
    """One row per cell: ``mean ± std [95 % CI]``; the best in bold only where its interval lies above
    the runner-up's, otherwise the top cells are marked ``(tied)``."""
    marks = {m: ranking(cells, m) for m in metrics}
    lines = [
        "| " + " | ".join([*columns, "seeds", *metrics]) + " |",
        "|" + "---|" * len(columns) + "---:|" * (1 + len(metrics)),
    ]
    for c in cells:
        scores = [format_summary(c.summary[m], marks[m].get(c.key, "")) for m in metrics]
        lines.append("| " + " | ".join([*c.key, str(len(c.runs)), *scores]) + " |")
    return "\n".join(lines)


RESULTS_LEGEND = (
    "Mean ± sample std (n−1) [95 % confidence interval of the mean, Student t with n−1 degrees of freedom] "
    "over seeds of the {section}. **Bold**: the highest mean, whose interval lies entirely above the "
    "runner-up's. (tied): the highest mean and every cell whose interval overlaps it: the seeds do not "
    "separate them (a single seed has no interval and separates nothing)."
)


def markdown_report(
    title: str, status_line: str, section_title: str, table: str, runs: Sequence[Run], sweep_dir: Path
) -> str:
    """The whole ``results.md``: headline, status of the jobs, the table, failed and unfinished runs."""
    parts = [f"# {title}", "", status_line, "", RESULTS_LEGEND.format(section=section_title), "", table]
    failed = [r for r in runs if r.status == "failed"]
    if failed:
        parts += ["", "## Failed runs", ""]
        parts += [f"- `{r.path.relative_to(sweep_dir)}`: {r.error_line}" for r in failed]
    unfinished = [r for r in runs if r.status == "incomplete"]
    if unfinished:
        parts += ["", "## Unfinished runs (running, interrupted or not started)", ""]
        parts += [f"- `{r.path.relative_to(sweep_dir)}`" for r in unfinished]
    return "\n".join(parts) + "\n"


def _fmt(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:+.4f}"


def _interval(low: float, high: float) -> str:
    return "–" if math.isnan(low) else f"[{low:+.4f}, {high:+.4f}]"


def comparison_rows(comparisons: Sequence[Comparison], columns: Sequence[str]) -> tuple[list[str], list[list[object]]]:
    """Header and rows of ``comparison.csv``: one row per cell, metric and method (``seeds``: paired
    over seeds, ``images``: paired bootstrap over images), difference = cell − baseline."""
    header = [*columns, "metric", "method", "n", "per_seed", "difference", "ci_low", "ci_high", "p_value", "split"]
    rows: list[list[object]] = []
    for c in comparisons:
        per_seed = " ".join(f"{s}:{d!r}" for s, d in zip(c.seeds, c.differences))
        rows.append(
            [
                *c.key,
                c.metric,
                "seeds",
                len(c.seeds),
                per_seed,
                c.summary.mean,
                c.summary.low,
                c.summary.high,
                c.p_value,
                "",
            ]
        )
        if c.bootstrap is not None:
            b = c.bootstrap
            rows.append([*c.key, c.metric, "images", b.images, "", b.difference, b.low, b.high, "", c.bootstrap_split])
    return header, rows


def comparison_markdown(
    title: str, baseline: Cell, comparisons: Sequence[Comparison], columns: Sequence[str], section_title: str
) -> str:
    """``comparison.md``: per metric, each cell against the baseline paired over seeds; then the
    per-image bootstrap of the mIoU (and bIoU) difference."""
    name = ", ".join(f"{k}={v}" for k, v in zip(columns, baseline.key))
    parts = [
        f"# {title}: each cell against the baseline",
        "",
        f"Baseline: **{name}** ({len(baseline.runs)} seeds). "
        f"Differences are cell − baseline, on the {section_title}.",
        "",
        "## Paired over seeds",
        "",
        "Per seed `seed: difference` (runs of the same seed share data order and initialisation); the mean "
        "difference with its 95 % confidence interval (Student t over the per-seed differences, n−1 degrees of "
        "freedom); p: exact two-sided sign-flip permutation test over the 2^n sign vectors of the differences "
        "(with n seeds p cannot fall below 2/2^n).",
    ]
    metrics = list(dict.fromkeys(c.metric for c in comparisons))
    for metric in metrics:
        parts += [
            "",
            f"### {metric}",
            "",
            "| " + " | ".join([*columns, "seeds", "per seed", "mean difference", "95 % CI", "p"]) + " |",
            "|" + "---|" * len(columns) + "---:|---|---:|---|---:|",
        ]
        for c in (c for c in comparisons if c.metric == metric):
            per_seed = ", ".join(f"{s}: {d:+.4f}" for s, d in zip(c.seeds, c.differences)) or "–"
            p = "–" if math.isnan(c.p_value) else f"{c.p_value:.3g}"
            parts.append(
                "| "
                + " | ".join(
                    [
                        *c.key,
                        str(len(c.seeds)),
                        per_seed,
                        _fmt(c.summary.mean),
                        _interval(c.summary.low, c.summary.high),
                        p,
                    ]
                )
                + " |"
            )
    booted = [c for c in comparisons if c.bootstrap is not None]
    if not booted:
        parts += ["", "## Paired over images (mIoU)", ""]
        parts.append("No per-image results (`per_image.csv`) shared by the baseline and a cell: nothing to resample.")
    for metric in dict.fromkeys(c.metric for c in booted):  # mIoU, then bIoU (from the band counts)
        rows = [c for c in booted if c.metric == metric]
        counts = "per-class TP/FP/FN" if metric == "mIoU" else "per-class band intersections and unions"
        parts += [
            "",
            f"## Paired over images ({metric})",
            "",
            f"Dataset-level {metric} difference, mean over the common seeds, "
            f"on the `{rows[0].bootstrap_split}` images of "
            f"each run's `per_image.csv`. 95 % CI: percentile bootstrap over images ({BOOTSTRAP_DRAWS} seeded "
            "draws; each draw resamples the images with replacement, the same images for both cells and every "
            f"seed, and recomputes each run's {metric} from the drawn images' {counts}). It reflects the "
            "finite test set, not the seed-to-seed variation.",
            "",
            "| " + " | ".join([*columns, "images", "seeds", f"{metric} difference", "95 % CI"]) + " |",
            "|" + "---|" * len(columns) + "---:|---:|---:|---|",
        ]
        for c in rows:
            b = c.bootstrap
            parts.append(
                "| "
                + " | ".join([*c.key, str(b.images), str(len(c.seeds)), _fmt(b.difference), _interval(b.low, b.high)])
                + " |"
            )
    return "\n".join(parts) + "\n"
