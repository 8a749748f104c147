"""The steps before fitting: check the values, pin threads, seed, then build the data, the
LightningModule, the callbacks, the trackers and the trainer from the config (:func:`prepare_run`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf, open_dict

from ..checkpointing import StopSignals, build_last_checkpoint, trainer_plugins
from ..checkpointing.recovery import check_fits, checked_resume, remove_stale_temporaries
from ..checkpointing.run_relative import RunRelativeCheckpoint
from ..checkpointing.stages import SignalStages
from ..config_check import check_values
from ..data import build_datamodule
from ..losses.spec import loss_label
from ..modules import BaseSegmentationModule, module_class
from ..tracking.loggers import build_loggers
from ..tracking.media_callback import TrackerMedia
from ..tracking.predictions import SavePredictions
from ..utils.redact import redact, redact_hyperparameters
from ..utils.registry import instantiate_checked, lookup
from .callbacks import ConfigInCheckpoint, MetricHistory
from .cost import RunCost
from .directory import (
    BEST_CHECKPOINT,
    checkpoint_step,
    is_rank_zero,
    resume_checkpoint,
)


def build_module(cfg: DictConfig, dm: Any) -> BaseSegmentationModule:
    """The loop for ``cfg.model``: the semantic loop, or the instance loop (Mask R-CNN); ``module.*``
    (the non-finite guard's settings included) are its constructor arguments, saved with it."""
    module = module_class(cfg.model.name)(
        model=OmegaConf.to_container(cfg.model, resolve=True),
        loss=OmegaConf.to_container(cfg.loss, resolve=True),
        num_classes=dm.num_classes,
        ignore_index=dm.ignore_index,
        class_names=dm.class_names,
        palette=dm.palette,
        optim=OmegaConf.to_container(cfg.optim, resolve=True),
        scheduler=OmegaConf.to_container(cfg.scheduler, resolve=True),
        class_frequency=dm.class_frequency,
        **OmegaConf.to_container(cfg.module, resolve=True),
    )
    dm.request_extras(module.requires)
    if module.requires_instance_ids:  # module.metrics has "objects"
        dm.request_instance_ids()
    return module


def switched(key: str, value: Any, entry: dict[str, Any]) -> dict[str, Any] | None:
    """The ``_target_`` spec that ``callbacks.<key>=value`` picks from its ``callbacks.optional``
    ``entry``: the choice it names (``progress_bar=rich``), else the entry itself when ``value`` is
    true, with ``value``'s arguments when it is a mapping (``early_stopping``); None: false, null, none."""
    if value is None or value is False or value == "none":
        return None
    if "_target_" not in entry:
        return lookup(entry, value, "choice", f"callbacks.{key}")
    return {**entry, **value} if isinstance(value, Mapping) else entry


def optional_callbacks(cb: DictConfig) -> list[L.Callback]:
    """The Lightning callbacks a user picks (``conf/callbacks/default.yaml``): those the switches of
    ``callbacks.optional`` turn on, then every entry of ``callbacks.extra``."""
    settings = OmegaConf.to_container(cb, resolve=True)
    specs = {f"callbacks.{k}": switched(k, settings.get(k), entry) for k, entry in settings["optional"].items()}
    specs.update({f"callbacks.extra.{k}": spec for k, spec in (settings.get("extra") or {}).items()})
    return [instantiate_checked(spec, L.Callback, key) for key, spec in specs.items() if spec is not None]


def build_callbacks(
    cfg: DictConfig, run_dir: Path, config: dict[str, Any], stop: StopSignals | None = None
) -> tuple[list[L.Callback], MetricHistory, ModelCheckpoint]:
    cb = cfg.callbacks
    history = MetricHistory()
    checkpoint = RunRelativeCheckpoint(  # best.ckpt (paths relative to the run); last.ckpt is LastCheckpoint's
        dirpath=run_dir / BEST_CHECKPOINT.parent,
        filename=BEST_CHECKPOINT.stem,
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
    callbacks += optional_callbacks(cb)
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

    with open_dict(cfg):
        cfg.torch_threads = int(cfg.get("torch_threads") or torch.get_num_threads())
    torch.set_num_threads(cfg.torch_threads)


@dataclass
class PreparedRun:
    """Everything a run needs before fitting: built from the config by :func:`prepare_run`."""

    cfg: DictConfig
    run_dir: Path
    datamodule: Any
    module: BaseSegmentationModule
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
