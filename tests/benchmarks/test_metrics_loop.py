"""The metric and loop benchmarks run end to end on tiny inputs, and their references agree."""

from __future__ import annotations

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
    assert all(row["identical"] for row in rows)
    text = metrics.report(rows, distance)
    assert "speed-up (goal >= 2)" in text and "ratio (goal <= 1.25)" in text
    assert text.count("| 2 x 24x40, 3 classes") == 2


@pytest.mark.slow
def test_loop_benchmark_command_shrunk(capsys) -> None:
    tiny = ["data.dataset.length=8", "data.batch_size=4", "data.val_batch_size=8", "model.base_channels=4",
            "callbacks.overlays.num_images=1", "trainer.accelerator=cpu"]
    result = loop.main(["--epochs", "1", "--repeats", "1", *tiny])
    assert result["bare"] > 0 and result["loop"] > 0 and len(result["ratios"]) == 1
    assert "median of the runs' bare / loop (goal >= 0.97)" in capsys.readouterr().out
