"""Weights & Biases through Lightning's ``WandbLogger`` (config group ``logger/wandb``).

- Mode ``auto``: ``WANDB_MODE`` if set, else ``online`` when ``WANDB_API_KEY`` is set and
  ``offline`` without it (an offline run never prompts and never waits for the network; upload it
  later with ``wandb sync <run_dir>/wandb/offline-run-*``).
- Online, the server (``WANDB_BASE_URL``, else api.wandb.ai) is probed first, for
  ``connect_timeout`` seconds at most; one that cannot be reached makes the run offline, with a
  warning naming the ``wandb sync`` command (:mod:`.reachable`).
- Everything W&B writes stays in the run dir: the run under ``<run_dir>/wandb/``, and while the run
  is open ``WANDB_DATA_DIR``, ``WANDB_ARTIFACT_DIR`` and ``WANDB_CACHE_DIR`` point at
  ``<run_dir>/wandb/{data,artifacts,cache}`` (restored when it closes).
- ``group`` = sweep name, ``job_type``, tags ``loss=…``, ``arch=…``, ``data=…``; the resolved run
  config as the W&B config.
- The run id is derived from the run dir and ``resume="allow"``: a restarted run continues its W&B
  run. ``close`` finishes the run (called by ``finish_trackers`` when the Hydra job ends), so the
  jobs of a multirun get one W&B run each.
- Overlays as ``wandb.Image`` with native ``masks`` (ground truth, prediction; ``void`` for ignored
  pixels), the confusion matrix as an image and the per-class table as a ``wandb.Table``.
- A sweep report (``seglightning-report --logger wandb``): its tables as ``wandb.Table``
  (``sweep/runs``, ``sweep/results``, ``sweep/comparison``), its plots as ``wandb.Image``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

from ..run.directory import RunStatus
from .context import RunContext, stable_run_id, tag_list
from .media import ClassReport, Overlay, ReportMedia
from .reachable import DEFAULT_CONNECT_TIMEOUT, check_timeout, unreachable, warn_offline

DATA_DIRS = {"WANDB_DATA_DIR": "data", "WANDB_ARTIFACT_DIR": "artifacts", "WANDB_CACHE_DIR": "cache"}
DEFAULT_SERVER = "https://api.wandb.ai"
MODES = ("auto", "online", "offline", "disabled")


def resolve_mode(mode: str) -> str:
    """``auto`` -> ``WANDB_MODE`` if set, else online with ``WANDB_API_KEY`` and offline without."""
    if mode not in MODES:
        raise ValueError(f"logger.wandb.mode={mode!r}: choose one of {', '.join(MODES)}")
    if mode != "auto":
        return mode
    return os.environ.get("WANDB_MODE") or ("online" if os.environ.get("WANDB_API_KEY") else "offline")


class WandbRunLogger(WandbLogger):
    """``WandbLogger`` whose files stay in the run dir, with media and an explicit ``close``."""

    def __init__(self, run_dir: Path, **kwargs: Any):
        wandb_dir = Path(run_dir) / "wandb"
        wandb_dir.mkdir(parents=True, exist_ok=True)
        super().__init__(save_dir=str(run_dir), **kwargs)
        self._env = {k: str(wandb_dir / sub) for k, sub in DATA_DIRS.items()}
        for path in self._env.values():  # created here: wandb makes them only when it first writes
            Path(path).mkdir(parents=True, exist_ok=True)
        self._env_before: dict[str, str | None] = {}

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        if self._experiment is None:
            self._env_before = {k: os.environ.get(k) for k in self._env}
            os.environ.update(self._env)
        return super().experiment

    @rank_zero_only
    def log_overlays(self, overlays: Sequence[Overlay], class_names: Sequence[str], step: int) -> None:
        import wandb

        void = len(class_names)  # first id past the classes: every ignored pixel
        labels = {**dict(enumerate(class_names)), void: "void"}

        def mask(m: np.ndarray) -> dict[str, Any]:
            return {"mask_data": np.where((m >= 0) & (m < void), m, void), "class_labels": labels}

        images = [
            wandb.Image(o.image, caption=o.name, masks={"ground_truth": mask(o.target), "prediction": mask(o.pred)})
            for o in overlays
        ]
        self.log_metrics({"val/overlays": images}, step)

    @rank_zero_only
    def log_class_report(self, report: ClassReport, step: int) -> None:
        import wandb

        self.log_metrics(
            {
                "val/confusion_matrix": wandb.Image(str(report.figure_path), caption="row-normalised"),
                "val/per_class": wandb.Table(columns=report.columns, data=report.rows),
                **{key: wandb.Image(str(path)) for key, path in report.figures.items()},
            },
            step,
        )

    @rank_zero_only
    def log_report(self, report: ReportMedia) -> None:
        import wandb

        tables = {
            f"sweep/{name}": wandb.Table(columns=columns, data=rows) for name, (columns, rows) in report.tables.items()
        }
        images = {f"sweep/{name}": wandb.Image(str(path), caption=name) for name, path in report.images.items()}
        page = report.files.get("report.html")  # the self-contained page, as W&B Html
        html = {"sweep/report": wandb.Html(page.read_text(encoding="utf-8"))} if page is not None else {}
        self.log_metrics({**tables, **images, **html}, 0)

    def close(self, status: str) -> None:
        """Finish the W&B run (exit code 1 unless ``status == "success"``; an interrupted run is
        marked preempting, so W&B shows it preempted and the requeued job resumes it) and restore
        the environment."""
        if self._experiment is not None:
            if status == RunStatus.INTERRUPTED:
                self._experiment.mark_preempting()
            self._experiment.finish(exit_code=0 if status == "success" else 1)
            self._experiment = None
        for key, value in self._env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._env_before = {}


def build(
    run_dir: Path,
    context: RunContext,
    project: str = "seglightning",
    entity: str | None = None,
    mode: str = "auto",
    job_type: str = "train",
    tags: Sequence[str] = (),
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> WandbRunLogger:
    """The ``wandb`` entry of the logger registry (options: ``conf/logger/wandb.yaml``)."""
    mode = resolve_mode(mode)
    timeout = check_timeout("wandb", connect_timeout)
    if mode == "online":
        server = os.environ.get("WANDB_BASE_URL") or DEFAULT_SERVER
        why = unreachable(server, timeout)
        if why is not None:
            where = Path(run_dir) / "wandb"
            warn_offline("W&B", server, why, f"logging offline to {where}; upload later with "
                         f"`wandb sync {where}/offline-run-*`")
            mode = "offline"
    return WandbRunLogger(
        Path(run_dir),
        name=context.get("name"),
        project=project,
        entity=entity,
        id=stable_run_id(run_dir),
        group=context.get("group"),
        job_type=job_type,
        tags=tag_list(context, tags),
        config=context.get("config"),
        mode=mode,
    )
