"""Boundary F1 match counts on the CPU: every class of an image at once, as per-pixel bitsets.

Exact integer counts of :mod:`seglightning.metrics.boundary` (DAVIS ``seg2bmap`` boundaries,
matching within the disk ``dx^2 + dy^2 <= r^2``) for all classes of one image in one pass:

1. Boundaries of every class together: ``seg2bmap`` marks pixel ``p`` for class ``c`` iff ``c``'s
   mask differs between ``p`` and its east, south or south-east neighbour, i.e. iff the 2x2 block
   ``{p, e, s, se}`` is not constant and contains ``c``. With the block taken from the label map
   padded by replication on the south/east side (so in the last row only the east neighbour
   differs, in the last column only the south one, and the corner never), each pixel gets the
   bitset of the classes whose boundary passes through it (void maps to no bit; a table lookup
   and three ORs, zeroed where the block is constant). The query side keeps only the non-zero
   pixels (the label boundary, a few per cent of the image) as flat indices and bitsets.
2. A query boundary pixel ``(y, x)`` of class ``c`` is matched at radius ``r`` iff some boundary
   pixel of ``c`` in the other map lies at ``(y + dy, x + dx)`` with ``|dy| <= isqrt(r^2 - dx^2)``:
   the other map's bitsets are OR-ed vertically over growing half-heights ``h = 0, 1, ..., r``
   (two shifted ORs per step, one pass serves every tolerance), and at each ``h`` the columns
   ``dx`` whose half-height is ``h`` are gathered at the query pixels only.
3. Per-class counts are per-bit popcounts of ``query bits & gathered bits`` per image: per byte
   of the words, a histogram of (image, byte value) times the 256 x 8 table of each value's bits.

Classes go 64 to a word (``uint8`` .. ``uint64`` by how many there are); the images of a batch
are handled together. numpy releases the GIL in these array operations, so chunks of a batch can
run in a thread pool.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

__all__ = ["batch_counts"]

_WORDS = ((8, np.uint8), (16, np.uint16), (32, np.uint32), (64, np.uint64))
_BYTE_BITS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1, bitorder="little").astype(np.int64)


def _lookup(labels: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """``lut[labels]``; OpenCV's table lookup for uint8 labels and words up to 32 bits."""
    if labels.dtype != np.uint8 or lut.dtype.itemsize > 4:
        return np.take(lut, labels)
    table = lut.view(np.int32) if lut.dtype == np.uint32 else lut  # OpenCV has no uint32
    out = cv2.LUT(labels.reshape(-1, labels.shape[-1]), table)
    return out.view(lut.dtype).reshape(labels.shape)


def _boundary_bits(labels: np.ndarray, lut: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class bitsets of the boundaries of ``labels [B, H, W]``: dense ``[B, H, W]``, and as flat
    indices (ascending) of the pixels on some class boundary with their bitsets."""
    b, h, w = labels.shape
    padded = np.empty((b, h + 1, w + 1), labels.dtype)  # replicated south/east
    padded[:, :h, :w] = labels
    padded[:, h, :w] = labels[:, h - 1]
    padded[:, :, w] = padded[:, :, w - 1]
    mixed = labels != padded[:, :-1, 1:]
    mixed |= labels != padded[:, 1:, :-1]
    mixed |= labels != padded[:, 1:, 1:]
    word = _lookup(padded, lut)
    bits = word[:, :-1, :-1] | word[:, :-1, 1:]
    bits |= word[:, 1:, :-1]
    bits |= word[:, 1:, 1:]
    bits *= mixed
    index = np.flatnonzero(bits != 0)
    return bits, index, bits.ravel()[index]


def _popcounts(index: np.ndarray, words: np.ndarray, shape: tuple[int, ...], width: int) -> np.ndarray:
    """Per row of ``words [R, n]`` (at flat ``index [n]`` into ``[B, H, W]``), per image and bit,
    how many words have the bit set: ``[R, B, width]``. Per byte of the words, one histogram of
    (image, byte value) pairs, times the table of the bits of each byte value."""
    b, h, w = shape
    rows, size = words.shape[0], words.dtype.itemsize
    image = (index // (h * w)) * 256
    planes = words.astype(words.dtype.newbyteorder("<"), copy=False).view(np.uint8).reshape(rows, -1, size)
    out = np.zeros((rows, b, 8 * size), np.int64)
    for r in range(rows):
        for k in range(min(size, -(-width // 8))):
            pairs = np.bincount(image + planes[r, :, k], minlength=b * 256).reshape(b, 256)
            out[r, :, 8 * k : 8 * k + 8] = pairs @ _BYTE_BITS
    return out[:, :, :width]


def _query_counts(
    query: tuple[np.ndarray, np.ndarray, np.ndarray],
    boundary: tuple[np.ndarray, np.ndarray, np.ndarray],
    shape: tuple[int, int, int],
    radii: Sequence[int],
    width: int,
) -> np.ndarray:
    """``[1 + T, B, width]``: per image and class, the query boundary pixels, then per radius
    those with a boundary pixel of the same class within ``r`` in the other map."""
    (_, q_index, q_bits), (dense, b_index, _) = query, boundary
    b, h, w = shape
    rows = np.zeros((1 + len(radii), q_index.size), q_bits.dtype)
    rows[0] = q_bits
    if q_index.size and b_index.size:
        r_max = max(radii)
        pad = min(r_max, w - 1)  # columns beyond it are outside the image
        image = np.zeros((b, h, w + 2 * pad), dense.dtype)
        image[:, :, pad : pad + w] = dense
        reach = image.copy()  # per image, OR of rows y - k .. y + k for the current half-height k
        flat = reach.ravel()
        at = q_index + (q_index // w) * 2 * pad + pad
        schedule: dict[int, list[tuple[int, int]]] = {}
        for t, r in enumerate(radii):
            for dx in range(-min(r, pad), min(r, pad) + 1):
                schedule.setdefault(math.isqrt(r * r - dx * dx), []).append((t, dx))
        for k in range(max(schedule) + 1):
            if 0 < k < h:  # farther rows are outside the image
                np.bitwise_or(reach[:, k:], image[:, :-k], out=reach[:, k:])
                np.bitwise_or(reach[:, :-k], image[:, k:], out=reach[:, :-k])
            for t, dx in schedule.get(k, ()):
                rows[1 + t] |= flat[at + dx]
        rows[1:] &= q_bits
    return _popcounts(q_index, rows, shape, width)


def batch_counts(
    pred: np.ndarray, gt: np.ndarray, num_classes: int, radii: Sequence[int]
) -> np.ndarray:
    """Counts ``[2 + 2T, B, C]`` of label maps ``[B, H, W]``: boundary pixels of the prediction and
    of the ground truth, then the matched predicted and matched ground-truth pixels per radius, for
    each image and class ``c < C`` (labels ``>= C``, e.g. void, belong to no class)."""
    t = len(radii)
    counts = np.zeros((2 + 2 * t, pred.shape[0], num_classes), np.int64)
    if pred.size == 0:
        return counts
    lut_size = max(int(pred.max()), int(gt.max()), num_classes) + 1
    for first in range(0, num_classes, 64):
        group = min(64, num_classes - first)
        width, word = next((bits, dt) for bits, dt in _WORDS if group <= bits)
        lut = np.zeros(max(lut_size, 256), word)
        lut[first : first + group] = np.left_shift(np.ones(group, word), np.arange(group, dtype=word))
        p, g = _boundary_bits(pred, lut), _boundary_bits(gt, lut)
        pred_side = _query_counts(p, g, pred.shape, radii, width)[:, :, :group]
        gt_side = _query_counts(g, p, pred.shape, radii, width)[:, :, :group]
        cols = slice(first, first + group)
        counts[0, :, cols], counts[1, :, cols] = pred_side[0], gt_side[0]
        counts[2 : 2 + t, :, cols], counts[2 + t :, :, cols] = pred_side[1:], gt_side[1:]
    return counts
