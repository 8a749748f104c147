"""Directory names of a multirun: the sweep dir (``hydra.sweep.dir``) and each job's
(``hydra.sweep.subdir``), stable across reruns and short enough for any file system.

A named sweep (``sweep_name=...``, set by every recipe in ``experiments/``) lives in
``sweeps/<sweep_name>``; an unnamed one in ``multirun/<timestamp>``, Hydra's default.

A job's directory is named by its overrides (Hydra's ``override_dirname``: sorted ``key=value``
joined by commas, without the keys in ``hydra.job.config.override_dirname.exclude_keys``), so the
same command finds the same directories again: that is what lets a rerun skip finished jobs and
resume interrupted ones. A name longer than :data:`MAX_NAME` characters (many overrides; the file
system's limit is 255 bytes) keeps only the grid keys (``loss``, ``model``, ``seed`` and the keys of
``hydra.sweeper.params``) followed by a hash of the full name, which keeps it unique and stable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from omegaconf import OmegaConf

RESOLVER = "seglightning.job_dir"
SWEEP_RESOLVER = "seglightning.sweep_dir"
MAX_NAME = 150
GRID_KEYS = ("loss", "model", "seed")


def job_dir(override_dirname: str, overrides: Iterable[str], sweeper_params: Mapping[str, Any] | None = None) -> str:
    """``override_dirname`` if short enough, else ``<grid overrides>_<hash of override_dirname>``."""
    if len(override_dirname.encode()) <= MAX_NAME:
        return override_dirname
    keep = {*GRID_KEYS, *(sweeper_params or {})}
    items = sorted(o.lstrip("+~") for o in overrides if o.lstrip("+~").partition("=")[0] in keep)
    digest = hashlib.sha1(override_dirname.encode()).hexdigest()[:12]
    short = ",".join(items)[:MAX_NAME]
    return f"{short}_{digest}" if short else digest


def sweep_dir(sweep_name: str | None, timestamp: str) -> str:
    """``sweeps/<sweep_name>`` for a named sweep (a rerun finds its jobs), else ``multirun/<timestamp>``."""
    if not sweep_name:
        return f"multirun/{timestamp}"
    if "/" in str(sweep_name) or str(sweep_name).startswith("."):
        raise ValueError(f"sweep_name={sweep_name!r} must be a plain directory name")
    return f"sweeps/{sweep_name}"


def study_name(*, _root_: Any) -> str:
    """``${seglightning.study_name:}``: the default study name of ``seglightning-tune``."""
    from ..tune import study_name as name

    return name(_root_=_root_)


def register_resolvers() -> None:
    """Make ``${seglightning.job_dir:...}``, ``${seglightning.sweep_dir:...}`` and
    ``${seglightning.study_name:}`` available (idempotent)."""
    for name, fn in ((RESOLVER, job_dir), (SWEEP_RESOLVER, sweep_dir), ("seglightning.study_name", study_name)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
