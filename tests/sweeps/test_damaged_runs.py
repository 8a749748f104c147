"""The report on damaged sweeps: each unreadable file is named and its run left out (runs.csv, the
summary, results.md); the per-image bootstrap says when the runs disagree on the image set."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from seglightning.cli import report
from seglightning.sweeps import build_report, summary
from seglightning.sweeps.hydra_callback import SweepSummary
from tests.sweeps.test_report import fake_run, write_per_image


def grid(sweep: Path, images: int = 0) -> dict[tuple[str, int], Path]:
    """Two losses x two seeds of complete runs, with ``per_image.csv`` of ``images`` rows."""
    rng = np.random.default_rng(0)
    runs = {}
    for loss in ("ce", "dice"):
        for seed in (0, 1):
            runs[(loss, seed)] = fake_run(sweep, loss, "unet", seed, rng=rng)
            if images:
                write_per_image(runs[(loss, seed)], rng, images, 0.5)
    return runs


def runs_csv(sweep: Path) -> dict[str, dict[str, str]]:
    with open(sweep / "runs.csv", newline="") as f:
        return {r["run_dir"]: r for r in csv.DictReader(f)}


def assert_left_out(sweep: Path, run: Path, reason: str, capsys) -> None:
    """``run`` is named with ``reason`` in runs.csv, results.md and the summary, and its cell has one seed."""
    name = run.name
    report([str(sweep)])
    capsys.readouterr()
    row = runs_csv(sweep)[name]
    assert row["status"] == "unreadable" and reason in row["error"], row
    assert f"`{name}`: {row['error']}" in (sweep / "results.md").read_text()
    built = build_report(sweep)
    assert f"UNREADABLE {name} (left out): {row['error']}" in summary(built)
    assert "1 unreadable (left out)" in built.status_line()
    ce = next(c for c in built.cells if c.key[0] == "ce")
    assert len(ce.runs) == 1 and ce.runs[0].path != run


def test_a_garbage_config_yaml_is_named_and_its_run_left_out(tmp_path, capsys):
    runs = grid(tmp_path)
    (runs[("ce", 0)] / "config.yaml").write_text("seed: [0\n  : : {\n")
    assert_left_out(tmp_path, runs[("ce", 0)], "config.yaml: ParserError", capsys)


def test_an_empty_config_yaml_is_named(tmp_path, capsys):
    runs = grid(tmp_path)
    (runs[("ce", 0)] / "config.yaml").write_text("")  # a full disk with a non-atomic write
    assert_left_out(tmp_path, runs[("ce", 0)], "config.yaml: expected a mapping, found nothing (empty file)", capsys)


def test_a_corrupt_metrics_json_is_unreadable_not_unfinished(tmp_path, capsys):
    runs = grid(tmp_path)
    (runs[("ce", 0)] / "metrics.json").write_text('{"status": "complete", "best": {"val/mIoU": 0.')
    assert_left_out(tmp_path, runs[("ce", 0)], "metrics.json: JSONDecodeError", capsys)
    assert "0 unfinished" in build_report(tmp_path).status_line()


def test_a_garbage_per_image_csv_is_named_and_its_run_left_out(tmp_path, capsys):
    runs = grid(tmp_path, images=6)
    (runs[("ce", 0)] / "per_image.csv").write_text("what,is\nthis,file\n")
    assert_left_out(tmp_path, runs[("ce", 0)], "per_image.csv: not a per-image table (missing column id", capsys)


def test_a_per_image_csv_cut_inside_a_row_names_the_line(tmp_path, capsys):
    runs = grid(tmp_path, images=6)
    path = runs[("ce", 0)] / "per_image.csv"
    path.write_text(path.read_text()[:-9])  # the last row loses its last counts
    assert_left_out(tmp_path, runs[("ce", 0)], "per_image.csv, line 7:", capsys)


def test_the_end_of_sweep_callback_reports_a_damaged_sweep_instead_of_raising(tmp_path, capsys):
    runs = grid(tmp_path, images=6)
    (runs[("dice", 1)] / "per_image.csv").write_text("what,is\nthis,file\n")
    SweepSummary().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}}))
    out = capsys.readouterr().out
    assert f"UNREADABLE {runs[('dice', 1)].name} (left out): per_image.csv: not a per-image table" in out
    assert (tmp_path / "comparison.csv").is_file()


def test_a_per_image_csv_cut_short_bootstraps_the_common_images_and_says_so(tmp_path, capsys):
    runs = grid(tmp_path, images=10)
    path = runs[("dice", 1)] / "per_image.csv"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:8]))  # header + 7 whole rows
    report([str(tmp_path)])
    capsys.readouterr()
    with open(tmp_path / "comparison.csv", newline="") as f:
        boot = next(r for r in csv.DictReader(f) if r["method"] == "images")
    assert boot["n"] == "7"
    note = "the runs disagree on the image set; the bootstrap uses the 7 images common to all"
    text = (tmp_path / "comparison.md").read_text()
    assert note in text and f"{runs[('dice', 1)].name}: 7" in text and f"{runs[('ce', 0)].name}: 10" in text
    assert f"IMAGES dice, unet: {note}" in summary(build_report(tmp_path))


def test_runs_with_the_same_images_get_no_note(tmp_path):
    grid(tmp_path, images=10)
    built = build_report(tmp_path)
    assert [c.image_note for c in built.comparisons if c.bootstrap] == [None]
