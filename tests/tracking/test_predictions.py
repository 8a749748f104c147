"""predictions/: the same images for runs of different seeds, index PNGs in the dataset palette whose
indices are the argmax of the run's inference (here with flip test-time augmentation)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from seglightning import train as train_mod
from seglightning.checkpointing.load_run import load_module
from seglightning.data import build_datamodule
from seglightning.tracking.predictions import palette_bytes, selection
from tests.conftest import train_config

RUN = ("trainer.max_epochs=1", "callbacks.predictions.num_images=3", "callbacks.predictions.selection_seed=7",
       "module.inference.flip=true")


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory):
    dirs = []
    for seed in (0, 1):
        run_dir = tmp_path_factory.mktemp(f"seed{seed}")
        train_mod.train(train_config(run_dir, *RUN, f"seed={seed}"))
        dirs.append(run_dir)
    return dirs


def test_the_selection_depends_on_the_selection_seed_only():
    assert selection(100, 5, 3) == selection(100, 5, 3) != selection(100, 5, 4)
    assert selection(3, 16, 0) == [0, 1, 2]


def test_runs_of_different_seeds_save_the_same_images(two_seeds):
    indexes = [json.loads((d / "predictions" / "index.json").read_text()) for d in two_seeds]
    assert indexes[0]["images"] == indexes[1]["images"] and len(indexes[0]["images"]) == 3
    assert indexes[0]["split"] == "test" and indexes[0]["inference"]["flip"] is True
    for d in two_seeds:
        names = {p.name for p in (d / "predictions").iterdir()}
        for image in indexes[0]["images"]:
            assert {f"{image['stem']}.png", f"{image['stem']}_gt.png", f"{image['stem']}_image.jpg"} <= names


def test_predictions_are_palette_pngs_of_the_argmax(two_seeds):
    run_dir = two_seeds[1]
    cfg = OmegaConf.load(run_dir / "config.yaml")
    dm = build_datamodule(**OmegaConf.to_container(cfg.data, resolve=True), seed=cfg.seed)
    ds = dm.dataset("test")
    module = load_module(run_dir / "checkpoints" / "best.ckpt")
    assert module.inference.flip  # the run's inference mode travels with the checkpoint
    index = json.loads((run_dir / "predictions" / "index.json").read_text())
    for image in index["images"]:
        sample = ds[image["index"]]
        assert sample["meta"]["id"] == image["id"]
        with torch.no_grad():
            expected = module.infer(sample["image"][None]).argmax(1)[0].numpy()
        saved = Image.open(run_dir / "predictions" / f"{image['stem']}.png")
        assert saved.mode == "P"
        colours = 3 * len(dm.palette)
        assert saved.getpalette()[:colours] == palette_bytes(dm.palette, dm.ignore_index)[:colours]
        np.testing.assert_array_equal(np.asarray(saved), expected)
        gt = np.asarray(Image.open(run_dir / "predictions" / f"{image['stem']}_gt.png"))
        np.testing.assert_array_equal(gt, sample["mask"].numpy())
