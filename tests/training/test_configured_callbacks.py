"""The optional Lightning callbacks come from the callbacks config group (conf/callbacks/default.yaml):
the switches progress_bar, lr_monitor and early_stopping, and a user's own under callbacks.extra."""

from __future__ import annotations

import lightning as L
import pytest
from lightning.pytorch.callbacks import (
    EarlyStopping,
    LearningRateMonitor,
    ProgressBar,
    RichProgressBar,
    TQDMProgressBar,
)

from seglightning.run.prepare import build_callbacks, prepare_run
from tests.conftest import train_config

OPTIONAL = (ProgressBar, LearningRateMonitor, EarlyStopping)


class Mark(L.Callback):
    """A user's callback, named by config."""

    def __init__(self, label: str):
        self.label = label


def optional(tmp_path, *overrides: str) -> list:
    callbacks, _, _ = build_callbacks(train_config(tmp_path, *overrides), tmp_path, {})
    return [c for c in callbacks if isinstance(c, OPTIONAL)]


def test_the_defaults_build_the_rich_bar_and_the_step_lr_monitor(tmp_path):
    bar, monitor = optional(tmp_path, "callbacks.progress_bar=rich")
    assert type(bar) is RichProgressBar
    assert type(monitor) is LearningRateMonitor and monitor.logging_interval == "step"


def test_each_switch_as_the_readme_writes_it(tmp_path):
    bar, stopping = optional(
        tmp_path,
        "callbacks.progress_bar=tqdm",
        "callbacks.lr_monitor=false",
        "callbacks.early_stopping={monitor: val/mIoU, mode: max, patience: 5}",
    )
    assert type(bar) is TQDMProgressBar
    assert type(stopping) is EarlyStopping
    assert (stopping.monitor, stopping.mode, stopping.patience) == ("val/mIoU", "max", 5)
    assert optional(tmp_path, "callbacks.progress_bar=none", "callbacks.lr_monitor=false") == []


def test_a_users_callback_by_config_reaches_the_trainer(tmp_path):
    run = prepare_run(
        train_config(
            tmp_path,
            f"+callbacks.extra.mark._target_={__name__}.Mark",
            "+callbacks.extra.mark.label=mine",
        )
    )
    assert [c.label for c in run.trainer.callbacks if isinstance(c, Mark)] == ["mine"]


@pytest.mark.parametrize(
    ("target", "error", "message"),
    [
        ("seglightning.no_such.Callback", ValueError, r"^callbacks\.extra\.mine: cannot be built"),
        ("collections.OrderedDict", TypeError, r"^callbacks\.extra\.mine built OrderedDict: .*_target_ to a Callback"),
    ],
)
def test_a_callback_that_cannot_be_built_names_its_key(tmp_path, target, error, message):
    with pytest.raises(error, match=message):
        optional(tmp_path, f"+callbacks.extra.mine._target_={target}")
