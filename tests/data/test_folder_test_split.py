"""The ``folder`` dataset's test split is ``splits/test.txt`` when it exists; without it the test
pass runs on val, and metrics.json, the printed table, per_image.csv and the sweep report say so."""

from __future__ import annotations

import csv
import json

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from seglightning.cli import CONFIG_DIR
from seglightning.data.check import main
from seglightning.sweeps import build_report, summary, write_report
from seglightning.testing import write_fixture
from seglightning.train import train
from tests.data.test_data_check import data_config
from tests.data.test_data_train import SMALL

WITH_TEST = {"train": 4, "val": 2, "test": 3}


@pytest.fixture(scope="module")
def with_test(tmp_path_factory):
    """A folder dataset with splits/{train,val,test}.txt."""
    return write_fixture("folder", tmp_path_factory.mktemp("folder_test"), counts=WITH_TEST)


def folder_config(root, run_dir):
    overrides = ["data=folder", f"data.root={root}", *(s for s in SMALL if s != "test_after_fit=false"),
                 "trainer.limit_test_batches=1", "data.val_batch_size=8"]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    with open_dict(cfg):
        cfg.run_dir = str(run_dir)
    return cfg


def test_splits_test_txt_is_the_test_split(with_test, datamodule):
    root = with_test
    splits = dict(data_config("folder", root)["data"]["splits"])
    dm = datamodule("folder", root, splits=splits)
    assert dm.splits["test"] == "test"
    assert sorted(s.id for s in dm.base_dataset("test").samples) == ["test_000", "test_001", "test_002"]


def test_without_splits_test_txt_the_test_split_is_val(written, datamodule):
    root = written("folder")
    dm = datamodule("folder", root, splits=dict(data_config("folder", root)["data"]["splits"]))
    assert dm.splits["test"] == "val"


def test_data_check_lists_every_split(with_test, written, capsys):
    assert main(data_config("folder", with_test)) == 0
    out = capsys.readouterr().out
    assert "test split: test\n" in out and any(line.split()[:2] == ["test", "3"] for line in out.splitlines())
    assert main(data_config("folder", written("folder"))) == 0
    assert "test split: val (the test pass runs on the val split: no test split of its own)" in capsys.readouterr().out


def test_a_test_pass_on_val_is_labelled_so_everywhere(written, tmp_path, capsys):
    sweep = tmp_path / "sweep"
    result = train(folder_config(written("folder"), sweep / "job"))
    assert result["test_split"] == "val"
    assert json.loads((sweep / "job" / "metrics.json").read_text())["test_split"] == "val"
    assert "test (= val)" in capsys.readouterr().out  # the metric table printed at the end
    with open(sweep / "job" / "per_image.csv", newline="") as f:
        assert {r["split"] for r in csv.DictReader(f)} == {"val"}

    report = build_report(sweep, section="test")
    assert report.section_title().startswith("test (= val) metrics of the best checkpoint: the test pass ran on")
    note = "NOTE the test pass ran on the val split (the dataset has no test split): test/ metrics are test (= val)"
    assert note in summary(report)
    write_report(report)
    assert "test (= val) metrics" in (sweep / "results-test.md").read_text()
    with open(sweep / "runs.csv", newline="") as f:
        assert next(csv.DictReader(f))["test_split"] == "val"


def test_a_real_test_split_keeps_the_test_label(with_test, tmp_path, capsys):
    result = train(folder_config(with_test, tmp_path / "job"))
    assert result["test_split"] == "test"
    assert "test (=" not in capsys.readouterr().out
    assert "test-split metrics" in build_report(tmp_path, section="test").section_title()
