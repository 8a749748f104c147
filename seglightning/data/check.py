"""``seglightning-data check data=<name> data.root=<folder>``: validate a dataset folder before training.

For every split of the data config it indexes the split (missing files for listed ids, orphan
masks, annotation problems), then decodes every sample (``level=full``; ``header`` only reads file
headers) and prints a summary: images per split, image sizes, class pixel frequencies, void share
and every problem found, each naming its file. :func:`main` returns a non-zero exit status when
any problem is found, so the check can gate a training script.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch.utils.data import DataLoader, Dataset

from ..utils.registry import lookup
from .io import DatasetError, header_size
from .reader import LEVELS
from .registry import DATASETS, resolve_splits
from .workers import usable_workers


@dataclass
class SplitReport:
    """What the check found in one split."""

    split: str
    images: int = 0
    sizes: Counter = field(default_factory=Counter)  # (W, H) -> count
    pixels: np.ndarray | None = None  # per class, void last
    problems: list[str] = field(default_factory=list)


@dataclass
class CheckReport:
    """The whole check: one :class:`SplitReport` per split, plus the dataset's metadata."""

    name: str
    root: str
    level: str
    class_names: Sequence[str] = ()
    ignore_index: int = 255
    splits: list[SplitReport] = field(default_factory=list)
    stages: dict[str, str] = field(default_factory=dict)  # train/val/test -> the split each reads

    @property
    def problems(self) -> list[str]:
        return [p for s in self.splits for p in s.problems]

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self, max_problems: int = 50) -> str:
        """The printed summary."""
        lines = [f"seglightning-data check: {self.name} at {self.root} (level={self.level})", ""]
        lines.append(f"{'split':<10} {'images':>7}  image sizes (WxH)")
        for s in self.splits:
            sizes = ", ".join(f"{w}x{h} x{n}" for (w, h), n in s.sizes.most_common(4))
            more = f", … ({len(s.sizes)} sizes)" if len(s.sizes) > 4 else ""
            lines.append(f"{s.split:<10} {s.images:>7}  {sizes}{more}")
        for stage, split in self.stages.items():  # every split a run reads, including a test pass on val
            own = stage == split
            lines.append(f"{stage} split: {split}" + ("" if own else f" (the {stage} pass runs on the {split} split: "
                                                                     f"no {stage} split of its own)"))
        counted = [s for s in self.splits if s.pixels is not None and s.pixels.sum() > 0]
        if counted and self.class_names:
            lines += ["", "class pixel frequency (share of labelled pixels; void: share of all pixels)"]
            width = max(12, *(len(n) for n in self.class_names))
            lines.append(f"{'class':<{width}} " + " ".join(f"{s.split:>9}" for s in counted))
            for c, cname in enumerate(self.class_names):
                cells = []
                for s in counted:
                    valid = s.pixels[:-1].sum()
                    cells.append(f"{100 * s.pixels[c] / valid:8.2f}%" if valid else f"{'-':>9}")
                absent = all(s.pixels[c] == 0 for s in counted)
                lines.append(f"{cname:<{width}} " + " ".join(cells) + ("   (absent)" if absent else ""))
            lines.append(
                f"{f'void ({self.ignore_index})':<{width}} "
                + " ".join(f"{100 * s.pixels[-1] / s.pixels.sum():8.2f}%" for s in counted)
            )
        problems = self.problems
        lines += ["", f"problems: {len(problems)}"]
        lines += [f"  - {p}" for p in problems[:max_problems]]
        if len(problems) > max_problems:
            lines.append(f"  … {len(problems) - max_problems} more")
        lines.append("OK" if self.ok else "FAILED: fix the files above before training")
        return "\n".join(lines)


class _Probe(Dataset):
    """Decodes one sample and returns its statistics or its problem (runs in loader workers)."""

    def __init__(self, dataset: Any, level: str, num_classes: int, ignore_index: int):
        self.dataset, self.level = dataset, level
        self.num_classes, self.ignore_index = num_classes, ignore_index

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = self.dataset.samples[index]
        if self.level == "header":
            problems = self.dataset.header_problems(sample)
            try:
                size = header_size(sample.image)
            except DatasetError:
                size = None
            return {"size": size, "pixels": None, "problems": problems}
        try:
            item = self.dataset.load(index)
        except DatasetError as err:
            return {"size": None, "pixels": None, "problems": [str(err)]}
        mask = np.asarray(item["mask"]).ravel()
        void = mask == self.ignore_index
        pixels = np.zeros(self.num_classes + 1, np.int64)
        pixels[: self.num_classes] = np.bincount(mask[~void].astype(np.int64), minlength=self.num_classes)[
            : self.num_classes
        ]
        pixels[-1] = int(void.sum())
        h, w = item["image"].shape[:2]
        return {"size": (w, h), "pixels": pixels, "problems": []}


def _identity(x: Any) -> Any:
    return x


def check_dataset(
    name: str,
    root: str | None,
    splits: Sequence[str] | None = None,
    dataset_kwargs: Mapping[str, Any] | None = None,
    level: str = "full",
    workers: int = 0,
) -> CheckReport:
    """Check every split of dataset ``name`` under ``root``; see the module docstring."""
    if level not in LEVELS:
        raise ValueError(f"check level must be one of {LEVELS}, not '{level}'")
    cls = lookup(DATASETS, name, "dataset", "data.name")
    report = CheckReport(name, str(root), level)
    for split in splits or getattr(cls, "splits", ("train", "val")):
        part = SplitReport(split)
        report.splits.append(part)
        try:
            ds = cls(root=root, split=split, **dict(dataset_kwargs or {}))
        except DatasetError as err:
            part.problems.append(str(err))
            continue
        report.class_names, report.ignore_index = list(ds.class_names), int(ds.ignore_index)
        part.images = len(ds)
        part.problems += ds.problems("index") if hasattr(ds, "problems") else []
        if level == "index" or not hasattr(ds, "samples"):
            continue
        if level == "full":
            part.pixels = np.zeros(ds.num_classes + 1, np.int64)
        probe = _Probe(ds, level, ds.num_classes, int(ds.ignore_index))
        loader = DataLoader(probe, batch_size=None, num_workers=workers, collate_fn=_identity)
        for out in loader:
            if out["size"] is not None:
                part.sizes[tuple(out["size"])] += 1
            if out["pixels"] is not None:
                part.pixels += out["pixels"]
            part.problems += out["problems"]
    return report


def main(cfg: Mapping[str, Any]) -> int:
    """Entry point for the CLI: ``cfg.data`` is the data config group; optional ``cfg.check``
    holds ``level`` (index | header | full, default full) and ``workers``. Prints the summary and
    returns 0 when the dataset is clean, 1 otherwise."""
    data = dict(cfg["data"])
    opts = dict(cfg.get("check") or {})
    stages = resolve_splits(lookup(DATASETS, data["name"], "dataset", "data.name"), data.get("root"),
                            dict(data.get("splits") or {}))
    splits = list(dict.fromkeys(stages.values())) or None
    kwargs = dict(data.get("dataset") or {})
    if data.get("instances"):
        kwargs["instances"] = True
    report = check_dataset(
        data["name"],
        data.get("root"),
        splits,
        kwargs,
        level=str(opts.get("level", "full")),
        workers=usable_workers(int(opts.get("workers", data.get("num_workers", 0)) or 0)),
    )
    report.stages = stages
    print(report.render())
    return 0 if report.ok else 1
