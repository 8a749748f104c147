"""Hydra callback for ``seglightning-train -m``: when every job has returned, write the sweep report
into the sweep dir and print a summary; exit with status 1 if a job failed (the other jobs ran to
the end; rerunning the same command retries the failed ones and skips the finished ones).

A job stopped by a signal (or Ctrl-C) ends the sweep: Hydra's in-process launcher runs no further
job and never calls ``on_multirun_end``, so that job writes the summary itself
(:func:`summarize_interrupted_sweep`) before the process exits for its requeue.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from ..compat import HYDRA_BASIC_LAUNCHER
from ..run.directory import RunStatus
from .report import build_report, summary, write_report

log = logging.getLogger(__name__)


def write_summary(sweep_dir: Path) -> int:
    """Write the report into ``sweep_dir`` and print its summary; the number of failed jobs."""
    try:
        report = build_report(sweep_dir)
        if not report.runs:
            return 0
        written = write_report(report)
    except Exception as err:  # noqa: BLE001 - a report problem must not hide the jobs' results
        log.warning("no sweep report for %s: %s", sweep_dir, err)
        return 0
    print(summary(report))
    print(f"[seglightning] report: {', '.join(written)} in {sweep_dir}")
    return report.count(RunStatus.FAILED)


def summarize_interrupted_sweep() -> None:
    """Inside a job of an in-process multirun that a signal stopped: the sweep's summary so far."""
    from hydra.core.hydra_config import HydraConfig

    hydra = HydraConfig.get()
    if hydra.launcher.get("_target_") != HYDRA_BASIC_LAUNCHER:  # the in-process launcher
        return  # jobs in their own processes: the launching process writes it when they end
    sweep_dir = Path(str(hydra.sweep.dir))
    print("[seglightning] sweep interrupted; rerun the same command to finish it (finished jobs are skipped)")
    write_summary(sweep_dir)


class SweepSummary(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        failed = write_summary(Path(str(config.hydra.sweep.dir)))
        if failed:
            print(
                f"[seglightning] {failed} job(s) failed; "
                "rerun the same command to retry them (finished jobs are skipped)"
            )
            raise SystemExit(1)
