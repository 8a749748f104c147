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
from omegaconf import DictConfig, OmegaConf, open_dict

from .callbacks import ConfigInCheckpoint, MetricHistory
from .checkpointing import Interrupted, build_last_checkpoint, requeue, trainer_plugins
from .data import build_datamodule
from .losses.spec import loss_label
from .modules import SegmentationLoop, loop_class
from .modules.nonfinite import NonFiniteGuard
from .out_of_memory import explain_out_of_memory
from .report_table import print_metrics
from .run_dir import (
    add_run_meta,
    checkpoint_step,
    finished,
    record_failure,
    record_interruption,
    resume_checkpoint,
    write_metrics,
    write_run_files,
)
from .tracking.loggers import build_loggers, finish_trackers
from .tracking.media_callback import TrackerMedia


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
    cfg: DictConfig, run_dir: Path, config: dict[str, Any]
) -> tuple[list[L.Callback], MetricHistory, ModelCheckpoint]:
    cb = cfg.callbacks
    history = MetricHistory()
    checkpoint = ModelCheckpoint(  # best.ckpt; every last.ckpt is LastCheckpoint's
        dirpath=run_dir / "checkpoints",
        filename="best",
        monitor=cb.checkpoint.monitor,
        mode=cb.checkpoint.mode,
        save_last=False,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    last = build_last_checkpoint(run_dir, cb.checkpoint, cb.preemption, best=checkpoint)  # last.ckpt, stop signals
    callbacks: list[L.Callback] = [history, ConfigInCheckpoint(config), checkpoint, last]
    callbacks.append(TrackerMedia(run_dir, cb.overlays.num_images, cb.overlays.every_n_epochs, seed=cfg.seed))
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


def prepare_run(cfg: DictConfig, callbacks: Sequence[L.Callback] = ()) -> PreparedRun:
    """Pin threads, seed, build the data, the loop, the callbacks, the trackers and the trainer."""
    run_dir = Path(cfg.run_dir).resolve()
    pin_torch_threads(cfg)
    L.seed_everything(cfg.seed, workers=True)
    config = OmegaConf.to_container(cfg, resolve=True)
    dm = build_datamodule(**OmegaConf.to_container(cfg.data, resolve=True), seed=cfg.seed)
    module = build_module(cfg, dm)
    configured, history, checkpoint = build_callbacks(cfg, run_dir, config)
    ckpt_path = resume_checkpoint(str(cfg.resume), run_dir)
    context = {
        "config": config,
        "tags": run_tags(cfg),
        "group": cfg.get("sweep_name"),
        "name": run_dir.name,
        "resume_step": checkpoint_step(ckpt_path),
    }
    loggers = build_loggers(OmegaConf.to_container(cfg.logger, resolve=True), run_dir, context)
    trainer = L.Trainer(
        **OmegaConf.to_container(cfg.trainer, resolve=True),
        logger=loggers,
        callbacks=[*configured, *callbacks],
        default_root_dir=str(run_dir),
        use_distributed_sampler=False,
        enable_progress_bar=cfg.callbacks.progress_bar != "none",
        plugins=trainer_plugins(),  # atomic checkpoint files; no second Slurm requeue handler
    )
    return PreparedRun(cfg, run_dir, dm, module, trainer, loggers, history, checkpoint, ckpt_path)


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
        "status": "complete",
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
    if run.module.nonfinite.policy == "skip":
        result["nonfinite_skips"] = run.module.nonfinite.skipped
    if cfg.test_after_fit:
        best = run.checkpoint.best_model_path or None
        tested = trainer.test(run.module, datamodule=run.datamodule, ckpt_path=best, verbose=False)
        result["test"] = {k: float(v) for k, v in tested[0].items()} if tested else {}
    return result


def train(cfg: DictConfig, callbacks: Sequence[L.Callback] = ()) -> dict[str, Any]:
    """Fit and test one configuration; returns the content of ``metrics.json``.

    ``callbacks`` are added to the configured ones (``seglightning-tune`` adds Optuna's pruning).
    A run whose ``metrics.json`` says complete is skipped under ``resume=auto``.
    """
    run_dir = Path(cfg.run_dir).resolve()
    done = finished(run_dir) if cfg.resume == "auto" else None
    if done is not None:
        print(f"[seglightning] {run_dir} already complete; skipping (resume=never to rerun)")
        return done
    run = prepare_run(cfg, callbacks)
    try:
        with finish_trackers(run.loggers):  # one tracker run per job, ended even when the job fails
            write_run_files(cfg, run_dir, run.ckpt_path)
            result = fit_and_test(run)
    except Interrupted as stop:  # a stop signal: last.ckpt is written; record, requeue, exit
        record_interruption(run_dir, stop)
        requeue(stop, cfg.callbacks.preemption.requeue, run.trainer.global_rank)
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
    exits for its requeue (:mod:`seglightning.checkpointing.requeue`)."""
    try:
        return train(cfg)
    except Exception as error:
        multirun = in_multirun()
        result = record_failure(Path(cfg.run_dir).resolve(), error, log=multirun)
        if not multirun:
            raise
        return result
