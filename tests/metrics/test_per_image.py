"""Per-image scores of an evaluation pass: each image's row equals the dataset-level metrics run on
that image alone, the rows sum to the pass's confusion matrix, and per_image.csv reads back."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from seglightning.metrics import BoundaryF1, ConfusionMetrics, EvaluationMetrics, bf1_name
from seglightning.sweeps.per_image import read_image_counts
from seglightning.tracking.media import per_image_table

C, VOID = 3, 255
NAMES = ["bg", "a", "b"]


def batches(seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor, list[dict]]]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for b in range(2):
        target = torch.randint(0, C, (3, 16, 16), generator=g)
        target[:, :2] = VOID
        target[1, 4:12, 4:12] = 2
        preds = torch.where(
            torch.rand(target.shape, generator=g) < 0.7,
            target.clamp_max(C - 1),
            torch.randint(0, C, target.shape, generator=g),
        )
        preds[2] = 0  # an image predicting one class only
        out.append((preds, target, [{"id": f"img{b}{i}"} for i in range(3)]))
    return out


def test_per_image_rows_are_the_metrics_of_each_image_alone(tmp_path):
    metrics = EvaluationMetrics(C, VOID, NAMES, [0, 2])
    data = batches()
    for preds, target, meta in data:
        metrics.update(preds, target, torch.tensor(0.5), meta)
    snapshot = metrics.snapshot()
    per_image = snapshot.per_image
    assert per_image.ids == sorted(m["id"] for _, _, meta in data for m in meta)
    # the rows add up to the pass's confusion matrix
    confmat = snapshot.confmat
    np.testing.assert_array_equal(per_image.tp.sum(0), np.diag(confmat))
    np.testing.assert_array_equal(per_image.fp.sum(0), confmat.sum(0) - np.diag(confmat))
    np.testing.assert_array_equal(per_image.fn.sum(0), confmat.sum(1) - np.diag(confmat))
    for preds, target, meta in data:
        for i, m in enumerate(meta):
            row = per_image.ids.index(m["id"])
            alone = ConfusionMetrics(C, ignore_index=VOID)
            alone.update(preds[i : i + 1], target[i : i + 1])
            scores = alone.compute()
            np.testing.assert_allclose(per_image.iou()[row], scores["IoU"].numpy(), equal_nan=True)
            np.testing.assert_allclose(per_image.dice()[row], scores["Dice"].numpy(), equal_nan=True)
            assert per_image.valid_pixels[row] == int((target[i] != VOID).sum())
            bf1 = BoundaryF1(C, tolerance=[0, 2], ignore_index=VOID)
            bf1.update(preds[i : i + 1], target[i : i + 1])
            for name, column in zip((bf1_name(0), bf1_name(2)), bf1.per_class().numpy()):
                np.testing.assert_allclose(per_image.bf1[name][row], column, rtol=1e-6, equal_nan=True)

    path = per_image_table(snapshot, tmp_path, "test")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == per_image.ids and {r["split"] for r in rows} == {"test"}
    assert float(rows[4]["IoU/b"]) == pytest.approx(per_image.iou()[4, 2], nan_ok=True)
    split, counts = read_image_counts(tmp_path)
    assert split == "test" and counts.ids == per_image.ids
    np.testing.assert_array_equal(counts.tp, per_image.tp)
    np.testing.assert_array_equal(counts.fn, per_image.fn)

    metrics.reset()
    assert metrics.snapshot().per_image is None  # a new pass starts empty
