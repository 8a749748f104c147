"""Console scripts. Each is a thin Hydra app over the config tree in ``conf/``."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

CONFIG_DIR = os.environ.get("SEGLIGHTNING_CONFIG_DIR", str(Path(__file__).resolve().parents[1] / "conf"))


def _hydra_app(config_name: str, fn: Callable[[Any], Any]) -> None:
    import hydra

    if not Path(CONFIG_DIR, f"{config_name}.yaml").exists():
        sys.exit(f"seglightning: config directory {CONFIG_DIR} has no {config_name}.yaml (set SEGLIGHTNING_CONFIG_DIR)")
    hydra.main(config_path=CONFIG_DIR, config_name=config_name, version_base="1.3")(fn)()


def train() -> None:
    from .train import train as run

    _hydra_app("train", run)


def evaluate() -> None:
    from .evaluate import evaluate as run

    _hydra_app("eval", run)


def predict() -> None:
    from .predict import predict as run

    _hydra_app("predict", run)


DATA_COMMANDS = ("check",)


def data() -> None:
    """``seglightning-data check data=<name> data.root=<folder>``: exit status 1 if problems are found."""
    if len(sys.argv) < 2 or sys.argv[1] not in DATA_COMMANDS:
        sys.exit(f"usage: seglightning-data {{{','.join(DATA_COMMANDS)}}} data=<name> data.root=<folder> [check.level=index|header|full]")
    sys.argv.pop(1)
    from .data.check import main as check

    def run(cfg: Any) -> None:
        sys.exit(check(cfg))

    _hydra_app("data_check", run)
