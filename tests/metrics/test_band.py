"""The torch-free Boundary IoU band (``seglightning.metrics.band``) that the sweep gallery paints:
equal to Boundary IoU's torch band and, per class, to the boundary-iou-api's ``mask_to_boundary``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from seglightning.metrics.band import band_width, label_bands
from seglightning.metrics.boundary_iou import torch_bands
from seglightning.sweeps.gallery import boundary_band, error_panel
from tests.metrics.test_boundary_iou import VOID, mask_to_boundary, random_case

C = 4


def label_maps() -> np.ndarray:
    """Blobs with void, plus objects cut by the frame and 1-2 px lines (``[N, 40, 56]``, labels < C or VOID)."""
    _, gt = random_case(30, 3, 40, 56, C, void=0.15)
    gt[0, :, :7] = 1  # a band along three sides of the frame
    gt[0, 33:, 50:] = 2  # a corner
    gt[1, 12, 3:50] = 3  # a 1-px line
    gt[1, 20:22, :] = 2  # a 2-px bar across the image
    gt[2, 5:9, 5:9] = VOID  # a void hole
    return gt


@pytest.mark.parametrize("dilation", [0.02, 0.05, 1, 2, 4])
def test_numpy_band_equals_the_torch_band_and_mask_to_boundary(dilation):
    labels = label_maps()
    d = band_width(dilation, *labels.shape[1:])
    bands = label_bands(labels, C, d)
    expected = torch_bands(torch.from_numpy(labels), C, d).numpy()
    np.testing.assert_array_equal(bands, expected)
    assert bands[0, :, 0].all() and bands[0, 0, :7].all()  # the frame ring of the object cut by the frame
    assert not bands[labels == VOID].any()
    width = {"dilation_ratio": dilation} if dilation < 1 else {"pixels": dilation}  # the API's own rule for d
    for image, band in zip(labels, bands):  # per class: the API's band of the binary mask
        for c in range(C):
            reference = mask_to_boundary((image == c).astype(np.uint8), **width).astype(bool)
            np.testing.assert_array_equal(band & (image == c), reference)


def test_gallery_paints_the_band_bIoU_counts():
    truth = label_maps()[0]
    band = boundary_band(truth, VOID)
    np.testing.assert_array_equal(band, label_bands(truth, C, band_width(0.02, *truth.shape)))
    pred = truth.copy()
    pred[0, 30] = (truth[0, 30] + 1) % C  # on the frame, far from any edge: a boundary error
    pred[20, 30] = (truth[20, 30] + 1) % C
    lut = np.zeros((256, 3), np.uint8)
    _, (in_band, elsewhere) = error_panel(pred, truth, lut, VOID, band)
    valid = int((truth != VOID).sum())
    assert in_band * valid == 1 + int(band[20, 30]) and elsewhere * valid == 1 - int(band[20, 30])


def test_band_module_imports_without_torch():
    probe = "import sys, seglightning.metrics.band, seglightning.sweeps.gallery; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
