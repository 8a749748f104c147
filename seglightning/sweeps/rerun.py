"""When a job of a rerun sweep (or a rerun of one run) is skipped, resumed or run again.

Under ``resume=auto`` an earlier run in the run dir is skipped (complete) or resumed (from its
``last.ckpt``) only when its resolved ``config.yaml`` equals the new config, apart from the keys
of :data:`IGNORED_KEYS` (they cannot change results). Otherwise its files are moved into
``<run dir>.stale-<n>`` beside it (never overwritten or deleted), the job runs from scratch, and
the new run's ``run_meta.json`` records why (``rerun``: the earlier dir, the keys that differed).
When only the code version differs (git commit, or the package version outside git),
``sweep.on_code_change`` decides: ``keep`` (default; a warning) or ``rerun``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from ..run.directory import CONFIG_FILE, RUN_META_FILE

log = logging.getLogger(__name__)

# Config keys (a key covers its sub-keys) that cannot change a run's results: trackers, progress
# output, paths and names, when checkpoints are written, and these options themselves.
IGNORED_KEYS = (
    "run_dir",
    "resume",
    "sweep_name",
    "task_name",
    "sweep",
    "logger",
    "callbacks.progress_bar",
    "callbacks.lr_monitor",
    "callbacks.optional",  # the classes the switches above build (early_stopping's arguments are not ignored)
    "callbacks.overlays",
    "callbacks.preemption",
    "callbacks.checkpoint.every_n_train_steps",
    "callbacks.checkpoint.train_time_interval",
    "trainer.log_every_n_steps",
    "trainer.enable_model_summary",
)
CODE_CHANGE = ("keep", "rerun")  # sweep.on_code_change
STALE = re.compile(r"\.stale-\d+$")  # a superseded run dir: left out of the sweep report
ABSENT = "<absent>"


def is_stale(path: Path) -> bool:
    """True for a run dir that a rerun with another config superseded (``<name>.stale-<n>``)."""
    return STALE.search(path.name) is not None


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"optim": {"lr": 1}}`` -> ``{"optim.lr": 1}`` (lists are values)."""
    if not isinstance(tree, dict) or not tree:
        return {prefix: tree} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(flatten(value, f"{prefix}{key}" if not prefix else f"{prefix}.{key}"))
    return flat


def ignored(key: str) -> bool:
    return any(key == k or key.startswith(k + ".") for k in IGNORED_KEYS)


def config_differences(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    """``{key: [old value, new value]}`` for every leaf key that differs and is not ignored."""
    a, b = flatten(old), flatten(new)
    return {
        k: [a.get(k, ABSENT), b.get(k, ABSENT)]
        for k in sorted(a.keys() | b.keys())
        if not ignored(k) and a.get(k, ABSENT) != b.get(k, ABSENT)
    }


def code_version(meta: dict[str, Any]) -> str | None:
    """``git <sha>`` (``+dirty``) of a ``run_meta.json``, else ``seglightning <version>``; None if unknown."""
    git = meta.get("git") if isinstance(meta.get("git"), dict) else {}
    if git.get("sha"):
        return f"git {str(git['sha'])[:12]}" + ("+dirty" if git.get("dirty") else "")
    packages = meta.get("packages") if isinstance(meta.get("packages"), dict) else {}
    return f"seglightning {packages['seglightning']}" if packages.get("seglightning") else None


def current_code_version() -> str | None:
    """The code version of this process, as :func:`code_version` reads it from ``run_meta.json``."""
    from ..tracking.run_meta import git_state, package_versions

    return code_version({"git": git_state(), "packages": {"seglightning": package_versions()["seglightning"]}})


def _read_meta(run_dir: Path) -> dict[str, Any]:
    try:
        meta = json.loads((run_dir / RUN_META_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _other_rank() -> bool:
    """True in a process that is not the launching one (rank > 0 of a multi-process run)."""
    return any(os.environ.get(v, "0") != "0" for v in ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID"))


def move_aside(run_dir: Path) -> Path:
    """Move the earlier run's files into ``<run dir>.stale-<n>`` (the first free ``n``). Hidden
    entries (``.hydra``: already this launch's; locks) and log files stay with the new run."""
    n = 1
    while (target := run_dir.with_name(f"{run_dir.name}.stale-{n}")).exists():
        n += 1
    target.mkdir()
    for entry in sorted(run_dir.iterdir()):
        if entry.name.startswith(".") or entry.suffix in (".log", ".lock"):
            continue
        entry.rename(target / entry.name)
    return target


def _new_config(cfg: Any) -> dict[str, Any]:
    from omegaconf import OmegaConf

    new = OmegaConf.to_container(cfg, resolve=True)
    if new.get("torch_threads") is None:  # as train.pin_torch_threads will record it
        import torch

        new["torch_threads"] = torch.get_num_threads()
    return new


def supersede_changed_run(cfg: Any, run_dir: Path) -> dict[str, Any] | None:
    """Before ``resume=auto`` skips or resumes the run in ``run_dir``: move that run aside when its
    config (or, with ``sweep.on_code_change=rerun``, its code version) differs from this one's.
    Returns the ``rerun`` record for the new run's ``run_meta.json``, or None (reuse, or no run)."""
    from omegaconf import OmegaConf

    on_code_change = str(OmegaConf.select(cfg, "sweep.on_code_change", default="keep"))
    if on_code_change not in CODE_CHANGE:
        raise ValueError(f"sweep.on_code_change={on_code_change}: use one of {', '.join(CODE_CHANGE)}")
    stored = run_dir / CONFIG_FILE
    if str(cfg.resume) != "auto" or _other_rank() or not stored.is_file():
        return None
    try:
        old = OmegaConf.to_container(OmegaConf.load(stored), resolve=False)
        changed = config_differences(old if isinstance(old, dict) else {}, _new_config(cfg))
    except Exception as error:  # noqa: BLE001 - an unreadable config cannot be matched: rerun
        changed = {CONFIG_FILE: [f"unreadable ({type(error).__name__})", "readable"]}
    before, now = code_version(_read_meta(run_dir)), current_code_version()
    code = [before, now] if before and now and before != now else None
    if not changed and code and on_code_change == "keep":
        log.warning(
            "%s was made with code %s, this is %s; keeping its results (sweep.on_code_change=keep; "
            "sweep.on_code_change=rerun runs it again)", run_dir, before, now,
        )
        return None
    if not changed and not code:
        return None
    previous = move_aside(run_dir)
    why = f"config changed ({', '.join(changed)})" if changed else f"code changed ({before} -> {now})"
    print(f"[seglightning] {run_dir}: {why}; running it again (the earlier run is kept in {previous.name})")
    return {"previous": previous.name, "changed": changed, "code": code}


def rerun_reason(rerun: dict[str, Any]) -> str:
    """One line: what differed from the superseded run, and where that run is kept."""
    changed = rerun.get("changed") or {}
    parts = [f"{k}: {old} -> {new}" for k, (old, new) in changed.items()]
    if rerun.get("code"):
        parts.append(f"code: {rerun['code'][0]} -> {rerun['code'][1]}")
    return f"{'; '.join(parts) or 'changed'} (the earlier run is kept in {rerun.get('previous')})"

