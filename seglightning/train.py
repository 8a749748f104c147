"""``seglightning-train``: compose data x model x loss from config, fit, test, write the run dir.

Run directory (Hydra's output dir, DESIGN.md): ``config.yaml`` (resolved), ``overrides.yaml``,
``run_meta.json``, ``metrics.json`` (final + best + test), ``metrics.csv``,
``checkpoints/{last,best}.ckpt``, ``overlays/*.png``, ``tensorboard/``.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import yaml
from lightning.pytorch.callbacks import (
    LearningRateMonitor,
    ModelCheckpoint,
    RichProgressBar,
    TQDMProgressBar,
)
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf, open_dict

from .callbacks import ConfigInCheckpoint, MetricHistory
from .data import build_datamodule
from .modules import SegmentationLoop, loop_class
from .report_table import print_metrics
from .tracking.loggers import build_loggers, finish_trackers
from .tracking.media_callback import TrackerMedia
from .tracking.run_meta import run_meta, write_json

METRICS_FILE = "metrics.json"


def hydra_overrides() -> list[str]:
    try:
        from hydra.core.hydra_config import HydraConfig

        return list(HydraConfig.get().overrides.task)
    except ValueError:  # not inside a Hydra app (tests, notebooks)
        return []


def finished(run_dir: Path) -> dict[str, Any] | None:
    """The run's metrics if its ``metrics.json`` says it completed, else None."""
    path = run_dir / METRICS_FILE
    if not path.exists():
        return None
    result = json.loads(path.read_text())
    return result if result.get("status") == "complete" else None


def resume_checkpoint(resume: str, run_dir: Path) -> str | None:
    if resume == "never":
        return None
    if resume == "auto":
        last = run_dir / "checkpoints" / "last.ckpt"
        return str(last) if last.exists() else None
    if not Path(resume).exists():
        raise FileNotFoundError(f"resume={resume}: no such checkpoint (use resume=auto, resume=never or a .ckpt path)")
    return resume


def checkpoint_step(path: str | None) -> int | None:
    """The global step stored in a checkpoint (read without unpickling arbitrary objects)."""
    if path is None:
        return None
    import torch

    return int(torch.load(path, map_location="cpu", weights_only=True, mmap=True)["global_step"])


def build_module(cfg: DictConfig, dm: Any) -> SegmentationLoop:
    """The loop for ``cfg.model``: the semantic loop, or the instance loop (Mask R-CNN)."""
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
        **OmegaConf.to_container(cfg.module, resolve=True),
    )
    dm.request_extras(module.requires)
    return module


def build_callbacks(cfg: DictConfig, run_dir: Path, config: dict[str, Any]) -> tuple[list[L.Callback], MetricHistory, ModelCheckpoint]:
    cb = cfg.callbacks
    history = MetricHistory()
    checkpoint = ModelCheckpoint(
        dirpath=run_dir / "checkpoints", filename="best", monitor=cb.checkpoint.monitor, mode=cb.checkpoint.mode,
        save_last=True, auto_insert_metric_name=False, enable_version_counter=False,
    )
    callbacks: list[L.Callback] = [history, ConfigInCheckpoint(config), checkpoint]
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
    loss = cfg.loss
    loss_name = loss.get("name") or "+".join(str(t.get("name")) for t in loss.get("terms", []))
    return {"loss": str(loss_name), "arch": str(cfg.model.name), "data": str(cfg.data.name)}


def pin_torch_threads(cfg: DictConfig) -> None:
    """CPU results depend on torch's intra-op thread count (how reductions are split): use
    ``torch_threads``, or record the process's count there (all cores, or a parallel launcher's
    share), so that a rerun from the saved ``config.yaml`` matches bit for bit."""
    import torch

    with open_dict(cfg):
        cfg.torch_threads = int(cfg.get("torch_threads") or torch.get_num_threads())
    torch.set_num_threads(cfg.torch_threads)


def train(cfg: DictConfig, callbacks: Sequence[L.Callback] = ()) -> dict[str, Any]:
    """Fit and test one configuration; returns the content of ``metrics.json``.

    ``callbacks`` are added to the configured ones (``seglightning-tune`` adds Optuna's pruning).
    """
    run_dir = Path(cfg.run_dir).resolve()
    done = finished(run_dir) if cfg.resume == "auto" else None
    if done is not None:
        print(f"[seglightning] {run_dir} already complete; skipping (resume=never to rerun)")
        return done
    pin_torch_threads(cfg)
    L.seed_everything(cfg.seed, workers=True)
    config = OmegaConf.to_container(cfg, resolve=True)
    dm = build_datamodule(**OmegaConf.to_container(cfg.data, resolve=True), seed=cfg.seed)
    module = build_module(cfg, dm)
    configured, history, checkpoint = build_callbacks(cfg, run_dir, config)
    ckpt_path = resume_checkpoint(str(cfg.resume), run_dir)
    context = {"config": config, "tags": run_tags(cfg), "group": cfg.get("sweep_name"), "name": run_dir.name,
               "resume_step": checkpoint_step(ckpt_path)}
    loggers = build_loggers(OmegaConf.to_container(cfg.logger, resolve=True), run_dir, context)
    with finish_trackers(loggers):  # one tracker run per job, ended even when the job fails
        trainer_kwargs = OmegaConf.to_container(cfg.trainer, resolve=True)
        trainer = L.Trainer(
            **trainer_kwargs, logger=loggers, callbacks=[*configured, *callbacks], default_root_dir=str(run_dir),
            use_distributed_sampler=False, enable_progress_bar=cfg.callbacks.progress_bar != "none",
        )
        if rank_zero_only.rank == 0:
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
            (run_dir / "overrides.yaml").write_text(yaml.safe_dump(hydra_overrides()))
            write_json(run_dir / "run_meta.json", {**run_meta(cfg.seed, hydra_overrides()), "resumed_from": ckpt_path})
            write_json(run_dir / METRICS_FILE, {"status": "running"})
        started = time.perf_counter()
        trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path)
        fit_seconds = time.perf_counter() - started
        monitor, mode = cfg.callbacks.checkpoint.monitor, cfg.callbacks.checkpoint.mode
        best = history.best(monitor, mode)
        result: dict[str, Any] = {
            "status": "complete",
            "monitor": monitor,
            "final": history.history[-1] if history.history else {},
            "best": best or {},
            "checkpoints": {"last": "checkpoints/last.ckpt", "best": "checkpoints/best.ckpt" if checkpoint.best_model_path else None},
        }
        if cfg.test_after_fit:
            tested = trainer.test(module, datamodule=dm, ckpt_path="best" if checkpoint.best_model_path else None, verbose=False)
            result["test"] = {k: float(v) for k, v in tested[0].items()} if tested else {}
    if trainer.is_global_zero:
        write_json(run_dir / METRICS_FILE, result)
        meta = json.loads((run_dir / "run_meta.json").read_text())
        write_json(run_dir / "run_meta.json", {**meta, "fit_seconds": round(fit_seconds, 2)})
        print_metrics(result, module.hparams.class_names)
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


def record_failure(run_dir: Path, error: Exception) -> dict[str, Any]:
    """Write ``metrics.json`` with ``status: failed``, the error and its traceback (rank zero)."""
    result = {"status": "failed", "error": f"{type(error).__name__}: {error}",
              "traceback": "".join(traceback.format_exception(error))}
    if rank_zero_only.rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json(run_dir / METRICS_FILE, result)
    logging.getLogger(__name__).error("run %s failed: %s", run_dir, result["error"], exc_info=error)
    return result


def train_job(cfg: DictConfig) -> dict[str, Any]:
    """The ``seglightning-train`` task. A single run raises on error (non-zero exit); in a
    multirun a failing job is recorded in its ``metrics.json`` and the other jobs go on (the sweep
    summary lists it, and a rerun of the sweep retries it)."""
    if not in_multirun():
        return train(cfg)
    try:
        return train(cfg)
    except Exception as error:
        return record_failure(Path(cfg.run_dir).resolve(), error)
