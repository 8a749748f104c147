"""Quiet, truthful output: the entry points hide dependencies' deprecation notices and Lightning's
tips but keep real warnings; the CSV logger does not claim that files will be deleted."""

from __future__ import annotations

import logging
import warnings

import pytest

from seglightning.cli import RANK_ZERO_LOGGERS, _drop_tips, quiet_third_party
from seglightning.tracking.loggers import ResumableCSVLogger


def _warn_from(module: str, category: type[Warning], message: str) -> None:
    exec(
        compile(
            f"import warnings\nwarnings.warn({message!r}, {category.__name__})", module, "exec"
        ),
        {
            "__name__": module,
            "DeprecationWarning": DeprecationWarning,
            "FutureWarning": FutureWarning,
            "UserWarning": UserWarning,
        },
    )


def test_dependency_deprecations_are_hidden_real_warnings_are_not():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_third_party()
        try:
            _warn_from(
                "lightning.pytorch.utilities._pytree", FutureWarning, "LeafSpec is deprecated"
            )
            _warn_from("timm.models", DeprecationWarning, "old api")
            _warn_from("seglightning.models", DeprecationWarning, "our own deprecation")
            _warn_from("torch.nn.functional", UserWarning, "upsample is not deterministic")
        finally:
            for name in RANK_ZERO_LOGGERS:
                logging.getLogger(name).removeFilter(_drop_tips)
    assert sorted(str(w.message) for w in caught) == [
        "our own deprecation",
        "upsample is not deterministic",
    ]


def test_lightning_tips_are_dropped(caplog: pytest.LogCaptureFixture):
    logger = logging.getLogger(RANK_ZERO_LOGGERS[0])
    logger.addFilter(_drop_tips)
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            logger.info("💡 Tip: For seamless cloud logging, try installing litlogger")
            logger.info("GPU available: False, used: False")
    finally:
        logger.removeFilter(_drop_tips)
    assert [r.getMessage() for r in caplog.records] == ["GPU available: False, used: False"]


def test_csv_logger_in_a_run_dir_does_not_warn_about_deleting(tmp_path):
    (tmp_path / "config.yaml").write_text("seed: 0\n")
    (tmp_path / "metrics.csv").write_text("step,val/mIoU\n0,0.5\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logger = ResumableCSVLogger(str(tmp_path))
        logger.log_metrics({"val/mIoU": 0.7}, step=0)
        logger.save()
    assert not [w for w in caught if "deleted" in str(w.message)]
    assert (tmp_path / "config.yaml").is_file()  # the run's other files are untouched
    assert (tmp_path / "metrics.csv").read_text().splitlines()[1:] == [
        "0,0.7"
    ]  # a fresh run replaces the old rows
