"""The jobs a sweep asked for, recovered from Hydra's ``multirun.yaml`` in the sweep dir.

Hydra's basic sweeper expands ``hydra.sweeper.params`` (from the recipe) followed by the command
line's task overrides (which win for the same key) into the cartesian product of every sweep
override. Repeating that expansion tells a report which jobs have not started yet.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from omegaconf import OmegaConf

from .runs import Run


def expected_jobs(sweep_dir: Path) -> list[dict[str, str]] | None:
    """One ``{key: value}`` per job of the latest launch into ``sweep_dir``; None if it is unknown
    (no ``multirun.yaml``, or a sweep the basic expansion does not cover, such as ``glob()``)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    path = sweep_dir / "multirun.yaml"
    if not path.is_file():
        return None
    hydra = OmegaConf.load(path).hydra
    params = OmegaConf.to_container(hydra.sweeper.get("params") or {}, resolve=False)
    items = [f"{k}={v}" for k, v in params.items()] + list(hydra.overrides.task)
    try:
        overrides = OverridesParser.create().parse_overrides(items)
        choices: dict[str, list[str]] = {}
        for o in overrides:
            key = o.get_key_element().lstrip("+~")
            if o.is_delete():
                continue
            if o.is_sweep_override():
                if not o.is_discrete_sweep():
                    return None
                choices[key] = list(o.sweep_string_iterator())
            else:
                choices[key] = [o.get_value_element_as_str()]
    except HydraException:
        return None
    keys = list(choices)
    return [dict(zip(keys, values)) for values in itertools.product(*(choices[k] for k in keys))]


def not_started(jobs: list[dict[str, str]], runs: list[Run]) -> list[dict[str, str]]:
    """The jobs no run dir belongs to (a run belongs to a job when it has all the job's overrides)."""
    return [job for job in jobs if not any(job.items() <= run.overrides.items() for run in runs)]
