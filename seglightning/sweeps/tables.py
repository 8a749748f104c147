"""The report's tables: ``runs.csv`` (one row per run), ``results.csv``/``results.md`` (per grid
cell: mean, std, n and 95 % interval over seeds; best only where separated) and
``comparison.csv``/``comparison.md`` (each cell against the baseline)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from ..run.directory import RunStatus
from .cells import HEADLINE, SEED, Cell, cell_of, ranking
from .comparison import Comparison
from .cost import CELL_COST, COST_COLUMNS, cell_cost, cost_values, format_cost
from .multiple_testing import ALPHA, DEFAULT_METHOD, DESCRIPTION
from .power import SeedsNeeded
from .rerun import current_code_version, rerun_reason
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
    header = [*columns, SEED, "status", "test_split", *(f"{s}/{k}" for s, k in metric_cols), *COST_COLUMNS,
              "run_dir", "error", "code_version", "code_differs", "rerun"]
    current = current_code_version()
    rows = []
    for r in runs:
        values = []
        for section, key in metric_cols:
            raw = r.metrics.get(section, {})
            values.append(raw.get(key, raw.get(PREFIX[section] + key, "")))
        rows.append([*cell_of(r, columns), "" if r.seed is None else r.seed, r.status, r.test_split or "", *values,
                     *cost_values(r), str(r.path.relative_to(sweep_dir)), r.error or "", r.code_version or "",
                     code_differs(r, current), rerun_reason(r.rerun) if r.rerun else ""])
    return header, rows


def code_differs(run: Run, current: str | None) -> str:
    """``yes`` when ``run`` was made with other code than ``current``; empty when either is unknown."""
    if run.code_version is None or current is None:
        return ""
    return "yes" if run.code_version != current else "no"


def result_rows(
    cells: Sequence[Cell], columns: Sequence[str], metrics: Sequence[str]
) -> tuple[list[str], list[list[object]]]:
    """Header and rows of ``results.csv``: per cell and metric the mean, sample std, number of seeds,
    95 % t-interval and ``best``/``tied`` (see :func:`~seglightning.sweeps.cells.ranking`)."""
    marks = {m: ranking(cells, m) for m in metrics}
    stats = ("mean", "std", "n", "ci_low", "ci_high", "ci_clipped", "rank")
    header = [*columns, "seeds", *(f"{m}/{k}" for m in metrics for k in stats), *(f"cost/{k}_mean" for k in CELL_COST)]
    rows = []
    for c in cells:
        values: list[object] = []
        for m in metrics:
            s = c.summary[m]
            low, high, clipped = clip_interval(m, s.low, s.high)
            values += [s.mean, s.std, s.n, low, high, "yes" if clipped else "", marks[m].get(c.key, "")]
        cost = cell_cost(c)
        rows.append([*c.key, " ".join(str(seed) for seed in c.seeds), *values, *(cost[k] for k in CELL_COST)])
    return header, rows


BOUNDED_PREFIXES = ("mIoU", "mDice", "bF1", "pixel_acc", "IoU/", "Dice/", "bIoU", "ECE", "NSD", "iIoU", "IoU_category",
                    "recall@", "detected@")  # scores in [0, 1]


def is_bounded(metric: str) -> bool:
    """Whether ``metric`` is a score in [0, 1] (its interval is clipped to that range)."""
    return metric.startswith(BOUNDED_PREFIXES)


def clip_interval(metric: str, low: float, high: float) -> tuple[float, float, bool]:
    """The t-interval clipped to [0, 1] for a bounded score (the t-interval ignores the bound);
    ``(low, high, clipped)``."""
    if not is_bounded(metric) or math.isnan(low):
        return low, high, False
    clipped_low, clipped_high = max(low, 0.0), min(high, 1.0)
    return clipped_low, clipped_high, (clipped_low, clipped_high) != (low, high)


def plural(n: int, word: str) -> str:
    """``1 seed``, ``3 seeds``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def format_summary(s: Summary, mark: str = "", metric: str = "") -> list[str]:
    """The cells ``mean``, ``std``, ``[low, high]`` (``–`` where undefined; ``*`` after a bound
    clipped to [0, 1]); the mean bold when ``best``, followed by ``(tied)`` when tied."""
    if math.isnan(s.mean):
        return ["–", "–", "–"]
    mean = f"{s.mean:.4f}"
    mean = f"**{mean}**" if mark == "best" else f"{mean} (tied)" if mark == "tied" else mean
    std = "–" if math.isnan(s.std) else f"{s.std:.4f}"
    if math.isnan(s.low):
        return [mean, std, "–"]
    low, high, _ = clip_interval(metric, s.low, s.high)
    ci = f"[{low:.4f}{'*' if low != s.low else ''}, {high:.4f}{'*' if high != s.high else ''}]"
    return [mean, std, ci]


def markdown_table(cells: Sequence[Cell], columns: Sequence[str], metrics: Sequence[str]) -> str:
    """One row per cell and, per metric, the columns mean, std and 95 % CI; the best mean in bold only
    where its interval lies above the runner-up's, otherwise the top cells are marked ``(tied)``; last
    the cost per run (mean over seeds)."""
    marks = {m: ranking(cells, m) for m in metrics}
    lines = [
        "| " + " | ".join([*columns, "seeds", *(f"{m} {k}" for m in metrics for k in ("mean", "std", "95 % CI")),
                           "cost per run"]) + " |",
        "|" + "---|" * len(columns) + "---:|" + "---:|---:|---|" * len(metrics) + "---:|",
    ]
    for c in cells:
        scores = [text for m in metrics for text in format_summary(c.summary[m], marks[m].get(c.key, ""), m)]
        lines.append("| " + " | ".join([*c.key, str(len(c.runs)), *scores, format_cost(c)]) + " |")
    return "\n".join(lines)


RESULTS_LEGEND = (
    "Per metric: the mean, the sample std (n−1) and the 95 % confidence interval of the mean (Student t "
    "with n−1 degrees of freedom) over seeds of the {section}. Scores lie in [0, 1]: an interval bound "
    "marked * is clipped to that range (the t-interval ignores it). **Bold**: the highest mean, whose "
    "interval lies entirely above the runner-up's. (tied): the highest mean and every cell whose interval "
    "overlaps it: the seeds do not separate them (a single seed has no interval and separates nothing). "
    "Cost per run: mean over seeds of the device-hours (wall time × devices) and the wall time of fit and test."
)


def markdown_report(
    title: str, status_line: str, section_title: str, table: str, runs: Sequence[Run], sweep_dir: Path
) -> str:
    """The whole ``results.md``: headline, status of the jobs, the table, failed and unfinished runs."""
    parts = [f"# {title}", "", status_line, "", RESULTS_LEGEND.format(section=section_title), "", table]
    failed = [r for r in runs if r.status == RunStatus.FAILED]
    if failed:
        parts += ["", "## Failed runs", ""]
        parts += [f"- `{r.path.relative_to(sweep_dir)}`: {r.error_line}" for r in failed]
    unreadable = [r for r in runs if r.status == RunStatus.UNREADABLE]
    if unreadable:
        parts += ["", "## Unreadable runs (left out)", ""]
        parts += [f"- `{r.path.relative_to(sweep_dir)}`: {r.error}" for r in unreadable]
    unfinished = [r for r in runs if r.status == RunStatus.INCOMPLETE]
    if unfinished:
        parts += ["", "## Unfinished runs (running, interrupted or not started)", ""]
        parts += [f"- `{r.path.relative_to(sweep_dir)}`" for r in unfinished]
    return "\n".join(parts) + "\n"


def _fmt(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:+.4f}"


def _interval(low: float, high: float) -> str:
    return "–" if math.isnan(low) else f"[{low:+.4f}, {high:+.4f}]"


def _seeds_text(needed: SeedsNeeded | None) -> str:
    return "–" if needed is None else needed.text()


def comparison_rows(comparisons: Sequence[Comparison], columns: Sequence[str]) -> tuple[list[str], list[list[object]]]:
    """Header and rows of ``comparison.csv``: one row per cell, metric and method (``seeds``: paired
    over seeds, ``images``: paired bootstrap over images), difference = cell − baseline; for
    ``seeds`` also the unadjusted and adjusted p-value, the method, the decision taken on the adjusted
    one, and the seeds a paired t-test needs (80 % power, α = 0.05) for the observed difference and for
    ``--delta`` (``seeds_needed_reliable``: the pilot had at least 3 seeds)."""
    header = [*columns, "metric", "method", "n", "per_seed", "difference", "ci_low", "ci_high", "p_value",
              "p_adjusted", "adjust", "decision", "seeds_needed", "seeds_needed_reliable", "delta",
              "seeds_needed_delta", "split"]
    rows: list[list[object]] = []
    for c in comparisons:
        per_seed = " ".join(f"{s}:{d!r}" for s, d in zip(c.seeds, c.differences))
        need, need_delta = c.seeds_needed, c.seeds_needed_delta
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
                c.p_adjusted,
                c.adjust,
                c.decision,
                "" if need is None else need.seeds,
                "" if need is None else str(need.reliable).lower(),
                "" if need_delta is None else need_delta.delta,
                "" if need_delta is None else need_delta.seeds,
                "",
            ]
        )
        if c.bootstrap is not None:
            b = c.bootstrap
            rows.append([*c.key, c.metric, "images", b.images, "", b.difference, b.low, b.high, "", "", "", "", "",
                         "", "", "", c.bootstrap_split])
    return header, rows


def _p(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.3g}"


def comparison_markdown(
    title: str, baseline: Cell, comparisons: Sequence[Comparison], columns: Sequence[str], section_title: str
) -> str:
    """``comparison.md``: per metric, each cell against the baseline paired over seeds (p-values
    unadjusted and adjusted, the decision, the seeds needed); then the per-image bootstrap of the
    mIoU (and bIoU) difference."""
    name = ", ".join(f"{k}={v}" for k, v in zip(columns, baseline.key))
    method = comparisons[0].adjust if comparisons else DEFAULT_METHOD
    used = DESCRIPTION[method]
    delta = next((c.seeds_needed_delta.delta for c in comparisons if c.seeds_needed_delta is not None), None)
    delta_column = [] if delta is None else [f"seeds for Δ = {delta:g}"]
    parts = [
        f"# {title}: each cell against the baseline",
        "",
        f"Baseline: **{name}** ({plural(len(baseline.runs), 'seed')}). "
        f"Differences are cell − baseline, on the {section_title}.",
        "",
        "## Paired over seeds",
        "",
        "Per seed `seed: difference` (runs of the same seed share data order and initialisation); the mean "
        "difference with its 95 % confidence interval (Student t over the per-seed differences, n−1 degrees of "
        "freedom); p: exact two-sided sign-flip permutation test over the 2^n sign vectors of the differences "
        "(with n seeds p cannot fall below 2/2^n). "
        + ("p adj.: the p-value adjusted for the comparisons of the metric (one family per metric table), "
           + ("Holm's step-down method (controls the chance of any false difference). " if method == "holm" else
              "Benjamini–Hochberg (controls the expected share of false differences). ")
           if method != "none" else "No adjustment for the number of comparisons (--adjust none). ")
        + f"Decision: **better** / **worse** where the {used} p-value is below {ALPHA:g}, otherwise tied "
        "(no evidence of a difference); absent where no seed has the metric in both cells (a run made before "
        "the metric was logged). Seeds needed: seeds per cell for a two-sided paired t-test to detect the "
        f"observed mean difference{'' if delta is None else f' (and Δ = {delta:g}, --delta)'} with 80 % power at "
        "α = 0.05, given the std of the per-seed differences; from a pilot of fewer than 3 seeds the std, and so "
        "the estimate, is unreliable.",
    ]
    metrics = list(dict.fromkeys(c.metric for c in comparisons))
    for metric in metrics:
        head = [*columns, "seeds", "per seed", "mean difference", "95 % CI", "p", "p adj.", "decision",
                "seeds needed", *delta_column]
        parts += [
            "",
            f"### {metric}",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "---|" * len(columns) + "---:|---|---:|---|---:|---:|---|---:|" + "---:|" * len(delta_column),
        ]
        for c in (c for c in comparisons if c.metric == metric):
            per_seed = ", ".join(f"{s}: {d:+.4f}" for s, d in zip(c.seeds, c.differences)) or "–"
            plain = c.decision in ("tied", "absent")
            decision = c.decision if plain else f"**{c.decision}**"
            mean = _fmt(c.summary.mean)
            parts.append(
                "| "
                + " | ".join(
                    [
                        *c.key,
                        str(len(c.seeds)),
                        per_seed,
                        mean if plain else f"**{mean}**",
                        _interval(c.summary.low, c.summary.high),
                        _p(c.p_value),
                        _p(c.p_adjusted) if method != "none" else "–",
                        decision,
                        _seeds_text(c.seeds_needed),
                        *([_seeds_text(c.seeds_needed_delta)] if delta_column else []),
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
        notes = [c for c in booted if c.image_note]
        if notes:
            parts += ["", *(f"- {', '.join(c.key)}: {c.image_note}" for c in notes)]
    return "\n".join(parts) + "\n"
