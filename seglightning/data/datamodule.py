"""One LightningDataModule for every dataset: transforms, worker-side extras, padding collate.

Batches follow docs/design.md: ``image`` float32 [B,3,H,W] (normalised), ``mask`` int64 [B,H,W] with
``ignore_index`` for void, the extras that losses/models asked for (``dist_map``, ``edge``), and
``meta`` (list of per-sample dicts). In instance mode each batch also carries ``targets``: a list of
``{"boxes" xyxy float32 [N,4], "labels" int64 [N], "masks" uint8 [N,H,W], "iscrowd" uint8 [N]}``.

Augmentation is a pure function of ``(seed, epoch, index)``: the same config gives the same pixels
whatever the number of workers, and a resumed run (from an epoch boundary or from inside an
epoch: the training loader skips the batches already done) sees the data an uninterrupted run
would have seen.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from ..compat import train_batches_done
from ..utils.registry import lookup
from .crop_check import check_crop, first_image_size
from .extras import EXTRAS
from .registry import DATASETS, resolve_splits
from .resumable import ResumableDataLoader
from .samplers import ShardSampler
from .statistics import class_frequency
from .transforms import build_transforms
from .workers import usable_workers

DEFAULT_SPLITS = {"train": "train", "val": "val", "test": "test"}


def sample_name(item: dict[str, Any]) -> str:
    """The most specific name of a sample for error messages (mask file, image file, or id)."""
    meta = item.get("meta", {})
    return str(meta.get("mask_path") or meta.get("image_path") or meta.get("id", "?"))


def check_mask_labels(mask: np.ndarray, num_classes: int, ignore_index: int, name: str) -> None:
    """Raise a ValueError naming ``name`` if ``mask`` holds a label outside [0, C) ∪ {ignore}."""
    bad = (mask >= num_classes) & (mask != ignore_index) | (mask < 0)
    if bad.any():
        values = sorted(int(v) for v in np.unique(mask[bad]))[:10]
        raise ValueError(
            f"{name}: mask has label value(s) {values} outside [0, {num_classes}) and not the "
            f"ignore_index {ignore_index}; fix the mask, or the dataset's num_classes/ignore_index"
        )


def boxes_from_masks(masks: np.ndarray) -> np.ndarray:
    """xyxy boxes (float32 [N,4], pixel-edge convention as torchvision) of binary masks [N,H,W]."""
    boxes = np.zeros((len(masks), 4), np.float32)
    for i, m in enumerate(masks):
        ys, xs = np.nonzero(m)
        boxes[i] = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    return boxes


class SegmentationSamples(Dataset):
    """Applies transforms, checks labels, and computes extras for one split (runs in workers)."""

    def __init__(
        self,
        base: Dataset,
        transform: Any,
        num_classes: int,
        ignore_index: int,
        extras: Sequence[str] = (),
        instances: bool = False,
        seed: int = 0,
    ):
        self.base, self.transform = base, transform
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.extras, self.instances, self.seed, self.epoch = tuple(extras), instances, seed, 0

    def __len__(self) -> int:
        return len(self.base)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.base[index]
        name = sample_name(item)
        image, mask = item["image"], np.asarray(item["mask"])
        if image.shape[:2] != mask.shape[:2]:
            raise ValueError(f"{name}: image size {image.shape[:2]} differs from mask size {mask.shape[:2]}")
        check_mask_labels(mask, self.num_classes, self.ignore_index, name)
        seed = np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(1)[0]
        self.transform.set_random_seed(int(seed))
        kwargs: dict[str, Any] = {"image": image, "mask": mask}
        if self.instances:
            kwargs["masks"] = list(item["instance_masks"])
        if "instance_ids" in item:  # the instance map follows the mask through the transforms
            kwargs["masks"] = [item["instance_ids"], *kwargs.get("masks", [])]
        out = self.transform(**kwargs)
        if "instance_ids" in item:
            instance_ids, out["masks"] = out["masks"][0], out["masks"][1:]
        mask = out["mask"].astype(np.int64)
        sample: dict[str, Any] = {
            "image": torch.from_numpy(np.ascontiguousarray(out["image"].transpose(2, 0, 1))).float(),
            "mask": torch.from_numpy(mask),
            "meta": item.get("meta", {}),
        }
        for key in self.extras:
            sample[key] = torch.from_numpy(EXTRAS[key](mask, self.num_classes, self.ignore_index))
        if "instance_ids" in item:
            sample["instance_ids"] = torch.from_numpy(np.asarray(instance_ids, np.int64))
        if self.instances:
            sample["target"] = self._instance_target(out["masks"], item["instance_labels"], item["instance_iscrowd"])
        return sample

    @staticmethod
    def _instance_target(masks: list[np.ndarray], labels: np.ndarray, iscrowd: np.ndarray) -> dict[str, torch.Tensor]:
        stacked = np.stack(masks).astype(np.uint8) if masks else np.zeros((0, 1, 1), np.uint8)
        keep = stacked.reshape(len(stacked), -1).any(1) if len(stacked) else np.zeros(0, bool)
        stacked = stacked[keep]
        return {
            "boxes": torch.from_numpy(boxes_from_masks(stacked)),
            "labels": torch.as_tensor(np.asarray(labels)[keep], dtype=torch.int64),
            "masks": torch.from_numpy(stacked),
            "iscrowd": torch.as_tensor(np.asarray(iscrowd)[keep], dtype=torch.uint8),
        }


def pad_collate(samples: list[dict[str, Any]], ignore_index: int = 255) -> dict[str, Any]:
    """Stack samples, padding to the largest H and W (image/extras with 0, mask with ignore)."""
    h = max(s["mask"].shape[-2] for s in samples)
    w = max(s["mask"].shape[-1] for s in samples)
    batch: dict[str, Any] = {"meta": [s["meta"] for s in samples]}
    for key in samples[0]:
        if key in ("meta", "target"):
            continue
        fill = ignore_index if key == "mask" else 0
        batch[key] = torch.stack(
            [F.pad(s[key], (0, w - s[key].shape[-1], 0, h - s[key].shape[-2]), value=fill) for s in samples]
        )
    if "target" in samples[0]:
        batch["targets"] = [s["target"] for s in samples]
    return batch


class SegmentationDataModule(L.LightningDataModule):
    """The datamodule for every registered dataset (config group ``data``)."""

    def __init__(
        self,
        name: str,
        root: str | None = None,
        batch_size: int = 8,
        val_batch_size: int | None = None,
        num_workers: int = 0,
        splits: dict[str, str] | None = None,
        dataset: dict[str, Any] | None = None,
        transforms: dict[str, Any] | None = None,
        extras: Sequence[str] = (),
        instances: bool = False,
        seed: int = 0,
        pin_memory: bool = False,
        drop_last: bool = True,
        cache_dir: str | None = None,
        validate: str = "masks",
    ):
        super().__init__()
        self.validation_level = validate
        self.dataset_cls = lookup(DATASETS, name, "dataset", "data.name")
        self.name, self.root = name, root
        self.batch_size, self.val_batch_size = batch_size, val_batch_size or batch_size
        self.num_workers, self.pin_memory, self.drop_last = usable_workers(num_workers), pin_memory, drop_last
        self.splits = resolve_splits(self.dataset_cls, root, {**DEFAULT_SPLITS, **(splits or {})})
        self.dataset_kwargs = dict(dataset or {})
        self.transform_specs = dict(transforms or {})
        self.extras: tuple[str, ...] = ()
        self.request_extras(extras)
        self.instances, self.seed = instances, seed
        self.instance_ids = False  # val/test items carry the reader's instance map (request_instance_ids)
        default_cache = Path.home() / ".cache" / "seglightning"
        self.cache_dir = Path(cache_dir or os.environ.get("SEGLIGHTNING_CACHE", default_cache))
        self._datasets: dict[str, SegmentationSamples] = {}
        self._info = self.base_dataset("train")

    # -- dataset facts -------------------------------------------------------------------
    def base_dataset(self, stage: str) -> Dataset:
        """The raw dataset (no transforms) of split ``self.splits[stage]``."""
        kwargs = dict(self.dataset_kwargs)
        if self.instances:
            kwargs["instances"] = True
        ds = self.dataset_cls(root=self.root, split=self.splits[stage], **kwargs)
        # on-disk readers list bad files before training (seglightning/data/reader.py levels:
        # index | header | masks | full; "none" skips); the DatasetError names every file
        check = getattr(ds, "validate", None)
        if check is not None and self.validation_level != "none":
            check(self.validation_level)
        return ds

    @property
    def num_classes(self) -> int:
        return int(self._info.num_classes)

    @property
    def class_names(self) -> list[str]:
        return list(self._info.class_names)

    @property
    def palette(self) -> list[tuple[int, int, int]]:
        return [tuple(int(v) for v in c) for c in self._info.palette]

    @property
    def ignore_index(self) -> int:
        return int(self._info.ignore_index)

    def request_extras(self, names: Sequence[str]) -> None:
        """Ask the workers to compute these extras (declared by a loss's or model's ``requires``)."""
        for n in names:
            lookup(EXTRAS, n, "batch extra", "data.extras")
        self.extras = tuple(sorted(set(self.extras) | set(names)))

    def request_instance_ids(self) -> None:
        """Val/test batches carry ``instance_ids`` [B,H,W] (0 = no instance), the reader's ground-truth
        instance map where the dataset has one, for the object metrics (``module.metrics: objects``)."""
        self.instance_ids = True

    # -- Lightning hooks -----------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        stages = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}
        for s in stages.get(stage or "fit", ("train", "val")):
            if s in self._datasets:
                continue
            base = self._info if s == "train" else self.base_dataset(s)
            if s != "train" and self.instance_ids:
                base.load_instance_ids = True
            spec = self.transform_specs.get("train" if s == "train" else "val")
            if s == "train":  # once per run: warn about a crop larger than the images, refuse a huge one
                check_crop(spec, first_image_size(base), f"first {self.name} train image")
            self._datasets[s] = SegmentationSamples(
                base,
                build_transforms(spec, self.ignore_index),
                self.num_classes,
                self.ignore_index,
                self.extras,
                self.instances,
                self.seed,
            )

    def dataset(self, stage: str) -> SegmentationSamples:
        self.setup({"train": "fit", "val": "validate", "test": "test"}[stage])
        return self._datasets[stage]

    def _loader(self, stage: str, shuffle: bool, batch_size: int, drop_last: bool) -> DataLoader:
        ds = self.dataset(stage)
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        sampler = ShardSampler(ds, shuffle, self.seed, rank, world, pad=stage == "train")
        loader = partial(ResumableDataLoader, batches_done=self._train_batches_done) if stage == "train" else DataLoader
        return loader(
            ds,
            batch_size=batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            generator=torch.Generator().manual_seed(self.seed),  # never draws from the global RNG
            collate_fn=_Collate(self.ignore_index),
            pin_memory=self.pin_memory,
            drop_last=drop_last and len(sampler) > batch_size,
            persistent_workers=False,  # new workers each epoch see set_epoch (augmentation seed)
        )

    def _train_batches_done(self) -> int:
        """Batches of the current epoch the fit loop counts as done (restored from a mid-epoch checkpoint)."""
        trainer = self.trainer
        return 0 if trainer is None else train_batches_done(trainer)

    def train_dataloader(self) -> DataLoader:
        loader = self._loader("train", True, self.batch_size, self.drop_last)
        if self.trainer is not None:
            log_every_epoch(self.trainer, len(loader))
        return loader

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False, self.val_batch_size, False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False, self.val_batch_size, False)

    # -- statistics ----------------------------------------------------------------------
    def class_frequency(self) -> np.ndarray:
        """SegNet/Eigen-Fergus class frequency over the training split, cached on disk.

        See ``data.statistics.class_frequency``: freq_c = (pixels of class c) / (valid pixels of
        the images that contain c); void pixels excluded; 0 for a class absent from every image.
        """
        key = json.dumps(
            [
                self.name,
                str(Path(self.root).resolve()) if self.root else None,
                self.splits["train"],
                self.dataset_kwargs,
                len(self._info),
            ],
            sort_keys=True,
            default=str,
        )
        path = self.cache_dir / f"class_frequency_{hashlib.sha1(key.encode()).hexdigest()[:16]}.json"
        if path.exists():
            return np.asarray(json.loads(path.read_text())["frequency"], dtype=np.float64)
        freq = class_frequency(self._train_masks(), self.num_classes, self.ignore_index)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"key": key, "frequency": freq.tolist()}))
        return freq

    def _train_masks(self) -> Iterator[np.ndarray]:
        """The training split's masks, each checked for labels outside [0, C) ∪ {ignore} (naming the file)."""
        for i in range(len(self._info)):
            item = self._info[i]
            check_mask_labels(np.asarray(item["mask"]), self.num_classes, self.ignore_index, sample_name(item))
            yield item["mask"]


def log_every_epoch(trainer: L.Trainer, batches: int) -> None:
    """Cap ``trainer.log_every_n_steps`` at the epoch's training batches (``batches`` after
    ``limit_train_batches``), so that every epoch logs its steps. Lightning warns when an epoch is
    shorter than the interval (``FitLoop.setup_data``, which asks for this loader first)."""
    limit = trainer.limit_train_batches
    epoch = min(batches, limit) if isinstance(limit, int) else int(batches * limit)
    if trainer.log_every_n_steps > epoch > 0:
        trainer.log_every_n_steps = epoch


class _Collate:
    """Picklable padding collate bound to an ignore_index."""

    def __init__(self, ignore_index: int):
        self.ignore_index = ignore_index

    def __call__(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        return pad_collate(samples, self.ignore_index)
