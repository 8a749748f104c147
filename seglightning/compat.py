"""The private state of Lightning and submitit that seglightning reads, one small function each.

Nothing else in the package touches a private attribute of those libraries. ``uv.lock`` pins the
versions these functions were written against; ``tests/test_compat.py`` calls each of them on the
real objects, so a version bump that removes one fails there with :class:`CompatError`, which
names the attribute, the installed version and the function to rewrite.
"""

from __future__ import annotations

from typing import Any


class CompatError(RuntimeError):
    """A private attribute seglightning relies on is gone from the installed library."""


def _private(obj: Any, path: str, package: str, user: str) -> Any:
    """``obj.<path>`` (dotted), or :class:`CompatError` naming what is missing and who needs it."""
    value = obj
    for name in path.split("."):
        try:
            value = getattr(value, name)
        except AttributeError as error:
            raise CompatError(
                f"{type(obj).__name__}.{path} is gone from the installed {package} "
                f"({_version(package)}); seglightning.compat.{user} reads it: rewrite that function "
                "for this version or pin the version in uv.lock"
            ) from error
    return value


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"version {version(package)}"
    except PackageNotFoundError:
        return "version unknown"


def should_update_logs(trainer: Any) -> bool:
    """Whether Lightning writes step-level metrics at this training step (``log_every_n_steps``).

    Lightning keeps the rule private (``trainer._logger_connector.should_update_logs``); logging only
    on those steps keeps ``self.log`` off the other steps' hot path."""
    return bool(_private(trainer, "_logger_connector.should_update_logs", "lightning", "should_update_logs"))


def last_checkpoint_saved(callback: Any) -> tuple[int, str]:
    """The global step and the path of the checkpoint a ``ModelCheckpoint`` wrote last (``""``: none).

    ``ModelCheckpoint`` exposes no public record of its latest write, only
    ``_last_global_step_saved`` and ``_last_checkpoint_saved``."""
    step = _private(callback, "_last_global_step_saved", "lightning", "last_checkpoint_saved")
    path = _private(callback, "_last_checkpoint_saved", "lightning", "last_checkpoint_saved")
    return int(step), str(path or "")


def train_batches_done(trainer: Any) -> int:
    """Batches of the current training epoch the fit loop counts as done (restored from a mid-epoch
    checkpoint). The loop classes that hold the count (``_FitLoop``, ``_TrainingEpochLoop``) are
    private to Lightning."""
    ready = _private(trainer, "fit_loop.epoch_loop.batch_progress.current.ready", "lightning", "train_batches_done")
    return int(ready)


def submitit_requeue_signal() -> Any:
    """The signal submitit's job environment treats as "checkpoint and requeue" (``_usr_sig``)."""
    import submitit

    usr_sig = _private(submitit.JobEnvironment, "_usr_sig", "submitit", "submitit_requeue_signal")
    return usr_sig()
