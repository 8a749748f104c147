"""Random scale + pad + random crop rendered in one pass (``RandomScaleCrop``), and a LUT Normalize.

``RandomScaleCrop(height, width, scale=(lo, hi))`` produces exactly the geometry of the albumentations
chain ``RandomScale(scale_limit=(lo - 1, hi - 1)) -> PadIfNeeded(height, width, center, constant) ->
RandomCrop(height, width)`` without materialising the scaled (up to 4x the pixels) and padded images:

- it draws the same random numbers in the same order from ``self.py_random`` (the scale in
  ``get_params``, then the crop start fractions ``h_start, w_start`` in
  ``get_params_dependent_on_data``), so ``Compose.set_random_seed`` drives it as it drove the chain;
- the scaled size is ``int(H * s), int(W * s)`` (as ``RandomScale``), padding is centred
  (``int((crop - size) / 2)`` before), and the crop offset is ``int((padded - crop + 1) * start)``;
- image: one ``cv2.warpAffine`` (bilinear) of only the source rows/columns the crop window needs,
  with the pixel-centre mapping ``src = (dst + offset + 0.5) * (size / scaled_size) - 0.5`` that
  ``cv2.resize`` uses, ``BORDER_REPLICATE`` inside the scaled image (``cv2.resize`` clamps at the
  border) and ``fill`` (0) in the padding. It differs from resize-then-crop only by OpenCV's
  fixed-point rounding (warpAffine quantises the sample position to 1/32 px, resize its weights to
  1/2048): a few grey levels at sharp edges, < 0.5 on average (``tests/data/test_scale_crop.py``);
- ``mask`` / ``masks``: nearest neighbour by index gather with the source indices that
  ``cv2.resize(..., INTER_NEAREST_EXACT)`` itself picks (obtained by resizing an index ramp), so
  masks are identical to the chain's; padding is ``fill_mask`` (``ignore_index``) for ``mask`` and
  0 for instance ``masks`` (the chain padded those with ``fill_mask`` too, marking padding as part
  of every instance).

Bounding boxes and keypoints are not supported (no pipeline here uses them).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import albumentations as A
import cv2
import numpy as np
from albumentations.core.type_definitions import Targets

__all__ = ["LutNormalize", "RandomScaleCrop"]


@lru_cache(maxsize=256)
def _nearest_exact_index(size: int, scaled: int) -> np.ndarray:
    """Source index of each of the ``scaled`` pixels, as ``cv2.resize(INTER_NEAREST_EXACT)`` picks it."""
    ramp = np.arange(size, dtype=np.int32).reshape(1, size)
    index = cv2.resize(ramp, (scaled, 1), interpolation=cv2.INTER_NEAREST_EXACT).reshape(scaled)
    index.setflags(write=False)
    return index


def _pad_before(size: int, crop: int) -> int:
    return int((crop - size) / 2.0) if size < crop else 0  # PadIfNeeded, position="center"


def _crop_start(size: int, crop: int, start: float) -> int:
    return int((max(size, crop) - crop + 1) * start)  # RandomCrop on the padded image (get_crop_coords)


class RandomScaleCrop(A.DualTransform):
    """Random scale in ``scale``, centre pad to ``(height, width)``, random ``(height, width)`` crop.

    Args:
        height, width: output size.
        scale: ``(lo, hi)`` range of the scale factor (``(1, 1)``: no scaling and no random draw).
        fill: image padding value. fill_mask: ``mask`` padding value (instance ``masks`` get 0).
    """

    _targets = (Targets.IMAGE, Targets.MASK)

    def __init__(
        self,
        height: int,
        width: int,
        scale: tuple[float, float] = (0.5, 2.0),
        fill: float = 0,
        fill_mask: float = 255,
        p: float = 1.0,
    ):
        super().__init__(p=p)
        if height < 1 or width < 1:
            raise ValueError(f"crop size must be positive, got {(height, width)}")
        lo, hi = (float(scale[0]), float(scale[1]))
        if not 0 < lo <= hi:
            raise ValueError(f"scale must be a range 0 < lo <= hi, got {scale}")
        self.height, self.width, self.scale = int(height), int(width), (lo, hi)
        self.fill, self.fill_mask = fill, fill_mask

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("height", "width", "scale", "fill", "fill_mask")

    def get_params(self) -> dict[str, float]:
        lo, hi = self.scale
        if (lo, hi) == (1.0, 1.0):  # the chain had no RandomScale then: draw nothing
            return {"scale": 1.0}
        return {"scale": self.py_random.uniform(lo - 1.0, hi - 1.0) + 1.0}  # == RandomScale.get_params

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        rows, cols = params["shape"][:2]
        s = params["scale"]
        scaled = (int(rows * s), int(cols * s))  # RandomScale (fgeometric.scale)
        if min(scaled) < 1:
            raise ValueError(f"scale {s:.3f} shrinks a {rows}x{cols} image to nothing")
        h_start, w_start = self.py_random.random(), self.py_random.random()  # RandomCrop's draws
        offset = (
            _crop_start(scaled[0], self.height, h_start) - _pad_before(scaled[0], self.height),
            _crop_start(scaled[1], self.width, w_start) - _pad_before(scaled[1], self.width),
        )
        return {"scaled": scaled, "offset": offset}

    # -- geometry ------------------------------------------------------------------------------

    def _window(self, scaled: tuple[int, int], offset: tuple[int, int]) -> tuple[slice, slice, bool]:
        """Output rows/columns that fall inside the scaled image, and whether anything is padding."""
        (nh, nw), (oy, ox) = scaled, offset
        y0, y1 = max(0, -oy), min(self.height, nh - oy)
        x0, x1 = max(0, -ox), min(self.width, nw - ox)
        padded = (y0, y1, x0, x1) != (0, self.height, 0, self.width)
        return slice(y0, y1), slice(x0, x1), padded

    def _canvas(self, like: np.ndarray, lead: tuple[int, ...], fill: float) -> np.ndarray:
        return np.full((*lead, self.height, self.width, *like.shape[len(lead) + 2 :]), fill, like.dtype)

    def apply(self, img: np.ndarray, scaled: tuple[int, int], offset: tuple[int, int], **params: Any) -> np.ndarray:
        ys, xs, padded = self._window(scaled, offset)
        if padded:
            out = self._canvas(img, (), self.fill)
            out[ys, xs] = self._render(img, scaled, offset, ys, xs)
            return out
        return self._render(img, scaled, offset, ys, xs)

    def _render(
        self, img: np.ndarray, scaled: tuple[int, int], offset: tuple[int, int], ys: slice, xs: slice
    ) -> np.ndarray:
        rows, cols = img.shape[:2]
        (nh, nw), (oy, ox) = scaled, offset
        if (nh, nw) == (rows, cols):  # no scaling: a plain crop
            return img[oy + ys.start : oy + ys.stop, ox + xs.start : ox + xs.stop]
        fy, fx = rows / nh, cols / nw  # cv2.resize: src = (dst + 0.5) * size / scaled - 0.5
        # source coordinates of the first/last output pixel, and the rows/columns bilinear reads
        sy0, sy1 = (oy + ys.start + 0.5) * fy - 0.5, (oy + ys.stop - 0.5) * fy - 0.5
        sx0, sx1 = (ox + xs.start + 0.5) * fx - 0.5, (ox + xs.stop - 0.5) * fx - 0.5
        r0, r1 = max(0, int(np.floor(sy0)) - 1), min(rows, int(np.floor(sy1)) + 3)
        c0, c1 = max(0, int(np.floor(sx0)) - 1), min(cols, int(np.floor(sx1)) + 3)
        matrix = np.array([[fx, 0.0, sx0 - c0], [0.0, fy, sy0 - r0]])  # window pixel -> ROI pixel (inverse map)
        roi = img[r0:r1, c0:c1]
        size = (xs.stop - xs.start, ys.stop - ys.start)
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        channels = 1 if img.ndim == 2 else img.shape[2]
        if channels == 3 and img.dtype in (np.uint8, np.uint16, np.float32):
            # OpenCV's remap has a vectorised path for 1 and 4 channels, not 3: go through RGBA
            rgba = cv2.cvtColor(roi, cv2.COLOR_RGB2RGBA)
            out = cv2.warpAffine(rgba, matrix, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
            return cv2.cvtColor(out, cv2.COLOR_RGBA2RGB)
        if channels <= 4:
            out = cv2.warpAffine(np.ascontiguousarray(roi), matrix, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
            return out.reshape(size[1], size[0], *img.shape[2:])
        return np.concatenate(
            [self._render(img[..., c : c + 4], scaled, offset, ys, xs) for c in range(0, channels, 4)], axis=2
        )

    def _gather(
        self, mask: np.ndarray, axis: int, scaled: tuple[int, int], offset: tuple[int, int], ys: slice, xs: slice
    ) -> np.ndarray:
        rows, cols = mask.shape[axis : axis + 2]
        (nh, nw), (oy, ox) = scaled, offset
        ry = _nearest_exact_index(rows, nh)[oy + ys.start : oy + ys.stop]
        rx = _nearest_exact_index(cols, nw)[ox + xs.start : ox + xs.stop]
        return mask.take(ry, axis=axis).take(rx, axis=axis + 1)

    def apply_to_mask(
        self, mask: np.ndarray, scaled: tuple[int, int], offset: tuple[int, int], **params: Any
    ) -> np.ndarray:
        ys, xs, padded = self._window(scaled, offset)
        crop = self._gather(mask, 0, scaled, offset, ys, xs)
        if not padded:
            return crop
        out = self._canvas(mask, (), self.fill_mask)
        out[ys, xs] = crop
        return out

    def apply_to_masks(
        self, masks: np.ndarray | list[np.ndarray], scaled: tuple[int, int], offset: tuple[int, int], **params: Any
    ) -> Any:
        if len(masks) == 0:
            return masks
        stacked = np.asarray(masks)  # [N, H, W(, C)]
        ys, xs, padded = self._window(scaled, offset)
        crop = self._gather(stacked, 1, scaled, offset, ys, xs)
        if padded:
            out = self._canvas(stacked, (len(stacked),), 0)
            out[:, ys, xs] = crop
            crop = out
        return crop if isinstance(masks, np.ndarray) else list(crop)


class LutNormalize(A.Normalize):
    """``A.Normalize`` that maps a 3-channel uint8 image through one 3-channel float32 table.

    albumentations already normalises uint8 through per-channel tables, but slices the channels
    apart and merges them back (slower: docs/design-notes.md). The table here is ``A.Normalize`` applied to the 256
    values of each channel, so the output is bit-identical; other inputs go to ``A.Normalize``.
    """

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        if self.normalization != "standard" or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            return super().apply(img, **params)
        lut = self.__dict__.get("_lut")
        if lut is None:
            ramp = np.repeat(np.arange(256, dtype=np.uint8).reshape(256, 1, 1), 3, axis=2)
            lut = self._lut = np.ascontiguousarray(super().apply(ramp, **params), np.float32)
        return cv2.LUT(img, lut)
