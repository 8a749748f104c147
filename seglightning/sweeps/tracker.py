"""Send a sweep report to trackers (``seglightning-report --logger wandb --logger mlflow ...``).

The report becomes one tracker run named ``<sweep>-report``, grouped with the sweep's runs, with
its files under ``<sweep dir>/report``. The tracker settings (project, entity, ...) are those the
sweep's runs used (``logger.<name>`` of their ``config.yaml``). Every tracker receives the report
through the one method of the tracker protocol,
:meth:`~seglightning.tracking.media.MediaLogger.log_report`: tables as the tracker's tables where
it has them (W&B ``Table``, MLflow ``log_table``), as markdown texts (TensorBoard) or files
(Neptune), and the plots as images.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from lightning.pytorch.loggers import CSVLogger

from ..run.directory import CONFIG_FILE
from ..tracking.context import RunContext
from ..tracking.loggers import build_loggers, finish_trackers
from ..tracking.media import MediaLogger, ReportMedia
from .report import SweepReport
from .tables import comparison_rows, result_rows, run_rows


def _logger_settings(report: SweepReport, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``{name: options}`` as in the first run's config that names the logger (else defaults)."""
    spec: dict[str, dict[str, Any]] = {name: {} for name in names}
    for run in report.runs:
        config_path = run.path / CONFIG_FILE
        loggers = (yaml.safe_load(config_path.read_text()) or {}).get("logger") or {} if config_path.is_file() else {}
        for name in names:
            if not spec[name] and loggers.get(name):
                spec[name] = dict(loggers[name])
    return spec


def _value(v: Any) -> Any:
    """A table value for a tracker: empty text and NaN become None (missing)."""
    return None if v == "" or (isinstance(v, float) and math.isnan(v)) else v


def report_media(report: SweepReport, paths: dict[str, Path]) -> ReportMedia:
    """The report's tables, markdown texts, plots and files as :class:`ReportMedia`."""
    tables = {"runs": run_rows(report.runs, report.columns, report.sweep_dir),
              "results": result_rows(report.cells, report.columns, report.metrics),
              "comparison": comparison_rows(report.comparisons, report.columns)}
    return ReportMedia(
        tables={name: (header, [[_value(v) for v in row] for row in rows]) for name, (header, rows) in tables.items()},
        texts={Path(name).stem: p.read_text() for name, p in paths.items() if name.endswith(".md")},
        images={Path(name).stem: p for name, p in paths.items() if name.endswith(".png")},
        files=dict(paths),
    )


def log_report(report: SweepReport, paths: dict[str, Path], names: Sequence[str]) -> list[str]:
    """Log the report to each tracker in ``names``; returns what was logged where."""
    sweep = report.sweep_dir.name
    context: RunContext = {
        "config": {"sweep_dir": str(report.sweep_dir), "metrics": report.section, "grid": report.columns},
        "tags": {},
        "group": sweep,
        "name": f"{sweep}-report",
        "resume_step": None,
    }
    loggers = [
        lg
        for lg in build_loggers(_logger_settings(report, names), report.sweep_dir / "report", context)
        if not isinstance(lg, CSVLogger)
    ]  # build_loggers always adds CSV; the report has its CSV files
    media = report_media(report, paths)
    done = []
    with finish_trackers(loggers):
        for logger in loggers:
            kind = type(logger).__name__
            if not isinstance(logger, MediaLogger):
                warnings.warn(f"{kind} cannot log a sweep report; it is in {report.sweep_dir}", stacklevel=2)
                continue
            logger.log_report(media)
            done.append(f"{kind}: report tables {', '.join(media.tables)}; plots {', '.join(media.images)}")
    return done
