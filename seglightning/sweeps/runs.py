"""Find the run directories of a sweep and read what each one recorded.

A run dir is a Hydra job directory (it holds ``.hydra/``) or any directory whose ``metrics.json``
has a ``status`` (written by :func:`seglightning.train.train`). Its grid values are the Hydra
overrides of the job; the loss and architecture labels are the config-group choices (``loss=ce``,
``model=deeplabv3plus``), so two configs of the same family (``unet`` and ``unet_resnet34``) stay
apart.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..losses.spec import loss_label
from ..run_dir import METRICS_FILE, SCORE_SECTIONS
from ..strict_json import nan_for_null

SECTIONS = SCORE_SECTIONS  # the metric groups of metrics.json
PREFIX = {"final": "val/", "best": "val/", "test": "test/"}  # how each group's metric names start
LABELS = ("loss", "model")  # config-group choices every run is labelled with


@dataclass
class Run:
    """One job of a sweep: where it is, what it was, how far it got."""

    path: Path
    status: str  # complete | failed | incomplete (running, interrupted, or not started yet)
    overrides: dict[str, str]  # the job's Hydra task overrides, key -> value as typed
    labels: dict[str, str]  # {"loss": group choice, "model": group choice}
    seed: int | None
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # section -> {metric: value}
    error: str | None = None
    monitor: str | None = None  # the metric that picked the best epoch

    @property
    def error_line(self) -> str:
        """The first line of the recorded error (the exception type and message)."""
        return (self.error or "no error recorded").splitlines()[0]

    def value(self, section: str, metric: str) -> float | None:
        """``metric`` without its split prefix (``mIoU``, ``IoU/disk``) from ``section``."""
        return self.metrics.get(section, {}).get(PREFIX[section] + metric)


def is_run_dir(path: Path) -> bool:
    if (path / ".hydra" / "hydra.yaml").is_file():
        return True
    metrics = path / METRICS_FILE
    return metrics.is_file() and "status" in _read_json(metrics)


def find_run_dirs(sweep_dir: Path) -> list[Path]:
    """Every run dir under ``sweep_dir`` (not looking inside run dirs or hidden folders), sorted."""
    found = []
    for root, dirs, _ in os.walk(sweep_dir):
        here = Path(root)
        if here != sweep_dir and is_run_dir(here):
            found.append(here)
            dirs.clear()
        else:
            dirs[:] = [d for d in dirs if not d.startswith(".")]
    return sorted(found)


def parse_overrides(overrides: list[str]) -> dict[str, str]:
    """``["loss=ce", "+x=1", "~y"]`` -> ``{"loss": "ce", "x": "1"}`` (deletions carry no value)."""
    parsed = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if sep:
            parsed[key.lstrip("+~")] = value
    return parsed


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text()) if path.is_file() else None


def _labels(path: Path, config: dict[str, Any]) -> dict[str, str]:
    """Group choices from Hydra's ``.hydra/hydra.yaml``; else the names in the run's config."""
    hydra = _read_yaml(path / ".hydra" / "hydra.yaml") or {}
    choices = hydra.get("hydra", {}).get("runtime", {}).get("choices", {})
    fallback = {"loss": lambda: _config_loss_label(config), "model": lambda: (config.get("model") or {}).get("name")}
    return {k: str(choices.get(k) or fallback[k]()) for k in LABELS}


def _config_loss_label(config: dict[str, Any]) -> str | None:
    """The loss label of a run's config; None when it has no loss or one this version cannot read
    (a run dir is read, never rejected)."""
    try:
        return loss_label(config["loss"]) if config.get("loss") else None
    except (TypeError, ValueError):
        return None


def load_run(path: Path) -> Run:
    """Read one run dir; missing files make an ``incomplete`` run, never an error."""
    config = _read_yaml(path / "config.yaml") or _read_yaml(path / ".hydra" / "config.yaml") or {}
    overrides = _read_yaml(path / ".hydra" / "overrides.yaml") or _read_yaml(path / "overrides.yaml") or []
    result = _read_json(path / METRICS_FILE)
    status = result.get("status")
    seed = config.get("seed")
    return Run(
        path=path,
        status=status if status in ("complete", "failed") else "incomplete",
        overrides=parse_overrides([str(o) for o in overrides]),
        labels=_labels(path, config),
        seed=int(seed) if isinstance(seed, int) else None,
        metrics={s: nan_for_null(result[s]) for s in SECTIONS if isinstance(result.get(s), dict)},
        error=result.get("error"),
        monitor=result.get("monitor"),
    )


def collect_runs(sweep_dir: str | Path) -> list[Run]:
    """Every run of the sweep rooted at ``sweep_dir``, finished or not."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"sweep directory {sweep_dir} does not exist")
    return [load_run(p) for p in find_run_dirs(sweep_dir)]
