"""The 2 losses x 2 architectures x 2 seeds sweep end to end: one command (joblib), the report
checked against every run's metrics.json, a rerun that skips all 8 jobs, a bit-for-bit rerun of one
run from its saved config, and the same recipe through submitit's local launcher."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from scipy import stats

from seglightning.cli import report
from seglightning.sweeps.report import OUTPUTS
from seglightning.sweeps.tables import is_bounded
from tests.sweeps.helpers import SHRINK, run_cli, tiny_model_searchpath

pytestmark = pytest.mark.slow

LOSSES, MODELS, SEEDS = ("ce", "dice"), ("tiny_unet", "tiny_deeplabv3plus"), (0, 1)
HEADLINE = ("mIoU", "mDice", "bF1", "bIoU", "pixel_acc", "ECE", "Brier", "NLL")


@dataclass
class Sweep:
    args: list[str]
    output: Path
    dir: Path
    log: str


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Sweep:
    root = tmp_path_factory.mktemp("sweep")
    args = ["-m", "experiment=loss_ablation", f"loss={','.join(LOSSES)}", f"model={','.join(MODELS)}",
            f"seed={','.join(map(str, SEEDS))}", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
            tiny_model_searchpath(root / "conf"), *SHRINK]
    proc = run_cli("seglightning-train", *args, output=root / "out")
    assert proc.returncode == 0, proc.stdout[-4000:]
    return Sweep(args, root / "out", root / "out" / "sweeps" / "loss_ablation", proc.stdout)


def run_dirs(sweep_dir: Path) -> dict[tuple[str, str, int], Path]:
    found = {}
    for metrics in sweep_dir.glob("*/metrics.json"):
        o = dict(
            line[2:].split("=", 1) for line in (metrics.parent / ".hydra" / "overrides.yaml").read_text().splitlines()
        )
        found[(o["loss"], o["model"], int(o["seed"]))] = metrics.parent
    return found


def metrics_of(path: Path) -> dict:
    return json.loads((path / "metrics.json").read_text())


def test_one_command_runs_every_job_of_the_grid(sweep):
    runs = run_dirs(sweep.dir)
    assert set(runs) == {(loss, model, seed) for loss in LOSSES for model in MODELS for seed in SEEDS}
    for (loss, model, seed), path in runs.items():
        assert metrics_of(path)["status"] == "complete", path
        config = yaml.safe_load((path / "config.yaml").read_text())
        assert (config["loss"]["name"], config["seed"], config["sweep_name"]) == (loss, seed, "loss_ablation")
        assert config["model"]["name"] == model.removeprefix("tiny_")
        assert (path / "checkpoints" / "last.ckpt").is_file()
    # the job dirs are named by the overrides, without the recipe/sweep keys
    assert all("experiment=" not in p.name and "sweep_name=" not in p.name for p in runs.values())
    # the multirun wrote the report at its end and printed the summary
    assert "8 of 8 jobs complete, 0 failed, 0 unfinished, 0 not started" in sweep.log
    assert all((sweep.dir / name).is_file() for name in OUTPUTS)


def test_report_aggregates_exactly_what_the_runs_recorded(sweep):
    for name in OUTPUTS:
        (sweep.dir / name).unlink()
    report([str(sweep.dir)])
    runs = run_dirs(sweep.dir)

    with open(sweep.dir / "runs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8
    for row in rows:
        result = metrics_of(sweep.dir / row["run_dir"])
        assert runs[(row["loss"], row["model"], int(row["seed"]))] == sweep.dir / row["run_dir"]
        assert row["status"] == "complete"
        for section in ("final", "best", "test"):
            prefix = "test/" if section == "test" else "val/"
            for key, value in result[section].items():
                assert float(row[f"{section}/{key.removeprefix(prefix)}"]) == value, (section, key)

    table = (sweep.dir / "results.md").read_text()
    means = {}
    for loss in LOSSES:
        for model in MODELS:
            line = next(ln for ln in table.splitlines() if ln.startswith(f"| {loss} | {model} |"))
            cells = [c.strip() for c in line.strip("|").split("|")]
            assert cells[2] == "2"  # seeds
            logged = metrics_of(runs[(loss, model, SEEDS[0])])["best"]
            for i, metric in enumerate(m for m in HEADLINE if f"val/{m}" in logged):
                text, std_text, ci_text = cells[3 + 3 * i: 6 + 3 * i]  # mean, std, 95 % CI columns
                values = np.array([metrics_of(runs[(loss, model, s)])["best"][f"val/{metric}"] for s in SEEDS])
                mean, std = values.mean(), values.std(ddof=1)
                low, high = stats.t.interval(0.95, len(SEEDS) - 1, loc=mean, scale=stats.sem(values))
                bounded = is_bounded(metric)  # scores in [0, 1]: the interval is clipped there
                low_text = f"{max(low, 0.0) if bounded else low:.4f}" + ("*" if bounded and low < 0 else "")
                high_text = f"{min(high, 1.0) if bounded else high:.4f}" + ("*" if bounded and high > 1 else "")
                assert [text.strip("*").removesuffix(" (tied)"), std_text, ci_text] == [
                    f"{mean:.4f}", f"{std:.4f}", f"[{low_text}, {high_text}]"
                ], (loss, model, metric)
                means[(loss, model, metric)] = (mean, text.startswith("**"))
    assert len({means[(loss, model, "mIoU")][0] for loss in LOSSES for model in MODELS}) == 4  # cells differ
    comparison = (sweep.dir / "comparison.md").read_text()
    assert "### bIoU" in comparison and "### ECE" in comparison and "## Paired over images (bIoU)" in comparison
    for name in ("heatmap.png", "bars.png", "paired.png"):
        with Image.open(sweep.dir / name) as image:
            assert image.format == "PNG" and min(image.size) > 100


def test_rerunning_the_sweep_skips_every_finished_job(sweep):
    before = {p: (p / "metrics.json").stat().st_mtime_ns for p in run_dirs(sweep.dir).values()}
    proc = run_cli("seglightning-train", *sweep.args, output=sweep.output)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert len(re.findall(r"already complete; skipping", proc.stdout)) == 8
    assert "Trainer.fit" not in proc.stdout
    assert {p: (p / "metrics.json").stat().st_mtime_ns for p in before} == before


def test_a_run_rerun_from_its_saved_config_reproduces_its_metrics_bit_for_bit(sweep, tmp_path):
    original = run_dirs(sweep.dir)[("dice", "tiny_deeplabv3plus", 1)]
    proc = run_cli(
        "seglightning-train",
        f"--config-dir={original}",
        "--config-name=config",
        f"run_dir={tmp_path / 'rerun'}",
        output=tmp_path / "out",
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    first, again = metrics_of(original), metrics_of(tmp_path / "rerun")
    for section in ("final", "best", "test"):
        assert again[section] == first[section], section


def test_the_same_recipe_runs_through_submitit_local(sweep, tmp_path):
    joblib_runs = run_dirs(sweep.dir)
    # CPU numbers depend on the thread count, which joblib's workers recorded in their config
    threads = yaml.safe_load((joblib_runs[("ce", "tiny_unet", 0)] / "config.yaml").read_text())["torch_threads"]
    args = [
        "-m",
        "experiment=loss_ablation",
        "sweep_name=submitit",
        f"loss={','.join(LOSSES)}",
        "model=tiny_unet",
        "seed=0",
        f"torch_threads={threads}",
        "hydra/launcher=submitit_local",
        tiny_model_searchpath(tmp_path / "conf"),
        *SHRINK,
    ]
    proc = run_cli("seglightning-train", *args, output=sweep.output)
    assert proc.returncode == 0, proc.stdout[-4000:]
    submitit_dir = sweep.output / "sweeps" / "submitit"
    assert (submitit_dir / ".submitit").is_dir()
    runs = run_dirs(submitit_dir)
    assert set(runs) == {(loss, "tiny_unet", 0) for loss in LOSSES}
    for key, path in runs.items():
        # same config, another launcher and process: the same numbers
        assert metrics_of(path)["best"] == metrics_of(joblib_runs[key])["best"], key
    assert (submitit_dir / "results.md").is_file()
