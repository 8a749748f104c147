"""End to end on the real config (shrunk): train -> eval -> predict, rerun, resume, config errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from omegaconf import open_dict
from PIL import Image

from seglightning import train as train_mod
from seglightning.data.synthetic import generate_sample
from seglightning.evaluate import evaluate
from seglightning.predict import predict
from seglightning.run import prepare as prepare_mod
from tests.conftest import compose_config, metrics_without_cost, train_config


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("run")
    train_mod.train(train_config(run_dir))
    return run_dir


def test_run_directory_has_every_artefact(trained_run):
    for name in [
        "config.yaml",
        "overrides.yaml",
        "run_meta.json",
        "metrics.json",
        "metrics.csv",
        "checkpoints/last.ckpt",
        "checkpoints/best.ckpt",
    ]:
        assert (trained_run / name).is_file(), name
    assert len(list((trained_run / "overlays").glob("final_*.png"))) == 2
    meta = json.loads((trained_run / "run_meta.json").read_text())
    assert {"git", "command", "packages", "torch", "host", "seed"} <= set(meta)
    assert set(meta["git"]) == {"sha", "dirty"} and meta["packages"]["torch"]
    result = json.loads((trained_run / "metrics.json").read_text())
    assert result["status"] == "complete" and result["final"]["epoch"] == 1
    for key in ["val/mIoU", "val/mDice", "val/bF1", "val/bIoU", "val/ECE", "val/Brier", "val/NLL", "val/pixel_acc",
                "val/loss", "val/IoU/disk"]:
        assert key in result["final"] and key in result["best"]
    assert (trained_run / "reliability.png").is_file()
    assert result["best"]["val/mIoU"] == max(result["best"]["val/mIoU"], result["final"]["val/mIoU"])
    assert {"test/mIoU", "test/bF1"} <= set(result["test"])
    header = next(csv.reader(open(trained_run / "metrics.csv")))
    assert {"train/loss_step", "train/loss/ce", "train/loss/dice", "val/mIoU"} <= set(header)


def test_train_loss_epoch_means_are_the_means_of_every_step(trained_run):
    """The epoch means (accumulated in the loop, logged once per epoch) against the per-step values
    in metrics.csv (log_every_n_steps=1, 4 equal batches an epoch), and the loss against its terms
    (ce + dice, weights 1)."""
    rows = list(csv.DictReader(open(trained_run / "metrics.csv")))
    for epoch in ("0", "1"):
        steps = [float(r["train/loss_step"]) for r in rows if r["epoch"] == epoch and r["train/loss_step"]]
        (means,) = [r for r in rows if r["epoch"] == epoch and r["train/loss_epoch"]]
        assert len(steps) == 4
        assert float(means["train/loss_epoch"]) == pytest.approx(np.mean(steps), rel=1e-6)
        terms = float(means["train/loss/ce"]) + float(means["train/loss/dice"])
        assert float(means["train/loss_epoch"]) == pytest.approx(terms, rel=1e-6)


def test_step_loss_is_logged_on_the_steps_the_loggers_write(tmp_path):
    """log_every_n_steps=3, 4 steps an epoch x 2 epochs: train/loss_step at steps 3 and 6 (0-based
    2 and 5), the epoch means at every epoch's end."""
    train_mod.train(train_config(tmp_path, "trainer.log_every_n_steps=3", "test_after_fit=false"))
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert [int(r["step"]) for r in rows if r["train/loss_step"]] == [2, 5]
    assert [r["epoch"] for r in rows if r["train/loss_epoch"]] == ["0", "1"]


def test_eval_reproduces_the_best_validation_metrics(trained_run, tmp_path):
    cfg = compose_config(
        "eval", [f"ckpt={trained_run / 'checkpoints/best.ckpt'}", f"output={tmp_path}", "trainer.accelerator=cpu"]
    )
    metrics = evaluate(cfg)
    best = json.loads((trained_run / "metrics.json").read_text())["best"]
    for key in ["val/mIoU", "val/mDice", "val/bF1", "val/bIoU", "val/ECE", "val/Brier", "val/NLL", "val/pixel_acc"]:
        assert metrics[key] == pytest.approx(best[key], abs=1e-7)
    assert (tmp_path / "metrics.json").is_file() and (tmp_path / "per_class.csv").is_file()


def test_eval_inference_override_is_used_and_recorded(trained_run, tmp_path):
    # one 64x64 window covers the synthetic 64x64 images: slide must equal the whole-image result
    slide = ["inference.mode=slide", "inference.crop=[64,64]", "inference.stride=[32,32]"]
    ckpt = trained_run / "checkpoints/best.ckpt"
    cfg = compose_config("eval", [f"ckpt={ckpt}", f"output={tmp_path}", "trainer.accelerator=cpu", *slide])
    metrics = evaluate(cfg)
    best = json.loads((trained_run / "metrics.json").read_text())["best"]
    assert metrics["val/mIoU"] == pytest.approx(best["val/mIoU"], abs=1e-7)
    recorded = json.loads((tmp_path / "metrics.json").read_text())["inference"]
    assert recorded == {"mode": "slide", "crop": [64, 64], "stride": [32, 32], "scales": [1.0], "flip": False}
    assert json.loads((trained_run / "metrics.json").read_text())["inference"]["mode"] == "whole"


def test_predict_writes_palette_masks_and_overlays(trained_run, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(2):
        Image.fromarray(generate_sample(0, i, "val").image).save(src / f"img{i}.png")
    cfg = compose_config(
        "predict", [f"ckpt={trained_run / 'checkpoints/last.ckpt'}", f"input={src}", f"output={tmp_path / 'out'}"]
    )
    written = predict(cfg)
    assert [p.name for p in written] == ["img0.png", "img1.png"]
    mask = Image.open(written[0])
    assert mask.mode == "P" and mask.size == (64, 64) and np.asarray(mask).max() < 5
    assert (tmp_path / "out" / "img0_overlay.png").is_file()


def test_same_config_gives_bit_identical_metrics(trained_run, tmp_path):
    train_mod.train(train_config(tmp_path))
    assert metrics_without_cost(tmp_path) == metrics_without_cost(trained_run)


def test_resume_after_a_crash_matches_the_uninterrupted_run(trained_run, tmp_path, monkeypatch):
    class Crash(Exception):
        pass

    import lightning as L

    class CrashAtEpoch1(L.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            if trainer.current_epoch == 1:
                raise Crash()

    original = prepare_mod.build_callbacks

    def with_crash(*args, **kwargs):
        callbacks, history, checkpoint = original(*args, **kwargs)
        return [*callbacks, CrashAtEpoch1()], history, checkpoint

    monkeypatch.setattr(prepare_mod, "build_callbacks", with_crash)
    with pytest.raises(Crash):
        train_mod.train(train_config(tmp_path))
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "running"
    monkeypatch.setattr(prepare_mod, "build_callbacks", original)
    train_mod.train(train_config(tmp_path))  # resume=auto picks up checkpoints/last.ckpt
    assert metrics_without_cost(tmp_path) == metrics_without_cost(trained_run)
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert sorted({r["epoch"] for r in rows if r.get("val/mIoU")}) == ["0", "1"]  # history kept
    # a complete run is skipped on rerun
    assert train_mod.train(train_config(tmp_path))["status"] == "complete"


def test_config_composes_with_defaults_and_overrides():
    cfg = compose_config("train")
    assert (cfg.data.name, cfg.model.name, cfg.trainer.accelerator) == ("synthetic", "unet", "auto")
    assert [t.name for t in cfg.loss.terms] == ["ce", "dice"]
    assert set(cfg.logger) == {"csv", "tensorboard"}
    cfg = compose_config("train", ["model.base_channels=8", "optim=sgd", "seed=3"])
    assert (cfg.model.base_channels, cfg.optim.name, cfg.seed) == (8, "sgd", 3)


def test_unknown_config_key_is_an_error():
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="lernrate"):
        compose_config("train", ["optim.lernrate=0.1"])
    with pytest.raises(ConfigCompositionException, match="unetz"):
        compose_config("train", ["model=unetz"])


@pytest.mark.parametrize(
    "key,value,match",
    [
        ("model.name", "unetz", r"unknown model 'unetz'.*model\.name"),
        ("model.depth", 5, r"model 'unet' has no option 'depth'.*model\.depth"),
        ("loss", {"name": "cee"}, r"unknown loss 'cee'.*loss\.name"),
        ("data.name", "vocc", r"unknown dataset 'vocc'.*data\.name"),
    ],
)
def test_unknown_names_are_clear_errors(tmp_path, key, value, match):
    cfg = train_config(tmp_path)
    with open_dict(cfg):
        section, _, leaf = key.partition(".")
        if leaf:
            cfg[section][leaf] = value
        else:
            cfg[section] = value
    with pytest.raises((KeyError, TypeError), match=match):
        train_mod.train(cfg)


@pytest.mark.ddp
@pytest.mark.slow
def test_two_process_evaluation_equals_one_process_on_an_uneven_split(trained_run, tmp_path):
    """15 validation samples over 2 gloo processes (8 + 7, nothing padded) == 1 process, exactly.

    val/loss is left out: a batch-pooled loss (Dice) depends on how samples are grouped into
    batches, which differs between 1 and 2 processes; the metrics do not."""
    common = [
        f"ckpt={trained_run / 'checkpoints/best.ckpt'}",
        "data=synthetic",
        "data.dataset.length=15",
        "data.val_batch_size=4",
        "trainer.accelerator=cpu",
    ]
    one = evaluate(compose_config("eval", [*common, f"output={tmp_path / 'one'}"]))
    two = evaluate(
        compose_config(
            "eval", [*common, f"output={tmp_path / 'two'}", "trainer.devices=2", "trainer.strategy=ddp_spawn"]
        )
    )
    for key in ["val/mIoU", "val/mDice", "val/bF1", "val/bIoU", "val/ECE", "val/Brier", "val/NLL", "val/pixel_acc",
                "val/IoU/cross", "val/IoU/disk"]:
        assert two[key] == one[key], key
    # per image: every image once, gathered from both processes onto rank zero
    # (the calibration sums come from float logits, which the CPU forward does not reproduce bit for bit
    # when an image sits in a batch of other images: equal to float32 precision; every count is exact)
    one_rows, two_rows = ([*csv.DictReader(open(tmp_path / d / "per_image.csv"))] for d in ("one", "two"))
    assert len(one_rows) == len(two_rows) == 15
    for a, b in zip(one_rows, two_rows):
        assert {k: v for k, v in a.items() if not k.startswith(("cal.conf/", "cal/"))} == {
            k: v for k, v in b.items() if not k.startswith(("cal.conf/", "cal/"))
        }
        for k in (k for k in a if k.startswith(("cal.conf/", "cal/"))):
            assert float(a[k]) == pytest.approx(float(b[k]), rel=1e-5, abs=1e-4), k
    # the per-class table is written by the processes that held the state (ddp_spawn workers)
    assert (tmp_path / "two" / "per_class.csv").read_text() == (tmp_path / "one" / "per_class.csv").read_text()
