"""BoundaryF1: hand-worked cases and a per-image numpy/scipy DAVIS-style reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from seglightning.metrics import BoundaryF1, seg2bmap

IGN = 255


# ---------------------------------------------------------------- reference (per image, numpy)
def _ref_seg2bmap(seg: np.ndarray) -> np.ndarray:
    """Martin / DAVIS seg2bmap, written out per pixel."""
    h, w = seg.shape
    b = np.zeros_like(seg, dtype=bool)
    for y in range(h):
        for x in range(w):
            v = seg[y, x]
            if y == h - 1 and x == w - 1:
                continue
            if y == h - 1:  # last row: east neighbour only
                b[y, x] = v != seg[y, x + 1]
            elif x == w - 1:  # last column: south neighbour only
                b[y, x] = v != seg[y + 1, x]
            else:
                b[y, x] = v != seg[y, x + 1] or v != seg[y + 1, x] or v != seg[y + 1, x + 1]
    return b


def _ref_f(pred: np.ndarray, gt: np.ndarray, void: np.ndarray, th: float) -> float:
    """DAVIS f_measure: zero void, seg2bmap, dilate with a disk, the four empty branches."""
    d = th if th >= 1 else np.ceil(th * np.linalg.norm(pred.shape))
    d = int(d)
    bp = _ref_seg2bmap(pred & ~void)
    bg = _ref_seg2bmap(gt & ~void)
    yy, xx = np.mgrid[-d : d + 1, -d : d + 1]
    disk = xx**2 + yy**2 <= d**2
    dil_p = ndimage.binary_dilation(bp, structure=disk)
    dil_g = ndimage.binary_dilation(bg, structure=disk)
    n_p, n_g = bp.sum(), bg.sum()
    if n_p == 0 and n_g == 0:
        p = r = 1.0
    elif n_p == 0 or n_g == 0:
        return 0.0
    else:
        p = (bp & dil_g).sum() / n_p
        r = (bg & dil_p).sum() / n_g
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def _ref_bf1(preds, targets, num_classes, th, gscnn=False) -> tuple[float, np.ndarray]:
    sums, counts = np.zeros(num_classes), np.zeros(num_classes)
    for pred, gt in zip(preds, targets):
        void = gt == IGN
        for c in range(num_classes):
            present = ((pred == c) & ~void).any() or ((gt == c) & ~void).any()
            if present or gscnn:
                sums[c] += _ref_f(pred == c, gt == c, void, th)
                counts[c] += 1
    with np.errstate(invalid="ignore"):
        per_class = sums / counts
    return float(np.nanmean(per_class)), per_class


def _blobby(rng: np.random.Generator, n: int, c: int, h: int, w: int, sigma: float) -> np.ndarray:
    field = ndimage.gaussian_filter(rng.standard_normal((n, c, h, w)), sigma=(0, 0, sigma, sigma))
    return field.argmax(1)


# ---------------------------------------------------------------- hand-worked cases
def _square(h, w, rows, cols, label=1):
    m = torch.zeros(1, h, w, dtype=torch.long)
    m[0, rows[0] : rows[1], cols[0] : cols[1]] = label
    return m


def test_seg2bmap_half_pixel_convention():
    # A 2x2 square at rows/cols 2-3 gives the 8-pixel ring of the 3x3 block rows/cols 1-3
    # (boundary shifted half a pixel towards the origin; background pixels NW of it count).
    sq = _square(6, 6, (2, 4), (2, 4))[0].bool()
    ring = torch.zeros(6, 6, dtype=torch.bool)
    ring[1:4, 1:4] = True
    ring[2, 2] = False
    assert torch.equal(seg2bmap(sq), ring)
    # an object touching the right/bottom border has no boundary along that border
    full = torch.ones(5, 5, dtype=torch.bool)
    assert not seg2bmap(full).any()
    assert torch.equal(seg2bmap(sq), seg2bmap(~sq))  # complement-symmetric


def test_shifted_square_tolerance_0_and_1():
    # GT square rows 2-3, cols 2-3; prediction shifted right by one pixel.
    # GT ring  = 3x3 block rows 1-3, cols 1-3 minus (2,2)   (8 px)
    # pred ring = 3x3 block rows 1-3, cols 2-4 minus (2,3)  (8 px)
    # tol 0: common pixels (1,2) (1,3) (3,2) (3,3) -> P = R = 4/8 -> F = 0.5
    # tol 1: every ring pixel has a 4-neighbour in the other ring -> P = R = 1 -> F = 1
    # Background (class 0) has the same boundary (complement symmetry) -> mean is the same.
    gt = _square(6, 6, (2, 4), (2, 4))
    pred = _square(6, 6, (2, 4), (3, 5))
    m = BoundaryF1(2, tolerance=[0, 1])
    m.update(pred, gt)
    out = m.compute()
    torch.testing.assert_close(out[0], torch.tensor(0.5))
    torch.testing.assert_close(out[1], torch.tensor(1.0))


def test_wider_prediction_precision_recall():
    # GT 2x2 square (ring of 8); prediction 2x3 (rows 2-3, cols 2-4): ring of the block
    # rows 1-3, cols 1-4 minus (2,2),(2,3) = 10 px. Exact matches (tol 0): 7
    # (all GT ring pixels except (2,3)). P = 7/10, R = 7/8, F = 2PR/(P+R) = 7/9.
    gt = _square(6, 7, (2, 4), (2, 4))
    pred = _square(6, 7, (2, 4), (2, 5))
    m = BoundaryF1(2, tolerance=0)
    m.update(pred, gt)
    torch.testing.assert_close(m.compute()[0], torch.tensor(7 / 9))
    torch.testing.assert_close(m.per_class()[0], torch.tensor([7 / 9, 7 / 9]))


def test_empty_cases():
    gt = _square(6, 6, (2, 4), (2, 4))
    # empty prediction, non-empty GT: class 1 F = 0; class 0 covers the whole image in the
    # prediction -> no predicted boundary vs the GT ring -> F = 0
    m = BoundaryF1(3, tolerance=2)
    m.update(torch.zeros_like(gt), gt)
    assert m.compute()[2].item() == 0.0
    assert torch.isnan(m.per_class()[0, 2])  # class 2 never occurs: left out of the mean
    # empty/empty: class covering the whole image in both -> no boundaries -> DAVIS F = 1
    m = BoundaryF1(3, tolerance=2)
    m.update(torch.zeros_like(gt), torch.zeros_like(gt))
    assert m.compute()[2].item() == 1.0
    assert m.count.tolist() == [1, 0, 0]
    # non-empty prediction, empty GT boundary -> F = 0 for both classes
    m = BoundaryF1(2, tolerance=2)
    m.update(gt, torch.zeros_like(gt))
    assert m.compute()[2].item() == 0.0


def test_gscnn_compat_counts_absent_classes_as_one():
    # image 0: the 7/9 case for classes 0 and 1; image 1: all class 0 in both (F = 1)
    gt = torch.cat([_square(6, 7, (2, 4), (2, 4)), torch.zeros(1, 6, 7, dtype=torch.long)])
    pred = torch.cat([_square(6, 7, (2, 4), (2, 5)), torch.zeros(1, 6, 7, dtype=torch.long)])
    ours = BoundaryF1(3, tolerance=0)
    gscnn = BoundaryF1(3, tolerance=0, gscnn_compat=True)
    ours.update(pred, gt)
    gscnn.update(pred, gt)
    # default: class 0 over both images (7/9, 1), class 1 over image 0 only, class 2 left out
    torch.testing.assert_close(ours.per_class()[0, :2], torch.tensor([(7 / 9 + 1) / 2, 7 / 9]))
    torch.testing.assert_close(ours.compute()[0], torch.tensor(((7 / 9 + 1) / 2 + 7 / 9) / 2))
    # GSCNN: every class over both images, absent -> 1; mean over all 3 classes
    expected = torch.tensor([(7 / 9 + 1) / 2, (7 / 9 + 1) / 2, 1.0])
    torch.testing.assert_close(gscnn.per_class()[0], expected)
    torch.testing.assert_close(gscnn.compute()[0], expected.mean())


def test_void_pixels_do_not_count():
    gt = _square(8, 8, (2, 4), (2, 4))
    gt[:, :, 6:] = IGN  # void band on the right
    pred = _square(8, 8, (2, 4), (2, 4))
    m = BoundaryF1(3, tolerance=0)
    m.update(pred, gt)
    assert m.compute()[0].item() == 1.0
    # a spurious class-2 object and class-1 pixels inside the void band change nothing
    pred2 = pred.clone()
    pred2[0, 1:7, 6:8] = 2
    pred2[0, 0, 6] = 1
    m2 = BoundaryF1(3, tolerance=0)
    m2.update(pred2, gt)
    assert m2.compute()[0].item() == 1.0
    assert m2.count.tolist() == [1, 1, 0]  # class 2 only in void: not present
    # without the void label the same prediction is penalised (the test can fail)
    gt_novoid = gt.clone()
    gt_novoid[gt_novoid == IGN] = 0
    m3 = BoundaryF1(3, tolerance=0)
    m3.update(pred2, gt_novoid)
    assert m3.compute()[0].item() < 1.0


def test_fraction_of_diagonal_tolerance():
    # 24x32 image: diagonal 40 -> 0.03 * 40 = 1.2 -> ceil -> 2 px; a 2-px shift needs d >= 2
    gt = _square(24, 32, (8, 14), (8, 14))
    pred = _square(24, 32, (8, 14), (10, 16))
    scores = {}
    for th in (0.03, 1, 2, 0.02):  # 0.02 * 40 = 0.8 -> 1 px
        m = BoundaryF1(2, tolerance=th)
        m.update(pred, gt)
        scores[th] = m.compute()[th]
    assert scores[0.03] == scores[2] == 1.0
    assert scores[0.02] == scores[1] < 1.0


def test_logits_equal_indices_and_bad_input():
    rng = np.random.default_rng(0)
    target = torch.from_numpy(_blobby(rng, 2, 3, 20, 24, 2.0))
    logits = torch.randn(2, 3, 20, 24)
    a, b = BoundaryF1(3, tolerance=[1, 3]), BoundaryF1(3, tolerance=[1, 3])
    a.update(logits, target)
    b.update(logits.argmax(1), target)
    assert torch.equal(a.f_sum, b.f_sum) and torch.equal(a.count, b.count)
    target[0, 0, 0] = 7
    with pytest.raises(ValueError, match="outside"):
        a.update(logits, target)
    with pytest.raises(ValueError, match="whole number of pixels"):
        BoundaryF1(3, tolerance=2.5)
    with pytest.raises(ValueError, match="collides"):
        BoundaryF1(3, ignore_index=0)


# ---------------------------------------------------------------- against the reference
TOLS = [0, 1, 3, 0.04]


def _random_case(seed: int, n: int = 3, c: int = 4, h: int = 30, w: int = 41):
    rng = np.random.default_rng(seed)
    gt = _blobby(rng, n, c, h, w, 3.0)
    pred = np.where(rng.random((n, h, w)) < 0.9, _blobby(rng, n, c, h, w, 3.0), gt)
    pred = np.where(rng.random((n, h, w)) < 0.5, gt, pred)  # correlated with GT
    gt[-1][gt[-1] == 3] = 0  # class 3 absent from one GT image
    void = ndimage.gaussian_filter(rng.standard_normal((n, h, w)), (0, 2, 2)) > 0.6
    gt[void] = IGN
    return pred, gt


@pytest.mark.parametrize("gscnn", [False, True])
def test_matches_numpy_reference(gscnn):
    c = 4
    batches = [_random_case(s, c=c) for s in range(2)]
    m = BoundaryF1(c, tolerance=TOLS, gscnn_compat=gscnn, chunk_pixels=5 * 30 * 41)  # 3 chunks
    for pred, gt in batches:
        m.update(torch.from_numpy(pred), torch.from_numpy(gt))
    out, per_class = m.compute(), m.per_class()
    preds = np.concatenate([p for p, _ in batches])
    gts = np.concatenate([g for _, g in batches])
    for t, th in enumerate(TOLS):
        ref, ref_pc = _ref_bf1(preds, gts, c, th, gscnn)
        assert abs(out[th].item() - ref) < 1e-6, (th, out[th].item(), ref)
        np.testing.assert_allclose(per_class[t].numpy(), ref_pc, atol=1e-6)
    assert 0.1 < out[1].item() < 0.95  # a non-trivial case


def test_split_state_merge_is_exact():
    batches = [_random_case(s, n=1 + s % 3) for s in range(5)]  # 1+2+3+1+2 images
    single, r0, r1 = (BoundaryF1(4, tolerance=[1, 3]) for _ in range(3))
    for pred, gt in batches:
        single.update(torch.from_numpy(pred), torch.from_numpy(gt))
    for pred, gt in batches[:2]:
        r0.update(torch.from_numpy(pred), torch.from_numpy(gt))
    for pred, gt in batches[2:]:
        r1.update(torch.from_numpy(pred), torch.from_numpy(gt))
    r0.merge_state(r1)
    assert torch.equal(r0.f_sum, single.f_sum) and torch.equal(r0.count, single.count)
    for th, v in single.compute().items():
        assert torch.equal(r0.compute()[th], v)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    pred, gt = _random_case(7)
    cpu, gpu = BoundaryF1(4, tolerance=TOLS), BoundaryF1(4, tolerance=TOLS).cuda()
    cpu.update(torch.from_numpy(pred), torch.from_numpy(gt))
    gpu.update(torch.from_numpy(pred).cuda(), torch.from_numpy(gt).cuda())
    assert torch.equal(cpu.f_sum, gpu.f_sum.cpu()) and torch.equal(cpu.count, gpu.count.cpu())


def test_logged_names_say_pixels_or_fraction_of_the_diagonal():
    from seglightning.metrics import bf1_name

    assert [bf1_name(t) for t in (3, 12.0, 0.0075, 0.0005, 0.001875)] == [
        "bF1@3px", "bF1@12px", "bF1@0.0075diag", "bF1@0.0005diag", "bF1@0.001875diag"
    ]


# ---------------------------------------------------------------- CPU fast path vs the torch path
def _fast_and_torch_counts(pred: np.ndarray, gt: np.ndarray, c: int, radii: list[int]):
    """(image, class, counts) of the present pairs from the CPU path and from the torch path."""
    preds, target = torch.from_numpy(pred).long(), torch.from_numpy(gt).long()
    metric = BoundaryF1(c, tolerance=radii)
    return metric._cpu_counts(preds, target, radii), metric._torch_counts(preds, target, radii)


def _assert_same(fast, oracle) -> None:
    for ours, ref in zip(fast, oracle):
        assert torch.equal(ours, ref), (ours.shape, ref.shape)


MANY_RADII = [0, 1, 2, 3, 4, 5, 7, 9, 12, 20, 45]


@pytest.mark.parametrize(
    ("n", "c", "h", "w"),
    [(3, 4, 1, 29), (2, 3, 23, 1), (2, 3, 2, 2), (3, 5, 17, 33), (2, 6, 64, 3), (1, 9, 61, 47), (7, 12, 19, 21),
     (2, 19, 37, 41), (3, 40, 30, 26)],  # words of 8, 16, 32 (19 classes: 3 bytes) and 64 bits (40: 5 bytes)
)
def test_cpu_path_counts_equal_torch_path_odd_sizes(n, c, h, w):
    rng = np.random.default_rng(h * 100 + w)
    for sigma in (0.0, 1.5, 4.0):  # noisy labels and smooth blobs
        gt = _blobby(rng, n, c, h, w, sigma) if sigma else rng.integers(0, c, (n, h, w))
        pred = np.where(rng.random((n, h, w)) < 0.7, np.roll(gt, (1, -2), (1, 2)), gt)
        pred[0][pred[0] == c - 1] = 0  # a class the prediction never shows (empty mask)
        gt[rng.random((n, h, w)) < 0.05] = IGN
        _assert_same(*_fast_and_torch_counts(pred, gt, c, MANY_RADII))


def test_cpu_path_thin_structures_and_many_classes():
    # 1-px lines, single pixels and a border-touching stripe; 70 classes (two 64-class words)
    h, w, c = 40, 52, 70
    gt = np.full((2, h, w), 5, np.int64)
    pred = gt.copy()
    gt[0, 10, :] = 1  # a horizontal line across the image
    pred[0, 12, 3:] = 1  # the same line, shifted and shortened
    gt[0, :, 20] = 66  # a vertical line of a class in the second word
    pred[0, 5:, 23] = 66
    gt[1, 7, 7] = 2  # single pixels
    pred[1, 9, 8] = 2
    gt[1, :, -1] = 69  # the last column (no boundary along the image border)
    pred[1, -1, :] = 69  # the last row
    pred[1, 30:33, 40:43] = 64  # only predicted: F = 0
    fast, oracle = _fast_and_torch_counts(pred, gt, c, MANY_RADII)
    _assert_same(fast, oracle)
    counts = fast[2]
    assert counts[0].sum() > 0 and counts[2:].sum() > 0  # boundaries found and some matched
    assert {1, 2, 64, 66, 69} <= set(fast[1].tolist())  # the thin classes are present pairs


@pytest.mark.parametrize("gscnn", [False, True])
def test_cpu_path_f_equals_reference_many_tolerances(gscnn):
    tols = [0, 1, 2, 5, 0.01, 0.05, 0.2]
    pred, gt = _random_case(11, n=2, c=4, h=27, w=35)
    m = BoundaryF1(4, tolerance=tols, gscnn_compat=gscnn)
    m.update(torch.from_numpy(pred), torch.from_numpy(gt))
    per_class = m.per_class()
    for t, th in enumerate(tols):
        _, ref_pc = _ref_bf1(pred, gt, 4, th, gscnn)
        np.testing.assert_allclose(per_class[t].numpy(), ref_pc, atol=1e-9)


def test_cpu_path_threaded_over_images_equals_torch_path(monkeypatch):
    from seglightning.metrics import boundary

    monkeypatch.setattr(boundary, "_THREADED_PIXELS", 1)  # thread even tiny images
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    rng = np.random.default_rng(9)
    gt = _blobby(rng, 3, 5, 31, 45, 2.5)
    pred = np.roll(gt, (2, 1), (1, 2))
    _assert_same(*_fast_and_torch_counts(pred, gt, 5, [0, 2, 6]))
