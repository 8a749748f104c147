"""Stop signals at every stage of a run, not only inside the training loop.

:class:`~.last_checkpoint.LastCheckpoint` stops training at a safe point. Around it:

- ``setup`` (data, model, trackers) and ``report`` (closing the trackers, after the test pass):
  :func:`check_stop` raises :class:`~.signals.Interrupted` once the stage is over;
- ``validation``: the run stops at the end of the epoch, after validation (``last.ckpt`` there);
- ``test``: :class:`SignalStages` stops the test pass at its next batch; ``last.ckpt`` is the
  finished fit's, so a rerun only repeats the test pass.

:class:`SignalStages` also puts seglightning's handlers back each time Lightning has installed its
own SIGTERM handler (at the start of ``fit`` and ``test``): Lightning's raises ``SIGTERMException``
(a clean exit 0) instead of saving. A SIGTERM inside that short window is still caught:
:func:`from_lightning` turns the exception into :class:`~.signals.Interrupted`.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import lightning as L

from ..run.directory import LAST_CHECKPOINT
from ..utils.distributed import any_rank
from .signals import Interrupted, StopSignals, parse_signals


def stop_signals(preemption: Any) -> StopSignals:
    """The run's stop signals: ``callbacks.preemption.signals`` and always SIGINT (Ctrl-C)."""
    names = [str(s) for s in preemption.get("signals") or []]
    if signal.SIGINT not in parse_signals(names):
        names.append("SIGINT")
    return StopSignals(names)


def interruption(stop: StopSignals, run_dir: Path, exit_code: int) -> Interrupted:
    """:class:`Interrupted` at the run dir's ``last.ckpt`` (its step and epoch; none before one exists)."""
    last = Path(run_dir) / LAST_CHECKPOINT
    step = epoch = 0
    if last.exists():
        import torch

        state = torch.load(last, map_location="cpu", weights_only=True, mmap=True)
        step, epoch = int(state["global_step"]), int(state["epoch"])
    name = stop.received.name if stop.received is not None else "a signal to another rank"
    return Interrupted(
        name, step, epoch, str(last) if last.exists() else None, stop.exit_code(exit_code), stop
    )


def check_stop(stop: StopSignals, run_dir: Path, exit_code: int) -> None:
    """Raise :class:`Interrupted` if a stop signal has arrived (between Lightning's loops)."""
    if stop.received is not None:
        raise interruption(stop, run_dir, exit_code)


def from_lightning(error: BaseException, stop: StopSignals, run_dir: Path, exit_code: int) -> Interrupted:
    """Lightning's ``SIGTERMException`` (its handler saw our signal first) as :class:`Interrupted`."""
    if stop.received is None:  # a SIGTERM we do not handle (signals: []): Lightning's own exit
        raise error
    return interruption(stop, run_dir, exit_code)


class SignalStages(L.Callback):
    """Keeps ``stop.stage`` current, re-installs the handlers over Lightning's, and stops the test
    pass at its next batch."""

    def __init__(self, stop: StopSignals, run_dir: Path, exit_code: int):
        self.stop, self.run_dir, self.exit_code = stop, Path(run_dir), exit_code

    def _enter(self, stage: str) -> None:
        self.stop.install()  # over the handler Lightning installed when this fit/test started
        self.stop.stage = stage

    def on_sanity_check_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._enter("validation")

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._enter("training")

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn == "fit":
            self._enter("validation")

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn == "fit":
            self.stop.stage = "training"

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._enter("test")

    def on_test_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        if any_rank(trainer, self.stop.received is not None)[0]:
            raise interruption(self.stop, self.run_dir, self.exit_code)

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.stop.stage = "report"
