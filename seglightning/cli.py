"""Console scripts. Each is a thin Hydra app over the config tree in ``conf/``."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

CONFIG_DIR = os.environ.get("SEGLIGHTNING_CONFIG_DIR", str(Path(__file__).resolve().parent / "conf"))


# Lightning's promotional lines (logged at INFO by its rank-zero logger), not run information
THIRD_PARTY_TIPS = ("💡 Tip:",)
RANK_ZERO_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")


def _drop_tips(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(THIRD_PARTY_TIPS)


def quiet_third_party() -> None:
    """Entry points only (library users keep their own warning filters): hide the dependencies'
    deprecation notices, which a user of seglightning cannot act on, and Lightning's tips. Our own
    deprecations and every other warning (e.g. non-deterministic ops, few batches) stay visible."""
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category, module=r"(?!seglightning)")
    for name in RANK_ZERO_LOGGERS:
        logging.getLogger(name).addFilter(_drop_tips)


def _hydra_app(config_name: str, fn: Callable[[Any], Any]) -> None:
    import hydra

    from .config_check import precheck

    quiet_third_party()
    if not Path(CONFIG_DIR, f"{config_name}.yaml").exists():
        sys.exit(f"seglightning: config directory {CONFIG_DIR} has no {config_name}.yaml (set SEGLIGHTNING_CONFIG_DIR)")
    precheck(Path(sys.argv[0]).name, config_name, CONFIG_DIR)  # typos and bad values: seconds, before torch
    hydra.main(config_path=CONFIG_DIR, config_name=config_name, version_base="1.3")(fn)()


def _lazy(module: str, name: str) -> Callable[[Any], Any]:
    """The task ``seglightning.<module>.<name>``, imported (with torch) only when Hydra runs it."""

    def task(cfg: Any) -> Any:
        from importlib import import_module

        from .data.io import DatasetError
        from .run.job_log import route_lightning_log, run_lines_in_log

        quiet_third_party()  # again in the job's process: a joblib launcher's workers start without it
        try:
            route_lightning_log()
            with run_lines_in_log():
                return getattr(import_module(f".{module}", __package__), name)(cfg)
        except DatasetError as err:  # bad data (even from a loader worker): its message, not a traceback
            sys.exit(f"{Path(sys.argv[0]).name}: {err.reason()}")

    task.__module__ = f"{__package__}.{module}"  # Hydra names the job after it (hydra.job.name)
    return task


def train() -> None:
    _hydra_app("train", _lazy("train", "train_job"))


def evaluate() -> None:
    _hydra_app("eval", _lazy("evaluate", "evaluate"))


def predict() -> None:
    _hydra_app("predict", _lazy("predict", "predict"))


DATA_COMMANDS = ("check",)


def data() -> None:
    """``seglightning-data check data=<name> data.root=<folder>``: exit status 1 if problems are found."""
    if len(sys.argv) < 2 or sys.argv[1] not in DATA_COMMANDS:
        sys.exit(
            f"usage: seglightning-data {{{','.join(DATA_COMMANDS)}}} data=<name> data.root=<folder> "
            "[check.level=index|header|full]"
        )
    sys.argv.pop(1)

    def run(cfg: Any) -> None:
        from .data.check import main as check

        sys.exit(check(cfg))

    _hydra_app("data_check", run)


def report(argv: list[str] | None = None) -> None:
    """``seglightning-report <sweep dir> [--metrics best|final|test] [--columns mIoU,bIoU,ECE]
    [--baseline loss=ce,model=unet] [--adjust holm|bh|none] [--delta 0.01] [--logger wandb ...]``.
    Imports no torch or Lightning (unless ``--logger`` needs them)."""
    import argparse

    from .sweeps.multiple_testing import DEFAULT_METHOD
    from .sweeps.multiple_testing import METHODS as ADJUST_METHODS
    from .sweeps.report import OUTPUTS, build_report, summary, write_report
    from .sweeps.runs import SECTIONS

    parser = argparse.ArgumentParser(
        prog="seglightning-report",
        description=(
            f"Aggregate a sweep (finished or not) into {', '.join(OUTPUTS)} in the sweep directory "
            "(with --metrics final/test: results-test.md etc.)."
        ),
    )
    parser.add_argument("sweep_dir", type=Path, help="the multirun's sweep directory (hydra.sweep.dir)")
    parser.add_argument(
        "--metrics",
        default="best",
        choices=SECTIONS,
        help="best: validation at the best epoch (default); final: after the last epoch; "
        "test: best checkpoint on the test split",
    )
    parser.add_argument(
        "--columns",
        default=None,
        metavar="METRIC[,...]",
        help="metric columns of the tables and plots, e.g. mIoU,bIoU,bF1,ECE (default: every headline metric logged)",
    )
    parser.add_argument(
        "--rows", default="loss", help="grid column on the heatmap's rows and the bar groups (default: loss)"
    )
    parser.add_argument("--cols", default="model", help="grid column on the heatmap's columns (default: model)")
    parser.add_argument(
        "--baseline",
        default=None,
        metavar="KEY=VALUE[,...]",
        help="the cell every other cell is compared with, by its grid values, e.g. loss=ce,model=unet "
        "(default: the first cell)",
    )
    parser.add_argument(
        "--gallery-seed",
        type=int,
        default=None,
        help="the seed whose predictions the gallery shows (default: the smallest seed most cells saved)",
    )
    parser.add_argument(
        "--adjust",
        default=DEFAULT_METHOD,
        choices=ADJUST_METHODS,
        help="adjust the comparisons' p-values for their number, per metric: holm (default; family-wise "
        "error), bh (Benjamini-Hochberg false discovery rate) or none",
    )
    parser.add_argument(
        "--delta",
        type=float,
        default=None,
        metavar="DIFFERENCE",
        help="also give the seeds a paired t-test needs to detect this difference (e.g. 0.01 mIoU) "
        "with 80%% power at alpha 0.05",
    )
    parser.add_argument(
        "--logger",
        action="append",
        default=[],
        metavar="NAME",
        help="also log the table and plots to this tracker (wandb, mlflow, neptune, tensorboard); repeatable",
    )
    args = parser.parse_args(argv)
    quiet_third_party()
    try:
        columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
        result = build_report(
            args.sweep_dir, args.metrics, args.baseline, adjust=args.adjust, delta=args.delta, chosen=columns
        )
        if not result.runs:
            sys.exit(f"seglightning-report: no run directories under {args.sweep_dir}")
        written = write_report(result, args.rows, args.cols, args.gallery_seed)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f"seglightning-report: {err}")
    print(summary(result))
    print(f"[seglightning] wrote {', '.join(str(p) for p in written.values())}")
    if args.logger:
        from .sweeps.tracker import log_report

        for line in log_report(result, written, args.logger):
            print(f"[seglightning] {line}")


def tune() -> None:
    _hydra_app("tune", _lazy("tune", "tune"))
