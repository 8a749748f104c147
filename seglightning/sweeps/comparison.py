"""Each grid cell against a baseline cell (``seglightning-report --baseline loss=ce,model=unet``,
default: the first cell of the grid).

- Paired over seeds: runs of the same seed saw the same data order and initialisation, so the
  per-seed difference ``cell_s − baseline_s`` removes the seed's share of the variation; reported
  with its mean, 95 % Student-t interval and the exact sign-flip p-value
  (:mod:`~seglightning.sweeps.stats`).
- Paired over test images (mIoU, and bIoU from the band counts): the percentile bootstrap of the
  dataset-level difference over the images of each run's ``per_image.csv``, pooled over the common seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .cells import Cell
from .per_image import BOOTSTRAPPED, read_image_counts
from .stats import BootstrapResult, Summary, paired_bootstrap, sign_flip_pvalue, t_interval

BOOTSTRAP_METRIC = "mIoU"  # the headline metric of the bootstrap (the paired plot); all: BOOTSTRAPPED


@dataclass(frozen=True)
class Comparison:
    """One cell against the baseline on one metric."""

    key: tuple[str, ...]
    metric: str
    seeds: list[int]  # the seeds both cells ran, in order
    differences: list[float]  # cell − baseline per seed
    summary: Summary  # mean and 95 % t-interval of the differences
    p_value: float  # exact sign-flip permutation test
    bootstrap: BootstrapResult | None = None  # per-image bootstrap (the metrics of BOOTSTRAPPED)
    bootstrap_split: str | None = None  # the split of the per-image files (test, or val)


def parse_baseline(text: str) -> dict[str, str]:
    """``"loss=ce,model=unet"`` -> ``{"loss": "ce", "model": "unet"}``."""
    pairs = [item.partition("=") for item in text.split(",") if item.strip()]
    if not pairs or any(not sep or not key.strip() for key, sep, _ in pairs):
        raise ValueError(
            f"--baseline {text}: give grid values as key=value[,key=value], e.g. --baseline loss=ce,model=unet"
        )
    return {key.strip(): value.strip() for key, _, value in pairs}


def choose_baseline(cells: Sequence[Cell], columns: Sequence[str], spec: str | None) -> Cell:
    """The cell named by ``spec`` (its grid values; unnamed columns may take any value as long as
    one cell matches), or the first cell."""
    if spec is None:
        return cells[0]
    wanted = parse_baseline(spec)
    unknown = [k for k in wanted if k not in columns]
    if unknown:
        raise ValueError(
            f"--baseline {spec}: {unknown[0]} is not a grid column of this sweep (columns: {', '.join(columns)})"
        )
    matches = [c for c in cells if all(dict(zip(columns, c.key))[k] == v for k, v in wanted.items())]
    if len(matches) != 1:
        found = "no cell" if not matches else f"{len(matches)} cells ({'; '.join(', '.join(m.key) for m in matches)})"
        raise ValueError(
            f"--baseline {spec} matches {found} with complete runs; name one cell "
            f"(cells: {'; '.join(', '.join(c.key) for c in cells)})"
        )
    return matches[0]


def _by_seed(cell: Cell, section: str, metric: str) -> dict[int, float]:
    return {r.seed: v for r in cell.runs if r.seed is not None and (v := r.value(section, metric)) is not None}


def _bootstrap(
    baseline: Cell, cell: Cell, seeds: Sequence[int], metric: str = BOOTSTRAP_METRIC
) -> tuple[BootstrapResult | None, str | None]:
    """Per-image bootstrap of ``metric`` over the runs of ``seeds`` that wrote ``per_image.csv`` of one split."""
    read = {}
    for c in (baseline, cell):
        for r in c.runs:
            if r.seed in seeds and (found := read_image_counts(r.path, metric)) is not None:
                read[(c.key, r.seed)] = found
    both = [s for s in seeds if (baseline.key, s) in read and (cell.key, s) in read]
    splits = {read[(k, s)][0] for k in (baseline.key, cell.key) for s in both}
    if not both or len(splits) != 1:
        return None, None
    result = paired_bootstrap([read[(baseline.key, s)][1] for s in both], [read[(cell.key, s)][1] for s in both])
    return result, splits.pop()


def compare(cells: Sequence[Cell], baseline: Cell, section: str, metrics: Sequence[str]) -> list[Comparison]:
    """Every other cell against ``baseline`` on every metric (seed-paired; mIoU and bIoU also per image)."""
    out = []
    for cell in cells:
        if cell is baseline:
            continue
        for metric in metrics:
            base, other = _by_seed(baseline, section, metric), _by_seed(cell, section, metric)
            seeds = sorted(set(base) & set(other))
            differences = [other[s] - base[s] for s in seeds]
            boot, split = _bootstrap(baseline, cell, seeds, metric) if metric in BOOTSTRAPPED else (None, None)
            out.append(
                Comparison(
                    cell.key,
                    metric,
                    seeds,
                    differences,
                    t_interval(differences),
                    sign_flip_pvalue(differences),
                    boot,
                    split,
                )
            )
    return out
