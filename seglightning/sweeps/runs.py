"""Find the run directories of a sweep and read what each one recorded.

A run dir is a Hydra job directory (it holds ``.hydra/``) or any directory whose ``metrics.json``
has a ``status`` (written by :func:`seglightning.train.train`). Its grid values are the Hydra
overrides of the job; the loss and architecture labels are the config-group choices (``loss=ce``,
``model=deeplabv3plus``), so two configs of the same family (``unet`` and ``unet_resnet34``) stay
apart.

A run dir whose ``config.yaml``, ``overrides.yaml``, ``metrics.json`` or ``per_image.csv`` cannot be
read is ``unreadable``: the report leaves it out and names the file and the reason. Run dirs that a
rerun with another config superseded (``<name>.stale-<n>``, :mod:`.rerun`) are not runs of the sweep.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..losses.spec import loss_label
from ..run.directory import (
    CONFIG_FILE,
    HYDRA_DIR,
    METRICS_FILE,
    OVERRIDES_FILE,
    RUN_META_FILE,
    SCORE_SECTIONS,
    RunStatus,
)
from ..utils.strict_json import nan_for_null
from .per_image import read_image_counts
from .rerun import code_version, is_stale

REPORTED = (RunStatus.COMPLETE, RunStatus.FAILED, RunStatus.UNREADABLE)  # other states: incomplete
SECTIONS = SCORE_SECTIONS  # the metric groups of metrics.json
PREFIX = {"final": "val/", "best": "val/", "test": "test/"}  # how each group's metric names start
LABELS = ("loss", "model")  # config-group choices every run is labelled with


@dataclass
class Run:
    """One job of a sweep: where it is, what it was, how far it got."""

    path: Path
    status: str  # complete | failed | unreadable | incomplete (running, interrupted, or not started yet)
    overrides: dict[str, str]  # the job's Hydra task overrides, key -> value as typed
    labels: dict[str, str]  # {"loss": group choice, "model": group choice}
    seed: int | None
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # section -> {metric: value}
    error: str | None = None
    monitor: str | None = None  # the metric that picked the best epoch
    code_version: str | None = None  # git commit (or package version) of the code that made it
    rerun: dict[str, Any] | None = None  # what differed from the run it superseded (sweeps/rerun.py)
    test_split: str | None = None  # the split of the test pass ("val" where the dataset has no test split)

    @property
    def error_line(self) -> str:
        """The first line of the recorded error (the exception type and message)."""
        return (self.error or "no error recorded").splitlines()[0]

    def value(self, section: str, metric: str) -> float | None:
        """``metric`` without its split prefix (``mIoU``, ``IoU/disk``) from ``section``."""
        return self.metrics.get(section, {}).get(PREFIX[section] + metric)


def is_run_dir(path: Path) -> bool:
    if is_stale(path):
        return False
    if (path / HYDRA_DIR / "hydra.yaml").is_file():
        return True
    metrics = path / METRICS_FILE
    if not metrics.is_file():
        return False
    try:
        return "status" in json.loads(metrics.read_text())
    except (OSError, ValueError, TypeError):
        return True  # a damaged metrics.json: reported as unreadable, not silently dropped


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


def _labels(path: Path, config: dict[str, Any]) -> dict[str, str]:
    """Group choices from Hydra's ``.hydra/hydra.yaml``; else the names in the run's config."""
    choices: Any = _read_checked(path, f"{HYDRA_DIR}/hydra.yaml", dict, []) or {}  # damaged: labels from the config
    for key in ("hydra", "runtime", "choices"):
        choices = choices.get(key) if isinstance(choices, dict) else None
    choices = choices if isinstance(choices, dict) else {}
    model = config.get("model") if isinstance(config.get("model"), dict) else {}
    fallback = {"loss": lambda: _config_loss_label(config), "model": lambda: model.get("name")}
    return {k: str(choices.get(k) or fallback[k]()) for k in LABELS}


def _config_loss_label(config: dict[str, Any]) -> str | None:
    """The loss label of a run's config; None when it has no loss or one this version cannot read
    (a run dir is read, never rejected)."""
    try:
        return loss_label(config["loss"]) if config.get("loss") else None
    except (TypeError, ValueError):
        return None


def _problem(name: str, error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{name}: {type(error).__name__}" + (f": {text[0]}" if text else "")


def _read_checked(path: Path, name: str, kind: type, problems: list[str]) -> Any:
    """The content of ``path/name`` (YAML or JSON) if it is a ``kind``; None if the file is absent.
    A file that cannot be read, or holds something else, adds its reason to ``problems``."""
    file = path / name
    if not file.is_file():
        return None
    try:
        text = file.read_text()
        value = json.loads(text) if name.endswith(".json") else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as error:
        problems.append(_problem(name, error))
        return None
    if not isinstance(value, kind):
        found = "nothing (empty file)" if value is None else type(value).__name__
        problems.append(f"{name}: expected a {'mapping' if kind is dict else 'list'}, found {found}")
        return None
    return value


def load_run(path: Path) -> Run:
    """Read one run dir. Missing files make an ``incomplete`` run; files that cannot be read make
    an ``unreadable`` one (its ``error`` names them), never an error."""
    problems: list[str] = []
    config = (
        _read_checked(path, CONFIG_FILE, dict, problems)
        if (path / CONFIG_FILE).is_file()
        else _read_checked(path, str(HYDRA_DIR / CONFIG_FILE), dict, problems)
    ) or {}
    overrides = (
        _read_checked(path, str(HYDRA_DIR / OVERRIDES_FILE), list, problems)
        or _read_checked(path, OVERRIDES_FILE, list, problems)
        or []
    )
    result = _read_checked(path, METRICS_FILE, dict, problems) or {}
    try:
        read_image_counts(path)
    except ValueError as error:
        problems.append(str(error).removeprefix(f"{path}/"))
    meta = _read_json(path / RUN_META_FILE)
    status = RunStatus.UNREADABLE if problems else result.get("status")
    seed = config.get("seed")
    return Run(
        path=path,
        status=RunStatus(status) if status in REPORTED else RunStatus.INCOMPLETE,
        overrides=parse_overrides([str(o) for o in overrides]),
        labels=_labels(path, config),
        seed=int(seed) if isinstance(seed, int) else None,
        metrics={} if problems else {s: nan_for_null(result[s]) for s in SECTIONS if isinstance(result.get(s), dict)},
        error="; ".join(problems) if problems else result.get("error"),
        monitor=result.get("monitor"),
        code_version=code_version(meta),
        rerun=meta.get("rerun") if isinstance(meta.get("rerun"), dict) else None,
        test_split=str(result["test_split"]) if result.get("test_split") else None,
    )


def collect_runs(sweep_dir: str | Path) -> list[Run]:
    """Every run of the sweep rooted at ``sweep_dir``, finished or not."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"sweep directory {sweep_dir} does not exist")
    return [load_run(p) for p in find_run_dirs(sweep_dir)]
