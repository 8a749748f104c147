"""The shared training loop against a bare PyTorch loop on the default ``make train`` workload.

Both run ``--epochs`` epochs of the default config (synthetic 64x64 shapes, U-Net base 16,
CE + Dice, AdamW + poly, the datamodule's DataLoaders, ``torch_threads`` as configured):

- **loop**: ``seglightning.train.train`` (``test_after_fit=false``), i.e. ``trainer.fit`` with the
  default callbacks (checkpointing, metric history, overlays, per-class report, rich progress bar,
  learning-rate monitor) and loggers (CSV + TensorBoard), start-up and end of fit included;
- **bare**: the same model, loss, optimiser, scheduler and DataLoaders in a plain loop (forward,
  loss, backward, step, scheduler step; per epoch the validation pass with the same metric suite
  and a ``torch.save`` of model + optimiser).

Side by side, step by step: this shared 2-core machine drifts by +-10 % within a minute, more
than the 3 % to be measured (alternating whole epochs still left +-5 % between runs), so the two
loops alternate inside one run: beside each of the shared loop's training steps (before the even
batches, after the odd ones) a callback runs one training step of the bare loop (its own model,
optimiser and loaders, the RNG state put back afterwards) and times it, and likewise the bare
epoch's validation and checkpoint beside the shared one's. The shared loop's time is
``fit_seconds`` minus the bare loop's. Speed = bare seconds / loop seconds (goal >= 0.97), the
median over ``--repeats`` runs after a one-epoch warm-up run.
Run: ``python -m benchmarks.loop [--epochs 6] [--repeats 5] [overrides ...]``, e.g.
``trainer=gpu`` (``benchmarks/gpu.py`` does that on CUDA).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
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


class BareLoop:
    """The same work as the shared loop in plain PyTorch, driven a piece at a time by the shared
    loop's callback: :meth:`start_epoch`, :meth:`train_step` per batch, :meth:`validate_and_save`."""

    def __init__(self, cfg: Any, out_dir: Path):
        from omegaconf import OmegaConf

        from seglightning.data import build_datamodule
        from seglightning.optim import build_optimizer, build_scheduler
        from seglightning.run.prepare import build_module

        dm = build_datamodule(**OmegaConf.to_container(cfg.data, resolve=True), seed=cfg.seed)
        module = build_module(cfg, dm)
        dm.setup("fit")
        self.device = torch.device("cuda" if torch.cuda.is_available() and cfg.trainer.accelerator != "cpu" else "cpu")
        self.bf16 = "bf16" in str(cfg.trainer.precision)
        self.channels_last = bool(cfg.module.channels_last)
        self.model, self.loss_fn = module.model.to(self.device), module.loss.to(self.device)
        self.metrics = module.metrics["val"].to(self.device)
        self.train_loader, self.val_loader = dm.train_dataloader(), dm.val_dataloader()
        self.optimizer = build_optimizer(self.model.parameters(), **OmegaConf.to_container(cfg.optim, resolve=True))
        total = cfg.trainer.max_epochs * len(self.train_loader)
        sched = OmegaConf.to_container(cfg.scheduler, resolve=True)
        self.scheduler = build_scheduler(self.optimizer, total, **sched)["scheduler"]
        self.out_dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)

    def _step(self, batch: dict[str, Any]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        from seglightning.modules.semantic import batch_extras

        image = batch["image"].to(self.device, non_blocking=True)
        if self.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        batch = {k: v.to(self.device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            out = self.model(image)
            aux = {k: v for k, v in out.items() if k != "logits"}
            return out, self.loss_fn(out["logits"], batch["mask"], **aux, **batch_extras(batch))

    def start_epoch(self, epoch: int) -> None:
        self.model.train()
        self.loss_fn.set_epoch(epoch)
        self._batches = iter(self.train_loader)

    def train_step(self) -> None:
        """The next batch of the epoch: load, forward, loss, backward, optimiser and scheduler step."""
        _, loss = self._step(next(self._batches))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()

    def validate_and_save(self) -> None:
        """The epoch's end: validation with the metric suite, then a checkpoint of model + optimiser."""
        self.model.eval()
        with torch.no_grad():
            for batch in self.val_loader:
                out, loss = self._step(batch)
                self.metrics.update(out["logits"].argmax(1), batch["mask"].to(self.device), loss)
        self.metrics.compute("val")
        self.metrics.reset()
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}
        torch.save(state, self.out_dir / "last.ckpt")


def _interleaved(bare: BareLoop) -> Any:
    """A callback running the bare loop step by step beside the shared loop: one bare training step
    beside each shared one (before the even batches, after the odd ones, so neither loop always goes
    first), the bare epoch's validation and checkpoint beside the shared one's (before it in even
    epochs, after it in odd ones). Each piece is timed, with the process's RNG state put back
    afterwards so the shared loop trains as it would alone."""
    import lightning as L

    class Interleave(L.Callback):
        def __init__(self) -> None:
            self.seconds = 0.0
            self.steps = 0
            self.validated: list[int] = []  # the epochs the bare loop validated

        def _timed(self, work: Any) -> None:
            states = random.getstate(), np.random.get_state()
            cuda = bare.device.type == "cuda"
            with torch.random.fork_rng(devices=[torch.cuda.current_device()] if cuda else []):
                if cuda:
                    torch.cuda.synchronize()  # the shared loop's queued work is the shared loop's time
                started = time.perf_counter()
                work()
                if cuda:
                    torch.cuda.synchronize()
                self.seconds += time.perf_counter() - started
            random.setstate(states[0])
            np.random.set_state(states[1])

        def _train_step(self) -> None:
            self._timed(bare.train_step)
            self.steps += 1

        def _validate(self, epoch: int) -> None:
            if epoch not in self.validated:
                self._timed(bare.validate_and_save)
                self.validated.append(epoch)

        def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
            self._timed(lambda: bare.start_epoch(trainer.current_epoch))

        def on_train_batch_start(
            self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
        ) -> None:
            if batch_idx % 2 == 0:
                self._train_step()

        def on_train_batch_end(
            self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
        ) -> None:
            if batch_idx % 2 == 1:
                self._train_step()

        def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
            if not trainer.sanity_checking and trainer.current_epoch % 2 == 0:
                self._validate(trainer.current_epoch)

        def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
            self._validate(trainer.current_epoch)  # odd epochs, and epochs the shared loop did not validate

    return Interleave()


def side_by_side(cfg: Any) -> tuple[float, float]:
    """``(bare seconds, shared loop seconds)`` of ``cfg.trainer.max_epochs`` epochs each, interleaved."""
    import lightning as L

    from seglightning import train as train_mod
    from seglightning.run.prepare import pin_torch_threads

    pin_torch_threads(cfg)
    L.seed_everything(cfg.seed, workers=True)
    interleave = _interleaved(BareLoop(cfg, Path(cfg.run_dir) / "bare"))
    train_mod.train(cfg, callbacks=[interleave])
    fit_seconds = float(json.loads((Path(cfg.run_dir) / "run_meta.json").read_text())["fit_seconds"])
    bare = interleave.seconds  # all of the bare loop ran inside the shared loop's fit
    return bare, fit_seconds - bare


def measure(overrides: list[str], epochs: int, repeats: int) -> dict[str, Any]:
    """One one-epoch warm-up run, then ``repeats`` interleaved runs of ``epochs`` epochs."""
    times: dict[str, list[float]] = {"bare": [], "loop": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats + 1):
            cfg = compose([f"trainer.max_epochs={epochs if i else 1}", *overrides], Path(tmp) / f"run{i}")
            bare, loop = side_by_side(cfg)
            if i:
                times["bare"].append(bare)
                times["loop"].append(loop)
    ratios = [b / s for b, s in zip(times["bare"], times["loop"])]
    return {
        "overrides": overrides,
        "epochs": epochs,
        "bare": statistics.median(times["bare"]),
        "loop": statistics.median(times["loop"]),
        "speed": statistics.median(ratios),
        "ratios": ratios,
        "all": times,
    }


def report(result: dict[str, Any]) -> str:
    extra = " ".join(result["overrides"]) or "default config"
    runs = ", ".join(f"{r:.3f}" for r in result["ratios"])
    return "\n".join([
        f"## Shared loop vs a bare PyTorch loop ({extra}, {result['epochs']} epochs, "
        f"alternating step by step, {len(result['ratios'])} runs)", "",
        "| bare loop s (median) | shared loop s (median) | speed: median of the runs' bare / loop (goal >= 0.97) "
        "| each run |",
        "|---:|---:|---:|---|",
        f"| {result['bare']:.2f} | {result['loop']:.2f} | {result['speed']:.3f} | {runs} |",
    ])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6, help="default: the make train workload's 6")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("overrides", nargs="*", help="config overrides for both loops")
    args = parser.parse_args(argv)
    result = measure(args.overrides, args.epochs, args.repeats)
    print(report(result))
    return result


if __name__ == "__main__":
    main()
