"""Shared fixtures: compose the real config tree and shrink it (few samples, CPU, no progress bar)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from seglightning.cli import CONFIG_DIR

FAST = (
    "trainer.max_epochs=2",
    "trainer.accelerator=cpu",
    "trainer.log_every_n_steps=1",
    "data.batch_size=4",
    "data.val_batch_size=8",
    "data.dataset.length=16",
    "model.base_channels=4",
    "callbacks.progress_bar=none",
    "callbacks.overlays.num_images=2",
    "logger=[csv]",
)


def compose_config(name: str, overrides: Sequence[str] = ()) -> DictConfig:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name=name, overrides=list(overrides))


def train_config(run_dir: Path, *overrides: str, fast: bool = True) -> DictConfig:
    """The real ``train`` config, shrunk for CPU tests, writing into ``run_dir``."""
    cfg = compose_config("train", [*(FAST if fast else ()), *overrides])
    with open_dict(cfg):
        cfg.run_dir = str(run_dir)
    return cfg


def metrics_without_cost(run_dir: Path) -> dict:
    """A run's ``metrics.json`` without its ``cost`` (wall times and memory differ between two runs
    of the same computation; everything else is reproduced exactly)."""
    result = json.loads((Path(run_dir) / "metrics.json").read_text())
    result.pop("cost", None)
    return result


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_gpu = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip_gpu)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep class-frequency caches and outputs out of the user's home and the repo."""
    monkeypatch.setenv("SEGLIGHTNING_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("SEGLIGHTNING_OUTPUT", str(tmp_path_factory.getbasetemp() / "outputs"))
