"""``seglightning-train``: compose data x model x loss from config, fit, test, write the run dir.

``train`` runs three named steps that ``seglightning-tune`` and the sweeps reuse:
:func:`prepare_run` (seed, data, loop, callbacks, trackers), :func:`fit_and_test`, and the run
directory's writers in :mod:`seglightning.run_dir`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import (
    LearningRateMonitor,
    ModelCheckpoint,
    RichProgressBar,
    TQDMProgressBar,
)
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf, open_dict

from .callbacks import ConfigInCheckpoint, MetricHistory
from .checkpointing import Interrupted, StopSignals, build_last_checkpoint, requeue, trainer_plugins
from .checkpointing.recovery import check_fits, checked_resume, remove_stale_temporaries
from .checkpointing.run_relative import RunRelativeCheckpoint
from .checkpointing.stages import SignalStages, check_stop, from_lightning, stop_signals
from .config_check import check_values
from .data import build_datamodule
from .losses.spec import loss_label
from .modules import SegmentationLoop, loop_class
from .modules.nonfinite import NonFiniteGuard
from .out_of_memory import explain_out_of_memory
from .redact import redact, redact_hyperparameters
from .report_table import print_metrics
from .run_cost import RunCost
from .run_dir import (
    RunStatus,
    add_run_meta,
    checkpoint_step,
    finished,
    is_rank_zero,
    record_failure,
    record_interruption,
    resume_checkpoint,
    write_metrics,
    write_run_files,
)
from .run_lock import RunLocked, run_lock
from .sweeps.rerun import supersede_changed_run
from .tracking.loggers import build_loggers, finish_trackers
from .tracking.media_callback import TrackerMedia
from .tracking.predictions import SavePredictions


def build_module(cfg: DictConfig, dm: Any) -> SegmentationLoop:
    """The loop for ``cfg.model``: the semantic loop, or the instance loop (Mask R-CNN)."""
    options = OmegaConf.to_container(cfg.module, resolve=True)
    guard = NonFiniteGuard(options.pop("nonfinite", "raise"), options.pop("max_nonfinite_skips", 10))
    module = loop_class(cfg.model.name)(
        model=OmegaConf.to_container(cfg.model, resolve=True),
        loss=OmegaConf.to_container(cfg.loss, resolve=True),
        num_classes=dm.num_classes,
        ignore_index=dm.ignore_index,
        class_names=dm.class_names,
        palette=dm.palette,
        optim=OmegaConf.to_container(cfg.optim, resolve=True),
        scheduler=OmegaConf.to_container(cfg.scheduler, resolve=True),
        class_frequency=dm.class_frequency,
        **options,
    )
    module.nonfinite = guard
    dm.request_extras(module.requires)
    if module.requires_instance_ids:  # module.metrics has "objects"
        dm.request_instance_ids()
    return module


def build_callbacks(
    cfg: DictConfig, run_dir: Path, config: dict[str, Any], stop: StopSignals | None = None
) -> tuple[list[L.Callback], MetricHistory, ModelCheckpoint]:
    cb = cfg.callbacks
    history = MetricHistory()
    checkpoint = RunRelativeCheckpoint(  # best.ckpt (paths relative to the run); last.ckpt is LastCheckpoint's
        dirpath=run_dir / "checkpoints",
        filename="best",
        monitor=cb.checkpoint.monitor,
        mode=cb.checkpoint.mode,
        save_last=False,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    last = build_last_checkpoint(run_dir, cb.checkpoint, cb.preemption, best=checkpoint, stop=stop)  # last.ckpt
    callbacks: list[L.Callback] = [RunCost(), history, ConfigInCheckpoint(config), checkpoint, last]
    if stop is not None:  # the run's signals outside the training loop (test pass, handlers)
        callbacks.append(SignalStages(stop, run_dir, int(cb.preemption.exit_code)))
    callbacks.append(TrackerMedia(run_dir, cb.overlays.num_images, cb.overlays.every_n_epochs, seed=cfg.seed))
    predictions = cb.get("predictions") or {}
    callbacks.append(SavePredictions(run_dir, predictions.get("num_images", 16), predictions.get("selection_seed", 0)))
    if cb.progress_bar == "rich":
        callbacks.append(RichProgressBar())
    elif cb.progress_bar == "tqdm":
        callbacks.append(TQDMProgressBar())
    if cb.lr_monitor:
        callbacks.append(LearningRateMonitor(logging_interval="step"))
    if cb.early_stopping:
        from lightning.pytorch.callbacks import EarlyStopping

        callbacks.append(EarlyStopping(**cb.early_stopping))
    return callbacks, history, checkpoint


def run_tags(cfg: DictConfig) -> dict[str, str]:
    """The tracker tags of a run: loss label, architecture and dataset."""
    return {
        "loss": loss_label(OmegaConf.to_container(cfg.loss, resolve=True)),
        "arch": str(cfg.model.name),
        "data": str(cfg.data.name),
    }


def pin_torch_threads(cfg: DictConfig) -> None:
    """CPU results depend on torch's intra-op thread count (how reductions are split): use
    ``torch_threads``, or record the process's count there (all cores, or a parallel launcher's
    share), so that a rerun from the saved ``config.yaml`` matches bit for bit."""
    import torch

    with open_dict(cfg):
        cfg.torch_threads = int(cfg.get("torch_threads") or torch.get_num_threads())
    torch.set_num_threads(cfg.torch_threads)


@dataclass
class PreparedRun:
    """Everything a run needs before fitting: built from the config by :func:`prepare_run`."""

    cfg: DictConfig
    run_dir: Path
    datamodule: Any
    module: SegmentationLoop
    trainer: L.Trainer
    loggers: list[Any]
    history: MetricHistory
    checkpoint: ModelCheckpoint
    ckpt_path: str | None  # the checkpoint this run resumes from
    resume_fallback: dict[str, Any] | None = None  # an unreadable last.ckpt and what was used instead


def prepare_run(
    cfg: DictConfig, callbacks: Sequence[L.Callback] = (), stop: StopSignals | None = None
) -> PreparedRun:
    """Check the values, pin threads, seed, build the data, the loop, the callbacks, the trackers and
    the trainer (``stop``: the run's stop signals, see :func:`train`)."""
    check_values(cfg)  # types, ranges, choices (seglightning/config_check.py), before any file is written
    run_dir = Path(cfg.run_dir).resolve()
    pin_torch_threads(cfg)
    L.seed_everything(cfg.seed, workers=True)
    config = redact(OmegaConf.to_container(cfg, resolve=True))
    dm = build_datamodule(**OmegaConf.to_container(cfg.data, resolve=True), seed=cfg.seed)
    module = build_module(cfg, dm)
    configured, history, checkpoint = build_callbacks(cfg, run_dir, config, stop)
    rank_zero = is_rank_zero()
    if rank_zero:
        remove_stale_temporaries(run_dir)
    ckpt_path, fallback = checked_resume(
        str(cfg.resume), resume_checkpoint(str(cfg.resume), run_dir), run_dir, rank_zero
    )
    if ckpt_path is not None:
        check_fits(ckpt_path, module, config)
    context = {
        "config": config,
        "tags": run_tags(cfg),
        "group": cfg.get("sweep_name"),
        "name": run_dir.name,
        "resume_step": checkpoint_step(ckpt_path),
    }
    loggers = build_loggers(OmegaConf.to_container(cfg.logger, resolve=True), run_dir, context)
    redact_hyperparameters(loggers)
    trainer = L.Trainer(
        **OmegaConf.to_container(cfg.trainer, resolve=True),
        logger=loggers,
        callbacks=[*configured, *callbacks],
        default_root_dir=str(run_dir),
        use_distributed_sampler=False,
        enable_progress_bar=cfg.callbacks.progress_bar != "none",
        plugins=trainer_plugins(),  # atomic checkpoint files; no second Slurm requeue handler
    )
    return PreparedRun(cfg, run_dir, dm, module, trainer, loggers, history, checkpoint, ckpt_path, fallback)


def fit_and_test(run: PreparedRun) -> dict[str, Any]:
    """Fit (resuming from ``run.ckpt_path``), then test the best checkpoint; the ``metrics.json`` content."""
    cfg, trainer = run.cfg, run.trainer
    started = time.perf_counter()
    try:
        trainer.fit(run.module, datamodule=run.datamodule, ckpt_path=run.ckpt_path)
    except torch.OutOfMemoryError as error:
        raise explain_out_of_memory(cfg, trainer.global_step, error) from error
    fit_seconds = time.perf_counter() - started
    monitor, mode = cfg.callbacks.checkpoint.monitor, cfg.callbacks.checkpoint.mode
    result: dict[str, Any] = {
        "status": RunStatus.COMPLETE,
        "monitor": monitor,
        "final": run.history.history[-1] if run.history.history else {},
        "best": run.history.best(monitor, mode) or {},
        "checkpoints": {
            "last": "checkpoints/last.ckpt",
            "best": "checkpoints/best.ckpt" if run.checkpoint.best_model_path else None,
        },
        "fit_seconds": round(fit_seconds, 2),
        "inference": run.module.inference.as_dict(),  # how val/test predictions were made
    }
    if run.resume_fallback is not None:
        result["resume_fallback"] = run.resume_fallback
    if run.module.nonfinite.policy == "skip":
        result["nonfinite_skips"] = run.module.nonfinite.skipped
    if cfg.test_after_fit:
        best = run.checkpoint.best_model_path or None
        tested = trainer.test(run.module, datamodule=run.datamodule, ckpt_path=best, verbose=False)
        result["test"] = {k: float(v) for k, v in tested[0].items()} if tested else {}
        result["test_split"] = run.datamodule.splits["test"]  # "val" where the dataset has no test split
    cost = next((cb for cb in trainer.callbacks if isinstance(cb, RunCost)), None)
    if cost is not None:
        result["cost"] = cost.summary()  # run_cost.py: times, images/s, memory peaks, device-hours
    return result


def train(cfg: DictConfig, callbacks: Sequence[L.Callback] = ()) -> dict[str, Any]:
    """Fit and test one configuration; returns the content of ``metrics.json``.

    ``callbacks`` are added to the configured ones (``seglightning-tune`` adds Optuna's pruning).
    Under ``resume=auto`` a run whose ``metrics.json`` says complete is skipped, and an unfinished
    one resumed, only if its config is this one (:mod:`seglightning.sweeps.rerun`). The run dir is
    locked for the run (:mod:`seglightning.run_lock`). A stop signal or Ctrl-C at any stage ends
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
            write_run_files(cfg, run_dir, run.ckpt_path)
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
            from .sweeps.callback import summarize_interrupted_sweep

            summarize_interrupted_sweep()
        raise
    except RunLocked as locked:
        if not in_multirun():
            raise
        print(f"[seglightning] skipping this job: {locked}")
        return {"status": "skipped", "reason": str(locked)}
    except Exception as error:
        multirun = in_multirun()
        result = record_failure(Path(cfg.run_dir).resolve(), error, log=multirun)
        if not multirun:
            raise
        return result
