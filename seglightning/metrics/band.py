"""The boundary band of Boundary IoU (Cheng, Girshick, Dollár, Berg & Kirillov, CVPR 2021), as
``bowenc0221/boundary-iou-api``'s ``mask_to_boundary`` (``boundary_iou/utils/boundary_utils.py``)
draws it, on numpy arrays and without torch: the sweep report's gallery paints its errors with it,
and :mod:`~seglightning.metrics.boundary_iou` counts with it (its torch band, for device tensors,
is tested equal).

* Width: ``d = max(1, round(r * sqrt(H^2 + W^2)))`` for a dilation ratio ``r < 1`` (``round`` as
  Python's, like the API's ``int(round(...))``); a value ``r >= 1`` is a width of ``d = r`` pixels.
* Band of a binary mask ``M``: ``M & ~erode(pad0(M), 3x3 square, d iterations)``: ``M`` zero-padded
  by one pixel, eroded ``d`` times and cropped back, so an object cut by the image frame has a band
  along the frame too.

For every class of a label map at once: ``d`` erosions by the 3x3 square equal one erosion by the
``(2d+1)``-square window, so a pixel of label ``l`` lies in the band of ``labels == l`` iff the window
around it holds another label or reaches past the frame; labels ``>= num_classes`` (void) are in no
class and never in a band. OpenCV's rectangular grey dilation and erosion give the window's extremes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["band_width", "frame", "label_bands"]


def band_width(dilation: float, height: int, width: int) -> int:
    """Band width ``d`` in pixels: ``r`` itself if ``r >= 1``, else ``max(1, round(r * diagonal))``
    (``mask_to_boundary``: ``dilation = int(round(dilation_ratio * img_diag)); if dilation < 1: dilation = 1``)."""
    if dilation >= 1:
        return int(dilation)
    return max(1, int(round(dilation * math.sqrt(height * height + width * width))))


def label_bands(labels: np.ndarray, num_classes: int, d: int) -> np.ndarray:
    """``[..., H, W]`` bool: the pixel, of label ``l < num_classes``, lies in the band of width ``d``
    of ``labels == l`` (labels ``>= num_classes`` are in no class; non-negative labels)."""
    labels = np.asarray(labels)
    h, w = labels.shape[-2:]
    dtype = np.uint8 if num_classes < 255 else np.float32  # exact labels, OpenCV types
    clamped = np.minimum(labels, num_classes).astype(dtype).reshape(-1, h, w)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * d + 1, 2 * d + 1))
    mixed = np.empty(clamped.shape, bool)
    for i, image in enumerate(clamped):  # BORDER_REPLICATE: pixels outside the image do not count
        high = cv2.dilate(image, kernel, borderType=cv2.BORDER_REPLICATE)
        low = cv2.erode(image, kernel, borderType=cv2.BORDER_REPLICATE)
        np.not_equal(high, low, out=mixed[i])
    frame(mixed, d)
    return mixed.reshape(labels.shape) & (labels < num_classes)


def frame(mixed: np.ndarray | Tensor, d: int) -> None:
    """Mark the pixels within ``d`` of the frame in ``[B, H, W]`` (numpy or torch): their window reaches
    the zero padding."""
    mixed[:, :d] = True
    mixed[:, -d:] = True
    mixed[:, :, :d] = True
    mixed[:, :, -d:] = True
