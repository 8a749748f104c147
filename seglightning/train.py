"""``seglightning-train``: compose data x model x loss from config, fit, test, write the run dir.

``train`` runs three named steps that ``seglightning-tune`` and the sweeps reuse:
:func:`prepare_run` (seed, data, loop, callbacks, trackers), :func:`fit_and_test`, and the run
directory's writers in :mod:`seglightning.run.directory`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig

from .checkpointing import Interrupted, StopSignals, requeue
from .checkpointing.stages import check_stop, from_lightning, stop_signals
from .config_check import check_values
from .run.directory import (
    RunStatus,
    add_run_meta,
    finished,
    is_rank_zero,
    record_failure,
    record_interruption,
    write_metrics,
    write_run_files,
)
from .run.fit import fit_and_test
from .run.lock import RunLocked, run_lock
from .run.prepare import prepare_run
from .run.report_table import print_metrics
from .sweeps.rerun import supersede_changed_run
from .tracking.loggers import finish_trackers
from .tracking.run_meta import run_meta


def train(cfg: DictConfig, callbacks: Sequence[L.Callback] = ()) -> dict[str, Any]:
    """Fit and test one configuration; returns the content of ``metrics.json``.

    ``callbacks`` are added to the configured ones (``seglightning-tune`` adds Optuna's pruning).
    Under ``resume=auto`` a run whose ``metrics.json`` says complete is skipped, and an unfinished
    one resumed, only if its config is this one (:mod:`seglightning.sweeps.rerun`). The run dir is
    locked for the run (:mod:`seglightning.run.lock`). A stop signal or Ctrl-C at any stage ends
    the run as interrupted (:mod:`seglightning.checkpointing.stages`).
    """
    check_values(cfg)  # before the lock creates the run dir: a bad value leaves no folder behind
    run_dir = Path(cfg.run_dir).resolve()
    with run_lock(run_dir, is_rank_zero()):
        rerun = supersede_changed_run(cfg, run_dir)  # a changed config: the earlier run moves aside
        done = finished(run_dir) if cfg.resume == "auto" else None
        if done is not None:
            print(f"[seglightning] {run_dir} already complete; skipping (resume=never to rerun)")
            return done
        with stop_signals(cfg.callbacks.preemption).held() as stop:
            return _train(cfg, run_dir, stop, callbacks, rerun)


def _train(
    cfg: DictConfig, run_dir: Path, stop: StopSignals, callbacks: Sequence[L.Callback], rerun: dict[str, Any] | None
) -> dict[str, Any]:
    exit_code = int(cfg.callbacks.preemption.exit_code)
    run = None
    try:
        run = prepare_run(cfg, callbacks, stop)
        with finish_trackers(run.loggers):  # one tracker run per job, ended even when the job fails
            check_stop(stop, run_dir, exit_code)  # a signal during set-up
            write_run_files(cfg, run_dir, run_meta(cfg.seed, run.ckpt_path))
            if rerun:
                add_run_meta(run_dir, rerun=rerun)
            try:
                result = fit_and_test(run)
            except SIGTERMException as error:  # Lightning's handler saw our SIGTERM first
                raise from_lightning(error, stop, run_dir, exit_code) from None
            stop.stage = "report"
        check_stop(stop, run_dir, exit_code)  # a signal while the trackers closed
    except Interrupted as stopped:  # last.ckpt is written; record, requeue, exit
        record_interruption(run_dir, stopped)
        requeue(stopped, cfg.callbacks.preemption.requeue, run.trainer.global_rank if run else 0)
    fit_seconds = result.pop("fit_seconds")
    if run.trainer.is_global_zero:
        write_metrics(run_dir, result)
        add_run_meta(run_dir, fit_seconds=fit_seconds)
        print_metrics(result, run.module.hparams.class_names)
        print(f"[seglightning] run directory: {run_dir}  (training took {fit_seconds:.1f} s)")
    return result


def in_multirun() -> bool:
    """True inside a job of a Hydra multirun (any launcher)."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        return HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:  # not inside a Hydra app
        return False


def train_job(cfg: DictConfig) -> dict[str, Any]:
    """The ``seglightning-train`` task. A failing run is recorded in its ``metrics.json`` (status
    failed, the error). A single run then raises (non-zero exit); in a multirun the other jobs go on
    (the sweep summary lists it, and a rerun of the sweep retries it). A run stopped by a signal
    exits for its requeue (:mod:`seglightning.checkpointing.requeue`), a multirun after writing its
    summary. A run dir another process holds is an error; a multirun skips that job."""
    try:
        return train(cfg)
    except Interrupted:
        if in_multirun():
            from .sweeps.hydra_callback import summarize_interrupted_sweep

            summarize_interrupted_sweep()
        raise
    except RunLocked as locked:
        if not in_multirun():
            raise
        print(f"[seglightning] skipping this job: {locked}")
        return {"status": RunStatus.SKIPPED, "reason": str(locked)}
    except Exception as error:
        multirun = in_multirun()
        result = record_failure(Path(cfg.run_dir).resolve(), error, log=multirun)
        if not multirun:
            raise
        return result
