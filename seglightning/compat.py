"""The private state of Lightning, submitit and Hydra that seglightning reads, one small function each.

Nothing else in the package touches a private attribute or module of those libraries. ``uv.lock`` pins the
versions these functions were written against; ``tests/test_compat.py`` calls each of them on the
real objects, so a version bump that removes one fails there with :class:`CompatError`, which
names the attribute, the installed version and the function to rewrite.
"""

from __future__ import annotations

from typing import Any


class CompatError(RuntimeError):
    """A private attribute seglightning relies on is gone from the installed library."""


def _gone(what: str, package: str, user: str) -> CompatError:
    """The error for a private attribute or module ``what`` that the installed ``package`` lacks."""
    return CompatError(
        f"{what} is gone from the installed {package} ({_version(package)}); seglightning.compat.{user} "
        "reads it: rewrite that function for this version or pin the version in uv.lock"
    )


def _private(obj: Any, path: str, package: str, user: str) -> Any:
    """``obj.<path>`` (dotted), or :class:`CompatError` naming what is missing and who needs it."""
    value = obj
    for name in path.split("."):
        try:
            value = getattr(value, name)
        except AttributeError as error:
            raise _gone(f"{type(obj).__name__}.{path}", package, user) from error
    return value


def _private_import(module: str, name: str, package: str, user: str) -> Any:
    """``module.name`` from a library's private module, or :class:`CompatError` naming it and who needs it."""
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        raise _gone(f"{module}.{name}", package, user) from error


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


# Hydra's own plugins, named in a config's ``_target_`` (read from multirun.yaml / HydraConfig)
HYDRA_BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
HYDRA_BASIC_LAUNCHER = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"


def hydra_args_parser() -> Any:
    """The argument parser of a Hydra app's command line (``hydra._internal.utils.get_args_parser``),
    so a command is read exactly as the app will read it."""
    return _private_import("hydra._internal.utils", "get_args_parser", "hydra-core", "hydra_args_parser")()


def hydra_config_search_path(config_module: str, config_dir: str) -> Any:
    """The config search path of a Hydra app in ``config_module`` with ``config_dir``
    (``create_automatic_config_search_path``); more folders may be prepended before the loader is made."""
    search = _private_import(
        "hydra._internal.utils", "create_automatic_config_search_path", "hydra-core", "hydra_config_search_path"
    )
    return search(None, config_module, config_dir)


def hydra_config_loader(search_path: Any) -> Any:
    """Hydra's config loader over ``search_path`` (``ConfigLoaderImpl``): Hydra has no public API for
    composing a command line's config, sweeps included, outside the app."""
    loader = _private_import(
        "hydra._internal.config_loader_impl", "ConfigLoaderImpl", "hydra-core", "hydra_config_loader"
    )
    return loader(config_search_path=search_path)


def hydra_sweep_batches(overrides: Any) -> Any:
    """The jobs Hydra's basic sweeper makes of parsed ``overrides`` (its ``split_arguments``), in batches."""
    sweeper = _private_import(
        "hydra._internal.core_plugins.basic_sweeper", "BasicSweeper", "hydra-core", "hydra_sweep_batches"
    )
    return sweeper.split_arguments(overrides, None)
