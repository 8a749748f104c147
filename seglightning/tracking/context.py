"""What a tracker knows about the run it logs: the builder ``context`` and ids derived from the run dir."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypedDict


class RunContext(TypedDict, total=False):
    """The ``context`` every logger builder receives (built by ``seglightning.train``)."""

    config: dict[str, Any]  # the resolved run config (from Hydra; never the environment)
    tags: dict[str, str]  # {"loss": …, "arch": …, "data": …}
    group: str | None  # the sweep name, None for a single run
    name: str  # the run dir's name
    resume_step: int | None  # global step of the checkpoint resumed from


def stable_run_id(run_dir: Path) -> str:
    """A tracker run id derived from the run dir's absolute path: the same dir is the same run, so a
    restarted run continues its tracker run; two jobs of a sweep never share one."""
    return hashlib.sha1(str(Path(run_dir).resolve()).encode()).hexdigest()[:16]


def tag_list(context: RunContext, extra: Sequence[str] = ()) -> list[str]:
    """``["loss=…", "arch=…", "data=…", *extra]`` for trackers that take flat string tags."""
    return [f"{k}={v}" for k, v in context.get("tags", {}).items()] + [str(t) for t in extra]
