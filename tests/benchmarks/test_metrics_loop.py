"""The metric and loop benchmarks run end to end on tiny inputs, and their references agree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import loop, metrics
from benchmarks.losses import IGNORE, blob_masks
from seglightning.metrics import BoundaryF1


def test_davis_reference_equals_boundary_f1_on_realistic_predictions() -> None:
    target = blob_masks(2, 4, 48, seed=5)
    for kind in ("smooth", "noisy"):
        preds = metrics.predictions(target, 4, kind)
        ours = BoundaryF1(4, tolerance=metrics.TOLERANCE, ignore_index=IGNORE)
        ours.update(preds, target)
        reference = metrics.davis_boundary_f1(preds.numpy(), target.numpy(), 4)
        np.testing.assert_allclose(ours.f_sum[0].double().numpy() / 2**40, reference, atol=1e-9)
        assert 0 < reference.sum() < ours.count.sum()  # some but not all boundaries matched


def test_metric_rows_and_report_on_tiny_inputs() -> None:
    rows = metrics.boundary_rows(2, 3, (24, 40), repeats=1)
    distance = metrics.distance_rows(3, (24, 40), repeats=1)
    assert all(row["identical"] and row["biou_identical"] for row in rows)  # same F, same band counts
    text = metrics.report(rows, distance)
    for row in rows:  # each input has a row in the three tables, showing the measured times
        t = row["times"]
        assert all(v > 0 for v in t.values()), t
        lines = [line for line in text.splitlines() if line.startswith(f"| {row['input']} |")]
        f1, biou, opt_in = ([c.strip() for c in line.strip("|").split("|")] for line in lines)
        assert f1[1:4] == [f"{t['ours'] * 1e3:.1f}", f"{t['davis'] * 1e3:.1f}", f"{t['davis'] / t['ours']:.1f}x"]
        assert biou[1] == f"{t['biou'] * 1e3:.1f}" and biou[4] == f"{100 * t['biou'] / t['forward']:.1f} %"
        assert biou[7] == f"{100 * t['calibration'] / t['forward']:.1f} %"
        assert opt_in[1] == f"{t['surface'] * 1e3:.1f}" and opt_in[3] == f"{t['objects'] * 1e3:.1f}"
    (field,) = [line for line in text.splitlines() if line.startswith(f"| {distance[0]['input']} |")]
    ours, bare = distance[0]["times"]["ours"], distance[0]["times"]["bare"]
    assert field.strip("|").split("|")[3].strip() == f"{ours / bare:.2f}"


def _bench(*args: str) -> str:
    """``python -m benchmarks <args>`` as the README writes it; its standard output."""
    done = subprocess.run([sys.executable, "-m", "benchmarks", *args], capture_output=True, text=True, timeout=600,
                          cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_loop_benchmark_command_shrunk() -> None:
    """README: ``python -m benchmarks loop``, shrunk to one epoch, one run, a tiny model and data."""
    tiny = ["data.dataset.length=8", "data.batch_size=4", "data.val_batch_size=8", "model.base_channels=4",
            "callbacks.overlays.num_images=1", "trainer.accelerator=cpu"]
    out = _bench("loop", "--", "--epochs", "1", "--repeats", "1", *tiny)
    assert "median of the runs' bare / loop (goal >= 0.97)" in out
    row = next(line for line in out.splitlines() if line.startswith("| ") and line[2].isdigit())
    bare, loop_s, speed, runs = (cell.strip() for cell in row.strip("|").split("|"))
    assert float(bare) > 0 and float(loop_s) > 0 and float(speed) == pytest.approx(float(runs), abs=1e-3)


@pytest.mark.slow
def test_metrics_benchmark_command_shrunk() -> None:
    """README: ``python -m benchmarks metrics -- --repeats 5``, shrunk to one repeat of the 64x64 rows."""
    out = _bench("metrics", "--", "--repeats", "1", "--quick")
    rows = [line for line in out.splitlines() if line.startswith("| 32 x 64x64, 5 classes")]
    assert len(rows) == 6  # smooth and noisy in the boundary F1, bIoU/calibration and opt-in tables
    assert all(row.rstrip().endswith("| yes |") for row in rows[:2])  # identical F
    assert all(row.split("|")[6].strip() == "yes" for row in rows[2:4])  # identical band counts


def test_unknown_benchmark_is_named() -> None:
    done = subprocess.run([sys.executable, "-m", "benchmarks", "lop"], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parents[2])
    assert done.returncode != 0 and "unknown benchmark(s) ['lop']" in done.stderr and "'loop'" in done.stderr


@pytest.mark.slow
def test_interleaved_bare_loop_leaves_the_shared_run_unchanged(tmp_path) -> None:
    """The bare loop runs step by step inside the shared loop's fit: as many training steps and one
    validation + checkpoint per epoch, with the RNG put back, so the shared run trains exactly as
    it would alone (same weights, and the same RNG states at every batch)."""
    import random

    import lightning as L
    import torch

    from seglightning import train as train_mod
    from seglightning.run.prepare import pin_torch_threads

    tiny = ["trainer.max_epochs=2", "data.dataset.length=12", "data.batch_size=4", "data.val_batch_size=8",
            "model.base_channels=4", "callbacks.overlays.num_images=1", "trainer.accelerator=cpu"]

    class RngProbe(L.Callback):
        def __init__(self) -> None:
            self.states: list[tuple] = []

        def _record(self) -> None:
            self.states.append((torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()))

        def on_train_batch_start(self, *args) -> None:
            self._record()

        def on_train_batch_end(self, *args) -> None:
            self._record()

    def fit(name: str, interleave: bool) -> tuple[dict[str, torch.Tensor], list[tuple], L.Callback | None]:
        cfg = loop.compose(tiny, tmp_path / name)
        pin_torch_threads(cfg)
        L.seed_everything(cfg.seed, workers=True)
        callback = loop._interleaved(loop.BareLoop(cfg, tmp_path / name / "bare")) if interleave else None
        probe = RngProbe()  # after the interleaving callback: sees the states the shared loop goes on with
        train_mod.train(cfg, callbacks=[callback, probe] if callback else [probe])
        weights = torch.load(tmp_path / name / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
        return weights, probe.states, callback

    alone, alone_rng, _ = fit("alone", interleave=False)
    beside, beside_rng, callback = fit("beside", interleave=True)
    assert alone.keys() == beside.keys()
    assert all(torch.equal(alone[k], beside[k]) for k in alone)
    assert len(alone_rng) == len(beside_rng) == 2 * 2 * 3
    for (t1, n1, p1), (t2, n2, p2) in zip(alone_rng, beside_rng):
        assert torch.equal(t1, t2) and np.array_equal(n1, n2) and p1 == p2
    assert callback.steps == 2 * 3 and callback.seconds > 0  # 12 samples / 4 per batch, 2 epochs
    assert callback.validated == [0, 1]  # the bare loop validated after each of its epochs
    assert (tmp_path / "beside" / "bare" / "last.ckpt").is_file()
