"""Stop requests from the cluster: ``callbacks.preemption.signals`` (default SIGTERM, SIGUSR1,
SIGUSR2: what Slurm sends before a time limit or a preemption, and what submitit asks for).

The handler only records the signal. The training loop acts on it at its next safe point (after an
optimizer step), where :class:`~seglightning.checkpointing.last_checkpoint.LastCheckpoint` writes
``last.ckpt`` and stops the run with :class:`Interrupted`. Nothing is done inside the handler, so a
second signal during the checkpoint write changes nothing (and the write is atomic anyway).

``seglightning-train`` holds one :class:`StopSignals` for the whole run (:func:`StopSignals.held`),
SIGINT (Ctrl-C) included, and notes the stage a signal arrived in (``setup``, ``training``,
``validation``, ``test``, ``report``); :mod:`.stages` acts on it outside the training loop. A
requeue signal exits with ``callbacks.preemption.exit_code`` (75), Ctrl-C with 130 and no requeue.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

Handler = Callable[[int, Any], Any] | int | None
CTRL_C_EXIT = 130  # 128 + SIGINT, what a shell reports for a Ctrl-C


def parse_signals(names: Sequence[str]) -> list[signal.Signals]:
    """``["SIGTERM", "USR1", ...]`` as signals (clear error naming the config key)."""
    out = []
    for name in names:
        key = str(name).upper()
        key = key if key.startswith("SIG") else f"SIG{key}"
        if key not in signal.Signals.__members__ or key in ("SIGKILL", "SIGSTOP"):
            raise ValueError(
                f"callbacks.preemption.signals: '{name}' is not a signal that can be caught; "
                "use e.g. SIGTERM, SIGUSR1, SIGUSR2"
            )
        out.append(signal.Signals[key])
    return out


class StopSignals:
    """Records the first stop signal received (``received``) while installed, and the ``stage`` the
    run was in then (``received_stage``)."""

    def __init__(self, names: Sequence[str]):
        self.signals = parse_signals(names)
        self.received: signal.Signals | None = None
        self.count = 0
        self.previous: dict[signal.Signals, Handler] = {}
        self.stage = "setup"
        self.received_stage: str | None = None
        self._held = False

    @contextmanager
    def held(self) -> Iterator[StopSignals]:
        """Installed for the whole block; :meth:`release` (the callbacks') leaves them in place."""
        self.install()
        self._held = True
        try:
            yield self
        finally:
            self._held = False
            self.restore()

    def release(self) -> None:
        """:meth:`restore` unless a :meth:`held` block owns the handlers."""
        if not self._held:
            self.restore()

    def exit_code(self, requeue_exit: int) -> int:
        """130 for Ctrl-C (SIGINT), else ``requeue_exit`` (a requeue signal)."""
        return CTRL_C_EXIT if self.received == signal.SIGINT else requeue_exit

    def install(self) -> None:
        """Handle ``signals`` here; the handlers found the first time are kept in ``previous``.
        Called again once Lightning has put its own SIGTERM handler in place, to replace it."""
        if threading.current_thread() is not threading.main_thread():
            return  # Python delivers signals to the main thread only
        for sig in self.signals:
            self.previous.setdefault(sig, signal.getsignal(sig))
            signal.signal(sig, self._record)

    def _record(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self.received is None:
            self.received = signal.Signals(signum)
            self.received_stage = self.stage

    def restore(self) -> None:
        """Put back the handlers found by the first :meth:`install`."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, handler in self.previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        self.previous = {}


class Interrupted(SystemExit):
    """The run stopped on a signal after writing ``last.ckpt``: a ``SystemExit`` (not an error), so
    a multirun does not record it as a failed job and the process exits for its requeue."""

    def __init__(
        self,
        signal_name: str,
        step: int,
        epoch: int,
        checkpoint: str | None,
        exit_code: int,
        signals: StopSignals,
        stage: str | None = None,
    ):
        super().__init__(exit_code)
        self.signal_name, self.step, self.epoch, self.checkpoint = (
            signal_name,
            step,
            epoch,
            checkpoint,
        )
        self.exit_code, self.signals = exit_code, signals
        self.stage = stage if stage is not None else signals.received_stage

    def __str__(self) -> str:
        during = f" during {self.stage}" if self.stage else ""
        resume = f"resume from {self.checkpoint}" if self.checkpoint else "no checkpoint yet; a rerun starts afresh"
        return f"stopped by {self.signal_name}{during} at step {self.step} (epoch {self.epoch}); {resume}"
