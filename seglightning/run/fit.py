"""Fitting a prepared run: fit (resuming where asked), test the best checkpoint, and the content of
``metrics.json`` (:func:`fit_and_test`)."""

from __future__ import annotations

import time
from typing import Any

import torch

from .cost import RunCost
from .directory import BEST_CHECKPOINT, LAST_CHECKPOINT, RunStatus
from .out_of_memory import explain_out_of_memory
from .prepare import PreparedRun


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
            "last": LAST_CHECKPOINT.as_posix(),
            "best": BEST_CHECKPOINT.as_posix() if run.checkpoint.best_model_path else None,
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
