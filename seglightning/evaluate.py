"""``seglightning-eval ckpt=PATH [data=<name> data.root=...] [split=val|test] [inference.mode=slide ...]``.

Evaluates a checkpoint on a split with the same metric suite as training, prints the table and
writes ``<output>/metrics.json``, ``<output>/per_class.csv``, ``<output>/per_image.csv``,
``<output>/confusion_matrix.png`` and ``<output>/reliability.png`` (with the calibration family): the
same per-class table as a training run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from omegaconf import DictConfig, OmegaConf

from .checkpointing.load_run import load_module, stored_config
from .data import build_datamodule
from .run.directory import METRICS_FILE, write_json
from .run.report_table import print_metrics
from .tracking.media import class_report, per_image_table


def evaluate(cfg: DictConfig) -> dict[str, float]:
    if cfg.split not in ("val", "test"):
        raise ValueError(f"split={cfg.split}: choose val or test")
    stored = stored_config(cfg.ckpt) or {}
    if cfg.get("data"):
        data_cfg = OmegaConf.to_container(cfg.data, resolve=True)
    elif "data" in stored:
        data_cfg = stored["data"]
    else:
        raise ValueError(
            f"ckpt={cfg.ckpt} was not written by seglightning-train (no stored config); pass data=<name> explicitly"
        )
    module = load_module(cfg.ckpt, inference=OmegaConf.to_container(cfg.inference, resolve=True))
    dm = build_datamodule(**data_cfg, seed=stored.get("seed", 0))
    if dm.num_classes != module.hparams.num_classes:
        raise ValueError(
            f"data '{data_cfg['name']}' has {dm.num_classes} classes but the checkpoint {cfg.ckpt} "
            f"was trained with {module.hparams.num_classes}"
        )
    dm.request_extras(module.requires)
    if getattr(module, "requires_instance_ids", False):  # module.metrics has "objects"
        dm.request_instance_ids()
    trainer_kwargs: dict[str, Any] = OmegaConf.to_container(cfg.trainer, resolve=True)
    trainer_kwargs.pop("max_epochs", None)
    out = Path(cfg.output)
    trainer = L.Trainer(
        **trainer_kwargs,
        logger=False,
        use_distributed_sampler=False,
        enable_progress_bar=False,
        callbacks=[_ClassReportWriter(out, cfg.split)],
    )
    run = trainer.validate if cfg.split == "val" else trainer.test
    metrics = {k: float(v) for k, v in run(module, datamodule=dm, verbose=False)[0].items()}
    out.mkdir(parents=True, exist_ok=True)
    write_json(
        out / METRICS_FILE,
        {
            "ckpt": str(Path(cfg.ckpt).resolve()),
            "split": cfg.split,
            "data": data_cfg["name"],
            "inference": module.inference.as_dict(),
            "metrics": metrics,
        },
    )
    print_metrics({"final" if cfg.split == "val" else "test": metrics}, module.hparams.class_names)
    print(
        f"[seglightning] evaluated split={cfg.split} of data={data_cfg['name']} with inference "
        f"{_describe(module.inference.as_dict())}; evaluation written to {out}"
    )
    return metrics


def _describe(inference: dict[str, Any]) -> str:
    """``mode=slide crop=[64, 64] ...``: the inference keys that apply to the mode."""
    keys = ["mode", *(["crop", "stride"] if inference["mode"] == "slide" else []), "scales", "flip"]
    return " ".join(f"{k}={inference[k]}" for k in keys)


class _ClassReportWriter(L.Callback):
    """Writes the per-class and per-image tables of the pass on rank zero, in the process that ran it (also under
    ``ddp_spawn``, whose workers hold the metric state); ``on_*_end`` runs after the module's
    epoch-end hook took the snapshot."""

    def __init__(self, out: Path, split: str):
        self.out, self.split = out, split

    def _write(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            class_report(pl_module.metrics[self.split].last, self.out)
            per_image_table(pl_module.metrics[self.split].last, self.out, self.split)

    on_validation_end = on_test_end = _write
