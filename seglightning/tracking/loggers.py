"""Lightning loggers from the ``logger`` config group. CSV is always on (the run's ground truth).

Each builder is ``builder(run_dir, context, **config)`` with ``context`` a
:class:`~seglightning.tracking.context.RunContext` (resolved config, loss/arch/data tags, sweep name
as group, run name, resume step). Tracker packages (wandb, neptune_scale, mlflow) are imported
inside their logger only.

Every tracker run belongs to one run dir: its id is derived from the run dir
(:func:`~seglightning.tracking.context.stable_run_id`), so a restarted run continues it, and
:func:`finish_trackers` ends it when the Hydra job ends (so the jobs of a multirun never log into
each other). Tokens are read from the environment by the client libraries only; nothing here writes
one to a file.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only, rank_zero_warn

from ..checkpointing.signals import Interrupted
from ..run.directory import METRICS_CSV, RunStatus
from . import mlflow_logger, neptune_logger, wandb_logger
from .context import RunContext
from .media import ClassReport, Overlay, ReportMedia


class RunDirWriter(ExperimentWriter):
    """Lightning's CSV writer, told that the run dir holds the run's other files: it replaces an old
    ``metrics.csv`` without warning that "previous log files will be deleted" (nothing else is)."""

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            self._fs.rm_file(self.metrics_file_path)


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
        path = Path(self.log_dir) / METRICS_CSV
        header, rows = [], []
        if self._resume_step is not None and path.is_file():
            with open(path, newline="") as f:
                reader = csv.DictReader(f)
                header = list(reader.fieldnames or [])
                rows = [r for r in reader if r.get("step") and int(r["step"]) < self._resume_step]
        self._fs.makedirs(self.log_dir, exist_ok=True)
        writer = self._experiment = RunDirWriter(log_dir=self.log_dir)  # deletes the old file
        if rows:
            with open(path, "w", newline="") as f:
                out = csv.DictWriter(f, fieldnames=header)
                out.writeheader()
                out.writerows(rows)
            writer.metrics_keys = sorted(header)
        return writer


class MediaTensorBoardLogger(TensorBoardLogger):
    """TensorBoard under ``<run_dir>/tensorboard``: overlay panels and the confusion matrix as
    images, the per-class table as a markdown text; a sweep report as markdown texts (its tables)
    and images (its plots)."""

    @rank_zero_only
    def log_overlays(self, overlays: Sequence[Overlay], class_names: Sequence[str], step: int) -> None:
        for o in overlays:
            self.experiment.add_image(f"val/overlays/{o.name}", o.panel, step, dataformats="HWC")

    @rank_zero_only
    def log_class_report(self, report: ClassReport, step: int) -> None:
        from PIL import Image

        figure = np.asarray(Image.open(report.figure_path).convert("RGB"))
        self.experiment.add_image("val/confusion_matrix", figure, step, dataformats="HWC")
        for key, path in report.figures.items():
            self.experiment.add_image(key, np.asarray(Image.open(path).convert("RGB")), step, dataformats="HWC")
        lines = ["| " + " | ".join(report.columns) + " |", "|" + " --- |" * len(report.columns)]
        lines += [
            "| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row) + " |" for row in report.rows
        ]
        self.experiment.add_text("val/per_class", "\n".join(lines), step)

    @rank_zero_only
    def log_report(self, report: ReportMedia) -> None:
        from PIL import Image

        for name, text in report.texts.items():
            self.experiment.add_text(f"sweep/{name}", text, 0)
        page = report.files.get("report.html")
        if page is not None:  # TensorBoard shows no HTML: a link to the self-contained page
            uri = Path(page).resolve().as_uri()
            text = f"The whole report on one page: [report.html]({uri}) ({uri})"
            self.experiment.add_text("sweep/report_html", text, 0)
        for name, path in report.images.items():
            self.experiment.add_image(
                f"sweep/{name}", np.asarray(Image.open(path).convert("RGB")), 0, dataformats="HWC"
            )
        self.experiment.flush()


def _csv(run_dir: Path, context: RunContext, **kw: Any) -> Logger:
    return ResumableCSVLogger(str(run_dir), resume_step=context.get("resume_step"), **kw)


def _tensorboard(run_dir: Path, context: RunContext, **kw: Any) -> Logger:
    return MediaTensorBoardLogger(save_dir=str(run_dir), name="tensorboard", version="", default_hp_metric=False, **kw)


LOGGERS: dict[str, Callable[..., Logger]] = {
    "csv": _csv,
    "tensorboard": _tensorboard,
    "wandb": wandb_logger.build,
    "neptune": neptune_logger.build,
    "mlflow": mlflow_logger.build,
}


def build_loggers(
    spec: dict[str, dict[str, Any]] | None, run_dir: Path, context: RunContext | None = None
) -> list[Logger]:
    """One logger per key of ``spec`` (``logger=[csv,tensorboard,...]``); CSV first and always. A key
    with a ``_target_`` is a user's own logger, built as written (hydra.utils.instantiate), e.g.
    ``+logger.mine._target_=lightning.pytorch.loggers.CSVLogger '+logger.mine.save_dir=${run_dir}/mine'``.

    An option a tracker does not take is an error naming its config key (``logger.<name>.<option>``).
    """
    from ..utils.registry import call_checked, instantiate_checked, lookup

    spec = dict(spec or {})
    spec.setdefault("csv", {})
    names = ["csv"] + sorted(k for k in spec if k != "csv")
    options = {n: dict(spec[n] or {}) for n in names}
    # an unknown tracker name fails before any tracker run starts
    builders = {n: lookup(LOGGERS, n, "logger", "logger") for n in names if "_target_" not in options[n]}
    return [
        call_checked(partial(builders[n], run_dir, context or {}), options[n], f"logger '{n}'", f"logger.{n}")
        if n in builders
        else instantiate_checked(options[n], Logger, f"logger.{n}")
        for n in names
    ]


@contextmanager
def finish_trackers(loggers: Sequence[Logger]) -> Iterator[None]:
    """End every tracker run when the block exits, failed or not: ``finalize(status)`` on each
    logger (success | failed | interrupted: a stop signal), then ``close(status)`` where it has one
    (W&B and Neptune runs are process-wide, so a
    Hydra job that left one open would make the next job log into it)."""
    status: str = RunStatus.FAILED
    try:
        yield
        status = "success"  # Lightning's Logger.finalize word for a finished run
    except Interrupted:  # a stop signal: the run is resumable, not failed
        status = RunStatus.INTERRUPTED
        raise
    finally:
        for logger in loggers:
            try:
                logger.finalize(status)
                close = getattr(logger, "close", None)
                if callable(close):
                    close(status)
            except Exception as err:  # one tracker failing to close must not keep the others open
                rank_zero_warn(f"closing the {type(logger).__name__} run failed: {err!r}")
