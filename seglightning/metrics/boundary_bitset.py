"""Boundary F1 match counts on the CPU: every class of an image at once, as per-pixel bitsets.

Exact integer counts of :mod:`seglightning.metrics.boundary` (DAVIS ``seg2bmap`` boundaries,
matching within the disk ``dx^2 + dy^2 <= r^2``) for all classes of one image in one pass:

1. Boundaries of every class together: ``seg2bmap`` marks pixel ``p`` for class ``c`` iff ``c``'s
   mask differs between ``p`` and its east, south or south-east neighbour, i.e. iff the 2x2 block
   ``{p, e, s, se}`` is not constant and contains ``c``. With the block taken from the label map
   padded by replication on the south/east side (so in the last row only the east neighbour
   differs, in the last column only the south one, and the corner never), each pixel gets the
   bitset of the classes whose boundary passes through it (void maps to no bit). Only the
   non-constant blocks (the label boundary, a few per cent of the image) are stored.
2. A query boundary pixel ``(y, x)`` of class ``c`` is matched at radius ``r`` iff some boundary
   pixel of ``c`` in the other map lies at ``(y + dy, x + dx)`` with ``|dy| <= isqrt(r^2 - dx^2)``:
   the other map's bitsets are OR-ed vertically over growing half-heights ``h = 0, 1, ..., r``
   (two shifted ORs per step, one pass serves every tolerance), and at each ``h`` the columns
   ``dx`` whose half-height is ``h`` are gathered at the query pixels only.
3. Per-class counts are popcounts of ``query bits & gathered bits`` (``numpy.unpackbits``).

Classes go 64 to a word (``uint8`` .. ``uint64`` by how many there are); the images of a batch
are handled together. numpy releases the GIL in these array operations, so chunks of a batch can
run in a thread pool.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["batch_counts"]

_WORDS = ((8, np.uint8), (16, np.uint16), (32, np.uint32), (64, np.uint64))


def _boundary_bits(labels: np.ndarray, lut: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices into ``labels [B, H, W]`` (ascending) of the pixels on some class boundary,
    and their class bitsets."""
    b, h, w = labels.shape
    padded = np.empty((b, h + 1, w + 1), labels.dtype)  # replicated south/east
    padded[:, :h, :w] = labels
    padded[:, h, :w] = labels[:, h - 1]
    padded[:, :, w] = padded[:, :, w - 1]
    mixed = labels != padded[:, :-1, 1:]
    mixed |= labels != padded[:, 1:, :-1]
    mixed |= labels != padded[:, 1:, 1:]
    index = np.flatnonzero(mixed)
    at = index + index // w + (index // (h * w)) * (w + 1)  # the same pixels in ``padded``
    flat = padded.ravel()
    bits = lut[flat[at]] | lut[flat[at + 1]] | lut[flat[at + w + 1]] | lut[flat[at + w + 2]]
    keep = bits != 0
    return index[keep], bits[keep]


def _popcounts(index: np.ndarray, bits: np.ndarray, shape: tuple[int, ...], width: int) -> np.ndarray:
    """Per image and bit, how many of the words ``bits`` (at ascending flat ``index`` into
    ``[B, H, W]``) have the bit set: ``[B, width]``."""
    b, h, w = shape
    out = np.zeros((b, width), np.int64)
    if bits.size == 0:
        return out
    little = bits.astype(bits.dtype.newbyteorder("<"), copy=False)
    planes = np.ascontiguousarray(little.view(np.uint8).reshape(bits.size, -1).T)
    unpacked = np.unpackbits(planes, axis=0, bitorder="little")[:width]  # [width, n], row = bit
    starts = np.searchsorted(index, np.arange(b) * (h * w))
    ends = np.append(starts[1:], index.size)
    some = starts < ends
    out[some] = np.add.reduceat(unpacked, starts[some], axis=1, dtype=np.int64).T
    return out


def _matched(
    query: tuple[np.ndarray, np.ndarray],
    boundary: tuple[np.ndarray, np.ndarray],
    shape: tuple[int, int, int],
    radii: Sequence[int],
    width: int,
) -> list[np.ndarray]:
    """Per radius ``[B, width]``: per image and class, the query boundary pixels with a boundary
    pixel of the same class within ``r`` in the other map."""
    (q_index, q_bits), (b_index, b_bits) = query, boundary
    b, h, w = shape
    if q_index.size == 0 or b_index.size == 0:
        return [np.zeros((b, width), np.int64) for _ in radii]
    r_max = max(radii)
    pad = min(r_max, w - 1)  # columns beyond it are outside the image
    image = np.zeros((b, h, w + 2 * pad), b_bits.dtype)
    image.ravel()[b_index + (b_index // w) * 2 * pad + pad] = b_bits
    reach = image.copy()  # per image, OR of rows y - k .. y + k for the current half-height k
    flat = reach.ravel()
    at = q_index + (q_index // w) * 2 * pad + pad
    schedule: dict[int, list[tuple[int, int]]] = {}
    for t, r in enumerate(radii):
        for dx in range(-min(r, pad), min(r, pad) + 1):
            schedule.setdefault(math.isqrt(r * r - dx * dx), []).append((t, dx))
    hits = np.zeros((len(radii), q_index.size), b_bits.dtype)
    for k in range(max(schedule) + 1):
        if 0 < k < h:  # farther rows are outside the image
            np.bitwise_or(reach[:, k:], image[:, :-k], out=reach[:, k:])
            np.bitwise_or(reach[:, :-k], image[:, k:], out=reach[:, :-k])
        for t, dx in schedule.get(k, ()):
            hits[t] |= flat[at + dx]
    return [_popcounts(q_index, row & q_bits, shape, width) for row in hits]


def batch_counts(
    pred: np.ndarray, gt: np.ndarray, num_classes: int, radii: Sequence[int]
) -> np.ndarray:
    """Counts ``[2 + 2T, B, C]`` of label maps ``[B, H, W]``: boundary pixels of the prediction and
    of the ground truth, then the matched predicted and matched ground-truth pixels per radius, for
    each image and class ``c < C`` (labels ``>= C``, e.g. void, belong to no class)."""
    t = len(radii)
    counts = np.zeros((2 + 2 * t, pred.shape[0], num_classes), np.int64)
    lut_size = max(int(pred.max()), int(gt.max()), num_classes) + 1
    for first in range(0, num_classes, 64):
        group = min(64, num_classes - first)
        width, word = next((bits, dt) for bits, dt in _WORDS if group <= bits)
        lut = np.zeros(lut_size, word)
        lut[first : first + group] = np.left_shift(np.ones(group, word), np.arange(group, dtype=word))
        p, g = _boundary_bits(pred, lut), _boundary_bits(gt, lut)
        cols = slice(first, first + group)
        counts[0, :, cols] = _popcounts(*p, pred.shape, width)[:, :group]
        counts[1, :, cols] = _popcounts(*g, pred.shape, width)[:, :group]
        for k, row in enumerate(_matched(p, g, pred.shape, radii, width)):
            counts[2 + k, :, cols] = row[:, :group]
        for k, row in enumerate(_matched(g, p, pred.shape, radii, width)):
            counts[2 + t + k, :, cols] = row[:, :group]
    return counts
