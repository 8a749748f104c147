"""What an interrupted run does last: requeue its job, then exit with ``exit_code``.

``callbacks.preemption.requeue``:

- ``auto`` (default): under submitit (``hydra/launcher=slurm_gpu`` or ``submitit_local``), submitit's
  own protocol: its signal handler, found when ours was installed, checkpoints the job (the Hydra
  launcher resubmits the same job) and requeues it, counting time-outs against
  ``max_num_timeout``. Under plain Slurm (``sbatch`` + ``srun``, ``SLURM_JOB_ID`` set), rank 0 runs
  ``scontrol requeue <job>`` (the job must be requeueable: ``#SBATCH --requeue``). Lightning's own
  Slurm requeue (``SLURMEnvironment(auto_requeue=True)``) is switched off, so one mechanism acts.
- ``never``: only exit; the caller (a wrapper script, ``RequeueExit=75`` in slurm.conf) decides.

The exit status is ``callbacks.preemption.exit_code`` (default 75, ``EX_TEMPFAIL``: "try again").
Rerunning the same command resumes from ``last.ckpt`` (``resume=auto``). Ctrl-C (SIGINT) is the
user's stop, never requeued: exit status 130.
"""

from __future__ import annotations

import logging
import os
import subprocess
from typing import Any, NoReturn

from ..compat import submitit_requeue_signal
from .signals import Interrupted

log = logging.getLogger(__name__)
REQUEUE_MODES = ("auto", "never")


def submitit_handler(previous: dict[Any, Any]) -> Any | None:
    """submitit's signal handler object among the handlers found before ours, if any."""
    for handler in previous.values():
        owner = getattr(handler, "__self__", None)
        if (
            owner is not None
            and type(owner).__module__.startswith("submitit")
            and hasattr(owner, "checkpoint_and_try_requeue")
        ):
            return owner
    return None


def slurm_job_id() -> str | None:
    array = os.environ.get("SLURM_ARRAY_JOB_ID")
    if array is not None and "SLURM_ARRAY_TASK_ID" in os.environ:
        return f"{array}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    return os.environ.get("SLURM_JOB_ID")


def check_requeue_mode(mode: str) -> None:
    if mode not in REQUEUE_MODES:
        raise ValueError(f"callbacks.preemption.requeue={mode!r}: use one of {REQUEUE_MODES}")


def requeue(stop: Interrupted, mode: str = "auto", rank: int = 0) -> NoReturn:
    """Requeue the job as described in the module docstring, then exit (raises ``stop``, a
    ``SystemExit`` with its exit code)."""
    check_requeue_mode(mode)
    if stop.signal_name == "SIGINT":
        mode = "never"
    handler = submitit_handler(stop.signals.previous)
    stop.signals.restore()  # the handlers from before the run (ours ignored signals until now)
    if mode == "auto":
        job = slurm_job_id()
        if handler is not None:
            # rank 0: checkpoint the submission, requeue, exit; other ranks: returns
            handler.checkpoint_and_try_requeue(submitit_requeue_signal(), None)
        elif job is not None and rank == 0:
            try:
                done = subprocess.run(
                    ["scontrol", "requeue", job], capture_output=True, text=True, check=False
                )
                error = done.stderr.strip() if done.returncode else None
            except OSError as err:  # no scontrol on this node
                error = str(err)
            if error is not None:
                log.warning(
                    "scontrol requeue %s failed (%s); rerun the job to resume from %s",
                    job,
                    error,
                    stop.checkpoint,
                )
            else:
                log.warning("requeued Slurm job %s; it resumes from %s", job, stop.checkpoint)
    raise stop
