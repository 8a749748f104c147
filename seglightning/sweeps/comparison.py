"""Each grid cell against a baseline cell (``seglightning-report --baseline loss=ce,model=unet``,
default: the first cell of the grid).

- Paired over seeds: runs of the same seed saw the same data order and initialisation, so the
  per-seed difference ``cell_s − baseline_s`` removes the seed's share of the variation; reported
  with its mean, 95 % Student-t interval and the exact sign-flip p-value
  (:mod:`~seglightning.sweeps.stats`).
- Paired over test images (mIoU only): the percentile bootstrap of the dataset-level mIoU
  difference over the images of each run's ``per_image.csv``, pooled over the common seeds. Only
  the images every compared run scored count; when the runs disagree on the image set (a file cut
  short, another data version) the comparison says so (``image_note``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .cells import Cell
from .per_image import read_image_counts
from .stats import BootstrapResult, ImageCounts, Summary, paired_bootstrap, sign_flip_pvalue, t_interval

BOOTSTRAP_METRIC = "mIoU"


@dataclass(frozen=True)
class Comparison:
    """One cell against the baseline on one metric."""

    key: tuple[str, ...]
    metric: str
    seeds: list[int]  # the seeds both cells ran, in order
    differences: list[float]  # cell − baseline per seed
    summary: Summary  # mean and 95 % t-interval of the differences
    p_value: float  # exact sign-flip permutation test
    bootstrap: BootstrapResult | None = None  # per-image bootstrap (mIoU only)
    bootstrap_split: str | None = None  # the split of the per-image files (test, or val)
    image_note: str | None = None  # set when the compared runs disagree on the image set


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


def image_set_note(counts: dict[str, ImageCounts]) -> str | None:
    """Why the bootstrap used fewer images than a run scored: ``counts`` (run dir -> its images)
    disagree on the image set. None when every run has the same images."""
    sets = {name: set(c.ids) for name, c in counts.items()}
    common = set.intersection(*sets.values()) if sets else set()
    if all(s == common for s in sets.values()):
        return None
    sizes = ", ".join(f"{name}: {len(s)}" for name, s in sets.items())
    return f"the runs disagree on the image set; the bootstrap uses the {len(common)} images common to all ({sizes})"


def _bootstrap(
    baseline: Cell, cell: Cell, seeds: Sequence[int]
) -> tuple[BootstrapResult | None, str | None, str | None]:
    """Per-image bootstrap over the runs of ``seeds`` that wrote ``per_image.csv`` of one split, on
    the images common to them; and the note when they disagree on the image set."""
    read, names = {}, {}
    for c in (baseline, cell):
        for r in c.runs:
            if r.seed in seeds and (found := read_image_counts(r.path)) is not None:
                read[(c.key, r.seed)] = found
                names[(c.key, r.seed)] = r.path.name
    both = [s for s in seeds if (baseline.key, s) in read and (cell.key, s) in read]
    splits = {read[(k, s)][0] for k in (baseline.key, cell.key) for s in both}
    if not both or len(splits) != 1:
        return None, None, None
    used = [(k, s) for k in (baseline.key, cell.key) for s in both]
    note = image_set_note({names[u]: read[u][1] for u in used})
    result = paired_bootstrap([read[(baseline.key, s)][1] for s in both], [read[(cell.key, s)][1] for s in both])
    return result, splits.pop(), note


def compare(cells: Sequence[Cell], baseline: Cell, section: str, metrics: Sequence[str]) -> list[Comparison]:
    """Every other cell against ``baseline`` on every metric (seed-paired; mIoU also per image)."""
    out = []
    for cell in cells:
        if cell is baseline:
            continue
        for metric in metrics:
            base, other = _by_seed(baseline, section, metric), _by_seed(cell, section, metric)
            seeds = sorted(set(base) & set(other))
            differences = [other[s] - base[s] for s in seeds]
            boot, split, note = _bootstrap(baseline, cell, seeds) if metric == BOOTSTRAP_METRIC else (None,) * 3
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
                    note,
                )
            )
    return out
