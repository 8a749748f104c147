"""``SavePredictions``: every run's predictions for the same fixed set of images, side by side in the
sweep report (``seglightning/sweeps/gallery.py``).

``callbacks.predictions.num_images`` images of the test split (the validation split for a run that is
not tested), chosen by ``callbacks.predictions.selection_seed`` alone (not the run's seed: every run
of a sweep saves the same images), predicted with the run's inference mode (``module.inference``) by
the weights the run is evaluated with (the test pass's best checkpoint; after fit, the final weights).
Written to ``<run_dir>/predictions/``:

- ``<id>.png``: the prediction as an index PNG (mode ``P``, pixel value = class index) carrying the
  dataset palette (void colour at ``ignore_index``);
- ``<id>_gt.png``: the ground truth, same encoding (void = ``ignore_index``);
- ``<id>_image.jpg``: the (resized, un-normalised) input image;
- ``index.json``: split, selection seed, inference mode and the ids with their file stems.

So the report needs only the run dirs, never the dataset.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from PIL import Image

from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD
from ..run.directory import PREDICTIONS_DIR, PREDICTIONS_INDEX, write_image, write_json
from .media import VOID_COLOUR, denormalize


def selection(num_samples: int, num_images: int, selection_seed: int) -> list[int]:
    """Sorted dataset indices of the saved images: a function of the dataset size and the seed only."""
    n = min(num_images, num_samples)
    if n <= 0:
        return []
    return sorted(np.random.default_rng(selection_seed).choice(num_samples, n, replace=False).tolist())


def file_stem(image_id: str) -> str:
    """A file-name-safe form of an image id (path separators and odd characters become ``_``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", image_id).strip(".") or "image"


def palette_bytes(palette: Sequence[Sequence[int]], ignore_index: int) -> list[int]:
    """A 256-entry PIL palette: the dataset's class colours, the void colour at ``ignore_index``."""
    lut = np.zeros((256, 3), np.uint8)
    lut[: min(len(palette), 256)] = np.asarray(palette, np.uint8)[:256]
    if 0 <= ignore_index < 256:
        lut[ignore_index] = VOID_COLOUR
    return lut.reshape(-1).tolist()


def index_png(mask: np.ndarray, palette: list[int]) -> Image.Image:
    """An index (mode ``P``) PNG image of a class mask with values in 0..255."""
    image = Image.fromarray(np.asarray(mask).astype(np.uint8), mode="P")
    image.putpalette(palette)
    return image


class SavePredictions(L.Callback):
    """Writes ``predictions/`` (module docstring) after fit (validation split) and again after the
    test pass (test split, replacing it)."""

    def __init__(self, run_dir: Path, num_images: int = 16, selection_seed: int = 0):
        self.out_dir = Path(run_dir) / PREDICTIONS_DIR
        self.num_images, self.selection_seed = int(num_images), int(selection_seed)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.save(trainer, pl_module, "val")

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.save(trainer, pl_module, "test")

    def save(self, trainer: L.Trainer, pl_module: L.LightningModule, split: str) -> Path | None:
        if self.num_images <= 0 or not trainer.is_global_zero:
            return None
        dm = trainer.datamodule
        ds = dm.dataset(split)
        indices = selection(len(ds), self.num_images, self.selection_seed)
        if not indices:
            return None
        spec = dict(dm.transform_specs.get("val") or {})
        mean, std = spec.get("mean", IMAGENET_MEAN), spec.get("std", IMAGENET_STD)
        palette = palette_bytes(dm.palette, dm.ignore_index)
        if self.out_dir.exists():
            shutil.rmtree(self.out_dir)
        self.out_dir.mkdir(parents=True)
        images: list[dict[str, Any]] = []
        was_training = pl_module.training
        pl_module.eval()
        with torch.no_grad():
            for i in indices:
                sample = ds[i]
                image_id = str(sample["meta"].get("id", i))
                pred = pl_module.predict_step({"image": sample["image"][None].to(pl_module.device)}, 0)
                stem = file_stem(image_id)
                write_image(self.out_dir / f"{stem}.png", index_png(pred[0].cpu().numpy(), palette))
                write_image(self.out_dir / f"{stem}_gt.png", index_png(sample["mask"].numpy(), palette))
                picture = Image.fromarray(denormalize(sample["image"].numpy(), mean, std))
                write_image(self.out_dir / f"{stem}_image.jpg", picture, quality=90)
                images.append({"id": image_id, "stem": stem, "index": int(i)})
        pl_module.train(was_training)
        index = {
            "split": split,
            "selection_seed": self.selection_seed,
            "num_images": self.num_images,
            "inference": pl_module.inference.as_dict() if hasattr(pl_module, "inference") else None,
            "ignore_index": int(dm.ignore_index),
            "class_names": list(dm.class_names),
            "images": images,
        }
        write_json(self.out_dir / PREDICTIONS_INDEX, index)
        return self.out_dir
