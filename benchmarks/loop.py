"""The shared training loop against a bare PyTorch loop on the default ``make train`` workload.

Both run ``--epochs`` epochs of the default config (synthetic 64x64 shapes, U-Net base 16,
CE + Dice, AdamW + poly, the datamodule's DataLoaders, ``torch_threads`` as configured):

- **loop**: ``seglightning.train.train`` (``test_after_fit=false``), i.e. ``trainer.fit`` with the
  default callbacks (checkpointing, metric history, overlays, rich progress bar, learning-rate
  monitor) and loggers (CSV + TensorBoard); its ``fit_seconds`` from ``run_meta.json``;
- **bare**: the same model, loss, optimiser, scheduler and DataLoaders in a plain loop (forward,
  loss, backward, step, scheduler step; per epoch the validation pass with the same metric suite
  and a ``torch.save`` of model + optimiser).

Speed = bare seconds / loop seconds (goal >= 0.97), medians over ``--repeats`` alternating rounds.
Run: ``python -m benchmarks.loop [--epochs 2] [--repeats 3] [overrides ...]``, e.g.
``trainer=gpu`` (``benchmarks/gpu.py`` does that on CUDA).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch


def compose(overrides: list[str], run_dir: Path) -> Any:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import open_dict

    from seglightning.cli import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = hydra_compose(config_name="train", overrides=["test_after_fit=false", "resume=never", *overrides])
    with open_dict(cfg):
        cfg.run_dir = str(run_dir)
    return cfg


def shared_loop(cfg: Any) -> float:
    """Seconds of ``trainer.fit`` in ``seglightning.train.train``."""
    from seglightning.train import train

    train(cfg)
    return float(json.loads((Path(cfg.run_dir) / "run_meta.json").read_text())["fit_seconds"])


def bare_loop(cfg: Any) -> float:
    """Seconds of the same work in a plain PyTorch loop (see module docs)."""
    import lightning as L
    from omegaconf import OmegaConf

    from seglightning.data import build_datamodule
    from seglightning.modules.semantic import batch_extras
    from seglightning.optim import build_optimizer, build_scheduler
    from seglightning.train import build_module, pin_torch_threads

    pin_torch_threads(cfg)
    L.seed_everything(cfg.seed, workers=True)
    dm = build_datamodule(**OmegaConf.to_container(cfg.data, resolve=True), seed=cfg.seed)
    module = build_module(cfg, dm)
    dm.setup("fit")
    device = torch.device("cuda" if torch.cuda.is_available() and cfg.trainer.accelerator != "cpu" else "cpu")
    bf16 = "bf16" in str(cfg.trainer.precision)
    model, loss_fn, metrics = module.model.to(device), module.loss.to(device), module.metrics["val"].to(device)
    channels_last = bool(cfg.module.channels_last)
    train_loader, val_loader = dm.train_dataloader(), dm.val_dataloader()
    optimizer = build_optimizer(model.parameters(), **OmegaConf.to_container(cfg.optim, resolve=True))
    total = cfg.trainer.max_epochs * len(train_loader)
    scheduler = build_scheduler(optimizer, total, **OmegaConf.to_container(cfg.scheduler, resolve=True))["scheduler"]

    def step(batch: dict[str, Any]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        image = batch["image"].to(device, non_blocking=True)
        if channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        batch = {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = model(image)
            aux = {k: v for k, v in out.items() if k != "logits"}
            return out, loss_fn(out["logits"], batch["mask"], **aux, **batch_extras(batch))

    Path(cfg.run_dir).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for epoch in range(cfg.trainer.max_epochs):
        model.train()
        loss_fn.set_epoch(epoch)
        for batch in train_loader:
            _, loss = step(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
        model.eval()
        with torch.no_grad():
            for batch in val_loader:
                out, loss = step(batch)
                metrics.update(out["logits"].argmax(1), batch["mask"].to(device), loss)
        metrics.compute("val")
        metrics.reset()
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, Path(cfg.run_dir) / "last.ckpt")
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def measure(overrides: list[str], epochs: int, repeats: int) -> dict[str, Any]:
    times: dict[str, list[float]] = {"bare": [], "loop": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats + 1):  # round 0 warms up (imports, first-call costs)
            for name, fn in (("bare", bare_loop), ("loop", shared_loop)):
                cfg = compose([f"trainer.max_epochs={epochs}", *overrides], Path(tmp) / f"{name}{i}")
                seconds = fn(cfg)
                if i:
                    times[name].append(seconds)
    bare, loop = statistics.median(times["bare"]), statistics.median(times["loop"])
    return {"overrides": overrides, "epochs": epochs, "bare": bare, "loop": loop, "speed": bare / loop, "all": times}


def report(result: dict[str, Any]) -> str:
    extra = " ".join(result["overrides"]) or "default config"
    return "\n".join([
        f"## Shared loop vs a bare PyTorch loop ({extra}, {result['epochs']} epochs, "
        f"median of {len(result['all']['loop'])})", "",
        "| bare loop s | shared loop s | speed (bare / loop, goal >= 0.97) |", "|---:|---:|---:|",
        f"| {result['bare']:.2f} | {result['loop']:.2f} | {result['speed']:.3f} |",
    ])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("overrides", nargs="*", help="config overrides for both loops")
    args = parser.parse_args(argv)
    result = measure(args.overrides, args.epochs, args.repeats)
    print(report(result))
    return result


if __name__ == "__main__":
    main()
