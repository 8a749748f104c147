"""``run_meta.json``: what is needed to reproduce a run, and no secrets (no environment dump)."""

from __future__ import annotations

import importlib.metadata
import platform
import socket
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

PACKAGES = (
    "seglightning",
    "torch",
    "torchvision",
    "lightning",
    "torchmetrics",
    "albumentations",
    "timm",
    "hydra-core",
    "numpy",
    "segmentation-models-pytorch",
)


def _git(*args: str, cwd: Path) -> str | None:
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def git_state(path: Path | None = None) -> dict[str, Any]:
    """Commit sha and dirty flag of the checkout that holds the code (``None`` outside git)."""
    cwd = path or Path(__file__).resolve().parent
    sha = _git("rev-parse", "HEAD", cwd=cwd)
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=cwd) if sha else None
    return {"sha": sha, "dirty": bool(status) if status is not None else None}


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def run_meta(seed: int, resumed_from: str | None = None) -> dict[str, Any]:
    """``run_meta.json`` but the overrides, which :func:`seglightning.run.directory.write_run_files` adds."""
    import torch  # here: the sweep report reads code versions without loading torch

    return {
        "git": git_state(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "seed": seed,
        "resumed_from": resumed_from,
        "packages": package_versions(),
        "python": platform.python_version(),
        "torch": {
            "version": torch.__version__,
            "cuda": torch.version.cuda,
            "cuda_available": torch.cuda.is_available(),
            "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        },
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
