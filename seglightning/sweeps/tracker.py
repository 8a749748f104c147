"""Send a sweep report to trackers (``seglightning-report --logger wandb``).

The report becomes one tracker run named ``<sweep>-report``, grouped with the sweep's runs, with
its files under ``<sweep dir>/report``. The tracker settings (project, entity, ...) are those the
sweep's runs used (``logger.<name>`` of their ``config.yaml``). A logger receives the per-run table
if it has ``log_table(key, columns, data)`` and the plots if it has ``log_image(key, images)``, as
Lightning's ``WandbLogger`` does.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from lightning.pytorch.loggers import CSVLogger

from ..tracking.context import RunContext
from ..tracking.loggers import build_loggers, finish_trackers
from .report import SweepReport
from .tables import run_rows


def _logger_settings(report: SweepReport, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``{name: options}`` as in the first run's config that names the logger (else defaults)."""
    spec: dict[str, dict[str, Any]] = {name: {} for name in names}
    for run in report.runs:
        config_path = run.path / "config.yaml"
        loggers = (yaml.safe_load(config_path.read_text()) or {}).get("logger") or {} if config_path.is_file() else {}
        for name in names:
            if not spec[name] and loggers.get(name):
                spec[name] = dict(loggers[name])
    return spec


def log_report(report: SweepReport, paths: dict[str, Path], names: Sequence[str]) -> list[str]:
    """Log the results table and plots to each tracker in ``names``; returns what was logged where."""
    sweep = report.sweep_dir.name
    context: RunContext = {"config": {"sweep_dir": str(report.sweep_dir), "metrics": report.section, "grid": report.columns},
                           "tags": {}, "group": sweep, "name": f"{sweep}-report", "resume_step": None}
    loggers = [lg for lg in build_loggers(_logger_settings(report, names), report.sweep_dir / "report", context)
               if not isinstance(lg, CSVLogger)]  # build_loggers always adds CSV; the report has results.csv
    header, rows = run_rows(report.runs, report.columns, report.sweep_dir)
    images = [str(p) for name, p in paths.items() if name.endswith(".png")]
    done = []
    with finish_trackers(loggers):
        for logger in loggers:
            kind = type(logger).__name__
            if hasattr(logger, "log_table"):
                logger.log_table(key="sweep/results", columns=header, data=[[None if v == "" else v for v in row] for row in rows])
                done.append(f"{kind}: table sweep/results ({len(rows)} runs)")
            if images and hasattr(logger, "log_image"):
                logger.log_image(key="sweep/plots", images=images)
                done.append(f"{kind}: plots sweep/plots")
            if not hasattr(logger, "log_table"):
                warnings.warn(f"{kind} cannot log a table; the results are in {paths['results.csv']}", stacklevel=2)
    return done
