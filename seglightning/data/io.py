"""Shared reading helpers for the dataset readers: every error names the file and the fix.

- :func:`read_image`: any image file -> uint8 HxWx3 RGB (a truncated or corrupt file is an error,
  never a silently grey-filled image).
- :func:`read_index_png`: a single-channel label PNG ('L', 'P' palette indices, 16/32-bit) ->
  HxW integer array of the stored values (a palette PNG gives its *indices*, not its colours);
  :func:`read_label_png` also accepts colour PNGs (HxWx3).
- :func:`read_color_png`: a colour-coded label PNG -> uint8 HxWx3 RGB.
- :class:`LabelMap`: raw stored values -> train ids through a lookup table; a value the dataset
  does not define is an error listing the values (so a bad mask never reaches the loss as a
  CUDA device-side assert or a silently wrong metric).
- :class:`ColorMap`: RGB colours -> train ids; an unknown colour is an error listing it.
- :func:`check_same_size`: image and mask must have the same height and width.
- :func:`header_size`: (width, height) from the file header only (cheap setup checks).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

PathLike = str | os.PathLike

IGNORE_INDEX = 255


class DatasetError(ValueError):
    """Bad or missing data on disk; the message names the file, what is wrong and the fix."""

    def reason(self) -> str:
        """The message alone: without the worker traceback a DataLoader wraps around it when the
        error is raised in a loader worker process."""
        text = str(self)
        marker = f"{type(self).__module__}.{type(self).__qualname__}: "
        if "Original Traceback" in text and marker in text:
            return text.rsplit(marker, 1)[1].strip()
        return text


def _open(path: PathLike, what: str) -> Image.Image:
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: {what} file not found (check data.root and the split list)")
    try:
        img = Image.open(path)
        img.load()
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as err:
        raise DatasetError(
            f"{path}: cannot read {what} ({err}); the file is corrupt or not an image — "
            "re-extract it from the original archive or remove its id from the split list"
        ) from None
    return img


def read_image(path: PathLike) -> np.ndarray:
    """Read an image as uint8 HxWx3 RGB; a missing, truncated or corrupt file raises DatasetError."""
    img = _open(path, "image")
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img)


def read_label_png(path: PathLike) -> np.ndarray:
    """Read a label PNG as stored: HxW values for single-channel modes (L, P indices, I, I;16),
    HxWx3 RGB for colour modes (alpha dropped)."""
    img = _open(path, "label")
    if img.mode in ("RGB", "RGBA", "LA", "CMYK", "YCbCr", "PA"):
        return np.asarray(img.convert("RGB"))
    arr = np.asarray(img)
    return arr.astype(np.uint8) if img.mode == "1" else arr


def read_index_png(path: PathLike) -> np.ndarray:
    """Read a single-channel label PNG as its stored integer values (palette PNG -> indices)."""
    arr = read_label_png(path)
    if arr.ndim != 2:
        raise DatasetError(
            f"{path}: expected a single-channel index label PNG (mode L, P or I), got a colour "
            "image; colour-coded masks need the colour table of the dataset (e.g. data=folder "
            "with colors in its YAML)"
        )
    return arr


def read_color_png(path: PathLike) -> np.ndarray:
    """Read a colour-coded label PNG as uint8 HxWx3 RGB (a palette PNG is expanded)."""
    img = _open(path, "label")
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img)


def header_size(path: PathLike, what: str = "image") -> tuple[int, int]:
    """(width, height) read from the file header only; raises DatasetError if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: {what} file not found (check data.root and the split list)")
    try:
        with Image.open(path) as img:
            return img.size
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as err:
        raise DatasetError(f"{path}: cannot read {what} header ({err}); the file is corrupt") from None


def check_same_size(image_path: PathLike, image_hw: Sequence[int], mask_path: PathLike, mask_hw: Sequence[int]) -> None:
    """Raise DatasetError if the image and its mask differ in height or width."""
    if tuple(image_hw[:2]) != tuple(mask_hw[:2]):
        raise DatasetError(
            f"{mask_path}: mask size {mask_hw[1]}x{mask_hw[0]} (WxH) differs from image "
            f"{image_path} size {image_hw[1]}x{image_hw[0]}; masks must be pixel-aligned with "
            "their image (re-export the mask at the image resolution)"
        )


def _fmt_values(values: np.ndarray, limit: int = 12) -> str:
    shown = ", ".join(str(int(v)) for v in values[:limit])
    return shown + (f", … ({len(values)} values)" if len(values) > limit else "")


@dataclass(frozen=True)
class LabelMap:
    """Raw stored label values -> train ids through a lookup table (-1 = not a valid raw value).

    ``describe`` says what the valid raw values are, for the error message.
    """

    lut: np.ndarray
    describe: str

    @classmethod
    def identity(
        cls, num_classes: int, ignore_index: int = IGNORE_INDEX, void_values: Iterable[int] = (), size: int = 256
    ) -> LabelMap:
        """Values 0..C-1 stay, ``ignore_index`` and each of ``void_values`` become ignore."""
        lut = np.full(max(size, ignore_index + 1), -1, dtype=np.int32)
        lut[:num_classes] = np.arange(num_classes)
        lut[ignore_index] = ignore_index
        void = sorted(set(void_values))
        for v in void:
            lut[v] = ignore_index
        extra = "".join(f", {v}" for v in void)
        return cls(lut, f"[0, {num_classes}) ∪ {{{ignore_index}{extra}}}")

    @classmethod
    def from_mapping(cls, mapping: Mapping[int, int], describe: str, size: int = 256) -> LabelMap:
        """Each raw value in ``mapping`` -> its train id; any other raw value is invalid."""
        lut = np.full(size, -1, dtype=np.int32)
        for raw, train in mapping.items():
            lut[raw] = train
        return cls(lut, describe)

    def __call__(self, raw: np.ndarray, path: PathLike) -> np.ndarray:
        """Map ``raw`` to uint8 train ids; raise DatasetError naming ``path`` on unknown values."""
        raw = np.asarray(raw)
        if raw.dtype == np.uint8 and raw.ndim == 2 and len(self.lut) == 256:
            # fast path (8-bit label PNGs): a 256-bin histogram finds unknown values, cv2.LUT maps
            counts = cv2.calcHist([raw], [0], None, [256], [0, 256]).ravel()
            if (counts[self.lut < 0] > 0).any():
                self._fail(np.flatnonzero((counts > 0) & (self.lut < 0)), path)
            return cv2.LUT(raw, self.lut.clip(0, 255).astype(np.uint8))
        if raw.dtype.kind not in "ui" and raw.dtype != bool:
            raise DatasetError(f"{path}: label image has non-integer dtype {raw.dtype}")
        if raw.size and (int(raw.min()) < 0 or int(raw.max()) >= len(self.lut)):
            bad = np.unique(raw[(raw < 0) | (raw >= len(self.lut))])
            self._fail(bad, path)
        out = self.lut[raw]
        if out.size and int(out.min()) < 0:
            self._fail(np.unique(raw[out < 0]), path)
        return out.astype(np.uint8)

    def _fail(self, bad: np.ndarray, path: PathLike) -> None:
        raise DatasetError(
            f"{path}: label values {_fmt_values(bad)} outside the valid set {self.describe}; "
            "fix or regenerate this mask (or check that data=<name> matches the dataset)"
        )


def rgb_key(rgb: np.ndarray) -> np.ndarray:
    """uint8 [..., 3] RGB -> int32 keys r<<16 | g<<8 | b."""
    rgb = np.asarray(rgb, dtype=np.int32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


@dataclass(frozen=True)
class ColorMap:
    """RGB colour -> train id; a colour outside the table is an error naming the file."""

    colors: tuple[tuple[int, int, int], ...]
    values: tuple[int, ...]
    source: str = "the colour table"
    _keys: np.ndarray = field(init=False, repr=False, compare=False)
    _vals: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = rgb_key(np.asarray(self.colors, dtype=np.uint8).reshape(-1, 3))
        if len(np.unique(keys)) != len(keys):
            raise DatasetError(f"{self.source}: the same colour is listed twice; colours must be unique")
        order = np.argsort(keys)
        object.__setattr__(self, "_keys", keys[order])
        object.__setattr__(self, "_vals", np.asarray(self.values, dtype=np.uint8)[order])

    def __call__(self, rgb: np.ndarray, path: PathLike) -> np.ndarray:
        """Map an HxWx3 RGB label image to uint8 train ids."""
        keys = rgb_key(rgb)
        pos = np.searchsorted(self._keys, keys)
        pos = np.minimum(pos, len(self._keys) - 1)
        known = self._keys[pos] == keys
        if not known.all():
            unknown, counts = np.unique(keys[~known], return_counts=True)
            shown = ", ".join(f"({k >> 16}, {(k >> 8) & 255}, {k & 255}) x{c}" for k, c in zip(unknown[:8], counts[:8]))
            raise DatasetError(
                f"{path}: colours not in {self.source}: {shown}"
                + (f" (+{len(unknown) - 8} more)" if len(unknown) > 8 else "")
                + "; add them to the colour table or fix the mask (masks must not be "
                "anti-aliased or saved as JPEG)"
            )
        return self._vals[pos]


def list_stems(folder: PathLike, suffixes: Sequence[str]) -> dict[str, Path]:
    """Files in ``folder`` with one of ``suffixes`` (case-insensitive), keyed by stem."""
    folder = Path(folder)
    out: dict[str, Path] = {}
    if not folder.is_dir():
        return out
    lower = tuple(s.lower() for s in suffixes)
    for entry in os.scandir(folder):
        if entry.is_file() and entry.name.lower().endswith(lower):
            out[Path(entry.name).stem] = Path(entry.path)
    return out


def require_dir(path: PathLike, what: str, fix: str) -> Path:
    """Return ``path`` if it is a folder, else raise DatasetError naming it."""
    path = Path(path)
    if not path.is_dir():
        raise DatasetError(f"{path}: {what} folder not found; {fix}")
    return path


def read_id_list(path: PathLike, what: str = "split list") -> list[str]:
    """Non-empty, stripped lines of a text list; a missing list raises DatasetError."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: {what} not found; check data.root and data.split")
    lines = [ln.strip() for ln in path.read_text().splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]
