"""Every way of launching a sweep reports: the README's commands as written (shrunk), one subprocess
per launch form. The recipe with joblib and a narrowed recipe with submitit_local and sweep_name
run in test_sweep.py; here the command-line grids and the recipe widened into hydra.sweep.dir."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pytest

from seglightning.cli import report
from seglightning.sweeps.report import OUTPUTS
from tests.sweeps.helpers import SHRINK, run_cli, tiny_model_searchpath

pytestmark = pytest.mark.slow


def check_report(sweep_dir: Path, proc: subprocess.CompletedProcess, jobs: int) -> None:
    """The multirun ended with its report: every output, every job complete and none left out."""
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "no sweep report" not in proc.stdout
    assert f"{jobs} of {jobs} jobs complete, 0 failed, 0 unfinished, 0 not started" in proc.stdout
    missing = [name for name in OUTPUTS if not (sweep_dir / name).is_file()]
    assert not missing, missing


def test_a_command_line_grid_with_sweep_name_gets_the_full_report(tmp_path):
    """README: seglightning-train -m loss=ce,dice,lovasz model=... seed=0,1,2 sweep_name=my_grid, then
    seglightning-report outputs/sweeps/my_grid --baseline loss=ce,model=unet (3 losses x 2 seeds here)."""
    out = tmp_path / "outputs"
    proc = run_cli(
        "seglightning-train",
        "-m",
        "loss=ce,dice,lovasz",
        "model=tiny_unet",
        "seed=0,1",
        "sweep_name=my_grid",
        tiny_model_searchpath(tmp_path / "conf"),
        *SHRINK,
        output=out,
    )
    sweep = out / "sweeps" / "my_grid"
    check_report(sweep, proc, 6)
    runs = sorted(p.parent for p in sweep.glob("*/metrics.json"))
    assert len(runs) == 6 and all((r / "per_image.csv").is_file() for r in runs)
    with open(runs[0] / "per_image.csv", newline="") as f:
        images = list(csv.DictReader(f))
    assert {r["split"] for r in images} == {"test"} and len({r["id"] for r in images}) == len(images) > 0

    for name in OUTPUTS:
        (sweep / name).unlink()
    again = run_cli(
        "seglightning-report", "outputs/sweeps/my_grid", "--baseline", "loss=ce,model=tiny_unet", output=tmp_path
    )
    assert again.returncode == 0, again.stdout[-4000:]
    assert all((sweep / name).stat().st_size > 0 for name in OUTPUTS)
    with open(sweep / "results.csv", newline="") as f:
        cells = list(csv.DictReader(f))
    assert [(c["loss"], c["seeds"], c["mIoU/n"]) for c in cells] == [
        (loss, "0 1", "2") for loss in ("ce", "dice", "lovasz")
    ]
    with open(sweep / "comparison.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    boot = [r for r in rows if r["method"] == "images"]
    assert [(r["metric"], r["loss"]) for r in boot] == [  # against the baseline, ce: mIoU and bIoU per image
        ("mIoU", "dice"), ("bIoU", "dice"), ("mIoU", "lovasz"), ("bIoU", "lovasz")
    ]
    assert all(r["split"] == "test" and int(r["n"]) == len(images) for r in boot)
    assert all(len(r["per_seed"].split()) == 2 for r in rows if r["method"] == "seeds")


def test_an_unnamed_command_line_grid_through_joblib_reports_in_its_timestamped_dir(tmp_path, capsys):
    out = tmp_path / "out"
    proc = run_cli(
        "seglightning-train",
        "-m",
        "loss=ce,dice",
        "model=tiny_unet",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        tiny_model_searchpath(tmp_path / "conf"),
        *SHRINK,
        output=out,
    )
    (sweep,) = (out / "multirun").iterdir()
    check_report(sweep, proc, 2)
    report([str(sweep)])
    assert "2 of 2 jobs complete, 0 failed, 0 unfinished, 0 not started" in capsys.readouterr().out


def test_a_recipe_widened_on_the_command_line_into_hydra_sweep_dir_through_submitit(tmp_path, capsys):
    """The recipe's loss list replaced by one with a loss it does not have (focal), its models and
    seeds narrowed, the sweep dir given explicitly, the submitit_local launcher."""
    out, sweep = tmp_path / "out", tmp_path / "elsewhere" / "my_sweep"
    proc = run_cli(
        "seglightning-train",
        "-m",
        "experiment=loss_ablation",
        "loss=ce,focal",
        "model=tiny_unet",
        "seed=0",
        f"hydra.sweep.dir={sweep}",
        "hydra/launcher=submitit_local",
        tiny_model_searchpath(tmp_path / "conf"),
        *SHRINK,
        output=out,
    )
    check_report(sweep, proc, 2)
    report([str(sweep), "--baseline", "loss=focal"])
    printed = capsys.readouterr().out
    assert "2 of 2 jobs complete, 0 failed, 0 unfinished, 0 not started" in printed
    assert "Baseline: **loss=focal, model=tiny_unet**" in (sweep / "comparison.md").read_text()
