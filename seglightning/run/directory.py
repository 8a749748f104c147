"""The run directory (docs/design.md): what a run writes there and how a run is found finished or
resumed. Every path of a run directory is named here, and the run's JSON and CSV files are written
here (strict JSON, atomic, tokens redacted).

``config.yaml`` (resolved), ``overrides.yaml``, ``run_meta.json``, ``metrics.json`` (``status``: a
:class:`RunStatus`; final + best + test), ``metrics.csv``, ``checkpoints/{last,best}.ckpt``,
``per_class.csv``, ``confusion_matrix.png``, ``reliability.png`` (calibration family), ``per_image.csv``
(per image of the test, else the final validation pass: id, valid pixels, per-class IoU/Dice/bF1 and
TP/FP/FN), ``overlays/*.png``, ``predictions/`` (a fixed set of images: prediction and ground truth as
palette PNGs, the image, ``index.json``), ``run.lock`` (the running process).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import traceback
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from ..utils import strict_json
from ..utils.atomic_file import fsync, replace_atomically, write_text_atomically
from ..utils.redact import redact
from ..utils.strict_json import nan_for_null

# light to import: the sweep report reads run dirs without loading torch or Lightning

CONFIG_FILE = "config.yaml"  # the resolved config, redacted
OVERRIDES_FILE = "overrides.yaml"  # the command line's overrides, redacted
RUN_META_FILE = "run_meta.json"  # tracking/run_meta.py: code, packages, host, seed
HYDRA_DIR = Path(".hydra")  # a Hydra job's own config.yaml, overrides.yaml and hydra.yaml
METRICS_FILE = "metrics.json"
METRICS_CSV = "metrics.csv"  # Lightning's CSV logger writes it under this name (tracking/loggers.py)
PER_CLASS_FILE = "per_class.csv"
CONFUSION_FILE = "confusion_matrix.png"
RELIABILITY_FILE = "reliability.png"
PER_IMAGE_FILE = "per_image.csv"
OVERLAYS_DIR = "overlays"  # epoch<E>_<id>.png of a fixed validation set (tracking/overlays.py)
PREDICTIONS_DIR = "predictions"  # <id>.png, <id>_gt.png, <id>_image.jpg of a fixed image set (tracking/predictions.py)
PREDICTIONS_INDEX = "index.json"  # in PREDICTIONS_DIR: split, selection seed, inference, ids
CHECKPOINTS_DIR = Path("checkpoints")
LAST_CHECKPOINT = CHECKPOINTS_DIR / "last.ckpt"  # checkpointing/last_checkpoint.py; resume=auto resumes from it
BEST_CHECKPOINT = CHECKPOINTS_DIR / "best.ckpt"  # by the monitor (run/prepare.py); the test pass scores it
LOCK_FILE = "run.lock"  # held by the process running the run (run/lock.py)
SCORE_SECTIONS = ("final", "best", "test")  # the score groups of metrics.json (a null score is NaN)


class RunStatus(str, Enum):
    """``metrics.json``'s ``status`` (a ``str``: it compares equal to, and is written as, its value).
    A run writes ``running`` first, then ``complete``, ``failed``, ``interrupted`` (a stop signal) or
    ``pruned`` (an Optuna trial); a multirun job whose run dir another process holds returns
    ``skipped`` (written nowhere). The sweep report adds ``unreadable`` (a damaged run file) and
    ``incomplete`` (any other state: still running, or killed)."""

    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    PRUNED = "pruned"
    SKIPPED = "skipped"
    UNREADABLE = "unreadable"
    INCOMPLETE = "incomplete"

    def __str__(self) -> str:
        return self.value


def hydra_overrides() -> list[str]:
    """The Hydra task overrides of this job (empty outside a Hydra app: tests, notebooks)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return list(HydraConfig.get().overrides.task)
    except ValueError:
        return []


def read_metrics(run_dir: Path) -> dict[str, Any] | None:
    """The run's ``metrics.json`` (None if it has none yet)."""
    path = run_dir / METRICS_FILE
    if not path.exists():
        return None
    result = json.loads(path.read_text())
    for section in SCORE_SECTIONS:
        if isinstance(result.get(section), dict):
            result[section] = nan_for_null(result[section])
    return result


def finished(run_dir: Path) -> dict[str, Any] | None:
    """The run's metrics if its ``metrics.json`` says it completed, else None."""
    result = read_metrics(run_dir)
    return result if result is not None and result.get("status") == RunStatus.COMPLETE else None


def is_rank_zero() -> bool:
    from lightning.pytorch.utilities import rank_zero_only

    return rank_zero_only.rank == 0


def write_json(path: Path, data: Any) -> None:
    """Write strict JSON (NaN as ``null``) atomically (a killed run never leaves a half-written file),
    tokens redacted."""
    write_text_atomically(path, strict_json.dumps(redact(data)))


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    """Write a CSV table atomically (a killed run never leaves a table cut short); ``path``."""
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(header)
    writer.writerows(rows)
    write_text_atomically(path, table.getvalue())
    return path


def write_figure(path: Path, figure: Any, dpi: int = 100) -> Path:
    """Save a matplotlib figure atomically, in the format of ``path``'s suffix; ``path``."""

    def fill(tmp: Path) -> None:
        figure.savefig(tmp, dpi=dpi, format=path.suffix.removeprefix("."))
        fsync(tmp)

    replace_atomically(path, fill)
    return path


def write_image(path: Path, image: Any, **options: Any) -> Path:
    """Save a PIL image atomically, in the format of ``path``'s suffix (``options``: the format's, e.g.
    ``quality``); ``path``."""
    from PIL import Image

    image_format = Image.registered_extensions()[path.suffix.lower()]

    def fill(tmp: Path) -> None:
        image.save(tmp, format=image_format, **options)
        fsync(tmp)

    replace_atomically(path, fill)
    return path


def write_metrics(run_dir: Path, result: dict[str, Any]) -> None:
    """Write ``metrics.json`` (rank zero only)."""
    if is_rank_zero():
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json(run_dir / METRICS_FILE, result)


def resume_checkpoint(resume: str, run_dir: Path) -> str | None:
    """The checkpoint to resume from: ``resume=auto`` (the run dir's last.ckpt if any), ``never`` or a path."""
    if resume == "never":
        return None
    if resume == "auto":
        last = run_dir / LAST_CHECKPOINT
        return str(last) if last.exists() else None
    if not Path(resume).exists():
        raise FileNotFoundError(f"resume={resume}: no such checkpoint (use resume=auto, resume=never or a .ckpt path)")
    return resume


def checkpoint_step(path: str | None) -> int | None:
    """The global step stored in a checkpoint (read without unpickling arbitrary objects)."""
    if path is None:
        return None
    import torch

    return int(torch.load(path, map_location="cpu", weights_only=True, mmap=True)["global_step"])


def write_run_files(cfg: DictConfig, run_dir: Path, meta: dict[str, Any]) -> None:
    """``config.yaml``, ``overrides.yaml``, ``run_meta.json`` (``meta`` and the overrides; ``meta`` from
    :func:`seglightning.tracking.run_meta.run_meta`) and ``metrics.json`` (running), rank zero."""
    if not is_rank_zero():
        return
    overrides = redact(hydra_overrides())
    run_dir.mkdir(parents=True, exist_ok=True)
    config = redact(OmegaConf.to_container(cfg, resolve=True))
    write_text_atomically(run_dir / CONFIG_FILE, OmegaConf.to_yaml(config))
    write_text_atomically(run_dir / OVERRIDES_FILE, yaml.safe_dump(overrides))
    write_json(run_dir / RUN_META_FILE, {**meta, "overrides": overrides})
    write_metrics(run_dir, {"status": RunStatus.RUNNING})


def add_run_meta(run_dir: Path, **fields: Any) -> None:
    """Add fields to ``run_meta.json`` (rank zero)."""
    if is_rank_zero():
        meta = json.loads((run_dir / RUN_META_FILE).read_text())
        write_json(run_dir / RUN_META_FILE, {**meta, **fields})


def record_failure(run_dir: Path, error: BaseException, log: bool = True) -> dict[str, Any]:
    """Write ``metrics.json`` with ``status: failed``, the error and its traceback (rank zero); log
    it unless the caller re-raises it."""
    result = {"status": RunStatus.FAILED, "error": f"{type(error).__name__}: {error}",
              "traceback": "".join(traceback.format_exception(error))}
    try:
        write_metrics(run_dir, result)
    except OSError as unwritten:  # e.g. the full disk that failed the run: report the run's error
        logging.getLogger(__name__).error("could not record the failure in %s: %s", run_dir, unwritten)
    if log:
        logging.getLogger(__name__).error("run %s failed: %s", run_dir, result["error"], exc_info=error)
    return result


def record_interruption(run_dir: Path, stop: Any) -> dict[str, Any]:
    """Write ``metrics.json`` with ``status: interrupted``: the signal, the stage it arrived in, and
    the step and epoch of the ``last.ckpt`` a rerun resumes from (None before one exists; rank zero). ``stop`` is a
    :class:`~seglightning.checkpointing.Interrupted`."""
    checkpoint = None if stop.checkpoint is None else Path(stop.checkpoint)
    if checkpoint is not None and checkpoint.is_relative_to(run_dir):
        checkpoint = checkpoint.relative_to(run_dir)
    result = {"status": RunStatus.INTERRUPTED, "signal": stop.signal_name, "stage": getattr(stop, "stage", None),
              "step": stop.step, "epoch": stop.epoch, "checkpoint": None if checkpoint is None else str(checkpoint)}
    write_metrics(run_dir, result)
    logging.getLogger(__name__).warning("run %s interrupted: %s", run_dir, stop)
    return result
