"""Checkpoints are read as data only: ``torch.load(weights_only=True)`` everywhere.

A checkpoint is a pickle, and a pickle may name any Python callable (``os.system`` ...) to run when
it is read. ``weights_only=True`` reads tensors, numbers, strings, lists and dicts only; a real
seglightning checkpoint (``seglightning_config`` and ``rng_state`` included) needs nothing more, so
no global is allow-listed. A refused or unreadable file is one error naming the config key, the
file and the reason.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch


class UnsafeCheckpoint(ValueError):
    """The file holds a Python object that would run code when loaded; nothing of it was run."""


class CorruptCheckpoint(ValueError):
    """The file is not a readable checkpoint (truncated, corrupt or not a torch file)."""


def load_checkpoint_file(
    path: str | Path, key: str = "ckpt", mmap: bool = False, map_location: Any = "cpu"
) -> dict[str, Any]:
    """The checkpoint at ``path`` loaded as data only; ``key`` names the config key in errors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{key}={path}: no such checkpoint file")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as error:
        if "Weights only load failed" not in str(error):
            raise CorruptCheckpoint(f"{key}={path}: unreadable checkpoint ({_first_line(error)})") from None
        found = re.search(r"GLOBAL (\S+)", str(error))
        what = f"a Python object ({found.group(1)})" if found else "a Python object that is not plain data"
        raise UnsafeCheckpoint(
            f"{key}={path}: refused: the file holds {what} that would run code when loaded "
            "(checkpoints are read as data only: tensors, numbers, strings, lists, dicts); "
            "use a checkpoint written by seglightning-train or torch.save of a state_dict"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise CorruptCheckpoint(
            f"{key}={path}: unreadable checkpoint, truncated or corrupt ({_first_line(error)})"
        ) from None
    if not isinstance(ckpt, dict):
        raise CorruptCheckpoint(f"{key}={path}: not a checkpoint (holds a {type(ckpt).__name__}, not a dict)")
    return ckpt


def _first_line(error: BaseException) -> str:
    """The error's type and first sentence."""
    text = str(error).strip().splitlines()
    first = text[0].split(". ")[0] if text else ""
    return f"{type(error).__name__}: {first}".rstrip(": ")
