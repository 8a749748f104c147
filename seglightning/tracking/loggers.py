"""Lightning loggers from the ``logger`` config group. CSV is always on (the run's ground truth).

Each builder is ``builder(run_dir, context, **config)``; ``context`` carries what dashboards need:
``config`` (the resolved run config), ``tags`` ({"loss", "arch", "data"}), ``group`` (sweep name or
None), ``name`` (run name) and ``resume_step`` (global step of the checkpoint resumed from, or None). Tracker packages are imported inside their builder only.
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger, Logger
from lightning.pytorch.loggers.logger import rank_zero_experiment


class ResumableCSVLogger(CSVLogger):
    """``metrics.csv`` directly in the run dir; a resumed run keeps the rows logged before
    ``resume_step`` (Lightning's CSVLogger deletes an existing file, losing the run's history)."""

    def __init__(self, save_dir: str, resume_step: int | None = None, **kwargs: Any):
        super().__init__(save_dir=save_dir, name="", version="", **kwargs)
        self._resume_step = resume_step

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        if self._experiment is not None:
            return self._experiment
        path = Path(self.log_dir) / "metrics.csv"
        header, rows = [], []
        if self._resume_step is not None and path.is_file():
            with open(path, newline="") as f:
                reader = csv.DictReader(f)
                header = list(reader.fieldnames or [])
                rows = [r for r in reader if r.get("step") and int(r["step"]) < self._resume_step]
        with warnings.catch_warnings():  # its "will be deleted" warning: the rows are kept below
            warnings.filterwarnings("ignore", message="Experiment logs directory")
            writer = super().experiment  # deletes the old file
        if rows:
            with open(path, "w", newline="") as f:
                out = csv.DictWriter(f, fieldnames=header)
                out.writeheader()
                out.writerows(rows)
            writer.metrics_keys = sorted(header)
        return writer


def _csv(run_dir: Path, context: dict[str, Any], **kw: Any) -> Logger:
    return ResumableCSVLogger(str(run_dir), resume_step=context.get("resume_step"), **kw)


def _tensorboard(run_dir: Path, context: dict[str, Any], **kw: Any) -> Logger:
    from lightning.pytorch.loggers import TensorBoardLogger

    return TensorBoardLogger(save_dir=str(run_dir), name="tensorboard", version="", default_hp_metric=False, **kw)


LOGGERS: dict[str, Callable[..., Logger]] = {"csv": _csv, "tensorboard": _tensorboard}


def build_loggers(spec: dict[str, dict[str, Any]] | None, run_dir: Path, context: dict[str, Any] | None = None) -> list[Logger]:
    """One logger per key of ``spec`` (``logger=[csv,tensorboard,...]``); CSV first and always."""
    from ..registry import lookup

    spec = dict(spec or {})
    spec.setdefault("csv", {})
    names = ["csv"] + sorted(k for k in spec if k != "csv")
    return [lookup(LOGGERS, n, "logger", "logger")(run_dir, context or {}, **dict(spec[n] or {})) for n in names]
