"""Hydra callback for ``seglightning-train -m``: when every job has returned, write the sweep report
into the sweep dir and print a summary; exit with status 1 if a job failed (the other jobs ran to
the end; rerunning the same command retries the failed ones and skips the finished ones)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from .report import build_report, summary, write_report

log = logging.getLogger(__name__)


class SweepSummary(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            report = build_report(sweep_dir)
            if not report.runs:
                return
            written = write_report(report)
        except Exception as err:  # noqa: BLE001 - a report problem must not hide the jobs' results
            log.warning("no sweep report for %s: %s", sweep_dir, err)
            return
        print(summary(report))
        print(f"[seglightning] report: {', '.join(written)} in {sweep_dir}")
        failed = report.count("failed")
        if failed:
            print(
                f"[seglightning] {failed} job(s) failed; "
                "rerun the same command to retry them (finished jobs are skipped)"
            )
            raise SystemExit(1)
