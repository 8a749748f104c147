"""Starting a run again from what its directory holds, whatever state a crash left it in.

- Temporary files of writes killed midway (``.last.ckpt.<pid>.tmp``, ``.metrics.json.<pid>.tmp``:
  :mod:`seglightning.utils.atomic_file`) are removed when the run starts again, unless their process is
  still alive.
- The checkpoint to resume from is read in full before the run uses it. Under ``resume=auto`` an
  unreadable ``last.ckpt`` (truncated, corrupt) is renamed ``last.ckpt.corrupt-<n>`` (never
  deleted), and the run resumes from the newest readable checkpoint of the run directory instead,
  saying so in the log and in ``metrics.json`` (``resume_fallback``). A checkpoint that would run
  code is refused, never skipped (:mod:`.safe_load`).
- A checkpoint whose weights do not fit this run's model is one line: the model, classes and
  data it was trained with against those this run asks for.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

from ..run.directory import CHECKPOINTS_DIR
from .safe_load import CorruptCheckpoint, load_checkpoint_file

log = logging.getLogger(__name__)
TEMPORARY = re.compile(r"^\..+\.(\d+)\.tmp$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process has written nothing yet: a dead process's pid, reused
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(run_dir: Path) -> list[Path]:
    """Remove the temporary files that killed writes left in ``run_dir`` and its checkpoints."""
    removed = []
    for folder in (run_dir, run_dir / CHECKPOINTS_DIR):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            match = TEMPORARY.match(path.name)
            if match and path.is_file() and not _alive(int(match.group(1))):
                size = path.stat().st_size
                path.unlink(missing_ok=True)
                log.warning("removed %s (%d bytes), left by a write that was killed", path, size)
                removed.append(path)
    return removed


def _rename_aside(path: Path) -> Path:
    n = 1
    while path.with_name(f"{path.name}.corrupt-{n}").exists():
        n += 1
    aside = path.with_name(f"{path.name}.corrupt-{n}")
    os.replace(path, aside)
    return aside


def _relative(path: Path, run_dir: Path) -> str:
    return str(path.relative_to(run_dir)) if path.is_relative_to(run_dir) else str(path)


def fall_back(path: Path, run_dir: Path, error: CorruptCheckpoint, rank_zero: bool = True) -> tuple[str | None, dict]:
    """``path`` is unreadable: set it aside (rank zero) and pick the newest readable checkpoint of
    the run directory (None: start from scratch); the record for ``metrics.json``."""
    aside = _rename_aside(path) if rank_zero and path.exists() else None
    candidates = sorted(
        (p for p in (run_dir / CHECKPOINTS_DIR).glob("*.ckpt") if p != path),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    chosen = None
    for candidate in candidates:
        try:
            load_checkpoint_file(candidate, "resume")
        except CorruptCheckpoint as other:
            log.warning("%s", other)
            continue
        chosen = candidate
        break
    record = {
        "unreadable": _relative(path, run_dir),
        "error": str(error),
        "renamed_to": None if aside is None else _relative(aside, run_dir),
        "resumed_from": None if chosen is None else _relative(chosen, run_dir),
    }
    log.warning(
        "%s; %s; %s",
        error,
        f"kept as {record['renamed_to']}" if aside is not None else "left in place",
        f"resuming from {record['resumed_from']} instead" if chosen else "no readable checkpoint: starting afresh",
    )
    return (None if chosen is None else str(chosen)), record


def checked_resume(
    resume: str, path: str | None, run_dir: Path, rank_zero: bool = True
) -> tuple[str | None, dict | None]:
    """The checkpoint ``path`` chosen by ``resume`` once read in full, and the fallback record
    (None when ``path`` was used). Only ``resume=auto``'s own ``last.ckpt`` falls back; an
    explicit ``resume=<path>`` that is unreadable is an error."""
    if path is None:
        return None, None
    try:
        load_checkpoint_file(path, "resume")
    except CorruptCheckpoint as error:
        if resume != "auto":
            raise
        return fall_back(Path(path), run_dir, error, rank_zero)
    return path, None


def describe(config: dict[str, Any] | None, hparams: dict[str, Any]) -> str:
    """``model=unet (5 classes), data=synthetic``."""
    config = config or {}
    model = (config.get("model") or hparams.get("model") or {}).get("name", "?")
    data = (config.get("data") or {}).get("name", "?")
    return f"model={model} ({hparams.get('num_classes', '?')} classes), data={data}"


def check_fits(path: str, module: Any, config: dict[str, Any], key: str = "resume") -> None:
    """One clear error when the weights in ``path`` do not fit ``module`` (built from ``config``)."""
    ckpt = load_checkpoint_file(path, key, mmap=True)
    # the network's weights (buffers set up later, e.g. a loss's class weights, are Lightning's to check)
    stored = {k: v for k, v in ckpt.get("state_dict", {}).items() if k.startswith("model.")}
    own = {k: v for k, v in module.state_dict().items() if k.startswith("model.")}
    missing = [k for k in own if k not in stored]
    unexpected = [k for k in stored if k not in own]
    reshaped = [k for k in own if k in stored and tuple(stored[k].shape) != tuple(own[k].shape)]
    if not (missing or unexpected or reshaped):
        return
    hparams = ckpt.get("hyper_parameters", {})
    theirs, ours = describe(ckpt.get("seglightning_config"), hparams), describe(config, dict(module.hparams))
    if theirs == ours:  # the same architecture, other options: name them
        old, new = hparams.get("model") or {}, dict(module.hparams).get("model") or {}
        changed = [f"model.{k}={old.get(k)!r}" for k in sorted({*old, *new}) if old.get(k) != new.get(k)]
        theirs += f" and {', '.join(changed) or 'other model options'}"
    raise ValueError(
        f"{key}={path}: the checkpoint was trained with {theirs} but this run asks for {ours} "
        f"({len(missing)} weights missing, {len(unexpected)} unexpected, {len(reshaped)} of another shape); "
        "resume a checkpoint of this model and data, or use resume=never"
    )
