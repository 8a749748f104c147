"""The jobs a sweep launched, recovered from what Hydra recorded in the sweep dir.

``multirun.yaml`` holds the latest launch's sweeper (``hydra.sweeper``, with the recipe's grid in
``params``, null for a grid given only on the command line) and its task overrides. Hydra's basic
sweeper turns ``params`` followed by the task overrides (the command line wins for the same key)
into the cartesian product of every sweep override; :func:`expected_jobs` repeats that with the
sweeper's own expansion, so the report knows the jobs that have not started yet. A job that did
start records its own overrides (``.hydra/overrides.yaml``), which is how :func:`not_started`
matches jobs to run dirs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ..compat import HYDRA_BASIC_SWEEPER, hydra_sweep_batches
from .runs import Run, parse_overrides


def launched_overrides(sweep_dir: Path) -> list[str] | None:
    """The override strings Hydra's basic sweeper expanded in the latest launch into ``sweep_dir``
    (``hydra.sweeper.params`` as ``key=value``, then the command line's task overrides); None
    without a ``multirun.yaml`` or with another sweeper (Optuna, ...)."""
    path = sweep_dir / "multirun.yaml"
    if not path.is_file():
        return None
    hydra = OmegaConf.load(path).hydra
    sweeper = hydra.get("sweeper") or {}
    if sweeper.get("_target_", HYDRA_BASIC_SWEEPER) != HYDRA_BASIC_SWEEPER:
        return None
    params = sweeper.get("params")
    grid = OmegaConf.to_container(params, resolve=False) if isinstance(params, DictConfig) else {}
    return [f"{k}={v}" for k, v in grid.items()] + [str(o) for o in hydra.overrides.task]


def expected_jobs(sweep_dir: Path) -> list[dict[str, str]] | None:
    """One ``{key: value}`` per job of the latest launch into ``sweep_dir``, as the basic sweeper
    expands it; None if that is unknown (no ``multirun.yaml``, another sweeper, or a sweep the basic
    sweeper cannot expand without the config, such as ``glob()``)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    items = launched_overrides(sweep_dir)
    if items is None:
        return None
    try:
        batches = hydra_sweep_batches(OverridesParser.create().parse_overrides(items))
    except HydraException:
        return None
    return [parse_overrides(job) for batch in batches for job in batch]


def not_started(jobs: Sequence[dict[str, str]], runs: Sequence[Run]) -> list[dict[str, str]]:
    """The jobs no run dir belongs to (a run belongs to a job when it has all the job's overrides)."""
    return [job for job in jobs if not any(job.items() <= run.overrides.items() for run in runs)]
