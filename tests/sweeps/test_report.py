"""seglightning-report on hand-made sweep dirs: aggregation, partial sweeps, grid columns, errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from omegaconf import OmegaConf
from PIL import Image
from scipy import stats

from seglightning.cli import report
from seglightning.sweeps import build_report, write_report
from seglightning.sweeps.report import OUTPUTS, output_name

CLASSES = ("background", "disk")


def metrics(rng: np.random.Generator, prefix: str) -> dict[str, float]:
    values = {f"{prefix}{m}": float(rng.random()) for m in ("mIoU", "mDice", "bF1", "pixel_acc", "loss")}
    return values | {f"{prefix}IoU/{c}": float(rng.random()) for c in CLASSES}


def fake_run(sweep: Path, loss: str, model: str, seed: int, status: str = "complete", extra: tuple[str, ...] = (),
             rng: np.random.Generator | None = None) -> Path:
    """A Hydra job dir as ``seglightning-train -m`` leaves it (metrics random, status as given)."""
    overrides = ["experiment=grid", f"loss={loss}", f"model={model}", f"seed={seed}", *extra]
    path = sweep / ",".join(o for o in overrides if not o.startswith("experiment"))
    (path / ".hydra").mkdir(parents=True)
    (path / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (path / ".hydra" / "hydra.yaml").write_text(
        yaml.safe_dump({"hydra": {"runtime": {"choices": {"loss": loss, "model": model}}}})
    )
    (path / "config.yaml").write_text(yaml.safe_dump({"seed": seed, "loss": {"name": loss}, "model": {"name": "x"}}))
    rng = rng or np.random.default_rng(seed)
    result: dict = {"status": status}
    if status == "complete":
        result |= {
            "monitor": "val/mIoU",
            "final": {"epoch": 3, "step": 40, **metrics(rng, "val/")},
            "best": {"epoch": 2, "step": 30, **metrics(rng, "val/")},
            "test": metrics(rng, "test/"),
        }
    elif status == "failed":
        result["error"] = "ValueError: Invalid learning rate: -1\nmore lines"
    (path / "metrics.json").write_text(json.dumps(result))
    return path


def write_multirun(sweep: Path, params: dict[str, str], task: list[str]) -> None:
    OmegaConf.save(
        OmegaConf.create({"hydra": {"sweeper": {"params": params}, "overrides": {"task": task}}}),
        sweep / "multirun.yaml",
    )


def cell_line(table: str, *key: str) -> list[str]:
    line = next(ln for ln in table.splitlines() if ln.startswith("| " + " | ".join(key) + " |"))
    return [c.strip() for c in line.strip("|").split("|")]


def expected_text(values: np.ndarray) -> list[str]:
    """mean, std, [95 % t-interval] (computed with scipy, clipped to [0, 1], * marking a clipped bound)."""
    if len(values) < 2:
        return [f"{values.mean():.4f}", "–", "–"]
    low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    low_text = f"{max(low, 0):.4f}" + ("*" if low < 0 else "")
    high_text = f"{min(high, 1):.4f}" + ("*" if high > 1 else "")
    return [f"{values.mean():.4f}", f"{values.std(ddof=1):.4f}", f"[{low_text}, {high_text}]"]


def test_cells_are_mean_std_and_t_interval_over_seeds(tmp_path):
    rng = np.random.default_rng(0)
    for loss in ("ce", "dice"):
        for seed in (0, 1, 2):
            fake_run(tmp_path, loss, "unet", seed, rng=rng)
    fake_run(tmp_path, "lovasz", "unet", 0, rng=rng)
    result = build_report(tmp_path)
    write_report(result)
    table = (tmp_path / "results.md").read_text()
    with open(tmp_path / "results.csv", newline="") as f:
        rows = {r["loss"]: r for r in csv.DictReader(f)}
    for loss, seeds in (("ce", 3), ("dice", 3), ("lovasz", 1)):
        runs = [json.loads(p.read_text())["best"] for p in tmp_path.glob(f"loss={loss},*/metrics.json")]
        cells = cell_line(table, loss, "unet")
        assert cells[2] == str(seeds) and rows[loss]["seeds"] == " ".join(map(str, range(seeds)))
        for i, metric in enumerate(("mIoU", "mDice", "bF1", "pixel_acc")):
            values = np.array([r[f"val/{metric}"] for r in runs])
            mean, std, ci = cells[3 + 3 * i: 6 + 3 * i]  # mean, std and CI in their own columns
            assert [mean.strip("*").removesuffix(" (tied)"), std, ci] == expected_text(values)
            assert float(rows[loss][f"{metric}/mean"]) == pytest.approx(values.mean())
            assert int(rows[loss][f"{metric}/n"]) == seeds
            if seeds > 1:
                low, high = stats.t.interval(0.95, seeds - 1, loc=values.mean(), scale=stats.sem(values))
                assert (float(rows[loss][f"{metric}/ci_low"]), float(rows[loss][f"{metric}/ci_high"])) == (
                    pytest.approx(max(low, 0.0)),
                    pytest.approx(min(high, 1.0)),
                )
                assert rows[loss][f"{metric}/ci_clipped"] == ("yes" if low < 0 or high > 1 else "")
    assert "7 of 7 jobs complete, 0 failed, 0 unfinished, 0 not started" not in table  # no multirun.yaml: unknown
    assert "7 of 7 jobs complete, 0 failed, 0 unfinished" in table


def set_metric(run: Path, metric: str, value: float) -> None:
    result = json.loads((run / "metrics.json").read_text())
    result["best"][f"val/{metric}"] = value
    (run / "metrics.json").write_text(json.dumps(result))


def test_best_is_bold_only_where_its_interval_clears_the_runner_up(tmp_path):
    values = {"ce": (0.80, 0.81, 0.82), "dice": (0.50, 0.52, 0.51), "lovasz": (0.60, 0.64, 0.59)}
    for loss, per_seed in values.items():
        for seed, v in enumerate(per_seed):
            run = fake_run(tmp_path, loss, "unet", seed)
            set_metric(run, "mIoU", v)
            set_metric(run, "mDice", {"ce": 0.70, "dice": 0.71, "lovasz": 0.40}[loss] + 0.05 * seed)
    write_report(build_report(tmp_path))
    table = (tmp_path / "results.md").read_text()
    miou = {loss: cell_line(table, loss, "unet")[3] for loss in values}
    mdice = {loss: cell_line(table, loss, "unet")[6] for loss in values}
    assert miou["ce"].startswith("**") and not any(
        miou[k].startswith("**") or "tied" in miou[k] for k in ("dice", "lovasz")
    )
    # mDice: dice's mean is highest but ce's interval overlaps it -> both tied, lovasz (separated) not
    assert mdice["dice"].endswith("(tied)") and mdice["ce"].endswith("(tied)") and "tied" not in mdice["lovasz"]
    assert not any(t.startswith("**") for t in mdice.values())
    with open(tmp_path / "results.csv", newline="") as f:
        ranks = {r["loss"]: (r["mIoU/rank"], r["mDice/rank"]) for r in csv.DictReader(f)}
    assert ranks == {"ce": ("best", "tied"), "dice": ("", "tied"), "lovasz": ("", "")}


def write_per_image(run: Path, rng: np.random.Generator, images: int, quality: float) -> None:
    header = ["split", "id", "valid_pixels", *(f"{k}/{c}" for k in ("TP", "FP", "FN") for c in CLASSES)]
    with open(run / "per_image.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for i in range(images):
            tp = rng.integers(0, 40, 2) + int(20 * quality)
            writer.writerow(["test", f"img{i:03d}", 0, *tp, *rng.integers(0, 30, 2), *rng.integers(0, 30, 2)])


def test_comparison_pairs_seeds_against_the_baseline_and_bootstraps_images(tmp_path, capsys):
    rng = np.random.default_rng(1)
    runs = {}
    for loss, quality in (("ce", 0.0), ("dice", 1.0), ("lovasz", 0.2)):
        for seed in (0, 1, 2, 3):
            runs[(loss, seed)] = fake_run(tmp_path, loss, "unet", seed, rng=rng)
            write_per_image(runs[(loss, seed)], rng, 20, quality)
    report([str(tmp_path), "--baseline", "loss=dice"])
    assert "comparison.md" in capsys.readouterr().out
    with open(tmp_path / "comparison.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["loss"] for r in rows} == {"ce", "lovasz"}  # the baseline is not compared with itself
    for loss in ("ce", "lovasz"):
        for metric in ("mIoU", "bF1"):
            row = next(r for r in rows if (r["loss"], r["metric"], r["method"]) == (loss, metric, "seeds"))
            base = np.array(
                [
                    json.loads((runs[("dice", s)] / "metrics.json").read_text())["best"][f"val/{metric}"]
                    for s in range(4)
                ]
            )
            cell = np.array(
                [json.loads((runs[(loss, s)] / "metrics.json").read_text())["best"][f"val/{metric}"] for s in range(4)]
            )
            d = cell - base
            assert [float(x.split(":")[1]) for x in row["per_seed"].split()] == pytest.approx(list(d))
            low, high = stats.t.interval(0.95, 3, loc=d.mean(), scale=stats.sem(d))
            assert (float(row["difference"]), float(row["ci_low"]), float(row["ci_high"])) == (
                pytest.approx(d.mean()),
                pytest.approx(low),
                pytest.approx(high),
            )
            p = stats.permutation_test(
                (cell, base),
                lambda x, y, axis=-1: np.mean(x - y, axis=axis),
                vectorized=True,
                permutation_type="samples",
                n_resamples=np.inf,
            ).pvalue
            assert float(row["p_value"]) == pytest.approx(p)
        boot = next(r for r in rows if (r["loss"], r["method"]) == (loss, "images"))
        assert boot["metric"] == "mIoU" and boot["n"] == "20" and boot["split"] == "test"
        assert float(boot["ci_low"]) < float(boot["difference"]) < float(boot["ci_high"])
    # ce is far below dice per image: the image bootstrap's interval excludes 0
    ce_boot = next(r for r in rows if (r["loss"], r["method"]) == ("ce", "images"))
    assert float(ce_boot["ci_high"]) < 0
    text = (tmp_path / "comparison.md").read_text()
    assert "Baseline: **loss=dice, model=unet** (4 seeds)" in text and "## Paired over images (mIoU)" in text
    with Image.open(tmp_path / "paired.png") as image:
        assert image.format == "PNG"
    with pytest.raises(SystemExit, match="--baseline loss=focal matches no cell"):
        report([str(tmp_path), "--baseline", "loss=focal"])
    with pytest.raises(SystemExit, match="optim.lr is not a grid column"):
        report([str(tmp_path), "--baseline", "optim.lr=1"])


def test_a_partial_sweep_lists_failed_unfinished_and_not_started_jobs(tmp_path):
    write_multirun(tmp_path, {"loss": "ce,dice", "model": "unet", "seed": "0,1,2"}, ["experiment=grid", "seed=0,1,2"])
    fake_run(tmp_path, "ce", "unet", 0)
    fake_run(tmp_path, "ce", "unet", 1)
    fake_run(tmp_path, "dice", "unet", 0)
    fake_run(tmp_path, "ce", "unet", 2, status="failed")
    fake_run(tmp_path, "dice", "unet", 1, status="running")
    (tmp_path / ".submitit" / "123").mkdir(parents=True)  # launcher files are not runs
    result = build_report(tmp_path)
    assert result.status_line() == "3 of 6 jobs complete, 1 failed, 1 unfinished, 1 not started"
    assert result.pending == [{"experiment": "grid", "loss": "dice", "model": "unet", "seed": "2"}]
    written = write_report(result)
    assert set(written) == {
        "runs.csv",
        "results.csv",
        "results.md",
        "comparison.csv",
        "comparison.md",
        "heatmap.png",
        "bars.png",
        "paired.png",
        "ranks.csv",
        "ranks.md",
        "report.html",  # no cost, predictions or per-image results: no cost.png, gallery, worst images, ranks.png
    }
    table = (tmp_path / "results.md").read_text()
    assert "## Failed runs" in table and "ValueError: Invalid learning rate: -1" in table and "more lines" not in table
    assert "## Unfinished runs" in table and "loss=dice,model=unet,seed=1" in table
    with open(tmp_path / "runs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["status"] for r in rows) == ["complete"] * 3 + ["failed", "incomplete"]
    failed = next(r for r in rows if r["status"] == "failed")
    assert failed["error"].startswith("ValueError") and failed["best/mIoU"] == ""


def test_a_sweep_with_nothing_finished_gets_its_tables_only(tmp_path):
    fake_run(tmp_path, "ce", "unet", 0, status="running")
    assert set(write_report(build_report(tmp_path))) == {"runs.csv", "results.csv", "results.md", "report.html"}
    assert "0 of 1 jobs complete, 0 failed, 1 unfinished" in (tmp_path / "results.md").read_text()


def test_an_override_that_varies_becomes_a_grid_column(tmp_path):
    for lr in ("0.001", "0.01"):
        for seed in (0, 1):
            fake_run(tmp_path, "ce", "unet", seed, extra=(f"optim.lr={lr}", "trainer.max_epochs=2"))
    result = build_report(tmp_path, "test")
    assert result.columns == ["loss", "model", "optim.lr"]  # constant overrides are not grid columns
    assert [c.key for c in result.cells] == [("ce", "unet", "0.001"), ("ce", "unet", "0.01")]
    write_report(result)
    assert cell_line((tmp_path / "results-test.md").read_text(), "ce", "unet", "0.01")[3] == "2"
    assert "test-split metrics" in (tmp_path / "results-test.md").read_text()


def test_runs_written_without_hydra_are_labelled_from_their_config(tmp_path):
    path = tmp_path / "run"
    path.mkdir()
    (path / "config.yaml").write_text(
        yaml.safe_dump({"seed": 3, "loss": {"terms": [{"name": "ce"}, {"name": "dice"}]}, "model": {"name": "unet"}})
    )
    (path / "metrics.json").write_text(json.dumps({"status": "complete", "best": {"val/mIoU": 0.5}}))
    result = build_report(tmp_path)
    assert [(r.labels, r.seed) for r in result.runs] == [({"loss": "ce+dice", "model": "unet"}, 3)]
    assert result.pending is None and result.status_line() == "1 of 1 jobs complete, 0 failed, 0 unfinished"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{missing}"], "does not exist"),
        (["{sweep}", "--rows", "optim.lr"], "--rows optim.lr: not a grid column"),
        (["{sweep}", "--metrics", "test"], "no complete run"),
        (["{empty}"], "no run directories"),
    ],
)
def test_cli_errors_name_the_problem(tmp_path, capsys, args, message):
    sweep = tmp_path / "sweep"
    run = fake_run(sweep, "ce", "unet", 0)
    result = json.loads((run / "metrics.json").read_text())
    del result["test"]
    (run / "metrics.json").write_text(json.dumps(result))
    (tmp_path / "empty").mkdir()
    paths = {"missing": tmp_path / "nope", "sweep": sweep, "empty": tmp_path / "empty"}
    with pytest.raises(SystemExit) as exit_info:
        report([a.format(**paths) for a in args])
    assert message in str(exit_info.value.code)


def test_cli_writes_the_outputs_and_prints_the_table(tmp_path, capsys):
    for seed in (0, 1):
        fake_run(tmp_path, "ce", "unet", seed)
        fake_run(tmp_path, "ce", "deeplabv3plus", seed)
    report([str(tmp_path), "--metrics", "final"])
    out = capsys.readouterr().out
    assert "4 of 4 jobs complete" in out and "| ce | deeplabv3plus | 2 |" in out
    written = [output_name(name, "final") for name in OUTPUTS if name != "ranks.png"]  # no per_image.csv
    assert "results-final.md" in written and "runs.csv" in written
    assert all((tmp_path / name).stat().st_size > 0 for name in written)
    # the default section's report beside it: each page shows its own section's files only
    report([str(tmp_path)])
    best_page, final_page = (tmp_path / "report.html").read_text(), (tmp_path / "report-final.html").read_text()
    assert "results-final.csv" in final_page and "results-final.csv" not in best_page
    assert "heatmap-final.png" not in best_page and "heatmap.png" not in final_page


def test_boundary_tolerance_columns_in_numeric_order():
    from seglightning.sweeps.cells import metric_names
    from seglightning.sweeps.runs import Run

    names = ["bF1@12px", "bF1@3px", "bF1@5px", "bF1@0.005diag", "bF1@0.0005diag", "mIoU"]
    run = Run(Path("r"), "complete", {}, {"loss": "ce", "model": "unet"}, 0, {"best": {f"val/{n}": 0.5 for n in names}})
    assert metric_names([run], "best") == [
        "mIoU", "bF1@0.0005diag", "bF1@0.005diag", "bF1@3px", "bF1@5px", "bF1@12px"
    ]
