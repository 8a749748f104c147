"""``RunCost``: what a run cost, recorded in ``metrics.json`` under ``cost``.

- ``fit_seconds``: wall time of ``trainer.fit``; ``val_seconds`` its validation passes (sanity
  check included) and ``train_seconds`` the rest (training steps, checkpoints, callbacks);
  ``test_seconds`` the test pass after fit; ``wall_seconds`` = fit + test.
- ``train_images``, ``eval_images`` (validation + test) and their images per second
  (``train_images_per_second`` = train images / train seconds; ``eval_images_per_second`` = eval
  images / (validation + test seconds)); images of every process (a batch counts world-size times).
- ``peak_host_memory_mb``: the peak resident memory of the process tree (this process and its
  children, e.g. data-loader workers), sampled at batch ends (at most every 2 s) and at the end of
  each pass, and never below the kernel's own peak RSS of this process.
- ``peak_device_memory_mb``: ``torch.cuda.max_memory_allocated`` (null on CPU).
- ``device`` (name) and ``device_count`` (devices × nodes); ``device_hours`` = wall_seconds ×
  device_count / 3600.
- ``segments``: how many processes the run took (1 + resumes).

A resumed run continues the totals: the state travels in every checkpoint (the callback's
``state_dict``), so the segments' times and images are summed and the peaks are the maxima. Work
done after the last checkpoint of an interrupted segment is not counted (it is redone, and counted,
by the next segment).
"""

from __future__ import annotations

import os
import platform
import resource
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch

MB = 1024 * 1024
SAMPLE_EVERY = 2.0  # seconds between two samples of the process tree's memory
ADDITIVE = ("fit_seconds", "val_seconds", "test_seconds", "train_images", "val_images", "test_images", "segments")
PEAKS = ("peak_host_bytes", "peak_device_bytes")


def _proc_tree_rss() -> int:
    """Resident bytes of this process and its descendants, from /proc (Linux without psutil)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = {os.getpid()}, [os.getpid()]
    while frontier:
        pid = frontier.pop()
        children = [c for c, p in parents.items() if p == pid and c not in tree]
        tree.update(children)
        frontier += children
    page, total = os.sysconf("SC_PAGE_SIZE"), 0
    for pid in tree:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
    return total


def process_tree_rss() -> int:
    """Resident bytes of this process and all its descendants (psutil if installed, else /proc)."""
    try:
        import psutil
    except ImportError:
        return _proc_tree_rss() if Path("/proc/self/statm").exists() else 0
    me = psutil.Process()
    total = me.memory_info().rss
    for child in me.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:  # exited in between
            continue
    return total


def own_peak_rss() -> int:
    """The kernel's peak resident size of this process (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if platform.system() == "Darwin" else int(peak) * 1024


class RunCost(L.Callback):
    """Times, throughput and memory peaks of a run; :meth:`summary` is ``metrics.json["cost"]``."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = dict.fromkeys(ADDITIVE, 0) | dict.fromkeys(PEAKS, 0)
        self.device, self.device_count = "cpu", 1
        self._cuda: torch.device | None = None
        self._stage: str | None = None
        self._started: dict[str, float] = {}
        self._last_sample = 0.0

    # -- what is running ------------------------------------------------------------------
    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._stage = stage
        device = pl_module.device if pl_module.device.type != "cpu" else trainer.strategy.root_device
        self.device_count = int(trainer.num_devices) * int(trainer.num_nodes)
        if device.type == "cuda":
            self._cuda = device
            self.device = torch.cuda.get_device_name(device)
        else:
            self._cuda = None
            self.device = device.type if device.type != "cpu" else f"cpu ({platform.processor() or platform.machine()})"

    def _start(self, key: str) -> None:
        self._started[key] = time.perf_counter()

    def _elapsed(self, key: str) -> float:
        start = self._started.get(key)
        return 0.0 if start is None else time.perf_counter() - start

    def _stop(self, key: str) -> None:
        self.totals[key] += self._elapsed(key)
        self._started.pop(key, None)
        self._sample(force=True)

    def _sample(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_sample < SAMPLE_EVERY:
            return
        self._last_sample = now
        host = max(process_tree_rss(), own_peak_rss())
        self.totals["peak_host_bytes"] = max(self.totals["peak_host_bytes"], host)
        if self._cuda is not None:
            device = torch.cuda.max_memory_allocated(self._cuda)
            self.totals["peak_device_bytes"] = max(self.totals["peak_device_bytes"], device)

    @staticmethod
    def _images(trainer: L.Trainer, batch: Any) -> int:
        image = batch.get("image") if isinstance(batch, dict) else None
        return 0 if image is None else int(len(image)) * int(trainer.world_size)

    # -- fit ------------------------------------------------------------------------------
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.totals["segments"] += 1
        self._start("fit_seconds")

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._stop("fit_seconds")

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self.totals["train_images"] += self._images(trainer, batch)
        self._sample()

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start("val_seconds")

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._stop("val_seconds")

    def on_validation_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                                batch_idx: int, dataloader_idx: int = 0) -> None:
        self.totals["val_images"] += self._images(trainer, batch)
        self._sample()

    # -- test -----------------------------------------------------------------------------
    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start("test_seconds")

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._stop("test_seconds")

    def on_test_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                          batch_idx: int, dataloader_idx: int = 0) -> None:
        self.totals["test_images"] += self._images(trainer, batch)
        self._sample()

    # -- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The totals up to now (an open fit or validation counted up to this moment)."""
        self._sample(force=True)
        totals = dict(self.totals)
        for key in self._started:
            totals[key] += self._elapsed(key)
        return {"totals": totals}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue a resumed fit's totals; a test loading the best checkpoint keeps this run's own."""
        if self._stage != "fit":
            return
        saved = state.get("totals", {})
        for key in ADDITIVE:
            self.totals[key] += float(saved.get(key, 0))
        for key in PEAKS:
            self.totals[key] = max(self.totals[key], float(saved.get(key, 0)))

    # -- the record -----------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """``metrics.json["cost"]`` (module docstring)."""
        t = self.totals
        fit, val, test = t["fit_seconds"], t["val_seconds"], t["test_seconds"]
        train = max(fit - val, 0.0)
        eval_seconds, eval_images = val + test, t["val_images"] + t["test_images"]
        wall = fit + test

        def rate(images: float, seconds: float) -> float | None:
            return round(images / seconds, 3) if seconds > 0 and images > 0 else None

        return {
            "wall_seconds": round(wall, 3),
            "fit_seconds": round(fit, 3),
            "train_seconds": round(train, 3),
            "val_seconds": round(val, 3),
            "test_seconds": round(test, 3),
            "train_images": int(t["train_images"]),
            "eval_images": int(eval_images),
            "train_images_per_second": rate(t["train_images"], train),
            "eval_images_per_second": rate(eval_images, eval_seconds),
            "peak_host_memory_mb": round(t["peak_host_bytes"] / MB, 1),
            "peak_device_memory_mb": round(t["peak_device_bytes"] / MB, 1) if self._cuda is not None else None,
            "device": self.device,
            "device_count": self.device_count,
            "device_hours": round(wall * self.device_count / 3600, 6),
            "segments": int(t["segments"]),
        }
