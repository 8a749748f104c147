"""Each grid cell against a baseline cell (``seglightning-report --baseline loss=ce,model=unet``,
default: the first cell of the grid).

- Paired over seeds: runs of the same seed saw the same data order and initialisation, so the
  per-seed difference ``cell_s − baseline_s`` removes the seed's share of the variation; reported
  with its mean, 95 % Student-t interval and the exact sign-flip p-value
  (:mod:`~seglightning.sweeps.stats`).
- Paired over test images (mIoU, and bIoU from the band counts): the percentile bootstrap of the
  dataset-level difference over the images of each run's ``per_image.csv``, pooled over the common
  seeds. Only the images every compared run scored count; when the runs disagree on the image set
  (a file cut short, another data version) the comparison says so (``image_note``).
- The p-values of one metric's comparisons are adjusted for their number (Holm by default,
  :mod:`~seglightning.sweeps.multiple_testing`), and each comparison says how many seeds a paired
  t-test needs to detect its observed difference, or ``delta`` (:mod:`~seglightning.sweeps.power`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..metrics.image_counts import ImageCounts
from .cells import Cell
from .multiple_testing import ALPHA, DEFAULT_METHOD, adjust_pvalues
from .per_image import BOOTSTRAPPED, read_image_counts
from .power import SeedsNeeded, seeds_needed
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
    image_note: str | None = None  # set when the compared runs disagree on the image set
    p_adjusted: float = math.nan  # adjusted for the comparisons of this metric (method: adjust)
    adjust: str = "none"  # holm | bh | none
    seeds_needed: SeedsNeeded | None = None  # to detect the observed mean difference
    seeds_needed_delta: SeedsNeeded | None = None  # to detect the difference the user named

    @property
    def p_used(self) -> float:
        """The p-value the decision uses: the adjusted one (the unadjusted one with ``none``)."""
        return self.p_value if self.adjust == "none" else self.p_adjusted

    @property
    def decision(self) -> str:
        """``better`` / ``worse`` when :attr:`p_used` < 0.05, else ``tied`` (no evidence either way);
        ``absent`` when no seed has the metric in both cells (e.g. a run made before it was logged)."""
        if not self.seeds:
            return "absent"
        if not self.p_used < ALPHA:
            return "tied"
        return "better" if self.summary.mean > 0 else "worse"


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


class ImageCountsCache:
    """Each run's ``per_image.csv`` counts read once per report and metric (the comparisons and the
    rank bootstrap all resample the same files)."""

    def __init__(self) -> None:
        self._read: dict[tuple[Path, str], tuple[str, ImageCounts] | None] = {}

    def __call__(self, run_dir: Path, metric: str = BOOTSTRAP_METRIC) -> tuple[str, ImageCounts] | None:
        if (run_dir, metric) not in self._read:
            self._read[(run_dir, metric)] = read_image_counts(run_dir, metric)
        return self._read[(run_dir, metric)]


def _bootstrap(
    baseline: Cell, cell: Cell, seeds: Sequence[int], metric: str = BOOTSTRAP_METRIC,
    reader: ImageCountsCache | None = None,
) -> tuple[BootstrapResult | None, str | None, str | None]:
    """Per-image bootstrap of ``metric`` over the runs of ``seeds`` that wrote ``per_image.csv`` of
    one split, on the images common to them; and the note when they disagree on the image set."""
    reader = reader or ImageCountsCache()
    read, names = {}, {}
    for c in (baseline, cell):
        for r in c.runs:
            if r.seed in seeds and (found := reader(r.path, metric)) is not None:
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


def compare(cells: Sequence[Cell], baseline: Cell, section: str, metrics: Sequence[str],
            adjust: str = DEFAULT_METHOD, delta: float | None = None,
            reader: ImageCountsCache | None = None) -> list[Comparison]:
    """Every other cell against ``baseline`` on every metric (seed-paired; mIoU and bIoU also per
    image), the p-values adjusted with ``adjust`` within each metric, and the seeds needed to detect
    the observed difference (and ``delta``)."""
    reader = reader or ImageCountsCache()
    out = []
    for cell in cells:
        if cell is baseline:
            continue
        for metric in metrics:
            base, other = _by_seed(baseline, section, metric), _by_seed(cell, section, metric)
            seeds = sorted(set(base) & set(other))
            differences = [other[s] - base[s] for s in seeds]
            boot, split, note = (
                _bootstrap(baseline, cell, seeds, metric, reader) if metric in BOOTSTRAPPED else (None,) * 3
            )
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
                    seeds_needed=seeds_needed(differences),
                    seeds_needed_delta=None if delta is None else seeds_needed(differences, delta),
                )
            )
    return adjust_family(out, adjust)


def adjust_family(comparisons: Sequence[Comparison], method: str = DEFAULT_METHOD) -> list[Comparison]:
    """``comparisons`` with ``p_adjusted`` set, the family being one metric's comparisons."""
    out = list(comparisons)
    for metric in dict.fromkeys(c.metric for c in out):
        where = [i for i, c in enumerate(out) if c.metric == metric]
        adjusted = adjust_pvalues([out[i].p_value for i in where], method)
        for i, p in zip(where, adjusted):
            out[i] = replace(out[i], p_adjusted=float(p), adjust=method)
    return out
