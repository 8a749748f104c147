"""MLflow through Lightning's ``MLFlowLogger`` (config group ``logger/mlflow``).

- Store: ``tracking_uri`` if given (e.g. an MLflow server), else a SQLite database in the output
  root, ``sqlite:///<run_dir>/../mlflow.db`` (never the deprecated file store), with artifacts in
  ``<run_dir>/../mlflow-artifacts``. The output root is the run dir's parent: the sweep root for a
  multirun (one database per sweep), ``outputs/train`` for single runs (one database for all).
  Browse with ``mlflow ui --backend-store-uri sqlite:///outputs/train/mlflow.db``.
- Experiment: ``experiment_name``, else the sweep name, else ``seglightning``; run name = run dir
  name; tags ``loss``, ``arch``, ``data``, ``group`` (sweep name) and ``seglightning.run_id`` (derived
  from the run dir: a resumed run finds and continues its MLflow run).
- Params: the resolved run config (flattened, ``data/batch_size``) and the module's hyperparameters;
  MLflow params are immutable, so on a resumed run a key logged before keeps its first value.
- Artifacts: overlay PNGs (``overlays/``), ``confusion_matrix.png`` and ``per_class.csv``.
- A sweep report: its tables with ``log_table`` (``sweep/<table>.json``, readable with
  ``mlflow.load_table``), ``results.md``/``comparison.md`` as texts and its plots under ``sweep/``.
- A SQLite store takes one writer at a time: with a parallel launcher, prefer an MLflow server.
- An MLflow server (``http(s)://`` ``tracking_uri``) is probed first, for ``connect_timeout``
  seconds at most; one that cannot be reached sends the run to the local SQLite store above, with a
  warning (:mod:`.reachable`). MLflow has no sync command: copy the runs to the server later with
  mlflow-export-import (``export-experiment`` from the local store, ``import-experiment`` into it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning.fabric.utilities.logger import _convert_params, _flatten_dict
from lightning.pytorch.loggers import MLFlowLogger
from lightning.pytorch.utilities import rank_zero_only

from ..run.directory import OVERLAYS_DIR, RunStatus
from .context import RunContext, stable_run_id
from .media import ClassReport, Overlay, ReportMedia
from .reachable import DEFAULT_CONNECT_TIMEOUT, check_timeout, unreachable, warn_offline

RUN_ID_TAG = "seglightning.run_id"


class MediaMLFlowLogger(MLFlowLogger):
    """``MLFlowLogger`` with media as artifacts and params that tolerate a resumed run."""

    @rank_zero_only
    def log_hyperparams(self, params: Any) -> None:
        logged = self.experiment.get_run(self.run_id).data.params
        super().log_hyperparams({k: v for k, v in _flatten_dict(_convert_params(params)).items() if k not in logged})

    @rank_zero_only
    def finalize(self, status: str = "success") -> None:
        # an interrupted run (stop signal, requeued) ends as KILLED; it continues on resume
        super().finalize("KILLED" if status == RunStatus.INTERRUPTED else status)

    @rank_zero_only
    def log_overlays(self, overlays: Sequence[Overlay], class_names: Sequence[str], step: int) -> None:
        for o in overlays:
            self.experiment.log_artifact(self.run_id, str(o.path), artifact_path=OVERLAYS_DIR)

    @rank_zero_only
    def log_class_report(self, report: ClassReport, step: int) -> None:
        for path in (report.figure_path, report.table_path, *report.figures.values()):
            self.experiment.log_artifact(self.run_id, str(path))


    @rank_zero_only
    def log_report(self, report: ReportMedia) -> None:
        for name, (columns, rows) in report.tables.items():
            data = {c: [row[i] for row in rows] for i, c in enumerate(columns)}
            self.experiment.log_table(self.run_id, data=data, artifact_file=f"sweep/{name}.json")
        for name, text in report.texts.items():
            self.experiment.log_text(self.run_id, text, f"sweep/{name}.md")
        for path in report.images.values():
            self.experiment.log_artifact(self.run_id, str(path), artifact_path="sweep")
        if "report.html" in report.files:  # the self-contained page
            self.experiment.log_artifact(self.run_id, str(report.files["report.html"]), artifact_path="sweep")


def _previous_run(tracking_uri: str, experiment_name: str, key: str) -> str | None:
    """The id of the MLflow run tagged with ``key`` (the run dir's id), if there is one."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return None
    runs = client.search_runs([experiment.experiment_id], f"tags.`{RUN_ID_TAG}` = '{key}'", max_results=1)
    return runs[0].info.run_id if runs else None


def build(run_dir: Path, context: RunContext, experiment_name: str | None = None, tracking_uri: str | None = None,
          artifact_location: str | None = None, tags: Mapping[str, str] | None = None,
          connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> MediaMLFlowLogger:
    """The ``mlflow`` entry of the logger registry (options: ``conf/logger/mlflow.yaml``)."""
    root = Path(run_dir).resolve().parent
    timeout = check_timeout("mlflow", connect_timeout)
    if tracking_uri is not None and tracking_uri.startswith(("http://", "https://")):
        why = unreachable(tracking_uri, timeout)
        if why is not None:
            local = f"sqlite:///{root / 'mlflow.db'}"
            warn_offline("MLflow", tracking_uri, why, f"logging to the local store {local} instead (browse: "
                         f"`mlflow ui --backend-store-uri {local}`); upload later with mlflow-export-import "
                         f"(`export-experiment` with MLFLOW_TRACKING_URI={local}, then `import-experiment` "
                         f"with MLFLOW_TRACKING_URI={tracking_uri})")
            tracking_uri, artifact_location = None, None
    if tracking_uri is None:
        root.mkdir(parents=True, exist_ok=True)
        tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
        artifact_location = artifact_location or str(root / "mlflow-artifacts")
    experiment_name = experiment_name or context.get("group") or "seglightning"
    key = stable_run_id(run_dir)
    run_id = _previous_run(tracking_uri, experiment_name, key) if context.get("resume_step") is not None else None
    group = {"group": context["group"]} if context.get("group") else {}
    all_tags = {**context.get("tags", {}), **group, RUN_ID_TAG: key, **(tags or {})}
    logger = MediaMLFlowLogger(
        experiment_name=experiment_name, run_name=context.get("name"), tracking_uri=tracking_uri, tags=all_tags,
        artifact_location=artifact_location, run_id=run_id,
    )
    if context.get("config"):
        logger.log_hyperparams(context["config"])
    return logger
