"""Neptune through the ``neptune-scale`` client (config group ``logger/neptune``).

The hosted Neptune service shut down in 2026 and Lightning >= 2.6.4 removed its ``NeptuneLogger``,
so seglightning carries this small Lightning ``Logger`` on ``neptune_scale.Run``:

- Mode ``auto``: ``async`` (streams to the server, e.g. a self-hosted one) when ``NEPTUNE_API_TOKEN``
  and a project (``logger.neptune.project`` or ``NEPTUNE_PROJECT``) are set, else ``offline``: the
  run is a local SQLite file ``<run_dir>/neptune/<project>_<run id>_<time>/run_operations.sqlite3``
  that ``neptune sync <file>`` uploads later (to the project recorded in it, so set the project
  even offline if you mean to sync; without one it is ``seglightning/offline``).
- Logged: metrics (a series per key; a point whose step is not above the key's last step is
  dropped, as Neptune requires increasing steps), the resolved run config under ``config/``, the
  module's hyperparameters under ``hparams/``, tags ``loss=…``, ``arch=…``, ``data=…``, the sweep
  name as a group tag, overlay PNGs as file series ``val/overlays/<image>``, and at the end the
  confusion matrix (``val/confusion_matrix``), the per-class CSV (``val/per_class_table``) and the
  per-class scores as values ``val/per_class/<class>/<column>``; a sweep report as files
  ``sweep/<file>`` (``sweep/results_csv``, ``sweep/comparison_md``, ``sweep/heatmap_png``, ...; the
  client has no table type) and each grid cell's mean as values ``sweep/results/<cell>/<metric>``.
- In ``async`` mode the server named by the token is probed first, for ``connect_timeout`` seconds
  at most; one that cannot be reached makes the run ``offline``, with a warning naming the
  ``neptune sync`` command (:mod:`.reachable`).
- One Neptune run per attempt, in one experiment per run dir (named ``<parent dir>/<run dir>``): the
  first attempt's id is derived from the run dir; a resumed run forks the previous attempt (listed
  in ``<run_dir>/neptune/runs.txt``) at the step before the checkpoint, so its history continues
  without the steps that the crash made obsolete.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning.fabric.utilities.logger import _convert_params, _sanitize_callable_params
from lightning.pytorch.loggers import Logger
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

from .context import RunContext, stable_run_id, tag_list
from .media import ClassReport, Overlay, ReportMedia
from .reachable import DEFAULT_CONNECT_TIMEOUT, check_timeout, unreachable, warn_offline

OFFLINE_PROJECT = "seglightning/offline"
MODES = ("auto", "async", "offline", "disabled")


def resolve_mode(mode: str, project: str | None) -> str:
    """``auto`` -> ``async`` with ``NEPTUNE_API_TOKEN`` and a project, else ``offline``."""
    if mode not in MODES:
        raise ValueError(f"logger.neptune.mode={mode!r}: choose one of {', '.join(MODES)}")
    if mode != "auto":
        return mode
    return "async" if os.environ.get("NEPTUNE_API_TOKEN") and project else "offline"


class NeptuneScaleLogger(Logger):
    """A Lightning ``Logger`` writing to one ``neptune_scale.Run`` (created on first use, rank 0)."""

    def __init__(self, files_dir: Path, run_id: str, experiment_name: str, project: str, mode: str,
                 fork: tuple[str, int] | None = None, tags: Sequence[str] = (), group_tags: Sequence[str] = (),
                 config: Mapping[str, Any] | None = None, capture_console: bool = False):
        super().__init__()
        self.files_dir, self.run_id, self.experiment_name, self.project, self.mode = (
            Path(files_dir),
            run_id,
            experiment_name,
            project,
            mode,
        )
        self.fork, self.tags, self.group_tags, self.config, self.capture_console = (
            fork,
            list(tags),
            list(group_tags),
            config,
            capture_console,
        )
        self._run: Any = None
        self._floor = float(fork[1]) if fork else float("-inf")
        self._last_step: dict[str, float] = {}

    @property
    def name(self) -> str:
        return self.experiment_name

    @property
    def version(self) -> str:
        return self.run_id

    @property
    def save_dir(self) -> str:
        return str(self.files_dir)

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        """The ``neptune_scale.Run``; its id is appended to ``runs.txt`` (the lineage resumes fork from)."""
        if self._run is None:
            from neptune_scale import Run

            self.files_dir.mkdir(parents=True, exist_ok=True)
            fork_id, fork_step = self.fork or (None, None)
            self._run = Run(
                run_id=self.run_id,
                project=self.project,
                mode=self.mode,
                experiment_name=self.experiment_name,
                fork_run_id=fork_id,
                fork_step=fork_step,
                log_directory=self.files_dir,
                enable_console_log_capture=self.capture_console,
                source_tracking_config=None,
            )
            with open(self.files_dir / "runs.txt", "a") as f:
                f.write(self.run_id + "\n")
            if self.tags:
                self._run.add_tags(self.tags)
            if self.group_tags:
                self._run.add_tags(self.group_tags, group_tags=True)
            if self.config:
                self._run.log_configs({"config": dict(self.config)}, flatten=True, cast_unsupported=True)
        return self._run

    def _fresh(self, keys: Sequence[str], step: float) -> list[str]:
        """The keys whose series ``step`` extends (Neptune series need strictly increasing steps)."""
        fresh = [k for k in keys if step > self._last_step.get(k, self._floor)]
        self._last_step.update(dict.fromkeys(fresh, step))
        return fresh

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        params = _sanitize_callable_params(_convert_params(params))
        self.experiment.log_configs({"hparams": params}, flatten=True, cast_unsupported=True)

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        step = step if step is not None else max(self._last_step.values(), default=-1) + 1
        fresh = self._fresh(list(metrics), step)
        if fresh:
            self.experiment.log_metrics({k: float(metrics[k]) for k in fresh}, step=step)

    @rank_zero_only
    def log_overlays(self, overlays: Sequence[Overlay], class_names: Sequence[str], step: int) -> None:
        files = {f"val/overlays/{o.name}": o.path for o in overlays}
        fresh = self._fresh(list(files), step)
        if fresh:
            self.experiment.log_files({k: files[k] for k in fresh}, step=step)

    @rank_zero_only
    def log_class_report(self, report: ClassReport, step: int) -> None:
        self.experiment.assign_files(
            {"val/confusion_matrix": report.figure_path, "val/per_class_table": report.table_path, **report.figures}
        )
        values = {
            f"val/per_class/{row[0]}/{col}": v for row in report.rows for col, v in zip(report.columns[1:], row[1:])
        }
        self.experiment.log_configs(values)

    @rank_zero_only
    def log_report(self, report: ReportMedia) -> None:
        self.experiment.assign_files({f"sweep/{name.replace('.', '_')}": path for name, path in report.files.items()})
        columns, rows = report.tables["results"]
        means = [i for i, c in enumerate(columns) if c.endswith("/mean")]
        cell = columns.index("seeds")  # the grid values come before it
        values = {
            f"sweep/results/{','.join(map(str, row[:cell]))}/{columns[i].removesuffix('/mean')}": row[i]
            for row in rows
            for i in means
            if row[i] is not None
        }
        if values:
            self.experiment.log_configs(values)

    def close(self, status: str) -> None:
        """Close the run. Offline, the run file stays for ``neptune sync``: one line names the command,
        instead of the client's warning that "some data may have failed to sync" (true of every offline run)."""
        if self._run is None:
            return
        self._run.log_configs({"status": status})
        if self.mode != "offline":
            self._run.close()
        else:
            neptune_log = logging.getLogger("neptune")
            neptune_log.addFilter(_not_synced_notice)
            try:
                self._run.close()
            finally:
                neptune_log.removeFilter(_not_synced_notice)
            for run_file in sorted(self.files_dir.glob(f"*_{self.run_id}_*/run_operations.sqlite3")):
                print(f"[seglightning] neptune: offline run saved; upload it with `neptune sync {run_file}`")
        self._run = None


def _not_synced_notice(record: logging.LogRecord) -> bool:
    return "some data may have failed to sync" not in record.getMessage()


def token_server(token: str | None) -> str | None:
    """The server address a Neptune API token names (None if it names none)."""
    try:
        data = json.loads(base64.b64decode(token or "", validate=False))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    address = data.get("api_address") or data.get("api_url")
    return str(address) if address else None


def _lineage(log_dir: Path) -> list[str]:
    path = log_dir / "runs.txt"
    return path.read_text().split() if path.is_file() else []


def build(
    run_dir: Path,
    context: RunContext,
    project: str | None = None,
    mode: str = "auto",
    tags: Sequence[str] = (),
    capture_console: bool = False,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> NeptuneScaleLogger:
    """The ``neptune`` entry of the logger registry (options: ``conf/logger/neptune.yaml``)."""
    run_dir = Path(run_dir)
    project = project or os.environ.get("NEPTUNE_PROJECT")
    timeout = check_timeout("neptune", connect_timeout)
    mode = resolve_mode(mode, project)
    server = token_server(os.environ.get("NEPTUNE_API_TOKEN")) if mode == "async" else None
    why = unreachable(server, timeout) if server else None
    if why is not None:
        warn_offline("Neptune", server, why, f"logging offline under {run_dir / 'neptune'}; upload later with "
                     f"`neptune sync {run_dir / 'neptune'}/<run>/run_operations.sqlite3`")
        mode = "offline"
    log_dir = run_dir / "neptune"
    previous = _lineage(log_dir)
    base = stable_run_id(run_dir)
    run_id = f"{base}-{len(previous)}" if previous else base
    resume_step = context.get("resume_step")
    fork = (previous[-1], resume_step - 1) if previous and resume_step else None
    return NeptuneScaleLogger(
        log_dir,
        run_id,
        f"{run_dir.parent.name}/{run_dir.name}",
        project or OFFLINE_PROJECT,
        mode,
        fork=fork,
        tags=tag_list(context, tags),
        group_tags=[context["group"]] if context.get("group") else [],
        config=context.get("config"),
        capture_console=capture_console,
    )
