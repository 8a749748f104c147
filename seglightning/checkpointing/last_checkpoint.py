"""``last.ckpt``: at every epoch's end, inside an epoch every ``every_n_train_steps`` optimizer
steps and every ``train_time_interval`` minutes, and when a stop signal arrives (then the run stops).

At an epoch's end it is written whether or not the epoch improved the monitor, as a hard link to
``best.ckpt`` when that was just written at the same step. Inside an epoch it is written only at
safe points (after an optimizer step, before the epoch's last batch), so a resumed run continues
with the next batch exactly; under DDP the ranks agree on every save and stop. A stop request
writes it at the next safe point and raises :class:`~.signals.Interrupted` when the following batch
starts (during the epoch's last batch or validation: at the epoch's end). Why each of these:
docs/design-notes.md.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Checkpoint, ModelCheckpoint

from ..compat import last_checkpoint_saved
from ..run.directory import LAST_CHECKPOINT
from ..utils.distributed import any_rank
from .atomic_io import link_atomically
from .requeue import check_requeue_mode
from .signals import Interrupted, StopSignals


class LastCheckpoint(Checkpoint):
    """A ``Checkpoint`` callback, so Lightning runs its hooks after ``ModelCheckpoint``'s (the
    epoch's ``best.ckpt`` is written before this callback can stop the run)."""

    def __init__(
        self,
        path: str | Path,
        every_n_train_steps: int | None = None,
        train_time_interval: float | None = None,
        stop: StopSignals | None = None,
        exit_code: int = 75,
        best: ModelCheckpoint | None = None,
    ):
        if every_n_train_steps is not None and every_n_train_steps < 1:
            raise ValueError(
                f"callbacks.checkpoint.every_n_train_steps={every_n_train_steps}: use a positive step count or null"
            )
        if train_time_interval is not None and train_time_interval <= 0:
            raise ValueError(
                f"callbacks.checkpoint.train_time_interval={train_time_interval}: use minutes > 0 or null"
            )
        self.path = Path(path)
        self.every_n_train_steps = every_n_train_steps
        self.interval_s = None if train_time_interval is None else 60.0 * train_time_interval
        self.stop, self.exit_code = stop, exit_code
        self.best = best
        self._last_save = time.monotonic()
        self._stopping = False

    # -- signal handlers: ours from setup (keeping whatever was there, e.g. submitit's) and again
    # once Lightning has installed its own SIGTERM handler (which would stop the loop unsaved)
    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage == "fit" and self.stop is not None:
            self.stop.install()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._last_save = time.monotonic()
        if self.stop is not None:
            self.stop.install()

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage == "fit" and self.stop is not None:
            self.stop.release()

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        # an interrupted run keeps its handlers until it has requeued (a second signal is ignored)
        if self.stop is not None and not isinstance(exception, Interrupted):
            self.stop.release()

    # -- saves and stops
    def _stop_requested(self) -> bool:
        return self.stop is not None and self.stop.received is not None

    def _interrupted(self, trainer: L.Trainer) -> Interrupted:
        assert self.stop is not None
        name = (
            self.stop.received.name
            if self.stop.received is not None
            else "a signal to another rank"
        )
        return Interrupted(
            name,
            trainer.global_step,
            trainer.current_epoch,
            str(self.path),
            self.stop.exit_code(self.exit_code),
            self.stop,
        )

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if not _safe_point(trainer, batch_idx):
            return
        by_steps = (
            self.every_n_train_steps is not None
            and trainer.global_step % self.every_n_train_steps == 0
        )
        by_time = (
            self.interval_s is not None and time.monotonic() - self._last_save >= self.interval_s
        )
        if self.stop is not None or self.interval_s is not None:  # the only rank-local inputs
            self._stopping, by_time = any_rank(trainer, self._stop_requested(), by_time)
        if self._stopping or by_steps or by_time:
            trainer.save_checkpoint(self.path, weights_only=False)  # the full state a resume needs
            self._last_save = time.monotonic()

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self._stopping:
            raise self._interrupted(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # the best callback (a Checkpoint listed before this one) has run its epoch end
        step, best_path = last_checkpoint_saved(self.best) if self.best is not None else (-1, "")
        if step == trainer.global_step and best_path:
            if trainer.is_global_zero:
                link_atomically(best_path, self.path)
            trainer.strategy.barrier()
        else:
            trainer.save_checkpoint(self.path, weights_only=False)  # the full state a resume needs
        self._last_save = time.monotonic()
        if self.stop is not None and any_rank(trainer, self._stop_requested())[0]:
            raise self._interrupted(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # fit is over (the epoch-end last.ckpt is final); stop before the test pass
        if self.stop is not None and any_rank(trainer, self._stop_requested())[0]:
            raise self._interrupted(trainer)


def _safe_point(trainer: L.Trainer, batch_idx: int) -> bool:
    """After an optimizer step, not the epoch's last batch, and training goes on."""
    stepped = (batch_idx + 1) % trainer.accumulate_grad_batches == 0
    last = batch_idx + 1 >= trainer.num_training_batches
    done = 0 < trainer.max_steps <= trainer.global_step
    return stepped and not last and not done


def build_last_checkpoint(
    run_dir: Path,
    checkpoint: Any,
    preemption: Any,
    best: ModelCheckpoint | None = None,
    stop: StopSignals | None = None,
) -> LastCheckpoint:
    """From ``callbacks.checkpoint`` (``every_n_train_steps``, ``train_time_interval``) and
    ``callbacks.preemption`` (``signals``, ``exit_code``; ``requeue`` is checked here, used by
    :func:`~.requeue.requeue`); ``best`` writes ``best.ckpt`` (listed before this callback);
    ``stop``: the run's own :class:`StopSignals` (else one for ``signals``)."""
    signals = list(preemption.get("signals") or [])
    check_requeue_mode(preemption.get("requeue", "auto"))
    if stop is None and signals:
        stop = StopSignals(signals)
    return LastCheckpoint(
        Path(run_dir) / LAST_CHECKPOINT,
        checkpoint.get("every_n_train_steps"),
        checkpoint.get("train_time_interval"),
        stop,
        int(preemption.get("exit_code", 75)),
        best,
    )
