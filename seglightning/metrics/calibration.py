"""Calibration of per-pixel class probabilities: top-label ECE, Brier score and NLL, dataset level.

On the valid pixels (``target != ignore_index``) of the whole evaluation set, with ``p`` the
per-pixel class probabilities of the configured inference mode (``modules/inference.py``: the
softmax of the model's logits, of the count-averaged logits for ``slide``, and the averaged
softmax for ``scales``/``flip``), ``conf = max_c p_c`` and ``acc = 1[argmax_c p_c = y]``:

* ECE (top-label expected calibration error; Naeini, Cooper & Hauskrecht, AAAI 2015; Guo, Pleiss,
  Sun & Weinberger, "On Calibration of Modern Neural Networks", ICML 2017) with ``n_bins`` (15)
  equal-width confidence bins: ``ECE = sum_b n_b / N |acc_b - conf_b| = sum_b |sum_{i in b} acc_i -
  sum_{i in b} conf_i| / N``. Binning as torchmetrics ``MulticlassCalibrationError(num_classes,
  n_bins=15, norm="l1", ignore_index=...)`` (``_binning_bucketize``): float32 boundaries
  ``linspace(0, 1, n_bins + 1)``, bin ``bucketize(conf, boundaries, right=True) - 1``, so a
  confidence of exactly 1 fills a slot of its own after the last bin (``n_bins + 1`` slots).
* Brier score (Brier 1950, multi-class form): ``mean_i sum_c (p_ic - 1[y_i = c])^2``.
* NLL: ``mean_i -log p_{i, y_i}``; from logits as ``logsumexp(l) - l_y = (l_max - l_y) + log(sum_c
  exp(l_c - l_max))`` (finite where the softmax of ``y`` underflows); from probabilities as
  ``-log max(p_y, tiny)``.

From logits, one ``exp`` pass over the classes gives all three (:func:`_pixel_terms`; the softmax is
never stored), in float32, a few rows of one image at a time so the temporaries stay small; only the
per-image sums are float64.

States (``sum`` all-reduced): the pixel count per slot (int64) and float64 per-slot sums of the
confidences and of the correct pixels, the Brier and NLL sums and the pixel total. Each image's
float sums are rounded to a multiple of ``2^-20`` before they are added, so the sums are exact
(independent of order and of how the images are split over processes, hence N processes equal 1
process bit for bit) while a sum stays below ``2^33`` (8.6e9 pixels of confidence; beyond, the
sums are rounded as float64 sums are). The rounding moves a score by at most ``2^-21`` per image over
the pixel total.
``last_per_image`` keeps the latest batch's per-image sums (``[B, 3 * slots + 2]``: counts,
confidence sums and correct counts per slot, then the Brier and NLL sums) for ``per_image.csv``.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric

from seglightning.metrics.functional import ratio

__all__ = ["Calibration", "calibration_scores"]

_QUANTUM = 2.0**20  # per-image float sums are rounded to multiples of 1 / _QUANTUM (exact sums)
_CHUNK = 1 << 21  # class scores per step: [C, rows, W] float32 temporaries of at most 8 MiB (reused, cached)


def calibration_scores(count: Tensor, conf: Tensor, correct: Tensor, brier: Tensor, nll: Tensor) -> dict[str, Tensor]:
    """``{"ECE", "Brier", "NLL"}`` from summed states (last dim: the slots); NaN without a pixel."""
    total = count.sum(-1).double()
    return {
        "ECE": ratio((correct.double() - conf.double()).abs().sum(-1), total),
        "Brier": ratio(brier.double(), total),
        "NLL": ratio(nll.double(), total),
    }


class Calibration(Metric):
    """Top-label ECE, Brier score and NLL of per-pixel probabilities; see the module docstring.

    Args:
        num_classes: number of classes ``C``.
        n_bins: equal-width confidence bins of the ECE (15).
        ignore_index: void label, its pixels left out; ``None``: none.

    ``update(preds, target, from_logits=None, predicted=None)``: ``preds`` ``[B,C,H,W]`` logits or
    probabilities, ``target`` ``[B,H,W]``; ``from_logits=None`` decides as torchmetrics does (any value
    outside ``[0, 1]``: logits, softmax taken); ``predicted``: ``preds.argmax(1)`` where the caller has
    it already (the suite's predictions), so the top score is a plain max. ``compute()``: ``{"ECE",
    "Brier", "NLL"}`` (float64 scalars, NaN before any valid pixel). :meth:`reliability` gives the per-bin counts, mean
    confidence and accuracy for the reliability diagram.
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    count: Tensor
    conf_sum: Tensor
    correct_sum: Tensor
    brier_sum: Tensor
    nll_sum: Tensor

    def __init__(self, num_classes: int, n_bins: int = 15, ignore_index: int | None = 255, **kwargs) -> None:
        super().__init__(**kwargs)
        if num_classes < 1 or n_bins < 1:
            raise ValueError(f"num_classes and n_bins must be >= 1, got {num_classes} and {n_bins}")
        if ignore_index is not None and 0 <= ignore_index < num_classes:
            raise ValueError(f"ignore_index={ignore_index} collides with a class id in [0, {num_classes})")
        self.num_classes, self.n_bins, self.ignore_index = num_classes, n_bins, ignore_index
        slots = n_bins + 1
        self.add_state("count", default=torch.zeros(slots, dtype=torch.long), dist_reduce_fx="sum")
        for name in ("conf_sum", "correct_sum"):
            self.add_state(name, default=torch.zeros(slots, dtype=torch.float64), dist_reduce_fx="sum")
        for name in ("brier_sum", "nll_sum"):
            self.add_state(name, default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.last_per_image: Tensor | None = None

    def update(
        self, preds: Tensor, target: Tensor, from_logits: bool | None = None, predicted: Tensor | None = None
    ) -> None:
        """Add the per-slot sums of one batch's valid pixels."""
        b, c = target.shape[0], self.num_classes
        if preds.ndim != 4 or preds.shape[1] != c or preds.shape[0] != b or preds.shape[2:] != target.shape[1:]:
            raise ValueError(f"preds must be [B, {c}, H, W] for target {tuple(target.shape)}, got {tuple(preds.shape)}")
        if target.is_floating_point():
            raise ValueError(f"target must be an integer label tensor, got {target.dtype}")
        target = target.long()
        valid = torch.ones_like(target, dtype=torch.bool) if self.ignore_index is None else target != self.ignore_index
        bad = valid & ((target < 0) | (target >= c))
        if bool(bad.any()):
            raise ValueError(f"target contains labels {torch.unique(target[bad]).tolist()[:20]} outside [0, {c})")
        preds = preds.float()
        if predicted is not None and predicted.shape != target.shape:
            shapes = f"{tuple(target.shape)}, got {tuple(predicted.shape)}"
            raise ValueError(f"predicted must be [B, H, W] like target {shapes}")
        if from_logits is None:
            low, high = torch.aminmax(preds)
            from_logits = bool(low < 0) or bool(high > 1)
        label = torch.where(valid, target, 0)
        slots = self.n_bins + 1
        edges = torch.linspace(0, 1, self.n_bins + 1, device=preds.device)
        sums = torch.zeros(b, 3 * slots + 2, dtype=torch.float64, device=preds.device)
        rows = max(1, _CHUNK // (c * target.shape[2]))  # whole rows of one image: the same steps in any batch
        for i in range(b):
            for r in range(0, target.shape[1], rows):
                part = slice(r, r + rows)
                given = None if predicted is None else predicted[i, part].long()
                terms = _pixel_terms(preds[i, :, part], label[i, part], from_logits, given)
                sums[i] += _slot_sums(*terms, label[i, part], valid[i, part], edges)
        count = sums[:, :slots].long()
        sums = torch.round(sums[:, slots:] * _QUANTUM) / _QUANTUM  # exact, order-independent sums
        self.last_per_image = torch.cat([count.double(), sums], 1)
        total = sums.sum(0)
        self.count += count.sum(0)
        self.conf_sum += total[:slots]
        self.correct_sum += total[slots : 2 * slots]
        self.brier_sum += total[2 * slots]
        self.nll_sum += total[2 * slots + 1]

    def compute(self) -> dict[str, Tensor]:
        """``{"ECE", "Brier", "NLL"}`` over every valid pixel seen (see the module docstring)."""
        return calibration_scores(self.count, self.conf_sum, self.correct_sum, self.brier_sum, self.nll_sum)

    def reliability(self) -> dict[str, Tensor]:
        """Per bin (the exact-1 slot merged into the last bin): ``count``, mean ``confidence`` and
        ``accuracy`` (NaN for an empty bin) and the bin ``edges`` (``n_bins + 1``)."""
        count = self.count[:-1].clone()
        conf, correct = self.conf_sum[:-1].clone(), self.correct_sum[:-1].clone()
        count[-1] += self.count[-1]
        conf[-1] += self.conf_sum[-1]
        correct[-1] += self.correct_sum[-1]
        n = count.double()
        return {
            "count": count,
            "confidence": ratio(conf, n),
            "accuracy": ratio(correct, n),
            "edges": torch.linspace(0, 1, self.n_bins + 1, dtype=torch.float64),
        }


def _pixel_terms(
    scores: Tensor, label: Tensor, from_logits: bool, predicted: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Per pixel of ``scores`` ``[C, h, w]`` (logits or probabilities; one image's rows) and ``label``
    ``[h, w]``: the confidence, the predicted class (``predicted`` where given: then only the top
    score is reduced, a cheaper pass than max with indices), the Brier term and the NLL, in float32.

    From logits one ``exp`` pass gives ``e = exp(l - l_max)``, ``s = sum_c e_c`` and ``q = sum_c e_c^2``:
    ``conf = 1 / s``, ``sum_c p_c^2 = q / s^2``, ``p_y = exp(l_y - l_max) / s`` and
    ``-log p_y = (l_max - l_y) + log s`` (the softmax itself is never stored)."""
    if predicted is None:
        top, predicted = scores.max(0)
    else:
        top = scores.amax(0)
    score_y = scores.gather(0, label.unsqueeze(0)).squeeze(0)
    if not from_logits:
        squares = torch.linalg.vecdot(scores, scores, dim=0)
        return top, predicted, squares - 2 * score_y + 1, -score_y.clamp_min(torch.finfo(torch.float32).tiny).log()
    e = (scores - top).exp_()
    s = e.sum(0)
    conf = s.reciprocal()
    p_y = (score_y - top).exp_() * conf
    brier = e.square_().sum(0) * conf.square() - 2 * p_y + 1
    return conf, predicted, brier, (top - score_y) + s.log()


def _slot_sums(
    conf: Tensor, predicted: Tensor, brier: Tensor, nll: Tensor, label: Tensor, valid: Tensor, edges: Tensor
) -> Tensor:
    """``[3 * slots + 2]`` float64 sums over the ``valid`` pixels: the count, the confidences and the
    correct pixels per slot, then the Brier and NLL sums (invalid pixels go to a slot that is dropped)."""
    slots = edges.numel()
    bins = torch.where(valid, torch.bucketize(conf, edges, right=True) - 1, slots)
    correct = (predicted == label) & valid
    counts = torch.bincount((bins + correct * (slots + 1)).flatten(), minlength=2 * (slots + 1)).view(2, slots + 1)
    confidence = torch.bincount(bins.flatten(), weights=conf.flatten().double(), minlength=slots + 1)
    zero = conf.new_zeros(())
    return torch.cat(
        [
            counts.sum(0)[:slots].double(),
            confidence[:slots],
            counts[1, :slots].double(),
            torch.where(valid, brier, zero).sum(dtype=torch.float64).view(1),
            torch.where(valid, nll, zero).sum(dtype=torch.float64).view(1),
        ]
    )
